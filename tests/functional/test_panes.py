"""The top pane of the landscape and of a system (the focus view or the whole system's drawing,
beside the list) is as tall as what it shows needs, and no taller while the edge table below
needs the lines: no blank rows inside it, no box hidden over blank lines."""

from __future__ import annotations

from pathlib import Path

import pytest
from textual.widgets import DataTable

from seamscope.tui.screens.landscape import LandscapeScreen, SystemScreen
from seamscope.tui.widgets.edgetable import EdgeTable
from seamscope.tui.widgets.focusmap import FocusMap
from seamscope.tui.widgets.landmap import LandscapeMap
from tests.functional.conftest import AppFactory, settle
from tests.functional.test_navigation import go_to
from tests.functional.test_screens import cells

pytestmark = pytest.mark.anyio

SIZES = [(100, 30), (160, 45), (220, 60)]


def _side_bottoms(focus: FocusMap) -> list[int]:
    """The line below each side's last box, of the focus view drawn now (0: no box)."""
    drawing = focus._drawn()
    assert drawing is not None and focus.focus_data is not None
    bottoms = []
    for side in (focus.focus_data.callers, focus.focus_data.callees):
        ends = [
            y + h
            for node_id, (_, y, _, h) in drawing.boxes.items()
            for n in side
            if n.node_id == node_id
        ]
        bottoms.append(max(ends, default=0))
    return bottoms


@pytest.mark.parametrize("size", SIZES)
async def test_the_landscapes_focus_view_is_as_tall_as_its_tallest_system_needs(
    sample_db: Path, make_app: AppFactory, size: tuple[int, int]
) -> None:
    """The top took 55% of the screen whatever it showed: on the sample's systems of one or two
    neighbours a side, half the focus view was blank rows over the centre's border."""
    app = make_app(sample_db)
    async with app.run_test(size=size) as pilot:
        await settle(pilot)
        screen = app.screen
        assert isinstance(screen, LandscapeScreen)
        focus = screen.query_one(FocusMap)
        table = screen.query_one("#edges", EdgeTable)
        assert focus.focus_data is not None
        names = [f"system:{name}" for name in screen.view.systems] if screen.view else []
        lowest = 0
        for name in names:
            screen.walk_to(name.partition(":")[2])
            await settle(pilot)
            drawing = focus._drawn()
            assert drawing is not None and focus.focus_data is not None
            data = focus.focus_data
            # Every box of both sides is drawn: no side scrolls, nothing is counted as hidden.
            assert set(drawing.boxes) == {data.centre} | {
                n.node_id for n in data.callers + data.callees
            }, name
            lowest = max(lowest, *_side_bottoms(focus))
            # And every edge of the table is in view.
            assert table.row_count + 1 <= table.scrollable_content_region.height, name
        # The tallest side ends on the line above the centre's bottom border: no blank line.
        assert lowest == focus.size.height - 1


async def test_a_systems_focus_view_shows_all_of_a_side_the_table_leaves_room_for(
    sample_db: Path, make_app: AppFactory
) -> None:
    """At 100x30 orders-api's four callees took twelve lines of eleven: three boxes, two blank
    lines, "▼ 1 more", and four blank lines under the edge table."""
    app = make_app(sample_db)
    async with app.run_test(size=(100, 30)) as pilot:
        await settle(pilot)
        app.open_system("orders")
        await settle(pilot)
        screen = app.screen
        assert isinstance(screen, SystemScreen)
        components = screen.query_one("#components", DataTable)
        for row in range(components.row_count):
            components.move_cursor(row=row)
            await settle(pilot)
            focus = screen.query_one(FocusMap)
            drawing = focus._drawn()
            assert drawing is not None and focus.focus_data is not None
            data = focus.focus_data
            shown = set(drawing.boxes) - {data.centre}
            assert shown == {n.node_id for n in data.callers + data.callees}, cells(components, 1)
            text = "\n".join("".join(line) for line in drawing.canvas.chars)
            assert "▼" not in text and "▲" not in text
        table = screen.query_one("#edges", EdgeTable)
        assert table.row_count + 1 <= table.scrollable_content_region.height


@pytest.mark.parametrize("size", [(160, 45), (220, 60)])
async def test_the_whole_system_drawing_takes_the_top_it_is_in(
    sample_db: Path, make_app: AppFactory, size: tuple[int, int]
) -> None:
    """The drawing's pane was at most 60% of the top: the drawing cut after 12 of its 19 lines
    (a scrollbar), over 10 blank lines of the top beside the components list."""
    app = make_app(sample_db)
    async with app.run_test(size=size) as pilot:
        await settle(pilot)
        await go_to(pilot, "orderswork")
        await pilot.press("m")
        await settle(pilot)
        screen = app.screen
        assert isinstance(screen, SystemScreen)
        pane = screen.query_one("#map-pane")
        canvas = screen.query_one(LandscapeMap).drawing.canvas
        top = screen.query_one("#top")
        assert pane.outer_size.height == top.outer_size.height
        # The whole drawing's height is in view (the table of 6 edges leaves the room).
        assert pane.scrollable_content_region.height >= canvas.height
        table = screen.query_one("#edges", EdgeTable)
        assert table.row_count + 1 <= table.scrollable_content_region.height
