"""The TUI driven with Pilot over a real store file: every screen and the paths between them."""

from __future__ import annotations

import html
import io
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import duckdb
import pytest
from rich.console import Console
from textual.command import Command, CommandList
from textual.widgets import (
    ContentSwitcher,
    DataTable,
    Input,
    OptionList,
    Select,
    Static,
    TextArea,
    Tree,
)
from textual.widgets._footer import FooterKey

from seamscope.classifiers.engine import refresh_store
from seamscope.classifiers.read import Filters
from seamscope.classifiers.schema import CLASSIFIER_DDL
from seamscope.tracer.ingest import ingest
from seamscope.tracer.otlp import protobuf_to_json
from seamscope.tracer.rows import SpanBatchBuilder
from seamscope.tracer.store import Store, short_lock
from seamscope.tui.screens.dialogs import FilterScreen, HelpScreen, ProblemScreen, SearchScreen
from seamscope.tui.screens.edge import EdgeScreen
from seamscope.tui.screens.landscape import LandscapeScreen
from seamscope.tui.screens.lists import FindingsScreen, PatternsScreen
from seamscope.tui.screens.sql import SqlScreen
from seamscope.tui.screens.trace import TraceScreen
from seamscope.tui.widgets.focusmap import FocusMap
from tests.functional.conftest import AppFactory, settle
from tests.functional.sample import EDGES, T0, edge_id_of, make_unresolved
from tests.otlp_sample import sample_request

pytestmark = pytest.mark.anyio

SIZE = (160, 45)


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
        systems = app.screen.query_one("#systems", DataTable)
        assert set(cells(systems, 1)[:-1]) == {"shop", "orders", "users", "search", "billing"}
        # After the systems, the default bus: no known system owns it.
        assert cells(systems, 1)[-1] == "(unowned: 1)"
        centre = app.screen.centre
        assert centre is not None
        table = app.screen.query_one("#edges", DataTable)
        con = duckdb.connect(str(sample_db), read_only=True)
        try:
            mine = sorted(
                str(r[0])
                for r in con.execute(
                    "SELECT edge_id FROM edges WHERE level IN ('system', 'external') "
                    "AND ? IN (from_system, to_system)",
                    [centre],
                ).fetchall()
            )
        finally:
            con.close()
        assert table.row_count == len(mine) > 0
        # Worst first, the verdict with its glyph, never colour alone.
        assert cells(table, 0)[0] == "✗ anti-pattern"
        focus = app.screen.query_one(FocusMap).focus_data
        assert focus is not None
        drawn = [e.edge_id for n in focus.callers + focus.callees for e in n.edges]
        # Each edge one row: one through the default bus is a row of the box of no known owner
        # only (it was a row of the other system's box as well).
        assert sorted(drawn) == mine
        through = [e.edge_id for n in focus.callees if n.node_id == "system:" for e in n.edges]
        assert through


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
        # durations are numbers: right-aligned, as in every table of figures
        assert all(spans.get_row_at(i)[4].justify == "right" for i in range(4))
        await pilot.press("enter")
        await settle(pilot)
        assert isinstance(app.screen, TraceScreen)
        waterfall = app.screen.query_one("#waterfall", DataTable)
        # root server span, the labelled client call, the callee's server span
        assert waterfall.row_count == 3
        labels = cells(waterfall, 5)
        assert "◀ ✗ A101 anti-pattern" in labels  # the edge it came from: rule and glyph
        assert all(waterfall.get_row_at(i)[4].justify == "right" for i in range(3))
        attributes = app.screen.query_one("#attributes", Static)
        await settle(pilot)
        assert "service.name" in static_text(attributes)
        await pilot.press("escape")
        await settle(pilot)
        assert isinstance(app.screen, EdgeScreen)
        # The trace leads on: Enter on a labelled span opens its edge.
        await pilot.press("enter")
        await settle(pilot)
        assert isinstance(app.screen, TraceScreen)
        waterfall = app.screen.query_one("#waterfall", DataTable)
        waterfall.move_cursor(row=cells(waterfall, 5).index("◀ ✗ A101 anti-pattern"))
        await pilot.press("enter")
        await settle(pilot)
        assert isinstance(app.screen, EdgeScreen) and app.screen.edge_id == a101
        assert len(app.screen_stack) == 3  # back where it came from, not a new screen


