"""Findings (worst first), the pattern catalog with its counts, and a list of edges."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from typing import Any

from rich.cells import cell_len
from rich.console import Group
from rich.text import Text
from textual.app import ComposeResult
from textual.widgets import DataTable, Header, Static

from seamscope.classifiers import read
from seamscope.classifiers.catalog import rule_for
from seamscope.classifiers.read import RuleCount
from seamscope.classifiers.results import Edge, LabelChange, Verdict
from seamscope.tracer.access import Query
from seamscope.tui.screens.base import DataScreen
from seamscope.tui.widgets.cells import (
    clip_end,
    escaped,
    fill_table,
    fmt_time,
    key_under_cursor,
    num,
    plural,
    room_left,
    short_node,
    verdict_text,
)
from seamscope.tui.widgets.edgetable import MIN_REASON, EdgeTable
from seamscope.tui.widgets.footer import SteadyFooter
from seamscope.tui.widgets.news import NewsBar
from seamscope.tui.widgets.tables import NavTable


def why_text(e: Edge) -> Text:
    """The reason of an edge whole, and what to do, for the pane under a list of edges: a
    table cuts the reason to the room its other columns leave (to none on a narrow terminal)."""
    rule = rule_for(e.rule_id, e.verdict)
    name = f" {rule.name}" if rule.name != e.rule_id else ""
    text = Text.assemble(
        (f"{e.rule_id}{name}", f"{e.verdict.style} bold"),
        "  ",
        (f"{short_node(e.from_node)} → {short_node(e.to_node)}", "bold"),
        "\n",
        e.reason or "",
    )
    if rule.fix:
        if e.verdict in (Verdict.UNRESOLVED, Verdict.UNCLASSIFIED):
            title = "What to do"
        else:
            title = "Do instead" if e.verdict.is_finding else "Keep in mind"
        text.append_text(Text.assemble("\n", (f"{title}: ", "bold"), rule.fix))
    return escaped(text)


class EdgeListScreen(DataScreen[Any]):
    """A list of edges, worst first; Enter opens the highlighted one. Under it, the highlighted
    edge's reason whole, and what to do."""

    def __init__(self, title: str, fetch: Callable[[Query], tuple[Edge, ...]]) -> None:
        super().__init__()
        self.title_text = title
        self._fetch = fetch

    def compose(self) -> ComposeResult:
        yield Header()
        yield Static("", id="summary", classes="summary")
        yield EdgeTable(id="findings", reason=True)
        yield Static("", id="why", classes="detail")
        yield NewsBar()
        yield SteadyFooter()

    def _show_why(self) -> None:
        table = self.query_one("#findings", EdgeTable)
        key = table.current_edge()
        edge = next((e for e in table.edges if e.edge_id == key), None)
        why = self.query_one("#why", Static)
        why.display = edge is not None
        why.update(why_text(edge) if edge is not None else "")

    def on_data_table_row_highlighted(self, event: DataTable.RowHighlighted) -> None:
        if event.data_table.id == "findings":
            self._show_why()

    def fetch(self, q: Query) -> tuple[tuple[Edge, ...], dict[str, str]]:
        return self._fetch(q), self.marks(q)

    def describe(self, edges: tuple[Edge, ...]) -> str:
        return f"{plural(len(edges), 'edge')}, worst first (Enter: the edge)"

    def show(self, payload: Any) -> None:
        edges: tuple[Edge, ...]
        edges, self.sapp.changed = payload
        self.sub_title = self.title_text
        what = self.describe(edges)
        if self.filters.describe():
            what += f"   filter: {self.filters.describe()}"
        self.query_one("#summary", Static).update(Text(what))  # a search may hold brackets
        table = self.query_one("#findings", EdgeTable)
        table.set_edges(edges, self.sapp.change_marks(edges))
        table.focus()
        self._show_why()

    def on_data_table_row_selected(self, event: DataTable.RowSelected) -> None:
        if event.row_key.value:
            self.sapp.open_edge(event.row_key.value)


class FindingsScreen(EdgeListScreen):
    """Every anti-pattern and smell, worst first (or every edge of one rule)."""

    def __init__(self, rule: str | None = None) -> None:
        title = f"Edges of rule {rule}" if rule else "Findings"
        super().__init__(title, self._edges)
        self.rule = rule

    def _edges(self, q: Query) -> tuple[Edge, ...]:
        if self.rule:
            return read.all_edges(q, replace(self.filters, rule=self.rule))
        return read.findings(q, self.filters)

    def describe(self, edges: tuple[Edge, ...]) -> str:
        if self.rule:
            return f"{plural(len(edges), 'edge')} of rule {self.rule}"
        bad = sum(1 for e in edges if e.verdict is Verdict.ANTI_PATTERN)
        # The order in words: the error count it sorts by shows nowhere (Err % is a rate, and
        # a narrow terminal leaves it out), so the spans alone looked out of order.
        return (
            f"{plural(bad, 'anti-pattern')} · {plural(len(edges) - bad, 'smell')}, worst first: "
            "most errors, then most spans (Enter: the edge)"
        )


