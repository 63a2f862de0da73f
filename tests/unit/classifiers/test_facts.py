"""The facts of AWS spans: the one-fact fast path gives what the general list path gives;
what an AWS call is when its span names no method."""

from __future__ import annotations

from pathlib import Path

import duckdb
import pytest

from seamscope.classifiers.facts import (
    _TOPIC,
    AWS_FACTS,
    GENERAL_AWS_FACTS,
    INVOCATION_CANDIDATE,
    LONE_TARGETS,
    classified_sql,
)
from seamscope.tracer.rows import KINDS
from tests.unit.classifiers.fleet import Fleet, Service

_COLUMNS = """
    span_id VARCHAR, aws VARCHAR, op VARCHAR, kind VARCHAR, dest VARCHAR, db_tables VARCHAR[],
    events STRUCT(bus VARCHAR, source VARCHAR, detail_type VARCHAR)[], sns_topics VARCHAR[],
    stream_name VARCHAR, stream_arn VARCHAR, s3_bucket VARCHAR, fn VARCHAR
"""
_EV = "{'bus': 'b', 'source': 'orders', 'detail_type': 'Placed'}"
_EV2 = "{'bus': NULL, 'source': NULL, 'detail_type': 'Paid'}"
# One span per shape: (aws, op, kind, dest, db_tables, events, sns_topics), the rest NULL.
_SHAPES = [
    ("dynamodb", "GetItem", "CLIENT", None, "['orders']", None, None),
    ("dynamodb", "PutItem", "CLIENT", None, "[]", None, None),
    ("dynamodb", "Query", "CLIENT", None, "NULL", None, None),
    ("dynamodb", "BatchGetItem", "CLIENT", None, "['a', 'b', 'a']", None, None),
    ("dynamodb", "BatchWriteItem", "CLIENT", None, "[NULL]", None, None),
    ("dynamodb", "BatchWriteItem", "CLIENT", None, "['a', NULL]", None, None),
    ("dynamodb", "CreateTable", "CLIENT", None, "['orders']", None, None),
    ("sqs", "SendMessage", "CLIENT", "q", None, None, None),
    ("sqs", None, "PRODUCER", None, None, None, None),
    ("sqs", "ReceiveMessage", "CLIENT", "q", None, None, None),
    ("sqs", "ReceiveMessage", "CLIENT", "q", None, f"[{_EV}]", None),
    ("sqs", "ReceiveMessage", "CLIENT", None, None, f"[{_EV}, {_EV2}, {_EV}]", None),
    ("sqs", "ReceiveMessage", "CLIENT", "q", None, None, "['arn:t']"),
    ("sqs", "ReceiveMessage", "CLIENT", "q", None, None, "[NULL]"),
    ("sqs", "ReceiveMessage", "CLIENT", "q", None, f"[{_EV}]", "['arn:t']"),
    ("sqs", None, "CONSUMER", "q", None, None, "['arn:t', 'arn:u']"),
    ("sns", "Publish", "CLIENT", "arn:d", None, None, "['arn:t']"),
    ("sns", "Publish", "CLIENT", "arn:d", None, None, "[]"),
    ("sns", "PublishBatch", "CLIENT", None, None, None, "['arn:t', 'arn:t', 'arn:u']"),
    ("sns", "Publish", "CLIENT", None, None, None, "[NULL]"),
    ("events", "PutEvents", "CLIENT", None, None, f"[{_EV2}]", None),
    ("events", "PutEvents", "CLIENT", None, None, "[]", None),
    ("events", "PutEvents", "CLIENT", None, None, f"[{_EV}, {_EV2}]", None),
    ("dynamodbstreams", "GetRecords", "CLIENT", None, None, None, None),
    ("kinesis", "PutRecords", "CLIENT", "s", None, None, None),
    ("s3", "PutObject", "CLIENT", None, None, None, None),
    ("s3", "ListBuckets", "CLIENT", None, None, None, None),
    ("lambda", None, "CLIENT", None, None, None, None),
]


@pytest.fixture
def spans() -> duckdb.DuckDBPyConnection:
    con = duckdb.connect()
    con.execute(f"CREATE TABLE s ({_COLUMNS})")
    for i, (aws, op, kind, dest, tables, events, topics) in enumerate(_SHAPES):
        con.execute(
            f"INSERT INTO s VALUES (?, ?, ?, ?, ?, {tables or 'NULL'}, {events or 'NULL'}, "
            f"{topics or 'NULL'}, NULL, 'arn:aws:dynamodb:r:1:table/t/stream/x', 'bkt', 'fn')",
            [str(i), aws, op, kind, dest],
        )
    return con


