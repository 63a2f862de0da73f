"""A real terminal for the end-to-end tests: a detached tmux session and its screen."""

from __future__ import annotations

import subprocess
import time

from tests.ci import require_tool


def start_terminal(session: str, width: int, height: int, command: str) -> None:
    """Runs the shell command in a new width x height tmux session.

    The test run's COLUMNS and LINES (pytest's tooling exports 80x24) are dropped first: the
    app would take them over the size of the terminal it really runs in. Without tmux the test
    skips, or fails under CI=true.
    """
    subprocess.run(
        [
            require_tool("tmux"),
            "new-session",
            "-d",
            "-s",
            session,
            "-x",
            str(width),
            "-y",
            str(height),
            f"unset COLUMNS LINES; {command}",
        ],
        check=True,
    )


def capture(session: str) -> str:
    done = subprocess.run(
        ["tmux", "capture-pane", "-p", "-t", session], capture_output=True, text=True, check=True
    )
    return done.stdout


def wait_for(session: str, text: str, *more: str, limit_s: float = 60) -> str:
    """The pane's text once it contains text and every one of more, on one screen (bounded
    wait; fails with what was on screen).

    Asking for all the texts a check needs at once matters: the app draws in several frames (a
    summary line before the header's title, table rows before their columns are measured), so
    a screen that shows the first text need not show the rest yet.
    """
    wanted = (text, *more)
    deadline = time.monotonic() + limit_s
    screen = ""
    while time.monotonic() < deadline:
        screen = capture(session)
        if all(t in screen for t in wanted):
            return screen
        time.sleep(0.2)
    missing = [t for t in wanted if t not in screen]
    raise AssertionError(f"{missing!r} never appeared; the screen showed:\n{screen}")


def capture_styled(session: str) -> str:
    """The pane with its colours (SGR escapes), to tell the highlighted row from the others."""
    done = subprocess.run(
        ["tmux", "capture-pane", "-p", "-e", "-t", session],
        capture_output=True,
        text=True,
        check=True,
    )
    return done.stdout


def send_keys(session: str, *names: str) -> None:
    """One key at a time: an Escape followed at once by a key reads as Alt+key in a terminal."""
    for name in names:
        subprocess.run(["tmux", "send-keys", "-t", session, name], check=True)
        if name == "Escape":
            time.sleep(0.4)
