"""EdgeTable: a refresh that gives the same records neither makes nor writes their cells again;
a record with new figures writes only the cells that show them; a row fits the table."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import pytest
from textual.app import App, ComposeResult

from seamscope.classifiers.results import Edge, Verdict
from seamscope.tui.widgets.cells import WORD_CUT_SLACK
from seamscope.tui.widgets.edgetable import EdgeTable

pytestmark = pytest.mark.anyio


def _edge(edge_id: str, **kw: Any) -> Edge:
    values: dict[str, Any] = {
        "edge_id": edge_id, "from_node": f"component:a/x{edge_id}", "to_node": f"n-{edge_id}",
        "from_system": "a", "to_system": None, "mechanism": "rest", "direction": "call",
        "via": None, "level": "external", "rule_id": "P101", "verdict": Verdict.PATTERN,
        "reason": None, "operations": (), "span_count": 5, "error_count": 0, "p50_ms": None,
        "p95_ms": None, "first_seen": None, "last_seen": None, "sample_trace_id": None,
        "evidence": "trace",
    }  # fmt: skip
    values.update(kw)
    return Edge(**values)


class _EdgesApp(App[None]):
    def compose(self) -> ComposeResult:
        yield EdgeTable(id="edges")


def _writes(table: EdgeTable) -> list[tuple[str, str]]:
    """(row, column) of every cell written from now on."""
    written: list[tuple[str, str]] = []
    original = table.update_cell

    def update_cell(row_key: Any, column_key: Any, value: Any, **kw: Any) -> None:
        written.append(
            (str(getattr(row_key, "value", row_key)), str(getattr(column_key, "value", column_key)))
        )
        original(row_key, column_key, value, **kw)

    table.update_cell = update_cell  # type: ignore[method-assign]
    return written


def _made(table: EdgeTable) -> list[str]:
    """The edge ids whose cells are made from now on."""
    made: list[str] = []
    original = table._cells

    def cells(e: Edge, *args: Any) -> Any:
        made.append(e.edge_id)
        return original(e, *args)

    table._cells = cells  # type: ignore[method-assign, assignment]
    return made


def _shown(table: EdgeTable, column: str) -> list[str]:
    index = [c.label.plain for c in table.ordered_columns].index(column)
    return [str(table.get_row_at(i)[index]) for i in range(table.row_count)]


async def test_the_same_records_are_not_written_again_and_new_figures_only_where_they_are() -> None:
    app = _EdgesApp()
    async with app.run_test(size=(160, 20)) as pilot:
        table = app.query_one(EdgeTable)
        edges = [_edge(str(i)) for i in range(4)]
        marks = {"0": "changed"}  # with a mark, the Changed column shows
        table.set_edges(edges, marks)
        await pilot.pause()
        kept = [list(table.get_row_at(i)) for i in range(table.row_count)]
        written = _writes(table)
        made = _made(table)

        table.set_edges(list(edges), dict(marks))  # a refresh that changed nothing
        assert written == [] and made == []
        assert [list(table.get_row_at(i)) for i in range(table.row_count)] == kept

        edges[2] = replace(edges[2], span_count=1234)  # new figures on one edge
        table.set_edges(edges, marks)
        assert written == [("2", "Spans")] and made == ["2"]
        assert _shown(table, "Spans") == ["5", "5", "1,234", "5"]
        assert table.get_row_at(0)[0] is kept[0][0]  # the other rows' cells stay

        written.clear()
        made.clear()
        table.set_edges(edges, marks | {"3": "new"})  # a mark comes: that row's Changed cell
        assert written == [("3", "Changed")] and made == ["3"]
        assert _shown(table, "Changed") == ["changed", "", "", "new"]

        written.clear()
        made.clear()
        equal = [replace(e) for e in edges]  # equal records, but not the same: compared
        table.set_edges(equal, marks | {"3": "new"})
        assert written == [] and made == ["0", "1", "2", "3"]


async def test_a_narrower_table_makes_its_cells_again() -> None:
    app = _EdgesApp()
    async with app.run_test(size=(160, 20)) as pilot:
        table = app.query_one(EdgeTable)
        edges = [_edge(str(i), to_node="n-" + "long-name-" * 6 + str(i)) for i in range(3)]
        table.set_edges(edges)
        await pilot.pause()
        wide = _shown(table, "To")
        await pilot.resize_terminal(100, 20)
        await pilot.pause()
        narrow = _shown(table, "To")
        assert narrow != wide and all(len(n) < len(w) for n, w in zip(narrow, wide, strict=True))
        table.set_edges(edges)  # the same records at the new width keep the new cells
        assert _shown(table, "To") == narrow


def _row_width(table: EdgeTable) -> int:
    return sum(column.get_render_width(table) for column in table.ordered_columns)


async def test_a_row_fits_the_table_with_its_mechanism_and_mark_whole() -> None:
    """At 100 columns: a mechanism longer than its column's usual room and a mark of a changed
    rule are shown whole, the names cut to what is left, and the row fits the table (the mark
    was cut at the edge). A wider mark coming later narrows the name columns again (DataTable
    never narrows a column by itself)."""
    app = _EdgesApp()
    async with app.run_test(size=(100, 20)) as pilot:
        table = app.query_one(EdgeTable)
        long_names = {"to_node": "component:analytics/analytics-stream-consumer"}
        edges = [
            _edge("0", mechanism="dynamodb-streams", direction="listen", **long_names),
            _edge("1", from_node="component:inventory/inventory-sync-job", **long_names),
        ]
        table.set_edges(edges, {"0": "new"})
        await pilot.pause()
        assert _row_width(table) <= table.size.width
        to_before = table.ordered_columns[3].get_render_width(table)
        assert _shown(table, "Mechanism")[0] == "dynamodb-streams listen"

        table.set_edges(edges, {"0": "new", "1": "was P302"})
        await pilot.pause()
        assert _shown(table, "Changed") == ["new", "was P302"]
        assert _row_width(table) <= table.size.width
        assert table.ordered_columns[3].get_render_width(table) < to_before


class _FindingsApp(App[None]):
    def compose(self) -> ComposeResult:
        yield EdgeTable(id="findings", reason=True)


@pytest.mark.parametrize(("width", "whole"), [(160, False), (220, True)])
async def test_the_reason_takes_the_room_left_and_is_cut_at_its_end(
    width: int, whole: bool
) -> None:
    """The findings' reason column: the room the other columns leave, no more (a reason cut at
    a fixed 60 cells made the rows wider than the table at 160 columns, its end cut at the
    table's edge), and all of it when there is room (the 60 cut it at 220 with room to spare).
    A reason that does not fit is cut at its end, not in the middle of two words, and fills
    the room to the table's edge (each column budgeted wider than drawn, and a cut at a word
    dropping up to 15 cells, left up to a score of them blank)."""
    reason = "queue search-q carries events from system orders to system search, not EventBridge"
    app = _FindingsApp()
    async with app.run_test(size=(width, 20)) as pilot:
        table = app.query_one(EdgeTable)
        table.set_edges([_edge("0", verdict=Verdict.ANTI_PATTERN, rule_id="A202", reason=reason)])
        await pilot.pause()
        shown = _shown(table, "Reason")[0]
        assert _row_width(table) <= table.size.width
        if whole:
            assert shown == reason
        else:
            assert shown.endswith("…") and reason.startswith(shown[:-1])
            assert table.size.width - _row_width(table) <= WORD_CUT_SLACK


async def test_a_column_narrows_when_its_widest_cell_goes() -> None:
    """An edge no rule covered ("unclassified") widened the Rule column; once a rule covered it,
    the column kept twelve cells for rule ids of four (seen live in the demo)."""
    app = _EdgesApp()
    async with app.run_test(size=(160, 20)) as pilot:
        table = app.query_one(EdgeTable)
        unclassified = _edge("1", rule_id="unclassified", verdict=Verdict.UNCLASSIFIED)
        table.set_edges([_edge("0"), unclassified])
        await pilot.pause()
        rule = next(c for c in table.ordered_columns if c.label.plain == "Rule")
        assert rule.content_width == len("unclassified")
        covered = [_edge("0"), replace(unclassified, rule_id="P202")]
        table.set_edges(covered)
        await pilot.pause()
        rule = next(c for c in table.ordered_columns if c.label.plain == "Rule")
        assert rule.content_width == len("Rule")
        assert _shown(table, "Rule") == ["P101", "P202"]
        # Nothing narrower: the columns stay, and the same records are not made again.
        columns = list(table.ordered_columns)
        made = _made(table)
        table.set_edges(covered)
        await pilot.pause()
        assert made == [] and list(table.ordered_columns) == columns
