"""The table of edges every screen shows: rule and verdict first, so a long name never pushes
them off; names cut to fit where they repeat or say least; fewer figures on a narrow terminal."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime

from rich.cells import cell_len
from rich.text import Text
from textual import events
from textual.message import Message

from seamscope.classifiers.results import Edge
from seamscope.tui.widgets.cells import (
    clip_end,
    fill_table,
    fmt_ms,
    heading,
    key_under_cursor,
    num,
    plain,
    room_left,
    short_node,
    verdict_text,
)
from seamscope.tui.widgets.focus_layout import elide_name
from seamscope.tui.widgets.layout import elide
from seamscope.tui.widgets.tables import NavTable

_FIXED = ("Verdict", "Rule")
_FIGURES: tuple[tuple[str, int], ...] = (
    # (title, the least terminal width that shows it)
    ("Mechanism", 0),
    ("Spans", 0),
    ("p95≈ ms", 120),
    ("Err %", 130),
    ("Last seen", 150),
    ("Changed", 0),
)
MIN_REASON = 12
"""The fewest cells the reason is shown in (its start, cut with "…"); less, and it is left
out."""
REASON_ROOM = 40
"""The cells the reason is given, where the table has a reason, before the figures the edge
screen also shows: those (YIELD_TO_REASON) are left out, in order, until it has them."""
YIELD_TO_REASON = ("Last seen", "p95≈ ms")


def _seen(value: datetime | None) -> str:
    return value.strftime("%m-%d %H:%M:%S") if value else ""


def _err(e: Edge) -> str:
    return f"{100 * e.error_rate:.1f}"


NAME_LEAST = 20
"""The fewest cells a name is cut to for the reason's sake, where it does not repeat its
system's name (cut in the middle there: "providers-…-portal")."""


def least_name(name: str) -> int:
    """The cells name takes cut where it repeats its system's name (`orders/…-api`), else
    whole up to NAME_LEAST."""
    own, slash, component = name.partition("/")
    if slash and ":" not in own:
        cut = elide_name(name, len(name) - 1)
        if _system_kept(name, cut):
            return len(cut)
    return min(len(name), NAME_LEAST)


def _system_kept(name: str, cut: str) -> bool:
    """Whether cut keeps name's system whole and cuts its component where it repeats the
    system's (`providers/…-portal`, `webapp-bff/webapp-…`). A cut in the middle of the whole
    name may keep the system by chance, and then cuts a word: "marketing/mailing-sync" in 21
    cells was "marketing/…iling-sync" (the demo at 100 columns, with the Changed column)."""
    own = name.partition("/")[0]
    return cut.startswith(f"{own}/") and cut != elide(name, len(cut))


def _readable_need(name: str) -> int:
    """The fewest cells name is cut to at a readable place: where it repeats its system's name
    (`inventory/…-sync-job`), a resource keeping its own name (`d…/Inventory`), else whole up
    to NAME_LEAST."""
    head, slash, own_name = name.rpartition("/")
    if slash and ":" in name.partition("/")[0]:
        return min(len(name), len(own_name) + 3)
    return least_name(name)


def table_name(name: str, width: int) -> str:
    """A name of an edge's end in width cells: as elide_name cuts it, unless that cut lands in
    the middle of a word of another system's component (at 100 columns with the Changed
    column, "inventory/inventory-sync-job" was "inventor…ync-job"); then its system whole and
    the last words of the component after the marker ("inventory/…-job")."""
    cut = elide_name(name, width)
    own, slash, component = name.partition("/")
    if cut == name or not slash or ":" in own or _system_kept(name, cut):
        return cut
    words = component.split("-")
    for i in range(1, len(words)):
        short = f"{own}/…-{'-'.join(words[i:])}"
        if len(short) <= width:
            return short
    return cut


