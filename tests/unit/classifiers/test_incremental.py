"""Incremental classification equals one full classification, however the spans arrive."""

from __future__ import annotations

import math
import random
import statistics
from pathlib import Path
from typing import Any

import duckdb
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from seamscope.classifiers import engine
from seamscope.classifiers.derive import _positions_sql, derive, refresh_stats
from seamscope.classifiers.engine import classify
from seamscope.classifiers.facts import KEYS, LONE_CANDIDATE
from seamscope.classifiers.landscape import parse_landscape
from seamscope.classifiers.mechanisms import Side, sql_kinds
from seamscope.tracer.store import Store
from tests.unit.classifiers.fleet import BASE_NS, Fleet, Service, Span

WEB = Service("shortlist-web", "shortlist", "webapp")
BFF = Service("webapp-bff", "shortlist", "bff")
ORDERS = Service("orders-api", "orders", "backend")
JS_ORDERS = Service("orders-js", "orders", "backend", sdk="js")
WORKER = Service("orders-worker", "orders", "worker")
BILLING = Service("billing-api", "billing", "backend")
JOB = Service("sync-job", "search", "job")
SHIPPING = Service("shipping-api", "shipping", "backend")


def _fleet(by_instance: bool) -> Fleet:
    f = Fleet()
    for i in range(3):
        f.at(5.0 * i)
        call = f.http(
            WEB,
            "http://127.0.0.1:4000/graphql",
            method="POST",
            server=BFF,
            graphql=("query", "Shortlist"),
        )
        f.http(
            BFF,
            f"http://127.0.0.1:5001/orders/{i}",
            server=ORDERS,
            parent=call,
            route="/orders/<oid>",
            status=500 if i == 1 else 200,
        )
        f.dynamodb(ORDERS, "PutItem", "Orders")
        f.dynamodb(JS_ORDERS, "UpdateItem", "Orders")
        f.put_events(ORDERS, "orders", "OrderUpdated")
        handler = f.root(BILLING, "handle")
        f.receive_events(BILLING, "billing-q", "orders", "OrderUpdated", parent=handler)
        f.http(BILLING, f"http://127.0.0.1:5001/orders/{i}", server=ORDERS, parent=handler)
        if i == 0:
            # A server span whose URL names the host it was called at, its socket elsewhere
            # (python-contrib's ASGI under http/dup), called without trace context: its host
            # is read from its URL in the batches that hold one.
            f.span(
                SHIPPING,
                "GET /ship/{id}",
                "SERVER",
                {
                    "http.method": "GET",
                    "http.request.method": "GET",
                    "http.url": "http://shipping.example.com:8080/ship/1",
                    "http.route": "/ship/{id}",
                    "url.path": "/ship/1",
                    "server.address": "10.0.0.9",
                    "server.port": 8080,
                },
            )
            f.http(BILLING, "http://shipping.example.com:8080/ship/1")
        f.send(ORDERS, "orders-q")
        f.receive(WORKER, "orders-q")
        f.stream_read(WORKER, "Orders")
        run = f.root(JOB, "copy")
        f.dynamodb(JOB, "Scan", "Orders", parent=run)
        f.http(JOB, "https://x.algolia.net/1/indexes/o", method="POST", parent=run)
        if by_instance:
            f.receive_events(WORKER, "worker-q", "orders", "OrderUpdated")
            f.dynamodb(WORKER, "PutItem", "Shipments")
    return f


def _snapshot(con: duckdb.DuckDBPyConnection) -> dict[str, list[Any]]:
    return {
        "nodes": con.execute("SELECT * FROM nodes ORDER BY node_id").fetchall(),
        "edges": con.execute("SELECT * FROM edges ORDER BY edge_id").fetchall(),
        "labels": con.execute("SELECT * FROM span_labels ORDER BY ALL").fetchall(),
        # Merged run by run, as gathering every run again gives (the written groups are a set).
        "jobs": con.execute(
            "SELECT * REPLACE (list_sort(written) AS written) FROM classifier_jobs ORDER BY ALL"
        ).fetchall(),
    }


def _compare(path: Path, fleet: Fleet, batches: list[list[Span]]) -> None:
    with Store.open(path) as store:
        for i, batch in enumerate(batches):
            if batch:
                store.append(fleet.table(batch), batch_key=f"b{i}", source="test")
                classify(store.con)
        incremental = _snapshot(store.con)
        result = classify(store.con, full=True)
        assert result.full
        full = _snapshot(store.con)
    assert incremental == full
    assert {row[9] for row in full["edges"]} >= {"P101", "P102", "P202", "A401"}


def _cuts(spans: list[Span], cuts: list[int]) -> list[list[Span]]:
    points = sorted({0, len(spans), *(c % (len(spans) + 1) for c in cuts)})
    return [spans[a:b] for a, b in zip(points, points[1:], strict=False)]


