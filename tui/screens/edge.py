"""One edge: the rule it keeps or breaks, why, what to do instead, and its recent spans."""

from __future__ import annotations

from typing import Any

from rich.console import Group
from rich.text import Text
from textual.app import ComposeResult
from textual.containers import VerticalScroll
from textual.widgets import DataTable, Header, Static

from seamscope.classifiers import read
from seamscope.classifiers.read import EdgeDetail
from seamscope.classifiers.results import Verdict
from seamscope.tracer.access import Query
from seamscope.tui.screens.base import (
    DataScreen,
    fill_table,
    fmt_ms,
    fmt_time,
    short_node,
    verdict_text,
)
from seamscope.tui.widgets.footer import SteadyFooter
from seamscope.tui.widgets.table import Table


def describe_edge(detail: EdgeDetail) -> Group:
    e, rule = detail.edge, detail.rule
    style = e.verdict.style
    head = Text.assemble(
        (short_node(e.from_node), "bold"),
        (" ──", style),
        (f" {e.mechanism} ", f"{style} bold"),
        ("──▶ ", style),
        (short_node(e.to_node), "bold"),
    )
    facts = Text.assemble(
        ("Level ", "dim"),
        e.level,
        ("   Direction ", "dim"),
        e.direction,
        *((("   Via ", "dim"), e.via) if e.via else ()),
        ("   Spans ", "dim"),
        f"{e.span_count:,}",
        ("   Errors ", "dim"),
        f"{e.error_count:,} ({100 * e.error_rate:.1f}%)",
        ("   p50/p95 ", "dim"),
        f"{fmt_ms(e.p50_ms)} / {fmt_ms(e.p95_ms)} ms",
        ("   Seen ", "dim"),
        f"{fmt_time(e.first_seen)} → {fmt_time(e.last_seen)}",
    )
    parts: list[Any] = [head, facts, Text()]
    verdict = Text.assemble(
        verdict_text(e.verdict, e.verdict.upper()),
        "  ",
        (e.rule_id, "bold"),
        (f" {rule.name}" if rule and rule.name != e.rule_id else "", "bold"),
    )
    parts.append(verdict)
    if rule and rule.summary:
        parts.append(Text(rule.summary))
    if e.reason:
        parts += [Text("Evidence", style="bold underline"), Text(e.reason)]
    if e.operations:
        parts += [Text("Operations", style="bold underline"), Text(", ".join(e.operations))]
    if rule and rule.rationale:
        parts += [Text("Why", style="bold underline"), Text(rule.rationale)]
    if rule and rule.example:
        parts += [Text("Example", style="bold underline"), Text(rule.example)]
    if rule and rule.fix:
        title = "Do instead" if e.verdict.is_finding else "Keep in mind"
        if e.verdict is Verdict.UNCLASSIFIED:
            title = "What to do"
        parts += [Text(title, style="bold underline"), Text(rule.fix)]
    return Group(*parts)


class EdgeScreen(DataScreen[Any]):
    """Enter on a span opens its whole trace."""

    def __init__(self, edge_id: str) -> None:
        super().__init__()
        self.edge_id = edge_id
        self._focused_once = False

    def compose(self) -> ComposeResult:
        yield Header()
        with VerticalScroll(id="edge-info"):
            yield Static("Loading…", id="edge-text")
        yield Static("Recent spans of this edge (Enter: whole trace)", classes="caption")
        table: DataTable[Any] = Table(id="spans", cursor_type="row", zebra_stripes=True)
        table.add_columns("Start", "Service", "Span", "Kind", "ms", "Status", "Trace")
        yield table
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
            fill_table(self.query_one("#spans", DataTable), [])
            return
        self.sub_title = f"Edge {detail.edge.rule_id} {detail.edge.mechanism}"
        self.query_one("#edge-text", Static).update(describe_edge(detail))
        rows: list[tuple[str, list[str | Text]]] = [
            (
                f"{s.trace_id}/{s.span_id}",
                [
                    fmt_time(s.start_time),
                    s.service_name or "",
                    s.name,
                    s.kind,
                    fmt_ms(s.duration_ms),
                    Text(s.status_code, style="red" if s.status_code == "ERROR" else ""),
                    s.trace_id[:12],
                ],
            )
            for s in detail.spans
        ]
        fill_table(self.query_one("#spans", DataTable), rows)
        if rows and not self._focused_once:
            self._focused_once = True
            self.query_one("#spans").focus()

    def on_data_table_row_selected(self, event: DataTable.RowSelected) -> None:
        key = event.row_key.value or ""
        trace_id, _, span_id = key.partition("/")
        if trace_id:
            self.sapp.open_trace(trace_id, edge_id=self.edge_id, span_id=span_id)
