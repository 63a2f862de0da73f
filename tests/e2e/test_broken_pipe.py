"""Commands whose output's reader goes away (`seamscope sql ... | head -1`) leave quietly, as
Unix tools do: no traceback, no "Exception ignored ... BrokenPipeError" at exit, and the status a
shell gives a process SIGPIPE ended (141; cli/main.py says why). Real processes, real pipes."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from benchmarks.generate import generate_classified_store, landscape_path
from seamscope.cli.main import READER_GONE_STATUS

pytestmark = pytest.mark.e2e

PIPE_BUFFER = 64 * 1024  # Linux's default pipe capacity


@pytest.fixture(scope="module")
def store(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("pipes") / "pipes.duckdb"
    generate_classified_store(path, 3_000)
    return path


def command(*args: str | Path) -> list[str]:
    return [sys.executable, "-m", "seamscope.cli", *map(str, args)]


def run_into_closed_pipe(args: list[str], cwd: Path) -> subprocess.CompletedProcess[str]:
    """args with stdout a pipe whose reader has closed already: the first write breaks."""
    read_end, write_end = os.pipe()
    os.close(read_end)
    try:
        return subprocess.run(
            args,
            stdout=write_end,
            stderr=subprocess.PIPE,
            stdin=subprocess.DEVNULL,
            text=True,
            timeout=180,
            cwd=cwd,
        )
    finally:
        os.close(write_end)


def commands(store: Path) -> dict[str, list[str]]:
    landscape = landscape_path(store)
    db = ["--db", str(store)]
    classified = [*db, "--landscape", str(landscape)]
    return {
        "sql table": ["sql", "SELECT * FROM spans", *db],
        "sql --csv": ["sql", "SELECT * FROM spans", "--csv", *db],
        "sql --json": ["sql", "SELECT * FROM spans", "--json", *db],
        "edges": ["edges", *classified],
        "edges --format json": ["edges", "--format", "json", *classified],
        "patterns": ["patterns"],
        "patterns A401": ["patterns", "A401"],
        "drift": ["drift", *classified],
        "drift --format json": ["drift", "--format", "json", *classified],
        "export": ["export", *classified],
        "export structurizr": ["export", "--format", "structurizr", *classified],
        "check": ["check", *classified],
        "check --format sarif": ["check", "--format", "sarif", *classified],
        "check --format junit": ["check", "--format", "junit", *classified],
        "--help": ["--help"],
        "sql --help": ["sql", "--help"],
    }


NAMES = list(commands(Path("store.duckdb")))


@pytest.mark.skipif(sys.platform == "win32", reason="POSIX pipes")
@pytest.mark.parametrize("name", NAMES)
def test_a_reader_gone_before_the_first_line_ends_the_command_quietly(
    store: Path, tmp_path: Path, name: str
) -> None:
    done = run_into_closed_pipe(command(*commands(store)[name]), tmp_path)
    assert done.stderr == ""
    assert done.returncode == READER_GONE_STATUS == 141


def _into_head(args: list[str], whole: bytes, env: dict[str, str] | None = None) -> None:
    """Runs args into `head -1`: head prints the first line of whole, and the command ends
    with the status of a cut output and says nothing."""
    writer = subprocess.Popen(args, stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env)
    assert writer.stdout is not None and writer.stderr is not None
    head = subprocess.run(
        ["head", "-1"], stdin=writer.stdout, capture_output=True, timeout=180, check=True
    )
    writer.stdout.close()  # head holds the only reader now
    err = writer.stderr.read().decode()
    writer.stderr.close()
    assert writer.wait(timeout=180) == READER_GONE_STATUS
    assert err == ""
    assert head.stdout == whole.splitlines(keepends=True)[0]


@pytest.mark.skipif(sys.platform == "win32", reason="POSIX pipes")
@pytest.mark.parametrize("fmt", [[], ["--csv"]], ids=["table", "csv"])
def test_sql_into_head_prints_the_first_line_and_ends_quietly(
    store: Path, tmp_path: Path, fmt: list[str]
) -> None:
    """`seamscope sql ... | head -1` over more rows than a pipe holds, so the reader goes away
    while the command still writes."""
    args = command("sql", "SELECT * FROM spans", *fmt, "--db", store)
    whole = subprocess.run(args, capture_output=True, timeout=180, check=True).stdout
    assert len(whole) > 4 * PIPE_BUFFER
    _into_head(args, whole)


@pytest.mark.skipif(sys.platform == "win32", reason="POSIX pipes")
def test_collect_whose_reader_went_away_stops_cleanly(store: Path, tmp_path: Path) -> None:
    """The receiver's first line breaks the pipe: it stops as on Ctrl-C (what it queued written,
    its owner file withdrawn) and leaves quietly; before, the failed line of its stop skipped the
    stop itself, and the owner file stayed behind."""
    db = tmp_path / "collect.duckdb"
    done = run_into_closed_pipe(
        command("collect", "--db", db, "--port", "0", "--no-classify", "--decoders", "0"),
        tmp_path,
    )
    assert done.stderr == ""
    assert done.returncode == READER_GONE_STATUS
    assert not db.with_name(db.name + ".owner.json").exists()
    assert sorted(p.name for p in tmp_path.iterdir() if p.name.startswith("collect")) == [
        "collect.duckdb"
    ]


@pytest.mark.skipif(sys.platform == "win32", reason="POSIX pipes")
@pytest.mark.parametrize("unbuffered", [False, True], ids=["buffered", "PYTHONUNBUFFERED"])
@pytest.mark.parametrize("fmt", ["table", "json"])
def test_edges_into_head_ends_with_the_status_of_a_cut_output(
    store: Path, tmp_path: Path, fmt: str, unbuffered: bool
) -> None:
    """`seamscope edges | head -1` writes its whole output at once, far more than a pipe holds.
    Under PYTHONUNBUFFERED, Python's stdout dropped what the write did not get into the pipe
    before head left (python/cpython#85393) and the command exited 0, as if nothing was cut."""
    args = command("edges", "--format", fmt, "--db", store, "--landscape", landscape_path(store))
    env = {k: v for k, v in os.environ.items() if k != "PYTHONUNBUFFERED"}
    if unbuffered:
        env["PYTHONUNBUFFERED"] = "1"
    whole = subprocess.run(args, capture_output=True, timeout=180, check=True, env=env).stdout
    assert len(whole) > 2 * PIPE_BUFFER
    _into_head(args, whole, env)
