"""How listening edges are joined (trace context, links, hooks, the account's wiring, names),
and what an edge says when a fact is missing."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import duckdb
import pytest

from seamscope.classifiers.engine import classify
from seamscope.classifiers.landscape import parse_landscape
from seamscope.tracer.discover import Route, replace_routes
from seamscope.tracer.store import Store
from tests.unit.classifiers.conftest import ClassifyFn
from tests.unit.classifiers.fleet import Fleet, Service, Span

ORDERS = Service("orders-api", "orders", "backend")
WORKER = Service("orders-worker", "orders", "worker")
BILLING = Service("billing-api", "billing", "backend")
INVOICER = Service("billing-invoicer", "billing", "worker")
INDEXER = Service("orders-indexer", "orders", "worker")
READER = Service("orders-reader", "orders", "worker")
WEB = Service("shop-web", "shop", "webapp")
BFF = Service("shop-bff", "shop", "bff")
REPORTS = Service("reports-job", "reports", "job")

SQS_SEND = {"rpc.system": "aws-api", "rpc.service": "SQS", "rpc.method": "SendMessage"}
SQS_RECEIVE = {"rpc.system": "aws-api", "rpc.service": "SQS", "rpc.method": "ReceiveMessage"}


def _send(f: Fleet, svc: Service, queue: str | None = None) -> Span:
    attrs = dict(SQS_SEND, **({"messaging.destination.name": queue} if queue else {}))
    return f.span(svc, "SQS.SendMessage", "PRODUCER", attrs)


def _invocation(f: Fleet, svc: Service, function: str, links: tuple[Span, ...] = ()) -> Span:
    """A Lambda function's own span, as Go's otellambda writes it (no queue)."""
    attrs = {
        "faas.invocation_id": "1",
        "aws.lambda.invoked_arn": f"arn:aws:lambda:eu-west-1:123456789012:function:{function}",
    }
    return f.span(
        svc, function, "SERVER", attrs, links=[(s.trace_id, s.span_id, {}) for s in links]
    )


ESM = """
[[routes]]
kind = "lambda-event-source"
source = "sqs:queue/invoice-jobs"
target = "lambda:function/billing-invoicer"
"""


def test_a_span_link_joins_whichever_side_is_stored_first(tmp_path: Path) -> None:
    """A Lambda SQS trigger links to the sender's span; the link is kept until the sender's
    span arrives, and found when the sender's came first."""
    for first in ("consumer", "producer"):
        f = Fleet()
        send = _send(f, BILLING, "invoice-jobs")
        run = _invocation(f, INVOICER, "billing-invoicer", (send,))
        f.dynamodb(INVOICER, "PutItem", "Invoices", parent=run)
        batches = [[s for s in f.spans if s is not send], [send]]
        with Store.open(tmp_path / f"{first}.duckdb") as store:
            for i, batch in enumerate(batches if first == "consumer" else batches[::-1]):
                store.append(f.table(batch), batch_key=f"b{i}", source="test")
                classify(store.con)
            edge = _edge(store.con, "billing-api", "billing-invoicer")
        assert (edge["mechanism"], edge["rule_id"], edge["evidence"]) == ("sqs", "P402", "link")
        assert edge["via"] == "sqs:queue/invoice-jobs"


# The consumer's start minus the producer's, in seconds, and whether their link joins: within
# an hour after the producer (LINK_WINDOW) or a minute before it (LINK_SKEW, clocks differ). In
# this order, the first pair and the last are at the window's far ends: a side that read less
# of the other's table than the window misses one of them.
LINKED_AFTER = {
    "jobs-55m": (55 * 60, True),
    "jobs-behind": (-30, True),
    "jobs-far-behind": (-90, False),
    "jobs-70m": (70 * 60, False),
    "jobs-50m": (50 * 60, True),
}


