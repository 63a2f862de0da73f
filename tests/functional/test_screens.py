"""The TUI driven with Pilot over a real store file: every screen and the paths between them."""

from __future__ import annotations

import io
import subprocess
import sys
from pathlib import Path
from typing import Any

import duckdb
import pytest
from rich.console import Console
from textual.widgets import DataTable, Input, OptionList, Static

from seamscope.classifiers.schema import CLASSIFIER_DDL
from seamscope.tracer.rows import SpanBatchBuilder
from seamscope.tracer.store import Store, short_lock
from seamscope.tui.screens.dialogs import FilterScreen, HelpScreen, ProblemScreen, SearchScreen
from seamscope.tui.screens.edge import EdgeScreen
from seamscope.tui.screens.landscape import LandscapeScreen, SystemScreen
from seamscope.tui.screens.lists import FindingsScreen, PatternsScreen
from seamscope.tui.screens.sql import SqlScreen
from seamscope.tui.screens.trace import TraceScreen
from seamscope.tui.widgets.landmap import LandscapeMap
from tests.functional.conftest import AppFactory, settle
from tests.functional.sample import EDGES, T0, edge_id_of

pytestmark = pytest.mark.anyio

SIZE = (160, 45)
LANDSCAPE_EDGES = sum(1 for e in EDGES if e.level in ("system", "external"))


def cells(table: DataTable[Any], column: int) -> list[str]:
    return [str(table.get_row_at(i)[column]) for i in range(table.row_count)]


def static_text(widget: Static) -> str:
    """What a Static shows, as plain text (Rich renderables included)."""
    console = Console(width=200, record=True, file=io.StringIO())
    console.print(widget.content)
    return console.export_text()


async def test_landscape_shows_systems_and_edges(sample_db: Path, make_app: AppFactory) -> None:
    app = make_app(sample_db)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        assert isinstance(app.screen, LandscapeScreen)
        table = app.screen.query_one("#edges", DataTable)
        assert table.row_count == LANDSCAPE_EDGES
        boxes = app.screen.query_one(LandscapeMap).drawing.boxes
        assert {"system:shop", "system:orders", "system:users", "system:search"} <= set(boxes)
        assert "external:auth0" in boxes
        # Worst first: the anti-patterns lead the table.
        assert cells(table, 4)[0] == "✗ anti-pattern"  # never colour alone
        assert "pattern" in cells(table, 4)[-1]


async def test_map_enter_opens_system_and_escape_returns(
    sample_db: Path, make_app: AppFactory
) -> None:
    app = make_app(sample_db)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        landmap = app.screen.query_one(LandscapeMap)
        landmap.focus()
        landmap.select("system:orders")
        await pilot.press("enter")
        await settle(pilot)
        assert isinstance(app.screen, SystemScreen)
        assert app.screen.system == "orders"
        boxes = app.screen.query_one(LandscapeMap).drawing.boxes
        assert "component:orders/orders-api" in boxes
        assert "dynamodb:table/Orders" in boxes
        assert "dynamodb:table/Users" in boxes  # another system's table it hits
        table = app.screen.query_one("#edges", DataTable)
        assert "A301" in cells(table, 3)
        await pilot.press("escape")
        await settle(pilot)
        assert isinstance(app.screen, LandscapeScreen)


async def test_map_arrow_keys_move_the_selection(sample_db: Path, make_app: AppFactory) -> None:
    app = make_app(sample_db)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        landmap = app.screen.query_one(LandscapeMap)
        landmap.focus()
        first = landmap.selected
        await pilot.press("right")
        assert landmap.selected != first
        boxes = landmap.drawing.boxes
        assert boxes[str(landmap.selected)].column > boxes[str(first)].column


async def test_mouse_click_selects_then_opens(sample_db: Path, make_app: AppFactory) -> None:
    app = make_app(sample_db)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        landmap = app.screen.query_one(LandscapeMap)
        box = landmap.drawing.boxes["system:users"]
        # The widget has one cell of padding on the left.
        offset = (box.x + 1 + 2, box.y + 1)
        assert await pilot.click(LandscapeMap, offset=offset)
        await settle(pilot)
        assert landmap.selected == "system:users"
        assert await pilot.click(LandscapeMap, offset=offset)
        await settle(pilot)
        assert isinstance(app.screen, SystemScreen)
        assert app.screen.system == "users"


