"""A table drawn while its rows arrive ends up drawn at its measured column widths.

DataTable measures new rows on its next Idle event; a frame drawn before that (a busy machine)
cached the rows and the header at the headers' widths, and the table stayed cut until the cursor
moved: the snapshot tests caught it under load, a user saw it as columns cut to their titles.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from textual.widgets import DataTable

from seamscope.tui.screens.lists import FindingsScreen
from tests.functional.conftest import AppFactory, settle

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