def _links_apart() -> Fleet:
    """One producer and one Lambda consumer linking to it per entry of LINKED_AFTER, the pairs
    hours apart."""
    f = Fleet()
    for i, (queue, (after, _)) in enumerate(LINKED_AFTER.items()):
        f.at(4 * 3600.0 * (i + 1))
        send = _send(f, BILLING, queue)
        run = _invocation(f, Service(f"invoicer-{i}", "billing", "worker"), f"fn-{i}", (send,))
        shift = send.start_ns + after * 1_000_000_000 - run.start_ns
        run.start_ns, run.end_ns = run.start_ns + shift, run.end_ns + shift
    return f


@pytest.mark.parametrize("order", ["consumers first", "producers first", "one batch"])
def test_a_span_link_joins_within_its_window_whichever_side_comes_first(
    tmp_path: Path, order: str
) -> None:
    """The same links join whatever the order the spans are stored in, and in a full run: the
    consumer's link finds a stored producer, and a producer stored later finds a stored link,
    only within the window (so that each side reads only that stretch of the other's table)."""
    f = _links_apart()
    consumers = [s for s in f.spans if s.kind == "SERVER"]
    producers = [s for s in f.spans if s.kind == "PRODUCER"]
    batches = {
        "consumers first": [consumers, producers],
        "producers first": [producers, consumers],
        "one batch": [f.spans],
    }[order]
    query = """SELECT g.target FROM classifier_joins AS j
        JOIN classifier_groups AS g ON g.gkey = j.prod_gkey WHERE j.how = 'link' ORDER BY 1"""
    with Store.open(tmp_path / "links.duckdb") as store:
        for i, batch in enumerate(batches):
            store.append(f.table(batch), batch_key=f"b{i}", source="test")
            classify(store.con)
        joined = [target for (target,) in store.con.execute(query).fetchall()]
        classify(store.con, full=True)
        assert [target for (target,) in store.con.execute(query).fetchall()] == joined
    expected = sorted(queue for queue, (_, joins) in LINKED_AFTER.items() if joins)
    assert [target.rsplit("/", 1)[-1] for target in joined] == expected, joined


def test_trace_context_through_the_message_joins_by_trace(classified: ClassifyFn) -> None:
    f = Fleet()
    send = _send(f, ORDERS)  # no queue name: the context alone joins it
    f.span(WORKER, "orders process", "CONSUMER", dict(SQS_RECEIVE), parent=send)
    edge = classified(f).edge("orders-api", "orders-worker")
    assert (edge["mechanism"], edge["rule_id"], edge["evidence"]) == ("sqs", "P402", "trace")


@pytest.mark.parametrize("order", ["together", "producer first", "consumer first"])
def test_trace_context_joins_by_trace_in_any_batch_after_the_first(
    tmp_path: Path, order: str
) -> None:
    """A batch runs the trace joins only where its facts hold a consumer's that is a
    producer's child (its look at them); the join is found whichever batch brings either
    side, the trace read again where the other side was stored before."""
    f = Fleet()
    f.dynamodb(ORDERS, "PutItem", "Orders")
    first = list(f.spans)  # a first batch: the next ones are merged incrementally
    f.at(5.0)
    send = _send(f, ORDERS)
    receive = f.span(WORKER, "orders process", "CONSUMER", dict(SQS_RECEIVE), parent=send)
    later = {
        "together": [[send, receive]],
        "producer first": [[send], [receive]],
        "consumer first": [[receive], [send]],
    }[order]
    with Store.open(tmp_path / "store.duckdb") as store:
        for i, batch in enumerate([first, *later]):
            store.append(f.table(batch), batch_key=f"b{i}", source="test")
            assert classify(store.con).full == (i == 0)
        edge = _edge(store.con, "orders-api", "orders-worker")
    assert (edge["mechanism"], edge["rule_id"], edge["evidence"]) == ("sqs", "P402", "trace")


