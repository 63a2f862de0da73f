"""A real terminal for the end-to-end tests: a detached tmux session and its screen.

Every command goes to a tmux server of the tests' own (`tmux -L`, one per test process), so the
tests neither see nor disturb the sessions of the person running them, nor another run's. That
server is killed, and the socket tmux leaves behind removed, when the test process ends
(`stop_server`, at exit and at the end of the session), so an interrupted run leaves no app
running in a forgotten terminal.
"""

from __future__ import annotations

import atexit
import os
import shlex
import shutil
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

from tests.ci import require_tool

SOCKET = f"seamscope-tests-{os.getpid()}"
_cleanup_registered = False


def socket_path() -> Path:
    """Where tmux makes the socket of `-L SOCKET` (tmux(1): $TMUX_TMPDIR or /tmp)."""
    return Path(os.environ.get("TMUX_TMPDIR") or "/tmp") / f"tmux-{os.getuid()}" / SOCKET


def stop_server() -> None:
    """Kills the tests' own tmux server, and with it whatever still runs in its sessions (they
    get SIGHUP, as when a terminal closes), and removes its socket. Nothing when none runs."""
    binary = shutil.which("tmux")
    if binary is not None:
        subprocess.run(
            [binary, "-L", SOCKET, "kill-server"], capture_output=True, check=False, timeout=30
        )
    socket_path().unlink(missing_ok=True)


def tmux(*args: str, check: bool = True) -> str:
    """Runs a tmux command on the tests' own server; its standard output."""
    global _cleanup_registered
    if not _cleanup_registered:
        _cleanup_registered = True
        atexit.register(stop_server)
    done = subprocess.run(
        [require_tool("tmux"), "-L", SOCKET, *args], capture_output=True, text=True, check=False
    )
    if check and done.returncode != 0:
        raise AssertionError(f"tmux {' '.join(args)} failed: {done.stderr.strip()}")
    return done.stdout


def seamscope_line(
    *args: str | Path, exit_file: Path | None = None, cwd: Path | None = None, env: str = ""
) -> str:
    """The shell line a terminal runs for `seamscope ARGS` (this interpreter's `-m seamscope.cli`),
    every argument quoted; exit_file: where its exit status goes (for wait_exit); env:
    `NAME=value` assignments put before it (quoted by the caller); cwd: the folder it runs in."""
    words = [sys.executable, "-m", "seamscope.cli", *map(str, args)]
    line = " ".join(shlex.quote(w) for w in words)
    if env:
        line = f"{env} {line}"
    if cwd is not None:
        line = f"cd {shlex.quote(str(cwd))} && {line}"
    if exit_file is not None:
        line = f"{line}; echo $? > {shlex.quote(str(exit_file))}"
    return line


def start_terminal(session: str, width: int, height: int, command: str) -> None:
    """Runs the shell command in a new width x height tmux session.

    The test run's COLUMNS and LINES (pytest's tooling exports 80x24) are dropped first: the
    app would take them over the size of the terminal it really runs in. Without tmux the test
    skips, or fails under CI=true.
    """
    tmux(
        "new-session",
        "-d",
        "-s",
        session,
        "-x",
        str(width),
        "-y",
        str(height),
        f"unset COLUMNS LINES; {command}",
    )


def kill_terminal(session: str) -> None:
    """Ends the session (and what runs in it); nothing when it has ended already."""
    tmux("kill-session", "-t", session, check=False)


def capture(session: str) -> str:
    return tmux("capture-pane", "-p", "-t", session)


def capture_styled(session: str) -> str:
    """The pane with its colours (SGR escapes), to tell the highlighted row from the others."""
    return tmux("capture-pane", "-p", "-e", "-t", session)


def pane_pid(session: str) -> int:
    """The process of the pane's shell."""
    return int(tmux("display-message", "-p", "-t", session, "#{pane_pid}").strip())


def wait_until(session: str, holds: Callable[[str], bool], what: str, limit_s: float = 60) -> str:
    """The pane's text once holds(text) is true (bounded wait; fails with what was on screen)."""
    deadline = time.monotonic() + limit_s
    screen = ""
    while time.monotonic() < deadline:
        screen = capture(session)
        if holds(screen):
            return screen
        time.sleep(0.2)
    raise AssertionError(f"{what}: never on screen within {limit_s:.0f} s; it showed:\n{screen}")


def wait_for(session: str, text: str, *more: str, limit_s: float = 60) -> str:
    """The pane's text once it contains text and every one of more, on one screen.

    Asking for all the texts a check needs at once matters: the app draws in several frames (a
    summary line before the header's title, table rows before their columns are measured), so
    a screen that shows the first text need not show the rest yet.
    """
    wanted = (text, *more)
    return wait_until(
        session,
        lambda screen: all(t in screen for t in wanted),
        f"{[t for t in wanted]!r}",
        limit_s,
    )


def send_keys(session: str, *names: str) -> None:
    """One key at a time: an Escape followed at once by a key reads as Alt+key in a terminal."""
    for name in names:
        tmux("send-keys", "-t", session, name)
        if name == "Escape":
            time.sleep(0.4)


def send_text(session: str, text: str) -> None:
    """Types text as it is (no key names)."""
    tmux("send-keys", "-t", session, "-l", text)


def wait_exit(exit_file: Path, limit_s: float = 60) -> str:
    """The exit status the session's shell wrote once the command ended (bounded wait)."""
    deadline = time.monotonic() + limit_s
    while not exit_file.exists() and time.monotonic() < deadline:
        time.sleep(0.2)
    assert exit_file.exists(), f"the command did not end within {limit_s:.0f} s"
    return exit_file.read_text().strip()