@pytest.mark.parametrize("size", [(100, 30), (160, 45)])
async def test_trace_line_keeps_to_one_line(
    sample_db: Path, make_app: AppFactory, size: tuple[int, int]
) -> None:
    """The trace's line wrapped its start time onto a second line at 100 columns."""
    app = make_app(sample_db)
    async with app.run_test(size=size) as pilot:
        await settle(pilot)
        app.open_edge(edge_id_of(next(i for i, e in enumerate(EDGES) if e.rule == "A101")))
        await settle(pilot)
        await pilot.press("enter")
        await settle(pilot)
        assert isinstance(app.screen, TraceScreen)
        title = app.screen.query_one("#trace-title", Static)
        text = static_text(title).strip()
        assert text.startswith(f"Trace {app.screen.trace_id} · 3 spans")
        assert title.size.height == 1
        # The start as long as it fits: the date too at 160 columns, the time alone at 100.
        assert ("started 20" in text) == (size[0] >= 160)
        assert "started " in text


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
        # The producer's trace and the consumer's side by side.
        assert app.screen.query_one("#other-pane").display
        other = app.screen.query_one("#other", DataTable)
        assert "CONSUMER" in cells(other, 2)
        assert "PRODUCER" in cells(app.screen.query_one("#waterfall", DataTable), 2)
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


async def _run_sql(pilot: Any, app: Any, sql: str) -> None:
    """Types sql into the console's editor (replacing what it held) and runs it with Ctrl+J."""
    editor = app.screen.query_one("#sql-editor", TextArea)
    editor.focus()
    editor.text = sql
    await pilot.press("ctrl+j")
    await settle(pilot)


async def test_sql_console_runs_read_only_and_keeps_history(
    sample_db: Path, make_app: AppFactory, tmp_path: Path
) -> None:
    app = make_app(sample_db)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        await pilot.press("s")
        await settle(pilot)
        assert isinstance(app.screen, SqlScreen)
        # The schema lists the tables with their columns.
        schema = app.screen.query_one("#sql-schema", Tree)
        tables = {str(node.data): node for node in schema.root.children}
        assert {"spans", "edges", "nodes", "findings"} <= set(tables)
        assert "rule_id" in [str(leaf.data) for leaf in tables["edges"].children]
        await _run_sql(pilot, app, "SELECT count(*) AS n\nFROM spans")  # two lines
        result = app.screen.query_one("#sql-result", DataTable)
        expected = duckdb.connect(str(sample_db), read_only=True)
        try:
            row = expected.execute("SELECT count(*) FROM spans").fetchone()
        finally:
            expected.close()
        assert row is not None
        assert cells(result, 0) == [str(row[0])]
        status = app.screen.query_one("#sql-status", Static)
        assert static_text(status).strip() == "1 row · Ctrl+S saves them as CSV"
        # A second query replaces the first (nothing is appended to the last one).
        await _run_sql(pilot, app, "SELECT 'a [/] b' AS x, 'orders[v2]' AS y")
        assert [cells(result, 0), cells(result, 1)] == [["a [/] b"], ["orders[v2]"]]
        # Ctrl+S saves the result as CSV.
        target = tmp_path / "out.csv"
        await pilot.press("ctrl+s")
        await settle(pilot)
        app.screen.query_one("#export-path", Input).value = str(target)
        await pilot.press("enter")
        await settle(pilot)
        assert target.read_text() == "x,y\na [/] b,orders[v2]\n"
        assert static_text(status).strip() == f"Saved 1 row to {target}"
        # An error takes the result's place, and says what is wrong.
        await _run_sql(pilot, app, "DELETE FROM spans")
        switcher = app.screen.query_one("#sql-out", ContentSwitcher)
        assert switcher.current == "sql-error"
        error = static_text(app.screen.query_one("#sql-error", Static))
        assert "only SELECT queries are allowed here, not DELETE" in error
        await _run_sql(pilot, app, "SELECT 1 AS one")  # and the next query works again
        assert switcher.current == "sql-result" and cells(result, 0) == ["1"]
        assert app.sql_history == [
            "SELECT count(*) AS n\nFROM spans",
            "SELECT 'a [/] b' AS x, 'orders[v2]' AS y",
            "DELETE FROM spans",
            "SELECT 1 AS one",
        ]
        # Ctrl+Up steps back through the history into the editor.
        editor = app.screen.query_one("#sql-editor", TextArea)
        await pilot.press("ctrl+up", "ctrl+up")
        assert editor.text == "DELETE FROM spans"
        await pilot.press("ctrl+down", "ctrl+down")
        assert editor.text == "SELECT 1 AS one"
        await pilot.press("escape")  # the console opened again lists that history
        await settle(pilot)
        await pilot.press("s")
        await settle(pilot)
        assert isinstance(app.screen, SqlScreen)
        listed = app.screen.query_one("#sql-history", OptionList)
        shown = str(listed.get_option_at_index(2).prompt)
        assert shown == "SELECT 'a [/] b' AS x, 'orders[v2]' AS y"
    check = duckdb.connect(str(sample_db), read_only=True)
    try:
        count = check.execute("SELECT count(*) FROM spans").fetchone()
    finally:
        check.close()
    assert count == row


async def test_sql_console_counts_rows_from_two(sample_db: Path, make_app: AppFactory) -> None:
    app = make_app(sample_db)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        await pilot.press("s")
        await settle(pilot)
        await _run_sql(pilot, app, "SELECT * FROM range(2)")
        status = static_text(app.screen.query_one("#sql-status", Static)).strip()
        assert status == "2 rows · Ctrl+S saves them as CSV"


