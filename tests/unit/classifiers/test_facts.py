"""The one-fact fast path of the AWS facts gives what the general list path gives."""

from __future__ import annotations

import duckdb
import pytest

from seamscope.classifiers.facts import AWS_FACTS, GENERAL_AWS_FACTS, LONE_TARGETS

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
