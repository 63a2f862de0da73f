"""One edge: the rule it keeps or breaks, why, what to do instead, and its recent spans."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import datetime
from typing import Any

from rich.console import Group
from rich.text import Text
from textual.app import ComposeResult
from textual.widgets import DataTable, Static

from seamscope.classifiers import read
from seamscope.classifiers.read import EdgeDetail, SpanRow
from seamscope.classifiers.results import Node, Verdict
from seamscope.tracer.access import Query
from seamscope.tui.screens.base import DataScreen
from seamscope.tui.widgets.cells import (
    clip_end,
    escaped,
    fill_table,
    fmt_ms,
    fmt_time,
    heading,
    num,
    room_left,
    short_node,
    verdict_text,
)
from seamscope.tui.widgets.footer import SteadyFooter
from seamscope.tui.widgets.header import SteadyHeader
from seamscope.tui.widgets.news import NewsBar
from seamscope.tui.widgets.tables import NavTable, SpansTable
from seamscope.tui.widgets.textpane import TextPane
from seamscope.tui.widgets.why import EdgeFigures, joined_by


def short_time(value: datetime | None) -> str:
    return value.strftime("%m-%d %H:%M:%S") if value else ""


def _end(node_id: str, node: Node | None, hosts: Mapping[str, str] | None) -> Text:
    """An end of the edge by name, marked ~ with how when the classifier inferred it."""
    text = Text(short_node(node_id, hosts), style="bold")
    if node is not None and node.inferred:
        text.append(" ~", style="yellow")
    return text


def describe_edge(
    detail: EdgeDetail,
    hosts: Mapping[str, str] | None = None,
    when: Callable[[datetime | None], str] = fmt_time,
) -> Group:
    """What the edge is, its verdict and what to do first (it must fit a 100x30 terminal's
    first screen), then the evidence, the figures, why and an example; its times as when
    writes them (the spans' format at the screen's width)."""
    e, rule = detail.edge, detail.rule
    style = e.verdict.style
    source, target = detail.ends
    head = Text.assemble(
        _end(e.from_node, source, hosts),
        (" ──", style),
        (f" {e.mechanism}{' (listen)' if e.direction == 'listen' else ''} ", f"{style} bold"),
        ("──▶ ", style),
        _end(e.to_node, target, hosts),
        ("   ", ""),
        verdict_text(e.verdict, e.verdict.upper()),
        # An unclassified or unresolved edge has no rule of its own: no id to repeat.
        (f"  {e.rule_id}" if e.rule_id != e.verdict else "", "bold"),
        (f" {rule.name}" if rule.name != e.rule_id else "", "bold"),
    )
    parts: list[Any] = [head]
    if rule.summary:
        parts.append(Text(rule.summary))
    if e.verdict is Verdict.UNRESOLVED:
        # The reason names the missing fact and where it would come from: it leads.
        if e.reason:
            parts += [Text("What is missing", style="bold underline"), Text(e.reason)]
        parts += [Text("What to do", style="bold underline"), Text(rule.fix)]
        parts.append(joined_by(e.evidence))
    elif e.verdict is Verdict.UNCLASSIFIED:
        # No rule of its own: the reason (the owner unknown, no rule for S3) says why, and what
        # to declare where there is something; it leads, before the general advice.
        if e.reason:
            parts += [Text("Why", style="bold underline"), Text(e.reason)]
        parts += [Text("What to do", style="bold underline"), Text(rule.fix)]
        parts += [Text("Evidence", style="bold underline"), joined_by(e.evidence)]
    else:
        if rule.fix:
            title = "Do instead" if e.verdict.is_finding else "Keep in mind"
            parts += [Text(title, style="bold underline"), Text(rule.fix)]
        parts += [Text("Evidence", style="bold underline"), joined_by(e.evidence)]
        if e.reason:
            parts.append(Text(e.reason))
    for node in (source, target):
        # An inference the reason already says whole (the owner's, on an unclassified edge)
        # is not said twice.
        said = bool(e.reason and node is not None and node.inference and node.inference in e.reason)
        if node is not None and node.inferred and not said:
            parts.append(
                Text.assemble(
                    ("~ inferred ", "yellow"),
                    (node.label, "bold"),
                    f": {node.inference or 'not declared in the landscape file'}",
                )
            )
    parts.append(EdgeFigures(e, when))
    if detail.latency:
        latency = Text("Latency (exact, from the spans): ", style="dim")
        for i, lat in enumerate(detail.latency):
            if i:
                latency.append(" · ")
            latency.append(lat.operation, "bold")
            latency.append(
                f" {lat.spans:,}× p50 {fmt_ms(lat.p50_ms)} p95 {fmt_ms(lat.p95_ms)}"
                f" max {fmt_ms(lat.max_ms)} ms"
            )
        parts.append(latency)
    if detail.history:
        parts.append(Text("Label history", style="bold underline"))
        for c in detail.history:
            was = "new edge" if c.is_new else f"was {c.old_rule_id} {c.old_verdict or ''}".strip()
            parts.append(
                Text.assemble(
                    (when(c.changed_at), "dim"),
                    "  ",
                    verdict_text(c.verdict, f"{c.rule_id} {c.verdict}"),
                    f"  ({was}; {c.cause})",
                )
            )
    if e.operations:
        parts += [Text("Operations", style="bold underline"), Text(", ".join(e.operations))]
    if rule.rationale:
        parts += [Text("Why", style="bold underline"), Text(rule.rationale)]
    if rule.example:
        parts += [Text("Example", style="bold underline"), Text(rule.example)]
    return Group(*(escaped(p) if isinstance(p, Text) else p for p in parts))


SPAN_COLUMNS = ("Start", "Service", "Span", "Kind", "ms", "Status", "Trace")
SHORT_TIMES = 120
"""Below this many columns a span's start leaves out its year, as the edge tables' Last seen
does."""
SPAN_LEAST = 12
"""The cells a span's name keeps, however narrow the terminal."""


