"""`seamscope tui --db PATH` in a real terminal (tmux): keys in, the screen's text out."""

from __future__ import annotations

import json
import os
import shlex
import signal
import sys
import time
import uuid
from pathlib import Path

import pytest

from seamscope.demo.processes import free_port
from tests.e2e.terminal import (
    kill_terminal,
    pane_pid,
    seamscope_line,
    send_keys,
    start_terminal,
    wait_exit,
    wait_for,
)
from tests.functional.sample import build_store

pytestmark = [
    pytest.mark.e2e,
]


def test_browse_the_sample_store_in_a_real_terminal(tmp_path: Path) -> None:
    db = build_store(tmp_path / "sample.duckdb", manual=False)
    session, exit_file = f"seamscope-tui-{uuid.uuid4().hex[:8]}", tmp_path / "exit-code"
    command = seamscope_line("tui", "--db", db, exit_file=exit_file)
    start_terminal(session, 160, 45, command)
    try:
        wait_for(
            session,
            "5 systems + 2 resources of no known owner ·",
            "System landscape",
            *("shop", "orders", "users", "search", "billing"),
            "graphql",
            "anti-pattern",
        )

        send_keys(session, "n")
        wait_for(session, "worst first", "A101", "A303")

        send_keys(session, "Enter")
        wait_for(session, "Evidence", "ANTI-PATTERN", "Do instead")
        wait_for(session, "CLIENT")

        send_keys(session, "Enter")
        wait_for(session, "◀ ✗ A101 anti-pattern")
        wait_for(session, "service.name")  # the selected span's attributes, beside the waterfall

        send_keys(session, "Escape", "Escape", "Escape")
        wait_for(session, "System landscape")
        send_keys(session, "?")
        wait_for(session, "seamscope — keys")
        send_keys(session, "Escape")
        send_keys(session, "s")
        # "History" alone is also the landscape footer's H binding: wait for the console's own
        # caption and status line, drawn once the screen is mounted and its editor focused.
        wait_for(session, "History (F8", "runs the text")
        send_keys(session, "q")  # typed into the SQL editor, not quitting
        send_keys(session, "BSpace", "Escape")
        wait_for(session, "System landscape")

        send_keys(session, "q")
        assert wait_exit(exit_file) == "0"
    finally:
        kill_terminal(session)


def _tui_pid(session: str) -> int:
    """The TUI's process: the child of the pane's shell."""
    shell = pane_pid(session)
    children = Path(f"/proc/{shell}/task/{shell}/children").read_text().split()
    assert len(children) == 1, children
    return int(children[0])


def _gone(pid: int, owner: Path, limit_s: float = 30) -> bool:
    deadline = time.monotonic() + limit_s
    while time.monotonic() < deadline:
        if not owner.exists() and not Path(f"/proc/{pid}").exists():
            return True
        time.sleep(0.2)
    return False


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc")
def test_sigterm_leaves_at_once_without_live_checks(tmp_path: Path) -> None:
    """SIGTERM (a service manager, `seamscope demo`) leaves as q does, also with the live checks
    off (--refresh 0), when nothing else wakes the app's event loop: the handler used to post the
    exit from inside itself, where the loop, asleep in select(), did not see it until the next
    timer, and with no timer never (this test then hit wait_exit's limit)."""
    db = build_store(tmp_path / "sample.duckdb", manual=False)
    session, exit_file = f"seamscope-tui-{uuid.uuid4().hex[:8]}", tmp_path / "exit-code"
    command = seamscope_line("tui", "--refresh", "0", "--db", db, exit_file=exit_file)
    start_terminal(session, 120, 30, command)
    try:
        wait_for(session, "System landscape", "5 systems + 2 resources of no known owner ·")
        time.sleep(3)  # the app idle, asleep in select(): the signal must wake it
        os.kill(_tui_pid(session), signal.SIGTERM)
        assert wait_exit(exit_file, limit_s=30) == "0"
    finally:
        kill_terminal(session)


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc")
@pytest.mark.parametrize("how", [signal.SIGTERM, signal.SIGKILL], ids=["sigterm", "sigkill"])
def test_collect_runs_the_receiver_in_its_own_process_that_goes_with_the_tui(
    tmp_path: Path, how: signal.Signals
) -> None:
    """`seamscope tui --collect`: `seamscope collect` owns the store in a process of its own
    (decoding and classifying do not share the TUI's interpreter), with the memory limit the
    command gives it; it stops with the TUI, also when the TUI is killed outright. The
    receiver's log folder goes with a TUI that leaves; one killed outright cannot remove it."""
    db = tmp_path / "live.duckdb"
    owner = tmp_path / "live.duckdb.owner.json"
    tmp = tmp_path / "t"
    tmp.mkdir()
    session, exit_file = f"seamscope-tui-{uuid.uuid4().hex[:8]}", tmp_path / "exit-code"
    command = seamscope_line(
        "tui",
        "--collect",
        "--port",
        str(free_port()),
        "--memory-limit",
        "500MB",
        "--db",
        db,
        exit_file=exit_file,
        env=f"TMPDIR={shlex.quote(str(tmp))}",
    )
    start_terminal(session, 120, 30, command)
    try:
        wait_for(session, "The store is empty")
        tui = _tui_pid(session)
        receiver = json.loads(owner.read_text())["pid"]
        assert receiver != tui  # the owner is another process ...
        cmdline = Path(f"/proc/{receiver}/cmdline").read_bytes().split(b"\0")
        assert b"collect" in cmdline  # ... `seamscope collect`
        assert cmdline[cmdline.index(b"--memory-limit") + 1] == b"500MB"
        os.kill(tui, how)
        if how is signal.SIGTERM:  # leaves as with q: exit status 0
            assert wait_exit(exit_file) == "0"
        assert _gone(receiver, owner), "the receiver outlived the TUI"
    finally:
        kill_terminal(session)
    logs = list(tmp.glob("seamscope-tui-*/collect.log"))
    if how is signal.SIGTERM:
        assert list(tmp.iterdir()) == []
    else:  # the receiver stopped cleanly all the same, and its log says so
        assert len(logs) == 1
        assert "seamscope: stopped; stored" in logs[0].read_text()


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc")
def test_closing_the_terminal_ends_the_tui_its_receiver_and_their_folder(tmp_path: Path) -> None:
    """The window closes (the terminal hangs up: SIGHUP). Textual's own exit would block writing
    to a terminal that is gone; the TUI leaves at once instead, its receiver flushes and withdraws
    its owner file, and the receiver's log folder goes with them."""
    db, owner, tmp = tmp_path / "live.duckdb", tmp_path / "live.duckdb.owner.json", tmp_path / "t"
    tmp.mkdir()
    session = f"seamscope-tui-{uuid.uuid4().hex[:8]}"
    command = seamscope_line(
        "tui",
        "--collect",
        "--port",
        str(free_port()),
        "--db",
        db,
        env=f"TMPDIR={shlex.quote(str(tmp))}",
    )
    start_terminal(session, 120, 30, command)
    try:
        wait_for(session, "The store is empty")
        tui = _tui_pid(session)
        receiver = json.loads(owner.read_text())["pid"]
        assert list(tmp.glob("seamscope-tui-*/collect.log"))  # the receiver's log folder
    finally:
        kill_terminal(session)
    assert _gone(tui, owner), "the TUI outlived its terminal"
    assert _gone(receiver, owner), "the receiver outlived the TUI"
    assert list(tmp.iterdir()) == []
