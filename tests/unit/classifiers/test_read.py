"""The read API over a real store file: filters, ordering, detail, traces, watermarks."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pyarrow as pa
import pytest

from seamscope.classifiers import read
from seamscope.classifiers.engine import classify
from seamscope.classifiers.read import Filters
from seamscope.classifiers.results import Edge, Verdict
from seamscope.tracer.access import Params, Query, Reader, open_reader
from seamscope.tracer.rows import SpanBatchBuilder
from seamscope.tracer.store import Store
from tests.functional.sample import EDGES, build_spans, build_store


@pytest.fixture
def sample(tmp_path: Path) -> Path:
    return build_store(tmp_path / "s.duckdb", manual=True)


@pytest.fixture
def reader(sample: Path) -> Reader:
    return open_reader(sample)


def test_overview_lists_system_and_external_edges_worst_first(reader: Reader) -> None:
    view = reader.run(lambda q: read.overview(q, Filters()))
    assert view.status == "ok"
    assert set(view.systems) == {"shop", "orders", "users", "search", "billing"}
    expected = [e for e in EDGES if e.level in ("system", "external")]
    assert len(view.edges) == len(expected)
    ranks = [e.verdict.rank for e in view.edges]
    assert ranks == sorted(ranks)


def test_components_of_no_known_system_are_a_group_of_their_own(tmp_path: Path) -> None:
    # A fleet without service.namespace showed "0 systems" and nothing to open: its components
    # are now the group "?" (read.UNPLACED), which the landscape lists and opens like a system.
    # A resource of no known owner and a vendor are no part of it.
    from tests.unit.classifiers.fleet import Fleet, Service

    f = Fleet()
    web, api = Service("web", None, "webapp"), Service("api", None, "backend")
    f.http(web, "http://127.0.0.1:5001/items", server=api, route="/items")
    f.dynamodb(api, "GetItem", "Items")
    f.http(api, "https://api.mailchimp.com/3.0/lists")
    f.dynamodb(Service("orders-api", "orders", "backend"), "PutItem", "Orders")
    path = f.store(tmp_path / "s.duckdb")
    with Store.open(path) as store:
        classify(store.con)
    reader = open_reader(path)
    view = reader.run(lambda q: read.overview(q, Filters()))
    assert set(view.systems) == {read.UNPLACED, "orders"}
    assert view.components_per_system[read.UNPLACED] == 2
    vendor = [e for e in view.edges if e.level == "external"]
    assert [(e.from_system, e.to_system) for e in vendor] == [(read.UNPLACED, None)]
    group = reader.run(lambda q: read.system_view(q, read.UNPLACED, Filters()))
    components = {n.name for n in group.nodes if n.system == read.UNPLACED}
    assert components == {"web", "api"}
    edges = {(e.from_node, e.to_node, e.verdict) for e in group.edges}
    assert (
        "component:?/web",
        "component:?/api",
        Verdict.UNRESOLVED,
    ) in edges
    assert ("component:?/api", "dynamodb:table/Items", Verdict.UNRESOLVED) in edges
    filtered = reader.run(lambda q: read.all_edges(q, Filters(system=read.UNPLACED)))
    assert {(e.from_node, e.to_node, e.verdict) for e in filtered} == edges
    orders = reader.run(lambda q: read.system_view(q, "orders", Filters()))
    assert {n.name for n in orders.nodes if n.node_type == "component"} == {"orders-api"}


def test_a_stream_of_a_table_of_no_known_owner_counts_inside_its_readers_system(
    tmp_path: Path,
) -> None:
    # Items is written by a component of no known system, so it has no owner, and search's
    # indexer reads its stream. The edge starts at the table (no system): the landscape listed
    # search with 0 edges and its matrix cell empty, though search integrates with Items.
    from tests.unit.classifiers.fleet import Fleet, Service

    f = Fleet()
    f.dynamodb(Service("writer", None, "backend"), "PutItem", "Items")
    f.stream_read(Service("indexer", "search", "worker"), "Items")
    path = f.store(tmp_path / "s.duckdb")
    with Store.open(path) as store:
        classify(store.con)
    reader = open_reader(path)
    view = reader.run(lambda q: read.overview(q, Filters()))
    inside = {(t.system, t.rule_id, t.edges) for t in view.internal}
    assert ("search", "unclassified", 1) in inside, inside
    edges = reader.run(lambda q: read.pair_edges(q, "system:search", "system:search", Filters()))
    assert [(e.from_node, e.to_node, e.level) for e in edges] == [
        ("dynamodb:table/Items", "component:search/indexer", "unknown")
    ]


def test_an_edge_between_the_group_of_no_known_system_and_a_system_crosses_them(
    tmp_path: Path,
) -> None:
    # A fleet where some services set no service.namespace: their edges to a system have an
    # unknown level. They were level `component`, so the landscape counted a call from the
    # group "?" into orders as inside no system and a call from shop into "?" as inside shop
    # (the matrix's diagonal), and the matrix's row and column "?" stayed empty.
    from tests.unit.classifiers.fleet import partly_placed

    path = partly_placed().store(tmp_path / "s.duckdb")
    with Store.open(path) as store:
        classify(store.con)
    reader = open_reader(path)
    view = reader.run(lambda q: read.overview(q, Filters()))
    crossing = {(e.from_system, e.to_system, e.level) for e in view.edges}
    assert crossing == {
        (read.UNPLACED, "orders", "unknown"),
        ("shop", read.UNPLACED, "unknown"),
    }
    # Two components of no known system: inside the group, as the group shows them.
    assert {(t.system, t.rule_id) for t in view.internal} == {(read.UNPLACED, "unresolved")}

    def pair(a: str, b: str) -> set[tuple[str, str]]:
        edges = reader.run(lambda q: read.pair_edges(q, f"system:{a}", f"system:{b}", Filters()))
        return {(e.from_node, e.to_node) for e in edges}

    assert pair(read.UNPLACED, "orders") == {("component:?/web", "component:orders/orders-api")}
    assert pair("shop", read.UNPLACED) == {("component:shop/shop-web", "component:?/web")}
    assert pair("shop", "shop") == set()
    assert pair(read.UNPLACED, read.UNPLACED) == {("component:?/web", "component:?/stock")}


@pytest.mark.parametrize(
    ("filters", "rules"),
    [
        (Filters(verdict="pattern"), {"P102", "P201", "P302"}),
        (Filters(mechanism="rest"), {"P102", "A101"}),
        (Filters(system="billing"), {"A102"}),
        (Filters(rule="A301"), {"A301"}),
        (Filters(component="users-api"), {"A101", "P201", "P302"}),
        (Filters(search="auth0"), {"P302"}),
        (Filters(search="AUTH0"), {"P302"}),
    ],
)
def test_filters(reader: Reader, filters: Filters, rules: set[str]) -> None:
    view = reader.run(lambda q: read.overview(q, filters))
    assert {e.rule_id for e in view.edges} == rules


def test_time_window_counts_back_from_the_newest_edge(reader: Reader) -> None:
    everything = reader.run(lambda q: read.all_edges(q, Filters()))
    newest = max(e.last_seen for e in everything if e.last_seen)
    recent = reader.run(lambda q: read.all_edges(q, Filters(window_minutes=1)))
    assert recent and len(recent) < len(everything)
    assert all(e.last_seen and (newest - e.last_seen).total_seconds() <= 60 for e in recent)


def test_findings_worst_first(reader: Reader) -> None:
    found = reader.run(lambda q: read.findings(q, Filters()))
    assert [e.verdict for e in found][-1] == "smell"
    assert found[0].rule_id == "A101"  # the anti-pattern with errors leads
    assert {e.rule_id for e in found} == {
        e.rule for e in EDGES if e.verdict in ("anti-pattern", "smell")
    }


def test_edge_detail_and_trace(reader: Reader) -> None:
    a202 = next(e for e in reader.run(lambda q: read.all_edges(q, Filters(rule="A202"))))
    detail = reader.run(lambda q: read.edge_detail(q, a202.edge_id))
    assert detail is not None and detail.rule is not None
    kinds = {s.kind for s in detail.spans}
    assert kinds == {"PRODUCER", "CONSUMER"}
    producer = next(s for s in detail.spans if s.kind == "PRODUCER")
    trace = reader.run(lambda q: read.trace_view(q, producer.trace_id))
    assert any(s.edge_id == a202.edge_id for s in trace.spans)
    assert trace.hops and all(h.trace_id != producer.trace_id for h in trace.hops)
    attrs = reader.run(lambda q: read.span_attributes(q, producer.trace_id, producer.span_id))
    assert attrs["resource"]["service.name"] == "orders-api"
    assert reader.run(lambda q: read.edge_detail(q, "no-such-edge")) is None


def test_status_of_empty_and_unclassified_stores(tmp_path: Path) -> None:
    empty = tmp_path / "empty.duckdb"
    Store.open(empty).close()
    view = open_reader(empty).run(lambda q: read.overview(q, Filters()))
    assert (view.status, view.span_count, view.edges) == ("empty", 0, ())

    unclassified = tmp_path / "unclassified.duckdb"
    builder = SpanBatchBuilder()
    build_spans(builder)
    with Store.open(unclassified) as store:
        spans = store.append(builder.build(), batch_key="spans", source="tests")
    view = open_reader(unclassified).run(lambda q: read.overview(q, Filters()))
    assert spans > 0
    assert (view.status, view.span_count, view.edges) == ("unclassified", spans, ())


def test_watermark_moves_when_edges_change(sample: Path, reader: Reader) -> None:
    before = reader.run(read.watermark)
    assert reader.run(read.watermark) == before
    import duckdb

    con = duckdb.connect(str(sample))
    con.execute("UPDATE edges SET span_count = span_count + 1 WHERE rule_id = 'P102'")
    con.close()
    counted = reader.run(read.watermark)
    assert counted != before
    con = duckdb.connect(str(sample))
    con.execute("UPDATE edges SET verdict = 'smell', rule_id = 'A303' WHERE rule_id = 'P102'")
    con.close()
    assert reader.run(read.watermark) != counted


def test_overview_is_two_statements_and_the_same_as_each_query_alone(tmp_path: Path) -> None:
    """Through a live owner every statement is a round trip that waits its turn for the owner's
    interpreter while it receives, so the landscape reads everything, the label changes too, in
    two statements (three with a time window); and gets what the separate queries give."""
    from datetime import datetime

    from seamscope.classifiers.engine import classify
    from seamscope.classifiers.landscape import parse_landscape
    from seamscope.classifiers.results import Edge
    from seamscope.tracer.store import short_lock

    path = build_store(tmp_path / "c.duckdb", manual=False)
    since = datetime(2000, 1, 1)
    relabel = '[owners.tables]\nUsers = "orders"\n\n[vendors.auth0]\nhosts = ["*.auth0.com"]\n'
    with short_lock(path) as store:  # label changes to read
        classify(store.con, parse_landscape(relabel, Path("relabel.toml")))
    reader = open_reader(path)

    def counted(
        filters: Filters, tables: frozenset[str] | None = None
    ) -> tuple[read.Overview, list[str]]:
        statements: list[str] = []

        def work(q: Query) -> read.Overview:
            def counting(sql: str, params: Params) -> pa.Table:
                statements.append(sql)
                return q(sql, params)

            return read.overview(counting, filters, since, tables)

        return reader.run(work), statements

    view, statements = counted(Filters())
    assert len(statements) == 2
    assert len(counted(Filters(window_minutes=5))[1]) == 3
    again, statements = counted(Filters(), view.tables)  # the tables known: one statement
    assert len(statements) == 1 and again == view
    changes = reader.run(lambda q: read.changes_since(q, since))
    assert view.changed and view.changed == {e: c.old_rule_id for e, c in changes.items()}
    assert any(old is not None for old in view.changed.values())  # a rule flipped
    assert view.mark == reader.run(read.classifier_mark)
    alone = reader.run(
        lambda q: q(
            f"SELECT * FROM edges WHERE level IN ('system', 'external') "
            f"ORDER BY {read._VERDICT_ORDER}, from_system, to_system, mechanism, from_node, "
            "to_node",
            None,
        ).to_pylist()
    )
    assert list(view.edges) == [Edge.from_row(r) for r in alone] and alone
    counts = reader.run(
        lambda q: q("SELECT verdict, count(*) AS n FROM edges GROUP BY ALL", None).to_pylist()
    )
    assert {v.value: n for v, n in view.verdicts.items() if n} == {
        r["verdict"]: r["n"] for r in counts
    }
    assert (
        view.now
        == reader.run(lambda q: q("SELECT max(last_seen) FROM edges", None)).column(0)[0].as_py()
    )
    systems = reader.run(
        lambda q: q(
            "SELECT DISTINCT system FROM nodes WHERE system IS NOT NULL "
            "AND node_type <> 'external' ORDER BY 1",
            None,
        ).column(0)
    ).to_pylist()
    assert list(view.systems) == systems
    internal = reader.run(
        lambda q: q(
            # Inside a system: between its components, and to or from a resource of no known
            # owner (level unknown: counted inside the system of its component).
            "SELECT coalesce(from_system, to_system) AS home, rule_id, verdict, count(*) AS n "
            "FROM edges WHERE level IN ('component', 'unknown') "
            "AND coalesce(from_system, to_system) IS NOT NULL GROUP BY ALL ORDER BY ALL",
            None,
        ).to_pylist()
    )
    assert [(t.system, t.rule_id, t.verdict.value, t.edges) for t in view.internal] == [
        (r["home"], r["rule_id"], r["verdict"], r["n"]) for r in internal
    ]


def test_overview_and_watermark_with_known_tables_still_see_them_gone(tmp_path: Path) -> None:
    """Told the classifier's tables were there, the overview and the watermark take one
    statement; should they be gone since, they say so as without being told."""
    path = build_store(tmp_path / "c.duckdb", manual=False)
    reader = open_reader(path)
    view = reader.run(lambda q: read.overview(q, Filters()))
    assert reader.run(lambda q: read.watermark(q, True)) == reader.run(read.watermark)
    builder = SpanBatchBuilder()
    build_spans(builder)
    bare = tmp_path / "bare.duckdb"
    with Store.open(bare) as store:
        store.append(builder.build(), batch_key="b", source="tests")
    unclassified = open_reader(bare)
    told = unclassified.run(lambda q: read.overview(q, Filters(), None, view.tables))
    assert told == unclassified.run(lambda q: read.overview(q, Filters()))
    assert told.status == "unclassified"
    spans = unclassified.run(lambda q: q("SELECT count(*) FROM spans", None)).column(0)[0]
    assert unclassified.run(lambda q: read.watermark(q, True)) == (1, None, spans.as_py())


def test_the_watermark_tells_new_spans_from_a_classifier_run(tmp_path: Path) -> None:
    """Spans stored since, the classifier not run: only the batch and the span count move, so a
    screen may show the new count without reading the classifier's tables again. Once the
    classifier has run (or its landscape changed), the classified part moves too."""
    path = build_store(tmp_path / "c.duckdb", manual=False)
    reader = open_reader(path)
    first = reader.run(lambda q: read.watermark(q, True))
    assert first.classified is not None
    assert (
        read.finding_count(first)
        == reader.run(lambda q: q("SELECT count(*) FROM findings", None)).column(0)[0].as_py()
    )
    builder = SpanBatchBuilder()
    build_spans(builder)
    table = builder.build()
    with Store.open(path) as store:
        store.append(table, batch_key=None, source="tests")
    later = reader.run(lambda q: read.watermark(q, True))
    assert later.batch > first.batch and later.spans == first.spans + table.num_rows
    assert read.only_spans_moved(first, later)
    assert reader.run(read.watermark) == later  # both statements say the same
    with Store.open(path) as store:
        classify(store.con)
    classified = reader.run(lambda q: read.watermark(q, True))
    assert classified.spans == later.spans
    assert not read.only_spans_moved(later, classified)
    # The classifier's state alone (another landscape, the same edges) is a change too.
    with Store.open(path) as store:
        store.con.execute("UPDATE classifier_state SET value = 'x' WHERE key = 'landscape'")
    assert not read.only_spans_moved(classified, reader.run(lambda q: read.watermark(q, True)))
    assert not read.only_spans_moved(None, classified)
    unclassified = read.Watermark(1, None, 3)
    assert not read.only_spans_moved(unclassified, read.Watermark(2, None, 5))


def _edge(edge_id: str, verdict: str = "pattern", src: str | None = "a", **kw: object) -> Edge:
    values: dict[str, object] = {
        "edge_id": edge_id, "from_node": f"component:{src}/x", "to_node": f"n-{edge_id}",
        "from_system": src, "to_system": None, "mechanism": "rest", "direction": "call",
        "via": None, "level": "external", "rule_id": "P101", "verdict": Verdict(verdict),
        "reason": None, "operations": (), "span_count": 1, "error_count": 0, "p50_ms": None,
        "p95_ms": None, "first_seen": None, "last_seen": None, "sample_trace_id": None,
        "evidence": "trace",
    }  # fmt: skip
    values.update(kw)
    return Edge(**values)  # type: ignore[arg-type]


def test_merge_puts_changed_edges_in_place_and_keeps_the_others_as_they_were() -> None:
    shown = tuple(
        sorted(
            [
                _edge("1", "anti-pattern"),
                _edge("2", src="b"),
                _edge("3", src=None),
                _edge("4", "smell", src="c"),
                _edge("5", src="c"),
            ],
            key=read.edge_order,
        )
    )
    assert read.merge_edges(shown, [], []) is shown
    changed = [
        _edge("5", "anti-pattern", src="c", span_count=9),  # worse now: moves up
        _edge("6", "smell", src="a"),  # new
        _edge("7", src="z"),  # new, NULL-free, after b
    ]
    merged = read.merge_edges(shown, changed, ["2", "gone-before"])
    expected = sorted(
        [e for e in shown if e.edge_id not in ("2", "5")] + changed, key=read.edge_order
    )
    assert merged == tuple(expected)
    assert [e.edge_id for e in merged] == ["1", "5", "6", "4", "7", "3"]  # NULL systems last
    unchanged = {e.edge_id: e for e in shown if e.edge_id in ("1", "3", "4")}
    assert all(e is unchanged[e.edge_id] for e in merged if e.edge_id in unchanged)
    assert read.merge_edges(shown, [], ["1"]) == shown[1:]


def test_merge_puts_new_figures_where_their_edge_was() -> None:
    """A changed edge whose place in the order stays (new figures, the same verdict and ends)
    replaces its record where it was; with one that moves, both land where a sort puts them."""
    shown = tuple(
        sorted(
            [_edge("1", "anti-pattern"), _edge("2", src="b"), _edge("3", src="c")],
            key=read.edge_order,
        )
    )
    counted = _edge("2", src="b", span_count=40, error_count=3)
    merged = read.merge_edges(shown, [counted], [])
    assert [e.edge_id for e in merged] == ["1", "2", "3"]
    assert merged[1] is counted and merged[0] is shown[0] and merged[2] is shown[2]
    worse = _edge("3", "anti-pattern", src="c")
    both = read.merge_edges(shown, [counted, worse], [])
    assert both == tuple(sorted([shown[0], counted, worse], key=read.edge_order))
    assert [e.edge_id for e in both] == ["1", "3", "2"]


def _same(merged: read.Overview, full: read.Overview) -> None:
    """A merged overview shows what reading everything shows."""
    assert replace(merged, edges_read=0) == replace(full, edges_read=0)


@pytest.mark.parametrize(
    "filters", [Filters(), Filters(verdict="pattern"), Filters(system="orders")]
)
def test_overview_given_the_one_before_reads_only_the_changed_edges(
    tmp_path: Path, filters: Filters
) -> None:
    """Batch after batch, and through a landscape that takes edges away and relabels others, an
    overview given the one before reads one statement and only the edges stamped since, and
    is what reading everything gives."""
    from datetime import datetime

    from seamscope.classifiers.engine import classify
    from seamscope.classifiers.landscape import parse_landscape
    from tests.unit.classifiers.test_incremental import _fleet

    fleet = _fleet(by_instance=True)
    spans = fleet.in_end_order()
    since = datetime(2000, 1, 1)
    path = tmp_path / "s.duckdb"
    size = -(-len(spans) // 5)
    known: read.Overview | None = None
    merges = 0

    def step(landscape: str | None = None) -> None:
        nonlocal known, merges
        reader = open_reader(path)
        statements: list[str] = []

        def counting(q: Query) -> Query:
            def run(sql: str, params: Params) -> pa.Table:
                statements.append(sql)
                return q(sql, params)

            return run

        merged = reader.run(lambda q: read.overview(counting(q), filters, since, known=known))
        full = reader.run(lambda q: read.overview(q, filters, since))
        _same(merged, full)
        if known is not None and known.status == "ok":
            assert len(statements) == 1
            assert merged.edges_read < len(merged.edges) or not merged.edges
            merges += 1
        known = merged

    with Store.open(path) as store:
        store.append(fleet.table(spans[:size]), batch_key="b0", source="test")
        classify(store.con)
    step()
    for i in range(size, len(spans), size):
        with Store.open(path) as store:
            store.append(fleet.table(spans[i : i + size]), batch_key=f"b{i}", source="test")
            classify(store.con)
        step()
    assert known is not None
    before = {e.edge_id for e in known.edges}
    with Store.open(path) as store:  # the job's call to algolia.net becomes the vendor's
        vendor = '[vendors.algolia]\nhosts = ["*.algolia.net"]\n'
        classify(store.con, parse_landscape(vendor, tmp_path / "l.toml"))
    step()
    if not filters.verdict and not filters.system:
        assert before - {e.edge_id for e in known.edges}  # one went, in the merge too
    assert merges >= 4


def test_overview_reads_everything_when_the_revisions_started_again(tmp_path: Path) -> None:
    """A rebuild that loses the tombstones, or revisions that went back, read everything."""
    import duckdb

    path = build_store(tmp_path / "c.duckdb", manual=False)
    reader = open_reader(path)
    view = reader.run(lambda q: read.overview(q, Filters()))
    assert view.revision
    con = duckdb.connect(str(path))
    gone = view.edges[0].edge_id
    con.execute("DELETE FROM edges WHERE edge_id = ?", [gone])  # no tombstone
    con.close()
    merged = reader.run(lambda q: read.overview(q, Filters(), known=view))
    assert gone not in {e.edge_id for e in merged.edges}
    _same(merged, reader.run(lambda q: read.overview(q, Filters())))
    con = duckdb.connect(str(path))
    con.execute("DELETE FROM classifier_edge_revisions")
    con.execute("INSERT INTO classifier_edge_revisions SELECT edge_id, 0, 0 FROM edges LIMIT 1")
    con.close()
    again = reader.run(lambda q: read.overview(q, Filters(), known=merged))
    assert again.revision == 0 and again.edges == merged.edges
    assert again.edges_read == len(again.edges)  # read in full


def test_resources_of_no_known_owner_are_a_group_of_their_own(tmp_path: Path) -> None:
    # A resource no known system owns has no system, so the landscape listed it in none: it
    # was found only inside the views of the systems whose components touch it, and one that
    # only a vendor's traced stand-in writes was in no view at all. unowned_view() gathers
    # them all with their edges, and the overview counts them; an owned resource is no part.
    from seamscope.classifiers.landscape import parse_landscape
    from tests.unit.classifiers.fleet import Fleet, Service

    f = Fleet()
    alpha, beta = Service("a-api", "alpha", "backend"), Service("b-api", "beta", "backend")
    f.dynamodb(alpha, "PutItem", "Shared")
    f.dynamodb(beta, "PutItem", "Shared")
    f.dynamodb(alpha, "PutItem", "Mine")
    f.dynamodb(Service("algolia-sync", None), "PutItem", "Index")
    path = f.store(tmp_path / "s.duckdb")
    land = parse_landscape(
        '[vendors.algolia]\ncomponents = ["algolia-sync"]\n', tmp_path / "seamscope.toml"
    )
    with Store.open(path) as store:
        classify(store.con, land)
    reader = open_reader(path)
    view = reader.run(lambda q: read.overview(q, Filters()))
    assert view.unowned == 2

    def shown_in(system: str) -> set[str]:
        return {
            n.node_id for n in reader.run(lambda q: read.system_view(q, system, Filters())).nodes
        }

    seen = set().union(*(shown_in(system) for system in view.systems))
    assert "dynamodb:table/Index" not in seen
    group = reader.run(lambda q: read.unowned_view(q, Filters()))
    resources = {n.node_id: n for n in group.nodes if n.node_type == "resource"}
    assert set(resources) == {"dynamodb:table/Shared", "dynamodb:table/Index"}
    assert all(n.system is None and n.inference for n in resources.values())
    assert "[owners.tables]" in (resources["dynamodb:table/Index"].inference or "")
    assert {(e.from_node, e.to_node) for e in group.edges} == {
        ("component:alpha/a-api", "dynamodb:table/Shared"),
        ("component:beta/b-api", "dynamodb:table/Shared"),
        ("external:algolia", "dynamodb:table/Index"),
    }
    # The ends that are no resource of no known owner come with it, as a system view's do.
    assert {"component:alpha/a-api", "external:algolia"} <= {n.node_id for n in group.nodes}


_PLACED = """
[systems.orders]
components = ["orders-api", "orders-worker"]
"""


@pytest.mark.parametrize("namespace", [None, "?"])
def test_the_trace_view_tells_the_side_of_a_component_the_landscape_places(
    tmp_path: Path, namespace: str | None
) -> None:
    """orders-api sets no service.namespace (or '?', taken as none); the landscape file places
    it in orders, so its node is component:orders/orders-api. Its send is the producer's side
    of its edge to orders-worker, and the worker's receive, in a trace of its own, the other
    side the trace screen offers."""
    from seamscope.classifiers.landscape import parse_landscape
    from tests.unit.classifiers.fleet import Fleet, Service

    f = Fleet()
    api = Service("orders-api", namespace, "backend")
    send = f.send(api, "orders-q")
    receive = f.receive(Service("orders-worker", "orders", "worker"), "orders-q")
    path = f.store(tmp_path / "s.duckdb")
    with Store.open(path) as store:
        classify(store.con, parse_landscape(_PLACED, tmp_path / "seamscope.toml"))
    reader = open_reader(path)
    (edge,) = reader.run(lambda q: read.all_edges(q, Filters()))
    assert (edge.from_node, edge.to_node, edge.rule_id) == (
        "component:orders/orders-api",
        "component:orders/orders-worker",
        "P402",
    )
    trace = reader.run(lambda q: read.trace_view(q, send.trace_id))
    assert [(s.span_id, s.side) for s in trace.spans if s.edge_id] == [(send.span_id, "producer")]
    assert [(h.span_id, h.side) for h in trace.hops] == [(receive.span_id, "consumer")]
    other = reader.run(lambda q: read.trace_view(q, receive.trace_id))
    assert [(s.span_id, s.side) for s in other.spans if s.edge_id] == [
        (receive.span_id, "consumer")
    ]
    assert [(h.span_id, h.side) for h in other.hops] == [(send.span_id, "producer")]


def test_the_trace_view_tells_the_sides_of_a_component_sending_to_itself(
    tmp_path: Path,
) -> None:
    """A worker that sends to a queue it reads itself: both ends of the edge are its node, and
    its send is still the producer's side, its receive the consumer's."""
    from tests.unit.classifiers.fleet import Fleet, Service

    f = Fleet()
    worker = Service("orders-worker", "orders", "worker")
    send = f.send(worker, "retry-q")
    receive = f.receive(worker, "retry-q")
    path = f.store(tmp_path / "s.duckdb")
    with Store.open(path) as store:
        classify(store.con)
    reader = open_reader(path)
    trace = reader.run(lambda q: read.trace_view(q, send.trace_id))
    assert [(s.span_id, s.side) for s in trace.spans if s.edge_id] == [(send.span_id, "producer")]
    assert [(h.span_id, h.side) for h in trace.hops] == [(receive.span_id, "consumer")]
