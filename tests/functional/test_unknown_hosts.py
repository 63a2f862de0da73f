"""A host that is no vendor is not called one: a service of the fleet calls a server on loopback
that no landscape file names (the classifier leaves it unresolved: a service of ours without
tracing, or a vendor) and a vendor the landscape file declares. Every screen that names the
ends says which is which."""

from __future__ import annotations

import subprocess
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
from textual.widgets import DataTable, Static

from seamscope.tui.app import SeamscopeApp
from seamscope.tui.data import LocalStore
from seamscope.tui.screens.edge import EdgeScreen
from seamscope.tui.screens.landscape import LandscapeScreen, SystemScreen
from seamscope.tui.widgets.focusmap import FocusMap
from seamscope.tui.widgets.landmap import LandscapeMap
from seamscope.tui.widgets.why import WhyPane
from tests.e2e.services.harness import BIN, service_env
from tests.functional.conftest import settle
from tests.functional.test_screens import SIZE, cells, static_text

pytestmark = pytest.mark.anyio

CLIENT = """\
import sys

import httpx

for url in sys.argv[1:]:
    httpx.get(url).raise_for_status()
"""


class _Ok(BaseHTTPRequestHandler):
    def do_GET(self) -> None:  # noqa: N802 (http.server's name)
        self.send_response(200)
        self.send_header("Content-Length", "2")
        self.end_headers()
        self.wfile.write(b"{}")

    def log_message(self, format: str, *args: object) -> None:  # noqa: A002
        pass


def _server() -> ThreadingHTTPServer:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Ok)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server


@pytest.fixture
def servers() -> Iterator[tuple[int, int]]:
    """Two servers on loopback, neither traced: (the unknown one's port, the vendor's)."""
    unknown, vendor = _server(), _server()
    try:
        yield unknown.server_address[1], vendor.server_address[1]
    finally:
        for server in (unknown, vendor):
            server.shutdown()
            server.server_close()


@pytest.fixture
def traced(tmp_path: Path, servers: tuple[int, int]) -> tuple[Path, Path, int]:
    """(store, landscape file, the unknown server's port): shop/shop-api under the real
    opentelemetry-instrument calls both servers once; the landscape file declares the second
    one the vendor `stock` and says nothing of the first."""
    unknown, vendor = servers
    db = tmp_path / "hosts.duckdb"
    script = tmp_path / "client.py"
    script.write_text(CLIENT)
    landscape = tmp_path / "seamscope.toml"
    landscape.write_text(f'[vendors.stock]\nhosts = ["127.0.0.1:{vendor}"]\n')
    urls = [f"http://127.0.0.1:{port}/items" for port in (unknown, vendor)]
    done = subprocess.run(
        [str(BIN / "opentelemetry-instrument"), "python", str(script), *urls],
        env=service_env(db, "shop-api", "shop"),
        capture_output=True,
        text=True,
        timeout=120,
        start_new_session=True,
    )
    assert done.returncode == 0 and "Traceback" not in done.stderr, done.stderr
    return db, landscape, unknown


def _app(db: Path, landscape: Path) -> SeamscopeApp:
    return SeamscopeApp(lambda: LocalStore(db, landscape), refresh_interval=0)


def _map_text(landmap: LandscapeMap) -> str:
    canvas = landmap.drawing.canvas
    return "\n".join("".join(text for text, _ in canvas.runs(y)) for y in range(canvas.height))


async def test_a_host_that_no_vendor_declares_is_not_called_a_vendor(
    traced: tuple[Path, Path, int],
) -> None:
    db, landscape, port = traced
    host = f"127.0.0.1:{port}"
    app = _app(db, landscape)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        screen = app.screen
        assert isinstance(screen, LandscapeScreen)
        # The landscape's edge table and the focus view of shop.
        table = screen.query_one("#edges", DataTable)
        ends = set(cells(table, 3))
        assert f"{host} (unknown host)" in ends, ends
        assert "stock (vendor)" in ends, ends
        assert not any(host in end and "vendor" in end for end in ends), ends
        # Its box in the focus view says so under its name, as a resource of no owner does.
        focus = screen.query_one(FocusMap)
        drawn = focus._drawn()
        assert drawn is not None
        canvas = drawn.canvas
        boxes = "\n".join("".join(t for t, _ in canvas.runs(y)) for y in range(canvas.height))
        assert "unknown host" in boxes, boxes
        # The reason pane under the table names the ends as the table does.
        table.focus()
        for _ in range(table.row_count):
            why = static_text(screen.query_one(WhyPane))
            if host in why:
                assert f"{host} (unknown host)" in why and "vendor)" not in why, why
            await pilot.press("j")
            await settle(pilot)
        # Opened, the system's drawing says what the box is.
        await pilot.press("escape")
        await pilot.press("colon")
        await settle(pilot)
        await pilot.press(*"shop", "enter")
        await settle(pilot)
        system = app.screen
        assert isinstance(system, SystemScreen)
        assert f"{host} (unknown host)" in cells(system.query_one("#edges", DataTable), 3)
        await pilot.press("m")
        await settle(pilot)
        picture = _map_text(system.query_one(LandscapeMap))
        assert "unknown host" in picture and "vendor" in picture, picture
        summary = static_text(system.query_one("#summary", Static))
        assert "1 vendor" in summary and "1 unknown host" in summary, summary
        # And the edge screen.
        await pilot.press("m")
        await settle(pilot)
        edges = system.query_one("#edges", DataTable)
        row = cells(edges, 3).index(f"{host} (unknown host)")
        edges.focus()
        edges.move_cursor(row=row)
        await pilot.press("enter")
        await settle(pilot)
        assert isinstance(app.screen, EdgeScreen)
        text = static_text(app.screen.query_one("#edge-text", Static))
        assert f"{host} (unknown host)" in text and f"{host} (vendor)" not in text, text
