"""SteadyHeader: a title change that reaches a header whose parts were taken down (its screen
being popped) is dropped; Textual's Header raised NoMatches there and stopped the app."""

from __future__ import annotations

import pytest
from textual.app import App, ComposeResult
from textual.widgets._header import HeaderTitle

from seamscope.tui.widgets.header import SteadyHeader

pytestmark = pytest.mark.anyio


class _HeaderApp(App[None]):
    def compose(self) -> ComposeResult:
        yield SteadyHeader()


async def test_a_title_change_after_the_header_was_taken_down_does_not_stop_the_app() -> None:
    app = _HeaderApp()
    async with app.run_test() as pilot:
        await pilot.pause()
        assert "_HeaderApp" in str(app.query_one(HeaderTitle).render())
        app.title = "seamscope · live from the receiver on 127.0.0.1:4318 (pid 1)"
        await pilot.pause()
        assert "live from the receiver" in str(app.query_one(HeaderTitle).render())
        await app.query_one(HeaderTitle).remove()  # as a screen being popped takes it down
        app.title = "seamscope"
        await pilot.pause()
    assert app.return_code in (0, None)
