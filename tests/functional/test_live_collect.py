"""`seamscope tui --collect`: the app owns the store through the real receiver; OTLP posted over
loopback while it runs shows up as a classified edge on the landscape."""

from __future__ import annotations

import asyncio
import json
import shutil
import sys
import time
import urllib.request
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from textual.coordinate import Coordinate
from textual.widgets import DataTable, Static

from seamscope.cli.tui import _collector_source
from seamscope.demo.processes import ManagedProcess, free_port, wait_for_http
from seamscope.tui.app import SeamscopeApp
from seamscope.tui.data import open_source
from seamscope.tui.screens.dialogs import ProblemScreen
from seamscope.tui.screens.landscape import LandscapeScreen
from tests.functional.conftest import AppFactory, settle

pytestmark = pytest.mark.anyio


def _attrs(values: dict[str, Any]) -> list[dict[str, Any]]:
    out = []
    for key, value in values.items():
        if isinstance(value, int):
            out.append({"key": key, "value": {"intValue": str(value)}})
        else:
            out.append({"key": key, "value": {"stringValue": value}})
    return out


def otlp_request(trace_id: str, web: str = "live-web", shop: str = "liveshop") -> bytes:
    """A webapp calling another system's REST API: the client span and the server span."""
    now = time.time_ns()
    client_id, server_id = trace_id[:16], trace_id[16:]

    def resource(name: str, system: str, role: str) -> dict[str, Any]:
        return {
            "attributes": _attrs(
                {"service.name": name, "service.namespace": system, "seamscope.role": role}
            )
        }

    def span(span_id: str, parent: str, name: str, kind: int, attrs: dict[str, Any]) -> Any:
        return {
            "traceId": trace_id,
            "spanId": span_id,
            "parentSpanId": parent,
            "name": name,
            "kind": kind,
            "startTimeUnixNano": str(now),
            "endTimeUnixNano": str(now + 5_000_000),
            "attributes": _attrs(attrs),
            "status": {},
        }

    body = {
        "resourceSpans": [
            {
                "resource": resource(web, shop, "webapp"),
                "scopeSpans": [
                    {
                        "scope": {"name": "opentelemetry.instrumentation.httpx"},
                        "spans": [
                            span(
                                client_id,
                                "",
                                "GET",
                                3,
                                {
                                    "http.request.method": "GET",
                                    "url.full": "http://live-users:8080/users/7",
                                    "server.address": "live-users",
                                    "server.port": 8080,
                                    "http.response.status_code": 200,
                                },
                            )
                        ],
                    }
                ],
            },
            {
                "resource": resource("live-users-api", "liveusers", "backend"),
                "scopeSpans": [
                    {
                        "scope": {"name": "opentelemetry.instrumentation.flask"},
                        "spans": [
                            span(
                                server_id,
                                client_id,
                                "GET /users/<id>",
                                2,
                                {
                                    "http.request.method": "GET",
                                    "http.route": "/users/<id>",
                                    "http.response.status_code": 200,
                                },
                            )
                        ],
                    }
                ],
            },
        ]
    }
    return json.dumps(body).encode()


def post(url: str, body: bytes) -> int:
    request = urllib.request.Request(
        url, data=body, headers={"Content-Type": "application/json"}, method="POST"
    )
    with urllib.request.urlopen(request, timeout=30) as response:
        return int(response.status)


async def until(pilot: Any, done: Callable[[], bool], what: str, limit_s: float = 180) -> None:
    """Waits, handling the app's messages, until done() holds: on the condition, not on a time
    (the bound is only there so that a broken app fails instead of hanging)."""
    deadline = time.monotonic() + limit_s
    while not done():
        if time.monotonic() > deadline:
            raise AssertionError(f"{what}: not seen within {limit_s:.0f} s")
        await pilot.pause(0.05)


