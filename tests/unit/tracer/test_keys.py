"""Integer keys of spans (tracer/keys.py): the Arrow and SQL implementations agree with the
definition, stay distinct for ids made by a counter, and every way a span is stored fills them
(appends, the SQL producers, the migration of an older store)."""

from __future__ import annotations

import re
from collections.abc import Sequence
from pathlib import Path

import duckdb
import pyarrow as pa
from hypothesis import given, settings
from hypothesis import strategies as st

from seamscope.tracer.ingest import Batch, append_many
from seamscope.tracer.keys import KEY_COLUMNS, add_keys, keys_sql
from seamscope.tracer.rows import SpanBatchBuilder
from seamscope.tracer.schema import SPAN_FIELDS
from seamscope.tracer.store import Store, open_read_only

_M32 = 0xFFFFFFFF


def _fmix(h: int) -> int:
    h ^= h >> 16
    h = (h * 0x85EBCA6B) & _M32
    h ^= h >> 13
    h = (h * 0xC2B2AE35) & _M32
    return h ^ (h >> 16)


def _reference(trace: str | None, span: str | None) -> tuple[int | None, int | None]:
    """The definition in the module's docstring, with Python's own integers."""
    if trace is None or not re.fullmatch(r"[0-9a-fA-F]{32}", trace):
        return None, None
    w = [int(trace[i : i + 8], 16) for i in range(0, 32, 8)]
    a = _fmix(w[3])
    b = _fmix(w[2] ^ a)
    c = _fmix(w[1] ^ b)
    d = _fmix(w[0] ^ c)
    key = (d << 32) | _fmix(c ^ d ^ 0x9E3779B9)
    if span is None or not re.fullmatch(r"[0-9a-fA-F]{16}", span):
        return key, None
    return key, int(span, 16) ^ key


_hex32 = st.integers(0, 2**128 - 1).map(lambda n: f"{n:032x}")
_hex16 = st.integers(0, 2**64 - 1).map(lambda n: f"{n:016x}")
_odd = st.sampled_from(["", "xyz", "0" * 15, "G" * 16, "0x" + "1" * 14, " " + "a" * 15])
_trace = st.one_of(_hex32, _hex32.map(str.upper), st.integers(0, 99).map(lambda n: f"{n:032x}"))
_span = st.one_of(_hex16, _hex16.map(str.upper), st.integers(0, 99).map(lambda n: f"{n:016x}"))
_rows = st.lists(
    st.tuples(
        st.one_of(_trace, _odd.map(lambda s: (s * 3)[:32])),
        st.one_of(_span, _odd),
        st.one_of(st.none(), _span, _odd),
    ),
    min_size=1,
    max_size=40,
)


def _table(rows: Sequence[tuple[str, str, str | None]]) -> pa.Table:
    return pa.table(
        {
            "trace_id": pa.array([r[0] for r in rows], pa.string()),
            "span_id": pa.array([r[1] for r in rows], pa.string()),
            "parent_span_id": pa.array([r[2] for r in rows], pa.string()),
        }
    )


@settings(max_examples=150, deadline=None)
@given(_rows)
def test_arrow_and_sql_keys_follow_the_definition(rows: list[tuple[str, str, str | None]]) -> None:
    table = _table(rows)
    expected = []
    for trace, span, parent in rows:
        key, span_key = _reference(trace, span)
        expected.append((key, span_key, _reference(trace, parent)[1]))
    arrow = add_keys(table)
    assert list(zip(*(arrow.column(c).to_pylist() for c in KEY_COLUMNS), strict=True)) == expected
    con = duckdb.connect()
    con.register("t", table)
    sql = con.execute(f"SELECT {', '.join(KEY_COLUMNS)} FROM ({keys_sql('SELECT * FROM t')})")
    assert sql.fetchall() == expected


def test_ids_made_by_a_counter_get_distinct_keys() -> None:
    """Traces 1..300 and spans 1..40 in each (the same span ids in every trace)."""
    rows = [(f"{t:032x}", f"{s:016x}", None) for t in range(1, 301) for s in range(1, 41)]
    keys = add_keys(_table(rows)).column("span_key").to_pylist()
    assert len(set(keys)) == len(rows)


def _raw_table(spans: list[tuple[str, str, str | None]]) -> pa.Table:
    """Spans as a producer may hand them over: the fields, no keys."""
    builder = SpanBatchBuilder()
    for trace, span, parent in spans:
        builder.add(
            trace_id=trace,
            span_id=span,
            parent_span_id=parent,
            name="GET",
            kind="SERVER" if parent else "CLIENT",
            start_ns=1_700_000_000_000_000_000,
            end_ns=1_700_000_000_001_000_000,
            status_code="UNSET",
            status_message=None,
            attributes={},
            resource={"service.name": "shop"},
            scope_name=None,
        )
    return builder.build().select([c.name for c in SPAN_FIELDS])


_SPANS = [
    ("0" * 31 + "1", "00000000000000aa", None),
    ("0" * 31 + "1", "00000000000000bb", "00000000000000aa"),
    ("0" * 31 + "2", "00000000000000aa", None),
    ("0" * 31 + "2", "00000000000000cc", "00000000000000aa"),
]


def _stored_keys(path: Path) -> list[tuple[object, ...]]:
    con = open_read_only(path)
    try:
        return con.execute(
            "SELECT trace_id, span_id, trace_key, span_key, parent_key FROM spans ORDER BY ALL"
        ).fetchall()
    finally:
        con.close()


def _expected() -> list[tuple[object, ...]]:
    rows = []
    for trace, span, parent in _SPANS:
        key, span_key = _reference(trace, span)
        rows.append((trace, span, key, span_key, _reference(trace, parent)[1]))
    return sorted(rows)


def test_every_append_path_stores_the_keys(tmp_path: Path) -> None:
    """Tables without keys (SPAN_FIELDS only) get them from Store.append and append_many."""
    for name in ("append", "many"):
        path = tmp_path / f"{name}.duckdb"
        with Store.open(path) as store:
            if name == "append":
                store.append(_raw_table(_SPANS), batch_key=None, source="test")
            else:
                append_many(store, [Batch(_raw_table(_SPANS), None, "test")])
        assert _stored_keys(path) == _expected()
        con = open_read_only(path)
        joined = con.execute(
            "SELECT c.span_id, p.span_id, c.trace_id = p.trace_id FROM spans c "
            "JOIN spans p ON p.span_key = c.parent_key ORDER BY ALL"
        ).fetchall()
        con.close()
        assert joined == [
            ("00000000000000bb", "00000000000000aa", True),
            ("00000000000000cc", "00000000000000aa", True),
        ]


def test_a_store_without_keys_gets_them_when_a_writer_opens_it(db_path: Path) -> None:
    with Store.open(db_path) as store:
        store.append(_raw_table(_SPANS), batch_key=None, source="test")
        # What a version 3 store held: spans without keys.
        for column in KEY_COLUMNS:
            store.con.execute(f"ALTER TABLE spans DROP COLUMN {column}")
        store.con.execute("UPDATE seamscope_meta SET value = '3' WHERE key = 'schema_version'")
    with Store.open(db_path):
        pass
    assert _stored_keys(db_path) == _expected()