async def test_edge_then_trace_then_back(sample_db: Path, make_app: AppFactory) -> None:
    app = make_app(sample_db)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        a101 = edge_id_of(next(i for i, e in enumerate(EDGES) if e.rule == "A101"))
        app.open_edge(a101)
        await settle(pilot)
        assert isinstance(app.screen, EdgeScreen)
        text = static_text(app.screen.query_one("#edge-text", Static))
        assert "A101" in text and "anti-pattern".upper() in text
        assert "not through the BFF" in text
        spans = app.screen.query_one("#spans", DataTable)
        assert spans.row_count == 4
        await pilot.press("enter")
        await settle(pilot)
        assert isinstance(app.screen, TraceScreen)
        waterfall = app.screen.query_one("#waterfall", DataTable)
        # root server span, the labelled client call, the callee's server span
        assert waterfall.row_count == 3
        labels = cells(waterfall, 5)
        assert any(label.startswith("◀ anti-pattern") for label in labels)
        attributes = app.screen.query_one("#attributes", Static)
        await settle(pilot)
        assert "service.name" in static_text(attributes)
        await pilot.press("escape")
        await settle(pilot)
        assert isinstance(app.screen, EdgeScreen)


async def test_listening_edge_trace_shows_the_other_side(
    sample_db: Path, make_app: AppFactory
) -> None:
    app = make_app(sample_db)
    index = next(i for i, e in enumerate(EDGES) if e.rule == "A202")
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        app.open_edge(edge_id_of(index))
        await settle(pilot)
        spans = app.screen.query_one("#spans", DataTable)
        producer_row = cells(spans, 3).index("PRODUCER")
        spans.move_cursor(row=producer_row)
        await pilot.press("enter")
        await settle(pilot)
        assert isinstance(app.screen, TraceScreen)
        hops = app.screen.query_one("#hops", DataTable)
        assert hops.display and hops.row_count >= 1
        assert "CONSUMER" in cells(hops, 2)
        before = app.screen.trace_id
        hops.focus()
        hops.move_cursor(row=cells(hops, 2).index("CONSUMER"))
        await pilot.press("enter")
        await settle(pilot)
        assert isinstance(app.screen, TraceScreen)
        assert app.screen.trace_id != before


async def test_findings_worst_first_and_jump_to_edge(sample_db: Path, make_app: AppFactory) -> None:
    app = make_app(sample_db)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        await pilot.press("n")
        await settle(pilot)
        assert isinstance(app.screen, FindingsScreen)
        table = app.screen.query_one("#findings", DataTable)
        verdicts = [cell.split(" ", 1)[1] for cell in cells(table, 0)]
        expected = sorted(e.verdict for e in EDGES if e.verdict in ("anti-pattern", "smell"))
        assert sorted(verdicts) == expected
        assert verdicts == sorted(verdicts, key=lambda v: v != "anti-pattern")
        # Among anti-patterns, the one with errors comes first.
        assert cells(table, 1)[0] == "A101"
        await pilot.press("enter")
        await settle(pilot)
        assert isinstance(app.screen, EdgeScreen)
        assert "A101" in static_text(app.screen.query_one("#edge-text", Static))


async def test_patterns_counts_and_edges_of_a_rule(sample_db: Path, make_app: AppFactory) -> None:
    app = make_app(sample_db)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        await pilot.press("p")
        await settle(pilot)
        assert isinstance(app.screen, PatternsScreen)
        table = app.screen.query_one("#rules", DataTable)
        ids = cells(table, 0)
        for edge in EDGES:
            assert edge.rule in ids
        row = ids.index("P301")
        assert cells(table, 4)[row] == "1"
        table.move_cursor(row=row)
        await pilot.press("enter")
        await settle(pilot)
        assert isinstance(app.screen, FindingsScreen)
        listed = app.screen.query_one("#findings", DataTable)
        assert cells(listed, 1) == ["P301"]


