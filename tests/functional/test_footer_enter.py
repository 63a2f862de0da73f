"""The edge and trace screens' footers lead with what Enter does there, as the landscape's does
("⏎ Walk/open"): they said nothing of it, only the captions over the tables did."""

from __future__ import annotations

from pathlib import Path

import pytest

from seamscope.tui.screens.edge import EdgeScreen
from seamscope.tui.screens.trace import TraceScreen
from tests.functional.conftest import AppFactory, settle
from tests.functional.sample import edge_id_of

pytestmark = pytest.mark.anyio


def _enter(app_screen: object) -> str | None:
    """What the footer says Enter does on the screen in front."""
    from textual.screen import Screen

    assert isinstance(app_screen, Screen)
    for _node, binding, enabled, _tooltip in app_screen.active_bindings.values():
        if binding.key == "enter" and binding.show and enabled:
            return binding.description
    return None


async def test_the_footer_says_what_enter_opens(sample_db: Path, make_app: AppFactory) -> None:
    app = make_app(sample_db)
    async with app.run_test(size=(100, 30)) as pilot:
        await settle(pilot)
        app.open_edge(edge_id_of(0))
        await settle(pilot)
        assert isinstance(app.screen, EdgeScreen)
        assert _enter(app.screen) == "Trace"
        footer = app.export_screenshot()
        assert "⏎" in footer and "Trace" in footer
        await pilot.press("enter")
        await settle(pilot)
        assert isinstance(app.screen, TraceScreen)
        assert _enter(app.screen) == "Edge"
        app.screen.query_one("#hops").focus()
        await settle(pilot)
        assert _enter(app.screen) == "Open trace"
        app.screen.query_one("#waterfall").focus()
        await pilot.press("enter")  # the edge it came from: back to it
        await settle(pilot)
        assert isinstance(app.screen, EdgeScreen)
