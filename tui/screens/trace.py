"""A trace as a waterfall; the edge's spans highlighted; the selected span's attributes; and,
for listening edges, the spans on the other side of the event in other traces."""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

from rich.text import Text
from textual import work
from textual.app import ComposeResult
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.message import Message
from textual.widgets import DataTable, Header, Static

from seamscope.classifiers import read
from seamscope.classifiers.read import SpanRow, TraceView
from seamscope.tracer.access import Query
from seamscope.tracer.errors import SeamscopeError
from seamscope.tui.screens.base import DataScreen, fill_table, fmt_ms, fmt_time, plural
from seamscope.tui.widgets.footer import SteadyFooter
from seamscope.tui.widgets.table import Table

BAR_WIDTH = 24


def waterfall(spans: tuple[SpanRow, ...]) -> list[tuple[SpanRow, int]]:
    """Spans in tree order (children under their parent, by start) with their depth."""
    ids = {s.span_id for s in spans}
    children: dict[str | None, list[SpanRow]] = {}
    for s in spans:
        parent = s.parent_span_id if s.parent_span_id in ids else None
        children.setdefault(parent, []).append(s)
    out: list[tuple[SpanRow, int]] = []
    seen: set[str] = set()

    def walk(parent: str | None, depth: int) -> None:
        for s in sorted(children.get(parent, []), key=lambda s: (s.start_time, s.span_id)):
            if s.span_id in seen:
                continue
            seen.add(s.span_id)
            out.append((s, depth))
            walk(s.span_id, depth + 1)

    walk(None, 0)
    return out


def bar(start: datetime, duration_ms: float, t0: datetime, total_ms: float, style: str) -> Text:
    offset_ms = (start - t0).total_seconds() * 1000
    scale = BAR_WIDTH / total_ms if total_ms > 0 else 0
    left = min(BAR_WIDTH - 1, int(offset_ms * scale))
    length = max(1, min(BAR_WIDTH - left, round(duration_ms * scale)))
    return Text.assemble(" " * left, ("█" * length, style), " " * (BAR_WIDTH - left - length))


