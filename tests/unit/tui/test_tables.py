"""fill_table: a refresh with the same rows writes only the cells that changed."""

from __future__ import annotations

from typing import Any

import pytest
from rich.text import Text
from textual.app import App, ComposeResult
from textual.containers import Horizontal
from textual.widgets import DataTable

from seamscope.tui.widgets.cells import fill_table, num
from seamscope.tui.widgets.tables import NavTable

pytestmark = pytest.mark.anyio


class _TableApp(App[None]):
    def compose(self) -> ComposeResult:
        table: DataTable[Any] = DataTable()
        table.add_columns("Name", "Spans")
        yield table


def _plain(table: DataTable[Any]) -> list[list[str]]:
    return [[str(cell) for cell in table.get_row_at(i)] for i in range(table.row_count)]


def _count_clears(table: DataTable[Any]) -> list[bool]:
    cleared: list[bool] = []
    original_clear = table.clear

    def clear(*args: Any, **kwargs: Any) -> Any:
        cleared.append(True)
        return original_clear(*args, **kwargs)

    table.clear = clear  # type: ignore[method-assign]
    return cleared


async def test_same_rows_update_their_changed_cells_in_place() -> None:
    app = _TableApp()
    async with app.run_test() as pilot:
        table = app.query_one(DataTable)
        fill_table(table, [("a", ["orders", num("9")]), ("b", ["billing", num("5")])])
        table.move_cursor(row=1)
        await pilot.pause()
        cleared = _count_clears(table)

        fill_table(table, [("a", ["orders", num("10", "red")]), ("b", ["billing", num("5")])])
        await pilot.pause()

        assert cleared == []
        assert _plain(table) == [["orders", "10"], ["billing", "5"]]
        cell = table.get_row("a")[1]
        assert isinstance(cell, Text) and cell.style == "red" and cell.justify == "right"
        assert table.columns[table.ordered_columns[1].key].content_width >= 2  # "10" fits
        assert table.cursor_row == 1

        # A style change alone is a change too.
        fill_table(table, [("a", ["orders", num("10")]), ("b", ["billing", num("5")])])
        assert table.get_row("a")[1].style == ""


async def test_cells_are_plain_text_not_markup() -> None:
    app = _TableApp()
    async with app.run_test() as pilot:
        table = app.query_one(DataTable)
        fill_table(table, [("a", ["orders[v2]", "a [/] b"])])
        await pilot.pause()  # renders: "[/]" read as markup would raise here
        assert _plain(table) == [["orders[v2]", "a [/] b"]]
        fill_table(table, [("a", ["orders[v3]", "a [/] b"])])  # the in-place update too
        await pilot.pause()
        assert _plain(table) == [["orders[v3]", "a [/] b"]]


async def test_other_rows_or_order_keep_the_cursor_on_its_row() -> None:
    app = _TableApp()
    async with app.run_test() as pilot:
        table = app.query_one(DataTable)
        fill_table(table, [("a", ["orders", "9"]), ("b", ["billing", "5"])])
        table.move_cursor(row=1)  # on b
        await pilot.pause()

        fill_table(table, [("b", ["billing", "6"]), ("a", ["orders", "9"]), ("c", ["ship", "1"])])
        await pilot.pause()

        assert _plain(table) == [["billing", "6"], ["orders", "9"], ["ship", "1"]]
        assert table.cursor_row == 0  # still on b
        fill_table(table, [])
        assert table.row_count == 0


async def test_a_few_new_or_gone_rows_patch_the_table_in_place() -> None:
    app = _TableApp()
    async with app.run_test() as pilot:
        table = app.query_one(DataTable)
        rows: list[tuple[str, list[str | Text]]] = [
            (k, [name, num(n)])
            for k, name, n in [
                ("a", "api", "1"),
                ("b", "bff", "2"),
                ("c", "cron", "3"),
                ("d", "db", "4"),
            ]
        ]
        fill_table(table, rows)
        table.move_cursor(row=2)  # on c
        await pilot.pause()
        kept = table.get_row("b")[0]
        cleared = _count_clears(table)

        # d goes, e comes in second place, a and c swap, b and c get new numbers.
        fill_table(
            table,
            [
                ("c", ["cron", num("30")]),
                ("e", ["events", num("5")]),
                ("b", ["bff", num("20")]),
                ("a", ["api", num("1")]),
            ],
        )
        await pilot.pause()

        assert cleared == []
        assert _plain(table) == [["cron", "30"], ["events", "5"], ["bff", "20"], ["api", "1"]]
        assert [row.key.value for row in table.ordered_rows] == ["c", "e", "b", "a"]
        assert table.get_row("b")[0] is kept  # an unchanged cell is not written again
        assert table.cursor_row == 0  # still on c
        assert table.columns[table.ordered_columns[0].key].content_width >= len("events")


async def test_mostly_new_rows_rebuild_the_table() -> None:
    app = _TableApp()
    async with app.run_test() as pilot:
        table = app.query_one(DataTable)
        fill_table(table, [("a", ["api", "1"]), ("b", ["bff", "2"]), ("c", ["cron", "3"])])
        await pilot.pause()
        cleared = _count_clears(table)

        fill_table(table, [("x", ["x", "1"]), ("y", ["y", "2"]), ("a", ["api", "1"])])
        await pilot.pause()

        assert cleared == [True]
        assert _plain(table) == [["x", "1"], ["y", "2"], ["api", "1"]]


async def test_rows_that_share_a_cell_object_still_come_in_order() -> None:
    app = _TableApp()
    async with app.run_test() as pilot:
        table = app.query_one(DataTable)
        shared = Text("same")
        fill_table(table, [("a", [shared, "1"]), ("b", [shared, "2"]), ("c", ["c", "3"])])
        await pilot.pause()

        fill_table(table, [("c", ["c", "3"]), ("b", [shared, "2"]), ("a", [shared, "1"])])
        await pilot.pause()

        assert [row.key.value for row in table.ordered_rows] == ["c", "b", "a"]
        assert _plain(table) == [["c", "3"], ["same", "2"], ["same", "1"]]


class _WideningApp(App[None]):
    CSS = "#box { width: 30; } NavTable { width: 1fr; }"

    def compose(self) -> ComposeResult:
        with Horizontal(id="box"):
            table = NavTable(id="rows")
            table.add_columns("Name", "Spans")
            yield table

    def on_mount(self) -> None:
        table = self.query_one(NavTable)
        for i in range(3):
            table.add_row(f"name-{i}", "1", key=str(i))


async def test_a_widened_table_draws_its_highlighted_row_to_the_new_edge() -> None:
    """The frame drawn at the new size comes before the table's Resize event: without a
    repaint after it, the cursor row keeps the extent it was cached with at the old width."""
    app = _WideningApp()
    async with app.run_test(size=(80, 8)) as pilot:
        await pilot.pause()
        app.query_one("#box").styles.width = 70
        await pilot.pause()
        await pilot.pause()
        table = app.query_one(NavTable)
        assert table.size.width == 70
        cursor = table.get_component_rich_style("datatable--cursor").bgcolor
        assert cursor is not None
        row = table.region.y + 1  # below the header
        cells = [app.screen.get_style_at(x, row).bgcolor for x in range(table.region.width)]
        assert cells == [cursor] * table.region.width
