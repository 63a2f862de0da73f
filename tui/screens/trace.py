"""A trace as a waterfall; the edge's spans marked; for a message that crossed traces, the trace
on the other side beside it (producer and consumer together); the selected span's attributes;
Enter on a labelled span opens its edge."""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

from rich.text import Text
from textual import events, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.message import Message
from textual.widgets import DataTable, Static

from seamscope.classifiers import read
from seamscope.classifiers.read import SpanRow, TraceView
from seamscope.tracer.access import Query
from seamscope.tracer.errors import SeamscopeError
from seamscope.tracer.terminal import plural, safe
from seamscope.tui.screens.base import DataScreen
from seamscope.tui.widgets.cells import clip_end, fill_table, fmt_ms, fmt_time, heading, num
from seamscope.tui.widgets.footer import SteadyFooter
from seamscope.tui.widgets.header import SteadyHeader
from seamscope.tui.widgets.news import NewsBar
from seamscope.tui.widgets.tables import NavTable, TracesTable, WaterfallTable
from seamscope.tui.widgets.textpane import TextPane

WATERFALL_COLUMNS = ("Service", "Span", "Kind", "Timeline", "ms", "Label")


HOPS_CAPTION = "Traces on the other side, nearest in time first (Enter opens one)"
SAME_SIDE_CAPTION = "Other traces of this edge, all of this side, nearest first (Enter opens one)"
TIMELINE_LEAST = len("Timeline")
"""The cells of the waterfall's timeline, however narrow the pane: its title's (a column is
never narrower than its title)."""
SPAN_LEAST = 12
"""The cells a span's name keeps (its indent included) where the waterfall is cut to fit."""
HOPS_FEWEST = 2
"""The lines of that list (its header and a row) where the waterfalls' rows need the rest."""
HOPS_LEAST = 5
"""The lines of the list of the other side's traces (its header included) where the
waterfalls need the rest."""


def one_per_span(
    spans: tuple[SpanRow, ...], edge_id: str | None
) -> tuple[tuple[SpanRow, ...], dict[str, int]]:
    """One row per span, and how many more edges each labels: the store gives a span one row
    per label (a batch receive of messages from several producers is on each producer's
    edge). The row kept is that of the edge the trace was opened from, else the worst."""
    chosen: dict[str, SpanRow] = {}
    labels: dict[str, int] = {}

    def rank(s: SpanRow) -> tuple[int, int]:
        return (0 if edge_id is not None and s.edge_id == edge_id else 1, _rank(s))

    for s in spans:
        if s.edge_id is not None:
            labels[s.span_id] = labels.get(s.span_id, 0) + 1
        kept = chosen.get(s.span_id)
        if kept is None or rank(s) < rank(kept):
            chosen[s.span_id] = s
    more = {span_id: n - 1 for span_id, n in labels.items() if n > 1}
    return tuple(chosen.values()), more


def _failed(s: SpanRow) -> str:
    """What a span's name says after it when its status is ERROR (the waterfall has no status
    column)."""
    return " (error)" if s.status_code == "ERROR" else ""


def _rank(s: SpanRow) -> int:
    return s.verdict.rank if s.verdict is not None else 99


def span_count(spans: tuple[SpanRow, ...]) -> int:
    """The spans of a trace, each once (the store gives one row per label)."""
    return len({s.span_id for s in spans})


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


def bar(
    start: datetime, duration_ms: float, t0: datetime, total_ms: float, style: str, width: int
) -> Text:
    offset_ms = (start - t0).total_seconds() * 1000
    scale = width / total_ms if total_ms > 0 else 0
    left = min(width - 1, int(offset_ms * scale))
    length = max(1, min(width - left, round(duration_ms * scale)))
    return Text.assemble(" " * left, ("█" * length, style), " " * (width - left - length))


