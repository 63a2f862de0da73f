"""`seamscope tui --db STORE` in a second terminal while `seamscope collect --db STORE` runs in
the first: the TUI reads through the collector, says so in its header, shows the edges of the
spans the collector receives without a key press, and says so when the collector stops (it then
reads the file itself). No flag: the store's owner is found and followed."""

from __future__ import annotations

import asyncio
import sys
from pathlib import Path
from typing import Any

import pytest
from textual.widgets import DataTable, Static
from textual.widgets._header import HeaderTitle

from seamscope.cli.tui import _watched_source
from seamscope.demo.processes import ManagedProcess
from seamscope.demo.run import wait_for_owner
from seamscope.tui.app import SeamscopeApp
from seamscope.tui.data import open_source
from seamscope.tui.screens.dialogs import ProblemScreen
from tests.functional.conftest import settle
from tests.functional.test_live_collect import _edges, otlp_request, post, until

pytestmark = pytest.mark.anyio


def _collect(tmp_path: Path, db: Path) -> tuple[ManagedProcess, int]:
    """A real `seamscope collect` owning db on a free port of its choosing (--port 0), as a
    user starts it in another terminal; returns it and the port it listens on."""
    collector = ManagedProcess(
        "collect",
        [sys.executable, "-m", "seamscope.cli", "collect", "--db", str(db), "--port", "0"],
        log_path=tmp_path / "collect.log",
    ).start()
    return collector, wait_for_owner(db, collector)


def _problem_text(app: SeamscopeApp) -> str:
    screen = app.screen
    assert isinstance(screen, ProblemScreen)
    return " ".join(str(s.content) for s in screen.query(Static))


async def test_tui_db_watches_a_running_collector_and_says_when_it_stops(tmp_path: Path) -> None:
    db = tmp_path / "watched.duckdb"
    collector, port = _collect(tmp_path, db)
    assert collector.popen is not None
    pid = collector.popen.pid
    url = f"http://127.0.0.1:{port}"
    first = ("liveshop/live-web", "liveusers/live-users-api", "1")
    new = ("aadmin/admin-web", "liveusers/live-users-api", "1")
    try:
        # What `seamscope tui --db STORE` opens (cli/tui.py): the store, whoever holds it.
        app = SeamscopeApp(lambda: open_source(db), refresh_interval=0.2)
        async with app.run_test(size=(160, 45)) as pilot:
            await settle(pilot)
            live = f"live from the receiver on 127.0.0.1:{port} (pid {pid})"
            assert app.title == f"seamscope · {live}"
            # Empty yet: the screen says who owns it and where to send.
            assert isinstance(app.screen, ProblemScreen)
            assert app.screen.problem_title == "The store is empty"
            assert f"{url}/v1/traces" in _problem_text(app)

            assert await asyncio.to_thread(post, f"{url}/v1/traces", otlp_request("ab" * 16)) == 200
            await until(pilot, lambda: _edges(app) == [first], "the first edge, no key pressed")
            # The system both edges touch in focus, as a user would pick it (the table lists
            # the edges of the system in focus).
            systems: DataTable[Any] = app.screen.query_one("#systems", DataTable)
            names = [str(systems.get_row_at(i)[1]) for i in range(systems.row_count)]
            systems.move_cursor(row=names.index("liveusers"))
            await settle(pilot)
            body = otlp_request("cd" * 16, web="admin-web", shop="aadmin")
            assert await asyncio.to_thread(post, f"{url}/v1/traces", body) == 200
            await until(pilot, lambda: _edges(app) == [new, first], "the second edge")
            assert app.title == f"seamscope · {live}"
            # At 100 columns the whole name cut the screen's own title (`— System landsc…`):
            # the address alone then, and the title whole.
            await pilot.resize_terminal(100, 30)
            await settle(pilot)
            assert app.title == f"seamscope · live from 127.0.0.1:{port}"
            shown = app.screen.query_one(HeaderTitle)
            assert str(shown.render()) == f"{app.title} — System landscape"
            assert len(str(shown.render())) <= shown.content_size.width
            await pilot.resize_terminal(160, 45)
            await settle(pilot)
            assert app.title == f"seamscope · {live}"

            assert collector.stop(timeout_s=30) == 0
            await until(
                pilot,
                lambda: app.news is not None and "stopped" in app.news.plain,
                "the news that the receiver stopped",
            )
            assert app.news is not None
            assert f"the receiver on 127.0.0.1:{port} (pid {pid}) stopped" in app.news.plain
            assert app.title == "seamscope"
            await settle(pilot)
            assert _edges(app) == [new, first]  # what it stored stays on screen, read locally
    finally:
        collector.stop()


async def test_a_watched_receiver_that_stops_says_so_and_what_is_left(tmp_path: Path) -> None:
    """The demo's TUI (`tui --live`) watches a receiver the demo started: when it stops, the
    screen says the receiver stopped and that the store keeps what it stored, not "check the
    path and permissions"."""
    db = tmp_path / "demo.duckdb"
    collector, port = _collect(tmp_path, db)
    try:
        source = _watched_source(db, None)
        app = SeamscopeApp(lambda: source, refresh_interval=0.2, live=True)
        async with app.run_test(size=(160, 45)) as pilot:
            await settle(pilot)
            assert f"127.0.0.1:{port}" in app.title
            assert collector.stop(timeout_s=30) == 0

            def gone() -> bool:
                screen: Any = app.screen
                return isinstance(screen, ProblemScreen) and "stopped" in screen.message

            await until(pilot, gone, "the receiver's end on screen")
            assert isinstance(app.screen, ProblemScreen)
            assert app.screen.problem_title == "The receiver stopped"
            assert "seamscope tui --db" in _problem_text(app)
            assert app.title == "seamscope"
    finally:
        collector.stop()