class EdgeScreen(DataScreen[Any]):
    """Enter on a span opens its whole trace."""

    def __init__(self, edge_id: str) -> None:
        super().__init__()
        self.edge_id = edge_id
        self._focused_once = False
        self._spans: tuple[SpanRow, ...] | None = None
        self._span_room: int | None = None  # the Span column's cells when it was made
        self._detail: EdgeDetail | None = None
        self._described: Callable[[datetime | None], str] | None = None  # its times' format

    def compose(self) -> ComposeResult:
        yield SteadyHeader()
        with TextPane(id="edge-info"):
            yield Static("Loading…", id="edge-text")
        yield Static("Recent spans of this edge (Enter: whole trace)", classes="caption")
        yield SpansTable(id="spans")
        yield NewsBar()
        yield SteadyFooter()

    def fetch(self, q: Query) -> EdgeDetail | None:
        return read.edge_detail(q, self.edge_id)

    def show(self, payload: Any) -> None:
        detail: EdgeDetail | None = payload
        self.sub_title = "Edge"
        if detail is None:
            self.query_one("#edge-text", Static).update(
                "This edge is gone: the classifier rebuilt the edges. Press Escape."
            )
            self._spans = ()
            self._fill_spans()
            return
        self.sub_title = f"Edge {detail.edge.rule_id} {detail.edge.mechanism}"
        self._detail = detail
        self._described = self._when()
        self.query_one("#edge-text", Static).update(
            describe_edge(detail, self.sapp.hosts, self._described)
        )
        self._spans = detail.spans
        rows = self._fill_spans()
        if rows and not self._focused_once:
            self._focused_once = True
            self.query_one("#spans").focus()

    def _fill_spans(self) -> int:
        """The recent spans, every column in the table's width: a span's name cut at its end
        to the room the others leave (at 100 columns the demo's spans were 107 cells wide,
        the table scrolled sideways and the trace ids were cut off), the start without its
        year below SHORT_TIMES columns. The rows it shows."""
        table = self.query_one("#spans", NavTable)
        spans = self._spans or ()
        when = self._when()
        cells = [
            [
                when(s.start_time),
                s.service_name or "",
                s.name,
                s.kind,
                fmt_ms(s.duration_ms),
                # Only an error tells something: OK (an instrumentation's "no error") and
                # UNSET (no one set it, every row of the demo) are left blank.
                s.status_code if s.status_code == "ERROR" else "",
                s.trace_id[:12],
            ]
            for s in spans
        ]
        others = [
            max([len(title), *(len(row[i]) for row in cells)])
            for i, title in enumerate(SPAN_COLUMNS)
            if title != "Span"
        ]
        room = max(SPAN_LEAST, room_left(table, others, len(cells)))
        if room != self._span_room:
            # DataTable never narrows a column: made again for a narrower room.
            table.clear(columns=True)
            table.add_columns(*map(heading, SPAN_COLUMNS))
            self._span_room = room
        rows: list[tuple[str, list[str | Text]]] = [
            (
                f"{s.trace_id}/{s.span_id}",
                [
                    start,
                    service,
                    clip_end(name, room),
                    kind,
                    num(ms),
                    Text(status, style="red"),
                    trace,
                ],
            )
            for s, (start, service, name, kind, ms, status, trace) in zip(spans, cells, strict=True)
        ]
        fill_table(table, rows)
        return len(rows)

    def _when(self) -> Callable[[datetime | None], str]:
        """How the screen writes a time at its width: one format for its spans, its figures and
        its history (the spans left out the year below SHORT_TIMES, the rest did not)."""
        return fmt_time if self.size.width >= SHORT_TIMES else short_time

    def on_resize(self) -> None:
        if self._detail is not None and self._when() is not self._described:
            self._described = self._when()
            self.query_one("#edge-text", Static).update(
                describe_edge(self._detail, self.sapp.hosts, self._described)
            )
        if self._spans is not None:
            self._fill_spans()

    def on_data_table_row_selected(self, event: DataTable.RowSelected) -> None:
        key = event.row_key.value or ""
        trace_id, _, span_id = key.partition("/")
        if trace_id:
            self.sapp.open_trace(trace_id, edge_id=self.edge_id, span_id=span_id)
