"""The SQL screen's result: number columns sat left-aligned, header and cells, where every other
table right-aligns them; DuckDB's result types say which columns are numbers."""

from __future__ import annotations

from pathlib import Path

import pytest
from textual.widgets import DataTable

from tests.functional.conftest import AppFactory, settle
from tests.functional.test_screens import _run_sql

pytestmark = pytest.mark.anyio

QUERY = (
    "SELECT * FROM (VALUES ('auth0', 7, 2.5, 12.25::DECIMAL(6,2)),"
    " ('stripe-webhooks', 12345, 1000.75, 3.5::DECIMAL(6,2))) AS t(name, n, ms, cost)"
)


def _cells(table: DataTable[object], y: int) -> list[str]:
    """Line y of table as drawn, cut into its columns (padding included)."""
    line = table.render_line(y).text
    out, x = [], 0
    for column in table.ordered_columns:
        width = column.get_render_width(table)
        out.append(line[x : x + width])
        x += width
    return out


async def test_sql_result_numbers_and_their_headers_are_right_aligned(
    sample_db: Path, make_app: AppFactory
) -> None:
    app = make_app(sample_db)
    async with app.run_test(size=(160, 45)) as pilot:
        await settle(pilot)
        await pilot.press("s")
        await settle(pilot)
        await _run_sql(pilot, app, QUERY)
        table = app.screen.query_one("#sql-result", DataTable)
        assert table.row_count == 2
        header, first, second = (_cells(table, y) for y in range(3))
        # The text column stays left: its header and a short name start at the left.
        assert header[0].startswith(" name ") and first[0].startswith(" auth0 ")
        for col, title in ((1, "n"), (2, "ms"), (3, "cost")):
            assert header[col].endswith(f" {title} "), header
            # Right-aligned: each shorter number ends where the column's longest does.
            assert first[col].endswith(" "), first
            assert len(first[col].rstrip()) == len(second[col].rstrip()), (first, second)


async def test_sql_result_keeps_duplicate_names_and_values_python_cannot_hold(
    sample_db: Path, make_app: AppFactory
) -> None:
    """Rows were read as dicts: two columns of one name lost one value (and the row raised), and
    a date of DuckDB's 'infinity' raised in pyarrow's conversion, on the screen's own loop."""
    app = make_app(sample_db)
    async with app.run_test(size=(160, 45)) as pilot:
        await settle(pilot)
        await pilot.press("s")
        await settle(pilot)
        await _run_sql(pilot, app, "SELECT 1 AS a, 2 AS a, 'infinity'::DATE AS d")
        table = app.screen.query_one("#sql-result", DataTable)
        assert table.row_count == 1
        cells = [str(c).strip() for c in table.get_row_at(0)]
        assert cells == ["1", "2", "infinity"], cells
