"""Fixtures of the attacks on a real receiver."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.e2e.test_collect import Collector, start_collector


@pytest.fixture
def collector(db_path: Path, tmp_path: Path) -> Iterator[Collector]:
    """`seamscope collect --no-classify` on a store of its own, stopped after the test (a module
    that needs other flags has a fixture of its own)."""
    c = start_collector(db_path, tmp_path, "--no-classify")
    try:
        yield c
    finally:
        c.process.stop()