def waterfall_rows(
    spans: tuple[SpanRow, ...], edge_id: str | None, width: int
) -> list[tuple[str, list[str | Text]]]:
    """The rows of a waterfall for a table width wide: names whole, the timeline takes what is
    left (at least TIMELINE_LEAST cells). Where the rows would still be wider than the table, a
    label says its verdict by its glyph alone, then the spans' names are cut at their end (not
    below SPAN_LEAST cells): side by side at 160x45, a table's stream's waterfall was 94 cells
    in a pane of 80, its labels cut at the pane's edge ("◀ ✗ A20")."""
    if not spans:
        return []
    t0 = min(s.start_time for s in spans)
    end = (
        max(s.start_time.timestamp() * 1000 + s.duration_ms for s in spans) - t0.timestamp() * 1000
    )
    kept, more = one_per_span(spans, edge_id)
    ordered = waterfall(kept)
    names = max(len("Span"), *(len("  " * d + s.name + _failed(s)) for s, d in ordered))
    services = max(len("Service"), *(len(s.service_name or "") for s, _ in ordered))
    kinds = max(len("Kind"), *(len(s.kind) for s, _ in ordered))
    millis = max(len("ms"), *(len(fmt_ms(s.duration_ms)) for s, _ in ordered))
    fixed = services + kinds + millis + 2 * len(WATERFALL_COLUMNS)  # a cell of padding a side
    words = True
    for words in (True, False):
        labels = max(
            len("Label"),
            *(len(_label(s, edge_id, more.get(s.span_id, 0), words).plain) for s, _ in ordered),
        )
        if width - fixed - labels - names >= TIMELINE_LEAST:
            break
    room = max(SPAN_LEAST, min(names, width - fixed - labels - TIMELINE_LEAST))
    timeline = max(TIMELINE_LEAST, min(40, width - fixed - labels - room))
    rows: list[tuple[str, list[str | Text]]] = []
    for s, depth in ordered:
        mine = edge_id is not None and s.edge_id == edge_id
        vstyle = s.verdict.style if s.verdict else ""
        indent = "  " * depth
        failed = _failed(s)
        shown = clip_end(s.name, max(1, room - len(indent) - len(failed)))
        name = Text(indent + shown, style="bold" if mine else "")
        if s.status_code == "ERROR":
            name.stylize("red")
            name.append(failed, style="red bold")  # in words too: NO_COLOR drops the red
        rows.append(
            (
                s.span_id,
                [
                    s.service_name or "",
                    name,
                    s.kind,
                    bar(s.start_time, s.duration_ms, t0, end, vstyle or "grey50", timeline),
                    num(fmt_ms(s.duration_ms)),
                    _label(s, edge_id, more.get(s.span_id, 0), words),
                ],
            )
        )
    return rows


def _end_ms(spans: tuple[SpanRow, ...]) -> float:
    return max(s.start_time.timestamp() * 1000 + s.duration_ms for s in spans)


def _label(s: SpanRow, edge_id: str | None, more: int = 0, words: bool = True) -> Text:
    """The span's rule and verdict (glyph first; words: its word too), ◀ for the edge the trace
    was opened from, and "+N" for the N more edges the span is on."""
    if s.verdict is None:
        return Text("")
    mine = edge_id is not None and s.edge_id == edge_id
    # A span no rule covers has its verdict for its rule: "? unclassified unclassified".
    rule = s.rule_id if s.rule_id != str(s.verdict) else ""
    word = f" {s.verdict}" if words or not rule else ""
    text = Text(
        f"{'◀ ' if mine else ''}{s.verdict.glyph} {rule or ''}{word}".replace("  ", " "),
        style=s.verdict.style,
    )
    if more:
        text.append(f" +{more}", style="dim")
    return text


def offset(start: datetime, t0: datetime) -> str:
    """When a trace of the other side starts, from this trace's start: the list is nearest in
    time first, and as dates ("2026-12-07 17:40:20, 17:40:22, 17:40:18, 17:40:24, ...") its
    order read as a jumble beside a title that says "started 17:40:20"."""
    seconds = (start - t0).total_seconds()
    sign = "−" if seconds < 0 else "+"
    value = abs(seconds)
    if value < 100:
        return f"{sign}{value:.1f} s"
    if value < 6000:
        return f"{sign}{value / 60:.1f} min"
    return f"{sign}{value / 3600:,.1f} h"


