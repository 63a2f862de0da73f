"""A real Node.js service under the stock OpenTelemetry auto-instrumentation, against moto's
server, exporting OTLP/HTTP to a real `seamscope collect`.

Two processes of tests/e2e/node/service.js (packages pinned by its package-lock.json, installed
by `make setup`): orders-api makes one call of each kind (DynamoDB, SQS, SNS, EventBridge,
Kinesis) and calls billing-api over HTTP; billing-api receives from the queue and reads the
stream. The test asserts what a user then finds in the store, and the labels `seamscope edges`
gives, unresolved (with why) where the stock spans lack the fact.
"""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import urllib.error
import urllib.request
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import boto3
import duckdb
import pytest

from seamscope.demo.processes import ManagedProcess, free_port, wait_for_http
from tests.ci import require_tool
from tests.e2e.test_collect import start_collector
from tests.fixtures.sdks.expected import NO_EVENT, Case, Expectation, Unresolved, problems

pytestmark = pytest.mark.e2e

NODE_DIR = Path(__file__).with_name("node")
REGION = "eu-west-1"


def _node() -> str:
    """The node binary; without it (or older than 18), a skip locally and a failure in CI."""
    node = require_tool("node", min_major=18)
    if not (NODE_DIR / "node_modules" / "@opentelemetry" / "auto-instrumentations-node").is_dir():
        pytest.fail(f"{NODE_DIR} has no node_modules: run `make setup` (npm ci) first")
    return node


@dataclass
class Run:
    db: Path
    table: str
    queue: str
    topic: str
    bus: str
    stream: str
    edges: list[dict[str, Any]]

    def spans(self, sql: str, params: list[Any] | None = None) -> list[dict[str, Any]]:
        con = duckdb.connect(str(self.db), read_only=True)
        try:
            cur = con.execute(sql, params or [])
            names = [d[0] for d in cur.description]
            return [dict(zip(names, row, strict=True)) for row in cur.fetchall()]
        finally:
            con.close()


def _post(url: str) -> dict[str, Any]:
    request = urllib.request.Request(url, data=b"", method="POST")
    try:
        with urllib.request.urlopen(request, timeout=60) as response:
            body: dict[str, Any] = json.loads(response.read())
            return body
    except urllib.error.HTTPError as error:
        raise AssertionError(f"{url}: {error.code} {error.read().decode()}") from None


def _resources(endpoint: str, suffix: str) -> dict[str, str]:
    """The AWS resources, made untraced by the test itself (unique names: moto is shared)."""
    session = boto3.Session(
        aws_access_key_id="testing", aws_secret_access_key="testing", region_name=REGION
    )
    table, queue, topic = f"orders-{suffix}", f"billing-intake-{suffix}", f"order-events-{suffix}"
    bus, stream = f"commerce-{suffix}", f"order-stream-{suffix}"
    session.client("dynamodb", endpoint_url=endpoint).create_table(
        TableName=table,
        KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}],
        AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"}],
        BillingMode="PAY_PER_REQUEST",
    )
    queue_url = session.client("sqs", endpoint_url=endpoint).create_queue(QueueName=queue)[
        "QueueUrl"
    ]
    topic_arn = session.client("sns", endpoint_url=endpoint).create_topic(Name=topic)["TopicArn"]
    session.client("events", endpoint_url=endpoint).create_event_bus(Name=bus)
    session.client("kinesis", endpoint_url=endpoint).create_stream(StreamName=stream, ShardCount=1)
    return {
        "TABLE": table,
        "QUEUE_URL": queue_url,
        "QUEUE": queue,
        "TOPIC_ARN": topic_arn,
        "TOPIC": topic,
        "EVENT_BUS": bus,
        "STREAM": stream,
    }