def test_the_one_fact_path_agrees_with_the_list_path_for_every_shape(
    spans: duckdb.DuckDBPyConnection,
) -> None:
    general = spans.execute(
        f"SELECT span_id, unnest({GENERAL_AWS_FACTS}) AS f FROM s ORDER BY ALL"
    ).fetchall()
    fast = spans.execute(f"SELECT span_id, unnest({AWS_FACTS}) AS f FROM s ORDER BY ALL").fetchall()
    assert fast == general
    # Both paths are taken, and spans without a fact give none.
    lone = {r[0] for r in spans.execute(f"SELECT span_id FROM s WHERE {LONE_TARGETS}").fetchall()}
    assert 0 < len(lone) < len(_SHAPES)
    assert {"6", "26"}.isdisjoint(span for span, _ in general)
    # Multi-target spans give one fact per distinct target.
    assert sorted(f["t"] for span, f in general if span == "3") == ["a", "b"]


def _kept(path: Path) -> dict[str, tuple[str | None, str | None]]:
    con = duckdb.connect(str(path))
    try:
        rows = con.execute(f"SELECT name, aws, op FROM ({classified_sql('spans')})").fetchall()
    finally:
        con.close()
    return {name: (aws, op) for name, aws, op in rows}


def test_an_aws_call_without_rpc_method_is_known_by_its_name(tmp_path: Path) -> None:
    """The Java agent under `otel.semconv-stability.opt-in=rpc` writes rpc.system.name and no
    rpc.service or rpc.method on AWS calls (rpc/dup: rpc.service, no rpc.method): the service
    and the operation are read from the span's name, `Service.Operation`."""
    f = Fleet()
    svc = Service("orders-api", "orders")
    stable = {"rpc.system.name": "aws-api", "server.address": "sns.eu-west-1.amazonaws.com"}
    f.span(svc, "Sns.Publish", "CLIENT", {**stable, "messaging.destination.name": "arn:t"})
    f.span(svc, "EventBridge.PutEvents", "CLIENT", stable)
    f.span(svc, "DynamoDbStreams.GetRecords", "CLIENT", stable)
    f.span(svc, "Kinesis.PutRecord", "CLIENT", {**stable, "aws.kinesis.stream_name": "s"})
    dup = {"rpc.system": "aws-api", "rpc.service": "Sqs", "rpc.system.name": "aws-api"}
    f.span(svc, "Sqs.ReceiveMessage", "CLIENT", dup)
    # The AWS SDK for Java v1's names (the client's, without "Amazon").
    f.span(svc, "DynamoDBv2.PutItem", "CLIENT", {**stable, "aws.dynamodb.table_names": ["t"]})
    f.span(
        svc,
        "receive q",
        "CLIENT",
        {
            **stable,
            "messaging.system": "aws_sqs",
            "messaging.operation.type": "receive",
            "messaging.destination.name": "q",
        },
    )
    # What the name does not decide: a span that names its method, one of no AWS call, a name
    # of another form.
    f.span(svc, "Sqs.SendMessage", "CLIENT", {**stable, "rpc.method": "Sqs/ReceiveMessage"})
    f.span(svc, "Orders.Place", "CLIENT", {"http.request.method": "POST"})
    f.span(svc, "Sns.Publish.Now", "CLIENT", stable)
    kept = _kept(f.store(tmp_path / "s.duckdb"))
    assert kept["Sns.Publish"] == ("sns", "Publish")
    assert kept["EventBridge.PutEvents"] == ("events", "PutEvents")
    assert kept["DynamoDbStreams.GetRecords"] == ("dynamodbstreams", "GetRecords")
    assert kept["Kinesis.PutRecord"] == ("kinesis", "PutRecord")
    assert kept["Sqs.ReceiveMessage"] == ("sqs", "ReceiveMessage")
    assert kept["DynamoDBv2.PutItem"] == ("dynamodb", "PutItem")
    assert kept["receive q"] == ("sqs", "ReceiveMessage")
    assert kept["Sqs.SendMessage"] == ("sqs", "ReceiveMessage")
    assert kept["Orders.Place"] == (None, None)
    assert kept["Sns.Publish.Now"] == (None, None)


# The names SDKs give each AWS service, in rpc.service or a span's name (`Service.Operation`),
# and the service seamscope takes them for.
_SPELLINGS = [
    ("DynamoDB", "dynamodb"),
    ("dynamodb", "dynamodb"),
    ("AmazonDynamoDBv2", "dynamodb"),
    ("DynamoDb", "dynamodb"),
    ("DynamoDB Streams", "dynamodbstreams"),
    ("AmazonDynamoDBStreams", "dynamodbstreams"),
    ("DynamoDbStreamsService", "dynamodbstreams"),
    ("SQS", "sqs"),
    ("AmazonSQS", "sqs"),
    ("Sqs", "sqs"),
    ("sns", "sns"),
    ("AmazonSNS", "sns"),
    ("EventBridge", "events"),
    ("Events", "events"),
    ("CloudWatch Events", "events"),
    ("AmazonCloudWatchEvents", "events"),
    ("Kinesis", "kinesis"),
    ("AmazonKinesis", "kinesis"),
    ("S3", "s3"),
    ("Amazon S3", "s3"),
    ("Lambda", "lambda"),
    ("AWSLambda", "lambda"),
    ("aws-lambda", "lambda"),
    ("Amazon", None),
    ("STS", None),
    ("", None),
]


