"""The names of an edge's ends in the edge tables of a live session (the Changed column) at 100
columns: cut at a readable place, never in the middle of a word."""

from __future__ import annotations

import re
from pathlib import Path

import duckdb
import pytest
from textual.widgets import DataTable

from seamscope.tui.app import SeamscopeApp
from seamscope.tui.data import LocalStore
from tests.functional.conftest import settle
from tests.functional.test_panes import DEMO, demo_db

pytestmark = pytest.mark.anyio

__all__ = ["demo_db"]  # the fixture, shared with test_panes

MID_WORD = re.compile(r"\w…\w")


def _app(db: Path) -> SeamscopeApp:
    return SeamscopeApp(lambda: LocalStore(db, DEMO / "seamscope.toml"), refresh_interval=0)


def _ends(table: DataTable[object]) -> list[str]:
    columns = [str(c.label) for c in table.ordered_columns]
    ends = [columns.index("From"), columns.index("To")]
    return [str(table.get_row_at(r)[i]) for r in range(table.row_count) for i in ends]


async def test_names_in_a_live_sessions_tables_are_not_cut_mid_word_at_100_columns(
    demo_db: Path,
) -> None:
    """At 100x30 with the Changed column the findings said "inventor…ync-job" and
    "analytic…treamer": the verdict's word now gives its cells to the names (its glyph stays),
    and a name still too long keeps its system and the component's last words."""
    app = _app(demo_db)
    async with app.run_test(size=(100, 30)) as pilot:
        await settle(pilot)  # labels the store
    with duckdb.connect(str(demo_db)) as con:
        # Every edge changed since the next session opened, as a live session marks them.
        con.execute(
            "INSERT INTO label_changes SELECT now() + INTERVAL 1 HOUR, edge_id, from_node, "
            "to_node, mechanism, NULL, NULL, rule_id, verdict, reason, 'spans' FROM edges"
        )
    app = _app(demo_db)
    async with app.run_test(size=(100, 30)) as pilot:
        await settle(pilot)
        await pilot.press("n")
        await settle(pilot)
        findings = app.screen.query_one("#findings", DataTable)
        assert "Changed" in [str(c.label) for c in findings.ordered_columns]
        names = _ends(findings)
        assert "inventory/…-sync-job" in names and "analytics/…-streamer" in names, names
        assert not [n for n in names if MID_WORD.search(n)], names
        glyphs = {str(findings.get_row_at(r)[0]) for r in range(findings.row_count)}
        assert glyphs == {"✗", "!"}, glyphs  # never colour only
        # The matrix's cell tables (Enter on a pair), every pair in turn.
        await pilot.press("L")
        await settle(pilot)
        await pilot.press("m")
        await settle(pilot)
        seen: list[str] = []
        for _ in range(12):
            seen += _ends(app.screen.query_one("#edges", DataTable))
            await pilot.press("j")
            await settle(pilot)
        assert not [n for n in seen if MID_WORD.search(n)], seen


async def test_a_name_whose_middle_cut_keeps_its_system_is_cut_between_words(
    demo_db: Path,
) -> None:
    """At 100x30 in the live demo the landscape's table of marketing said
    "marketing/…iling-sync": a cut in the middle of "marketing/mailing-sync" that kept the
    system by chance, taken for one that cuts where the component repeats it. It is cut
    between words, its system whole: "marketing/…-sync"."""
    app = _app(demo_db)
    async with app.run_test(size=(100, 30)) as pilot:
        await settle(pilot)  # labels the store
    with duckdb.connect(str(demo_db)) as con:
        con.execute(
            "INSERT INTO label_changes SELECT now() + INTERVAL 1 HOUR, edge_id, from_node, "
            "to_node, mechanism, NULL, NULL, rule_id, verdict, reason, 'spans' FROM edges"
        )
    app = _app(demo_db)
    async with app.run_test(size=(100, 30)) as pilot:
        await settle(pilot)
        systems = app.screen.query_one("#systems", DataTable)
        row = next(
            r for r in range(systems.row_count) if "marketing" in map(str, systems.get_row_at(r))
        )
        systems.move_cursor(row=row)
        await settle(pilot)
        edges = app.screen.query_one("#edges", DataTable)
        assert "Changed" in [str(c.label) for c in edges.ordered_columns]
        names = _ends(edges)
        mine = {n for n in names if n.startswith("marketing/")}
        assert mine and mine <= {"marketing/mailing-sync", "marketing/…-sync"}, names
        assert not [n for n in names if MID_WORD.search(n)], names
