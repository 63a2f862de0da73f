"""A table drawn while its rows arrive ends up drawn at its measured column widths.

DataTable measures new rows on its next Idle event; a frame drawn before that (a busy machine)
cached the rows and the header at the headers' widths, and the table stayed cut until the cursor
moved: the snapshot tests caught it under load, a user saw it as columns cut to their titles.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import duckdb
import pytest
from textual.coordinate import Coordinate
from textual.widgets import DataTable, Static

from seamscope.classifiers.engine import classify
from seamscope.classifiers.landscape import parse_landscape
from seamscope.tracer.store import short_lock
from seamscope.tui.app import SeamscopeApp
from seamscope.tui.data import LocalStore
from seamscope.tui.screens.lists import FindingsScreen, HistoryScreen
from seamscope.tui.widgets.cells import WORD_CUT_SLACK, short_node
from seamscope.tui.widgets.edgetable import REASON_ROOM, EdgeTable, least_name
from tests.functional.conftest import AppFactory, settle
from tests.functional.sample import build_store
from tests.functional.test_navigation import RELABEL

pytestmark = pytest.mark.anyio


async def test_a_frame_drawn_before_the_rows_are_measured_does_not_leave_them_cut(
    sample_db: Path, make_app: AppFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    shown = FindingsScreen.show

    def show_then_draw(self: FindingsScreen, payload: Any) -> None:
        shown(self, payload)
        table = self.query_one("#findings", DataTable)
        for y in range(table.size.height):
            table.render_line(y)  # the frame a busy machine draws before the Idle event

    monkeypatch.setattr(FindingsScreen, "show", show_then_draw)
    app = make_app(sample_db)
    async with app.run_test(size=(160, 45)) as pilot:
        await settle(pilot)
        await pilot.press("n")
        await settle(pilot)
        table = app.screen.query_one("#findings", DataTable)
        header, first = table.render_line(0).text, table.render_line(1).text
        assert "orders/orders-api" in app.export_screenshot()
        assert "Mechanism" in header and header.index("To") > len("orders/orders-worker")
        assert "users/users-api" in first


async def test_names_are_whole_at_100_columns_when_the_other_columns_leave_room(
    sample_db: Path, make_app: AppFactory
) -> None:
    """The name columns get the room the rule, verdict and mechanism do not take (they take
    what their cells need, not their most)."""
    app = make_app(sample_db)
    async with app.run_test(size=(100, 30)) as pilot:
        await settle(pilot)
        table = app.screen.query_one("#edges", DataTable)
        names = [
            str(table.get_row_at(i)[table.get_column_index(c)])
            for i in range(table.row_count)
            for c in ("From", "To")
        ]
        assert "dynamodb:table/Users" in names
        assert not [n for n in names if "…" in n]


def _row_width(table: DataTable[Any]) -> int:
    return sum(column.get_render_width(table) for column in table.ordered_columns)


def _reasons_cut_at_their_end(table: DataTable[Any], reasons: list[str]) -> bool:
    """Whether each Reason cell is its reason whole, or a start of it ending in "…"; and
    whether some were cut (then the table had no room to spare)."""
    index = [c.label.plain for c in table.ordered_columns].index("Reason")
    shown = [str(table.get_row_at(i)[index]) for i in range(table.row_count)]
    for cell, reason in zip(shown, reasons, strict=True):
        assert cell == reason or (cell.endswith("…") and reason.startswith(cell[:-1])), cell
    return shown != reasons


@pytest.mark.parametrize("size", [(100, 30), (160, 45)])
async def test_the_reason_takes_the_room_the_other_columns_leave(
    sample_db: Path, make_app: AppFactory, size: tuple[int, int]
) -> None:
    """Findings: the reason in the room the other columns leave, to the table's edge but for
    the few cells a cut at a word leaves (at 100 columns it was left out with 15 cells blank;
    at 160 cut short with 5 to 9 blank, each column budgeted wider than it is drawn)."""
    app = make_app(sample_db)
    async with app.run_test(size=size) as pilot:
        await settle(pilot)
        await pilot.press("n")
        await settle(pilot)
        table = app.screen.query_one("#findings", EdgeTable)
        assert "Reason" in [c.label.plain for c in table.ordered_columns]
        cut = _reasons_cut_at_their_end(table, [e.reason or "" for e in table.edges])
        room = table.scrollable_content_region.width
        assert _row_width(table) <= room
        if cut:
            assert room - _row_width(table) <= WORD_CUT_SLACK


async def test_the_history_cuts_a_reason_at_its_end_within_the_table(tmp_path: Path) -> None:
    """The history's reason ran past the table's edge, cut there in the middle of a word."""
    db = build_store(tmp_path / "classified.duckdb", manual=False)
    with short_lock(db) as store:
        classify(store.con, parse_landscape(RELABEL, Path("relabel.toml")))
        rows = store.con.execute(
            "SELECT reason FROM label_changes ORDER BY changed_at DESC, edge_id"
        ).fetchall()
    reasons = [r or "" for (r,) in rows]
    app = SeamscopeApp(lambda: LocalStore(db, classify=False), refresh_interval=0)
    async with app.run_test(size=(160, 45)) as pilot:
        await settle(pilot)
        await pilot.press("H")
        await settle(pilot)
        assert isinstance(app.screen, HistoryScreen)
        table = app.screen.query_one("#history", DataTable)
        assert len(reasons) == table.row_count
        assert _reasons_cut_at_their_end(table, reasons)
        room = table.scrollable_content_region.width
        assert room - WORD_CUT_SLACK <= _row_width(table) <= room


def _long_names(db: Path) -> None:
    """The findings' ends named as long as the demo's ("inventory/inventory-sync-job")."""
    with duckdb.connect(str(db)) as con:
        con.execute(
            "UPDATE edges SET from_node = from_node || '-of-the-fleet', "
            "to_node = to_node || '-of-the-fleet' WHERE verdict IN ('anti-pattern', 'smell')"
        )


@pytest.mark.parametrize("size", [(100, 30), (160, 45), (220, 60)])
async def test_a_finding_shows_its_reason_whole_under_the_list(
    sample_db: Path, make_app: AppFactory, size: tuple[int, int]
) -> None:
    """With names as long as the demo's, the reason had 12 cells at 160 columns (none once a
    live session's Changed column came); at 100 none. The latency and the time last seen
    give it their room, and the pane under the list says the highlighted finding's reason
    whole, with what to do, at every width."""
    _long_names(sample_db)
    app = make_app(sample_db)
    async with app.run_test(size=size) as pilot:
        await settle(pilot)
        await pilot.press("n")
        await settle(pilot)
        table = app.screen.query_one("#findings", EdgeTable)
        titles = [c.label.plain for c in table.ordered_columns]
        if size[0] >= 160:
            reasons = [e.reason or "" for e in table.edges]
            column = table.ordered_columns[titles.index("Reason")]
            assert column.get_render_width(table) - 2 >= min(REASON_ROOM, max(map(len, reasons)))
        why = app.screen.query_one("#why", Static)
        for row in range(table.row_count):
            table.move_cursor(row=row)
            await settle(pilot)
            edge = table.edges[row]
            shown = " ".join(why.render_line(y).text.strip("│ ") for y in range(why.size.height))
            assert edge.reason and " ".join(edge.reason.split()) in " ".join(shown.split())
            assert edge.rule_id in shown and "Do instead:" in shown


@pytest.mark.parametrize("size", [(100, 30), (160, 45), (220, 60)])
async def test_the_history_fits_the_terminal_and_shows_a_reason_whole_under_it(
    tmp_path: Path, size: tuple[int, int]
) -> None:
    """Below about 145 columns the history was wider than the terminal, scrolled sideways to
    its reason. Every column now fits (the time without its year, names cut where they repeat,
    the mechanism from 120 columns, the verdict by its glyph where its word would leave the
    reason too little), and the highlighted change's reason is whole under the table."""
    db = build_store(tmp_path / "classified.duckdb", manual=False)
    with short_lock(db) as store:
        classify(store.con, parse_landscape(RELABEL, Path("relabel.toml")))
    app = SeamscopeApp(lambda: LocalStore(db, classify=False), refresh_interval=0)
    async with app.run_test(size=size) as pilot:
        await settle(pilot)
        await pilot.press("H")
        await settle(pilot)
        screen = app.screen
        assert isinstance(screen, HistoryScreen)
        table = screen.query_one("#history", DataTable)
        room = table.scrollable_content_region.width
        assert _row_width(table) <= room
        assert table.max_scroll_x == 0
        titles = [c.label.plain for c in table.ordered_columns]
        assert {"When", "Change", "From", "To", "Cause"} <= set(titles)
        assert ("Mechanism" in titles) == (size[0] >= 120)
        why = screen.query_one("#why", Static)
        changes = screen._changes or ()
        for row in (0, table.row_count - 1):
            table.move_cursor(row=row)
            await settle(pilot)
            change = changes[row]
            shown = " ".join(why.render_line(y).text.strip("│ ") for y in range(why.size.height))
            assert change.reason and " ".join(change.reason.split()) in " ".join(shown.split())
            assert change.rule_id in str(table.get_row_at(row)[titles.index("Change")])


