"""Findings (worst first), the pattern catalog with its counts, and a list of edges."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import replace
from datetime import datetime
from typing import Any

from rich.cells import cell_len
from rich.console import Group
from rich.text import Text
from textual.app import ComposeResult
from textual.containers import Vertical
from textual.widgets import DataTable, Static

from seamscope.classifiers import read
from seamscope.classifiers.read import RuleCount
from seamscope.classifiers.results import Edge, LabelChange, Verdict
from seamscope.tracer.access import Query
from seamscope.tracer.terminal import plural
from seamscope.tui.screens.base import DataScreen
from seamscope.tui.widgets.cells import (
    clip_end,
    escaped,
    fill_table,
    heading,
    key_under_cursor,
    num,
    room_left,
    short_node,
    verdict_text,
)
from seamscope.tui.widgets.edgetable import MIN_REASON, REASON_ROOM, EdgeTable, least_name
from seamscope.tui.widgets.focus_layout import elide_name
from seamscope.tui.widgets.footer import SteadyFooter
from seamscope.tui.widgets.header import SteadyHeader
from seamscope.tui.widgets.news import NewsBar
from seamscope.tui.widgets.tables import NavTable
from seamscope.tui.widgets.why import WhyPane


class EdgeListScreen(DataScreen[Any]):
    """A list of edges, worst first; Enter opens the highlighted one. Under it, the highlighted
    edge's reason whole, and what to do."""

    def __init__(self, title: str, fetch: Callable[[Query], tuple[Edge, ...]]) -> None:
        super().__init__()
        self.title_text = title
        self._fetch = fetch

    READING = "Reading the edges…"
    """The summary line until the first read has come back."""

    def compose(self) -> ComposeResult:
        yield SteadyHeader()
        # Until the first read comes back, the summary says what is being read and the table
        # shows Textual's loading indicator: on a store of 40 systems `n` took a second or more
        # to show its rows, the screen blank meanwhile. The read is a worker: keys still work.
        yield Static(self.READING, id="summary", classes="summary")
        with Vertical(id="list-body"):
            table = EdgeTable(id="findings", reason=True)
            table.loading = True
            yield table
            yield WhyPane(id="why")
        yield NewsBar()
        yield SteadyFooter()

    def _show_why(self) -> None:
        table = self.query_one("#findings", EdgeTable)
        key = table.current_edge()
        edge = next((e for e in table.edges if e.edge_id == key), None)
        self.query_one("#why", WhyPane).show_edge(edge)

    def on_data_table_row_highlighted(self, event: DataTable.RowHighlighted) -> None:
        if event.data_table.id == "findings":
            self._show_why()

    def on_edge_table_resized(self, message: EdgeTable.Resized) -> None:
        message.stop()
        self._fit()

    def on_resize(self) -> None:
        self.call_after_refresh(self._fit)

    def _fit(self) -> None:
        """Where the rows take at most half of the lines the list and the pane share, the list
        is as tall as its rows and the pane takes the rest, down to the footer (WhyPane.fit):
        a short list left the lines between it and the pane at the foot blank. Else the list
        has the lines, the pane its usual share."""
        table = self.query_one("#findings", EdgeTable)
        pane = self.query_one("#why", WhyPane)
        # The lines the two share: their container's, which neither's height changes (the sum
        # of theirs was read between layouts at times, the pane's not yet counted).
        pool = self.query_one("#list-body").size.height
        if pool <= 0:
            return
        rows = table.row_count + 1  # and its header
        if rows <= pool // 2 and pane.fit(pool - rows, table.edges):
            table.styles.height = rows
        else:
            table.styles.clear_rule("height")
            pane.unfit()

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
            # On a line of its own where it would not fit whole after the count: at 100x30
            # "filter:" ended the line, "new or changed since 22:07:25" began the next.
            said = f"filter: {self.filters.describe()}"
            room = self.size.width - 2  # the summary's padding
            apart = cell_len(what) + 3 + cell_len(said) > room
            what += ("\n" if apart else "   ") + said
        self.query_one("#summary", Static).update(Text(what))  # a search may hold brackets
        table = self.query_one("#findings", EdgeTable)
        table.loading = False
        table.set_edges(edges, self.sapp.change_marks(edges))
        table.focus()
        self._show_why()
        self.call_after_refresh(self._fit)

    def on_data_table_row_selected(self, event: DataTable.RowSelected) -> None:
        if event.row_key.value:
            self.sapp.open_edge(event.row_key.value)

    def on_data_screen_failed(self, message: DataScreen.Failed) -> None:
        """The read failed (the app says why): the screen no longer says it is reading."""
        table = self.query_one("#findings", EdgeTable)
        if table.loading:
            table.loading = False
            self.query_one("#summary", Static).update("")