class EdgeTable(NavTable):
    """Rows keyed by edge id. `set_edges` fills it; a resize lays the same edges out again."""

    def __init__(self, *, id: str | None = None, reason: bool = False) -> None:  # noqa: A002
        super().__init__(id=id)
        self.with_reason = reason
        self._edges: tuple[Edge, ...] = ()
        self._marks: dict[str, str] = {}
        self._layout: tuple[object, ...] = ()
        # What each column of figures was measured to need (its widest cell) at the last layout,
        # and the widest since the columns were made: DataTable keeps a column as wide as the
        # widest cell it has held.
        self._measured: dict[str, int] = {}
        self._held: dict[str, int] = {}
        # Per edge id, the record, its mark and the cells made for them at this layout: a live
        # refresh gives the unchanged edges as the same records, whose rows are then neither
        # made nor compared again.
        self._made: dict[str, tuple[Edge, str, list[Text]]] = {}
        self._hosts: Mapping[str, str] = {}  # the external nodes that are no vendor, as named
        self._words = True  # the verdict's word after its glyph (else the glyph alone)

    def hosts(self) -> Mapping[str, str]:
        """The app's external nodes that are no vendor (read.unknown_hosts): the names of the
        ends say what they are (cells.short_node)."""
        hosts = getattr(self.app, "hosts", None) if self.is_attached else None
        return hosts if isinstance(hosts, Mapping) else {}

    def _columns(self) -> tuple[tuple[str, ...], int, int]:
        """The titles to show at this width, the width of each name column and of the reason:
        the names first (whole when they fit), then the figures that fit, then the reason in
        the room left."""
        width = self.size.width or (self.app.size.width if self.is_attached else 160)
        edges = self._edges
        hosts = self._hosts
        longest = max(
            (len(short_node(n, hosts)) for e in edges for n in (e.from_node, e.to_node)),
            default=12,
        )
        figures = [t for t, least in _FIGURES if width >= least]
        if not self._marks:
            figures = [t for t in figures if t != "Changed"]
        # A column is as wide as its widest cell or its title, each shown whole: budget what
        # these edges take, measured as drawn (a budget of each column's most, or wider than
        # its cells, left room blank that the reason could have had; one narrower than a cell
        # made the rows wider than the table, the last column cut at the edge).
        measured = {
            "Verdict": max((len(str(e.verdict)) + 2 for e in edges), default=0),
            "Rule": max((len(e.rule_id) for e in edges), default=0),
            "Mechanism": max(
                (len(e.mechanism) + (7 if e.direction == "listen" else 0) for e in edges),
                default=0,
            ),
            "Spans": max((len(f"{e.span_count:,}") for e in edges), default=0),
            "p95≈ ms": max((len(fmt_ms(e.p95_ms)) for e in edges), default=0),
            "Err %": max((len(_err(e)) for e in edges), default=0),
            "Last seen": max((len(_seen(e.last_seen)) for e in edges), default=0),
            "Changed": max((len(m) for m in self._marks.values()), default=0),
        }
        self._measured = measured
        pad = 2 * self.cell_padding
        self._words = True

        def layout(figures: list[str], cap: int = 0) -> tuple[tuple[str, ...], int, int]:
            if not self._words:
                measured["Verdict"] = 1
            widths = [max(cell_len(t), measured[t]) for t in (*_FIXED, *figures)]
            # What the two name columns have together, their padding included.
            room = room_left(self, widths, len(edges)) + pad
            names = max(12, min(longest, room // 2 - pad, cap or longest))
            titles = (*_FIXED, "From", "To", *figures)
            if not self.with_reason:
                return titles, names, 0
            # The reason takes the room the names leave: each name column is as wide as its
            # widest name, up to the budget.
            shown = [
                max(
                    len(title),
                    min(names, max((len(short_node(n, hosts)) for n in ends), default=0)),
                )
                for title, ends in (
                    ("From", [e.from_node for e in edges]),
                    ("To", [e.to_node for e in edges]),
                )
            ]
            reason = room_left(self, (*widths, *shown), len(edges))
            if reason < MIN_REASON:
                return titles, names, 0
            return (*titles, "Reason"), names, reason

        titles, names, reason = layout(figures)
        if names < longest and not reason:
            # Names are cut: below the readable cut of the longest (each end named once: the
            # 1,171 edges of a generated landscape have some 300), the verdict is said by its
            # glyph alone and its word's cells go to the names.
            ends = {n for e in edges for n in (e.from_node, e.to_node)}
            need = max((_readable_need(short_node(n, hosts)) for n in ends), default=12)
            if names < need:
                self._words = False
                titles, names, reason = layout(figures)
        # A reason says what is wrong; the latency and the time last seen, which the edge
        # screen shows too, give it their room (at 160 columns the demo's findings had 12
        # cells of reason, and none once the live session's Changed column came).
        for title in YIELD_TO_REASON if self.with_reason else ():
            if reason >= REASON_ROOM or title not in figures:
                continue
            figures = [t for t in figures if t != title]
            titles, names, reason = layout(figures)
        # Still short of it: the names give it what they do not need, cut where they repeat
        # (`subscriptions/…-api`), not shorter. At 160x45 on a generated store of 40 systems
        # the findings' reasons had 25 cells ("SQS carries events from…") beside names of up
        # to 34 cells, most of them blank.
        if self.with_reason and 0 < reason < REASON_ROOM:
            least = max(
                (least_name(short_node(n, hosts)) for e in edges for n in (e.from_node, e.to_node)),
                default=12,
            )
            for _ in range(3):  # a column narrower than the cut gives less than its share
                cap = max(least, names - (REASON_ROOM - reason + 1) // 2)
                if cap >= names or reason >= REASON_ROOM:
                    break
                titles, names, reason = layout(figures, cap)
        return titles, names, reason

    def set_edges(self, edges: Sequence[Edge], marks: dict[str, str] | None = None) -> None:
        """Shows edges (their order kept), with marks ("new", "changed") by edge id."""
        self._edges = tuple(edges)
        self._marks = dict(marks or {})
        hosts = self.hosts()
        named = hosts == self._hosts
        self._hosts = hosts
        titles, names, reason = self._columns()
        # A new layout needs new columns: DataTable widens a column for a wider cell but never
        # narrows one, so names cut shorter (a wider mark, a narrower terminal) kept the room
        # of the longer ones and pushed the last columns past the table's edge.
        layout = (titles, names, reason, self._words)
        # ... and a column whose widest cell has gone (an edge "unclassified" that a rule now
        # covers, a count that fell) kept that width: the columns are made again to narrow it.
        shrunk = any(self._measured.get(t, w) < w for t, w in self._held.items())
        if (
            tuple(c.label.plain for c in self.ordered_columns) != titles
            or self._layout != layout
            or shrunk
        ):
            self.clear(columns=True)
            for title in titles:
                self.add_column(heading(title), key=title)
            self._held = {}
        for title in titles:
            if title in self._measured:
                self._held[title] = max(self._held.get(title, 0), self._measured[title])
        made = self._made if self._layout == layout and named else {}
        self._layout = layout
        self._made = {}
        rows: list[tuple[str, list[Text]]] = []
        for e in self._edges:
            mark = self._marks.get(e.edge_id, "")
            held = made.get(e.edge_id)
            if held is not None and held[0] is e and held[1] == mark:
                cells = held[2]
            else:
                cells = self._cells(e, mark, titles, names, reason, hosts, self._words)
            self._made[e.edge_id] = (e, mark, cells)
            rows.append((e.edge_id, cells))
        fill_table(self, rows, escaped=True)

    @staticmethod
    def _cells(
        e: Edge,
        mark: str,
        titles: tuple[str, ...],
        names: int,
        reason: int,
        hosts: Mapping[str, str],
        words: bool = True,
    ) -> list[Text]:
        values: dict[str, str | Text] = {
            "Verdict": verdict_text(e.verdict) if words else Text(e.verdict.glyph, e.verdict.style),
            "Rule": Text(e.rule_id, style="bold"),
            "From": table_name(short_node(e.from_node, hosts), names),
            "To": table_name(short_node(e.to_node, hosts), names),
            "Mechanism": e.mechanism + (" listen" if e.direction == "listen" else ""),
            "Spans": num(f"{e.span_count:,}"),
            "p95≈ ms": num(fmt_ms(e.p95_ms)),
            "Err %": num(_err(e), "red" if e.error_count else ""),
            "Last seen": _seen(e.last_seen),
            "Changed": Text(mark, style="bold yellow"),
            "Reason": clip_end(e.reason or "", reason),
        }
        return [plain(values[t]) for t in titles]

    class Resized(Message):
        """The table's size changed: a screen that fits a pane to the room the table leaves
        measures again (the lines above it, a summary or a message bar, may have changed
        after it measured)."""

    def on_resize(self, event: events.Resize) -> None:
        if self._edges and (*self._columns(), self._words) != self._layout:
            self.set_edges(self._edges, self._marks)
        self.post_message(self.Resized())

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
