"""The edge and trace screens' reads over classifier_labelled_spans: the same rows as
span_labels joined to spans, the other side of a hop nearest in time, and stores labelled before
the view existed."""

from __future__ import annotations

import shutil
from datetime import UTC, datetime, timedelta
from functools import partial
from pathlib import Path
from typing import Any

import duckdb
import pytest

from benchmarks.generate import generate_store, landscape_path
from seamscope.classifiers import read
from seamscope.classifiers.engine import JOINS, classify
from seamscope.classifiers.landscape import load_landscape
from seamscope.classifiers.schema import span_labels_views
from seamscope.tracer.access import Params, open_reader

# span_labels as it was defined before classifier_labelled_spans (and the join that the reads
# made of it): a store labelled by an older release has this and no labelled view.
_OLD_SPAN_LABELS = """CREATE OR REPLACE VIEW span_labels AS
    SELECT sp.trace_id, sp.span_id, e.edge_id, e.rule_id, e.verdict
    FROM classifier_spans AS s
    JOIN (SELECT trace_id, span_id, batch_id,
            coalesce(trace_key, hash(trace_id)) AS tk,
            coalesce(span_key, hash(trace_id, span_id)) AS sk FROM spans) AS sp
      ON sp.batch_id = s.batch_id AND sp.tk = s.tk AND sp.sk = s.sk
    JOIN classifier_group_edges AS m ON m.gkey = s.gkey
    JOIN edges AS e ON e.edge_id = m.edge_id"""
_COLUMNS = (
    "trace_id, span_id, parent_span_id, name, kind, start_time, duration_ns, edge_id, rule_id"
)