def _footer_keys(app: Any) -> list[str]:
    """The keys the footer shows, as drawn (Help lists the others)."""
    return [key.key for key in app.screen.query(FooterKey) if key.display]


async def test_the_sql_footer_offers_search_only_where_slash_searches(
    sample_db: Path, make_app: AppFactory
) -> None:
    """In the editor `/` is typed: the footer does not offer it there; in the result, it does
    and `/` searches."""
    app = make_app(sample_db)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        await pilot.press("s")
        await settle(pilot)
        editor = app.screen.query_one("#sql-editor", TextArea)
        assert app.focused is editor
        assert "slash" not in _footer_keys(app)
        editor.text = "SELECT 6 "
        editor.move_cursor(editor.document.end)
        await pilot.press("slash", *" 3 AS x")
        await pilot.press("ctrl+j")
        await settle(pilot)
        assert editor.text == "SELECT 6 / 3 AS x"
        assert isinstance(app.screen, SqlScreen)
        result = app.screen.query_one("#sql-result", DataTable)
        result.focus()
        await settle(pilot)
        assert cells(result, 0) == ["2.0"]
        assert "slash" in _footer_keys(app)
        await pilot.press("slash")
        await settle(pilot)
        assert isinstance(app.screen, SearchScreen)


async def test_filter_by_verdict_and_search(sample_db: Path, make_app: AppFactory) -> None:
    app = make_app(sample_db)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        await pilot.press("f")
        await settle(pilot)
        assert isinstance(app.screen, FilterScreen)
        app.screen.query_one("#filter-verdict", Select).value = "anti-pattern"
        await pilot.click("#apply")
        await settle(pilot)
        assert isinstance(app.screen, LandscapeScreen)
        table = app.screen.query_one("#edges", DataTable)
        assert set(cells(table, 0)) == {"✗ anti-pattern"}
        await pilot.press("slash")
        await settle(pilot)
        assert isinstance(app.screen, SearchScreen)
        app.screen.query_one(Input).value = "users-api"
        await pilot.press("enter")
        await settle(pilot)
        await pilot.press("n")  # every level, not only the focused system's edges
        await settle(pilot)
        table = app.screen.query_one("#findings", DataTable)
        assert cells(table, 1) == ["A101"]
        await pilot.press("escape")  # Esc takes the search away first ...
        await settle(pilot)
        assert isinstance(app.screen, FindingsScreen)
        assert app.filters.verdict == "anti-pattern" and not app.filters.search
        await pilot.press("escape")  # ... then the verdict filter ...
        await settle(pilot)
        assert isinstance(app.screen, FindingsScreen) and app.filters == Filters()
        await pilot.press("escape")  # ... and only then goes back
        await settle(pilot)
        assert isinstance(app.screen, LandscapeScreen)
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


def _title(option: object) -> str:
    assert isinstance(option, Command)
    return str(option.hit.text)


async def test_the_command_palette_offers_help_once(sample_db: Path, make_app: AppFactory) -> None:
    """Textual's own "Keys" (its panel of the focused widget's keys) sat beside our "Help": two
    helps in the palette, one of them not the one `?` opens. Every title is listed once, and
    "keys" and "help" find the same one command, the help `?` opens."""
    app = make_app(sample_db)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        await pilot.press("ctrl+p")
        await settle(pilot)
        titles = [_title(o) for o in app.screen.query_one(CommandList).options]
        assert titles and len(titles) == len(set(titles)), titles
        for query in ("keys", "help"):
            await pilot.press(*query)
            await settle(pilot)
            hits = [_title(o) for o in app.screen.query_one(CommandList).options]
            assert hits == ["Help and keys"], (query, hits)
            await pilot.press(*["backspace"] * len(query))
            await settle(pilot)
        await pilot.press(*"keys", "enter")
        await settle(pilot)
        assert isinstance(app.screen, HelpScreen)


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


