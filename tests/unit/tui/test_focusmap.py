"""FocusMap: a live refresh that brings the same focus (new figures elsewhere) draws nothing
again; another focus, or a highlight that moves, does. A side longer than the view scrolls by
whole boxes."""

from __future__ import annotations

import pytest
from textual.app import App, ComposeResult

from seamscope.classifiers.results import Verdict
from seamscope.tui.widgets.focus_layout import Focus, FocusEdge, Neighbour
from seamscope.tui.widgets.focusmap import FocusMap
from tests.unit.tui.test_focus_layout import _side_column, _whole_boxes

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


async def test_walking_down_a_long_side_keeps_its_boxes_whole_and_counted() -> None:
    """40 callers in a view of 11 lines for them: h to the callers, then j j j (the audit's
    keys) and back up: the boxes shown are whole, the counters count all the others (they said
    0 more over a box cut in half)."""

    def caller(i: int) -> Neighbour:
        edges = tuple(
            FocusEdge(f"e{i}-{j}", "A102", "graphql", Verdict.ANTI_PATTERN, "api")
            for j in range(1 + i % 2)
        )
        return Neighbour(f"system:s{i:02d}", f"s{i:02d}", "system", edges)

    callers = tuple(caller(i) for i in range(40))
    app = _MapApp()
    async with app.run_test(size=(100, 13)) as pilot:
        fmap = app.query_one(FocusMap)
        fmap.show_focus(Focus("system:web", "web", "", callers, ()))
        fmap.focus()
        await pilot.pause()
        for key in ("h", "j", "j", "j", "j", "k", "k", "k", "k"):
            await pilot.press(key)
            await pilot.pause()
            lines = [fmap.render_line(y).text for y in range(fmap.size.height)]
            column, above, below = _side_column(lines)
            assert above + _whole_boxes(column) + below == len(callers), (key, lines)
        assert fmap.highlighted == "system:s00"
