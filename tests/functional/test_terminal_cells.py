"""A span that would drive the terminal (ESC and OSC sequences, a C1 CSI, Rich markup) is shown
escaped in the TUI: the trace's table and the span's attributes."""

from __future__ import annotations

from pathlib import Path

import pytest
from rich.text import Text
from textual.widgets import DataTable, Static

from seamscope.tracer.rows import SpanBatchBuilder
from seamscope.tracer.store import Store
from seamscope.tui.screens.trace import TraceScreen
from seamscope.tui.widgets.cells import escaped
from tests.functional.conftest import AppFactory, settle
from tests.functional.test_screens import SIZE, cells, static_text

pytestmark = pytest.mark.anyio

NAME = "GET /a\x1b[2J\x1b]0;owned\x07\x9b31m[bold]x[/]"
TRACE = "ab" * 16
SPAN = "cd" * 8


def _store(db: Path) -> None:
    builder = SpanBatchBuilder()
    builder.add(
        trace_id=TRACE,
        span_id=SPAN,
        parent_span_id=None,
        name=NAME,
        kind="SERVER",
        start_ns=1_700_000_000_000_000_000,
        end_ns=1_700_000_000_100_000_000,
        status_code="ERROR",
        status_message="failed\x1b]8;;https://evil.example/\x1b\\here",
        attributes={"note\x1b[31m": "v\x1b]0;t\x07"},
        resource={"service.name": "svc\x1b[2J"},
        scope_name=None,
    )
    with Store.open(db) as store:
        store.append(builder.build(), batch_key="b", source="tests")


async def test_the_trace_screen_escapes_control_characters(
    tmp_path: Path, make_app: AppFactory
) -> None:
    db = tmp_path / "s.duckdb"
    _store(db)
    app = make_app(db, classify=True)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        app.open_trace(TRACE, edge_id=None, span_id=SPAN)
        await settle(pilot)
        assert isinstance(app.screen, TraceScreen)
        waterfall = app.screen.query_one("#waterfall", DataTable)
        shown = " ".join(" ".join(cells(waterfall, c)) for c in range(len(waterfall.columns)))
        assert "\\u001b[2J" in shown and "[bold]x[/]" in shown
        attributes = static_text(app.screen.query_one("#attributes", Static))
        assert "note\\u001b[31m" in attributes and "\\u001b]8;;" in attributes
        for text in (shown, attributes):
            assert not any(c in text for c in "\x1b\x07\x9b")


def test_escaped_text_keeps_each_piece_styled() -> None:
    text = Text.assemble(("a\x1b[2J", "bold"), " mid ", ("z\x9b", "red"))
    out = escaped(text)
    assert out.plain == "a\\u001b[2J mid z\\u009b"
    assert [(out.plain[s.start : s.end], s.style) for s in out.spans] == [
        ("a\\u001b[2J", "bold"),
        ("z\\u009b", "red"),
    ]
    assert escaped(plain := Text("clean")) is plain