async def test_collect_shows_a_new_edge_live(tmp_path: Path) -> None:
    db = tmp_path / "live.duckdb"
    source = _collector_source(db, "127.0.0.1", free_port(), None, log_dir=tmp_path)
    app = SeamscopeApp(lambda: source, refresh_interval=0.2)
    try:
        async with app.run_test(size=(160, 45)) as pilot:
            await settle(pilot)
            assert isinstance(app.screen, ProblemScreen)
            assert app.screen.problem_title == "The store is empty"
            url = source.url + "/v1/traces"
            status = await asyncio.to_thread(post, url, otlp_request("ab" * 16))
            assert status == 200
            # The landscape replaces the problem screen once the receiver classified the spans.
            await until(pilot, lambda: bool(_edges(app)), "the landscape with an edge")
            found = [f"{a} -> {b}" for a, b, _ in _edges(app)]
            assert found == ["liveshop/live-web -> liveusers/live-users-api"]
    finally:
        source.close()


def _edges(app: SeamscopeApp, column: int = 5) -> list[tuple[str, str, str]]:
    """The landscape table's rows as (from, to, spans), or [] while it is not showing (its table
    may not be mounted yet)."""
    screen = app.screen
    if not isinstance(screen, LandscapeScreen) or not screen.query("#edges"):
        return []
    table: DataTable[Any] = screen.query_one("#edges", DataTable)
    return [
        (str(row[2]), str(row[3]), str(row[column]))  # From, To, Spans
        for row in (table.get_row_at(i) for i in range(table.row_count))
    ]


def _tables(app: SeamscopeApp) -> dict[str, list[list[str]]]:
    """Every cell of the landscape's systems and edge tables, as text."""
    out: dict[str, list[list[str]]] = {}
    for name in ("#systems", "#edges"):
        table: DataTable[Any] = app.screen.query_one(name, DataTable)
        out[name] = [[str(c) for c in table.get_row_at(i)] for i in range(table.row_count)]
    return out


def _marks(app: SeamscopeApp) -> dict[tuple[str, str], str]:
    """The landscape table's Changed column by (from, to); {} while it has none."""
    screen = app.screen
    if not isinstance(screen, LandscapeScreen) or not screen.query("#edges"):
        return {}
    table: DataTable[Any] = screen.query_one("#edges", DataTable)
    if "Changed" not in table.columns:
        return {}
    return {
        (str(table.get_row_at(i)[2]), str(table.get_row_at(i)[3])): str(
            table.get_cell_at(Coordinate(i, table.get_column_index("Changed")))
        )
        for i in range(table.row_count)
    }


async def test_a_live_refresh_adds_a_new_edge_in_its_place_and_updates_the_counts(
    tmp_path: Path,
) -> None:
    """The table is patched, not rebuilt, when a refresh brings one more edge: the new row
    lands in its sorted place (before the one already there) and the old row's count moves."""
    db = tmp_path / "live.duckdb"
    source = _collector_source(db, "127.0.0.1", free_port(), None, log_dir=tmp_path)
    app = SeamscopeApp(lambda: source, refresh_interval=0.2)
    first = ("liveshop/live-web", "liveusers/live-users-api")
    new = ("aadmin/admin-web", "liveusers/live-users-api")
    try:
        async with app.run_test(size=(160, 45)) as pilot:
            await settle(pilot)
            url = source.url + "/v1/traces"
            assert await asyncio.to_thread(post, url, otlp_request("ab" * 16)) == 200
            await until(pilot, lambda: bool(_edges(app)), "the first edge")
            assert _edges(app) == [(*first, "1")]
            # The system both edges touch in focus, as a user would pick it.
            systems: DataTable[Any] = app.screen.query_one("#systems", DataTable)
            names = [str(systems.get_row_at(i)[1]) for i in range(systems.row_count)]
            systems.move_cursor(row=names.index("liveusers"))
            await settle(pilot)

            for body in (
                otlp_request("cd" * 16, web="admin-web", shop="aadmin"),
                otlp_request("ef" * 16),
            ):
                assert await asyncio.to_thread(post, url, body) == 200
            wanted = [(*new, "1"), (*first, "2")]
            await until(pilot, lambda: _edges(app) == wanted, f"the edges {wanted}")
    finally:
        source.close()


