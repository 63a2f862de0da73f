"""Joins on the integer keys give what joins on the hex ids give (facts.BY_IDS, the reference),
ids that are not hex included: their keys are NULL and they join by their ids."""

from __future__ import annotations

import dataclasses
from collections import Counter
from pathlib import Path
from typing import Any

import duckdb
import pytest

from seamscope.classifiers import engine
from seamscope.classifiers.engine import classify
from seamscope.classifiers.facts import (
    BY_IDS,
    BY_KEYS,
    SPAN_COLUMNS,
    JoinKeys,
    classified_sql,
    facts_sql,
    invocations_sql,
)
from seamscope.tracer.store import Store
from tests.unit.classifiers.fleet import Fleet, Span
from tests.unit.classifiers.test_incremental import _fleet

# What the classifier writes, as ids where its state holds keys (which differ between the two).
_TABLES = {
    t: f"FROM {t}"
    for t in (
        "nodes", "edges", "span_labels", "classifier_groups", "classifier_hist",
        "classifier_hosts", "classifier_components", "classifier_handling", "classifier_joins",
        "classifier_group_edges",
    )
}  # fmt: skip
_TABLES["classifier_runs"] = "SELECT * EXCLUDE (tk) FROM classifier_runs"
_TABLES["classifier_receives"] = "SELECT count(*) FROM classifier_receives"
_TABLES["classifier_links"] = "SELECT count(*) FROM classifier_links"


def _facts(joins: JoinKeys) -> str:
    """Every stored fact with its span's ids (span_labels only has those on an edge)."""
    return f"""SELECT sp.trace_id, sp.span_id, sp.parent_span_id, s.* EXCLUDE (tk, sk, pk)
        FROM classifier_spans AS s
        JOIN (SELECT trace_id, span_id, parent_span_id, batch_id, {joins.spans} FROM spans) AS sp
          ON sp.batch_id = s.batch_id AND sp.tk = s.tk AND sp.sk = s.sk
          AND sp.pk IS NOT DISTINCT FROM s.pk"""


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
            queries = {**_TABLES, "facts": _facts(joins), "stored": "FROM classifier_spans"}
            found = {
                t: store.con.execute(f"{q} ORDER BY ALL").fetchall() for t, q in queries.items()
            }
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
    for table in [*_TABLES, "facts"]:
        assert by_keys[table] == by_ids[table], table
    assert len(by_keys["facts"]) == len(by_keys["stored"]) == len(by_ids["stored"])
    # Every respelling is there, without keys, and labelled.
    no_trace, no_span, no_parent = by_keys["keyless"][0]
    assert no_trace > 0 and no_span > no_trace and no_parent > 0
    labelled = {row[0][0] for row in by_keys["span_labels"]}
    assert {"t", "1", "2"} <= labelled


@pytest.mark.parametrize("cuts", [1, 5])
def test_stored_keys_alone_equal_id_joins(tmp_path: Path, cuts: int) -> None:
    """Where every span has its keys, the facts join on the stored keys alone (STORED_KEYS)."""
    spans = _fleet(by_instance=True).in_end_order()
    spans = [*spans, *_respelled(spans, lambda t: "3" + t[1:], lambda i: "4" + i[1:])]
    by_ids = _classified(tmp_path / "ids.duckdb", spans, cuts, BY_IDS)
    by_keys = _classified(tmp_path / "keys.duckdb", spans, cuts, BY_KEYS)
    for table in [*_TABLES, "facts"]:
        assert by_keys[table] == by_ids[table], table
    assert by_keys["keyless"][0] == (0, 0, 0)
    assert {row[9] for row in by_keys["edges"]} >= {"P101", "P102", "P202"}


def _labels_from_facts(con: duckdb.DuckDBPyConnection) -> list[tuple[Any, ...]]:
    """span_labels as the per-span state with hex ids gave it: every fact of every span, by the
    span's own ids, on its group's edges."""
    con.execute(f"CREATE OR REPLACE TEMP VIEW _t_src AS SELECT {SPAN_COLUMNS} FROM spans")
    con.execute("CREATE OR REPLACE TEMP VIEW _t_s AS " + classified_sql("_t_src"))
    con.execute("CREATE OR REPLACE TEMP VIEW _t_inv AS " + invocations_sql("_t_src"))
    return con.execute(
        f"""SELECT f.trace_id, f.span_id, e.edge_id, e.rule_id, e.verdict
        FROM ({facts_sql("_t_s", "_t_inv")}) AS f
        JOIN classifier_group_edges AS m ON m.gkey = f.gkey
        JOIN edges AS e ON e.edge_id = m.edge_id
        ORDER BY ALL"""
    ).fetchall()


@pytest.mark.parametrize("cuts", [1, 4])
def test_span_labels_give_the_ids_of_every_fact(tmp_path: Path, cuts: int) -> None:
    """The view finds each labelled span's ids in the store by its batch and keys: the same rows
    as the facts of the spans themselves, a span stored twice (in two batches) twice."""
    spans = _shapes()
    again = [s for s in spans if s.kind == "CLIENT"][:5]
    fleet = Fleet()
    with Store.open(tmp_path / "s.duckdb") as store:
        batches = [spans[i::cuts] for i in range(cuts)] + [again]
        for i, batch in enumerate(batches):
            store.append(fleet.table(batch), batch_key=f"b{i}", source="t")
            classify(store.con)
        labels = store.con.execute("FROM span_labels ORDER BY ALL").fetchall()
        expected = _labels_from_facts(store.con)
    assert labels == expected
    twice = {(s.trace_id, s.span_id) for s in again}
    counts = Counter((t, s) for t, s, *_ in labels if (t, s) in twice)
    assert counts and all(n % 2 == 0 for n in counts.values())
    assert {"t", "1", "2"} <= {row[0][0] for row in labels}
