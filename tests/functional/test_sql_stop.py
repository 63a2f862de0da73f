"""A long query on the SQL screen runs beside the rest of the TUI and can be stopped.

In a review (a 1M-span store), a query running up to its 30 s limit held the store's lock, so
every other read of the TUI waited behind it; no key stopped it, and leaving the screen left it
running at 60-70% CPU. Now its elapsed time shows while it runs, the footer offers Ctrl+C only
then, Ctrl+C stops it (the cursor interrupted, or the request to the store's owner closed),
leaving the screen stops it too, and the other reads go on meanwhile."""

from __future__ import annotations

import asyncio
import html
import re
from pathlib import Path
from typing import Any

import duckdb
import pytest
from textual.widgets import ContentSwitcher, Static, TextArea

from seamscope.classifiers import read
from seamscope.classifiers.read import classifier_mark
from seamscope.cli.tui import _collector_source
from seamscope.demo.processes import free_port
from seamscope.tracer import access
from seamscope.tracer.usersql import SqlLimits
from seamscope.tui.app import SeamscopeApp
from seamscope.tui.data import LocalStore, classified_with
from seamscope.tui.screens.sql import SqlScreen
from tests.functional.conftest import AppFactory, settle
from tests.functional.test_live_collect import _edges, otlp_request, post, until
from tests.functional.test_screens import static_text

pytestmark = pytest.mark.anyio

# Runs for hours in constant memory (a cross join of ranges ran out of the owner's memory in
# 8 s); DuckDB interrupts it at once.
LONG = "SELECT sum(hash(range)) AS n FROM range(1000000000000)"


@pytest.fixture
def long_limit(monkeypatch: pytest.MonkeyPatch) -> None:
    """A local query's time limit far past the tests' bounds: a query that is not stopped
    fails the test instead of ending on its own at 30 s."""
    monkeypatch.setattr(access, "SqlLimits", lambda: SqlLimits(timeout_s=600))


def status(screen: SqlScreen) -> str:
    return static_text(screen.query_one("#sql-status", Static)).strip()


def offers_stop(screen: SqlScreen) -> bool:
    """Whether the footer shows the key that stops the query."""
    return any(
        binding.action == "stop" and binding.show and enabled
        for _node, binding, enabled, _tooltip in screen.active_bindings.values()
    )


def on_screen(app: SeamscopeApp) -> str:
    """The text of the terminal as the screenshot draws it."""
    text = html.unescape(re.sub(r"<[^>]+>", "", app.export_screenshot()))
    return text.replace("\xa0", " ")


def running(screen: SqlScreen) -> bool:
    return "Running…" in status(screen)


async def open_console(pilot: Any, app: SeamscopeApp) -> SqlScreen:
    await pilot.press("s")
    await settle(pilot)
    screen = app.screen
    assert isinstance(screen, SqlScreen)
    return screen


async def start(pilot: Any, screen: SqlScreen, sql: str) -> None:
    editor = screen.query_one("#sql-editor", TextArea)
    editor.focus()
    editor.text = sql
    await pilot.press("ctrl+j")
    await until(pilot, lambda: running(screen), "the query running, its time shown")


async def stop_and_see(pilot: Any, app: SeamscopeApp, screen: SqlScreen) -> str:
    """Ctrl+C; returns the result pane's text once the query has ended."""
    await pilot.press("ctrl+c")
    await until(pilot, lambda: screen.running is None, "the query stopped")
    await settle(pilot)
    assert screen.query_one("#sql-out", ContentSwitcher).current == "sql-error"
    assert status(screen) == "The query was stopped"
    assert not offers_stop(screen)
    assert "Stop query" not in on_screen(app)
    return static_text(screen.query_one("#sql-error", Static))


async def test_ctrl_c_stops_a_long_query_and_other_reads_go_on_meanwhile(
    sample_db: Path, make_app: AppFactory, long_limit: None
) -> None:
    app = make_app(sample_db)
    async with app.run_test(size=(100, 30)) as pilot:
        await settle(pilot)
        screen = await open_console(pilot, app)
        assert not offers_stop(screen)
        await start(pilot, screen, LONG)
        assert offers_stop(screen)
        await until(pilot, lambda: "^c Stop query" in on_screen(app), "the key in the footer")
        shown = status(screen)
        assert shown.endswith("s · Ctrl+C stops it"), shown
        await until(pilot, lambda: status(screen) != shown, "the elapsed time moving on")

        # The screens' reads run meanwhile (they waited for the query's end, up to 30 s).
        source = app.source_or_raise()
        other = asyncio.ensure_future(asyncio.to_thread(source.run, read.watermark))
        await until(pilot, lambda: other.done() or not running(screen), "another read")
        assert other.done() and running(screen)
        assert isinstance(other.result(), read.Watermark)

        # A second query while one runs is refused, and says so; the first runs on.
        await pilot.press("ctrl+j")
        assert "Ctrl+C stops it" in str(app.news) and running(screen)

        said = await stop_and_see(pilot, app, screen)
        assert "Stopped" in said and "The query was stopped after" in said
        assert app.sql_history[-1] == LONG

        # The console runs the next query as before.
        editor = screen.query_one("#sql-editor", TextArea)
        editor.text = "SELECT 41 + 1 AS n"
        await pilot.press("ctrl+j")
        await settle(pilot)
        assert screen.query_one("#sql-out", ContentSwitcher).current == "sql-result"
        assert status(screen).startswith("1 row")


