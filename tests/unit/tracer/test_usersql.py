"""A user's query within its limits: cut at the row limit, refused past the size or memory it
may use, stopped after its time, never an error of another kind."""

from __future__ import annotations

import datetime as dt
import io
from pathlib import Path

import duckdb
import pytest

from seamscope.tracer.usersql import (
    SqlLimits,
    SqlRejected,
    python_rows,
    run_bounded,
    table_to_json,
    truncated,
    write_csv,
)


@pytest.fixture
def con() -> duckdb.DuckDBPyConnection:
    return duckdb.connect(config={"memory_limit": "100MB"})


def test_rows_past_the_limit_are_cut_and_flagged(con: duckdb.DuckDBPyConnection) -> None:
    table = run_bounded(con, "select * from range(10000)", None, SqlLimits(row_limit=2500)).table()
    assert table.num_rows == 2500 and truncated(table)
    whole = run_bounded(con, "select * from range(10)", None, SqlLimits(row_limit=10)).table()
    assert whole.num_rows == 10 and not truncated(whole)
    assert b'"truncated": true' in table_to_json(table, truncated=truncated(table))


@pytest.mark.parametrize(
    ("sql", "message"),
    [
        ("select repeat('x', 1000000) a from range(40)", "larger than 16 MB"),
        ("select list(repeat('x', 100000)) from range(10000)", "needs more memory"),
        ("select count(*) from range(100000000) a, range(100000000) b", "longer than 0.5 s"),
        ("delete from t", "only SELECT"),
        ("select * from nowhere", "Catalog Error"),
    ],
)
def test_what_a_query_may_not_do(con: duckdb.DuckDBPyConnection, sql: str, message: str) -> None:
    with pytest.raises(SqlRejected, match=message):
        run_bounded(con, sql, None, SqlLimits(timeout_s=0.5, max_bytes=16 * 1024 * 1024))


def test_the_owner_short_of_memory_before_the_query_says_so_as_the_query_does(
    tmp_path: Path,
) -> None:
    """A store at its memory limit can refuse the read-only transaction itself, before the
    query starts (DuckDB's "failed to allocate data of size 2.0 KiB"): the endpoint said
    DuckDB's raw line, which the live TUI printed as it came, where a query short of memory
    says that it needs more memory than it may use."""
    from seamscope.tracer.receiver.sql import SqlEndpoint
    from seamscope.tracer.store import Store

    class Refusing:
        def __init__(self, cursor: duckdb.DuckDBPyConnection) -> None:
            self.cursor = cursor

        def execute(self, sql: str, *args: object) -> object:
            if sql.startswith("BEGIN"):
                raise duckdb.OutOfMemoryException(
                    "Out of Memory Error: failed to allocate data of size 2.0 KiB "
                    "(15.3 MiB/15.2 MiB used)"
                )
            return self.cursor.execute(sql, *args)

        def __getattr__(self, name: str) -> object:
            return getattr(self.cursor, name)

    store = Store.open(tmp_path / "s.duckdb")
    try:
        endpoint = SqlEndpoint(store, SqlLimits())
        real = store.con
        store.con = type("Con", (), {"cursor": lambda self: Refusing(real.cursor())})()
        try:
            with pytest.raises(SqlRejected, match="needs more memory than it may use"):
                endpoint.query("SELECT 1")
        finally:
            store.con = real
            endpoint.close()
    finally:
        store.close()


def test_values_python_cannot_hold_are_text_and_columns_keep_their_place(
    con: duckdb.DuckDBPyConnection,
) -> None:
    sql = (
        "SELECT 'infinity'::date AS a, '-infinity'::timestamp AS a, DATE '2024-05-01' AS b, "
        "['infinity'::date] AS c"
    )
    table = run_bounded(con, sql, None, SqlLimits()).table()
    [row] = python_rows(table)
    assert row[:3] == ["infinity", "-infinity", dt.date(2024, 5, 1)]
    assert "cannot hold" in row[3]
    out = io.StringIO()
    write_csv(table, out)
    assert out.getvalue().splitlines() == ["a,a,b,c", f"infinity,-infinity,2024-05-01,{row[3]}"]


def test_a_query_as_deep_as_duckdb_allows_is_checked_for_calls(
    con: duckdb.DuckDBPyConnection,
) -> None:
    """Its parse tree is deeper than Python's json reads (a RecursionError, not a refusal)."""
    deep = "abs(" * 990 + "1" + ")" * 990
    assert run_bounded(con, f"SELECT {deep} AS query", None, SqlLimits()).table().num_rows == 1
    with pytest.raises(SqlRejected, match=r"checkpoint\(\) writes to the store"):
        run_bounded(con, f"SELECT {deep} AS x FROM checkpoint()", None, SqlLimits())