class FindingsScreen(EdgeListScreen):
    """Every anti-pattern and smell, worst first (or every edge of one rule)."""

    def __init__(self, rule: str | None = None) -> None:
        title = f"Edges of rule {rule}" if rule else "Findings"
        super().__init__(title, self._edges)
        self.rule = rule
        if not rule:
            self.READING = "Reading the findings (anti-patterns and smells)…"

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


HISTORY_MECHANISM_FROM = 120
"""The least terminal width that shows the history's Mechanism (the edge screen has it)."""


def _seen(value: datetime) -> str:
    """A change's time as the edge table's Last seen has it (the year took 5 cells more)."""
    return value.strftime("%m-%d %H:%M:%S")


def _change(c: LabelChange) -> Text:
    """The rule before and after ("P302 → A401"); a new edge's rule after "new" (it said
    "new" alone, its rule nowhere in the table)."""
    if c.is_new:
        return Text.assemble(("new ", "bold yellow"), (c.rule_id, c.verdict.style))
    return Text.assemble(
        (c.old_rule_id or "", c.old_verdict.style if c.old_verdict else ""),
        " → ",
        (c.rule_id, c.verdict.style),
    )


def change_text(c: LabelChange, hosts: Mapping[str, str] | None = None) -> Text:
    """A label change's reason whole, for the pane under the history (the table cuts it to the
    room its other columns leave, to none on a narrow terminal)."""
    return escaped(
        Text.assemble(
            _change(c),
            "  ",
            (f"{short_node(c.from_node, hosts)} → {short_node(c.to_node, hosts)}", "bold"),
            f"  {c.mechanism}",
            ("  cause ", "dim"),
            c.cause,
            "\n",
            c.reason or "",
        )
    )