def test_an_unnamed_queue_is_never_shared(classified: ClassifyFn) -> None:
    f = Fleet()
    _send(f, ORDERS)
    f.span(BILLING, "SQS.ReceiveMessage", "CLIENT", dict(SQS_RECEIVE))
    c = classified(f)
    edges = c.edges()
    assert [e for e in edges if e["from_node"].startswith("component:")] == [
        e for e in edges if e["from_node"].endswith("orders-api")
    ]
    assert {e["verdict"] for e in edges} == {"unresolved"}
    send = c.edge("orders-api", "sqs:queue/?/orders/orders-api")
    receive = c.edge("sqs:queue/?/billing/billing-api", "billing-api")
    assert "carries no queue name" in send["reason"] and "aws.sqs.queue.url" in send["reason"]
    assert "carries no queue name" in receive["reason"]
    assert c.node("sqs:queue/?/orders/orders-api")["system"] is None
    # Both spans carry the unresolved label of their edge.
    assert sorted(row[4] for row in c.labels()) == ["unresolved", "unresolved"]


def test_one_side_only_is_unresolved_and_says_what_was_not_seen(classified: ClassifyFn) -> None:
    f = Fleet()
    f.send(ORDERS, "orders-q")
    f.receive(BILLING, "billing-q")
    f.publish(ORDERS, "order-events")
    f.kinesis(ORDERS, "PutRecord", "clicks")
    f.put_events(ORDERS, "orders", "OrderPlaced")
    c = classified(f)
    for source, target, words in (
        ("orders-api", "sqs:queue/orders-q", "no consumer of sqs:queue/orders-q"),
        ("sqs:queue/billing-q", "billing-api", "nothing seen sends to sqs:queue/billing-q"),
        ("orders-api", "sns:topic/order-events", "no subscriber"),
        ("orders-api", "kinesis:stream/clicks", "no reader"),
        ("orders-api", "events:bus/default", "no consumer of orders / OrderPlaced"),
    ):
        edge = c.edge(source, target)
        assert (edge["rule_id"], edge["verdict"], edge["evidence"]) == (
            "unresolved",
            "unresolved",
            "none",
        )
        assert words in edge["reason"], edge["reason"]


def test_a_lambda_trigger_with_no_queue_joins_through_its_event_source_mapping(
    classified: ClassifyFn,
) -> None:
    def fleet() -> Fleet:
        f = Fleet()
        _send(f, BILLING, "invoice-jobs")
        _invocation(f, INVOICER, "billing-invoicer")
        return f

    bare = classified(fleet(), name="bare.duckdb")
    # Its invocation names no trigger: shown, unresolved, never a pattern.
    runs = [e for e in bare.edges() if e["to_node"].endswith("billing-invoicer")]
    assert [(e["rule_id"], e["evidence"]) for e in runs] == [("unresolved", "none")]
    assert "name no trigger" in runs[0]["reason"]
    assert "event-source mapping" in bare.edge("billing-api", "sqs:queue/invoice-jobs")["reason"]
    wired = classified(fleet(), ESM, name="wired.duckdb")
    edge = wired.edge("billing-api", "billing-invoicer")
    assert (edge["rule_id"], edge["evidence"], edge["via"]) == (
        "P402",
        "declared",
        "sqs:queue/invoice-jobs",
    )


def test_a_table_stream_to_a_lambda_function_joins_through_its_mapping(
    classified: ClassifyFn,
) -> None:
    f = Fleet()
    f.dynamodb(ORDERS, "PutItem", "Orders")
    _invocation(f, INDEXER, "orders-indexer")
    routes = """
[[routes]]
kind = "dynamodb-stream-consumer"
source = "dynamodb:stream/Orders"
target = "lambda:function/orders-indexer"
"""
    edge = classified(f, routes).edge("dynamodb:table/Orders", "orders-indexer")
    assert (edge["mechanism"], edge["rule_id"], edge["evidence"]) == (
        "dynamodb-streams",
        "P401",
        "declared",
    )