async def test_a_store_without_edges_is_described_in_place_until_they_come(
    db_path: Path, tmp_path: Path, make_app: AppFactory
) -> None:
    """Spans arrive, the classifier has not run: the same problem screen says so (before, the
    app opened the landscape on every change only to find no edges and push a new problem
    screen); once the edges are there, the landscape opens by itself."""
    Store.open(db_path).close()
    app = make_app(db_path, refresh_interval=0.2)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        problem = app.screen
        assert isinstance(problem, ProblemScreen) and problem.waiting
        assert problem.problem_title == "The store is empty"
        lines = tmp_path / "t.jsonl"
        lines.write_text(protobuf_to_json(sample_request(7, seed=3).SerializeToString()) + "\n")
        assert ingest(db_path, [str(lines)], workers=0).spans_stored == 7
        for _ in range(200):
            if problem.problem_title != "The store is empty":
                break
            await pilot.pause(0.05)
        assert app.screen is problem and isinstance(problem, ProblemScreen)
        assert problem.problem_title == "Spans, but no edges yet"
        assert problem.message == "7 spans stored, none classified."
        assert "seamscope edges" in problem.advice  # not live: nothing here classifies
        assert problem.sub_title == "Spans, but no edges yet"
        refresh_store(db_path)
        for _ in range(200):
            if isinstance(app.screen, LandscapeScreen) and app.screen.view is not None:
                break
            await pilot.pause(0.05)
        assert isinstance(app.screen, LandscapeScreen) and app.screen.view is not None


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
        screen = app.screen
        assert isinstance(screen, LandscapeScreen)
        systems = screen.query_one("#systems", DataTable)
        systems.move_cursor(row=cells(systems, 1).index("search"))
        await settle(pilot)
        table = screen.query_one("#edges", DataTable)
        before = table.row_count
        _add_new_edge(sample_db)
        for _ in range(200):  # bounded: the timer fires every 0.2 s
            await pilot.pause(0.05)
            if table.row_count == before + 1:
                break
        assert table.row_count == before + 1
        assert "search/indexer" in cells(table, 2)


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


async def test_an_unresolved_edge_says_what_is_missing_and_what_to_do_on_its_first_screen(
    sample_db: Path, make_app: AppFactory
) -> None:
    edge = edge_id_of(next(i for i, e in enumerate(EDGES) if "search-q" in (e.via or "")))
    reason = make_unresolved(sample_db, edge)
    first = await _first_screen_of_edge(make_app(sample_db), edge)
    assert "UNRESOLVED" in first
    assert "What is missing" in first and reason[:60] in first
    assert "What to do" in first and "seamscope discover aws" in first
    assert "Joined by none" in first


async def _first_screen_of_edge(app: Any, edge: str) -> str:
    """What the edge screen shows of edge on its first screen, at 100x30, as one line."""
    async with app.run_test(size=(100, 30)) as pilot:
        await settle(pilot)
        app.open_edge(edge)
        await settle(pilot)
        info = app.screen.query_one("#edge-info")
        text = app.screen.query_one("#edge-text", Static)
        return " ".join(text.render_line(y).text.strip() for y in range(info.size.height))


async def test_an_unclassified_edge_leads_with_why_and_what_to_do(
    tmp_path: Path, make_app: AppFactory
) -> None:
    # A table written by two systems has no owner: no rule labels its edges. The reason, which
    # says why and what to declare, comes first, where "no rule covers this" stood alone.
    from tests.unit.classifiers.fleet import Fleet, Service

    fleet = Fleet()
    fleet.dynamodb(Service("orders-api", "orders", "backend"), "PutItem", "Shared")
    fleet.dynamodb(Service("billing-api", "billing", "backend"), "PutItem", "Shared")
    path = fleet.store(tmp_path / "s.duckdb")
    refresh_store(path)
    with duckdb.connect(str(path)) as con:
        row = con.execute(
            "SELECT edge_id, reason FROM edges WHERE verdict = 'unclassified' "
            "AND from_node LIKE '%billing-api'"
        ).fetchone()
    assert row is not None
    edge, reason = row
    assert reason.startswith("owner of Shared unknown, written by several systems")
    first = await _first_screen_of_edge(make_app(path), edge)
    assert "UNCLASSIFIED" in first and "the reason says why" in first
    assert first.index("Why") < first.index("owner of Shared unknown") < first.index("What to do")
    assert "declare it under [owners]" in first and "Joined by name" in first
    assert first.count("written by several systems") == 1  # the table's inference not again


async def test_a_trace_says_unclassified_once(tmp_path: Path, make_app: AppFactory) -> None:
    """An unclassified edge's rule is its verdict: the waterfall's Label said "? unclassified
    unclassified" (seen on a generated store's S3 calls), where the other tables say it once."""
    from tests.unit.classifiers.fleet import Fleet, Service

    fleet = Fleet()
    fleet.dynamodb(Service("orders-api", "orders", "backend"), "PutItem", "Shared")
    fleet.dynamodb(Service("billing-api", "billing", "backend"), "PutItem", "Shared")
    path = fleet.store(tmp_path / "s.duckdb")
    refresh_store(path)
    with duckdb.connect(str(path)) as con:
        row = con.execute(
            "SELECT e.edge_id, s.trace_id FROM edges e JOIN span_labels l USING (edge_id) "
            "JOIN spans s USING (span_id) WHERE e.verdict = 'unclassified' LIMIT 1"
        ).fetchone()
    assert row is not None
    edge, trace = row
    app = make_app(path)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        app.open_trace(trace, edge_id=edge, span_id=None)
        await settle(pilot)
        waterfall = app.screen.query_one("#waterfall", DataTable)
        labels = [label for label in cells(waterfall, 5) if label]
        assert labels == ["◀ ? unclassified"]


