"""SVG snapshots of every screen over the fixed sample store (fixed times, ids, terminal size).

Regenerate after a deliberate change with `pytest tests/functional --snapshot-update`, and look
at the result before committing it.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

from textual.pilot import Pilot
from textual.widgets import DataTable, Input

from seamscope.tui.widgets.landmap import LandscapeMap
from tests.functional.conftest import AppFactory, settle
from tests.functional.sample import EDGES, edge_id_of

SIZE = (160, 45)
Compare = Callable[..., bool]
Step = Callable[[Pilot[None]], Awaitable[None]]


def steps(*actions: Callable[[Pilot[None]], Any]) -> Step:
    async def run(pilot: Pilot[None]) -> None:
        await settle(pilot)
        for action in actions:
            result = action(pilot)
            if result is not None and hasattr(result, "__await__"):
                await result
            await settle(pilot)

    return run


def _edge(rule: str) -> str:
    return edge_id_of(next(i for i, e in enumerate(EDGES) if e.rule == rule))


def test_landscape(snap_compare: Compare, sample_db: Path, make_app: AppFactory) -> None:
    assert snap_compare(make_app(sample_db), terminal_size=SIZE, run_before=steps())


def test_landscape_selected_system(
    snap_compare: Compare, sample_db: Path, make_app: AppFactory
) -> None:
    def pick(pilot: Pilot[None]) -> None:
        pilot.app.screen.query_one(LandscapeMap).select("system:orders")

    assert snap_compare(make_app(sample_db), terminal_size=SIZE, run_before=steps(pick))


def test_system(snap_compare: Compare, sample_db: Path, make_app: AppFactory) -> None:
    def open_orders(pilot: Pilot[None]) -> None:
        pilot.app.open_system("orders")  # type: ignore[attr-defined]

    assert snap_compare(make_app(sample_db), terminal_size=SIZE, run_before=steps(open_orders))


def test_edge(snap_compare: Compare, sample_db: Path, make_app: AppFactory) -> None:
    def open_edge(pilot: Pilot[None]) -> None:
        pilot.app.open_edge(_edge("A101"))  # type: ignore[attr-defined]

    assert snap_compare(make_app(sample_db), terminal_size=SIZE, run_before=steps(open_edge))


def test_trace(snap_compare: Compare, sample_db: Path, make_app: AppFactory) -> None:
    def open_edge(pilot: Pilot[None]) -> None:
        pilot.app.open_edge(_edge("A202"))  # type: ignore[attr-defined]

    def open_producer(pilot: Pilot[None]) -> Awaitable[None]:
        table: DataTable[Any] = pilot.app.screen.query_one("#spans", DataTable)
        kinds = [str(table.get_row_at(i)[3]) for i in range(table.row_count)]
        table.move_cursor(row=kinds.index("PRODUCER"))
        return pilot.press("enter")

    assert snap_compare(
        make_app(sample_db), terminal_size=SIZE, run_before=steps(open_edge, open_producer)
    )


def test_findings(snap_compare: Compare, sample_db: Path, make_app: AppFactory) -> None:
    def findings(pilot: Pilot[None]) -> Awaitable[None]:
        return pilot.press("n")

    assert snap_compare(make_app(sample_db), terminal_size=SIZE, run_before=steps(findings))


def test_patterns(snap_compare: Compare, sample_db: Path, make_app: AppFactory) -> None:
    def patterns(pilot: Pilot[None]) -> Awaitable[None]:
        return pilot.press("p")

    assert snap_compare(make_app(sample_db), terminal_size=SIZE, run_before=steps(patterns))


def test_sql(snap_compare: Compare, sample_db: Path, make_app: AppFactory) -> None:
    def sql(pilot: Pilot[None]) -> Awaitable[None]:
        return pilot.press("s")

    def query(pilot: Pilot[None]) -> Awaitable[None]:
        pilot.app.screen.query_one(
            "#sql-input", Input
        ).value = (
            "SELECT mechanism, verdict, count(*) AS edges FROM edges GROUP BY ALL ORDER BY ALL"
        )
        return pilot.press("enter")

    assert snap_compare(make_app(sample_db), terminal_size=SIZE, run_before=steps(sql, query))


def test_help(snap_compare: Compare, sample_db: Path, make_app: AppFactory) -> None:
    def help_screen(pilot: Pilot[None]) -> Awaitable[None]:
        return pilot.press("question_mark")

    assert snap_compare(make_app(sample_db), terminal_size=SIZE, run_before=steps(help_screen))


def test_filter(snap_compare: Compare, sample_db: Path, make_app: AppFactory) -> None:
    def filter_screen(pilot: Pilot[None]) -> Awaitable[None]:
        return pilot.press("f")

    assert snap_compare(make_app(sample_db), terminal_size=SIZE, run_before=steps(filter_screen))


def test_missing_store(snap_compare: Compare, make_app: AppFactory) -> None:
    app = make_app(Path("missing") / "seamscope.duckdb")
    assert snap_compare(app, terminal_size=SIZE, run_before=steps())
