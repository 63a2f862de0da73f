"""The verdict is declared once: its rank orders Python and SQL alike."""

from __future__ import annotations

import dataclasses
from datetime import UTC
from typing import Any

import duckdb
import pyarrow as pa
import pytest

from seamscope.classifiers.results import FINDINGS, Edge, Verdict, columns, verdict_rank_sql
from seamscope.tracer.schema import arrow_schema


def _edge(edge_id: str, **kw: Any) -> Edge:
    values: dict[str, Any] = {
        "edge_id": edge_id, "from_node": "component:a/x", "to_node": f"n-{edge_id}",
        "from_system": "a", "to_system": None, "mechanism": "rest", "direction": "call",
        "via": None, "level": "external", "rule_id": "P101", "verdict": Verdict.SMELL,
        "reason": None, "operations": ("GET /a",), "span_count": 1, "error_count": 0,
        "p50_ms": None, "p95_ms": 2.5, "first_seen": None, "last_seen": None,
        "sample_trace_id": None, "evidence": "trace",
    }  # fmt: skip
    values.update(kw)
    return Edge(**values)


def _row(e: Edge) -> dict[str, Any]:
    row = {f.name: getattr(e, f.name) for f in dataclasses.fields(Edge)}
    return row | {
        "verdict": str(e.verdict),
        "evidence": str(e.evidence),
        "operations": list(e.operations),
    }


def _struct(rows: list[dict[str, Any]], **types: pa.DataType) -> pa.StructArray:
    table = pa.Table.from_pylist(rows, schema=arrow_schema(columns(Edge)))
    for name, kind in types.items():
        i = table.schema.get_field_index(name)
        table = table.set_column(i, name, table.column(name).cast(kind))
    return pa.StructArray.from_arrays(
        [c.combine_chunks() for c in table.columns], names=table.column_names
    )


def test_the_sql_rank_of_a_verdict_is_its_rank() -> None:
    values = ", ".join(f"('{v}')" for v in Verdict)
    rows = duckdb.connect().execute(
        f"SELECT v, {verdict_rank_sql('v')} FROM (VALUES {values}) AS t(v)"
    )
    assert dict(rows.fetchall()) == {v.value: v.rank for v in Verdict}


def test_findings_come_first_and_every_verdict_looks_different() -> None:
    assert Verdict.worst_first()[: len(FINDINGS)] == FINDINGS
    assert Verdict.worst_first()[0] is Verdict.ANTI_PATTERN
    assert len({v.rank for v in Verdict}) == len({v.style for v in Verdict}) == len(Verdict)


@pytest.mark.parametrize("unit", ["s", "ms", "us"])
def test_records_give_the_timestamps_and_members_pyarrow_and_the_enums_give(unit: str) -> None:
    """records() counts UTC timestamps from the epoch rather than let pyarrow localise each:
    the same datetimes (zone object, microseconds, NULLs, before 1970), and the same members."""
    from datetime import datetime

    from seamscope.classifiers.results import Evidence, records

    whole = unit == "us"
    stamps = [
        datetime(2026, 12, 5, 7, 46, 24, 123456 if whole else 0, tzinfo=UTC),
        None,
        datetime(1969, 7, 20, 20, 17, 40, 999999 if whole else 0, tzinfo=UTC),
        datetime(2038, 1, 19, 3, 14, 8, 1 if whole else 0, tzinfo=UTC),
    ]
    edges = [_edge(str(i), first_seen=s, last_seen=s) for i, s in enumerate(stamps)]
    kind = pa.timestamp(unit, tz="Etc/UTC")
    rows = _struct([_row(e) for e in edges], first_seen=kind, last_seen=kind)
    got = records(Edge, rows)
    by_pyarrow = [Edge.from_row(r) for r in rows.to_pylist()]
    assert got == by_pyarrow == edges
    for mine, theirs in zip(got, by_pyarrow, strict=True):
        for name in ("first_seen", "last_seen"):
            a, b = getattr(mine, name), getattr(theirs, name)
            assert (a is None and b is None) or (a.tzinfo is b.tzinfo and a == b)
    assert all(type(e.verdict) is Verdict and type(e.evidence) is Evidence for e in got)


def test_records_of_other_zones_are_pyarrows() -> None:
    from datetime import datetime

    from seamscope.classifiers.results import records

    stamp = datetime(2026, 12, 5, 7, 46, 24, 5, tzinfo=UTC)
    kind = pa.timestamp("us", tz="Europe/Paris")
    rows = _struct([_row(_edge("p", last_seen=stamp))], last_seen=kind)
    (got,) = records(Edge, rows)
    assert got.last_seen == stamp and got.last_seen.utcoffset() is not None
    assert str(got.last_seen.tzinfo) == "Europe/Paris"


def test_records_refuse_a_verdict_no_rule_gives() -> None:
    from seamscope.classifiers.results import records

    rows = _struct([_row(_edge("x")) | {"verdict": "excellent"}])
    with pytest.raises(ValueError, match="excellent"):
        records(Edge, rows)