async def test_an_edge_says_what_joined_its_ends(sample_db: Path, make_app: AppFactory) -> None:
    app = make_app(sample_db)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        app.open_edge(edge_id_of(next(i for i, e in enumerate(EDGES) if e.rule == "A101")))
        await settle(pilot)
        text = static_text(app.screen.query_one("#edge-text", Static))
        assert "Joined by host: the HTTP call's host and port" in text


@pytest.mark.parametrize("width", [100, 160])
async def test_the_landscape_header_shows_its_counts_and_the_landscape_whole(
    sample_db: Path, make_app: AppFactory, width: int
) -> None:
    app = make_app(sample_db)
    async with app.run_test(size=(width, 30)) as pilot:
        await settle(pilot)
        summary = app.screen.query_one("#summary", Static)
        lines = [summary.render_line(y).text.strip() for y in range(summary.size.height)]
        assert lines[0].startswith("5 systems") and "✗ 4" in lines[0] and "✓ 6" in lines[0]
        assert lines[1] == "no landscape file: owners, roles, vendors inferred · ~ 7 inferred"


@pytest.mark.parametrize("width", [100, 160])
async def test_the_landscape_says_whose_edges_the_table_lists(
    sample_db: Path, make_app: AppFactory, width: int
) -> None:
    """The systems list counts a system's edges inside it too; the table under the focus view
    lists those with other systems, vendors and resources: the caption above it says so and
    how many inside are left out, so the two figures add up."""
    app = make_app(sample_db)
    async with app.run_test(size=(width, 45)) as pilot:
        await settle(pilot)
        screen = app.screen
        assert isinstance(screen, LandscapeScreen)
        screen.walk_to("orders")
        await settle(pilot)
        edges = screen.query_one("#edges", DataTable)
        caption = static_text(screen.query_one("#edges-caption", Static)).strip()
        listed = 6 if width >= LandscapeScreen.NARROW else None  # the list shows at 120 and up
        if listed is not None:
            systems = screen.query_one("#systems", DataTable)
            assert cells(systems, 2)[cells(systems, 1).index("orders")] == str(listed)
        assert edges.row_count == 3
        assert caption.startswith("3 edges between orders and ")
        assert "3 more inside orders" in caption
        assert len(caption) <= width - 2  # on its one line
        await pilot.press("m")  # the matrix: the line under it names the cell the table lists
        await settle(pilot)
        assert not screen.query_one("#edges-caption").display


async def test_system_screen_says_whose_edges_the_table_lists(
    sample_db: Path, make_app: AppFactory
) -> None:
    """The summary counts the whole system's edges; the table under the focus view lists the
    focused component's: the caption above it says which, and m (the map) lists them all."""
    app = make_app(sample_db)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        app.open_system("orders")
        await settle(pilot)
        await pilot.press("j")  # orders-worker: 2 of the system's 6 edges
        await settle(pilot)
        screen = app.screen
        caption = static_text(screen.query_one("#edges-caption", Static))
        edges = screen.query_one("#edges", DataTable)
        assert edges.row_count == 2
        assert "2 edges of orders-worker, the component in focus (6 in all of orders" in caption
        assert "6 edges" in static_text(screen.query_one("#summary", Static))
        await pilot.press("m")
        await settle(pilot)
        assert edges.row_count == 6
        assert "All 6 edges of orders" in static_text(screen.query_one("#edges-caption", Static))


@pytest.mark.parametrize("size", [(100, 30), (160, 45)])
async def test_the_news_line_shows_above_the_footer_on_every_screen(
    sample_db: Path, make_app: AppFactory, size: tuple[int, int]
) -> None:
    """The news line (a receiver that stopped, new findings, a busy store) and the footer were
    both docked at the bottom: the footer was drawn over it, and no news was ever seen in a
    terminal. It is the line above the footer, and what is above it makes room."""
    from seamscope.tui.widgets.footer import SteadyFooter
    from seamscope.tui.widgets.news import NewsBar

    app = make_app(sample_db)
    async with app.run_test(size=size) as pilot:
        await settle(pilot)
        for key in ("", "n", "enter"):  # the landscape, the findings, an edge
            if key:
                await pilot.press(key)
                await settle(pilot)
            app.notify("the receiver stopped", title="Receiver gone", severity="warning")
            await settle(pilot)
            screen = app.screen
            bar, footer = screen.query_one(NewsBar), screen.query_one(SteadyFooter)
            assert bar.region.bottom == footer.region.y, type(screen).__name__
            others = [c for c in screen.children if c not in (bar, footer) and c.display]
            assert all(not c.region.overlaps(bar.region) for c in others)
            shown = html.unescape(re.sub(r"<[^>]+>", "", app.export_screenshot()))
            assert "Receiver gone: the receiver stopped" in shown.replace("\xa0", " ")


