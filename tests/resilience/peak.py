"""A command's own peak memory, for the tests that bound what hostile input may take.

Not the ru_maxrss `wait4` gives the test for a child it started: Linux carries a parent's peak
at fork over the exec into the child's ru_maxrss, so a command started by a test worker that
once held 1.1 GB (after other tests in the same worker) reports 1.1 GB whatever it took itself.
The command is started by a small launcher process instead, whose own peak (a bare interpreter)
is all its child can inherit, and which reports its child's ru_maxrss."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from collections.abc import Mapping, Sequence
from pathlib import Path

_LAUNCHER = """
import os, subprocess, sys
with open(sys.argv[1], "wb") as sink:
    child = subprocess.Popen(
        sys.argv[2:], stdin=subprocess.DEVNULL, stdout=sink, stderr=subprocess.STDOUT
    )
_, status, usage = os.wait4(child.pid, 0)
child.returncode = os.waitstatus_to_exitcode(status)  # Popen must not wait for it again
print(child.returncode, usage.ru_maxrss * 1024)
"""


def run_measured(
    command: Sequence[str], out: Path, env: Mapping[str, str] | None = None, timeout: float = 240
) -> tuple[int, str, int]:
    """Runs command (its output, standard error then standard output, into out); its exit
    status, that output and its own peak RSS in bytes. Killed, with its launcher, after
    timeout seconds."""
    launcher = subprocess.Popen(
        [sys.executable, "-c", _LAUNCHER, str(out), *command],
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        env=None if env is None else dict(env),
        start_new_session=True,
    )
    try:
        said, _ = launcher.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        os.killpg(launcher.pid, signal.SIGKILL)
        launcher.communicate()
        raise AssertionError(f"{' '.join(command)} ran past {timeout:g} s") from None
    status, peak = (int(word) for word in said.split())
    return status, out.read_text(), peak
