"""Joins on the integer keys give what joins on the hex ids give (facts.BY_IDS, the reference),
ids that are not hex included: their keys are NULL and they join by their ids."""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any

import pytest

from seamscope.classifiers import engine
from seamscope.classifiers.engine import classify
from seamscope.classifiers.facts import BY_IDS, BY_KEYS, JoinKeys
from seamscope.tracer.store import Store
from tests.unit.classifiers.fleet import Fleet, Span
from tests.unit.classifiers.test_incremental import _fleet

# Every table the classifier writes, internal ones included (a group's key holds its callee).
_TABLES = (
    "nodes", "edges", "span_labels", "classifier_groups", "classifier_hist", "classifier_hosts",
    "classifier_components", "classifier_receives", "classifier_handling", "classifier_runs",
    "classifier_links", "classifier_joins", "classifier_group_edges",
)  # fmt: skip


def _respelled(spans: list[Span], trace: Any, span: Any) -> list[Span]:
    """The same spans under other ids (trace(id), span(id)), links and parents alike."""
    return [
        dataclasses.replace(
            s,
            trace_id=trace(s.trace_id),
            span_id=span(s.span_id),
            parent_span_id=None if s.parent_span_id is None else span(s.parent_span_id),
            links=[(trace(t), span(i), a) for t, i, a in s.links],
        )
        for s in spans
    ]


def _shapes() -> list[Span]:
    """A fleet as it is, again with trace ids that are not hex (no key at all), with span ids
    that are not hex in valid traces, and with only some of them not hex."""
    spans = _fleet(by_instance=True).in_end_order()

    def some(i: str) -> str:
        return "x" + i[1:] if int(i[-1], 16) % 2 else i

    return [
        *spans,
        *_respelled(spans, lambda t: "t-" + t[2:], lambda i: i),
        *_respelled(spans, lambda t: "1" + t[1:], lambda i: "s-" + i[2:]),
        *_respelled(spans, lambda t: "2" + t[1:], some),
    ]


def _classified(path: Path, spans: list[Span], cuts: int, joins: JoinKeys) -> dict[str, Any]:
    engine_joins = engine.JOINS
    engine.JOINS = joins
    fleet = Fleet()
    try:
        with Store.open(path) as store:
            size = -(-len(spans) // cuts)
            for i in range(0, len(spans), size):
                store.append(fleet.table(spans[i : i + size]), batch_key=f"b{i}", source="t")
                classify(store.con)
            found = {t: store.con.execute(f"FROM {t} ORDER BY ALL").fetchall() for t in _TABLES}
            found["keyless"] = store.con.execute(
                "SELECT count(*) FILTER (trace_key IS NULL), count(*) FILTER (span_key IS NULL), "
                "count(*) FILTER (parent_key IS NULL AND parent_span_id IS NOT NULL) FROM spans"
            ).fetchall()
            return found
    finally:
        engine.JOINS = engine_joins


@pytest.mark.parametrize("cuts", [1, 3, 7])
def test_key_joins_equal_id_joins(tmp_path: Path, cuts: int) -> None:
    spans = _shapes()
    by_ids = _classified(tmp_path / "ids.duckdb", spans, cuts, BY_IDS)
    by_keys = _classified(tmp_path / "keys.duckdb", spans, cuts, BY_KEYS)
    for table in _TABLES:
        assert by_keys[table] == by_ids[table], table
    # Every respelling is there, without keys, and labelled.
    no_trace, no_span, no_parent = by_keys["keyless"][0]
    assert no_trace > 0 and no_span > no_trace and no_parent > 0
    labelled = {row[0][0] for row in by_keys["span_labels"]}
    assert {"t", "1", "2"} <= labelled
