"""What the owner's SQL endpoint and `seamscope sql` answer for results that are hard to hold,
against a real `seamscope collect`: values Python cannot hold, and a JSON answer near the size
bound.

DuckDB's dates and timestamps reach past Python's (its 'infinity', a year past 9999), and
pyarrow raises for them: one such value in a result gave a 500 and a traceback in the owner's
log for a JSON answer, and a traceback from `seamscope sql`, through the owner or alone. Such a
value is shown as text now. A JSON answer held the result's Arrow batches until its last piece
of text was made: about twice its size at the peak.
"""

from __future__ import annotations

import http.client
import json
import subprocess
from pathlib import Path
from typing import Any

import pytest

from seamscope.tracer.owner import find_owner
from tests.e2e.test_collect import SEAMSCOPE, Collector
from tests.resilience.test_hostile_http import peak_kb

pytestmark = pytest.mark.e2e

HARD = (
    "SELECT 'infinity'::date AS d, '-infinity'::timestamp AS ts, 'infinity'::timestamptz AS tz,"
    " '294247-01-10'::timestamp AS far, 'infinity'::timestamp_ns AS ns, 7 AS n"
)


def ask(db: Path, sql: str, want_json: bool = True) -> tuple[int, bytes]:
    owner = find_owner(db)
    assert owner is not None
    conn = http.client.HTTPConnection("127.0.0.1", owner.port, timeout=120)
    try:
        headers = {"Content-Type": "application/json", **owner.headers()}
        payload: dict[str, Any] = {"sql": sql}
        if want_json:
            payload["format"] = "json"
        conn.request("POST", "/seamscope/v1/sql", json.dumps(payload), headers)
        response = conn.getresponse()
        return response.status, response.read()
    finally:
        conn.close()


def sql(db: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*SEAMSCOPE, "sql", "--db", str(db), *args],
        capture_output=True,
        text=True,
        timeout=120,
        stdin=subprocess.DEVNULL,
    )


def _check_cli(db: Path) -> None:
    table = sql(db, HARD)
    assert table.returncode == 0 and "Traceback" not in table.stderr, table.stderr[-2000:]
    assert "│ infinity │ -infinity │ infinity │" in table.stdout, table.stdout
    csv = sql(db, "--csv", HARD)
    assert csv.returncode == 0, csv.stderr[-2000:]
    assert csv.stdout.splitlines()[1].startswith("infinity,-infinity,infinity,"), csv.stdout
    assert csv.stdout.splitlines()[1].endswith(",infinity,7"), csv.stdout
    as_json = sql(db, "--json", HARD)
    assert as_json.returncode == 0, as_json.stderr[-2000:]
    row = json.loads(as_json.stdout)["rows"][0]
    assert row[:3] == ["infinity", "-infinity", "infinity"] and row[4:] == ["infinity", 7], row


def test_values_python_cannot_hold_are_answered_as_text(
    collector: Collector, db_path: Path
) -> None:
    status, body = ask(db_path, HARD)
    assert status == 200, body[:300]
    row = json.loads(body)["rows"][0]
    assert row[:3] == ["infinity", "-infinity", "infinity"] and row[4:] == ["infinity", 7], row
    assert "294247" in row[3] or "out of range" in row[3], row
    _check_cli(db_path)  # through the owner (an Arrow answer)
    log = collector.log.read_text()
    assert "Traceback" not in log, log[-3000:]
    collector.process.stop()
    _check_cli(db_path)  # alone, on a read-only connection of its own


ANSWER_ROWS = 60_000
"""Rows of 1,000 bytes: a JSON answer of about 60 MB, within the default 64 MB bound."""


def test_a_json_answer_is_held_once(collector: Collector, db_path: Path) -> None:
    before = peak_kb(collector)
    status, body = ask(db_path, f"SELECT repeat('x', 1000) AS a FROM range({ANSWER_ROWS})")
    assert status == 200 and len(json.loads(body)["rows"]) == ANSWER_ROWS
    growth = (peak_kb(collector) - before) * 1024
    # The text and one batch at a time; it was the text and every batch (2.1 times the answer).
    assert growth < 1.5 * len(body), f"the owner's peak grew by {growth / len(body):.2f} answers"


def test_one_huge_value_is_refused_naming_the_row_and_intake_goes_on(
    collector: Collector, db_path: Path
) -> None:
    """A single value of 100 MB, past the 64 MB bound: refused with a message that says one row
    is too large (fewer rows, which the usual message asks for, cannot help), within a bound
    of the owner's memory. DuckDB makes the value, and Arrow a copy of it, before the bound
    can be applied: the owner's peak grows by about 480 MB (docs/schema.md)."""
    before = peak_kb(collector)
    for want_json in (True, False):
        status, body = ask(db_path, "SELECT repeat('x', 100000000) AS a", want_json)
        assert status == 400, body[:300]
        error = json.loads(body)["error"]
        assert error.startswith("one row of the result is larger than 64 MB"), error
        assert "left()" in error, error
    growth_mb = (peak_kb(collector) - before) // 1024
    assert growth_mb < 1024, f"the owner's peak grew by {growth_mb} MB"
    assert ask(db_path, "SELECT count(*) AS n FROM spans")[0] == 200
    status, body = ask(db_path, "SELECT repeat('x', 1000000) AS a FROM range(100)")
    assert status == 400 and "select fewer rows or columns" in json.loads(body)["error"]