async def test_live_refreshes_read_only_the_changed_edges_and_keep_marks_and_focus(
    tmp_path: Path,
) -> None:
    """Spans posted to the real receiver between refreshes: each refresh after the first paint
    reads only the edges the receiver's classifier changed and merges them into the screen; the
    new edge is marked new, a changed count shows, the focus stays on the system the user chose
    while a system sorting before it appears, and the table holds what a full read gives."""
    from seamscope.classifiers import read

    db = tmp_path / "live.duckdb"
    source = _collector_source(db, "127.0.0.1", free_port(), None, log_dir=tmp_path)
    app = SeamscopeApp(lambda: source, refresh_interval=0.2)
    first = ("liveshop/live-web", "liveusers/live-users-api")
    new = ("aadmin/admin-web", "liveusers/live-users-api")

    def view() -> read.Overview | None:
        screen = app.screen
        return screen.view if isinstance(screen, LandscapeScreen) else None

    try:
        async with app.run_test(size=(160, 45)) as pilot:
            await settle(pilot)
            url = source.url + "/v1/traces"
            assert await asyncio.to_thread(post, url, otlp_request("ab" * 16)) == 200
            await until(pilot, lambda: bool(_edges(app)), "the first edge")
            systems: DataTable[Any] = app.screen.query_one("#systems", DataTable)
            names = [str(systems.get_row_at(i)[1]) for i in range(systems.row_count)]
            systems.move_cursor(row=names.index("liveusers"))
            await settle(pilot)
            painted = view()
            assert painted is not None and painted.revision is not None

            body = otlp_request("cd" * 16, web="admin-web", shop="aadmin")
            assert await asyncio.to_thread(post, url, body) == 200
            wanted = [(*new, "1"), (*first, "1")]
            await until(pilot, lambda: _edges(app) == wanted, f"the edges {wanted}")
            assert _marks(app) == {new: "new", first: ""}
            merged = view()
            assert merged is not None and merged.revision is not None
            assert merged.revision > painted.revision
            assert merged.edges_read == 1  # the new edge alone
            assert app.screen.centre == "liveusers"  # type: ignore[attr-defined]

            for k in range(2):  # only the first edge's count moves
                assert await asyncio.to_thread(post, url, otlp_request(f"{k}e" * 16)) == 200
            wanted = [(*new, "1"), (*first, "3")]
            await until(pilot, lambda: _edges(app) == wanted, f"the edges {wanted}")
            last = view()
            assert last is not None and last.edges_read >= 1
            assert last.edges_read < len(last.edges)  # the unchanged edge was not read again
            assert _marks(app) == {new: "new", first: ""}
            assert app.screen.centre == "liveusers"  # type: ignore[attr-defined]
            full = source.run(lambda q: read.overview(q, read.Filters(), app.opened_at))
            assert last.edges == full.edges and last.changed == full.changed
            merged_screen = _tables(app)
            await pilot.press("r")  # r reads everything again, merging nothing
            await until(
                pilot,
                lambda: (v := view()) is not None and v is not last and v.edges_read == 2,
                "a full read after r",
            )
            await settle(pilot)
            assert _edges(app) == wanted
            # Every cell the refreshes patched (or kept) shows what a full read shows.
            assert _tables(app) == merged_screen
    finally:
        source.close()


def _collector(tmp_path: Path, db: Path, port: int, *options: str) -> ManagedProcess:
    """`seamscope collect` owning db, in a process of its own (not started yet)."""
    command = [sys.executable, "-m", "seamscope.cli", "collect", *options]
    return ManagedProcess(
        "collect",
        [*command, "--db", str(db), "--port", str(port)],
        log_path=tmp_path / "collect.log",
    )