async def test_sql_console_runs_read_only_and_keeps_history(
    sample_db: Path, make_app: AppFactory
) -> None:
    app = make_app(sample_db)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        await pilot.press("s")
        await settle(pilot)
        assert isinstance(app.screen, SqlScreen)
        box = app.screen.query_one("#sql-input", Input)
        box.value = "SELECT count(*) AS n FROM spans"
        await pilot.press("enter")
        await settle(pilot)
        result = app.screen.query_one("#sql-result", DataTable)
        expected = duckdb.connect(str(sample_db), read_only=True)
        try:
            row = expected.execute("SELECT count(*) FROM spans").fetchone()
        finally:
            expected.close()
        assert row is not None
        assert cells(result, 0) == [str(row[0])]
        # Values are shown as they are, never read as markup.
        box.value = "SELECT 'a [/] b' AS x, 'orders[v2]' AS y"
        await pilot.press("enter")
        await settle(pilot)
        assert [cells(result, 0), cells(result, 1)] == [["a [/] b"], ["orders[v2]"]]
        box.value = "DELETE FROM spans"
        await pilot.press("enter")
        await settle(pilot)
        status = static_text(app.screen.query_one("#sql-status", Static))
        assert "only SELECT queries are allowed here, not DELETE" in status
        assert app.sql_history == [
            "SELECT count(*) AS n FROM spans",
            "SELECT 'a [/] b' AS x, 'orders[v2]' AS y",
            "DELETE FROM spans",
        ]
        await pilot.press("escape")  # the console opened again lists that history
        await settle(pilot)
        await pilot.press("s")
        await settle(pilot)
        assert isinstance(app.screen, SqlScreen)
        listed = app.screen.query_one("#sql-history", OptionList)
        shown = str(listed.get_option_at_index(1).prompt)
        assert shown == "SELECT 'a [/] b' AS x, 'orders[v2]' AS y"
    check = duckdb.connect(str(sample_db), read_only=True)
    try:
        count = check.execute("SELECT count(*) FROM spans").fetchone()
    finally:
        check.close()
    assert count == row


async def test_filter_by_verdict_and_search(sample_db: Path, make_app: AppFactory) -> None:
    app = make_app(sample_db)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        await pilot.press("f")
        await settle(pilot)
        assert isinstance(app.screen, FilterScreen)
        app.screen.query_one("#filter-verdict", Input).value = "anti-pattern"
        await pilot.click("#apply")
        await settle(pilot)
        assert isinstance(app.screen, LandscapeScreen)
        table = app.screen.query_one("#edges", DataTable)
        assert set(cells(table, 4)) == {"✗ anti-pattern"}
        await pilot.press("slash")
        await settle(pilot)
        assert isinstance(app.screen, SearchScreen)
        app.screen.query_one(Input).value = "users-api"
        await pilot.press("enter")
        await settle(pilot)
        table = app.screen.query_one("#edges", DataTable)
        assert table.row_count == 1
        assert cells(table, 3) == ["A101"]
        app.action_clear_filters()
        await settle(pilot)
        assert table.row_count == LANDSCAPE_EDGES
        # A search with brackets is shown as typed in the findings' summary, not as markup.
        await pilot.press("slash")
        await settle(pilot)
        app.screen.query_one(Input).value = "a [/] b"
        await pilot.press("enter")
        await settle(pilot)
        await pilot.press("n")
        await settle(pilot)
        assert isinstance(app.screen, FindingsScreen)
        assert "a [/] b" in static_text(app.screen.query_one("#summary", Static))


async def test_help_and_command_palette(sample_db: Path, make_app: AppFactory) -> None:
    app = make_app(sample_db)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        await pilot.press("question_mark")
        await settle(pilot)
        assert isinstance(app.screen, HelpScreen)
        await pilot.press("escape")
        await settle(pilot)
        assert isinstance(app.screen, LandscapeScreen)
        titles = [c.title for c in app.get_system_commands(app.screen)]
        for wanted in ("Findings", "Patterns", "SQL console", "Filter", "Search", "Landscape"):
            assert wanted in titles
        await pilot.press("ctrl+p")
        await settle(pilot)
        await pilot.press(*"Patterns")
        await settle(pilot)
        await pilot.press("enter")
        await settle(pilot)
        assert isinstance(app.screen, PatternsScreen)