async def test_ctrl_c_says_how_to_quit_in_plain_words(
    sample_db: Path, make_app: AppFactory
) -> None:
    """Textual's Ctrl+C line is markup; the news line showed it as it came: "Press
    [b]ctrl+q[/b] to quit the app"."""
    app = make_app(sample_db)
    async with app.run_test(size=(160, 45)) as pilot:
        await settle(pilot)
        await pilot.press("ctrl+c")
        await settle(pilot)
        assert app.is_running
        assert app.news is not None
        assert app.news.plain.endswith("Ctrl+C does not quit: q quits; Ctrl+Q quits at once")
        assert "[" not in app.news.plain


async def test_a_span_s_attributes_are_those_of_the_span_under_the_focused_table_s_cursor(
    sample_db: Path, make_app: AppFactory
) -> None:
    """The other side's waterfall, filled after this trace's, put its first span in the pane:
    opened from a producer's span, the pane said the consumer trace's root, whose table had no
    focus. The pane follows the table that has the keys."""
    app = make_app(sample_db)
    index = next(i for i, e in enumerate(EDGES) if e.rule == "A202")
    async with app.run_test(size=(160, 45)) as pilot:
        await settle(pilot)
        app.open_edge(edge_id_of(index))
        await settle(pilot)
        spans = app.screen.query_one("#spans", DataTable)
        spans.move_cursor(row=cells(spans, 3).index("PRODUCER"))
        await pilot.press("enter")
        await settle(pilot)
        screen = app.screen
        assert isinstance(screen, TraceScreen)
        waterfall = screen.query_one("#waterfall", DataTable)
        other = screen.query_one("#other", DataTable)
        attributes = screen.query_one("#attributes", Static)

        def under_cursor(table: DataTable[Any]) -> str:
            return str(table.coordinate_to_cell_key(table.cursor_coordinate).row_key.value)

        assert app.focused is waterfall and other.row_count
        assert static_text(attributes).startswith(f"Span {under_cursor(waterfall)}")
        other.focus()
        await settle(pilot)
        other.move_cursor(row=other.row_count - 1)
        await settle(pilot)
        assert static_text(attributes).startswith(f"Span {under_cursor(other)}")
        waterfall.focus()
        await settle(pilot)
        assert static_text(attributes).startswith(f"Span {under_cursor(waterfall)}")


async def test_an_empty_filter_field_says_it_matches_anything(
    sample_db: Path, make_app: AppFactory
) -> None:
    """With no filter set, the System and Rule fields showed "orders" and "A101", their hints,
    which read as filters already set (dim only, and not on a terminal without colour)."""
    app = make_app(sample_db)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        await pilot.press("f")
        await settle(pilot)
        assert isinstance(app.screen, FilterScreen)
        for field in app.screen.query(Input):
            assert field.value == ""
            assert str(field.placeholder).startswith(("any", "all time")), field.id


@pytest.mark.parametrize("size", [(100, 30), (160, 45)])
async def test_the_footer_says_how_to_walk_the_focus_view(
    sample_db: Path, make_app: AppFactory, size: tuple[int, int]
) -> None:
    """In the focus view the footer offered the app's keys only: Enter (walk to a neighbour,
    open the centre) and Backspace (walk back) were in the help alone. Enter leads the footer
    there, at 100 columns too, where the keys that do not fit give way; Backspace is offered
    while there is a walk to go back on."""
    app = make_app(sample_db)
    async with app.run_test(size=size) as pilot:
        await settle(pilot)
        app.screen.query_one(FocusMap).focus()
        await settle(pilot)
        keys = _footer_keys(app)
        assert "enter" in keys and "backspace" not in keys, keys  # no walk to go back on yet
        assert keys.index("enter") < keys.index("question_mark")
        await pilot.press("l", "enter")  # walk to a callee
        await settle(pilot)
        assert "backspace" in _footer_keys(app)
        await pilot.press("backspace")
        await settle(pilot)
        assert "backspace" not in _footer_keys(app)


async def test_what_is_typed_in_a_fresh_console_replaces_the_example(
    sample_db: Path, make_app: AppFactory
) -> None:
    """The console opened on its example (or the last query) with the cursor before it: typed
    text went in front of it ("SELECT 2SELECT mechanism, ...") and ran as a syntax error. It
    opens with that text selected, as an address bar does: typing replaces it, an arrow keeps
    it."""
    app = make_app(sample_db)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        await pilot.press("s")
        await settle(pilot)
        editor = app.screen.query_one("#sql-editor", TextArea)
        assert app.focused is editor and editor.text.startswith("SELECT")
        await pilot.press(*"SELECT 2 AS y")
        assert editor.text == "SELECT 2 AS y"
        await pilot.press("ctrl+j")
        await settle(pilot)
        assert cells(app.screen.query_one("#sql-result", DataTable), 0) == ["2"]


