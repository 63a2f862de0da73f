"""Fixtures for driving the TUI: a fixed sample store, an app over it, a way to let it settle."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from textual.pilot import Pilot
from textual.widgets import Input
from textual.worker import WorkerCancelled, WorkerState

from seamscope.tui.app import SeamscopeApp
from seamscope.tui.data import LocalStore
from tests.functional.sample import build_store


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


@pytest.fixture(autouse=True)
def _no_blink(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """A blinking cursor would make every snapshot of a screen with an input differ."""
    monkeypatch.setattr(Input, "cursor_blink", False)
    yield


@pytest.fixture
def sample_db(tmp_path: Path) -> Path:
    return build_store(tmp_path / "sample.duckdb", manual=True)


AppFactory = Callable[..., SeamscopeApp]


@pytest.fixture
def make_app() -> AppFactory:
    """An app over a store file; live refresh off unless asked for, the classifier not run."""

    def factory(path: Path, *, refresh_interval: float = 0, classify: bool = False) -> SeamscopeApp:
        return SeamscopeApp(
            lambda: LocalStore(path, classify=classify), refresh_interval=refresh_interval
        )

    return factory


async def settle(pilot: Pilot[None], rounds: int = 3) -> None:
    """Waits until the workers are done and their messages are handled.

    A screen's worker starts only once the screen has mounted, so one wait is not enough: wait
    until a pause leaves no worker pending or running, twice in a row (bounded).
    """
    quiet = 0
    for _ in range(max(rounds, 100)):
        try:
            await pilot.app.workers.wait_for_complete()
        except WorkerCancelled:
            pass  # an exclusive worker replaced by a newer one
        await pilot.pause()
        busy = any(w.state in (WorkerState.PENDING, WorkerState.RUNNING) for w in pilot.app.workers)
        quiet = 0 if busy else quiet + 1
        if quiet >= rounds:
            return
