"""A real service under the real opentelemetry-instrument, with nothing but its name set.

moto's standalone server plays AWS, a Flask process plays the HTTP API; every call lands in
the store with what the hooks recovered, in the typed columns and in the attributes.
"""

from __future__ import annotations

import json
import os
import uuid
from pathlib import Path
from typing import Any

import pytest

from tests.e2e.conftest import HttpApi
from tests.e2e.services.harness import drain_leftover_spool, rows_as_dicts, run_service, service_env

pytestmark = pytest.mark.e2e


def _one(rows: list[dict[str, Any]], what: str) -> dict[str, Any]:
    assert len(rows) == 1, f"{what}: {len(rows)} rows"
    return rows[0]


def test_boto3_and_httpx_calls_land_enriched_in_the_store(
    tmp_path: Path, db_path: Path, moto_endpoint: str, http_api: HttpApi
) -> None:
    prefix = f"t{uuid.uuid4().hex[:8]}"
    env = service_env(db_path, "orders-api", "orders", aws_endpoint=moto_endpoint)
    done = run_service("aws_service.py", [http_api.url, prefix], env)
    made = json.loads(done.stdout.strip().splitlines()[-1])
    http_api.process.stop()  # SIGTERM: the API exits normally and flushes its spans
    assert drain_leftover_spool(db_path) == 0

    spans = rows_as_dicts(db_path, "select * from spans where service_name = 'orders-api'")
    assert spans, "no span of the service reached the store"
    assert {s["service_namespace"] for s in spans} == {"orders"}
    assert all(len(s["trace_id"]) == 32 and len(s["span_id"]) == 16 for s in spans)

    def named(name: str) -> list[dict[str, Any]]:
        return [s for s in spans if s["name"] == name]

    put = _one(named("DynamoDB.PutItem"), "PutItem")
    assert put["kind"] == "CLIENT" and put["rpc_service"] == "DynamoDB"
    assert put["db_tables"] == [made["orders"]] and put["db_system"] == "dynamodb"
    assert _one(named("DynamoDB.Query"), "Query")["db_tables"] == [made["orders"]]
    assert _one(named("DynamoDB.Scan"), "Scan")["db_tables"] == [made["stock"]]
    transact = _one(named("DynamoDB.TransactWriteItems"), "TransactWriteItems")
    assert transact["db_tables"] == [made["orders"], made["stock"]]

    for op in ("DescribeStream", "GetShardIterator"):
        span = _one(named(f"DynamoDB Streams.{op}"), op)
        assert (span["stream_arn"], span["stream_name"]) == (made["stream_arn"], made["orders"])
    get_records = named("DynamoDB Streams.GetRecords")
    assert len(get_records) == 2
    for span in get_records:
        assert (span["stream_arn"], span["stream_name"]) == (made["stream_arn"], made["orders"])
        attrs = json.loads(span["attributes"])
        assert attrs["seamscope.dynamodb.stream_arn"] == made["stream_arn"]
        assert attrs["seamscope.dynamodb.stream_table"] == made["orders"]

    put_events = _one(named("EventBridge.PutEvents"), "PutEvents")
    assert put_events["events"] == [
        {"bus": "default", "source": f"{prefix}.orders", "detail_type": "OrderPlaced"},
        {"bus": made["billing_bus"], "source": f"{prefix}.billing", "detail_type": "InvoiceSent"},
    ]
    attrs = json.loads(put_events["attributes"])
    assert attrs["seamscope.eventbridge.bus_names"] == ["default", made["billing_bus"]]
    assert attrs["seamscope.eventbridge.sources"] == [f"{prefix}.orders", f"{prefix}.billing"]
    assert attrs["seamscope.eventbridge.detail_types"] == ["OrderPlaced", "InvoiceSent"]

    receives = [s for s in named("SQS.ReceiveMessage") if s["events"]]
    received = _one(receives, "ReceiveMessage of the EventBridge envelope")
    assert received["messaging_destination"] == made["events_q"]
    assert received["events"] == [
        {"bus": None, "source": f"{prefix}.orders", "detail_type": "OrderPlaced"}
    ]
    assert json.loads(received["attributes"])["seamscope.eventbridge.detail_types"] == [
        "OrderPlaced"
    ]

    send = _one(named("SQS.SendMessage"), "SendMessage")
    assert send["messaging_system"] == "aws.sqs"
    assert send["messaging_destination"] == f"{prefix}-work-q"

    publishes = [s for s in spans if s["messaging_system"] == "aws.sns" and s["kind"] == "PRODUCER"]
    assert len(publishes) == 2
    for span in publishes:
        assert span["sns_topics"] == [made["topic_arn"]]
    by_target = [s for s in publishes if "aws.sns.topic.arn" not in json.loads(s["attributes"])]
    assert len(by_target) == 1, "stock instrumentation drops the topic of a TargetArn publish"
    assert json.loads(by_target[0]["attributes"])["seamscope.sns.topic_arns"] == [made["topic_arn"]]
    sns_received = [s for s in named("SQS.ReceiveMessage") if s["sns_topics"]]
    assert _one(sns_received, "ReceiveMessage of the SNS envelope")["sns_topics"] == [
        made["topic_arn"]
    ]

    kinesis = _one(named("Kinesis.PutRecord"), "PutRecord")
    assert kinesis["stream_name"] == made["stream_name"]
    assert kinesis["messaging_destination"] == made["stream_name"]
    assert json.loads(kinesis["attributes"])["aws.kinesis.stream_name"] == made["stream_name"]

    s3 = _one(named("S3.PutObject"), "PutObject")
    assert s3["s3_bucket"] == made["bucket"]

    get = _one([s for s in named("GET") if s["http_route"] is None], "httpx GET")
    assert get["kind"] == "CLIENT" and get["http_method"] == "GET"
    assert get["http_url"] == f"{http_api.url}/orders/o-1"
    assert get["http_status_code"] == 200
    assert (get["server_address"], get["server_port"]) == (
        "127.0.0.1",
        int(http_api.url.rsplit(":", 1)[1]),
    )
    assert get["graphql_operation_type"] is None
    # http/dup: the stable and the old HTTP attributes are both there.
    get_attrs = json.loads(get["attributes"])
    assert get_attrs["url.full"] == get_attrs["http.url"]
    assert get_attrs["http.request.method"] == "GET"

    post = _one(named("POST"), "httpx POST")
    assert post["graphql_operation_name"] == "PlaceOrder"
    assert post["graphql_operation_type"] == "mutation"
    assert "variables" not in post["attributes"] and "place(id" not in post["attributes"]

    # The API's own server spans share the client's trace (propagation through httpx).
    server = rows_as_dicts(
        db_path,
        "select trace_id, parent_span_id, http_route from spans "
        "where service_name = 'orders-bff' and kind = 'SERVER' and http_route = '/graphql'",
    )
    assert [(s["trace_id"], s["parent_span_id"]) for s in server] == [
        (post["trace_id"], post["span_id"])
    ]

    counts = rows_as_dicts(
        db_path, "select count(*) as n, count(distinct span_id) as d from spans"
    )[0]
    assert counts["n"] == counts["d"]


