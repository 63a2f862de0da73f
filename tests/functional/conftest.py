"""Fixtures for driving the TUI: a fixed sample store, an app over it, a way to let it settle."""

from __future__ import annotations

import difflib
import re
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
import textual.constants
from textual.app import App
from textual.command import CommandPalette
from textual.pilot import Pilot
from textual.widgets import DataTable, Input, LoadingIndicator, TextArea
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


@pytest.fixture(autouse=True)
def _not_in_tmux(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """The SQL screen's footer names F9 instead of Ctrl+B in tmux: a run of the tests from a
    tmux pane would otherwise see another footer than the snapshots have."""
    monkeypatch.delenv("TMUX", raising=False)
    yield


@pytest.fixture(autouse=True)
def _no_animation(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Scrolling and the like jump instead of gliding, as under TEXTUAL_ANIMATIONS=none: a
    settle waits out every glide (a test of the vim keys took 13.4 s with them, 6.0 without).
    What the tests look at is where the screen comes to rest; the real terminal tests
    (tests/e2e/test_tui_*.py) still run with Textual's animations."""
    monkeypatch.setattr(textual.constants, "TEXTUAL_ANIMATIONS", "none")
    yield


@pytest.fixture(autouse=True)
def _palette_not_busy(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Textual's command palette shows a loading bar when a search has run 0.5 s. Twice, on a
    loaded machine, test_help_and_command_palette then met the bar animating with no worker
    running (a NeverSettled at 200 pauses on 2026-12-05; a 300 s timeout, the app idle, in a CI
    run on 2026-12-06): its timer can fire as the search ends and leave the bar on until the
    next search. The bar is the palette's own; here it never shows, and settle still waits for
    the search itself (a worker)."""
    monkeypatch.setattr(CommandPalette, "_BUSY_COUNTDOWN", 3600.0)
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


def _layout_pending(app: App[None]) -> list[str]:
    """The DataTables that have not yet laid out their new rows: a table measures its rows and
    columns on its next Idle event; until then the screen shows columns cut to their headers."""
    return [
        table.id or type(table).__name__
        for table in app.screen.query(DataTable)
        if table._require_update_dimensions or table._new_rows
    ]


def _what_changed(before: str, after: str, lines: int = 6) -> str:
    """The first lines in which two screenshots differ, for a failure's message: the SVG with
    its content hash taken out of the class names, the text lines first."""

    def plain(svg: str) -> list[str]:
        return re.sub(r"terminal-\d+", "terminal", svg).splitlines()

    diff = [
        line[:200]
        for line in difflib.unified_diff(plain(before), plain(after), lineterm="", n=0)
        if line[:1] in "+-" and not line.startswith(("+++", "---"))
    ]
    text = [line for line in diff if "<text" in line]
    return "\n".join((text or diff)[:lines])


async def settle(
    pilot: Pilot[None], rounds: int = 3, unsettled: int = 200, loading_pauses: int = 2000
) -> None:
    """Waits until the workers are done, their messages handled and the screen stays the same.

    A screen's worker starts only once the screen has mounted, and a table lays its columns out
    on an Idle event after its rows arrive, so one wait is not enough: wait until `rounds` pauses
    in a row find no worker pending or running, no table layout pending and the same screen.

    A loading indicator on show counts as a worker running, for up to `loading_pauses` pauses
    in a row (about a minute: a pause lasts a frame of its animation).

    No clock bounds the wait: on a loaded machine a worker's read may take any time, and
    pytest-timeout stops a real hang (with the stack that hung). What is bounded is a screen that
    keeps changing, or a table that never lays out, while no worker runs (an animation or a
    redraw loop): past `unsettled` such pauses, NeverSettled says which, so a test never compares
    a half-drawn frame quietly.
    """
    app = pilot.app
    quiet = misses = loading = 0
    last = before = ""
    pending: list[str] = []
    while quiet < rounds:
        try:
            await app.workers.wait_for_complete()
        except WorkerCancelled:
            pass  # an exclusive worker replaced by a newer one
        await pilot.pause()
        if any(w.state in (WorkerState.PENDING, WorkerState.RUNNING) for w in app.workers):
            quiet, last, loading = 0, "", 0
            continue
        if any(w.display and w.visible for w in app.screen.query(LoadingIndicator)):
            # Busy without a worker of ours: the command palette waits for its providers (ours
            # reads the names in a thread), its indicator animating meanwhile. Bounded, so that
            # an indicator left on says so instead of waiting for pytest-timeout.
            quiet, last = 0, ""
            loading += 1
            if loading >= loading_pauses:
                raise NeverSettled(
                    f"a loading indicator on {type(app.screen).__name__} stayed on for "
                    f"{loading} pauses with no worker running"
                )
            continue
        loading = 0
        pending = _layout_pending(app)
        screen = "" if pending else app.export_screenshot()
        if screen and screen == last:
            quiet += 1
            continue
        quiet = 0
        if last or pending:
            misses += 1
            before = last or before
        last = screen
        if misses >= unsettled:
            if pending:
                raise NeverSettled(f"tables {pending} never laid out their rows ({misses} pauses)")
            raise NeverSettled(
                f"the screen changed in {misses} pauses with no worker running; the last change:\n"
                + _what_changed(before, screen)
            )
