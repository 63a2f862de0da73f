"""A --db that is no regular file (a named pipe, a folder) is refused at once by every command
that takes one: one line, exit 2. Opening a named pipe would wait for a writer forever, so each
command runs as a real process under a timeout that keeps a hang from holding the suite."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest

from tests.e2e.test_collect import SEAMSCOPE

pytestmark = pytest.mark.e2e

COMMANDS = [
    ["sql", "select 1"],
    ["edges"],
    ["check"],
    ["drift"],
    ["export"],
    ["collect", "--port", "0"],
    ["ingest", "spans.json"],
    ["tui"],
    ["demo", "--headless", "--port", "0"],
]


def _run(argv: list[str], cwd: Path, env: dict[str, str] | None = None) -> tuple[int, str]:
    done = subprocess.run(
        [*SEAMSCOPE, *argv],
        cwd=cwd,
        env=env,
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=60,
    )
    return done.returncode, done.stderr


@pytest.mark.parametrize("command", COMMANDS, ids=lambda c: c[0])
def test_a_named_pipe_as_db_is_refused_at_once(tmp_path: Path, command: list[str]) -> None:
    os.mkfifo(tmp_path / "pipe")
    (tmp_path / "spans.json").write_text("{}")
    code, err = _run([*command, "--db", "pipe"], tmp_path)
    assert (code, err) == (
        2,
        "seamscope: pipe: a named pipe, not a store (a store is a regular file)\n",
    )


def test_a_folder_or_a_pipe_from_the_environment_is_refused(tmp_path: Path) -> None:
    (tmp_path / "folder").mkdir()
    code, err = _run(["sql", "select 1", "--db", "folder"], tmp_path)
    assert (code, err.splitlines()) == (
        2,
        ["seamscope: folder: a folder, not a store (a store is a regular file)"],
    )
    os.mkfifo(tmp_path / "pipe")
    env = {**os.environ, "SEAMSCOPE_DB": "pipe"}
    code, err = _run(["edges"], tmp_path, env)
    assert (code, err.splitlines()) == (
        2,
        ["seamscope: pipe: a named pipe, not a store (a store is a regular file)"],
    )
