"""A time is never cut in two by the line it is on, and a screen writes its times one way at
one width: at 100 columns "Seen" wrapped between a date and its time in the edge screen's
figures and in the findings' reason pane, and the edge screen's spans left out the year its
figures and history wrote."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from textual.widgets import DataTable, Static

from seamscope.tui.app import SeamscopeApp
from seamscope.tui.data import LocalStore
from seamscope.tui.widgets.why import WhyPane
from tests.functional.conftest import AppFactory, settle
from tests.functional.test_panes import DEMO

pytestmark = pytest.mark.anyio

SIZES = [(100, 30), (160, 45), (220, 60)]
DATE_AT_END = re.compile(r"\d\d-\d\d\s*$")
TIME_AT_START = re.compile(r"^\W*\d\d:\d\d:\d\d")
TIME = re.compile(r"(?:\d{4}-)?\d\d-\d\d \d\d:\d\d:\d\d")


def _cut(lines: list[str]) -> list[str]:
    """The pairs of lines between which a date and its time were parted."""
    return [
        f"{a!r} / {b!r}"
        for a, b in zip(lines, lines[1:], strict=False)
        if DATE_AT_END.search(a.rstrip("│ ")) and TIME_AT_START.match(b.lstrip("│ "))
    ]


@pytest.fixture
def demo_db(tmp_path: Path) -> Path:
    from seamscope.tracer.ingest import ingest

    db = tmp_path / "demo.duckdb"
    assert ingest(db, [str(DEMO / "demo-fleet.jsonl")], use_owner=False).ok
    return db


def _app(db: Path) -> SeamscopeApp:
    return SeamscopeApp(lambda: LocalStore(db, DEMO / "seamscope.toml"), refresh_interval=0)


@pytest.mark.parametrize("size", SIZES)
async def test_the_edge_screen_keeps_each_time_whole_and_writes_it_as_its_spans_do(
    demo_db: Path, size: tuple[int, int]
) -> None:
    app = _app(demo_db)
    async with app.run_test(size=size) as pilot:
        await settle(pilot)
        assert app.source is not None
        found = app.source.user_sql("SELECT edge_id FROM edges ORDER BY span_count DESC")
        app.open_edge(str(found.column("edge_id")[0]))
        await settle(pilot)
        text = app.screen.query_one("#edge-text", Static)
        lines = [text.render_line(y).text for y in range(text.size.height)]
        assert any("Seen" in line for line in lines)
        assert _cut(lines) == []
        spans = app.screen.query_one("#spans", DataTable)
        assert spans.row_count
        start = str(spans.get_row_at(0)[0])
        times = TIME.findall("\n".join(lines))
        assert times
        assert {len(t) for t in times} == {len(start)}


@pytest.mark.parametrize("size", SIZES)
async def test_the_findings_reason_pane_keeps_each_time_whole(
    demo_db: Path, size: tuple[int, int]
) -> None:
    app = _app(demo_db)
    async with app.run_test(size=size) as pilot:
        await settle(pilot)
        await pilot.press("n")
        await settle(pilot)
        pane = app.screen.query_one(WhyPane)
        table = app.screen.query_one("#findings", DataTable)
        seen = 0
        for _ in range(table.row_count):
            lines = [pane.render_line(y).text for y in range(pane.size.height)]
            seen += any("Seen" in line for line in lines)
            assert _cut(lines) == []
            await pilot.press("down")
            await settle(pilot)
        assert seen


async def test_the_edge_screens_spans_say_only_an_error_in_their_status(
    sample_db: Path, make_app: AppFactory
) -> None:
    """The Status column said UNSET (OTel's status for a span no one set) on every row of the
    demo's edges: it says ERROR, in red, and nothing for OK and UNSET."""
    app = make_app(sample_db)
    async with app.run_test(size=(160, 45)) as pilot:
        await settle(pilot)
        assert app.source is not None
        found = app.source.user_sql(
            "SELECT edge_id FROM edges WHERE error_count > 0 ORDER BY error_count DESC"
        )
        app.open_edge(str(found.column("edge_id")[0]))
        await settle(pilot)
        spans = app.screen.query_one("#spans", DataTable)
        status = [spans.get_row_at(row)[5] for row in range(spans.row_count)]
        assert {str(s) for s in status} == {"", "ERROR"}
        assert all(s.style == "red" for s in status if str(s) == "ERROR")
