"""SVG snapshots of every screen over the fixed sample store (fixed times, ids, terminal size).

Every screen at 100x30, 160x45 and 220x60. Regenerate after a deliberate change with
`pytest tests/functional --snapshot-update`, and look
at the result before committing it.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import pytest
from textual.pilot import Pilot
from textual.widgets import DataTable, TextArea

from tests.functional.conftest import AppFactory, settle
from tests.functional.sample import EDGES, build_unowned_store, edge_id_of, make_unresolved

SIZES = {"100x30": (100, 30), "160x45": (160, 45), "220x60": (220, 60)}
Compare = Callable[..., bool]
sizes = pytest.mark.parametrize("size", sorted(SIZES))
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


def shot(
    snap_compare: Compare, app: object, size: str, *actions: Callable[[Pilot[None]], Any]
) -> bool:
    return snap_compare(app, terminal_size=SIZES[size], run_before=steps(*actions))


def _edge(rule: str) -> str:
    return edge_id_of(next(i for i, e in enumerate(EDGES) if e.rule == rule))


@sizes
def test_landscape(snap_compare: Compare, sample_db: Path, make_app: AppFactory, size: str) -> None:
    assert shot(snap_compare, make_app(sample_db), size)


@sizes
def test_landscape_selected_system(
    snap_compare: Compare, sample_db: Path, make_app: AppFactory, size: str
) -> None:
    def pick(pilot: Pilot[None]) -> Awaitable[None]:
        systems = pilot.app.screen.query_one("#systems", DataTable)
        systems.move_cursor(
            row=[str(systems.get_row_at(i)[1]) for i in range(systems.row_count)].index("orders")
        )
        return pilot.press("tab", "l")  # into the focus view, on a callee

    assert shot(snap_compare, make_app(sample_db), size, pick)


@sizes
def test_landscape_unowned(
    snap_compare: Compare, tmp_path: Path, make_app: AppFactory, size: str
) -> None:
    """The resources of no known owner, the systems list's last row, in the focus view."""
    store = build_unowned_store(tmp_path / "unowned.duckdb")

    def last_row(pilot: Pilot[None]) -> None:
        # (below 120 columns the list is hidden: its row is picked as a resize would keep it)
        systems = pilot.app.screen.query_one("#systems", DataTable)
        systems.move_cursor(row=systems.row_count - 1)

    assert shot(snap_compare, make_app(store), size, last_row)


@sizes
def test_unowned_resources(
    snap_compare: Compare, tmp_path: Path, make_app: AppFactory, size: str
) -> None:
    """Opened like a system: each resource a row, the one in focus with why it has no owner."""
    store = build_unowned_store(tmp_path / "unowned.duckdb")

    def open_group(pilot: Pilot[None]) -> None:
        pilot.app.open_system("", select="dynamodb:table/Sessions")  # type: ignore[attr-defined]

    assert shot(snap_compare, make_app(store), size, open_group)


@sizes
def test_system(snap_compare: Compare, sample_db: Path, make_app: AppFactory, size: str) -> None:
    def open_orders(pilot: Pilot[None]) -> None:
        pilot.app.open_system("orders")  # type: ignore[attr-defined]

    assert shot(snap_compare, make_app(sample_db), size, open_orders)


@sizes
def test_edge(snap_compare: Compare, sample_db: Path, make_app: AppFactory, size: str) -> None:
    def open_edge(pilot: Pilot[None]) -> None:
        pilot.app.open_edge(_edge("A101"))  # type: ignore[attr-defined]

    assert shot(snap_compare, make_app(sample_db), size, open_edge)


@sizes
def test_unresolved_edge(
    snap_compare: Compare, sample_db: Path, make_app: AppFactory, size: str
) -> None:
    edge = edge_id_of(next(i for i, e in enumerate(EDGES) if "search-q" in (e.via or "")))
    make_unresolved(sample_db, edge)

    def open_edge(pilot: Pilot[None]) -> None:
        pilot.app.open_edge(edge)  # type: ignore[attr-defined]

    assert shot(snap_compare, make_app(sample_db), size, open_edge)


@sizes
def test_trace(snap_compare: Compare, sample_db: Path, make_app: AppFactory, size: str) -> None:
    def open_edge(pilot: Pilot[None]) -> None:
        pilot.app.open_edge(_edge("A202"))  # type: ignore[attr-defined]

    def open_producer(pilot: Pilot[None]) -> Awaitable[None]:
        table: DataTable[Any] = pilot.app.screen.query_one("#spans", DataTable)
        kinds = [str(table.get_row_at(i)[3]) for i in range(table.row_count)]
        table.move_cursor(row=kinds.index("PRODUCER"))
        return pilot.press("enter")

    assert shot(snap_compare, make_app(sample_db), size, open_edge, open_producer)


@sizes
def test_findings(snap_compare: Compare, sample_db: Path, make_app: AppFactory, size: str) -> None:
    def findings(pilot: Pilot[None]) -> Awaitable[None]:
        return pilot.press("n")

    assert shot(snap_compare, make_app(sample_db), size, findings)


@sizes
def test_patterns(snap_compare: Compare, sample_db: Path, make_app: AppFactory, size: str) -> None:
    def patterns(pilot: Pilot[None]) -> Awaitable[None]:
        return pilot.press("p")

    assert shot(snap_compare, make_app(sample_db), size, patterns)


@sizes
def test_sql(snap_compare: Compare, sample_db: Path, make_app: AppFactory, size: str) -> None:
    def sql(pilot: Pilot[None]) -> Awaitable[None]:
        return pilot.press("s")

    def query(pilot: Pilot[None]) -> Awaitable[None]:
        pilot.app.screen.query_one(
            "#sql-editor", TextArea
        ).text = (
            "SELECT mechanism, verdict, count(*) AS edges\nFROM edges\nGROUP BY ALL ORDER BY ALL"
        )
        return pilot.press("ctrl+j")

    assert shot(snap_compare, make_app(sample_db), size, sql, query)


@sizes
def test_help(snap_compare: Compare, sample_db: Path, make_app: AppFactory, size: str) -> None:
    def help_screen(pilot: Pilot[None]) -> Awaitable[None]:
        return pilot.press("question_mark")

    assert shot(snap_compare, make_app(sample_db), size, help_screen)


@sizes
def test_filter(snap_compare: Compare, sample_db: Path, make_app: AppFactory, size: str) -> None:
    def filter_screen(pilot: Pilot[None]) -> Awaitable[None]:
        return pilot.press("f")

    assert shot(snap_compare, make_app(sample_db), size, filter_screen)


@sizes
def test_missing_store(snap_compare: Compare, make_app: AppFactory, size: str) -> None:
    app = make_app(Path("missing") / "seamscope.duckdb")
    assert shot(snap_compare, app, size)


@sizes
def test_matrix(snap_compare: Compare, sample_db: Path, make_app: AppFactory, size: str) -> None:
    def matrix(pilot: Pilot[None]) -> Awaitable[None]:
        return pilot.press("m", "j")

    assert shot(snap_compare, make_app(sample_db), size, matrix)


@sizes
def test_go_to(snap_compare: Compare, sample_db: Path, make_app: AppFactory, size: str) -> None:
    def go_to(pilot: Pilot[None]) -> Awaitable[None]:
        return pilot.press("colon", *"users")

    assert shot(snap_compare, make_app(sample_db), size, go_to)