@settings(
    max_examples=8, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(cuts=st.lists(st.integers(min_value=0, max_value=10_000), max_size=12))
def test_batches_in_end_order_equal_one_full_run(tmp_path_factory: Any, cuts: list[int]) -> None:
    fleet = _fleet(by_instance=True)
    spans = fleet.in_end_order()
    path = tmp_path_factory.mktemp("inc") / "store.duckdb"
    _compare(path, fleet, _cuts(spans, cuts))


@pytest.mark.parametrize("late_first", [False, True])
def test_a_group_that_loses_a_fact_at_its_first_or_last_moment_takes_the_moment_back(
    tmp_path: Path, late_first: bool
) -> None:
    # Two calls of one group (no traced callee: the same target and path); the server span of
    # one comes a batch later and moves its call to the callee's group. The group it left
    # keeps one fact, whose moment is now its first and last, as a full run has it.
    f = Fleet()
    calls = []
    for i, traced in enumerate((late_first, not late_first)):
        f.at(10.0 * i)
        server = ORDERS if traced else None
        calls.append(
            f.http(BFF, "http://127.0.0.1:5001/orders/1", server=server, route="/orders/<oid>")
        )
    late = [s for s in f.spans if s.kind == "SERVER"]
    assert len(late) == 1
    moments = """SELECT target, callee_svc, n, first_seen, last_seen FROM classifier_groups
        ORDER BY ALL"""
    with Store.open(tmp_path / "late.duckdb") as store:
        for i, batch in enumerate(([s for s in f.spans if s not in late], late)):
            store.append(f.table(batch), batch_key=f"b{i}", source="test")
            classify(store.con)
        incremental = _snapshot(store.con), store.con.execute(moments).fetchall()
        classify(store.con, full=True)
        assert (_snapshot(store.con), store.con.execute(moments).fetchall()) == incremental
    untraced = [row for row in incremental[1] if row[1] is None]
    assert len(untraced) == 1 and untraced[0][2] == 1 and untraced[0][3] == untraced[0][4]


def _lone_workers() -> Fleet:
    """Two instances of a worker that leaves every call in a trace of its own: one writes 20 s
    after its receive, within the trace window; the other 40 s after, beyond it."""
    f = Fleet()
    for start, instance, delay, table in (
        (0.0, "w-1", 20.0, "Shipments"),
        (100.0, "w-2", 40.0, "Ledger"),
    ):
        worker = Service("orders-worker", "orders", "worker", instance=instance)
        f.at(start)
        f.receive_events(worker, "worker-q", "orders", "OrderUpdated")
        f.at(start + delay)
        f.dynamodb(worker, "PutItem", table)
    return f


@pytest.mark.parametrize("cut", [0, 1, 2, 3])
def test_a_lone_workers_call_is_handling_only_within_the_trace_window(
    tmp_path: Path, cut: int
) -> None:
    # Each call tested on its own, whichever batch holds it and in a full run: a call 40 s
    # after its instance's receive is not its handling, even beside one that is.
    fleet = _lone_workers()
    spans = sorted(fleet.spans, key=lambda s: s.start_ns)
    handled = """SELECT c.target FROM classifier_handling AS h
        JOIN classifier_groups AS c ON c.gkey = h.call_gkey ORDER BY 1"""
    with Store.open(tmp_path / "lone.duckdb") as store:
        for i, batch in enumerate((spans[:cut], spans[cut:])):
            if batch:
                store.append(fleet.table(batch), batch_key=f"b{i}", source="test")
                classify(store.con)
        incremental = store.con.execute(handled).fetchall()
        classify(store.con, full=True)
        assert store.con.execute(handled).fetchall() == incremental
    assert incremental == [("Shipments",)]


@pytest.mark.parametrize("workers", [80, 8])
def test_a_lone_workers_call_after_two_receives_at_one_moment_is_the_handling_of_one(
    tmp_path: Path, workers: int
) -> None:
    # Workers that leave every call in a trace of their own, each receiving two messages (of
    # two queues, each receive in a trace of its own) at one moment, then writing: the write is
    # the handling of exactly one of them, the one whose span key (then trace key) is greater,
    # in batches as in a full run. With more calls than DuckDB's loop-join threshold of 64
    # probe rows, an ASOF join took its sorted path, where ties fall as the sort leaves them;
    # with fewer, its nested loop.
    f = Fleet()
    for i in range(workers):
        worker = Service("orders-worker", "orders", "worker", instance=f"w-{i}")
        f.at(2.0 * i)
        first = f.receive(worker, f"q{i}-a")
        second = f.receive(worker, f"q{i}-b")
        second.start_ns = first.start_ns
        f.at(2.0 * i + 1.0)
        f.dynamodb(worker, "PutItem", f"T{i}")
    handled = """SELECT r.target, c.target FROM classifier_handling AS h
        JOIN classifier_groups AS r ON r.gkey = h.recv_gkey
        JOIN classifier_groups AS c ON c.gkey = h.call_gkey ORDER BY ALL"""
    # Per instance, the receive of the greatest span key, then trace key (the stored keys).
    picked = "arg_max(messaging_destination, (span_key, trace_key))"
    expected = f"""SELECT {picked}, 'T' || substr({picked}, 2, strpos({picked}, '-') - 2)
        FROM spans WHERE messaging_destination IS NOT NULL
        GROUP BY service_instance ORDER BY ALL"""
    receives = [s for s in f.spans if "messaging.destination" in s.attributes]
    calls = [s for s in f.spans if "messaging.destination" not in s.attributes]
    with Store.open(tmp_path / "ties.duckdb") as store:
        for i, batch in enumerate((receives, calls)):
            store.append(f.table(batch), batch_key=f"b{i}", source="test")
            classify(store.con)
        incremental = store.con.execute(handled).fetchall()
        want = store.con.execute(expected).fetchall()
        classify(store.con, full=True)
        assert store.con.execute(handled).fetchall() == incremental
    assert len(want) == workers
    assert incremental == want


def test_a_call_after_two_receives_at_one_moment_is_the_handling_of_the_greater_span_key(
    tmp_path: Path,
) -> None:
    # Two receives of one trace and service that start at the same moment (one message of
    # each of two queues in one poll), then a call: the call is the handling of exactly one of
    # them, the one whose span key is greater, in every trace (more traces than DuckDB's
    # loop-join threshold of 64 probe rows, so an ASOF join took its sorted path, where ties
    # fall as the sort leaves them), in batches as in a full run. A store of the classifier
    # before (version 13), whose ties fell otherwise, is classified again in full.
    f = Fleet()
    for i in range(80):
        f.at(2.0 * i)
        handler = f.root(WORKER, "poll")
        first = f.receive(WORKER, f"q{i}-a", parent=handler)
        second = f.receive(WORKER, f"q{i}-b", parent=handler)
        second.start_ns = first.start_ns
        f.dynamodb(WORKER, "PutItem", f"T{i}", parent=handler)
    handled = """SELECT r.target, c.target FROM classifier_handling AS h
        JOIN classifier_groups AS r ON r.gkey = h.recv_gkey
        JOIN classifier_groups AS c ON c.gkey = h.call_gkey ORDER BY ALL"""
    # Per trace, the receive with the greater span key (the stored keys, as the facts read them).
    expected = """SELECT arg_max(messaging_destination, span_key), 'T' || substr(
            arg_max(messaging_destination, span_key), 2, strpos(
                arg_max(messaging_destination, span_key), '-') - 2)
        FROM spans WHERE messaging_destination IS NOT NULL GROUP BY trace_id ORDER BY ALL"""
    spans = sorted(f.spans, key=lambda s: s.start_ns)
    with Store.open(tmp_path / "ties.duckdb") as store:
        for i, batch in enumerate((spans[:200], spans[200:316])):
            store.append(f.table(batch), batch_key=f"b{i}", source="test")
            classify(store.con)
        # As the classifier before may have left it: its version, each call the handling of
        # the other receive.
        store.con.execute("UPDATE classifier_state SET value = '13' WHERE key = 'version'")
        store.con.execute("""UPDATE classifier_handling AS h SET recv_gkey = o.gkey
            FROM classifier_groups AS g, classifier_groups AS o
            WHERE g.gkey = h.recv_gkey AND o.fkind = g.fkind AND o.target <> g.target
              AND left(o.target, -1) = left(g.target, -1)""")
        store.append(f.table(spans[316:]), batch_key="b2", source="test")
        assert classify(store.con).full
        incremental = store.con.execute(handled).fetchall()
        want = store.con.execute(expected).fetchall()
        classify(store.con, full=True)
        assert store.con.execute(handled).fetchall() == incremental
    assert len(want) == 80
    assert incremental == want


def test_every_lone_call_is_a_lone_candidate(tmp_path: Path) -> None:
    # A batch whose new spans hold no LONE_CANDIDATE (and whose traces have no stored span)
    # skips the look for lone calls: every span that gives one must be a candidate, whatever
    # its kind (an AWS call's span a server's, as an SDK may mark it) or mechanism.
    fleet = _lone_workers()
    worker = Service("orders-worker", "orders", "worker", instance="w-3")
    fleet.at(200.0)
    fleet.receive_events(worker, "worker-q", "orders", "OrderUpdated")
    fleet.at(205.0)
    fleet.http(worker, "https://x.algolia.net/1/indexes/o", method="POST")
    fleet.span(worker, "DynamoDB.PutItem", "SERVER", {
        "rpc.system": "aws-api", "rpc.service": "DynamoDB", "rpc.method": "PutItem",
        "aws.dynamodb.table_names": ["Shipments"],
    })  # fmt: skip
    with Store.open(tmp_path / "lone.duckdb") as store:
        store.append(fleet.table(), batch_key="b0", source="test")
        classify(store.con)
        lone = f"""FROM (SELECT *, {KEYS} FROM spans) AS sp
            JOIN classifier_spans AS s ON s.tk = sp.tk AND s.sk = sp.sk
            JOIN classifier_groups AS g USING (gkey)
            WHERE g.fkind IN {sql_kinds(Side.CALL, Side.PRODUCE)}
              AND s.pk IS NULL AND s.inst IS NOT NULL"""
        calls = store.con.execute(f"SELECT DISTINCT g.fkind {lone}").fetchall()
        missed = store.con.execute(
            f"SELECT sp.name {lone} AND NOT coalesce({LONE_CANDIDATE}, false)"
        ).fetchall()
    assert sorted(calls) == [("dynamodb",), ("http",)]
    assert missed == []


INVOICER = Service("billing-invoicer", "billing", "worker")
INVOICE_ROUTE = (
    '[[routes]]\nkind = "lambda-event-source"\nsource = "sqs:queue/invoice-jobs"\n'
    'target = "lambda:function/billing-invoicer"\n'
)


def _triggered_fleet() -> Fleet:
    """Lambda functions triggered through SQS, their spans linked to the senders' (no trace
    context through the message), beside the usual fleet."""
    f = _fleet(by_instance=False)
    arn = "arn:aws:lambda:eu-west-1:123456789012:function:billing-invoicer"
    for i in range(3):
        f.at(20.0 + 5.0 * i)
        send = f.span(BILLING, "SQS.SendMessage", "PRODUCER", {
            "rpc.system": "aws-api", "rpc.service": "SQS", "rpc.method": "SendMessage",
            "messaging.destination.name": "invoice-jobs",
        })  # fmt: skip
        run = f.span(
            INVOICER,
            "billing-invoicer",
            "SERVER",
            {"faas.invocation_id": str(i), "aws.lambda.invoked_arn": arn},
            links=[(send.trace_id, send.span_id, {})],
        )
        f.dynamodb(INVOICER, "PutItem", "Invoices", parent=run)
    return f


@settings(
    max_examples=8, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(seed=st.integers(min_value=0, max_value=2**32), parts=st.integers(min_value=2, max_value=9))
def test_lambda_triggers_and_links_in_any_order_equal_one_full_run(
    tmp_path_factory: Any, seed: int, parts: int
) -> None:
    # A batch looks for invocations and links only where its spans can hold them; a producer
    # stored after its consumer's link still joins.
    fleet = _triggered_fleet()
    spans = list(fleet.spans)
    random.Random(seed).shuffle(spans)
    size = -(-len(spans) // parts)
    path = tmp_path_factory.mktemp("triggered") / "store.duckdb"
    landscape = parse_landscape(INVOICE_ROUTE, path.with_suffix(".toml"))
    with Store.open(path) as store:
        for i in range(0, len(spans), size):
            store.append(fleet.table(spans[i : i + size]), batch_key=f"b{i}", source="test")
            classify(store.con, landscape)
        incremental = _snapshot(store.con)
        joins = store.con.execute("SELECT * FROM classifier_joins ORDER BY ALL").fetchall()
        classify(store.con, landscape, full=True)
        assert _snapshot(store.con) == incremental
        assert store.con.execute("SELECT * FROM classifier_joins ORDER BY ALL").fetchall() == joins
        rules = store.con.execute(
            "SELECT DISTINCT rule_id FROM edges WHERE from_node LIKE '%billing-api%' "
            "AND to_node LIKE '%billing-invoicer%'"
        ).fetchall()
    assert rules == [("P402",)]
    assert {how for _, _, how in joins} == {"link"}


@settings(
    max_examples=8, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(seed=st.integers(min_value=0, max_value=2**32), parts=st.integers(min_value=2, max_value=9))
def test_spans_in_any_order_equal_one_full_run(
    tmp_path_factory: Any, seed: int, parts: int
) -> None:
    # A server span stored after its client, a transport span before its AWS parent, ...
    fleet = _fleet(by_instance=False)
    spans = list(fleet.spans)
    random.Random(seed).shuffle(spans)
    size = -(-len(spans) // parts)
    batches = [spans[i : i + size] for i in range(0, len(spans), size)]
    path = tmp_path_factory.mktemp("shuffled") / "store.duckdb"
    _compare(path, fleet, batches)


def _aggregates(con: duckdb.DuckDBPyConnection) -> dict[str, list[Any]]:
    return {
        table: con.execute(f"SELECT * FROM {table} ORDER BY ALL").fetchall()
        for table in ("classifier_groups", "classifier_hist", "classifier_spans")
    }


def test_a_batch_of_stored_and_new_groups_moves_both_as_a_full_run_counts_them(
    tmp_path: Path,
) -> None:
    # A batch's groups that are stored already are moved in place and the new ones inserted
    # after: both must come out as one full run counts them.
    fleet = _fleet(by_instance=False)
    with Store.open(tmp_path / "store.duckdb") as store:
        store.append(fleet.table(), batch_key="first", source="test")
        classify(store.con)
        known = {r[0] for r in store.con.execute("SELECT gkey FROM classifier_groups").fetchall()}
        first = len(fleet.spans)
        fleet.at(30.0)
        fleet.dynamodb(ORDERS, "PutItem", "Orders")  # a stored group
        fleet.http(BFF, "http://127.0.0.1:5001/orders/9", server=ORDERS, status=503)
        fleet.dynamodb(BILLING, "GetItem", "Ledger")  # a new group
        store.append(fleet.table(fleet.spans[first:]), batch_key="second", source="test")
        classify(store.con)
        moved = {r[0] for r in store.con.execute("SELECT gkey FROM classifier_groups").fetchall()}
        assert known < moved, "the batch brought no new group"
        incremental = _aggregates(store.con)
        classify(store.con, full=True)
        assert _aggregates(store.con) == incremental


def test_a_call_with_nothing_new_changes_nothing(tmp_path: Path) -> None:
    fleet = _fleet(by_instance=False)
    path = fleet.store(tmp_path / "s.duckdb")
    con = duckdb.connect(str(path))
    first = classify(con)
    before = _snapshot(con)
    again = classify(con)
    assert (first.new_spans, again.new_spans) == (len(fleet.spans), 0)
    assert _snapshot(con) == before
    con.close()


def test_a_merge_leaves_no_temporary_behind(tmp_path: Path, monkeypatch: Any) -> None:
    # The merge drops only the temporaries it made: a full run, then a batch that re-derives
    # the stored traces it touches (the difference's tables among its temporaries), leave none.
    named: list[str] = []
    temp = engine._Merge.temp

    def recorded(merge: engine._Merge, sql: str) -> int:
        named.append(sql.split()[5])
        return temp(merge, sql)

    monkeypatch.setattr(engine._Merge, "temp", recorded)
    fleet = _fleet(by_instance=True)
    left = []
    with Store.open(tmp_path / "store.duckdb") as store:
        for i, batch in enumerate((fleet.spans[::2], fleet.spans[1::2])):
            store.append(fleet.table(batch), batch_key=f"b{i}", source="test")
            classify(store.con, full=i == 0)
            left.append(
                store.con.execute(
                    "SELECT table_name FROM duckdb_tables() WHERE temporary UNION ALL "
                    "SELECT view_name FROM duckdb_views() WHERE temporary AND NOT internal"
                ).fetchall()
            )
    assert left == [[], []]
    assert {"_cls_s", "_cls_fnew", "_cls_seen", "_cls_old", "_cls_delta"} <= set(named)


def test_new_job_runs_alone_keep_the_edges_and_move_the_polling_reason(
    tmp_path: Path, monkeypatch: Any
) -> None:
    from seamscope.classifiers.derive import derive as real_derive

    derived: list[int] = []

    def counting_derive(*args: Any, **kwargs: Any) -> str:
        derived.append(1)
        return real_derive(*args, **kwargs)

    monkeypatch.setattr("seamscope.classifiers.engine.derive", counting_derive)
    fleet = _fleet(by_instance=False)
    with Store.open(tmp_path / "store.duckdb") as store:
        store.append(fleet.table(), batch_key="first", source="test")
        classify(store.con)
        assert len(derived) == 1
        for i in range(3, 6):  # the job keeps its 5 s period: only new runs arrive
            first = len(fleet.spans)
            fleet.at(5.0 * i)
            run = fleet.root(JOB, "copy")
            fleet.dynamodb(JOB, "Scan", "Orders", parent=run)
            fleet.http(JOB, "https://x.algolia.net/1/indexes/o", method="POST", parent=run)
            store.append(fleet.table(fleet.spans[first:]), batch_key=f"run{i}", source="test")
            classify(store.con)
        assert len(derived) == 1, "new runs of a steady job re-derived the edges"
        reasons = [
            r[0]
            for r in store.con.execute("SELECT reason FROM edges WHERE rule_id = 'A401'").fetchall()
        ]
        assert reasons and all("(6 runs)" in r for r in reasons), reasons
        incremental = _snapshot(store.con)
        classify(store.con, full=True)
        assert _snapshot(store.con) == incremental


@pytest.mark.parametrize("stored", [True, False])
def test_new_job_runs_read_the_a401_edges_the_last_derive_left(
    tmp_path: Path, monkeypatch: Any, stored: bool
) -> None:
    # Only derive changes which edges are A401 and what they copy into: a batch that brings
    # only new runs takes them from the state, not from a statement of its own; a store whose
    # state has none (classified by a build before this one) reads them again.
    from seamscope.classifiers import derive as derive_module

    read: list[int] = []
    real = derive_module.polling_edges

    def counting(con: duckdb.DuckDBPyConnection) -> str:
        read.append(1)
        return real(con)

    monkeypatch.setattr(derive_module, "polling_edges", counting)
    monkeypatch.setattr(engine, "polling_edges", counting)
    fleet = _fleet(by_instance=False)
    with Store.open(tmp_path / "store.duckdb") as store:
        store.append(fleet.table(), batch_key="first", source="test")
        classify(store.con)
        if not stored:
            store.con.execute("DELETE FROM classifier_state WHERE key = 'a401'")
        read.clear()
        for i in range(3, 6):
            first = len(fleet.spans)
            fleet.at(5.0 * i)
            run = fleet.root(JOB, "copy")
            fleet.dynamodb(JOB, "Scan", "Orders", parent=run)
            fleet.http(JOB, "https://x.algolia.net/1/indexes/o", method="POST", parent=run)
            store.append(fleet.table(fleet.spans[first:]), batch_key=f"run{i}", source="test")
            classify(store.con)
        reasons = [
            r[0]
            for r in store.con.execute("SELECT reason FROM edges WHERE rule_id = 'A401'").fetchall()
        ]
    assert reasons and all("(6 runs)" in r for r in reasons), reasons
    assert len(read) == (0 if stored else 3)


# The job's gaps between runs (seconds), and whether A401 holds: the coefficient of variation of
# the gaps (population) at most 0.35, computed here as the guideline states it. Each set lies
# clear of the threshold; the order the runs arrive in must not matter.
_GAPS = [
    ([5.0, 5.0, 5.0, 5.0], True),  # steady
    ([5.0, 7.0, 3.0, 5.0], True),  # CV 0.28
    ([5.0, 7.5, 2.5], False),  # CV 0.41
    ([1.0, 9.0, 1.0, 9.0], False),  # CV 0.8
    ([60.0, 0.0, 60.0, 60.0], True),  # two runs at the same instant count once: CV 0
]


def _steady(gaps: list[float]) -> tuple[bool, float, int]:
    """(steady, mean gap, runs) of distinct start times, as the rule defines them."""
    times = sorted({round(sum(gaps[:i]), 6) for i in range(len(gaps) + 1)})
    distinct = [b - a for a, b in zip(times, times[1:], strict=False)]
    mean = statistics.fmean(distinct)
    return statistics.pstdev(distinct) / mean <= 0.35, mean, len(times)


@pytest.mark.parametrize(("gaps", "steady"), _GAPS)
@pytest.mark.parametrize("order", ["in order", "reversed", "shuffled"])
def test_a_jobs_period_and_steadiness_follow_its_runs_however_they_arrive(
    tmp_path: Path, gaps: list[float], steady: bool, order: str
) -> None:
    # classifier_jobs keeps the moments of a job's start times (count, first, last, sum of the
    # squared gaps); merged batch by batch, in any order, they must give the period and the
    # verdict that the gaps themselves give.
    expected, mean, runs = _steady(gaps)
    assert expected == steady
    fleet = Fleet()
    fleet.dynamodb(ORDERS, "PutItem", "Orders")
    batches: list[list[Span]] = [list(fleet.spans)]
    start = 100.0
    for at in [start + sum(gaps[:i]) for i in range(len(gaps) + 1)]:
        first = len(fleet.spans)
        fleet.clock = BASE_NS + int(at * 1e9)  # set, not moved on: two runs may share it
        run = fleet.root(JOB, "copy")
        fleet.dynamodb(JOB, "Scan", "Orders", parent=run)
        fleet.http(JOB, "https://x.algolia.net/1/indexes/o", method="POST", parent=run)
        batches.append(fleet.spans[first:])
    if order == "reversed":
        batches[1:] = batches[:0:-1]
    elif order == "shuffled":
        random.Random(len(gaps)).shuffle(batches)
    with Store.open(tmp_path / "store.duckdb") as store:
        for i, batch in enumerate(batches):
            store.append(fleet.table(batch), batch_key=f"b{i}", source="test")
            classify(store.con)
        reasons = [
            r[0]
            for r in store.con.execute("SELECT reason FROM edges WHERE rule_id = 'A401'").fetchall()
        ]
        incremental = _snapshot(store.con)
        classify(store.con, full=True)
        assert _snapshot(store.con) == incremental
    if steady:
        assert reasons, "a steady job's copy was not found"
        assert all(f"every {mean:.3g} s ({runs} runs)" in r for r in reasons), reasons
    else:
        assert not reasons, reasons


def test_a_job_run_off_its_period_derives_the_edges_again(tmp_path: Path) -> None:
    fleet = _fleet(by_instance=False)
    with Store.open(tmp_path / "store.duckdb") as store:
        store.append(fleet.table(), batch_key="first", source="test")
        classify(store.con)
        assert store.con.execute(
            "SELECT count(*) FROM edges WHERE rule_id = 'A401'"
        ).fetchone() == (1,)
        first = len(fleet.spans)
        fleet.at(60.0)  # 50 s after the last run of a 5 s job: no longer steady
        run = fleet.root(JOB, "copy")
        fleet.dynamodb(JOB, "Scan", "Orders", parent=run)
        fleet.http(JOB, "https://x.algolia.net/1/indexes/o", method="POST", parent=run)
        store.append(fleet.table(fleet.spans[first:]), batch_key="late", source="test")
        classify(store.con)
        incremental = _snapshot(store.con)
        assert not [e for e in incremental["edges"] if e[9] == "A401"]
        classify(store.con, full=True)
        assert _snapshot(store.con) == incremental


# --- A landscape change alone (no new spans) reclassifies ----------------------------------


def _portal_calls_rest(f: Fleet) -> str:
    portal = Service("provider-portal", "providers", "webapp")
    f.http(portal, "http://127.0.0.1:5002/messages", method="POST", server=BILLING)
    return "provider-portal"


def _kiosk_without_role_calls_rest(f: Fleet) -> str:
    f.http(Service("kiosk", "kiosk", None), "http://127.0.0.1:5002/items", server=BILLING)
    return "kiosk"


def _billing_writes_orders(f: Fleet) -> str:
    f.dynamodb(BILLING, "PutItem", "Orders")
    f.dynamodb(ORDERS, "GetItem", "Orders")  # the orders system is seen
    return "billing-api"


def _orders_call_a_mailer(f: Fleet) -> str:
    f.http(
        ORDERS, "http://127.0.0.1:5009/send", method="POST", server=Service("fake-mailer", "mail")
    )
    return "orders-api"


def _user_events_stored(f: Fleet) -> str:
    idp = Service("idp", "identity", "backend")
    consumer = Service("signup-consumer", "marketing", "worker")
    f.put_events(idp, "idp", "UserCreated")
    handling = f.root(consumer, "poll")
    f.receive_events(consumer, "signup-q", "idp", "UserCreated", parent=handling)
    f.dynamodb(consumer, "PutItem", "Signups", parent=handling)
    return "idp"


def _jobs_sent_to_a_lambda(f: Fleet) -> str:
    sender = Service("billing-api", "billing", "backend")
    f.span(sender, "SQS.SendMessage", "PRODUCER", {
        "rpc.system": "aws-api", "rpc.service": "SQS", "rpc.method": "SendMessage",
        "messaging.destination.name": "invoice-jobs",
    })  # fmt: skip
    # A Lambda function's own span names no queue: only its event-source mapping joins it.
    arn = "arn:aws:lambda:eu-west-1:123456789012:function:billing-invoicer"
    invoicer = Service("billing-invoicer", "billing", "worker")
    f.span(
        invoicer,
        "billing-invoicer",
        "SERVER",
        {"faas.invocation_id": "1", "aws.lambda.invoked_arn": arn},
    )
    return "billing-api"


ROUTE = '[[routes]]\nkind = "lambda-event-source"\nsource = "sqs:queue/{}"\n'
ROUTE += 'target = "lambda:function/billing-invoicer"\n'

LANDSCAPE_SECTIONS = {
    # section: (spans, landscape before, after (only that section differs), rule before, after)
    "systems": (
        _kiosk_without_role_calls_rest,
        '[systems.kiosk]\ncomponents = ["kiosk"]\n',
        '[systems.kiosk]\ncomponents = { kiosk = "webapp" }\n',
        "P102",
        "A101",
    ),
    "owners": (
        _billing_writes_orders,
        '[owners.tables]\nOrders = "billing"\n',
        '[owners.tables]\nOrders = "orders"\n',
        "P301",
        "A301",
    ),
    "vendors": (
        _orders_call_a_mailer,
        '[vendors.mailer]\ncomponents = ["other-mailer"]\n',
        '[vendors.mailer]\ncomponents = ["fake-mailer"]\n',
        "P102",
        "P302",
    ),
    "data_leaders": (
        _user_events_stored,
        '[data_leaders.identity]\nentities = ["account"]\n',
        '[data_leaders.identity]\nentities = ["user"]\n',
        "P201",
        "A201",
    ),
    "routes": (
        _jobs_sent_to_a_lambda,
        ROUTE.format("other-jobs"),
        ROUTE.format("invoice-jobs"),
        "unresolved",
        "P402",
    ),
    "exceptions": (
        _portal_calls_rest,
        '[exceptions]\nrest_allowed_webapps = ["kiosk"]\n',
        '[exceptions]\nrest_allowed_webapps = ["provider-portal"]\n',
        "A101",
        "P103",
    ),
}


@pytest.mark.parametrize("section", sorted(LANDSCAPE_SECTIONS))
def test_changing_one_landscape_section_alone_relabels(tmp_path: Path, section: str) -> None:
    spans, before, after, rule_before, rule_after = LANDSCAPE_SECTIONS[section]
    fleet = Fleet()
    source = spans(fleet)
    path = fleet.store(tmp_path / "store.duckdb")

    def rule_from(landscape: str) -> tuple[str, int]:
        result = classify(con, parse_landscape(landscape, tmp_path / "seamscope.toml"))
        rules = con.execute(
            "SELECT rule_id FROM edges WHERE from_node LIKE ?", [f"%/{source}"]
        ).fetchall()
        assert len(rules) == 1, rules
        return str(rules[0][0]), result.new_spans

    con = duckdb.connect(str(path))
    try:
        assert rule_from(before) == (rule_before, len(fleet.spans))
        assert rule_from(after) == (rule_after, 0)
    finally:
        con.close()


def test_declared_edges_alone_do_not_reclassify(tmp_path: Path) -> None:
    """[[edges]] is for `seamscope drift`; classification never reads it."""
    plain = parse_landscape("", tmp_path / "a.toml")
    declared = parse_landscape('[[edges]]\nfrom = "a"\nto = "b"\n', tmp_path / "a.toml")
    assert declared.declared_edges and plain.fingerprint() == declared.fingerprint()


@pytest.mark.parametrize("cuts", [[50], [20, 40, 60, 80], [5, 10, 15, 30, 45, 60, 75, 90]])
def test_refreshing_the_moved_edges_only_leaves_what_refreshing_all_gives(
    tmp_path: Path, cuts: list[int], monkeypatch: pytest.MonkeyPatch
) -> None:
    """After a batch that leaves the edges as they were, only the edges of the groups it moved
    get new numbers (refresh_stats with the merge's moved groups): recomputing every edge
    changes nothing."""
    first, again = _fleet(by_instance=True), _fleet(by_instance=True)  # the same traffic twice
    derived: list[int] = []

    def counting_derive(*args: Any, **kwargs: Any) -> str:
        derived.append(1)
        return derive(*args, **kwargs)

    monkeypatch.setattr(engine, "derive", counting_derive)
    refreshed = 0
    with Store.open(tmp_path / "store.duckdb") as store:
        store.append(first.table(first.in_end_order()), batch_key="first", source="test")
        classify(store.con)
        spans = again.in_end_order()
        for i, batch in enumerate(_cuts(spans, [c * len(spans) // 100 for c in cuts])):
            store.append(again.table(batch), batch_key=f"b{i}", source="test")
            derived.clear()
            classify(store.con)
            before = store.con.execute("FROM edges ORDER BY edge_id").fetchall()
            refresh_stats(store.con)
            assert store.con.execute("FROM edges ORDER BY edge_id").fetchall() == before
            refreshed += not derived
    assert refreshed > 0


# --- A batch runs on the threads the database has, and leaves them as they were ----------


def _threads(con: duckdb.DuckDBPyConnection) -> int:
    row = con.execute("SELECT current_setting('threads')").fetchone()
    assert row is not None
    return int(row[0])


@pytest.mark.parametrize("fails", [False, True])
def test_a_batch_runs_on_the_threads_the_database_has(
    tmp_path: Path, monkeypatch: Any, fails: bool
) -> None:
    """No SET threads around a batch: stopping DuckDB's second thread after an append costs
    more wall time than one thread saves (docs/performance.md, Classification)."""
    fleet = _fleet(by_instance=False)
    spans = fleet.in_end_order()
    merging: list[int] = []
    real = engine._Merge.run

    def watched(merge: Any) -> int:
        merging.append(_threads(merge.con))
        if fails and len(merging) > 1:
            raise RuntimeError("merge failed")
        return int(real(merge))

    monkeypatch.setattr(engine._Merge, "run", watched)
    with Store.open(tmp_path / "s.duckdb") as store:
        store.con.execute("SET threads = 3")
        store.append(fleet.table(spans[:10]), batch_key="a", source="test")
        classify(store.con)  # the first classification reads every span
        store.append(fleet.table(spans[10:]), batch_key="b", source="test")
        if fails:
            with pytest.raises(RuntimeError):
                classify(store.con)
        else:
            classify(store.con)
        assert merging == [3, 3]
        assert _threads(store.con) == 3


def test_a_locked_configuration_classifies_on_the_threads_it_has(tmp_path: Path) -> None:
    fleet = _fleet(by_instance=False)
    spans = fleet.in_end_order()
    with Store.open(tmp_path / "s.duckdb") as store:
        store.con.execute("SET threads = 3")
        store.append(fleet.table(spans[:10]), batch_key="a", source="test")
        classify(store.con)
        store.con.execute("SET lock_configuration = true")
        store.append(fleet.table(spans[10:]), batch_key="b", source="test")
        assert classify(store.con).new_spans == len(spans) - 10
        assert _threads(store.con) == 3


def _graphql_fleet() -> Fleet:
    """Calls into a BFF that serves GraphQL at /query, the operation on the span its GraphQL
    instrumentation records under the request's handler (as Node's instrumentation-graphql
    does), not on the HTTP spans."""
    f = Fleet()
    for i, (client, op_type) in enumerate(((WEB, "query"), (BILLING, "query"), (WEB, "mutation"))):
        f.at(2.0 * i)
        call = f.http(client, "http://127.0.0.1:4000/query", method="POST")
        served = f.server(BFF, "/query", call.trace_id, call.span_id, method="POST", port=4000)
        handler = f.span(BFF, "request handler - /query", "INTERNAL", {}, parent=served)
        attrs = {"graphql.operation.type": op_type, "graphql.operation.name": f"Op{i}"}
        f.span(BFF, f"{op_type} Op{i}", "INTERNAL", attrs, parent=handler)
    return f


@settings(
    max_examples=8, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(seed=st.integers(min_value=0, max_value=2**32), parts=st.integers(min_value=2, max_value=6))
def test_an_operation_a_server_executed_in_any_order_equals_one_full_run(
    tmp_path_factory: Any, seed: int, parts: int
) -> None:
    # The operation's span is no classified span: stored before its trace's client and server
    # (an earlier batch), it is still found when they come.
    fleet = _graphql_fleet()
    spans = list(fleet.spans)
    random.Random(seed).shuffle(spans)
    size = -(-len(spans) // parts)
    path = tmp_path_factory.mktemp("graphql") / "store.duckdb"
    with Store.open(path) as store:
        for i in range(0, len(spans), size):
            store.append(fleet.table(spans[i : i + size]), batch_key=f"b{i}", source="test")
            classify(store.con)
        incremental = _snapshot(store.con)
        classify(store.con, full=True)
        assert _snapshot(store.con) == incremental
        rules = store.con.execute(
            "SELECT from_node, mechanism, rule_id, operations FROM edges ORDER BY ALL"
        ).fetchall()
    assert rules == [
        ("component:billing/billing-api", "graphql", "A102", ["query Op1"]),
        ("component:shortlist/shortlist-web", "graphql", "P101", ["mutation Op2", "query Op0"]),
    ]


# --- The edges' percentiles move with a batch's own buckets -------------------------------


def _placed(con: duckdb.DuckDBPyConnection) -> list[Any]:
    """classifier_edge_pct as derive makes it from every edge's histogram."""
    return con.execute(
        f"SELECT * FROM ({_positions_sql('classifier_group_edges')}) ORDER BY edge_id"
    ).fetchall()


@settings(
    max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    calls=st.lists(
        st.tuples(st.sampled_from(["PutItem", "UpdateItem"]), st.integers(0, 12)),
        min_size=2,
        max_size=40,
    ),
    cuts=st.lists(st.integers(min_value=0, max_value=40), max_size=8),
)
def test_an_edges_percentiles_moved_batch_by_batch_equal_those_of_its_whole_histogram(
    tmp_path_factory: Any, calls: list[tuple[str, int]], cuts: list[int]
) -> None:
    """Calls of one edge (two groups: two operations on one table) whose latencies move its
    p50 and p95 up, down and onto ties (a cumulative count of exactly half): after every batch
    the stored positions are those of the edge's whole histogram, and the edge's p50 and p95
    those a full run gives."""
    f = Fleet()
    api = Service("api", "orders", "backend")
    for i, (op, step) in enumerate(calls):
        f.at(1.0 * i)
        span = f.dynamodb(api, op, "Orders")
        span.end_ns = span.start_ns + int(1_000_000 * 1.1 ** (3 * step))  # 3 buckets a step
    path = tmp_path_factory.mktemp("pct") / "store.duckdb"
    latency = "SELECT edge_id, span_count, p50_ms, p95_ms FROM edges ORDER BY edge_id"
    with Store.open(path) as store:
        for i, batch in enumerate(_cuts(f.spans, cuts)):
            store.append(f.table(batch), batch_key=f"b{i}", source="test")
            classify(store.con)
            assert store.con.execute(
                "SELECT * FROM classifier_edge_pct ORDER BY edge_id"
            ).fetchall() == _placed(store.con)
        incremental = store.con.execute(latency).fetchall()
        classify(store.con, full=True)
        assert store.con.execute(latency).fetchall() == incremental
    assert len(incremental) == 1 and incremental[0][1] == len(calls)


def test_a_batch_moves_the_percentiles_in_place_or_places_them_again(tmp_path: Path) -> None:
    """Both ways a batch moves an edge's percentiles: within their buckets (the stored counts
    moved by the batch's) and out of them (the edge's histogram read again)."""
    f = Fleet()
    api = Service("api", "orders", "backend")
    batches: list[list[Span]] = []
    for ms_list in ([1, 1, 10, 10, 100], [1, 10], [100, 100, 100, 100, 100, 100]):
        batch = []
        for ms in ms_list:
            f.tick(1000.0)
            span = f.dynamodb(api, "PutItem", "Orders")
            span.end_ns = span.start_ns + ms * 1_000_000
            batch.append(span)
        batches.append(batch)
    positions = "SELECT * EXCLUDE (edge_id) FROM classifier_edge_pct"
    seen = []
    with Store.open(tmp_path / "store.duckdb") as store:
        for i, batch in enumerate(batches):
            store.append(f.table(batch), batch_key=f"b{i}", source="test")
            classify(store.con)
            seen.append(store.con.execute(positions).fetchall())
            assert seen[-1] == [row[1:] for row in _placed(store.con)]
    b10, b100 = (int(math.floor(math.log(ms) / math.log(1.1))) for ms in (10, 100))
    assert seen == [
        # tot, then p50's bucket and the counts below and in it, then p95's
        [(5, b10, 2, 2, b100, 4, 1)],  # 1 1 | 10 10 | 100 ms
        [(7, b10, 3, 3, b100, 6, 1)],  # a 1 and a 10: the p50 stays, its counts move
        [(13, b100, 6, 7, b100, 6, 7)],  # six 100s: the p50 leaves its bucket
    ]


def test_a_store_of_the_classifier_before_is_made_again_with_its_percentiles(
    tmp_path: Path,
) -> None:
    """A store classified by the classifier before (version 12: no classifier_edge_pct) is
    classified again in full when opened, its percentiles placed, and its edges and labels
    are a full run's; its next batches move them as usual."""
    fleet = _fleet(by_instance=True)
    spans = fleet.in_end_order()
    half = len(spans) // 2
    with Store.open(tmp_path / "store.duckdb") as store:
        store.append(fleet.table(spans[:half]), batch_key="first", source="test")
        classify(store.con)
        # As the classifier before left it: no positions, its version, p50s of its own.
        store.con.execute("DROP TABLE classifier_edge_pct")
        store.con.execute("UPDATE classifier_state SET value = '12' WHERE key = 'version'")
        store.con.execute("UPDATE edges SET p50_ms = -1, p95_ms = -1")
        store.append(fleet.table(spans[half:]), batch_key="second", source="test")
        result = classify(store.con)
        assert result.full
        state = dict(store.con.execute("SELECT key, value FROM classifier_state").fetchall())
        assert state["version"] == engine.CLASSIFIER_VERSION
        assert store.con.execute(
            "SELECT * FROM classifier_edge_pct ORDER BY edge_id"
        ).fetchall() == _placed(store.con)
        assert not store.con.execute("SELECT 1 FROM edges WHERE p50_ms < 0").fetchall()
        reopened = _snapshot(store.con)
        classify(store.con, full=True)
        assert _snapshot(store.con) == reopened


def test_a_jobs_runs_gathered_give_their_distinct_start_times_count_last_and_squared_gaps() -> None:
    """classifier_jobs from the runs alone (gather_jobs): each job's distinct start times
    counted, the last in microseconds, the squared gaps between them summed exactly (gaps of
    days square past 64 bits), runs that listen left out, the tables scanned sorted."""
    con = duckdb.connect()
    engine.ensure_classifier_tables(con)
    day_us = 86_400 * 1_000_000
    runs = [  # job, start (us), scans, listens
        ("copy", 0, ["B"], False),
        ("copy", 0, ["A"], False),  # the same start: one start time
        ("copy", 3 * day_us, None, False),
        ("copy", 10 * day_us, ["A"], False),
        ("copy", 11 * day_us, ["C"], True),  # it listens: no run of the job
        ("once", 5, ["D"], False),
    ]
    for i, (name, us, scans, listens) in enumerate(runs):
        con.execute(
            "INSERT INTO classifier_runs VALUES (?, 'r', ?, 'job', 'ns', 'i', ?, "
            "make_timestamp(?::BIGINT), ?, NULL, ?)",
            [f"t{i}", i, name, us, scans, listens],
        )
    engine.gather_jobs(con)
    rows = con.execute(
        "SELECT name, epoch_us(first_run), last_us, runs, gap_sq, scanned FROM classifier_jobs "
        "ORDER BY name"
    ).fetchall()
    assert rows == [
        ("copy", 0, 10 * day_us, 3, (3 * day_us) ** 2 + (7 * day_us) ** 2, ["A", "B"]),
        ("once", 5, 5, 1, 0, ["D"]),
    ]
    assert (7 * day_us) ** 2 > 2**63
