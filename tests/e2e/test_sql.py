"""`seamscope sql` with and without a live owner, in every output format."""

from __future__ import annotations

import csv
import io
import json
import signal
import subprocess
from pathlib import Path

import pytest

from seamscope.tracer.otlp import protobuf_to_json
from tests.e2e.test_collect import SEAMSCOPE, start_collector
from tests.otlp_sample import sample_request

pytestmark = pytest.mark.e2e

QUERY = "select service_name, count(*) as n from spans group by all order by 1"
EXPECTED = [["svc-0", 4], ["svc-1", 4], ["svc-2", 4]]


def run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([*SEAMSCOPE, *args], capture_output=True, text=True, timeout=120)


@pytest.fixture
def filled(db_path: Path, tmp_path: Path) -> Path:
    traces = tmp_path / "t.jsonl"
    traces.write_text(protobuf_to_json(sample_request(12, seed=3).SerializeToString()) + "\n")
    assert run("ingest", "--db", str(db_path), str(traces)).returncode == 0
    return db_path


def check_formats(db: Path) -> None:
    as_json = run("sql", "--db", str(db), "--json", QUERY)
    assert as_json.returncode == 0, as_json.stderr
    assert json.loads(as_json.stdout) == {
        "columns": ["service_name", "n"],
        "rows": EXPECTED,
        "truncated": False,
    }
    as_csv = run("sql", "--db", str(db), "--csv", QUERY)
    assert list(csv.reader(io.StringIO(as_csv.stdout))) == [
        ["service_name", "n"],
        *[[a, str(b)] for a, b in EXPECTED],
    ]
    table = run("sql", "--db", str(db), QUERY)
    assert table.returncode == 0
    assert "service_name" in table.stdout and "svc-2" in table.stdout and "3 rows" in table.stdout
    # Values are printed as they are, never read as Rich markup.
    brackets = run("sql", "--db", str(db), "select 'a [/] b' as x, 'orders[v2]' as y")
    assert brackets.returncode == 0, brackets.stderr
    assert "a [/] b" in brackets.stdout and "orders[v2]" in brackets.stdout
    for bad, message in (
        ("delete from spans", "only SELECT queries are allowed here, not DELETE"),
        ("selct 1", "Parser Error: syntax error"),
        ("select * from nope", "Catalog Error: Table with name nope does not exist"),
        ("select * from read_csv('/etc/hostname')", "disabled by configuration"),
        # Both would run and only the last be shown.
        ("select 1 a; select 2 b", "one query at a time: this SQL holds 2 statements"),
    ):
        done = run("sql", "--db", str(db), bad)
        assert done.returncode == 2, bad
        lines = done.stderr.strip().splitlines()
        assert len(lines) == 1 and message in lines[0], lines


def test_without_an_owner(filled: Path) -> None:
    check_formats(filled)


def test_while_collect_owns_the_store(filled: Path, tmp_path: Path) -> None:
    c = start_collector(filled, tmp_path)
    try:
        check_formats(filled)
        assert c.stop(signal.SIGTERM) == 0
    finally:
        c.process.stop()
    check_formats(filled)


def test_missing_store_is_one_line(tmp_path: Path) -> None:
    done = run("sql", "--db", str(tmp_path / "none.duckdb"), "select 1")
    assert done.returncode == 2
    assert done.stderr.strip().splitlines() == [
        f"seamscope: {tmp_path / 'none.duckdb'}: no store here (set SEAMSCOPE_DB or pass --db)"
    ]


def test_an_unlabelled_store_says_how_to_label_it(filled: Path) -> None:
    """After a bare `seamscope ingest` the label tables are not there yet: the refusal says what
    labels the store, and once `seamscope edges` has, the same query answers (README, SQL)."""
    query = "select rule_id, count(*) n from findings group by all"
    before = run("sql", "--db", str(filled), query)
    assert before.returncode == 2
    lines = before.stderr.strip().splitlines()
    assert len(lines) == 1, lines
    assert "Table with name findings does not exist" in lines[0]
    assert "the store is not labelled yet: `seamscope edges`" in lines[0]
    assert run("edges", "--db", str(filled)).returncode == 0
    after = run("sql", "--db", str(filled), "--json", query)
    assert after.returncode == 0, after.stderr
    assert json.loads(after.stdout)["columns"] == ["rule_id", "n"]


def test_an_unlabelled_store_under_a_no_classify_owner_says_what_to_change(
    filled: Path, tmp_path: Path
) -> None:
    """While `seamscope collect --no-classify` owns the store, `edges` and the others refuse to
    label it: the refusal of a query of the labels named them all the same, and the running
    collect, as what labels it. It names the owner's --no-classify instead."""
    c = start_collector(filled, tmp_path, "--no-classify", "--decoders", "0")
    try:
        done = run("sql", "--db", str(filled), "select * from edges")
        assert done.returncode == 2
        lines = done.stderr.strip().splitlines()
        assert len(lines) == 1, lines
        assert "Table with name edges does not exist" in lines[0]
        assert "its owner does not classify (seamscope collect --no-classify)" in lines[0]
        assert "a running `seamscope collect` as spans arrive" not in lines[0]
        # What it says to do is refused as it says while the owner runs.
        assert run("edges", "--db", str(filled)).returncode == 2
        assert c.stop(signal.SIGTERM) == 0
    finally:
        c.process.stop()
    assert run("edges", "--db", str(filled)).returncode == 0
    assert run("sql", "--db", str(filled), "select * from edges").returncode == 0
