"""What `seamscope --help` and each command's help say, read as a user reads them: in a
terminal of 80 columns, and against what the command then does.

The installed `seamscope` runs as a process for each; a help that promises what the command
does not do (or leaves out what it does) sends users the wrong way as surely as a wrong doc.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
from pathlib import Path

import pytest

from seamscope.cli.main import COMMANDS
from seamscope.tracer.ingest import TRACE_FILE_NAMES
from tests.e2e.test_collect import SEAMSCOPE
from tests.e2e.test_demo import ROOT

pytestmark = pytest.mark.e2e

WIDTH = 80
HELPS = [[], *([name] for name in sorted(COMMANDS)), ["discover", "aws"]]


def run(*args: str | Path, columns: int = WIDTH) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "COLUMNS": str(columns)}
    return subprocess.run(
        [*SEAMSCOPE, *map(str, args)], capture_output=True, text=True, timeout=120, env=env
    )


@pytest.mark.parametrize("command", HELPS, ids=lambda c: " ".join(c) or "seamscope")
def test_every_help_fits_80_columns(command: list[str]) -> None:
    done = run(*command, "--help")
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith("Usage: seamscope"), done.stdout
    wide = [line for line in done.stdout.splitlines() if len(line) > WIDTH]
    assert wide == [], f"`seamscope {' '.join(command)} --help` is wider than {WIDTH}: {wide}"


def test_ingest_help_names_every_kind_of_file_a_folder_is_searched_for() -> None:
    """The help listed the folder's files without *.ndjson, which ingest reads (the README
    names it)."""
    text = " ".join(run("ingest", "--help").stdout.split())
    for pattern in re.findall(r"\*\.\w+", TRACE_FILE_NAMES):
        assert pattern in text, f"`seamscope ingest --help` does not name {pattern}"


def test_ingest_help_says_what_a_reformatted_request_does(tmp_path: Path) -> None:
    """The help said a request reformatted by jq is another request; ingest knows it by its
    spans' ids too and adds nothing, as the README says. The help and the command agree."""
    line = (ROOT / "sample_traces" / "demo-fleet.jsonl").read_text().splitlines()[0]
    compact = tmp_path / "one.jsonl"
    compact.write_text(line + "\n")
    pretty = tmp_path / "pretty.json"
    pretty.write_text(json.dumps(json.loads(line), indent=2) + "\n")  # as `jq .` writes it
    db = tmp_path / "s.duckdb"
    first = run("ingest", compact, "--db", db)
    assert first.returncode == 0 and " 0 spans stored" not in first.stdout, first.stderr
    again = run("ingest", pretty, "--db", db)
    assert again.returncode == 0, again.stderr
    assert "1 request read: 0 spans stored" in again.stdout, again.stdout + again.stderr
    text = " ".join(run("ingest", "--help").stdout.split())
    assert "are another request" not in text
    assert "pretty-printed by jq, or as protobuf, adds nothing" in text


def test_demo_and_sql_help_say_what_they_print() -> None:
    """`demo --headless` prints every labelled edge (the README's words), not only the
    findings; `sql --json` has "truncated" beside columns and rows (docs/schema.md)."""
    demo = " ".join(run("demo", "--help").stdout.split())
    assert "print every labelled edge, findings first" in demo
    sql = " ".join(run("sql", "--help").stdout.split())
    assert "{columns, rows, truncated}" in sql


def test_collect_help_names_every_command_that_goes_through_it() -> None:
    """The help named only `sql` and `ingest` as going through a running collect; every
    command that reads the store does (cli/edges.py's `load` opens it through the owner)."""
    text = " ".join(run("collect", "--help").stdout.split())
    for command in ("ingest", "sql", "edges", "check", "export", "drift", "tui"):
        assert f"`{command}`" in text or f"`seamscope {command}`" in text, command
