"""User SQL cannot write, attach, copy, install or load extensions, or read files: neither through
a live owner nor on the local read-only connection."""

from __future__ import annotations

import hashlib
import json
import signal
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

from seamscope.tracer.access import SqlRejected, open_reader
from seamscope.tracer.ingest import ingest
from seamscope.tracer.otlp import protobuf_to_json
from seamscope.tracer.owner import find_owner
from tests.e2e.test_collect import Collector, start_collector
from tests.otlp_sample import sample_request

pytestmark = pytest.mark.e2e

ATTACKS = [
    "INSERT INTO spans SELECT * FROM spans",
    "UPDATE spans SET name = 'x'",
    "DELETE FROM batches",
    "DROP TABLE spans",
    "ALTER TABLE spans ADD COLUMN x INT",
    "CREATE TABLE stolen AS SELECT * FROM spans",
    "CREATE MACRO m() AS 1",
    "SELECT 1; DELETE FROM spans",
    "WITH x AS (SELECT 1) DELETE FROM spans",
    "ATTACH '{tmp}/other.duckdb' AS o",
    "ATTACH ':memory:' AS m",
    "DETACH seamscope",
    "COPY spans TO '{tmp}/out.csv'",
    "COPY (SELECT 1) TO '{tmp}/out.parquet' (FORMAT parquet)",
    "EXPORT DATABASE '{tmp}/dump'",
    "IMPORT DATABASE '{tmp}/dump'",
    "INSTALL httpfs",
    "LOAD httpfs",
    "LOAD '{tmp}/evil.duckdb_extension'",
    "SET enable_external_access = true",
    "SET lock_configuration = false",
    "RESET enable_external_access",
    "PRAGMA enable_profiling",
    "CALL pragma_version()",
    "CHECKPOINT",
    "VACUUM",
    "BEGIN",
    "USE memory",
    "SELECT * FROM read_csv('{tmp}/secret.csv')",
    "SELECT * FROM read_text('{tmp}/secret.csv')",
    "SELECT * FROM read_blob('{tmp}/secret.csv')",
    "SELECT * FROM glob('{tmp}/*')",
    "SELECT * FROM '{tmp}/secret.csv'",
    "SELECT * FROM read_parquet('http://127.0.0.1:1/x.parquet')",
    "SELECT * FROM query('DELETE FROM spans')",
    "SELECT nextval('batch_seq')",
    # EXPLAIN ANALYZE runs what it explains.
    "EXPLAIN ANALYZE CREATE TEMP TABLE spans AS SELECT 1 AS x",
    "EXPLAIN ANALYZE SET search_path = 'temp'",
    "EXPLAIN ANALYZE SET VARIABLE x = 1",
    "EXPLAIN ANALYZE CHECKPOINT",
    "/* a comment */ explain analyze create temp macro m() as 1",
    "EXPLAIN (FORMAT json) DELETE FROM spans",
    # Table functions that write, called from a SELECT: checkpoint() wrote the WAL into the
    # store through the owner while the CHECKPOINT statement was refused.
    "SELECT * FROM checkpoint()",
    'FROM "CheckPoint"()',
    "SELECT 1 WHERE EXISTS (FROM system.main.checkpoint())",
    "SUMMARIZE (FROM checkpoint())",
    "EXPLAIN ANALYZE FROM checkpoint()",
    "FROM truncate_duckdb_logs()",
    # SQL given as a value would run unseen by the check.
    "FROM query('SELECT count(*) AS n FROM spans')",
    "FROM query('FROM checkpoint()')",
    "FROM query('FROM query(''FROM checkpoint()'')')",
    "FROM query('FROM ' || 'checkpoint()')",
    "FROM json_execute_serialized_sql(json_serialize_sql('FROM checkpoint()'))",
]
READS = [
    "SELECT count(*) AS n FROM spans WHERE name <> 'checkpoint()'",
    """SELECT count(*) AS n FROM spans WHERE name <> '{,"function_name":"checkpoint"'""",
    "SELECT count(*) AS n FROM spans WHERE name <> 'query(1)' -- checkpoint()",
]
"""Queries that look like the attacks and only read: they run."""


