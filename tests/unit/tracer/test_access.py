from __future__ import annotations

from pathlib import Path

import pytest

from seamscope.tracer.access import SqlRejected, check_read_only, query_store
from seamscope.tracer.ingest import ingest
from seamscope.tracer.otlp import protobuf_to_json, sample_request
from seamscope.tracer.receiver import Receiver
from seamscope.tracer.store import Store, StoreMissing

FORBIDDEN = [
    "DELETE FROM spans",
    "INSERT INTO seamscope_meta VALUES ('a', 'b')",
    "CREATE TABLE t AS SELECT 1",
    "SELECT 1; DROP TABLE spans",
    "ATTACH 'other.duckdb'",
    "COPY spans TO 'out.csv'",
    "EXPORT DATABASE 'dump'",
    "INSTALL httpfs",
    "LOAD httpfs",
    "PRAGMA enable_profiling",
    "SET enable_external_access = true",
    "CHECKPOINT",
]


@pytest.fixture
def filled(db_path: Path, tmp_path: Path) -> Path:
    path = tmp_path / "t.jsonl"
    path.write_text(protobuf_to_json(sample_request(9, seed=1).SerializeToString()) + "\n")
    ingest(db_path, [str(path)])
    return db_path


@pytest.mark.parametrize("sql", FORBIDDEN)
def test_only_select_statements_pass(sql: str) -> None:
    import duckdb

    with pytest.raises(SqlRejected):
        check_read_only(duckdb.connect(), sql)


def test_local_query_with_params_and_errors(filled: Path, tmp_path: Path) -> None:
    table = query_store(filled, "SELECT count(*) AS n FROM spans WHERE service_name = ?", ["svc-1"])
    assert table.to_pylist() == [{"n": 3}]
    for sql in FORBIDDEN:
        with pytest.raises(SqlRejected):
            query_store(filled, sql)
    secret = tmp_path / "secret.csv"
    secret.write_text("a\n1\n")
    with pytest.raises(SqlRejected, match="disabled by configuration"):
        query_store(filled, f"SELECT * FROM read_csv('{secret}')")
    with pytest.raises(SqlRejected, match="syntax error"):
        query_store(filled, "SELEC 1")
    with pytest.raises(StoreMissing):
        query_store(tmp_path / "none.duckdb", "SELECT 1")
    assert query_store(filled, "SELECT count(*) AS n FROM spans").to_pylist() == [{"n": 9}]


def test_query_through_the_owner(filled: Path, tmp_path: Path) -> None:
    with Receiver(filled, port=0):
        table = query_store(
            filled, "SELECT service_name, count(*) AS n FROM spans GROUP BY ALL ORDER BY 1"
        )
        assert table.to_pylist() == [{"service_name": f"svc-{i}", "n": 3} for i in range(3)]
        for sql in FORBIDDEN:
            with pytest.raises(SqlRejected):
                query_store(filled, sql)
        with pytest.raises(SqlRejected, match="disabled by configuration"):
            query_store(filled, f"SELECT * FROM read_text('{tmp_path}/x')")
    with Store.open(filled) as store:
        assert store.con.execute("SELECT count(*) FROM spans").fetchall() == [(9,)]