@pytest.fixture(scope="module")
def store(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A generated store of 20k spans over 10 systems, labelled: listening edges with about a
    hundred traces each, over four minutes."""
    path = tmp_path_factory.mktemp("labelled") / "g.duckdb"
    generate_store(path, 20_000, systems=10)
    con = duckdb.connect(str(path))
    try:
        classify(con, load_landscape(landscape_path(path)))
    finally:
        con.close()
    return path


def _sql(path: Path, sql: str, params: Params = None) -> list[tuple[Any, ...]]:
    con = duckdb.connect(str(path), read_only=True)
    try:
        return con.execute(sql, list(params) if params else []).fetchall()
    finally:
        con.close()


def test_the_view_is_span_labels_joined_to_spans(store: Path) -> None:
    joined = (
        f"SELECT {', '.join('s.' + c for c in _COLUMNS.split(', ')[:7])}, l.edge_id, l.rule_id "
        "FROM span_labels l JOIN spans s USING (trace_id, span_id)"
    )
    view = f"SELECT {_COLUMNS} FROM classifier_labelled_spans"
    assert _sql(store, f"SELECT count(*) FROM ({view})")[0][0] > 5_000
    assert _sql(store, f"{view} EXCEPT ALL {joined}") == []
    assert _sql(store, f"{joined} EXCEPT ALL {view}") == []


def _trace(path: Path, trace_id: str) -> read.TraceView:
    return open_reader(path).run(partial(read.trace_view, trace_id=trace_id))


def _detail(path: Path, edge_id: str) -> read.EdgeDetail | None:
    return open_reader(path).run(partial(read.edge_detail, edge_id=edge_id))


def _us(t: datetime) -> int:
    return (t - datetime(1970, 1, 1, tzinfo=UTC)) // timedelta(microseconds=1)


# The spans of the generated store that send (the producer's side of a listening edge); the
# others of a listening edge receive or read.
_SENDS = (" send", ".PutEvents", ".PutRecord", ".SendMessage")


def _side(name: str) -> str:
    return "producer" if name.endswith(_SENDS) else "consumer"


def _expected_hops(path: Path, trace: read.TraceView) -> list[tuple[str, str]]:
    """The other side of trace's listening edges, worked out in Python from every labelled
    span: other traces, the opposite side of each edge first, then nearest in time."""
    edges = {s.edge_id for s in trace.spans if s.side}
    mine = {(s.edge_id, s.side) for s in trace.spans if s.side}
    assert mine == {(s.edge_id, _side(s.name)) for s in trace.spans if s.side}
    start = _us(min(s.start_time for s in trace.spans))
    rows = _sql(
        path,
        "SELECT trace_id, span_id, start_time, name, edge_id FROM classifier_labelled_spans "
        "WHERE list_contains(?, edge_id) AND trace_id <> ?",
        [sorted(edges), trace.trace_id],
    )
    rows.sort(key=lambda r: ((r[4], _side(r[3])) in mine, abs(_us(r[2]) - start), r[2], r[0], r[1]))
    return [(r[0], r[1]) for r in rows[: read.HOPS]]


@pytest.mark.parametrize("window", [timedelta(hours=1), timedelta(seconds=20), timedelta(0)])
def test_hops_are_the_other_side_nearest_in_time(
    store: Path, window: timedelta, monkeypatch: pytest.MonkeyPatch
) -> None:
    # A window short enough that fewer than HOPS spans fall in it sends the read to the whole
    # store; both must give the same.
    monkeypatch.setattr(read, "HOP_WINDOW", window)
    traces = _sql(
        store,
        "SELECT DISTINCT ON (l.kind) l.trace_id FROM classifier_labelled_spans l "
        "JOIN edges e USING (edge_id) WHERE e.direction = 'listen' ORDER BY l.kind, l.trace_id",
    )
    assert len(traces) >= 2  # a producer's trace and a consumer's
    for (trace_id,) in traces:
        trace = _trace(store, trace_id)
        assert any(s.side for s in trace.spans)
        assert [(h.trace_id, h.span_id) for h in trace.hops] == _expected_hops(store, trace)
        assert len(trace.hops) == read.HOPS


def test_a_trace_without_listening_edges_has_no_hops(store: Path) -> None:
    (trace_id,) = _sql(
        store,
        "SELECT trace_id FROM classifier_labelled_spans GROUP BY trace_id "
        "HAVING bool_and(edge_id IN (SELECT edge_id FROM edges WHERE direction = 'call')) "
        "ORDER BY trace_id LIMIT 1",
    )[0]
    trace = _trace(store, trace_id)
    assert any(s.edge_id for s in trace.spans) and trace.hops == ()


@pytest.mark.parametrize("labelled", ["no labelled view", "a labelled view without groups"])
def test_a_store_labelled_before_the_view_reads_the_same(
    store: Path, tmp_path: Path, labelled: str
) -> None:
    """A store an older release labelled: with span_labels alone, or with the labelled view
    as it was before it named each span's group (the trace view then tells a span's side by
    its service, which gives the same sides here)."""
    older = tmp_path / "older.duckdb"
    shutil.copy(store, older)
    con = duckdb.connect(str(older))
    try:
        if labelled == "no labelled view":
            con.execute(_OLD_SPAN_LABELS)
            con.execute("DROP VIEW classifier_labelled_spans")
        else:
            view = span_labels_views(JOINS)[0]
            assert ", s.gkey" in view
            con.execute(view.replace(", s.gkey", ""))
    finally:
        con.close()
    edges = _sql(store, "SELECT edge_id FROM edges ORDER BY span_count DESC, edge_id")
    picks = [edges[0][0], edges[len(edges) // 2][0], edges[-1][0]]
    listening = _sql(store, "SELECT edge_id FROM edges WHERE direction = 'listen' LIMIT 1")
    picks.append(listening[0][0])
    for edge_id in picks:
        now, before = _detail(store, edge_id), _detail(older, edge_id)
        assert now is not None and now.spans and now == before
        trace_id = now.spans[0].trace_id
        now_trace, before_trace = _trace(store, trace_id), _trace(older, trace_id)
        assert now_trace.spans and now_trace == before_trace


def test_a_trace_and_the_trace_beside_it_pair_up_by_side(store: Path) -> None:
    # A producer's trace of a listening edge and the trace shown beside it: a consumer's.
    producer = _sql(
        store,
        "SELECT l.trace_id FROM classifier_labelled_spans l JOIN edges e USING (edge_id) "
        "WHERE e.direction = 'listen' AND l.kind = 'PRODUCER' ORDER BY l.trace_id LIMIT 1",
    )[0][0]
    view = open_reader(store).run(partial(read.trace_with_other_side, trace_id=producer))
    assert view.other is not None
    assert view.pairing == read.Pairing("producer", "consumer", same_side=False)
    # Seen from the consumer's trace, the other way round.
    back = open_reader(store).run(partial(read.trace_with_other_side, trace_id=view.other.trace_id))
    assert back.pairing == read.Pairing("consumer", "producer", same_side=False)


def _span(trace_id: str, side: str | None, edge_id: str | None = "e1") -> read.SpanRow:
    return read.SpanRow(
        trace_id, f"{trace_id}-s", None, "op", "CLIENT", "svc", datetime(2026, 1, 1, tzinfo=UTC),
        1.0, "OK", edge_id=edge_id, side=side,
    )  # fmt: skip


def _hop(trace_id: str, side: str, edge_id: str = "e1") -> read.Hop:
    return read.Hop(trace_id, f"{trace_id}-s", "CLIENT", "svc", datetime(2026, 1, 1), edge_id, side)


def test_a_stream_consumers_hops_are_of_its_own_side() -> None:
    # A table stream's edge has no producer's span (the table writes none): the traces found
    # on the edge are other consumers', and the pairing says so.
    view = read.TraceView("t1", (_span("t1", "consumer"),), (_hop("t2", "consumer"),))
    other = read.TraceView("t2", (_span("t2", "consumer"),), ())
    assert read.pairing(view, other) == read.Pairing("consumer", "consumer", same_side=True)
    # A hop of the opposite side among them: the other side.
    mixed = read.TraceView("t1", view.spans, (_hop("t2", "consumer"), _hop("t3", "producer")))
    assert not read.pairing(mixed, other).same_side
    # A side is an edge's: a trace that receives on one edge and sends on another has hops of
    # the other side of each, though each side is one of its own.
    worker = read.TraceView(
        "t1",
        (_span("t1", "consumer", "e1"), _span("t1", "producer", "e2")),
        (_hop("t2", "producer", "e1"), _hop("t3", "consumer", "e2")),
    )
    assert not read.pairing(worker, other).same_side
    # A trace on both sides of the shared edge (a worker reading its own queue).
    both = read.TraceView("t1", (_span("t1", "consumer"), _span("t1", "producer")), view.hops)
    assert read.pairing(both, other).mine == "producer and consumer"