class TraceScreen(DataScreen[Any]):
    """Up/down picks a span; Enter on a hop opens the other trace."""

    class Attributes(Message):
        def __init__(self, span_id: str, text: Text) -> None:
            super().__init__()
            self.span_id = span_id
            self.text = text

    def __init__(self, trace_id: str, edge_id: str | None = None, span_id: str | None = None):
        super().__init__()
        self.trace_id = trace_id
        self.edge_id = edge_id
        self.span_id = span_id
        self._view: TraceView | None = None

    def compose(self) -> ComposeResult:
        yield Header()
        yield Static(f"Trace {self.trace_id}", classes="summary", id="trace-title")
        with Horizontal(id="trace-panes"):
            with Vertical(id="waterfall-pane"):
                table: DataTable[Any] = Table(id="waterfall", cursor_type="row")
                for label, width in (
                    ("Service", 12),
                    ("Span", 26),
                    ("Kind", 8),
                    ("Timeline", BAR_WIDTH),
                    ("ms", 7),
                    ("Label", 14),
                ):
                    table.add_column(label, width=width)
                yield table
                yield Static(
                    "Other side of the event: the same listening edge in other traces (Enter)",
                    classes="caption",
                    id="hops-caption",
                )
                hops: DataTable[Any] = Table(id="hops", cursor_type="row")
                for label, width in (("Start", 19), ("Service", 16), ("Kind", 9), ("Trace", 32)):
                    hops.add_column(label, width=width)
                yield hops
            with VerticalScroll(id="attributes-pane"):
                yield Static("", id="attributes")
        yield SteadyFooter()

    def fetch(self, q: Query) -> TraceView:
        return read.trace_view(q, self.trace_id)

    def show(self, payload: Any) -> None:
        view: TraceView = payload
        self._view = view
        self.sub_title = f"Trace {self.trace_id[:16]}"
        if not view.spans:
            self.query_one("#trace-title", Static).update(f"Trace {self.trace_id}: no spans stored")
            return
        t0 = min(s.start_time for s in view.spans)
        end = (
            max(s.start_time.timestamp() * 1000 + s.duration_ms for s in view.spans)
            - t0.timestamp() * 1000
        )
        services = sorted({s.service_name or "?" for s in view.spans})
        self.query_one("#trace-title", Static).update(
            Text.assemble(
                ("Trace ", "bold"),
                self.trace_id,
                f" · {plural(len(view.spans), 'span')} · {plural(len(services), 'service')}"
                f" · {fmt_ms(end)} ms"
                f" · started {fmt_time(t0)}",
            )
        )
        rows: list[tuple[str, list[str | Text]]] = []
        for s, depth in waterfall(view.spans):
            mine = self.edge_id is not None and s.edge_id == self.edge_id
            vstyle = s.verdict.style if s.verdict else ""
            bar_style = vstyle or "grey50"
            name = Text("  " * depth + s.name, style="bold" if mine else "")
            if s.status_code == "ERROR":
                name.stylize("red")
            label = Text(("◀ " if mine else "") + (s.verdict or ""), style=vstyle)
            rows.append(
                (
                    s.span_id,
                    [
                        s.service_name or "",
                        name,
                        s.kind,
                        bar(s.start_time, s.duration_ms, t0, end, bar_style),
                        fmt_ms(s.duration_ms),
                        label,
                    ],
                )
            )
        table = self.query_one("#waterfall", DataTable)
        first = table.row_count == 0
        fill_table(table, rows)
        if first and self.span_id:
            try:
                table.move_cursor(row=table.get_row_index(self.span_id), animate=False)
            except Exception:
                pass
        table.focus()
        hop_rows: list[tuple[str, list[str | Text]]] = [
            (
                f"{h.trace_id}/{h.span_id}",
                [fmt_time(h.start_time), h.service_name or "", h.kind, h.trace_id],
            )
            for h in view.hops
        ]
        fill_table(self.query_one("#hops", DataTable), hop_rows)
        self.query_one("#hops").display = bool(hop_rows)
        self.query_one("#hops-caption").display = bool(hop_rows)
        self._show_attributes()

    def _show_attributes(self) -> None:
        table = self.query_one("#waterfall", DataTable)
        if not table.row_count:
            return
        key = table.coordinate_to_cell_key(table.cursor_coordinate).row_key.value
        if key:
            self._load_attributes(key)

    def on_data_table_row_highlighted(self, event: DataTable.RowHighlighted) -> None:
        if event.data_table.id == "waterfall" and event.row_key.value:
            self._load_attributes(event.row_key.value)

    @work(thread=True, exclusive=True, group="attributes")
    def _load_attributes(self, span_id: str) -> None:
        trace_id = self.trace_id
        try:
            attrs = self.source.run(lambda q: read.span_attributes(q, trace_id, span_id))
        except (SeamscopeError, Exception) as exc:  # shown in the panel, never raised
            self.post_message(self.Attributes(span_id, Text(str(exc), style="red")))
            return
        text = Text()
        text.append(f"Span {span_id}\n", style="bold")
        for section in ("attributes", "resource"):
            values = attrs.get(section) or {}
            text.append(f"\n{section}\n", style="bold underline")
            for key in sorted(values):
                value = values[key]
                shown = value if isinstance(value, str) else json.dumps(value)
                text.append(f"{key}", style="cyan")
                text.append(f" = {shown}\n")
        if attrs.get("status_message"):
            text.append(f"\nstatus: {attrs['status_message']}\n", style="red")
        self.post_message(self.Attributes(span_id, text))

    def on_trace_screen_attributes(self, message: TraceScreen.Attributes) -> None:
        self.query_one("#attributes", Static).update(message.text)

    def on_data_table_row_selected(self, event: DataTable.RowSelected) -> None:
        if event.data_table.id == "hops" and event.row_key.value:
            trace_id, _, span_id = event.row_key.value.partition("/")
            self.sapp.open_trace(trace_id, edge_id=self.edge_id, span_id=span_id)
