"""Shared fixtures: every test gets its own store path and no inherited seamscope settings."""

from __future__ import annotations

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