async def test_search_narrows_the_screen_below_as_it_is_typed(
    sample_db: Path, make_app: AppFactory
) -> None:
    """`/` took its text on Enter only, over a screen that said nothing until then (k9s filters
    as you type). The screen below narrows as the text is typed; Esc puts back what was shown
    before, Enter keeps it, and one Esc afterwards takes the whole search away (not a letter)."""
    app = make_app(sample_db)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        await pilot.press("n")
        await settle(pilot)
        findings = app.screen
        table = findings.query_one("#findings", DataTable)
        every = cells(table, 1)
        assert len(every) > 1
        await pilot.press("slash", *"users-api")
        await settle(pilot)
        assert isinstance(app.screen, SearchScreen)
        assert cells(table, 1) == ["A101"]  # the list below, while the search is typed
        await pilot.press("escape")
        await settle(pilot)
        assert app.screen is findings and app.filters == Filters()
        assert cells(table, 1) == every
        await pilot.press("slash", *"users-api", "enter")
        await settle(pilot)
        assert app.screen is findings and app.filters.search == "users-api"
        assert cells(table, 1) == ["A101"]
        await pilot.press("escape")
        await settle(pilot)
        assert app.screen is findings and app.filters == Filters()
        assert cells(table, 1) == every


@pytest.mark.parametrize("where", ["PRODUCER", "CONSUMER"])
async def test_one_above_the_other_each_side_of_a_message_shows_its_spans(
    sample_db: Path, make_app: AppFactory, where: str
) -> None:
    """Below 150 columns the two traces of a message are one above the other; they shared the
    lines evenly: at 100x30 on the demo, with the attributes shown, the consumer's two spans
    kept four blank lines while the producer's waterfall was down to its header, its five
    spans out of view. This trace's waterfall is as tall as its rows (up to half), the other
    side has the rest."""
    app = make_app(sample_db)
    index = next(i for i, e in enumerate(EDGES) if e.rule == "A202")
    async with app.run_test(size=(100, 30)) as pilot:
        await settle(pilot)
        app.open_edge(edge_id_of(index))
        await settle(pilot)
        spans = app.screen.query_one("#spans", DataTable)
        spans.move_cursor(row=cells(spans, 3).index(where))
        await pilot.press("enter")
        await settle(pilot)
        screen = app.screen
        assert isinstance(screen, TraceScreen)
        if not screen.query_one("#attributes-pane").display:
            await pilot.press("a")
            await settle(pilot)
        waterfall = screen.query_one("#waterfall", DataTable)
        other = screen.query_one("#other", DataTable)
        for table in (waterfall, other):
            shown = table.scrollable_content_region.height - 1  # its header
            assert shown >= min(table.row_count, 2), (table.id, shown, table.row_count)
            if shown > table.row_count:  # blank lines under its rows: the other has them all
                mate = other if table is waterfall else waterfall
                assert mate.scrollable_content_region.height - 1 >= mate.row_count, table.id


@pytest.mark.parametrize("key", ["n", "p", "H"])
async def test_a_screens_own_key_is_not_in_its_footer(
    sample_db: Path, make_app: AppFactory, key: str
) -> None:
    """The findings' footer offered `n Findings`, the patterns' `p Patterns`, the history's
    `H History`: on the screen they open, those keys do nothing, and at 100 columns they took
    the room of keys that work. The other screens' keys stay."""
    app = make_app(sample_db)
    async with app.run_test(size=(160, 45)) as pilot:
        await settle(pilot)
        assert key in _footer_keys(app)
        await pilot.press(key)
        await settle(pilot)
        shown = _footer_keys(app)
        assert key not in shown
        assert {"n", "p", "H"} - {key} <= set(shown)
        before = app.screen
        await pilot.press(key)
        await settle(pilot)
        assert app.screen is before  # it did nothing indeed


async def test_n_on_the_edges_of_one_rule_opens_the_findings(
    sample_db: Path, make_app: AppFactory
) -> None:
    """The edges of one rule (Enter on a pattern, `:` to a rule) are listed by the findings'
    screen class: taken for the findings, `n` did nothing there and was in neither the footer
    nor the help, where a user expects every finding. It opens them, as on any other screen."""
    app = make_app(sample_db)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        await pilot.press("p")
        await settle(pilot)
        table = app.screen.query_one("#rules", DataTable)
        table.move_cursor(row=cells(table, 0).index("P301"))
        await pilot.press("enter")
        await settle(pilot)
        rule_edges = app.screen
        assert isinstance(rule_edges, FindingsScreen) and rule_edges.rule == "P301"
        assert "n" in _footer_keys(app)
        await pilot.press("n")
        await settle(pilot)
        assert isinstance(app.screen, FindingsScreen) and app.screen.rule is None
        assert app.screen is not rule_edges
        assert "n" not in _footer_keys(app)  # on the findings themselves it does nothing
        await pilot.press("escape")
        await settle(pilot)
        assert app.screen is rule_edges