async def test_missing_store_gets_a_problem_screen(tmp_path: Path, make_app: AppFactory) -> None:
    app = make_app(tmp_path / "nowhere.duckdb")
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        assert isinstance(app.screen, ProblemScreen)
        assert app.screen.problem_title == "No store here"
        assert "nowhere.duckdb" in app.screen.message


async def test_newer_schema_gets_a_problem_screen(db_path: Path, make_app: AppFactory) -> None:
    Store.open(db_path).close()
    con = duckdb.connect(str(db_path))
    con.execute("UPDATE seamscope_meta SET value = '999' WHERE key = 'schema_version'")
    con.close()
    app = make_app(db_path)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        assert isinstance(app.screen, ProblemScreen)
        assert "newer" in app.screen.problem_title
        assert "999" in app.screen.message


async def test_empty_store_says_what_to_do(db_path: Path, make_app: AppFactory) -> None:
    Store.open(db_path).close()
    app = make_app(db_path)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        assert isinstance(app.screen, ProblemScreen)
        assert app.screen.problem_title == "The store is empty"
        assert "opentelemetry-instrument" in app.screen.advice


async def test_locked_store_gets_a_problem_screen_and_retry_works(
    sample_db: Path, make_app: AppFactory
) -> None:
    holder = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "import duckdb, sys; c = duckdb.connect(sys.argv[1]); print('held', flush=True); "
            "sys.stdin.read()",
            str(sample_db),
        ],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert holder.stdout is not None
        assert holder.stdout.readline().strip() == "held"
        app = make_app(sample_db)
        async with app.run_test(size=SIZE) as pilot:
            await settle(pilot)
            assert isinstance(app.screen, ProblemScreen)
            assert app.screen.problem_title == "The store is locked"
            assert holder.stdin is not None
            holder.stdin.close()
            holder.wait(timeout=30)
            await pilot.press("r")
            await settle(pilot)
            assert isinstance(app.screen, LandscapeScreen)
    finally:
        holder.kill()
        holder.wait()


def _add_new_edge(path: Path) -> None:
    """Another writer appends spans and the classifier's output for a new edge."""
    builder = SpanBatchBuilder()
    start = T0 + 3_600 * 10**9
    builder.add(
        trace_id="f" * 32,
        span_id="e" * 16,
        parent_span_id=None,
        name="GET /api",
        kind="CLIENT",
        start_ns=start,
        end_ns=start + 5_000_000,
        status_code="UNSET",
        status_message=None,
        attributes={"http.request.method": "GET"},
        resource={"service.name": "indexer", "service.namespace": "search"},
        scope_name="httpx",
    )
    with short_lock(path) as store:
        store.append(builder.build(), batch_key="live-1", source="tests")
        for statement in CLASSIFIER_DDL:
            store.con.execute(statement)
        store.con.execute(
            "INSERT INTO edges VALUES ('live-edge', 'component:search/indexer', "
            "'component:billing/billing-job', 'search', 'billing', 'rest', 'call', NULL, "
            "'system', 'P102', 'pattern', 'indexer calls billing REST', ['GET /api'], 1, 0, "
            "5.0, 5.0, now(), now(), ?, 'trace')",
            ["f" * 32],
        )


async def test_live_refresh_shows_a_new_edge(sample_db: Path, make_app: AppFactory) -> None:
    app = make_app(sample_db, refresh_interval=0.2)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        table = app.screen.query_one("#edges", DataTable)
        assert table.row_count == LANDSCAPE_EDGES
        _add_new_edge(sample_db)
        for _ in range(200):  # bounded: the timer fires every 0.2 s
            await pilot.pause(0.05)
            if table.row_count == LANDSCAPE_EDGES + 1:
                break
        assert table.row_count == LANDSCAPE_EDGES + 1
        assert "search/indexer" in cells(table, 0)


