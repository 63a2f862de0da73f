"""SteadyFooter: rebuilt when the keys it shows change, left alone when they do not."""

from __future__ import annotations

import time
from collections.abc import Callable

import pytest
from textual.app import App, ComposeResult
from textual.binding import Binding
from textual.pilot import Pilot
from textual.widgets import Button
from textual.widgets._footer import FooterKey

from seamscope.tui.widgets.footer import SteadyFooter

pytestmark = pytest.mark.anyio


class _Export(Button):
    BINDINGS = [Binding("x", "export", "Export")]


class _FooterApp(App[None]):
    BINDINGS = [Binding("r", "toggle_reload", "Reload")]
    reload_enabled = True

    def compose(self) -> ComposeResult:
        yield Button("plain", id="plain")
        yield _Export("export", id="export")
        yield SteadyFooter()

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if action == "toggle_reload":
            return self.reload_enabled or None  # None: shown, but disabled
        return True


def _keys(app: App[None]) -> list[tuple[str, bool]]:
    return [(key.key, key.has_class("-disabled")) for key in app.screen.query(FooterKey)]


async def _until(pilot: Pilot[None], condition: Callable[[], bool], limit_s: float = 10) -> bool:
    """Whether condition came true: the footer recomposes on a later turn of the event loop,
    one pause is not always enough on a busy machine."""
    deadline = time.monotonic() + limit_s
    while not condition() and time.monotonic() < deadline:
        await pilot.pause(0.01)
    return condition()


async def test_the_footer_follows_the_keys_of_the_focused_widget() -> None:
    app = _FooterApp()
    async with app.run_test() as pilot:
        app.query_one("#plain").focus()
        assert await _until(pilot, lambda: bool(_keys(app)) and ("x", False) not in _keys(app))
        app.query_one("#export").focus()
        assert await _until(pilot, lambda: ("x", False) in _keys(app))
        app.query_one("#plain").focus()
        assert await _until(pilot, lambda: bool(_keys(app)) and ("x", False) not in _keys(app))


async def test_an_enabled_state_that_changes_rebuilds_the_footer() -> None:
    app = _FooterApp()
    async with app.run_test() as pilot:
        assert await _until(pilot, lambda: ("r", False) in _keys(app))
        app.reload_enabled = False
        app.screen.refresh_bindings()
        assert await _until(pilot, lambda: ("r", True) in _keys(app))


async def test_the_same_keys_keep_the_same_footer_widgets() -> None:
    app = _FooterApp()
    async with app.run_test() as pilot:
        app.query_one("#plain").focus()
        assert await _until(pilot, lambda: ("r", False) in _keys(app))
        before = list(app.screen.query(FooterKey))
        app.screen.refresh_bindings()
        app.query_one("#plain").blur()
        app.query_one("#plain").focus()
        for _ in range(5):  # time for a rebuild, were there one
            await pilot.pause(0.02)
        assert list(app.screen.query(FooterKey)) == before
        assert all(a is b for a, b in zip(app.screen.query(FooterKey), before, strict=True))


class _ManyKeysApp(App[None]):
    BINDINGS = [
        *(Binding(str(i), f"step({i})", f"Step number {i}") for i in range(8)),
        Binding("question_mark", "help", "Help"),
        Binding("q", "request_quit", "Quit"),
    ]

    def compose(self) -> ComposeResult:
        yield SteadyFooter()

    def action_step(self, i: int) -> None: ...

    def action_help(self) -> None: ...

    def action_request_quit(self) -> None: ...


def _shown(app: App[None]) -> list[str]:
    return [key.key for key in app.screen.query(FooterKey) if key.display]


def _whole(app: App[None]) -> bool:
    """Every key shown lies wholly left of the command palette's key, once they are laid out
    (before that every region is empty, and a busy machine can be asked then)."""
    footer = app.screen.query_one(SteadyFooter)
    keys = [key for key in app.screen.query(FooterKey) if key.display]
    if not keys or any(key.region.width == 0 for key in keys):
        return False
    palette = [key for key in keys if key.has_class("-command-palette")]
    edge = palette[0].region.x if palette else footer.region.right
    return all(k.region.right <= edge for k in keys if k not in palette)


async def test_a_narrow_footer_shows_whole_keys_help_and_quit_among_them() -> None:
    app = _ManyKeysApp()
    async with app.run_test(size=(70, 10)) as pilot:
        assert await _until(pilot, lambda: "q" in _shown(app) and _whole(app))
        shown = _shown(app)
        assert "question_mark" in shown and "0" in shown and "7" not in shown
        await pilot.resize_terminal(200, 10)
        assert await _until(pilot, lambda: "7" in _shown(app))
        assert _whole(app) and len(_shown(app)) == 11  # every key and the palette's
        await pilot.resize_terminal(40, 10)
        assert await _until(pilot, lambda: "0" not in _shown(app))
        assert _whole(app) and "q" in _shown(app) and "question_mark" in _shown(app)
