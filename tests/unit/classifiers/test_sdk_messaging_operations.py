"""SQS spans of the newest conventions' operation types
(tests/fixtures/sdks/messaging_operations.py) through the real classifier on a DuckDB store:
a batch published with a `create` span per message, pulled by a `receive`, each message
processed and then settled (deleted).

A settle is neither a send nor a receive: whatever its kind, it adds no fact. A create is the
message's creation on the producer's side: a send of that message, which the consumer's links
point to.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import duckdb
import pytest

from seamscope.classifiers.engine import classify
from seamscope.classifiers.landscape import parse_landscape
from seamscope.classifiers.read import snapshot
from seamscope.tracer.access import connection_query
from tests.fixtures.sdks import messaging_operations as ops
from tests.fixtures.sdks.base import Shape
from tests.fixtures.sdks.expected import records
from tests.fixtures.sdks.scenario import LANDSCAPE, ORDERS_API, ORDERS_WORKER
from tests.unit.classifiers.fleet import Fleet, Service, Span

QUEUE = "orders-q"


def _emit(
    f: Fleet,
    svc: Service,
    shape: Shape,
    parent: Span | None = None,
    links: list[Span] | None = None,
) -> Span:
    linked: list[tuple[str, str, dict[str, Any]]] = [
        (s.trace_id, s.span_id, {}) for s in links or ()
    ]
    return f.span(svc, shape.name, shape.kind, shape.attributes(), parent=parent, links=linked)


def _fleet(*, sdk: bool, settle_kind: str = "CLIENT") -> tuple[Fleet, dict[str, str]]:
    """orders-api publishes two messages in a batch; orders-worker pulls them, processes and
    settles each. Also: each span's operation type, by span id."""
    f = Fleet()
    f.at(1)
    job = f.root(ORDERS_API, "publish orders")
    created = [_emit(f, ORDERS_API, ops.create(QUEUE, f"m-{i}"), job) for i in (1, 2)]
    _emit(f, ORDERS_API, ops.batch_send(QUEUE, 2, sdk=sdk), job, links=created)
    f.at(2)
    poll = f.root(ORDERS_WORKER, "poll")
    _emit(f, ORDERS_WORKER, ops.receive(QUEUE), poll, links=created)
    for message in created:
        work = _emit(f, ORDERS_WORKER, ops.process(QUEUE), poll, links=[message])
        _emit(f, ORDERS_WORKER, ops.settle(QUEUE, sdk=sdk, kind=settle_kind), work)
    types = {
        s.span_id: s.attributes["messaging.operation.type"]
        for s in f.spans
        if "messaging.operation.type" in s.attributes
    }
    return f, types


def _classified(f: Fleet, folder: Path) -> tuple[list[dict[str, Any]], dict[str, str]]:
    """The SQS edges, and the edge each span is labelled with (by span id)."""
    path = f.store(folder / "store.duckdb")
    con = duckdb.connect(str(path))
    try:
        classify(con, parse_landscape(LANDSCAPE, folder / "seamscope.toml"))
        with con.cursor() as cursor:
            edges = [
                e for e in records(snapshot(connection_query(cursor))) if e["mechanism"] == "sqs"
            ]
            labelled = dict(cursor.sql("SELECT span_id, edge_id FROM span_labels").fetchall())
        return edges, labelled
    finally:
        con.close()


@pytest.mark.parametrize("settle_kind", ["CLIENT", "CONSUMER", "PRODUCER"])
@pytest.mark.parametrize("sdk", [True, False], ids=["sdk-span", "own-span"])
def test_creates_sends_receives_and_processes_are_the_edge_and_settles_are_not(
    sdk: bool, settle_kind: str, tmp_path: Path
) -> None:
    """One edge from the producer to the consumer, joined by the process spans' links to the
    create spans; every span of a create, send, receive or process is of it, no settle is (a
    settle recorded as a PRODUCER is no send of the consumer's to itself, nor as a CONSUMER a
    receive)."""
    f, types = _fleet(sdk=sdk, settle_kind=settle_kind)
    edges, labelled = _classified(f, tmp_path)
    assert [(e["from"], e["to"], e["rule_id"], e["evidence"]) for e in edges] == [
        ("orders/orders-api", "orders/orders-worker", "P402", "link")
    ]
    (edge,) = edges
    of_edge = sorted(t for span, t in types.items() if labelled.get(span) == edge["edge_id"])
    assert of_edge == ["create", "create", "process", "process", "receive", "send"]
    assert not [t for span, t in types.items() if span in labelled and t == "settle"]
    # The AWS SDK's span names its batch's operation; a messaging span only its type.
    batch = ["SendMessageBatch"] if sdk else []
    assert edge["operations"] == ["ReceiveMessage", "SendMessage", *batch]
