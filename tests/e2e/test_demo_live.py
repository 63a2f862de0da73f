"""`seamscope demo` live, in a real terminal (tmux): the landscape fills in, quitting stops all."""

from __future__ import annotations

import re
import sys
import time
import uuid
from pathlib import Path

import duckdb
import pytest

from tests.e2e.terminal import (
    kill_terminal,
    seamscope_line,
    send_keys,
    start_terminal,
    wait_exit,
    wait_for,
)
from tests.e2e.test_demo import MARKER, assert_nothing_left, marked_processes

pytestmark = [
    pytest.mark.e2e,
    pytest.mark.slow,
    pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc"),
]


def test_live_demo_shows_findings_and_quitting_leaves_nothing(tmp_path: Path) -> None:
    run_id, logs, session = uuid.uuid4().hex, tmp_path / "logs", f"demo-{uuid.uuid4().hex[:8]}"
    done = tmp_path / "exit-code"
    command = seamscope_line(
        "demo", "--port", "0", "--logs", logs, exit_file=done, env=f"{MARKER}={run_id}"
    )
    start_terminal(session, 180, 45, command)
    try:
        # The cron copy (A401) was found live, while the fleet runs.
        wait_for(session, "System landscape", limit_s=120)
        send_keys(session, "n")
        wait_for(session, "A401", "worst first", limit_s=120)
        # q in a live session asks first; y quits and stops the fleet.
        send_keys(session, "q")
        wait_for(session, "Quit and stop receiving?")
        send_keys(session, "y")
        assert wait_exit(done) == "0"
    finally:
        kill_terminal(session)
    deadline = time.monotonic() + 30
    while marked_processes(run_id) and time.monotonic() < deadline:
        time.sleep(0.2)
    assert_nothing_left(run_id, logs)
    # The receiver, stopped after the services, stored every span they sent at their stop;
    # stopped first (by the TUI, as it was), the Python services wrote their last spans into
    # the store past it and the Node BFF's were lost.
    said = (logs / "collector.log").read_text().strip().splitlines()[-1]
    stored = re.fullmatch(r"seamscope: stopped; stored ([\d,]+) spans \(0 rejected.*", said)
    assert stored is not None, said
    con = duckdb.connect(str(logs / "seamscope.duckdb"), read_only=True)
    try:
        row = con.execute("SELECT count(*) FROM spans").fetchone()
    finally:
        con.close()
    assert row is not None and row[0] == int(stored.group(1).replace(",", ""))
    assert not (logs / "seamscope.duckdb.spool").exists() or not any(
        (logs / "seamscope.duckdb.spool").iterdir()
    )
