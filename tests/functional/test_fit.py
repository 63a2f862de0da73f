"""Panes that fit the terminal: the whole-system drawing across its pane, the matrix and the
table under it with no blank lines, a hub's reason pane on a small terminal."""

from __future__ import annotations

from pathlib import Path

import pytest

from seamscope.tui.app import SeamscopeApp
from seamscope.tui.data import LocalStore
from seamscope.tui.screens.landscape import (
    TABLE_SHORT,
    TOP_LEAST,
    LandscapeScreen,
    SystemScreen,
)
from seamscope.tui.widgets.edgetable import EdgeTable
from seamscope.tui.widgets.focusmap import FocusMap
from seamscope.tui.widgets.landmap import LandscapeMap
from seamscope.tui.widgets.matrix import MatrixView
from seamscope.tui.widgets.tables import NavTable
from seamscope.tui.widgets.why import WhyPane
from tests.functional.conftest import settle
from tests.functional.test_panes import DEMO, _said, demo_db, forty_systems, whole_drawing

pytestmark = pytest.mark.anyio

__all__ = ["demo_db", "forty_systems"]  # the fixtures, shared with test_panes


def _demo(db: Path) -> SeamscopeApp:
    return SeamscopeApp(lambda: LocalStore(db, DEMO / "seamscope.toml"), refresh_interval=0)


def _forty(db: Path) -> SeamscopeApp:
    from benchmarks.generate import landscape_path

    return SeamscopeApp(lambda: LocalStore(db, landscape_path(db)), refresh_interval=0)


async def _drawing_fits(app: SeamscopeApp, size: tuple[int, int], system: str) -> None:
    async with app.run_test(size=size) as pilot:
        screen, pane = await whole_drawing(pilot, system)
        landmap = screen.query_one(LandscapeMap)
        drawing = landmap.drawing
        assert drawing.canvas.width + 2 <= pane.scrollable_content_region.width, (
            drawing.canvas.width,
            pane.scrollable_content_region.width,
        )
        assert pane.max_scroll_x == 0
        assert set(drawing.boxes) == {n.node_id for n in landmap._map_nodes}


async def test_inventorys_drawing_fits_across_at_160_columns(demo_db: Path) -> None:
    """On the demo at 160x45 inventory's drawing was 155 cells wide at its narrowest, in a
    pane of 125: the other systems' components and the vendor right of them had a column
    each, nothing between them. They are one column now."""
    await _drawing_fits(_demo(demo_db), (160, 45), "inventory")


async def test_a_hubs_drawing_fits_across_at_160_columns(forty_systems: Path) -> None:
    """web, the hub of a generated landscape of 40 systems (each calls its BFF and is called
    by it), was drawn 186 cells wide at 160x45: the 40 other systems' components in one
    column, its webapp in the next, with nothing between them. They are one column now, and
    the arrows to the BFF go straight across."""
    await _drawing_fits(_forty(forty_systems), (160, 45), "web")


async def test_a_hubs_drawing_fits_across_at_100x30(forty_systems: Path) -> None:
    """At 100x30 web's drawing was 127 cells wide in a pane of 96, 80 of them lanes: one per
    arrow into the BFF from each of the 40 other systems, one per arrow back out. The arrows
    into one box share one line now, and it fits, labels whole."""
    await _drawing_fits(_forty(forty_systems), (100, 30), "web")


async def test_a_drawing_wider_than_its_pane_says_it_scrolls_and_how(demo_db: Path) -> None:
    """At 100x30 inventory's drawing, narrowed as far as it goes, still ran past the pane's
    right border, the boxes there cut with a scroll bar for the only sign. The pane's bottom
    border says it is wider, and which keys go to the boxes out of view; l does, the view
    following."""
    app = _demo(demo_db)
    async with app.run_test(size=(100, 30)) as pilot:
        screen, pane = await whole_drawing(pilot, "inventory")
        assert pane.max_scroll_x > 0
        hint = str(pane.border_subtitle)
        assert "wider" in hint and "h l" in hint, hint
        landmap = screen.query_one(LandscapeMap)
        right = max(landmap.drawing.boxes.values(), key=lambda b: b.x + b.width)
        while landmap.selected != right.node_id:
            before = landmap.selected
            assert before is not None
            here = landmap.drawing.boxes[before]
            await pilot.press("l" if here.column < right.column else "j")
            await settle(pilot)
            assert landmap.selected != before
        assert pane.scroll_x + pane.scrollable_content_region.width >= right.x + right.width