def test_every_spelling_of_a_service_names_it_in_rpc_service_and_in_the_name(
    tmp_path: Path,
) -> None:
    """rpc.service in any SDK's spelling, and the service part of a span's name where the span
    names no method (the Java agent's stable rpc spans), give the same service; a spelling of no
    service seamscope knows falls back on the span's database or messaging attributes."""
    f = Fleet()
    svc = Service("orders-api", "orders")
    for i, (spelling, _) in enumerate(_SPELLINGS):
        f.span(svc, f"rpc {i}", "CLIENT", {"rpc.system": "aws-api", "rpc.service": spelling})
        f.span(
            svc,
            f"rpc {i} table",
            "CLIENT",
            {"rpc.system": "aws-api", "rpc.service": spelling, "db.system": "dynamodb"},
        )
        if spelling and " " not in spelling and "-" not in spelling:
            f.span(svc, f"{spelling}.Call", "CLIENT", {"rpc.system.name": "aws-api"})
    kept = _kept(f.store(tmp_path / "s.duckdb"))
    for i, (spelling, service) in enumerate(_SPELLINGS):
        assert kept[f"rpc {i}"][0] == service, spelling
        assert kept[f"rpc {i} table"][0] == (service or "dynamodb"), spelling
        if f"{spelling}.Call" in kept:
            assert kept[f"{spelling}.Call"] == (service, "Call"), spelling


def test_a_publish_names_a_topic_of_1_to_256_name_characters_as_the_pattern_said() -> None:
    # _TOPIC checks a name's length apart from its pattern (a counted repetition, {1,256},
    # cost every batch's facts statement its compilation): what it takes for a topic is what
    # the pattern with the repetition took, at and around the bounds, with and without an ARN
    # and '.fifo'.
    reference = (
        "CASE WHEN dest <> 'unknown' AND regexp_full_match(dest, "
        r"'(arn:[^:]+:sns:[^:]*:[^:]*:)?[A-Za-z0-9_-]{1,256}(\.fifo)?') THEN dest END"
    )
    arn = "arn:aws:sns:eu-west-1:123456789012:"
    names = ["", "a", "orders-placed_1", "a.b", "a b", "x" * 255, "x" * 256, "x" * 257, "fifo"]
    dests = [None, "unknown", "phone_number:**", "+15550100", f"{arn[:-1]}", arn]
    for name in names:
        dests += [name, f"{name}.fifo", f"{name}.fifo.fifo", arn + name, f"{arn}{name}.fifo"]
        dests += [f"arn:aws:sns:r:1:endpoint/APNS/app/{name}", f"a:b:{name}", f"x:{name}"]
    con = duckdb.connect()
    con.execute("CREATE TABLE t (dest VARCHAR)")
    con.executemany("INSERT INTO t VALUES (?)", [[d] for d in dests])
    rows = con.execute(f"SELECT dest, {_TOPIC}, {reference} FROM t").fetchall()
    assert [(d, new) for d, new, _ in rows] == [(d, old) for d, _, old in rows]
    taken = {d for d, new, _ in rows if new is not None}
    assert "x" * 256 in taken and f"{arn}{'x' * 256}.fifo" in taken
    assert "x" * 257 not in taken and f"{arn}{'x' * 257}" not in taken


def test_an_invocation_candidate_is_a_server_or_consumer_span_and_filtered_in_the_scan() -> None:
    """INVOCATION_CANDIDATE names the kinds it is not, so that DuckDB filters the rows in the
    scan: written as `kind IN ('SERVER', 'CONSUMER')` it was only an optional (row group)
    filter, and invocations_sql read the attributes of every INTERNAL span."""
    con = duckdb.connect()
    con.execute(
        "CREATE TABLE spans AS SELECT k AS kind, NULL::VARCHAR AS http_method, "
        "NULL::VARCHAR AS rpc_system, NULL::VARCHAR AS messaging_system "
        f"FROM unnest({list(KINDS)}) AS t(k)"
    )
    picked = {
        r[0] for r in con.execute(f"SELECT kind FROM spans WHERE {INVOCATION_CANDIDATE}").fetchall()
    }
    assert picked == {"SERVER", "CONSUMER"}
    plan = con.execute(
        f"EXPLAIN SELECT count(*) FROM spans WHERE {INVOCATION_CANDIDATE}"
    ).fetchall()
    text = "\n".join(str(row[1]) for row in plan)
    assert "optional:" not in text, text
