"""The table of edges every screen shows: rule and verdict first, so a long name never pushes
them off; names cut to fit where they repeat or say least; fewer figures on a narrow terminal."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from rich.text import Text
from textual import events

from seamscope.classifiers.results import Edge
from seamscope.tui.widgets.cells import (
    fill_table,
    fmt_ms,
    key_under_cursor,
    num,
    plain,
    short_node,
    verdict_text,
)
from seamscope.tui.widgets.focus_layout import elide_name
from seamscope.tui.widgets.tables import NavTable

# (title, width) of the columns besides the two names; a width of 0 takes the content's.
_FIXED: tuple[tuple[str, int], ...] = (
    ("Verdict", 14),
    ("Rule", 12),
)
_FIGURES: tuple[tuple[str, int, int], ...] = (
    # (title, width, the least terminal width that shows it)
    ("Mechanism", 16, 0),
    ("Spans", 7, 0),
    ("p95≈ ms", 8, 120),
    ("Err %", 6, 130),
    ("Last seen", 14, 150),
    ("Changed", 9, 0),
)


def _clip(text: str, width: int) -> str:
    """A sentence in at most width cells, cut at its end: the start says what is wrong, and
    the edge screen shows it whole (a cut in the middle split a word on each side)."""
    if len(text) <= width:
        return text
    head = text[: max(0, width - 1)]
    space = head.rfind(" ")
    # At a word when that drops little; a long name is rather cut than dropped whole.
    return (head[:space] if space >= width - 16 else head).rstrip() + "…"


def _seen(value: datetime | None) -> str:
    return value.strftime("%m-%d %H:%M:%S") if value else ""


class EdgeTable(NavTable):
    """Rows keyed by edge id. `set_edges` fills it; a resize lays the same edges out again."""

    def __init__(self, *, id: str | None = None, reason: bool = False) -> None:  # noqa: A002
        super().__init__(id=id)
        self.with_reason = reason
        self._edges: tuple[Edge, ...] = ()
        self._marks: dict[str, str] = {}
        self._layout: tuple[object, ...] = ()
        # Per edge id, the record, its mark and the cells made for them at this layout: a live
        # refresh gives the unchanged edges as the same records, whose rows are then neither
        # made nor compared again.
        self._made: dict[str, tuple[Edge, str, list[Text]]] = {}

    def _columns(self) -> tuple[tuple[str, ...], int, int]:
        """The titles to show at this width, the width of each name column and of the reason:
        the names first (whole when they fit), then the figures that fit, then the reason in
        the room left."""
        width = self.size.width or (self.app.size.width if self.is_attached else 160)
        longest = max(
            (len(short_node(n)) for e in self._edges for n in (e.from_node, e.to_node)),
            default=12,
        )
        figures = [(t, w) for t, w, least in _FIGURES if width >= least]
        if not self._marks:
            figures = [(t, w) for t, w in figures if t != "Changed"]
        # A column is as wide as its widest cell: budget what these edges take, not the most.
        # Verdict and rule at most their width; the mechanism, the span count and the mark as
        # wide as their widest cell, which they show whole (a budget narrower than a cell made
        # the rows wider than the table, the last column cut at the edge).
        measured = {
            "Verdict": min(14, max((len(str(e.verdict)) + 2 for e in self._edges), default=7)),
            "Rule": min(12, max((len(e.rule_id) for e in self._edges), default=4)),
            "Mechanism": max(
                (len(e.mechanism) + (7 if e.direction == "listen" else 0) for e in self._edges),
                default=9,
            ),
            "Spans": max((len(f"{e.span_count:,}") for e in self._edges), default=1),
            "Changed": max((len(m) for m in self._marks.values()), default=0),
        }
        fixed = sum(max(len(t), measured.get(t, w)) + 2 for t, w in (*_FIXED, *figures)) + 2
        names = max(12, min(longest, (width - fixed) // 2 - 2))
        titles = (*(t for t, _ in _FIXED), "From", "To", *(t for t, _ in figures))
        if not self.with_reason:
            return titles, names, 0
        # The reason takes the room the names leave: each name column is as wide as its
        # widest name, up to the budget (a reason cut at a fixed 60 left room unused).
        shown = sum(
            max(len(title), min(names, max((len(short_node(n)) for n in ends), default=0))) + 2
            for title, ends in (
                ("From", [e.from_node for e in self._edges]),
                ("To", [e.to_node for e in self._edges]),
            )
        )
        reason = width - fixed - shown - 2
        if reason < 28:
            return titles, names, 0
        return (*titles, "Reason"), names, reason

    def set_edges(self, edges: Sequence[Edge], marks: dict[str, str] | None = None) -> None:
        """Shows edges (their order kept), with marks ("new", "changed") by edge id."""
        self._edges = tuple(edges)
        self._marks = dict(marks or {})
        titles, names, reason = self._columns()
        # A new layout needs new columns: DataTable widens a column for a wider cell but never
        # narrows one, so names cut shorter (a wider mark, a narrower terminal) kept the room
        # of the longer ones and pushed the last columns past the table's edge.
        layout = (titles, names, reason)
        if tuple(c.label.plain for c in self.ordered_columns) != titles or self._layout != layout:
            self.clear(columns=True)
            for title in titles:
                self.add_column(title, key=title)
        made = self._made if self._layout == layout else {}
        self._layout = layout
        self._made = {}
        rows: list[tuple[str, list[Text]]] = []
        for e in self._edges:
            mark = self._marks.get(e.edge_id, "")
            held = made.get(e.edge_id)
            if held is not None and held[0] is e and held[1] == mark:
                cells = held[2]
            else:
                cells = self._cells(e, mark, titles, names, reason)
            self._made[e.edge_id] = (e, mark, cells)
            rows.append((e.edge_id, cells))
        fill_table(self, rows, escaped=True)

    @staticmethod
    def _cells(e: Edge, mark: str, titles: tuple[str, ...], names: int, reason: int) -> list[Text]:
        values: dict[str, str | Text] = {
            "Verdict": verdict_text(e.verdict),
            "Rule": Text(e.rule_id, style="bold"),
            "From": elide_name(short_node(e.from_node), names),
            "To": elide_name(short_node(e.to_node), names),
            "Mechanism": e.mechanism + (" listen" if e.direction == "listen" else ""),
            "Spans": num(f"{e.span_count:,}"),
            "p95≈ ms": num(fmt_ms(e.p95_ms)),
            "Err %": num(f"{100 * e.error_rate:.1f}", "red" if e.error_count else ""),
            "Last seen": _seen(e.last_seen),
            "Changed": Text(mark, style="bold yellow"),
            "Reason": _clip(e.reason or "", reason),
        }
        return [plain(values[t]) for t in titles]

    def on_resize(self, event: events.Resize) -> None:
        if self._edges and self._columns() != self._layout:
            self.set_edges(self._edges, self._marks)

    @property
    def edges(self) -> tuple[Edge, ...]:
        return self._edges

    def current_edge(self) -> str | None:
        return key_under_cursor(self) or None

    def put_cursor_on(self, edge_id: str) -> None:
        try:
            self.move_cursor(row=self.get_row_index(edge_id), animate=False)
        except Exception:
            pass
