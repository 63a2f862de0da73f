"""tests/ci.py: a test that cannot run skips on a developer's machine and fails under CI=true."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.ci import require_tool

ROOT = Path(__file__).resolve().parents[2]
MISSING = "seamscope-no-such-tool"


def test_a_missing_tool_skips_a_local_run(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("CI", raising=False)
    with pytest.raises(pytest.skip.Exception, match=f"needs {MISSING} on PATH"):
        require_tool(MISSING)


def test_a_missing_tool_fails_under_ci(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CI", "true")
    with pytest.raises(pytest.fail.Exception, match=f"needs {MISSING} on PATH"):
        require_tool(MISSING)


def _fake_node(folder: Path, version: str) -> None:
    node = folder / "node"
    node.write_text(f"#!/bin/sh\necho {version}\n")
    node.chmod(0o755)


def test_a_tool_older_than_asked_fails_under_ci(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    _fake_node(tmp_path, "v12.22.9")
    monkeypatch.setenv("PATH", str(tmp_path))
    monkeypatch.setenv("CI", "true")
    with pytest.raises(pytest.fail.Exception, match=r"needs node >= 18, .*'v12\.22\.9'"):
        require_tool("node", min_major=18)


def test_a_tool_recent_enough_is_found(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    _fake_node(tmp_path, "v20.20.2")
    monkeypatch.setenv("PATH", str(tmp_path))
    monkeypatch.setenv("CI", "true")
    assert require_tool("node", min_major=18) == str(tmp_path / "node")


_CONFTEST = """
from tests import ci

def pytest_configure(config):
    ci.register(config)
"""

_TESTS = """
import pytest

def test_runs():
    pass

def test_skips():
    pytest.skip("no tool here")
"""


@pytest.mark.parametrize(
    ("ci", "workers", "exit_code"),
    [("true", "0", 1), ("true", "2", 1), (None, "0", 0)],
    ids=["ci", "ci-xdist", "local"],
)
def test_a_skip_fails_a_ci_run(
    tmp_path: Path, ci: str | None, workers: str, exit_code: int
) -> None:
    (tmp_path / "conftest.py").write_text(_CONFTEST)
    (tmp_path / "test_some.py").write_text(_TESTS)
    env = {k: v for k, v in os.environ.items() if k != "CI"}
    env["PYTHONPATH"] = str(ROOT)
    if ci is not None:
        env["CI"] = ci
    done = subprocess.run(
        [sys.executable, "-m", "pytest", "-n", workers, "-p", "no:cacheprovider", str(tmp_path)],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
    )
    assert done.returncode == exit_code, done.stdout + done.stderr
    assert "1 passed, 1 skipped" in done.stdout
    listed = "test_some.py::test_skips: no tool here" in done.stdout
    assert listed == (ci is not None), done.stdout