def _store_fingerprint(db: Path) -> str:
    rows = (
        open_reader(db)
        .user_sql("SELECT count(*), sum(hash(span_id)), (SELECT count(*) FROM batches) FROM spans")
        .to_pylist()
    )
    return hashlib.sha256(json.dumps(rows, default=str).encode()).hexdigest()


@pytest.fixture
def store(db_path: Path, tmp_path: Path) -> Path:
    (tmp_path / "secret.csv").write_text("password\nhunter2\n")
    traces = tmp_path / "t.jsonl"
    traces.write_text(protobuf_to_json(sample_request(6, seed=2).SerializeToString()) + "\n")
    ingest(db_path, [str(traces)])
    return db_path


def _attack_all(db: Path, tmp_path: Path) -> None:
    before = _store_fingerprint(db)
    for template in ATTACKS:
        sql = template.format(tmp=tmp_path)
        with pytest.raises(SqlRejected) as caught:
            table = open_reader(db).user_sql(sql)
            raise AssertionError(f"{sql!r} ran: {table.to_pylist()[:3]}")
        assert "\n" not in str(caught.value)
        assert "hunter2" not in str(caught.value)
    assert _store_fingerprint(db) == before
    for sql in READS:
        assert open_reader(db).user_sql(sql).to_pylist() == [{"n": 6}], sql
    assert not (tmp_path / "out.csv").exists() and not (tmp_path / "out.parquet").exists()
    assert not (tmp_path / "dump").exists() and not (tmp_path / "other.duckdb").exists()


def test_local_read_only_path(store: Path, tmp_path: Path) -> None:
    _attack_all(store, tmp_path)


@pytest.fixture
def owner(store: Path, tmp_path: Path) -> Iterator[Collector]:
    c = start_collector(store, tmp_path)
    try:
        yield c
    finally:
        c.process.stop()


def owner_headers(db: Path) -> dict[str, str]:
    """What the store's user sends to the SQL endpoint: JSON and the owner's secret."""
    owner = find_owner(db)
    assert owner is not None
    return {"Content-Type": "application/json", **owner.headers()}


def test_through_the_owner(owner: Collector, store: Path, tmp_path: Path) -> None:
    _attack_all(store, tmp_path)
    # Also straight at the endpoint, with parameters and odd payloads.
    url = owner.url + "/seamscope/v1/sql"
    for payload in (
        {"sql": "DELETE FROM spans WHERE name = ?", "params": ["x"]},
        {"sql": ["SELECT 1"]},
        {"sql": "SELECT ?", "params": "not-a-list"},
        {"query": "SELECT 1"},
    ):
        request = urllib.request.Request(
            url, data=json.dumps(payload).encode(), headers=owner_headers(store)
        )
        with pytest.raises(urllib.error.HTTPError) as caught:
            urllib.request.urlopen(request, timeout=30)
        assert caught.value.code == 400
        assert json.loads(caught.value.read())["error"]
    assert owner.stop(signal.SIGTERM) == 0
    assert open_reader(store).user_sql("SELECT count(*) AS n FROM spans").to_pylist() == [{"n": 6}]


def test_a_query_never_returns_more_than_the_row_limit(owner: Collector, store: Path) -> None:
    payload = {"sql": "SELECT * FROM range(1000000)", "format": "json"}
    request = urllib.request.Request(
        owner.url + "/seamscope/v1/sql",
        data=json.dumps(payload).encode(),
        headers=owner_headers(store),
    )
    with urllib.request.urlopen(request, timeout=60) as response:
        assert response.headers["X-Seamscope-Truncated"] == "true"
        assert len(json.loads(response.read())["rows"]) == 100_000
