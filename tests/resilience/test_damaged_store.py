"""A store changed behind seamscope's back (a schema version that is no number, a spans table
without a column) is refused by every command that opens it: one line naming the file and what
is wrong, exit 2, and the store left as it was."""

from __future__ import annotations

import subprocess
from pathlib import Path

import duckdb
import pytest

from seamscope.tracer.otlp import protobuf_to_json
from tests.e2e.test_collect import SEAMSCOPE
from tests.otlp_sample import sample_request
from tests.unit.classifiers.fleet import Fleet, Service

pytestmark = pytest.mark.e2e

COMMANDS = [
    ["sql", "select 1"],
    ["edges"],
    ["check"],
    ["drift"],
    ["export"],
    ["collect", "--port", "0"],
    ["ingest", "spans.jsonl"],
]

DAMAGES = {
    "version-abc": (
        "UPDATE seamscope_meta SET value = 'abc' WHERE key = 'schema_version'",
        "its schema version (in seamscope_meta) is 'abc', not a number",
    ),
    "no-service_name": (
        "ALTER TABLE spans DROP COLUMN service_name",
        "its spans table lacks the column service_name",
    ),
}


def _rows(db: Path) -> list[tuple[object, ...]]:
    con = duckdb.connect(str(db), read_only=True)
    try:
        meta = con.execute("SELECT * FROM seamscope_meta ORDER BY key").fetchall()
        spans = con.execute("SELECT count(*) FROM spans").fetchall()
        return meta + spans
    finally:
        con.close()


@pytest.mark.parametrize("damage", DAMAGES)
@pytest.mark.parametrize("command", COMMANDS, ids=lambda c: c[0])
def test_a_damaged_store_is_one_line_naming_the_file(
    tmp_path: Path, command: list[str], damage: str
) -> None:
    fleet = Fleet()
    fleet.dynamodb(Service("orders-api", "orders", "backend"), "GetItem", "Orders")
    db = fleet.store(tmp_path / "s.duckdb")
    statement, says = DAMAGES[damage]
    con = duckdb.connect(str(db))
    con.execute(statement)
    con.close()
    before = _rows(db)
    (tmp_path / "spans.jsonl").write_text(
        protobuf_to_json(sample_request(3, seed=1).SerializeToString()) + "\n"
    )
    done = subprocess.run(
        [*SEAMSCOPE, *command, "--db", "s.duckdb"],
        cwd=tmp_path,
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert (done.returncode, done.stderr) == (2, f"seamscope: s.duckdb: a damaged store: {says}\n")
    assert done.stdout == ""
    assert _rows(db) == before
