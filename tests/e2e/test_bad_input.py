"""What a user mistypes, through the real command line: one message that names what and where,
exit status 2, no traceback."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
import uuid
from pathlib import Path

import pytest

from seamscope.tracer.otlp import protobuf_to_json
from tests.e2e.terminal import (
    kill_terminal,
    seamscope_line,
    send_keys,
    start_terminal,
    wait_exit,
    wait_for,
)
from tests.e2e.test_collect import SEAMSCOPE, start_collector
from tests.otlp_sample import sample_request

pytestmark = pytest.mark.e2e


def _line(seed: int, spans: int = 4) -> str:
    return protobuf_to_json(sample_request(spans, seed=seed).SerializeToString())


def run(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*SEAMSCOPE, *args],
        capture_output=True,
        text=True,
        timeout=120,
        stdin=subprocess.DEVNULL,
        cwd=cwd,
    )


@pytest.mark.parametrize(
    ("args", "said"),
    [
        (["collect", "--memory-limit", "lots"], "'--memory-limit': 'lots' is not a size"),
        (["collect", "--memory-limit", "1KB"], "'--memory-limit': '1KB' is less than 1MB"),
        (["collect", "--max-temp-size", "90%"], "'--max-temp-size': '90%' is not a size"),
        (["tui", "--collect", "--memory-limit", "1PB"], "'--memory-limit': '1PB' is not a size"),
    ],
    ids=["memory-not-a-size", "memory-too-small", "temp-percent", "tui-unknown-unit"],
)
def test_a_wrong_duckdb_size_is_named_with_its_option(
    tmp_path: Path, args: list[str], said: str
) -> None:
    """DuckDB refused these only when the store was opened: 'lots' came back as the store's
    fault ("s.duckdb: Parser Error: ..."), 1KB as a traceback (new store) or "the store is
    locked" (one with tables)."""
    db = tmp_path / "s.duckdb"
    done = run(*args, "--db", str(db), "--port", "0", cwd=tmp_path)
    assert done.returncode == 2, done.stderr
    assert said in done.stderr
    assert "Traceback" not in done.stderr
    assert not db.exists()  # refused before anything was opened


def test_collect_counts_the_requests_it_refuses(tmp_path: Path) -> None:
    """A sender whose requests are all refused (400) left no trace in collect's output: its
    running count and last line said 0 spans stored and nothing else, as if nobody sent."""
    db = tmp_path / "s.duckdb"
    collector = start_collector(db, tmp_path, "--no-classify", "--decoders", "0")
    try:
        for body in (b"\xff\xfe not JSON", b'{"resourceSpans": "x"}'):
            status, _ = collector.post(body, {"Content-Type": "application/json"})
            assert status == 400
        status, _ = collector.post(_line(1).encode(), {"Content-Type": "application/json"})
        assert status == 200
    finally:
        assert collector.stop(signal.SIGINT) == 0
    lines = collector.log.read_text().splitlines()
    assert lines[-1] == (
        "seamscope: stopped; stored 4 spans (0 rejected, 0 repeated, 0 from the spool, "
        "2 bad requests refused)"
    )


def test_tui_of_damaged_files_says_what_it_could_not_read(tmp_path: Path) -> None:
    """`seamscope tui FILES` loaded them with ingest's code and dropped its report: a damaged
    request and a rejected span were gone from the landscape without a word, and it ended 0."""
    path = tmp_path / "traces.jsonl"
    rejected = json.loads(_line(2))
    del rejected["resourceSpans"][0]["scopeSpans"][0]["spans"][0]["traceId"]
    path.write_text("\n".join(["garbage line", _line(1), json.dumps(rejected)]) + "\n")
    _tui_of_files(
        tmp_path,
        path,
        "1 bad request skipped and 1 span rejected in the files given: where is said in the "
        "terminal when you quit",
        "1",
        f"seamscope: {path}:1: not JSON",
        f"seamscope: {path}:3: resourceSpans[0].scopeSpans[0].spans[0].traceId: missing",
        "seamscope: 3 requests read: 7 spans stored, 0 already present, 1 rejected, "
        "1 bad request skipped",
    )


def test_tui_of_files_says_which_spans_it_stored_with_text_repaired(tmp_path: Path) -> None:
    """A request with one string of invalid UTF-8 was a bad request skipped, its spans gone
    from the landscape; now they are stored with the text repaired, which the news line and
    the lines at the end say, and the TUI ends 0 as ingest does (nothing was lost)."""
    path = tmp_path / "traces.jsonl"
    request = sample_request(4, services=1, seed=5)
    request.resource_spans[0].scope_spans[0].spans[1].name = "NAME-TO-SPOIL"
    spoiled = protobuf_to_json(request.SerializeToString()).encode()
    spoiled = spoiled.replace(b"NAME-TO-SPOIL", b"NAME-T\xff-SPOIL")
    path.write_bytes(_line(1).encode() + b"\n" + spoiled + b"\n")
    _tui_of_files(
        tmp_path,
        path,
        "1 span with invalid UTF-8 replaced in the files given: where is said in the terminal "
        "when you quit",
        "0",
        f"seamscope: {path}:2: invalid UTF-8 replaced by U+FFFD in 1 span",
        "seamscope: 2 requests read: 8 spans stored, 0 already present, 1 with invalid "
        "UTF-8 replaced",
    )