def test_a_discovered_route_reclassifies_without_new_spans(tmp_path: Path) -> None:
    f = Fleet()
    _send(f, BILLING, "invoice-jobs")
    _invocation(f, INVOICER, "billing-invoicer")
    with Store.open(f.store(tmp_path / "store.duckdb")) as store:
        classify(store.con)
        assert "unresolved" in {e["verdict"] for e in _edges(store.con)}
        route = Route(
            route_id="arn:aws:lambda:eu-west-1:123456789012:event-source-mapping:1",
            kind="lambda-event-source",
            source="sqs:queue/invoice-jobs",
            target="lambda:function/billing-invoicer",
            event_sources=None,
            detail_types=None,
            name="1",
            pattern=None,
            origin="discovered",
            account="123456789012",
            region="eu-west-1",
            discovered_at=None,
        )
        replace_routes(
            store.con,
            [route],
            account="123456789012",
            region="eu-west-1",
            kinds=["lambda-event-source"],
        )
        result = classify(store.con)
        assert result.new_spans == 0
        edge = _edge(store.con, "billing-api", "billing-invoicer")
    assert (edge["rule_id"], edge["evidence"]) == ("P402", "discovered")


def test_graphql_is_told_by_its_path_and_the_reason_says_so(classified: ClassifyFn) -> None:
    f = Fleet()
    f.http(WEB, "http://127.0.0.1:4000/graphql", method="POST", server=BFF)
    f.http(REPORTS, "http://127.0.0.1:4000/api/graphql", method="POST", server=BFF)
    f.http(WEB, "http://127.0.0.1:4000/graphql-docs", method="GET", server=BFF)
    c = classified(f)
    edge = c.edge("shop-web", "shop-bff", "graphql")
    assert edge["rule_id"] == "P101"
    assert "GraphQL inferred from the path (POST /graphql)" in edge["reason"]
    assert c.rule("reports-job", "shop-bff") == "A102"
    assert c.edge("shop-web", "shop-bff", "rest")["operations"] == ["GET /graphql-docs"]


def test_a_consumers_lease_table_is_no_replication(classified: ClassifyFn) -> None:
    """The Kinesis Client Library scans and checkpoints its lease table on a timer, beside its
    stream reads: no A401, and the table's edge and node say why."""
    f = Fleet()
    for i in range(4):
        f.at(5.0 * i)
        f.kinesis(ORDERS, "PutRecord", "clicks")
        f.dynamodb(READER, "Scan", "orders-reader-leases")
        f.kinesis(READER, "GetRecords", "clicks")
        f.dynamodb(READER, "UpdateItem", "click-totals")
        f.dynamodb(READER, "UpdateItem", "orders-reader-leases")
    c = classified(f)
    assert "A401" not in {e["rule_id"] for e in c.edges()}
    lease = c.edge("orders-reader", "dynamodb:table/orders-reader-leases")
    assert lease["rule_id"] == "P301"
    assert "lease/checkpoint table" in lease["reason"]
    assert "kinesis:stream/clicks" in lease["reason"]
    assert "lease/checkpoint table" in c.node("dynamodb:table/orders-reader-leases")["inference"]


def test_a_scan_job_that_also_reads_a_stream_elsewhere_still_copies(
    classified: ClassifyFn,
) -> None:
    """The lease exception needs the scanned table to be the consumer's own: a job that scans
    a table another component writes is polling replication, stream or not."""
    f = Fleet()
    for i in range(4):
        f.at(5.0 * i)
        f.dynamodb(ORDERS, "PutItem", "Orders")
        f.dynamodb(READER, "Scan", "Orders")
        f.kinesis(READER, "GetRecords", "clicks")
        f.dynamodb(READER, "UpdateItem", "order-copies")
    assert classified(f).rule("orders-reader", "dynamodb:table/order-copies") == "A401"


def test_a_call_with_no_name_is_unresolved(classified: ClassifyFn) -> None:
    f = Fleet()
    f.aws(ORDERS, "DynamoDB", "TransactWriteItems", {"db.system": "dynamodb"})
    f.span(BILLING, "GET", "CLIENT", {"http.method": "GET"})
    c = classified(f)
    table = c.edge("orders-api", "dynamodb:table/?/orders/orders-api")
    assert table["verdict"] == "unresolved"
    assert "carries no table name (read from aws.dynamodb.table_names" in table["reason"]
    host = c.edge("billing-api", "external:?/billing/billing-api")
    assert host["verdict"] == "unresolved" and "carries no host" in host["reason"]