@pytest.mark.parametrize("screen_key", ["n", "p"])
async def test_escape_goes_back_to_the_landscape(
    sample_db: Path, make_app: AppFactory, screen_key: str
) -> None:
    app = make_app(sample_db)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        await pilot.press(screen_key)
        await settle(pilot)
        assert not isinstance(app.screen, LandscapeScreen)
        await pilot.press("escape")
        await settle(pilot)
        assert isinstance(app.screen, LandscapeScreen)
        # Escape on the landscape stays there: nothing below it to go back to.
        await pilot.press("escape")
        await settle(pilot)
        assert isinstance(app.screen, LandscapeScreen)


def _many_systems(path: Path, systems: int) -> None:
    """A chain of systems calling each other (hand-made edges: only the count matters here)."""
    with Store.open(path) as store:
        builder = SpanBatchBuilder()
        builder.add(
            trace_id="a" * 32,
            span_id="a" * 16,
            parent_span_id=None,
            name="x",
            kind="SERVER",
            start_ns=T0,
            end_ns=T0 + 1,
            status_code="UNSET",
            status_message=None,
            attributes={},
            resource={"service.name": "s0"},
            scope_name=None,
        )
        store.append(builder.build(), batch_key="one", source="tests")
        for statement in CLASSIFIER_DDL:
            store.con.execute(statement)
        for i in range(systems):
            store.con.execute(
                "INSERT INTO nodes VALUES (?, 'component', ?, ?, 'backend', NULL, false, NULL)",
                [f"component:sys{i}/api", "api", f"sys{i}"],
            )
            store.con.execute(
                "INSERT INTO edges VALUES (?, ?, ?, ?, ?, 'rest', 'call', NULL, 'system', "
                "'P102', 'pattern', NULL, [], 1, 0, 1.0, 1.0, NULL, NULL, NULL, 'trace')",
                [
                    f"e{i}",
                    f"component:sys{i}/api",
                    f"component:sys{(i + 1) % systems}/api",
                    f"sys{i}",
                    f"sys{(i + 1) % systems}",
                ],
            )


async def test_beyond_thirty_systems_the_table_leads(db_path: Path, make_app: AppFactory) -> None:
    _many_systems(db_path, 35)
    app = make_app(db_path)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        assert isinstance(app.screen, LandscapeScreen)
        table = app.screen.query_one("#edges", DataTable)
        assert table.row_count == 35
        assert app.focused is table
        assert not app.screen.query_one("#map-pane").display
        await pilot.press("m")
        await settle(pilot)
        assert app.screen.query_one("#map-pane").display
        assert len(app.screen.query_one(LandscapeMap).drawing.boxes) == 35


async def test_walking_the_table_selects_the_edge_source_on_the_map(
    sample_db: Path, make_app: AppFactory
) -> None:
    app = make_app(sample_db)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        table = app.screen.query_one("#edges", DataTable)
        table.focus()
        await pilot.pause()
        row = cells(table, 0).index("users/users-api")
        table.move_cursor(row=row)
        await settle(pilot)
        assert app.screen.query_one(LandscapeMap).selected == "system:users"


async def test_a_map_over_the_limit_is_hidden_and_drawn_only_when_shown(
    sample_db: Path, make_app: AppFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("seamscope.tui.screens.landscape.MAP_LIMIT", 2)
    app = make_app(sample_db)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        landmap = app.screen.query_one(LandscapeMap)
        assert not app.screen.query_one("#map-pane").display
        assert landmap.drawing.boxes == {}  # a hidden map costs no drawing
        assert app.screen.focused is app.screen.query_one("#edges")
        await pilot.press("m")
        await settle(pilot)
        assert app.screen.query_one("#map-pane").display
        assert "system:shop" in landmap.drawing.boxes
        canvas = landmap.drawing.canvas
        for y in (0, canvas.height // 2, canvas.height - 1):
            assert landmap.render_line(y).text == "".join(canvas.chars[y])