def test_a_file_name_that_is_not_utf8_loses_no_span(tmp_path: Path) -> None:
    """A name Python decoded with lone surrogates (a file name that is not UTF-8) in one span
    made the exporter's whole batch fail, in Arrow and in OTLP alike: every span of the batch
    was lost, with one warning. Each span is kept; the surrogate becomes U+FFFD and the span
    says it was repaired, as the receiver marks invalid UTF-8."""
    folder = tmp_path / "files"
    folder.mkdir()
    for name in (b"a-first.txt", b"caf\xe9.txt", b"z-last.txt"):
        with open(os.fsencode(folder) + b"/" + name, "wb"):
            pass
    db_path = tmp_path / "store.duckdb"
    proc = run_service("odd_names.py", [str(folder)], service_env(db_path, "file-lister"))
    assert proc.stdout.strip() == "3"
    drain_leftover_spool(db_path)
    rows = rows_as_dicts(db_path, "select name, attributes from spans order by name")
    assert [r["name"] for r in rows] == [
        "read a-first.txt",
        "read caf\ufffd.txt",
        "read z-last.txt",
    ]
    marks = [json.loads(r["attributes"]).get("seamscope.invalid_utf8") for r in rows]
    assert marks == [None, True, None]
    assert json.loads(rows[1]["attributes"])["file.name"] == "caf\ufffd.txt"
    assert "not valid Unicode" in proc.stderr
