"""The tests' own tmux server leaves nothing behind: no server, no socket, no program that ran
in one of its terminals, however the test process ends."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.ci import require_tool

ROOT = Path(__file__).resolve().parents[2]

CHILD = """
import sys
from tests.e2e import terminal
terminal.start_terminal("left", 80, 24, "sleep 600")
print(terminal.SOCKET, terminal.socket_path(), terminal.pane_pid("left"), flush=True)
if sys.argv[1] == "error":
    raise SystemExit("a test run that ends in an error")
"""


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


@pytest.mark.parametrize("ending", ["normal", "error"])
def test_a_test_process_leaves_no_tmux_server_socket_or_program(ending: str) -> None:
    tmux = require_tool("tmux")
    done = subprocess.run(
        [sys.executable, "-c", CHILD, ending],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert (done.returncode == 0) == (ending == "normal"), done.stderr
    socket_name, socket, pid = done.stdout.split()
    deadline = time.monotonic() + 30
    while _alive(int(pid)) and time.monotonic() < deadline:
        time.sleep(0.1)
    try:
        assert not _alive(int(pid)), "the program in the tests' terminal still runs"
        assert not Path(socket).exists(), f"{socket} left behind"
        listed = subprocess.run(
            [tmux, "-L", socket_name, "list-sessions"], capture_output=True, check=False
        )
        assert listed.returncode != 0, "the tests' tmux server still runs"
    finally:
        subprocess.run([tmux, "-L", socket_name, "kill-server"], capture_output=True, check=False)
        Path(socket).unlink(missing_ok=True)
        if _alive(int(pid)):
            os.kill(int(pid), signal.SIGKILL)