def trace_title(
    trace_id: str, spans: int, services: int, ms: float, start: datetime, width: int
) -> Text:
    """The trace's line: the whole id first (to copy), then its figures; the start's date goes
    first, then the start, where the line would wrap (the pane has one cell of padding a side)."""
    figures = f" · {plural(spans, 'span')} · {plural(services, 'service')} · {fmt_ms(ms)} ms"
    starts = (f" · started {fmt_time(start)}", f" · started {start:%H:%M:%S}", "")
    forms = [Text.assemble(("Trace ", "bold"), trace_id, figures, s) for s in starts]
    return next((t for t in forms if t.cell_len <= width - 2), forms[-1])


class TraceScreen(DataScreen[Any]):
    """Up/down picks a span; Enter on a labelled span opens its edge; Enter on a trace of the
    other side opens that trace."""

    READS_HOSTS = False  # names no node

    BINDINGS = [Binding("a", "toggle_attributes", "Attributes")]

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
        self.other_trace: str | None = None  # the hop shown beside, when the user picked one
        self._view: TraceView | None = None
        self._attributes_set = False  # the user toggled the attributes (a)
        self._wanted: str | None = None  # the span whose attributes the pane is to say
        self._split_lines = -1  # the lines _split shared out last

    def compose(self) -> ComposeResult:
        yield SteadyHeader()
        yield Static(f"Trace {self.trace_id}", classes="summary", id="trace-title")
        with Horizontal(id="trace-panes"):
            with Vertical(id="this-pane"):
                yield Static("This trace", classes="caption", id="this-caption")
                yield self._table("waterfall")
            with Vertical(id="other-pane"):
                yield Static("", classes="caption", id="other-caption")
                yield self._table("other")
                yield Static(HOPS_CAPTION, classes="caption", id="hops-caption")
                hops = TracesTable(id="hops", zebra_stripes=False)
                hops.add_columns(*map(heading, ("Starts", "Service", "Kind", "Trace")))
                yield hops
        with TextPane(id="attributes-pane"):
            yield Static("", id="attributes")
        yield NewsBar()
        yield SteadyFooter()

    @staticmethod
    def _table(name: str) -> NavTable:
        table = WaterfallTable(id=name, zebra_stripes=False)
        table.add_columns(*map(heading, WATERFALL_COLUMNS))
        return table

    def fetch(self, q: Query) -> TraceView:
        return read.trace_with_other_side(q, self.trace_id, self.other_trace)

    def show(self, payload: Any) -> None:
        view: TraceView = payload
        self._view = view
        self.sub_title = f"Trace {self.trace_id[:16]}"
        if not view.spans:
            self.query_one("#trace-title", Static).update(f"Trace {self.trace_id}: no spans stored")
            return
        t0 = min(s.start_time for s in view.spans)
        end = _end_ms(view.spans) - t0.timestamp() * 1000
        services = sorted({s.service_name or "?" for s in view.spans})
        self.query_one("#trace-title", Static).update(
            trace_title(
                self.trace_id, span_count(view.spans), len(services), end, t0, self.size.width
            )
        )
        other = view.other
        self.query_one("#other-pane").display = other is not None
        # Side by side where two waterfalls fit, else one above the other.
        beside = other is not None and self.size.width >= 150
        self.query_one("#trace-panes").styles.layout = "horizontal" if beside else "vertical"
        if not self._attributes_set:  # a short terminal keeps its lines for the waterfalls
            self.query_one("#attributes-pane").display = self.size.height >= 40
        pane_width = self.size.width // (2 if beside else 1) - 2
        table = self.query_one("#waterfall", NavTable)
        first = table.row_count == 0
        fill_table(table, waterfall_rows(view.spans, self.edge_id, pane_width))
        if first and self.span_id:
            try:
                table.move_cursor(row=table.get_row_index(self.span_id), animate=False)
            except Exception:
                pass
        if first:
            table.focus()
        hops_caption = HOPS_CAPTION
        pairs = view.pairing
        if other is not None and pairs is not None:
            self.query_one("#this-caption", Static).update(
                Text(f"This trace: {pairs.mine} side", style="bold")
            )
            caption = f"{pairs.theirs.capitalize()} side: trace {other.trace_id}"
            if pairs.same_side:
                # What is listed is more of this side, and said so (it was "Consumer side:
                # trace ..." beside "This trace: consumer side").
                caption = f"Another trace of the {pairs.theirs} side: {other.trace_id}"
                hops_caption = SAME_SIDE_CAPTION
            self.query_one("#other-caption", Static).update(Text(caption, style="bold"))
            fill_table(
                self.query_one("#other", NavTable),
                waterfall_rows(other.spans, self.edge_id, pane_width),
            )
        # One row per trace: a trace with a span on each of two edges (a worker's poll that
        # receives and sends) was two rows alike.
        first_hop = {h.trace_id: h for h in reversed(view.hops)}
        hop_rows: list[tuple[str, list[str | Text]]] = [
            (
                f"{h.trace_id}/{h.span_id}",
                [num(offset(h.start_time, t0)), h.service_name or "", h.kind, h.trace_id],
            )
            for h in view.hops
            if first_hop[h.trace_id] is h
        ]
        fill_table(self.query_one("#hops", NavTable), hop_rows)
        self.query_one("#hops-caption", Static).update(hops_caption)
        self._show_attributes()
        self.call_after_refresh(self._split)

    def _split(self) -> None:
        """One above the other, this trace's waterfall is as tall as its rows (up to half of
        the lines, more where the other side leaves them) and the other side has the rest: the
        two shared the lines evenly, and at 100x30 with the attributes shown a consumer's two
        spans kept four blank lines while the producer's five were out of view, its table
        down to its header."""
        panes = self.query_one("#trace-panes")
        this = self.query_one("#this-pane")
        view = self._view
        vertical = panes.styles.layout is not None and panes.styles.layout.name == "vertical"
        lines = panes.size.height
        if lines != self._split_lines:
            # Measured before the layout took a change of show() (the attributes pane hidden
            # on a short terminal): again once it has.
            self._split_lines = lines
            self.call_after_refresh(self._split)
        if view is None or view.other is None or not vertical:
            this.styles.height = "1fr"
            self._fit_hops(lines)
            return
        wanted = self.query_one("#waterfall", NavTable).row_count + 2  # its caption, header
        hops = self.query_one("#hops", NavTable).row_count
        theirs = self.query_one("#other", NavTable).row_count + 2
        listed = 1 + min(hops + 1, HOPS_LEAST)  # its caption, header and rows
        least = HOPS_LEAST
        if wanted + theirs + listed > lines:
            # Short of lines: both waterfalls' rows come before more of the list (at 100x30
            # with the attributes shown, the producer's waterfall showed one of its three
            # spans, the labelled ones out of view, over five lines of the list).
            least = max(HOPS_FEWEST, min(least, lines - wanted - theirs - 1))
            listed = 1 + least
        height = max(3, min(wanted, max(lines // 2, lines - theirs - listed)))
        this.styles.height = height
        self._fit_hops(lines - height, least)

    def _fit_hops(self, lines: int, least: int = HOPS_LEAST) -> None:
        """The list of the other side's traces as tall as its rows where the other side's
        waterfall (over it, in lines lines with their captions) leaves them, least lines or
        more: at 100x30 on the demo it showed four of its traces and scrolled, under twelve
        blank lines of a waterfall of two spans."""
        other = self.query_one("#other", NavTable).row_count + 1  # its header
        self.query_one("#hops", NavTable).styles.max_height = max(least, lines - 2 - other)

    def on_resize(self) -> None:
        if self._view is not None:
            self.show(self._view)

    # ---- attributes ------------------------------------------------------------------------

    def action_toggle_attributes(self) -> None:
        self._attributes_set = True
        pane = self.query_one("#attributes-pane")
        pane.display = not pane.display
        self.call_after_refresh(self._split)

    def _attributes_table(self) -> DataTable[Any]:
        """The waterfall whose span the pane says: the other side's when it has the keys, else
        this trace's (the other's table, filled after, put its first span there)."""
        other = self.query_one("#other", DataTable)
        return other if self.focused is other else self.query_one("#waterfall", DataTable)

    def _show_attributes(self) -> None:
        table = self._attributes_table()
        if not table.row_count:
            return
        key = table.coordinate_to_cell_key(table.cursor_coordinate).row_key.value
        view = self._view
        if not key or view is None:
            return
        if table.id == "other":
            if view.other is not None:
                self._load_attributes(view.other.trace_id, key)
        else:
            self._load_attributes(self.trace_id, key)

    def on_data_table_row_highlighted(self, event: DataTable.RowHighlighted) -> None:
        if event.data_table is self._attributes_table() and event.row_key.value:
            self._show_attributes()

    def on_descendant_focus(self, event: events.DescendantFocus) -> None:
        if event.widget.id in ("waterfall", "other"):
            self._show_attributes()

    def _load_attributes(self, trace_id: str, span_id: str) -> None:
        self._wanted = span_id
        self._read_attributes(trace_id, span_id)

    @work(thread=True, exclusive=True, group="attributes")
    def _read_attributes(self, trace_id: str, span_id: str) -> None:
        try:
            attrs = self.source.run(lambda q: read.span_attributes(q, trace_id, span_id))
        except (SeamscopeError, Exception) as exc:  # shown in the panel, never raised
            self.post_message(self.Attributes(span_id, Text(safe(str(exc)), style="red")))
            return
        text = Text()
        text.append(f"Span {span_id}\n", style="bold")
        for section in ("attributes", "resource"):
            values = attrs.get(section) or {}
            text.append(f"\n{section}\n", style="bold underline")
            for key in sorted(values):
                value = values[key]
                shown = value if isinstance(value, str) else json.dumps(value)
                text.append(safe(key), style="cyan")
                text.append(f" = {safe(shown)}\n")
        if attrs.get("status_message"):
            text.append(f"\nstatus: {safe(attrs['status_message'])}\n", style="red")
        self.post_message(self.Attributes(span_id, text))

    def on_trace_screen_attributes(self, message: TraceScreen.Attributes) -> None:
        if message.span_id != self._wanted:
            return  # a read for a span the cursor or the focus has left since
        self.query_one("#attributes", Static).update(message.text)

    # ---- Enter -----------------------------------------------------------------------------

    def _span(self, table: str, span_id: str) -> SpanRow | None:
        view = self._view
        if view is None:
            return None
        spans = view.spans if table == "waterfall" else view.other.spans if view.other else ()
        kept, _more = one_per_span(spans, self.edge_id)  # the row its label says
        return next((s for s in kept if s.span_id == span_id), None)

    def on_data_table_row_selected(self, event: DataTable.RowSelected) -> None:
        key = event.row_key.value or ""
        table = event.data_table.id
        if table == "hops" and key:
            trace_id, _, span_id = key.partition("/")
            self.sapp.open_trace(trace_id, edge_id=self.edge_id, span_id=span_id)
            return
        if table in ("waterfall", "other"):
            span = self._span(table, key)
            if span is None or span.edge_id is None:
                self.notify("This span is no integration: no edge to open.", timeout=3)
                return
            below = self.app.screen_stack[-2] if len(self.app.screen_stack) > 2 else None
            if isinstance(below, DataScreen) and getattr(below, "edge_id", None) == span.edge_id:
                self.app.pop_screen()  # back to the edge it was opened from
            else:
                self.sapp.open_edge(span.edge_id)