def store_closed(path: Path) -> bool:
    """Whether this process no longer holds the store read-only (a read-write connection is
    refused while it does)."""
    try:
        duckdb.connect(str(path)).close()
    except duckdb.Error:
        return False
    return True


@pytest.mark.parametrize(("key", "focus"), [("escape", None), ("n", "#sql-result")])
async def test_leaving_the_console_stops_its_query(
    sample_db: Path, make_app: AppFactory, long_limit: None, key: str, focus: str | None
) -> None:
    app = make_app(sample_db)
    async with app.run_test(size=(100, 30)) as pilot:
        await settle(pilot)
        screen = await open_console(pilot, app)
        await start(pilot, screen, LONG)
        query = screen.running
        assert query is not None and not store_closed(sample_db)
        if focus is not None:
            screen.query_one(focus).focus()
        await pilot.press(key)  # Esc: back to the landscape; n: the findings over the console
        await until(pilot, lambda: app.screen is not screen, "another screen")
        await until(pilot, lambda: query.stopped, "the query asked to stop")
        await until(pilot, lambda: store_closed(sample_db), "the query's connection closed")


async def test_ctrl_c_closes_the_request_to_a_real_owner(tmp_path: Path) -> None:
    """The store is owned by a `seamscope collect` process: the query goes to its SQL endpoint,
    Ctrl+C closes that request, and the TUI's own reads do not queue behind the query."""
    db = tmp_path / "owned.duckdb"
    source = _collector_source(db, "127.0.0.1", free_port(), None, log_dir=tmp_path)
    app = SeamscopeApp(lambda: source, refresh_interval=0.2)
    try:
        async with app.run_test(size=(160, 45)) as pilot:
            await settle(pilot)
            assert await asyncio.to_thread(post, source.url + "/v1/traces", otlp_request("cd" * 16))
            await until(pilot, lambda: bool(_edges(app)), "the landscape with an edge")
            screen = await open_console(pilot, app)
            await start(pilot, screen, LONG)
            assert offers_stop(screen)
            await until(pilot, lambda: "^c Stop query" in on_screen(app), "the key in the footer")
            other = asyncio.ensure_future(asyncio.to_thread(source.run, read.watermark))
            await until(pilot, lambda: other.done() or not running(screen), "another read")
            assert other.done() and running(screen)
            said = await stop_and_see(pilot, app, screen)
            assert "The query was stopped after" in said
            assert f"owner (pid {source.pid})" in said, said
    finally:
        source.close()


async def test_the_header_says_why_the_classifier_waits_for_a_query(
    sample_db: Path, tmp_path: Path, long_limit: None
) -> None:
    """An edited landscape labels the edges again under a short read-write lock, which DuckDB
    refuses while the query holds the file read-only: the header says the refresh waits, and
    it runs once the query has ended."""
    landscape = tmp_path / "seamscope.toml"
    landscape.write_text('[systems.extra]\ncomponents = { extra-api = "backend" }\n')
    source = LocalStore(sample_db, landscape)
    app = SeamscopeApp(lambda: source, refresh_interval=0.2)
    async with app.run_test(size=(160, 45)) as pilot:
        await settle(pilot)
        screen = await open_console(pilot, app)
        await start(pilot, screen, LONG)
        landscape.write_text('[systems.extra]\ncomponents = { extra-api = "worker" }\n')
        waits = "labels wait for the SQL query to end"
        await until(pilot, lambda: waits in on_screen(app), "the header saying why")
        assert running(screen)
        assert not classified_with(source.run(classifier_mark), source.landscape)
        await stop_and_see(pilot, app, screen)
        await until(pilot, lambda: waits not in on_screen(app), "the header without it")
        assert classified_with(source.run(classifier_mark), source.landscape)