async def test_c_offers_esc_to_clear_it_in_the_footer(
    sample_db: Path, make_app: AppFactory
) -> None:
    """c (only what changed since the TUI opened) is a filter that Esc takes away, but the
    footer did not offer `esc Clear filter` after it (seen at 100x30 on a generated store): it
    was brought up to date only when a dialog closed over the screen, as after f or /."""
    app = make_app(sample_db)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        assert "escape" not in _footer_keys(app)
        await pilot.press("c")
        await settle(pilot)
        assert app.filters.changed_since is not None
        assert "escape" in _footer_keys(app)
        await pilot.press("c")
        await settle(pilot)
        assert app.filters.changed_since is None
        assert "escape" not in _footer_keys(app)
        await pilot.press("c", "escape")
        await settle(pilot)
        assert app.filters.changed_since is None
        assert "escape" not in _footer_keys(app)


async def test_the_findings_say_their_filter_whole_on_one_line_at_100_columns(
    sample_db: Path, make_app: AppFactory
) -> None:
    """At 100x30 with c set, the findings' summary ended its first line with "filter:" and
    began the next with "new or changed since 22:07:25": the filter goes on its own line
    where it does not fit whole after the count."""
    app = make_app(sample_db)
    async with app.run_test(size=(100, 30)) as pilot:
        await settle(pilot)
        await pilot.press("c", "n")
        await settle(pilot)
        summary = app.screen.query_one("#summary", Static)
        lines = [summary.render_line(y).text.strip() for y in range(summary.size.height)]
        assert lines[0].endswith("(Enter: the edge)"), lines
        assert lines[1].startswith("filter: new or changed since "), lines


async def test_the_landscapes_footer_does_not_offer_l_landscape(
    sample_db: Path, make_app: AppFactory
) -> None:
    """On the landscape itself the footer offered `L Landscape`, a key that does nothing there,
    and at 100x30 it took the room of `p Patterns`. It is offered on the screens it goes back
    from, and goes back."""
    app = make_app(sample_db)
    async with app.run_test(size=(100, 30)) as pilot:
        await settle(pilot)
        landscape = app.screen
        assert "L" not in _footer_keys(app)
        assert "p" in _footer_keys(app)
        app.open_system("orders")
        await settle(pilot)
        assert "L" in _footer_keys(app)
        await pilot.press("L")
        await settle(pilot)
        assert app.screen is landscape


async def test_an_empty_history_says_what_it_will_list(tmp_path: Path) -> None:
    """On a store whose labels never changed, the history showed an empty table under "0 label
    changes, newest first · 0 since this TUI opened (Enter: the edge)": it says there are none
    yet and what would make one."""
    from seamscope.tui.app import SeamscopeApp
    from seamscope.tui.data import LocalStore

    traces = Path(__file__).parents[2] / "sample_traces"
    db = tmp_path / "demo.duckdb"
    assert ingest(db, [str(traces / "demo-fleet.jsonl")], use_owner=False).ok
    app = SeamscopeApp(lambda: LocalStore(db, traces / "seamscope.toml"), refresh_interval=0)
    async with app.run_test(size=(100, 30)) as pilot:
        await settle(pilot)
        await pilot.press("H")
        await settle(pilot)
        screen = app.screen
        assert screen.query_one("#history", DataTable).row_count == 0
        summary = static_text(screen.query_one("#summary", Static))
        assert summary.startswith("No label changes yet") and "Enter" not in summary


@pytest.mark.parametrize("size", [(100, 30), (160, 45)])
async def test_the_sql_schema_list_shows_every_name_and_type_whole(
    sample_db: Path, make_app: AppFactory, size: tuple[int, int]
) -> None:
    """At 100x30 the schema list was 24 cells wide: `classifier_edge_revis`, and a column's
    type cut too (`timestamp with time zone`, a struct's every field), with a scrollbar to
    read them sideways. It now has the width of the store's longest names, types in their
    short form (`timestamptz`, `struct[]`), and every line of it, each table opened, fits."""
    app = make_app(sample_db)
    async with app.run_test(size=size) as pilot:
        await settle(pilot)
        await pilot.press("s")
        await settle(pilot)
        assert isinstance(app.screen, SqlScreen)
        schema = app.screen.query_one("#sql-schema", Tree)
        for node in schema.root.children:
            node.expand()
        await settle(pilot)
        nodes = (schema.get_node_at_line(y) for y in range(schema.last_line + 1))
        lines = [str(node.label) for node in nodes if node is not None]
        assert {"spans", "edges", "label_changes"} <= set(lines)
        assert schema.max_scroll_x == 0, max(lines, key=len)
        assert any(line.startswith("first_seen timestamptz") for line in lines)
        assert schema.virtual_size.width <= schema.scrollable_content_region.width
        # The editor keeps the room for a query's lines.
        assert app.screen.query_one("#sql-editor").size.width >= 55
