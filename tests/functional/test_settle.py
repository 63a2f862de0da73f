"""`settle`, the wait every functional test leans on: it waits for the app's work however long
that takes, and fails, saying what changed, when the screen never stops changing."""

from __future__ import annotations

import threading

import pytest
from textual import work
from textual.app import App, ComposeResult
from textual.widgets import LoadingIndicator, Static

from tests.functional.conftest import NeverSettled, settle

pytestmark = pytest.mark.anyio


class _Spinning(App[None]):
    """A loading indicator that never goes away: its frames change the screen with no worker."""

    def compose(self) -> ComposeResult:
        yield LoadingIndicator()


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
    app = _Spinning()
    async with app.run_test(size=(40, 5)) as pilot:
        with pytest.raises(NeverSettled, match="no worker running") as failure:
            await settle(pilot, unsettled=10)
    assert "\n-" in str(failure.value) or "\n+" in str(failure.value)


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