async def test_an_owner_that_starts_later_is_read_through(
    tmp_path: Path, sample_db: Path, make_app: AppFactory
) -> None:
    """The TUI opened a plain file; then `seamscope collect` takes the store over. The TUI keeps
    working through the owner's SQL endpoint and shows what the collector receives."""
    app = make_app(sample_db, refresh_interval=0.2, classify=True)
    port = free_port()
    collector = _collector(tmp_path, sample_db, port)
    try:
        async with app.run_test(size=(160, 45)) as pilot:
            await settle(pilot)
            assert isinstance(app.screen, LandscapeScreen)
            collector.start()
            assert collector.popen is not None
            await asyncio.to_thread(
                wait_for_http,
                f"http://127.0.0.1:{port}/",
                process=collector.popen,
                timeout_s=60,
            )
            # Said on the news line, and named in the header from then on.
            owner = f"the receiver on 127.0.0.1:{port} (pid {collector.popen.pid})"
            await until(
                pilot,
                lambda: app.news is not None and f"{owner} owns the store now" in app.news.plain,
                "the news of the new owner",
            )
            assert app.title == f"seamscope · live from {owner}"
            status = await asyncio.to_thread(
                post, f"http://127.0.0.1:{port}/v1/traces", otlp_request("cd" * 16)
            )
            assert status == 200
            systems: DataTable[Any] = app.screen.query_one("#systems", DataTable)
            names: list[str] = []
            for _ in range(600):  # bounded; the timer checks every 0.2 s
                await pilot.pause(0.05)
                names = [str(systems.get_row_at(i)[1]) for i in range(systems.row_count)]
                if "liveshop" in names:
                    break
            assert "liveshop" in names
            systems.move_cursor(row=names.index("liveshop"))
            table: DataTable[Any] = app.screen.query_one("#edges", DataTable)

            def froms() -> list[str]:
                return [str(table.get_row_at(i)[2]) for i in range(table.row_count)]

            # The edges follow the cursor once the highlight's message and any refresh already
            # under way are handled (a single settle missed that once, under a loaded machine).
            await until(pilot, lambda: "liveshop/live-web" in froms(), "liveshop's edges", 30)
            assert isinstance(app.screen, LandscapeScreen)
            assert app.title == f"seamscope · live from {owner}"
    finally:
        collector.stop()


