"""`settle`, the wait every functional test leans on: it waits for the app's work however long
that takes, and fails, saying what changed, when the screen never stops changing."""

from __future__ import annotations

import threading
import time

import pytest
from textual import work
from textual.app import App, ComposeResult
from textual.widget import Widget
from textual.widgets import LoadingIndicator, Static

from tests.functional.conftest import NeverSettled, settle

pytestmark = pytest.mark.anyio


class _Clock(Widget):
    """An animation: it draws the time, sixteen times a second."""

    def on_mount(self) -> None:
        self.auto_refresh = 1 / 16

    def render(self) -> str:
        return f"{time.monotonic():.3f}"


class _Ticking(App[None]):
    """A screen that changes for ever with no worker (an animation that never ends)."""

    def compose(self) -> ComposeResult:
        yield _Clock()


class _Loading(App[None]):
    """A loading indicator while work runs outside any worker (the command palette waits so
    for its providers); it goes when the work is done."""

    def compose(self) -> ComposeResult:
        yield LoadingIndicator()
        yield Static("waiting", id="out")

    def on_mount(self) -> None:
        self.set_timer(2.0, self.done)

    def done(self) -> None:
        self.query_one(LoadingIndicator).display = False
        self.query_one("#out", Static).update("done")


class _Working(App[None]):
    """A worker in a thread that ends only when the test lets it."""

    def __init__(self, release: threading.Event) -> None:
        super().__init__()
        self.release = release

    def compose(self) -> ComposeResult:
        yield Static("waiting", id="out")

    def on_mount(self) -> None:
        self.read()

    @work(thread=True)
    def read(self) -> None:
        self.release.wait()
        self.call_from_thread(self.query_one("#out", Static).update, "read")


async def test_a_screen_that_keeps_changing_fails_and_says_what_changed() -> None:
    app = _Ticking()
    async with app.run_test(size=(40, 5)) as pilot:
        with pytest.raises(NeverSettled, match="no worker running") as failure:
            await settle(pilot, unsettled=10)
    assert "\n-" in str(failure.value) or "\n+" in str(failure.value)


async def test_a_loading_indicator_on_show_is_waited_for() -> None:
    """Its frames change the screen, but it says work is under way: settle waits (ten
    changing pauses would otherwise fail it long before the two seconds are up)."""
    app = _Loading()
    async with app.run_test(size=(40, 5)) as pilot:
        await settle(pilot, unsettled=10)
        assert str(app.query_one("#out", Static).content) == "done"


class _LeftOn(App[None]):
    """A loading indicator that stays on with nothing running."""

    def compose(self) -> ComposeResult:
        yield LoadingIndicator()


async def test_a_loading_indicator_left_on_fails_and_says_so() -> None:
    app = _LeftOn()
    async with app.run_test(size=(40, 5)) as pilot:
        with pytest.raises(NeverSettled, match="a loading indicator on Screen stayed on"):
            await settle(pilot, loading_pauses=20)


async def test_waits_for_a_worker_and_its_messages() -> None:
    release = threading.Event()
    app = _Working(release)
    async with app.run_test(size=(40, 5)) as pilot:
        app.set_timer(0.5, release.set)  # later than a few quiet pauses, whatever the machine
        try:
            await settle(pilot)
            shown = str(app.query_one("#out", Static).content)
        finally:
            release.set()  # a test that failed must not leave the thread waiting
    assert shown == "read"