def _tui_of_files(tmp_path: Path, path: Path, news: str, status: str, *said: str) -> None:
    """`seamscope tui FILE` in a real terminal: the news line over the landscape, then, once
    q quit it, its exit status and the lines it said at the end (the terminal stays to be
    read)."""
    session, exit_file = f"seamscope-tui-{uuid.uuid4().hex[:8]}", tmp_path / "exit-code"
    line = seamscope_line("tui", path, exit_file=exit_file)
    start_terminal(session, 160, 40, f"{line}; sleep 120")
    try:
        wait_for(session, news, "System landscape")
        send_keys(session, "q")
        assert wait_exit(exit_file) == status
        wait_for(session, *said)
    finally:
        kill_terminal(session)


def test_collect_refuses_a_landscape_it_would_not_read(tmp_path: Path) -> None:
    """With --no-classify the landscape file went unread: collect ran, and a mistake in the
    file (here an unknown key) or the belief that it was applied went unnoticed."""
    landscape = tmp_path / "seamscope.toml"
    landscape.write_text('[systems.shop]\ncomponents = { shop-api = "backend" }\ncolour = 1\n')
    done = run(
        "collect", "--db", "s.duckdb", "--port", "0", "--no-classify",
        "--landscape", str(landscape), cwd=tmp_path,
    )  # fmt: skip
    assert done.returncode == 2, done.stderr
    assert "--landscape is for the live classification, which --no-classify turns off" in (
        done.stderr
    )
    assert not (tmp_path / "s.duckdb").exists()


def _ignores_sigint(pid: int) -> bool:
    status = Path(f"/proc/{pid}/status").read_text()
    ignored = int(
        next(line for line in status.splitlines() if line.startswith("SigIgn:")).split()[1], 16
    )
    return bool(ignored & (1 << (signal.SIGINT - 1)))


def _children(pid: int) -> list[int]:
    return [int(c) for c in Path(f"/proc/{pid}/task/{pid}/children").read_text().split()]


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc")
def _sigint_as_in_a_terminal() -> None:
    """In the child, before exec: Ctrl-C's default action back. A shell that starts a command
    in the background (a CI script's `cmd &`) ignores SIGINT for it, and Python then installs no
    KeyboardInterrupt handler: the signal under test would be ignored, as it rightly is there."""
    signal.signal(signal.SIGINT, signal.SIG_DFL)


def test_ctrl_c_stops_ingest_saying_what_was_done(tmp_path: Path) -> None:
    """Ctrl-C (SIGINT to the whole process group, as a terminal sends it) while ingest reads:
    click said "Aborted." and nothing of what was read or stored, and each decoder process
    printed a KeyboardInterrupt traceback."""
    db = tmp_path / "s.duckdb"
    ingest = subprocess.Popen(
        [*SEAMSCOPE, "ingest", "--db", str(db), "--jobs", "2", "-"],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,
        preexec_fn=_sigint_as_in_a_terminal,
    )
    assert ingest.stdin is not None
    try:
        ingest.stdin.write(_line(1) + "\n")
        ingest.stdin.flush()  # and left open: ingest waits for more
        # Ready when its store is open (after the decoders started) and they ignore Ctrl-C:
        # that is what is under test, so a decoder that never does is a failure here too.
        deadline = time.monotonic() + 60
        while not (db.exists() and len(_children(ingest.pid)) >= 2):
            assert time.monotonic() < deadline, "ingest did not start its decoders"
            time.sleep(0.05)
        while not all(_ignores_sigint(child) for child in _children(ingest.pid)):
            assert time.monotonic() < deadline, "a decoder process does not ignore Ctrl-C"
            time.sleep(0.05)
        os.killpg(ingest.pid, signal.SIGINT)
        out, err = ingest.communicate(timeout=120)
    finally:
        if ingest.poll() is None:
            ingest.kill()
            ingest.wait()
    assert ingest.returncode == 130, err
    assert "Traceback" not in err
    assert err.splitlines()[-1].startswith("seamscope: interrupted; ")
    assert err.splitlines()[-1].endswith(
        "What was stored stays; the same command again loads the rest, and nothing twice"
    )
    assert out == ""


def _cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")  # utime + stime


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc")
def test_ctrl_c_during_a_query_ends_without_a_traceback(tmp_path: Path) -> None:
    """DuckDB takes SIGINT while a query runs and raises RuntimeError("Query interrupted") in
    place of KeyboardInterrupt: Ctrl-C in a long `seamscope sql` printed its traceback, status 1."""
    db = tmp_path / "s.duckdb"
    (tmp_path / "t.jsonl").write_text(_line(1) + "\n")
    assert run("ingest", "--db", str(db), "t.jsonl", cwd=tmp_path).returncode == 0
    query = subprocess.Popen(
        [*SEAMSCOPE, "sql", "--db", str(db), "--timeout", "3600",
         "SELECT sum(range) FROM range(1000000000000)"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,
        preexec_fn=_sigint_as_in_a_terminal,
    )  # fmt: skip
    try:
        # In the query once it has used more CPU than starting takes (about half a second).
        deadline = time.monotonic() + 120
        while _cpu_seconds(query.pid) < 4:
            assert query.poll() is None, query.communicate()
            assert time.monotonic() < deadline, "the query did not run"
            time.sleep(0.1)
        os.killpg(query.pid, signal.SIGINT)
        out, err = query.communicate(timeout=120)
    finally:
        if query.poll() is None:
            query.kill()
            query.wait()
    assert "Traceback" not in err, err
    assert query.returncode == 130, err
    assert out == ""