async def test_the_names_give_the_reason_the_room_they_do_not_need(
    tmp_path_factory: pytest.TempPathFactory,
) -> None:
    """At 160x45 on a generated store of 40 systems the findings' reasons had 25 cells ("SQS
    carries events from…") beside name columns of 32 and 35 cells, most rows' names far
    shorter. The names are cut where they repeat their system's (`subscriptions/…-api`) until
    the reason has REASON_ROOM cells, and no shorter."""
    from benchmarks.generate import generate_store, landscape_path

    store = tmp_path_factory.mktemp("g40") / "g40.duckdb"
    generate_store(store, 20_000, systems=40)
    app = SeamscopeApp(lambda: LocalStore(store, landscape_path(store)), refresh_interval=0)
    async with app.run_test(size=(160, 45)) as pilot:
        await settle(pilot)
        await pilot.press("n")
        await settle(pilot)
        table = app.screen.query_one("#findings", EdgeTable)
        titles = [c.label.plain for c in table.ordered_columns]
        reason = table.ordered_columns[titles.index("Reason")]
        assert reason.get_render_width(table) - 2 * table.cell_padding >= REASON_ROOM
        for row in range(table.row_count):
            for title in ("From", "To"):
                name = table.get_cell_at(Coordinate(row, titles.index(title))).plain
                # whole, cut where it repeats its system's name, or a resource's own name kept
                assert "…" not in name or "/…" in name or "…/" in name, name
        assert _row_width(table) <= table.scrollable_content_region.width


