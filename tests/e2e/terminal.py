"""A real terminal for the end-to-end tests: a detached tmux session and its screen."""

from __future__ import annotations

import subprocess
import time


def start_terminal(session: str, width: int, height: int, command: str) -> None:
    """Runs the shell command in a new width x height tmux session.

    The test run's COLUMNS and LINES (pytest's tooling exports 80x24) are dropped first: the
    app would take them over the size of the terminal it really runs in.
    """
    subprocess.run(
        [
            "tmux",
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


def pane(session: str) -> str:
    return subprocess.run(
        ["tmux", "capture-pane", "-p", "-t", session], capture_output=True, text=True
    ).stdout


def wait_for_text(session: str, text: str, bound_s: float) -> str:
    """Polls the pane until text shows; the bound only ends a hung run, it measures nothing."""
    deadline = time.monotonic() + bound_s
    while True:
        screen = pane(session)
        if text in screen or time.monotonic() > deadline:
            return screen
        time.sleep(0.5)