def test_evidence_of_calls(classified: ClassifyFn) -> None:
    f = Fleet()
    f.http(BILLING, "http://127.0.0.1:5001/orders/1", server=ORDERS)
    f.http(REPORTS, "http://127.0.0.1:5001/orders/2")
    f.dynamodb(ORDERS, "PutItem", "Orders")
    c = classified(f)
    assert c.edge("billing-api", "orders-api")["evidence"] == "trace"
    assert c.edge("reports-job", "orders-api")["evidence"] == "host"
    assert c.edge("orders-api", "dynamodb:table/Orders")["evidence"] == "name"


_DETERMINISM = """
import json, sys
from pathlib import Path
import duckdb
from seamscope.classifiers.engine import classify
from tests.unit.classifiers.fleet import Fleet, Service
f = Fleet()
orders = Service("orders-api", "orders", "backend")
billing = Service("billing-api", "billing", "backend")
for table in ("prod-orders", "orders-orders", "Orders", "OrdersStack-OrdersTable-1A2B3C4D"):
    f.dynamodb(orders, "PutItem", table)
f.put_events(orders, "orders", "OrderPlaced")
f.receive_events(billing, "billing-q", "orders", "OrderPlaced")
f.dynamodb(billing, "PutItem", "Invoices")
path = f.store(Path(sys.argv[1]))
con = duckdb.connect(str(path))
classify(con)
print(json.dumps(con.execute("SELECT * FROM edges ORDER BY edge_id").fetchall(), default=str))
"""


def test_classification_does_not_depend_on_the_hash_seed(tmp_path: Path) -> None:
    """Owners and data leaders come out the same whatever order Python's sets iterate in."""
    outputs = set()
    for seed in ("1", "2", "3", "4"):
        done = subprocess.run(
            [sys.executable, "-c", _DETERMINISM, str(tmp_path / f"{seed}.duckdb")],
            capture_output=True,
            text=True,
            env={**os.environ, "PYTHONHASHSEED": seed},
            cwd=Path(__file__).resolve().parents[3],
            check=True,
        )
        outputs.add(done.stdout)
    assert len(outputs) == 1
    edges = json.loads(outputs.pop())
    a201 = [e for e in edges if e[9] == "A201"]
    assert len(a201) == 1 and "table Orders," in a201[0][11]


def _edges(con: duckdb.DuckDBPyConnection) -> list[dict[str, Any]]:
    cur = con.execute("SELECT * FROM edges ORDER BY edge_id")
    names = [d[0] for d in cur.description]
    return [dict(zip(names, row, strict=True)) for row in cur.fetchall()]


def _edge(con: duckdb.DuckDBPyConnection, source: str, target: str) -> dict[str, Any]:
    found = [
        e for e in _edges(con) if e["from_node"].endswith(source) and e["to_node"].endswith(target)
    ]
    assert len(found) == 1, [(e["from_node"], e["to_node"]) for e in _edges(con)]
    return found[0]


def test_landscape_parse_is_in_the_fingerprint() -> None:
    plain = parse_landscape("", Path("seamscope.toml"))
    wired = parse_landscape(ESM, Path("seamscope.toml"))
    assert plain.fingerprint() != wired.fingerprint()


def test_a_store_classified_by_an_older_classifier_is_classified_again(tmp_path: Path) -> None:
    """Tables of another classifier version (an edges table without evidence) are made again
    in this version's shape."""
    f = Fleet()
    f.http(BILLING, "http://127.0.0.1:5001/orders/1", server=ORDERS)
    with Store.open(f.store(tmp_path / "store.duckdb")) as store:
        classify(store.con)
        store.con.execute("DROP VIEW findings")
        store.con.execute("DROP VIEW span_labels")
        store.con.execute("ALTER TABLE edges DROP COLUMN evidence")
        store.con.execute("DROP TABLE classifier_joins")
        store.con.execute("UPDATE classifier_state SET value = '1' WHERE key = 'version'")
        result = classify(store.con)
        assert result.full
        edge = _edge(store.con, "billing-api", "orders-api")
        assert (edge["rule_id"], edge["evidence"]) == ("P102", "trace")
        assert store.con.execute("SELECT count(*) FROM span_labels").fetchone() == (1,)
