"""Shared fixtures: every test gets its own store path and no inherited seamscope settings."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests import ci


def pytest_configure(config: pytest.Config) -> None:
    ci.register(config)


@pytest.fixture(autouse=True)
def _isolated_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Iterator[None]:
    for name in (
        "SEAMSCOPE_DB",
        "OTEL_TRACES_EXPORTER",
        "OTEL_SERVICE_NAME",
        "OTEL_RESOURCE_ATTRIBUTES",
    ):
        monkeypatch.delenv(name, raising=False)
    yield


@pytest.fixture
def db_path(tmp_path: Path) -> Path:
    return tmp_path / "seamscope.duckdb"


@pytest.fixture
def bystander() -> Iterator[int]:
    """The pid of a live process of ours that is no store's owner: what the pid in an owner
    file names once it has been reused (or what a forged file names)."""
    proc = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(300)"])
    try:
        yield proc.pid
    finally:
        proc.kill()
        proc.wait()
