"""ManagedProcess.stop() lets what the child leaves in its group leave by itself first, as a
process pool's resource tracker does when it unlinks the pool's semaphores in /dev/shm."""

from __future__ import annotations

import os
import signal
import sys
import time
from pathlib import Path

import pytest

from seamscope.demo.processes import ManagedProcess, group_alive

# The child forks a helper into its own group that ignores SIGTERM, as multiprocessing's
# resource tracker does, waits for the child to go, then cleans up for `work_s` and says so.
CHILD = """
import os, signal, sys, time
out, work_s = sys.argv[1], float(sys.argv[2])
parent = os.getpid()
if os.fork() == 0:
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    open(out + ".helper", "w").write(str(os.getpid()))
    while os.getppid() == parent:
        time.sleep(0.01)
    time.sleep(work_s)
    open(out, "w").write("cleaned up")
    os._exit(0)
while not os.path.exists(out + ".helper"):
    time.sleep(0.01)
open(out + ".ready", "w").close()
while True:
    time.sleep(1)
"""


def _start(tmp_path: Path, work_s: float) -> tuple[ManagedProcess, Path, int]:
    out = tmp_path / "helper.out"
    child = ManagedProcess("child", [sys.executable, "-c", CHILD, str(out), str(work_s)]).start()
    deadline = time.monotonic() + 60
    while not Path(f"{out}.ready").exists():
        assert time.monotonic() < deadline, "the child never started"
        time.sleep(0.02)
    return child, out, int(Path(f"{out}.helper").read_text())


def _gone(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except FileNotFoundError:
        return True
    return state == "Z"


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc")
def test_a_helper_of_the_child_finishes_its_clean_up_before_the_group_is_killed(
    tmp_path: Path,
) -> None:
    child, out, helper = _start(tmp_path, work_s=0.5)
    try:
        assert child.stop(timeout_s=10) == -signal.SIGTERM
        assert out.read_text() == "cleaned up"  # killed with the group, it would not have
        assert not group_alive(child.pid)
    finally:
        child.stop(timeout_s=1, linger_s=0)


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc")
def test_a_helper_that_does_not_leave_is_killed_after_the_linger(tmp_path: Path) -> None:
    child, out, helper = _start(tmp_path, work_s=3600)
    try:
        child.stop(timeout_s=10, linger_s=0.3)
        deadline = time.monotonic() + 30
        while not _gone(helper):
            assert time.monotonic() < deadline, "the helper outlived stop()"
            time.sleep(0.02)
        assert not out.exists()
    finally:
        if not _gone(helper):
            os.kill(helper, signal.SIGKILL)
