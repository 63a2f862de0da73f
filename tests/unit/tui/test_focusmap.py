"""FocusMap: a live refresh that brings the same focus (new figures elsewhere) draws nothing
again; another focus, or a highlight that moves, does."""

from __future__ import annotations

import pytest
from textual.app import App, ComposeResult

from seamscope.classifiers.results import Verdict
from seamscope.tui.widgets.focus_layout import Focus, FocusEdge, Neighbour
from seamscope.tui.widgets.focusmap import FocusMap

pytestmark = pytest.mark.anyio


def _focus(rule: str = "P101") -> Focus:
    def neighbour(name: str) -> Neighbour:
        edge = FocusEdge(f"e-{name}", rule, "rest", Verdict.PATTERN, "api")
        return Neighbour(f"system:{name}", name, "system", (edge,))

    return Focus(
        "system:orders", "orders", "2 components", (neighbour("web"),), (neighbour("users"),)
    )


class _MapApp(App[None]):
    def compose(self) -> ComposeResult:
        yield FocusMap(id="focus")


async def test_the_same_focus_is_not_drawn_again() -> None:
    app = _MapApp()
    async with app.run_test(size=(100, 20)) as pilot:
        fmap = app.query_one(FocusMap)
        fmap.show_focus(_focus(), "system:users")
        await pilot.pause()
        drawn: list[bool] = []
        original = fmap._redraw

        def redraw() -> None:
            drawn.append(True)
            original()

        fmap._redraw = redraw  # type: ignore[method-assign]

        fmap.show_focus(_focus())  # equal, not the same record: nothing to draw
        assert drawn == [] and fmap.highlighted == "system:users"
        fmap.show_focus(_focus(), "system:web")  # the highlight moves
        assert drawn == [True] and fmap.highlighted == "system:web"
        fmap.show_focus(_focus("A302"))  # a rule changed: drawn, the highlight kept
        assert drawn == [True, True] and fmap.highlighted == "system:web"
        await pilot.pause()