HISTORY_COLUMNS = ("When", "Now", "Change", "From", "To", "Mechanism", "Cause", "Reason")
HISTORY_REASON_OFF_SCREEN = 40
"""The reason's width when the other columns leave it less than MIN_REASON cells: the table
is wider than the terminal then, scrolled sideways to the reason, and a few cells of it would
say little."""


class HistoryScreen(DataScreen[Any]):
    """Every label change, newest first: which edge, from which rule to which, and why."""

    def __init__(self) -> None:
        super().__init__()
        self._changes: tuple[LabelChange, ...] | None = None
        self._reason_width = 0  # the Reason column's, as the table was last filled

    def compose(self) -> ComposeResult:
        yield Header()
        yield Static("", id="summary", classes="summary")
        table = NavTable(id="history")
        table.add_columns(*HISTORY_COLUMNS)
        yield table
        yield NewsBar()
        yield SteadyFooter()

    def fetch(self, q: Query) -> tuple[LabelChange, ...]:
        return read.label_history(q)

    def show(self, payload: Any) -> None:
        changes: tuple[LabelChange, ...] = payload
        self.sub_title = "Label history"
        since = sum(1 for c in changes if c.changed_at >= self.sapp.opened_at)
        self.query_one("#summary", Static).update(
            Text(
                f"{plural(len(changes), 'label change')}, newest first · {since} since this "
                "TUI opened (Enter: the edge)"
            )
        )
        self._changes = changes
        self._fill(changes)
        self.query_one("#history", NavTable).focus()

    def on_resize(self) -> None:
        if self._changes is not None:  # laid out again first: the table's new width
            self.call_after_refresh(self._fill, self._changes)

    def _fill(self, changes: tuple[LabelChange, ...]) -> None:
        """The rows, the reason cut with "…" to the room the other columns leave (it ran past
        the table's edge, cut there in the middle of a word)."""
        rows: list[tuple[str, list[str | Text]]] = []
        for i, c in enumerate(changes):
            change = (
                Text("new", style="bold yellow")
                if c.is_new
                else Text.assemble(
                    (c.old_rule_id or "", c.old_verdict.style if c.old_verdict else ""),
                    " → ",
                    (c.rule_id, c.verdict.style),
                )
            )
            rows.append(
                (
                    f"{i}:{c.edge_id}",
                    [
                        fmt_time(c.changed_at),
                        verdict_text(c.verdict),
                        change,
                        short_node(c.from_node),
                        short_node(c.to_node),
                        c.mechanism,
                        c.cause,
                    ],
                )
            )
        table = self.query_one("#history", NavTable)
        widths = [
            max([cell_len(title), *(_cell_width(cells[i]) for _, cells in rows)])
            for i, title in enumerate(HISTORY_COLUMNS[:-1])
        ]
        reason = room_left(table, widths, len(rows))
        if reason < MIN_REASON:
            reason = HISTORY_REASON_OFF_SCREEN
        for (_, cells), c in zip(rows, changes, strict=True):
            cells.append(clip_end(c.reason or "", reason))
        if reason != self._reason_width:
            # DataTable never narrows a column by itself: a narrower reason needs new columns.
            keep = key_under_cursor(table)
            table.clear(columns=True)
            table.add_columns(*HISTORY_COLUMNS)
            self._reason_width = reason
            fill_table(table, rows)
            if keep is not None:
                table.move_cursor(row=table.get_row_index(keep), animate=False)
            return
        fill_table(table, rows)

    def on_data_table_row_selected(self, event: DataTable.RowSelected) -> None:
        key = event.row_key.value or ""
        if ":" in key:
            self.sapp.open_edge(key.partition(":")[2])


def _cell_width(cell: str | Text) -> int:
    return cell.cell_len if isinstance(cell, Text) else cell_len(cell)


class PatternsScreen(DataScreen[Any]):
    """The catalog: each rule with how many edges keep or break it; Enter lists those edges."""

    def compose(self) -> ComposeResult:
        yield Header()
        table = NavTable(id="rules")
        table.add_columns("Rule", "Name", "Level", "Verdict", "Edges", "Spans")
        yield table
        yield Static("", id="rule-text", classes="detail")
        yield NewsBar()
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