async def test_the_history_s_names_give_the_reason_what_they_do_not_need(tmp_path: Path) -> None:
    """At 160x45, with names as long as the demo's, the history gave its reason 22 cells while
    From and To were as wide as their longest names (32 and 36). The names give the reason
    what they do not need, cut where they repeat their system's, as the edge tables do."""
    db = build_store(tmp_path / "classified.duckdb", manual=False)
    with short_lock(db) as store:
        classify(store.con, parse_landscape(RELABEL, Path("relabel.toml")))
    with duckdb.connect(str(db)) as con:
        con.execute(
            "UPDATE label_changes SET from_node = from_node || '-of-the-fleet', "
            "to_node = to_node || '-of-the-fleet'"
        )
    app = SeamscopeApp(lambda: LocalStore(db, classify=False), refresh_interval=0)
    async with app.run_test(size=(160, 45)) as pilot:
        await settle(pilot)
        await pilot.press("H")
        await settle(pilot)
        screen = app.screen
        assert isinstance(screen, HistoryScreen)
        table = screen.query_one("#history", DataTable)
        widths = {c.label.plain: c.get_render_width(table) - 2 for c in table.ordered_columns}
        changes = screen._changes or ()
        names = [short_node(n, app.hosts) for c in changes for n in (c.from_node, c.to_node)]
        least = max(least_name(n) for n in names)
        longest_reason = max(len(c.reason or "") for c in changes)
        assert _row_width(table) <= table.scrollable_content_region.width
        if widths["Reason"] < min(REASON_ROOM, longest_reason):
            # Short of its room: only where the names are cut as far as they read.
            assert max(widths["From"], widths["To"]) <= least, widths