async def test_collect_has_its_receiver_classify_what_was_stored_before(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Spans stored before `tui --collect` started are classified before the first paint, by the
    receiver child, never in the TUI's process: a full classification of a big store there would
    leave the TUI holding gigabytes (2.8 GB for 10M spans). The classifier is a tripwire here."""
    from seamscope.classifiers import engine
    from seamscope.tracer.rows import SpanBatchBuilder
    from seamscope.tracer.store import Store
    from tests.functional.sample import build_spans

    db = tmp_path / "before.duckdb"
    builder = SpanBatchBuilder()
    build_spans(builder)
    with Store.open(db) as store:
        store.append(builder.build(), batch_key="before-1", source="tests")

    def tripwire(*args: object, **kwargs: object) -> None:
        raise AssertionError("the TUI's own process classified the store")

    monkeypatch.setattr(engine, "classify", tripwire)
    source = _collector_source(db, "127.0.0.1", free_port(), None, log_dir=tmp_path)
    app = SeamscopeApp(lambda: source, refresh_interval=0)
    try:
        async with app.run_test(size=(160, 45)) as pilot:
            await settle(pilot)
            assert isinstance(app.screen, LandscapeScreen)  # classified at the first paint
            view = app.screen.view
            assert view is not None and {"shop", "orders"} <= set(view.systems)
    finally:
        source.close()


def test_the_receivers_log_folder_goes_after_a_clean_stop_and_stays_after_a_crash(
    tmp_path: Path,
) -> None:
    """`tui --collect` without a log folder of the caller's makes one for the child's log: a
    clean stop removes it and gives the child's last word (how many spans it stored); a child
    that died keeps it, and the message says where."""
    db = tmp_path / "live.duckdb"
    source = _collector_source(db, "127.0.0.1", free_port(), None)
    scratch = source.scratch
    assert scratch is not None and (scratch / "collect.log").is_file()
    assert post(source.url + "/v1/traces", otlp_request("ab" * 16)) == 200
    source.close()
    source.close()  # the app closes its source, then the command does
    assert source.said is not None and "stored 2 spans" in source.said
    assert not scratch.exists()

    crashed = _collector_source(tmp_path / "crash.duckdb", "127.0.0.1", free_port(), None)
    assert crashed.scratch is not None
    crashed.child.popen.kill()
    crashed.child.popen.wait()
    crashed.close()
    said = crashed.said or ""
    assert "exited with status" in said and str(crashed.scratch / "collect.log") in said
    assert (crashed.scratch / "collect.log").is_file()
    shutil.rmtree(crashed.scratch)


async def test_new_spans_the_classifier_has_not_seen_update_the_count_without_a_fetch(
    tmp_path: Path, sample_db: Path
) -> None:
    """An owner that does not classify (`collect --no-classify`): spans arrive, the classifier's
    tables stay as they were. The landscape shows the new span count from the poll's watermark
    alone, without reading the landscape again; everything else on it is unchanged."""
    port = free_port()
    collector = _collector(tmp_path, sample_db, port, "--no-classify")
    collector.start()
    try:
        assert collector.popen is not None
        await asyncio.to_thread(
            wait_for_http, f"http://127.0.0.1:{port}/", process=collector.popen, timeout_s=60
        )
        app = SeamscopeApp(lambda: open_source(sample_db), refresh_interval=0.2)
        async with app.run_test(size=(160, 45)) as pilot:
            await settle(pilot)
            screen = app.screen
            assert isinstance(screen, LandscapeScreen) and screen.view is not None
            before = screen.view
            fetches: list[float] = []
            fetch = screen.fetch

            def counted(q: Any) -> Any:
                fetches.append(time.monotonic())
                return fetch(q)

            screen.fetch = counted  # type: ignore[method-assign]
            status = await asyncio.to_thread(
                post, f"http://127.0.0.1:{port}/v1/traces", otlp_request("ef" * 16)
            )
            assert status == 200
            summary = screen.query_one("#summary", Static)
            now = f"{before.span_count + 2:,} spans"
            await until(pilot, lambda: now in str(summary.content), "the new span count")
            await settle(pilot)
            assert fetches == []
            assert screen.view is not None and screen.view.span_count == before.span_count + 2
            assert screen.view.edges is before.edges and screen.view.systems == before.systems
            assert "liveshop" not in screen.view.systems  # the classifier did not run
    finally:
        collector.stop()


@pytest.mark.parametrize("given", [None, "300MB"])
def test_the_receiver_works_within_the_memory_limit_tui_collect_gives_it(
    tmp_path: Path, given: str | None
) -> None:
    """`tui --collect`'s receiver keeps its DuckDB within LIVE_MEMORY_LIMIT (or the limit given),
    not the 2GB `seamscope collect` takes alone: seen from its own SQL endpoint."""
    import duckdb

    from seamscope.cli.tui import LIVE_MEMORY_LIMIT

    db = tmp_path / "live.duckdb"
    extra = {} if given is None else {"memory_limit": given}
    source = _collector_source(db, "127.0.0.1", free_port(), None, log_dir=tmp_path, **extra)
    try:
        shown = source.user_sql("SELECT current_setting('memory_limit') AS m").column(0)[0]
        expected = duckdb.connect(config={"memory_limit": given or LIVE_MEMORY_LIMIT})
        want = expected.execute("SELECT current_setting('memory_limit')").fetchall()[0][0]
        expected.close()
        assert shown.as_py() == want
        assert want != "1.8 GiB"  # not collect's own 2GB
    finally:
        source.close()


def test_tui_collect_opens_at_once_when_its_receiver_cannot_classify_within_its_limit(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Spans stored before, and a memory limit the classifier cannot work in: `tui --collect`
    does not wait for a catch-up that will not come (CATCH_UP_WAIT_S); it says why and opens.
    Why, in one line: the receiver's (its classifier ran short), or the refusal of the query
    that asked how far it got (that query ran short beside the classifier)."""
    from benchmarks.receiver import bodies
    from seamscope.tracer.ingest import Batch, append_many
    from seamscope.tracer.receiver.decode import decode_request
    from seamscope.tracer.receiver.writer import SHORT_OF_MEMORY
    from seamscope.tracer.store import Store

    db = tmp_path / "stored.duckdb"
    store = Store.open(db)
    try:
        batches = []
        for body in bodies(4, 1_024):
            _, table, key, _ = decode_request(body, "identity", False, None, 1 << 30, False)
            batches.append(Batch(table, key, "test"))
        append_many(store, batches)
    finally:
        store.close()
    source = _collector_source(
        db, "127.0.0.1", free_port(), None, log_dir=tmp_path, memory_limit="16MB"
    )
    try:
        assert source.child.alive()
        err = capsys.readouterr().err
        assert SHORT_OF_MEMORY in err or "the query needs more memory than it may use" in err
        assert "Traceback" not in err
    finally:
        source.close()
