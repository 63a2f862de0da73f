"""Findings (worst first), the pattern catalog with its counts, and a list of edges."""

from __future__ import annotations

from typing import Any

from rich.console import Group
from rich.text import Text
from textual.app import ComposeResult
from textual.widgets import DataTable, Header, Static

from seamscope.classifiers import read
from seamscope.classifiers.read import RuleCount
from seamscope.classifiers.results import Edge, Verdict
from seamscope.tracer.access import Query
from seamscope.tui.screens.base import (
    DataScreen,
    fill_table,
    fmt_time,
    num,
    short_node,
    verdict_text,
)
from seamscope.tui.widgets.footer import SteadyFooter
from seamscope.tui.widgets.table import Table


class FindingsScreen(DataScreen[Any]):
    """Every anti-pattern and smell, worst first; Enter jumps to the edge."""

    def __init__(self, rule: str | None = None) -> None:
        super().__init__()
        self.rule = rule

    def compose(self) -> ComposeResult:
        yield Header()
        yield Static("", id="summary", classes="summary")
        table: DataTable[Any] = Table(id="findings", cursor_type="row", zebra_stripes=True)
        table.add_columns(
            "Verdict", "Rule", "From", "To", "Mechanism", "Spans", "Errors", "Last seen", "Reason"
        )
        yield table
        yield SteadyFooter()

    def fetch(self, q: Query) -> tuple[Edge, ...]:
        if self.rule:
            from dataclasses import replace

            return read.all_edges(q, replace(self.filters, rule=self.rule))
        return read.findings(q, self.filters)

    def show(self, payload: Any) -> None:
        edges: tuple[Edge, ...] = payload
        if self.rule:
            self.sub_title = f"Edges of rule {self.rule}"
            what = f"{len(edges)} edges of rule {self.rule}"
        else:
            self.sub_title = "Findings"
            bad = sum(1 for e in edges if e.verdict is Verdict.ANTI_PATTERN)
            smells = len(edges) - bad
            what = (
                f"{bad} anti-pattern{'' if bad == 1 else 's'} · "
                f"{smells} smell{'' if smells == 1 else 's'}, worst first (Enter: the edge)"
            )
        if self.filters.describe():
            what += f"   filter: {self.filters.describe()}"
        self.query_one("#summary", Static).update(Text(what))  # a search may hold brackets
        rows: list[tuple[str, list[str | Text]]] = [
            (
                e.edge_id,
                [
                    verdict_text(e.verdict),
                    e.rule_id,
                    short_node(e.from_node),
                    short_node(e.to_node),
                    e.mechanism,
                    num(f"{e.span_count:,}"),
                    num(f"{e.error_count:,}", "red" if e.error_count else ""),
                    fmt_time(e.last_seen),
                    _clip(e.reason or "", 56),
                ],
            )
            for e in edges
        ]
        fill_table(self.query_one("#findings", DataTable), rows)
        self.query_one("#findings").focus()

    def on_data_table_row_selected(self, event: DataTable.RowSelected) -> None:
        if event.row_key.value:
            self.sapp.open_edge(event.row_key.value)


def _clip(text: str, width: int) -> str:
    return text if len(text) <= width else text[: width - 1] + "…"


class PatternsScreen(DataScreen[Any]):
    """The catalog: each rule with how many edges keep or break it; Enter lists those edges."""

    def compose(self) -> ComposeResult:
        yield Header()
        table: DataTable[Any] = Table(id="rules", cursor_type="row", zebra_stripes=True)
        table.add_columns("Rule", "Name", "Level", "Verdict", "Edges", "Spans")
        yield table
        yield Static("", id="rule-text", classes="detail")
        yield SteadyFooter()

    def fetch(self, q: Query) -> tuple[RuleCount, ...]:
        return read.pattern_counts(q)

    def show(self, payload: Any) -> None:
        self._counts: tuple[RuleCount, ...] = payload
        self.sub_title = "Pattern catalog"
        rows: list[tuple[str, list[str | Text]]] = [
            (
                c.rule.id,
                [
                    Text(c.rule.id, style="bold"),
                    c.rule.name,
                    c.rule.level,
                    verdict_text(c.rule.verdict),
                    num(f"{c.edges:,}", "" if c.edges else "dim"),
                    num(f"{c.spans:,}", "" if c.spans else "dim"),
                ],
            )
            for c in self._counts
        ]
        table = self.query_one("#rules", DataTable)
        fill_table(table, rows)
        table.focus()
        self._describe_current()

    def _describe_current(self) -> None:
        table = self.query_one("#rules", DataTable)
        if not table.row_count:
            self.query_one("#rule-text", Static).update(
                "No rule catalog is installed and no edges are classified yet."
            )
            return
        key = table.coordinate_to_cell_key(table.cursor_coordinate).row_key.value
        for c in getattr(self, "_counts", ()):
            if c.rule.id == key:
                self.query_one("#rule-text", Static).update(_rule_text(c))

    def on_data_table_row_highlighted(self, event: DataTable.RowHighlighted) -> None:
        self._describe_current()

    def on_data_table_row_selected(self, event: DataTable.RowSelected) -> None:
        if event.row_key.value:
            self.sapp.push_screen(FindingsScreen(rule=event.row_key.value))


def _rule_text(c: RuleCount) -> Group:
    r = c.rule
    parts: list[Text] = [
        Text.assemble((f"{r.id} {r.name}", "bold"), "  ", verdict_text(r.verdict), f"  {r.level}")
    ]
    for title, body in (
        ("What it detects", r.summary),
        ("Why", r.rationale),
        ("Example", r.example),
        ("Do instead" if r.verdict is not Verdict.PATTERN else "How", r.fix),
    ):
        if body:
            parts += [Text(title, style="bold underline"), Text(body)]
    return Group(*parts)