class HistoryScreen(DataScreen[Any]):
    """Every label change, newest first: which edge, from which rule to which, and why; under
    the table, the highlighted change's reason whole."""

    def __init__(self) -> None:
        super().__init__()
        self._changes: tuple[LabelChange, ...] | None = None
        self._layout: tuple[object, ...] = ()  # the columns, as the table was last filled

    def compose(self) -> ComposeResult:
        yield SteadyHeader()
        yield Static("", id="summary", classes="summary")
        yield NavTable(id="history")
        yield Static("", id="why", classes="detail")
        yield NewsBar()
        yield SteadyFooter()

    def fetch(self, q: Query) -> tuple[LabelChange, ...]:
        return read.label_history(q)

    def show(self, payload: Any) -> None:
        changes: tuple[LabelChange, ...] = payload
        self.sub_title = "Label history"
        since = sum(1 for c in changes if c.changed_at >= self.sapp.opened_at)
        summary = (
            f"{plural(len(changes), 'label change')}, newest first · {since} since this "
            "TUI opened (Enter: the edge)"
        )
        if not changes:
            # The table stayed empty under "0 label changes, newest first (Enter: the edge)".
            summary = (
                "No label changes yet: an edge's label is listed here when it changes (new "
                "spans, the landscape file, routes, the catalog, the classifier)"
            )
        self.query_one("#summary", Static).update(Text(summary))
        self._changes = changes
        self._fill(changes)
        self.query_one("#history", NavTable).focus()
        self._show_why()

    def on_resize(self) -> None:
        if self._changes is not None:  # laid out again first: the table's new width
            self.call_after_refresh(self._fill, self._changes)

    def _columns(self, changes: tuple[LabelChange, ...]) -> tuple[tuple[str, ...], bool, int, int]:
        """The titles to show, whether Now says the verdict in words, the width of each name
        column and of the reason. Every column fits the table's width (below 145 columns it
        was scrolled sideways): the names cut where they repeat or say least, as the edge
        table cuts them, the mechanism only from HISTORY_MECHANISM_FROM columns, the reason
        in the room left (its whole under the table); the verdict by its glyph alone where
        its word would leave the reason less than REASON_ROOM cells."""
        table = self.query_one("#history", NavTable)
        width = table.size.width or self.size.width
        pad = 2 * table.cell_padding
        hosts = self.sapp.hosts
        ends = {
            "From": [short_node(c.from_node, hosts) for c in changes],
            "To": [short_node(c.to_node, hosts) for c in changes],
        }
        longest = max((len(n) for names in ends.values() for n in names), default=12)
        measured = {
            "When": len(_seen(datetime.now())),
            "Change": max((_change(c).cell_len for c in changes), default=0),
            "Mechanism": max((len(c.mechanism) for c in changes), default=0),
            "Cause": max((len(c.cause) for c in changes), default=0),
        }

        def layout(words: bool, cap: int = 0) -> tuple[tuple[str, ...], bool, int, int]:
            measured["Now"] = max((verdict_text(c.verdict).cell_len for c in changes), default=0)
            if not words:
                measured["Now"] = 1
            fixed = ["When", "Now", "Change"]
            after = ["Mechanism", "Cause"] if width >= HISTORY_MECHANISM_FROM else ["Cause"]
            widths = [max(cell_len(t), measured[t]) for t in (*fixed, *after)]
            room = room_left(table, widths, len(changes)) + pad
            names = max(12, min(longest, room // 2 - pad, cap or longest))
            shown = [
                max(len(title), min(names, max(map(len, ends[title]), default=0)))
                for title in ("From", "To")
            ]
            reason = room_left(table, (*widths, *shown), len(changes))
            titles = (*fixed, "From", "To", *after)
            if reason < MIN_REASON:
                return titles, words, names, 0
            return (*titles, "Reason"), words, names, reason

        first = layout(True)
        chosen = first if first[3] >= REASON_ROOM else layout(False)
        # Still short of REASON_ROOM: the names give the reason what they do not need, cut
        # where they repeat their system's (`subscriptions/…-api`), as in the edge tables. At
        # 160x45 the reason had 28 cells beside From and To as wide as their longest names.
        words, names, reason = chosen[1], chosen[2], chosen[3]
        if 0 < reason < REASON_ROOM:
            least = max((least_name(n) for e in ends.values() for n in e), default=12)
            for _ in range(3):  # a column narrower than the cut gives less than its share
                cap = max(least, names - (REASON_ROOM - reason + 1) // 2)
                if cap >= names or reason >= REASON_ROOM:
                    break
                chosen = layout(words, cap)
                names, reason = chosen[2], chosen[3]
        return chosen

    def _fill(self, changes: tuple[LabelChange, ...]) -> None:
        """The rows, laid out to the table's width (_columns)."""
        titles, words, names, reason = self._columns(changes)
        hosts = self.sapp.hosts
        rows: list[tuple[str, list[str | Text]]] = []
        for i, c in enumerate(changes):
            values: dict[str, str | Text] = {
                "When": _seen(c.changed_at),
                "Now": verdict_text(c.verdict) if words else Text(c.verdict.glyph, c.verdict.style),
                "Change": _change(c),
                "From": elide_name(short_node(c.from_node, hosts), names),
                "To": elide_name(short_node(c.to_node, hosts), names),
                "Mechanism": c.mechanism,
                "Cause": c.cause,
                "Reason": clip_end(c.reason or "", reason),
            }
            rows.append((f"{i}:{c.edge_id}", [values[t] for t in titles]))
        table = self.query_one("#history", NavTable)
        layout = (titles, words, names, reason)
        if layout != self._layout:
            # DataTable never narrows a column by itself: another layout needs new columns.
            keep = key_under_cursor(table)
            table.clear(columns=True)
            table.add_columns(*map(heading, titles))
            self._layout = layout
            fill_table(table, rows)
            if keep is not None:
                table.move_cursor(row=table.get_row_index(keep), animate=False)
            return
        fill_table(table, rows)

    def _show_why(self) -> None:
        table = self.query_one("#history", NavTable)
        key = key_under_cursor(table)
        index = int(key.partition(":")[0]) if key else -1
        changes = self._changes or ()
        why = self.query_one("#why", Static)
        why.display = 0 <= index < len(changes)
        why.update(change_text(changes[index], self.sapp.hosts) if why.display else "")

    def on_data_table_row_highlighted(self, event: DataTable.RowHighlighted) -> None:
        if event.data_table.id == "history":
            self._show_why()

    def on_data_table_row_selected(self, event: DataTable.RowSelected) -> None:
        key = event.row_key.value or ""
        if ":" in key:
            self.sapp.open_edge(key.partition(":")[2])


class PatternsScreen(DataScreen[Any]):
    """The catalog: each rule with how many edges keep or break it; Enter lists those edges."""

    READS_HOSTS = False  # names no node

    def compose(self) -> ComposeResult:
        yield SteadyHeader()
        table = NavTable(id="rules")
        table.add_columns(*map(heading, ("Rule", "Name", "Level", "Verdict", "Edges", "Spans")))
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
