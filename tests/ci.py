"""Under CI=true a test that cannot run fails instead of skipping.

On a developer's machine a missing tmux or Node.js skips the tests that drive them. In CI such a
skip would let the run pass without the real terminal or the real service ever starting, so there
`require_tool` fails the test and any skip fails the run (`.ci/run` installs the tools first).
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from typing import NoReturn

import pytest


def in_ci() -> bool:
    return os.environ.get("CI", "").strip().lower() in {"true", "1", "yes"}


def cannot_run(problem: str) -> NoReturn:
    """Skips the test, or fails it under CI=true."""
    if in_ci():
        pytest.fail(
            f"{problem}; under CI=true that is a failure (.ci/run installs it)", pytrace=False
        )
    pytest.skip(problem)


def require_tool(name: str, min_major: int | None = None) -> str:
    """The tool's path; without it (or older than min_major, read from `NAME --version`) the
    test skips, or fails under CI=true."""
    path = shutil.which(name)
    if path is None:
        cannot_run(f"needs {name} on PATH")
    if min_major is not None:
        done = subprocess.run([path, "--version"], capture_output=True, text=True, timeout=30)
        found = re.search(r"\d+", done.stdout)
        if found is None or int(found.group()) < min_major:
            shown = done.stdout.strip() or done.stderr.strip() or f"exit code {done.returncode}"
            cannot_run(f"needs {name} >= {min_major}, {path} --version says {shown!r}")
    return path


class NoSkipsInCI:
    """Fails a CI=true run in which any test skipped, and lists them under the summary."""

    def __init__(self) -> None:
        self.skipped: list[str] = []

    def pytest_runtest_logreport(self, report: pytest.TestReport) -> None:
        if report.skipped and not hasattr(report, "wasxfail"):
            reason = report.longrepr[2] if isinstance(report.longrepr, tuple) else report.longrepr
            self.skipped.append(f"{report.nodeid}: {str(reason).removeprefix('Skipped: ')}")

    def pytest_sessionfinish(self, session: pytest.Session) -> None:
        if self.skipped and session.exitstatus == pytest.ExitCode.OK:
            session.exitstatus = pytest.ExitCode.TESTS_FAILED

    def pytest_terminal_summary(self, terminalreporter: pytest.TerminalReporter) -> None:
        if self.skipped:
            terminalreporter.section("skipped under CI=true", sep="=", red=True)
            terminalreporter.line("A skip in CI is a failure: the test proved nothing.", red=True)
            for line in self.skipped:
                terminalreporter.line(line)


def register(config: pytest.Config) -> None:
    """For pytest_configure: under CI=true, in the main process (xdist's workers report to it)."""
    if in_ci() and not hasattr(config, "workerinput"):
        config.pluginmanager.register(NoSkipsInCI(), "seamscope-no-skips-in-ci")
