"""A number column's header is right-aligned over its right-aligned numbers, in every table:
`ms`, `Edges`, `Spans` sat left over them (the edge screen's spans, the landscape's systems and
edges)."""

from __future__ import annotations

from pathlib import Path

import pytest
from textual.widgets import DataTable

from seamscope.tui.widgets.cells import NUMBER_TITLES
from tests.functional.conftest import AppFactory, settle

pytestmark = pytest.mark.anyio


def _headers(table: DataTable[object]) -> dict[str, str]:
    """Each number column's header cell as drawn (its padding included)."""
    line = table.render_line(0).text
    out, x = {}, 0
    for column in table.ordered_columns:
        width = column.get_render_width(table)
        if column.label.plain in NUMBER_TITLES:
            out[column.label.plain] = line[x : x + width]
        x += width
    return out


def _right(cells: dict[str, str]) -> dict[str, str]:
    """The cells as a right-aligned header draws them."""
    return {t: " " * (len(c) - len(t) - 1) + t + " " for t, c in cells.items()}


async def test_number_headers_are_right_aligned_over_their_numbers(
    sample_db: Path, make_app: AppFactory
) -> None:
    app = make_app(sample_db)
    async with app.run_test(size=(160, 45)) as pilot:
        await settle(pilot)
        seen: set[str] = set()
        for table in app.screen.query(DataTable):
            if table.display and table.row_count:
                cells = _headers(table)
                assert cells == _right(cells)
                seen |= set(cells)
        assert app.source is not None
        found = app.source.user_sql("SELECT edge_id FROM edges ORDER BY span_count DESC")
        app.open_edge(str(found.column("edge_id")[0]))
        await settle(pilot)
        spans = app.screen.query_one("#spans", DataTable)
        cells = _headers(spans)
        assert cells == _right(cells)
        seen |= set(cells)
        assert {"ms", "Edges", "Spans"} <= seen