def _service(
    node: str, name: str, system: str, collector: int, aws: dict[str, str], logs: Path
) -> tuple[ManagedProcess, str]:
    port = free_port()
    env = {
        **aws,
        "PORT": str(port),
        "OTEL_SERVICE_NAME": name,
        "OTEL_RESOURCE_ATTRIBUTES": f"service.namespace={system}",
        "OTEL_TRACES_EXPORTER": "otlp",
        "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT": f"http://127.0.0.1:{collector}/v1/traces",
        "OTEL_EXPORTER_OTLP_PROTOCOL": "http/protobuf",
        "OTEL_METRICS_EXPORTER": "none",
        "OTEL_LOGS_EXPORTER": "none",
        "OTEL_NODE_RESOURCE_DETECTORS": "env",
        "OTEL_BSP_SCHEDULE_DELAY": "200",
    }
    argv = [node, "--require", "@opentelemetry/auto-instrumentations-node/register", "service.js"]
    proc = ManagedProcess(name, argv, env=env, cwd=NODE_DIR, log_path=logs / f"{name}.log")
    proc.start()
    url = f"http://127.0.0.1:{port}"
    try:
        wait_for_http(f"{url}/health", process=proc.popen, timeout_s=60)
    except BaseException:
        proc.stop()
        raise
    return proc, url


def _end(proc: ManagedProcess) -> int:
    """SIGTERM, as a platform stops a service: the instrumentation flushes, then node exits."""
    assert proc.popen is not None
    proc.popen.send_signal(signal.SIGTERM)
    return proc.popen.wait(timeout=60)