@pytest.mark.parametrize("store", ["demo", "forty"])
async def test_the_matrix_and_its_table_leave_no_blank_lines_at_220x60(
    store: str, demo_db: Path, forty_systems: Path
) -> None:
    """At 220x60 the matrix kept its share of the screen (15 blank lines under the demo's 9
    systems) and the table under it its least height, blank under a cell of one edge (5
    lines on a generated store of 40 systems, 23 on the demo). The matrix is as tall as its
    rows and legend, the table as its rows, and the reason of the table's highlighted edge
    has the lines left."""
    app = _demo(demo_db) if store == "demo" else _forty(forty_systems)
    async with app.run_test(size=(220, 60)) as pilot:
        await settle(pilot)
        await pilot.press("m")
        await settle(pilot)
        screen = app.screen
        assert isinstance(screen, LandscapeScreen)
        matrix = screen.query_one(MatrixView)
        assert matrix.size.height == matrix.wanted_height()  # every row, no blank line
        table = screen.query_one("#edges", EdgeTable)
        pane = screen.query_one(WhyPane)
        for _ in range(4):  # a few cells, each with its edges
            if table.row_count:
                assert pane.display
                assert pane.region.y == table.region.bottom
                assert table.row_count + 1 <= table.region.height
                if table.region.height > table.row_count + 1:
                    # Kept for the cell of the most edges: the pane needs those lines too.
                    assert not _said(pane).endswith("…")
                edge = table.edges[table.cursor_row]
                assert edge.rule_id in _said(pane)
            await pilot.press("l")
            await settle(pilot)


async def test_a_hubs_reason_shows_under_its_table_at_100x30(forty_systems: Path) -> None:
    """At 100x30 the hub web's table of 60 edges had every line under the focus view, and no
    reason was shown: the rule that gives the pane six lines keeps ten for the table, and
    there were nine. The table keeps TABLE_SHORT, the pane the first lines of the reason."""
    app = _forty(forty_systems)
    async with app.run_test(size=(100, 30)) as pilot:
        await settle(pilot)
        screen = app.screen
        assert isinstance(screen, LandscapeScreen)
        screen.walk_to("web")
        await settle(pilot)
        table = screen.query_one("#edges", EdgeTable)
        pane = screen.query_one(WhyPane)
        assert table.row_count + 1 > table.outer_size.height  # it scrolls
        assert table.outer_size.height >= TABLE_SHORT
        assert pane.display and pane.outer_size.height >= 4
        edge = table.edges[table.cursor_row]
        assert edge.rule_id in _said(pane)
        await pilot.press("j")  # the pane follows the table's cursor
        table.focus()
        await pilot.press("j")
        await settle(pilot)
        edge = table.edges[table.cursor_row]
        assert edge.rule_id in _said(pane) and edge.from_node.rpartition("/")[2] in _said(pane)


async def test_a_one_edge_components_focus_view_is_as_tall_as_it_needs(
    forty_systems: Path,
) -> None:
    """At 220x60 shop-web, the webapp of the hub web (one edge, to its BFF), kept the height
    of web-bff's focus view (61 edges), its box and "no callers" in some twenty blank lines.
    A centre that needs less than half of the tallest's height has its own; the BFF's keeps
    the tall one, and the table and its pane follow."""
    app = _forty(forty_systems)
    async with app.run_test(size=(220, 60)) as pilot:
        await settle(pilot)
        app.open_system("web")
        await settle(pilot)
        screen = app.screen
        assert isinstance(screen, SystemScreen)
        components = screen.query_one("#components", NavTable)
        focus = screen.query_one(FocusMap)
        top = screen.query_one("#top")
        heights = {}
        for row in range(components.row_count):
            components.move_cursor(row=row)
            await settle(pilot)
            assert focus.focus_data is not None
            heights[focus.focus_data.name] = (top.outer_size.height, focus.wanted_height())
        height, needs = heights["shop-web"]
        assert height == max(TOP_LEAST, needs, components.row_count + 1), heights
        height, needs = heights["web-bff"]
        assert height > 2 * heights["shop-web"][0], heights
        table = screen.query_one("#edges", EdgeTable)
        pane = screen.query_one(WhyPane)
        assert table.region.y < top.region.bottom + 2 and pane.region.y == table.region.bottom
