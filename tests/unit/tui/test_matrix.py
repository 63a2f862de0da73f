"""The matrix names the columns that are no row (vendors, resources) below its rows."""

from __future__ import annotations

import pytest
from textual.app import App, ComposeResult

from seamscope.classifiers.results import Verdict
from seamscope.tui.widgets.matrix import Cell, Matrix, MatrixView

pytestmark = pytest.mark.anyio

SYSTEMS = ("system:billing", "system:orders")
VERDICT = next(iter(Verdict))


def _matrix(vendors: int) -> Matrix:
    names = {"system:billing": "billing", "system:orders": "orders"}
    extra = tuple(f"vendor:v{i:02d}" for i in range(vendors))
    names |= {v: f"vendor-{v[-2:]}" for v in extra}
    cells = {("system:orders", v): Cell(VERDICT) for v in extra}
    return Matrix(SYSTEMS, SYSTEMS + extra, names, cells)


class _MatrixApp(App[None]):
    def __init__(self, matrix: Matrix, width: int) -> None:
        super().__init__()
        self._matrix = matrix
        self._width = width

    def compose(self) -> ComposeResult:
        view = MatrixView(id="m")
        view.styles.width = self._width
        view.matrix = self._matrix
        yield view


async def _screen_lines(matrix: Matrix, width: int, height: int) -> list[str]:
    app = _MatrixApp(matrix, width)
    async with app.run_test(size=(width, height)) as pilot:
        await pilot.pause()
        view = app.query_one(MatrixView)
        return [view.render_line(y).text.rstrip() for y in range(view.size.height)]


async def test_the_columns_past_the_rows_are_named_below_them() -> None:
    lines = await _screen_lines(_matrix(2), 60, 10)
    glyph = VERDICT.glyph
    assert lines[1:5] == [
        "1 billing  ╲  ·  ·  ·",
        f"2 orders   ·  ╲  {glyph}  {glyph}",
        "",
        "3 vendor-00   4 vendor-01",
    ]


async def test_a_legend_longer_than_the_room_left_ends_in_an_ellipsis() -> None:
    lines = await _screen_lines(_matrix(40), 40, 8)
    legend = lines[5:]  # two header lines (42 columns), two rows, a blank line
    assert len(legend) == 3 and legend[-1].endswith("…")
    assert legend[0].startswith(" 3 vendor-00   ")
    assert all(len(line) <= 40 for line in legend)


async def test_no_legend_when_every_column_is_a_row() -> None:
    lines = await _screen_lines(_matrix(0), 60, 10)
    assert [line for line in lines[3:] if line] == []
