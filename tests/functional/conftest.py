"""Fixtures for driving the TUI: a fixed sample store, an app over it, a way to let it settle."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from textual.app import App
from textual.pilot import Pilot
from textual.widgets import DataTable, Input, TextArea
from textual.worker import WorkerCancelled, WorkerState

from seamscope.tui.app import SeamscopeApp
from seamscope.tui.data import LocalStore
from tests.functional.sample import build_store


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


@pytest.fixture(autouse=True)
def _no_blink(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """A blinking cursor would make every snapshot of a screen with an input or an editor
    differ (a busy machine takes the picture in either phase)."""
    monkeypatch.setattr(Input, "cursor_blink", False)
    monkeypatch.setattr(TextArea, "cursor_blink", False)
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


class NeverSettled(AssertionError):
    """The app kept changing its screen: a snapshot or assertion taken now would be a race."""


def _layout_pending(app: App[None]) -> bool:
    """A DataTable measures its new rows and columns on its next Idle event; until then the
    screen shows columns cut to their header widths."""
    for table in app.screen.query(DataTable):
        if table._require_update_dimensions or table._new_rows:
            return True
    return False


async def settle(pilot: Pilot[None], rounds: int = 3, limit_s: float = 30.0) -> None:
    """Waits until the workers are done, their messages handled and the screen stays the same.

    A screen's worker starts only once the screen has mounted, and a table lays its columns out
    on an Idle event after its rows arrive, so one wait is not enough: wait until `rounds` pauses
    in a row find no worker pending or running, no table layout pending and the same screen.
    Raises NeverSettled past `limit_s`, so a test never compares a half-drawn frame quietly.
    """
    app = pilot.app
    deadline = time.monotonic() + limit_s
    quiet = 0
    last = ""
    while time.monotonic() < deadline:
        try:
            await app.workers.wait_for_complete()
        except WorkerCancelled:
            pass  # an exclusive worker replaced by a newer one
        await pilot.pause()
        busy = any(w.state in (WorkerState.PENDING, WorkerState.RUNNING) for w in app.workers)
        screen = "" if busy or _layout_pending(app) else app.export_screenshot()
        quiet = quiet + 1 if screen and screen == last else 0
        last = screen
        if quiet >= rounds:
            return
    raise NeverSettled(f"the app did not settle within {limit_s:.0f} s")