@pytest.fixture(scope="module")
def run(moto_endpoint: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Run]:
    node = _node()
    folder = tmp_path_factory.mktemp("node")
    names = _resources(moto_endpoint, uuid.uuid4().hex[:8])
    aws = {
        "AWS_ENDPOINT_URL": moto_endpoint,
        "AWS_REGION": REGION,
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        **{
            k: v
            for k, v in names.items()
            if k in ("TABLE", "QUEUE_URL", "TOPIC_ARN", "EVENT_BUS", "STREAM")
        },
    }
    db = folder / "store.duckdb"
    collector = start_collector(db, folder)
    started: list[ManagedProcess] = []
    try:
        billing, billing_url = _service(node, "billing-api", "billing", collector.port, aws, folder)
        started.append(billing)
        orders, orders_url = _service(
            node, "orders-api", "orders", collector.port, {**aws, "PEER_URL": billing_url}, folder
        )
        started.append(orders)
        assert _post(f"{orders_url}/checkout") == {"peer": 200}
        assert _post(f"{billing_url}/poll") == {"messages": 1, "records": 1}
        for proc in (orders, billing):
            assert _end(proc) == 0, (folder / f"{proc.name}.log").read_text()
        assert collector.stop(signal.SIGTERM) == 0, collector.log.read_text()
    finally:
        for proc in started:
            proc.stop()
        collector.process.stop()
    done = subprocess.run(
        [sys.executable, "-m", "seamscope.cli", "edges", "--db", str(db), "--format", "json"],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=folder,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    yield Run(
        db,
        names["TABLE"],
        names["QUEUE"],
        names["TOPIC"],
        names["EVENT_BUS"],
        names["STREAM"],
        json.loads(done.stdout),
    )


def _one(run: Run, sql: str, params: list[Any]) -> dict[str, Any]:
    found = run.spans(sql, params)
    assert len(found) == 1, (sql, params, found)
    return found[0]


def _attrs(span: dict[str, Any]) -> dict[str, Any]:
    attrs: dict[str, Any] = json.loads(span["attributes"])
    return attrs


def test_the_store_holds_what_the_node_sdk_records(run: Run, moto_endpoint: str) -> None:
    by_name = "select * from spans where service_name = ? and name = ?"
    put = _one(run, by_name, ["orders-api", "DynamoDB.PutItem"])
    assert (put["kind"], put["rpc_service"], put["rpc_method"]) == ("CLIENT", "DynamoDB", "PutItem")
    assert _attrs(put)["db.namespace"] == run.table

    # The HTTP instrumentation records each AWS request under its AWS span.
    aws = run.spans("select * from spans where rpc_system = 'aws-api'")
    assert {s["rpc_service"] for s in aws} == {"DynamoDB", "SQS", "SNS", "EventBridge", "Kinesis"}
    for span in aws:
        transport = _one(
            run,
            "select * from spans where parent_span_id = ? and kind = 'CLIENT'",
            [span["span_id"]],
        )
        assert (transport["name"], transport["trace_id"]) == ("POST", span["trace_id"])
        assert transport["http_url"].startswith(moto_endpoint)

    send = _one(run, by_name, ["orders-api", f"{run.queue} send"])
    assert (send["kind"], send["messaging_destination"]) == ("PRODUCER", run.queue)
    receive = _one(run, by_name, ["billing-api", f"{run.queue} receive"])
    assert (receive["kind"], receive["messaging_destination"]) == ("CONSUMER", run.queue)
    # Trace context through the message attributes: the receive links to the send.
    links = json.loads(receive["links"])
    assert [(k["trace_id"], k["span_id"]) for k in links] == [(send["trace_id"], send["span_id"])]

    publish = _one(run, by_name, ["orders-api", f"{run.topic} send"])
    assert publish["kind"] == "PRODUCER"
    assert _attrs(publish)["aws.sns.topic.arn"].endswith(f":{run.topic}")

    # No bus, source or detail-type on PutEvents: the SDK records none of them.
    put_events = _one(run, by_name, ["orders-api", "EventBridge.PutEvents"])
    assert put_events["rpc_method"] == "PutEvents"
    assert run.bus not in put_events["attributes"] and "OrderPlaced" not in put_events["attributes"]

    # The stream's name, where the request has one (GetRecords names a shard iterator).
    for service, name, stream in (
        ("orders-api", "Kinesis.PutRecord", run.stream),
        ("billing-api", "Kinesis.GetShardIterator", run.stream),
        ("billing-api", "Kinesis.GetRecords", None),
    ):
        assert _attrs(_one(run, by_name, [service, name])).get("aws.kinesis.stream.name") == stream

    call = _one(
        run,
        "select * from spans where service_name = 'orders-api' and kind = 'CLIENT' "
        "and http_url like '%/invoices/42'",
        [],
    )
    served = _one(run, "select * from spans where parent_span_id = ?", [call["span_id"]])
    assert (served["service_name"], served["kind"], served["trace_id"]) == (
        "billing-api",
        "SERVER",
        call["trace_id"],
    )


def _case(run: Run, key: str) -> Case:
    table, topic = f"dynamodb:table/{run.table}", f"sns:topic/{run.topic}"
    cases = {
        "rest": Case(key, "REST", "orders/orders-api", "billing/billing-api", "rest"),
        "dynamodb": Case(key, "own table", "orders/orders-api", table, "dynamodb"),
        "sqs": Case(key, "SQS between systems", "orders/orders-api", "billing/billing-api", "sqs"),
        "kinesis": Case(key, "Kinesis", "orders/orders-api", "billing/billing-api", "kinesis"),
        "eventbridge": Case(
            key,
            "PutEvents, no consumer",
            "orders/orders-api",
            f"events:bus/{run.bus}",
            "eventbridge",
            touches=(("orders/orders-api", "eventbridge"),),
        ),
        "sns": Case(
            key, "Publish, no subscriber", "orders/orders-api", topic, "sns", ((topic, None),)
        ),
    }
    return cases[key]


LABELS: dict[str, Expectation] = {
    "rest": "P102",
    "dynamodb": "P301",
    "sqs": "A202",
    "kinesis": "A202",
    "eventbridge": NO_EVENT,
    "sns": Unresolved("no subscriber of the topic was seen", ("subscri", "consumer")),
}


@pytest.mark.parametrize("key", list(LABELS))
def test_seamscope_edges_labels_the_node_service(run: Run, key: str) -> None:
    case = _case(run, key)
    case = Case(
        case.key,
        case.title,
        case.source,
        case.target,
        case.mechanism,
        case.touches,
        expected={"node": LABELS[key]},
    )
    assert problems(case, "node", run.edges) == []
