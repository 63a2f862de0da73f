from __future__ import annotations

import dataclasses
import json
import os
import socket
from pathlib import Path

import pytest

from seamscope.tracer.access import (
    EmbeddedReader,
    LocalReader,
    OwnerReader,
    SqlRejected,
    check_read_only,
    open_reader,
)
from seamscope.tracer.errors import SeamscopeError
from seamscope.tracer.ingest import ingest
from seamscope.tracer.otlp import protobuf_to_json
from seamscope.tracer.owner import OwnerInfo, owner_file, publish
from seamscope.tracer.receiver import Receiver
from seamscope.tracer.store import Store, StoreMissing
from tests.otlp_sample import sample_request

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
    "INSERT INTO edges SELECT * FROM edges",
    "SET threads = 1",
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


def test_one_query_at_a_time() -> None:
    """Several queries would all run and only the last be shown: refused, saying why."""
    import duckdb

    with pytest.raises(SqlRejected, match="one query at a time: this SQL holds 2 statements"):
        check_read_only(duckdb.connect(), "SELECT 1 AS a; SELECT 2 AS b")
    check_read_only(duckdb.connect(), "SELECT 1 AS a;")  # a closing ';' ends the one


@pytest.mark.parametrize(
    ("sql", "first_row"),
    [
        ("SELECT 42 AS n", {"n": 42}),
        ("WITH a AS (SELECT 42 AS n) SELECT * FROM a", {"n": 42}),
        ("FROM spans SELECT count(*) AS n", {"n": 9}),
        ("EXPLAIN SELECT 1", {"explain_key": "physical_plan"}),
    ],
)
def test_queries_pass(filled: Path, sql: str, first_row: dict[str, object]) -> None:
    rows = open_reader(filled).user_sql(sql).to_pylist()
    assert rows and first_row.items() <= rows[0].items()


def test_local_query_with_params_and_errors(filled: Path, tmp_path: Path) -> None:
    table = open_reader(filled).user_sql(
        "SELECT count(*) AS n FROM spans WHERE service_name = ?", ["svc-1"]
    )
    assert table.to_pylist() == [{"n": 3}]
    for sql in FORBIDDEN:
        with pytest.raises(SqlRejected):
            open_reader(filled).user_sql(sql)
    secret = tmp_path / "secret.csv"
    secret.write_text("a\n1\n")
    with pytest.raises(SqlRejected, match="disabled by configuration"):
        open_reader(filled).user_sql(f"SELECT * FROM read_csv('{secret}')")
    with pytest.raises(SqlRejected, match="syntax error"):
        open_reader(filled).user_sql("SELEC 1")
    with pytest.raises(StoreMissing):
        open_reader(tmp_path / "none.duckdb").user_sql("SELECT 1")
    assert open_reader(filled).user_sql("SELECT count(*) AS n FROM spans").to_pylist() == [{"n": 9}]


def test_query_through_the_owner(filled: Path, tmp_path: Path) -> None:
    with Receiver(filled, port=0):
        table = open_reader(filled).user_sql(
            "SELECT service_name, count(*) AS n FROM spans GROUP BY ALL ORDER BY 1"
        )
        assert table.to_pylist() == [{"service_name": f"svc-{i}", "n": 3} for i in range(3)]
        for sql in FORBIDDEN:
            with pytest.raises(SqlRejected):
                open_reader(filled).user_sql(sql)
        with pytest.raises(SqlRejected, match="disabled by configuration"):
            open_reader(filled).user_sql(f"SELECT * FROM read_text('{tmp_path}/x')")
    with Store.open(filled) as store:
        assert store.con.execute("SELECT count(*) FROM spans").fetchall() == [(9,)]


def test_open_reader_picks_whoever_holds_the_store(filled: Path) -> None:
    local = open_reader(filled)
    assert isinstance(local, LocalReader) and local.owner is None
    with Receiver(filled, port=0) as receiver:
        remote = open_reader(filled)
        assert isinstance(remote, OwnerReader)
        assert remote.owner is not None and remote.owner.port == receiver.port
        embedded = open_reader(filled, embedded=receiver)
        assert isinstance(embedded, EmbeddedReader) and embedded.owner == receiver.owner
        assert embedded.user_sql("SELECT count(*) AS n FROM spans").to_pylist() == [{"n": 9}]
        with pytest.raises(SqlRejected, match="only SELECT queries are allowed here"):
            embedded.user_sql("DELETE FROM spans")
    assert isinstance(open_reader(filled), LocalReader)


def _unanswered_owner(db: Path, sock: socket.socket) -> OwnerInfo:
    """An owner of this very process (so alive) at a port that refuses connections."""
    port = sock.getsockname()[1]
    return OwnerInfo(os.getpid(), "127.0.0.1", port, f"http://127.0.0.1:{port}", str(db), 0.0)


def test_an_owner_that_went_away_hands_over_to_a_local_read(filled: Path) -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))  # bound, never listening: connections are refused
        reader = OwnerReader(filled, _unanswered_owner(filled, sock))
        assert reader.user_sql("SELECT count(*) AS n FROM spans").to_pylist() == [{"n": 9}]
        assert reader.run(lambda q: q("SELECT count(*) AS n FROM spans", None).num_rows) == 1


def test_an_owner_that_never_answers_is_a_clear_error(filled: Path) -> None:
    """It names the owner file, the process and its port, and what to do."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        owner = _unanswered_owner(filled, sock)
        owner_file(filled).write_text(json.dumps(dataclasses.asdict(owner)))
        owner_file(filled).chmod(0o600)  # one others could read is not followed
        with pytest.raises(SeamscopeError) as raised:
            open_reader(filled).user_sql("SELECT 1")
    assert str(raised.value) == (
        f"{owner_file(filled)}: the process it names as the store's owner (pid {os.getpid()}) "
        f"does not answer on port {owner.port}; if no `seamscope collect` or live TUI runs on "
        "this store, remove that file"
    )


def test_an_owner_file_whose_pid_another_process_took_is_read_past(filled: Path) -> None:
    """The owner that wrote it is gone, its pid reused: the store is read here, as if there
    were no file, and the file is left where it is."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        publish(filled, "127.0.0.1", sock.getsockname()[1])
        path = owner_file(filled)
        record = json.loads(path.read_text())
        path.write_text(json.dumps({**record, "start_ticks": record["start_ticks"] - 1}))
        reader = open_reader(filled)
        assert isinstance(reader, LocalReader)
        assert reader.user_sql("SELECT count(*) AS n FROM spans").to_pylist() == [{"n": 9}]
    assert path.exists()
