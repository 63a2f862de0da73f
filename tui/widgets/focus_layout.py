"""Draws the focus view: one system in the middle, its callers on the left, its callees on the
right, one row per edge, labelled with rule, verdict and mechanism (at both ends when the row is
long enough for two labels).

Why this and not a whole-landscape drawing: a layered drawing of every system stops being
readable at about ten systems (parallel lines, boxes off screen, labels cut). The focus view has
the same shape at 5 systems and at 50: a neighbour is one box, an edge one straight row, and a
side with more boxes than lines scrolls on its own, following the highlight. docs/tui.md says
more. Pure and deterministic (no Textual), like layout.py.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field, replace

from seamscope.classifiers.results import Verdict
from seamscope.tracer.terminal import safe
from seamscope.tui.widgets.layout import Canvas, elide

LEFT, CENTRE, RIGHT = -1, 0, 1


@dataclass(frozen=True, slots=True)
class FocusEdge:
    """One edge between the centre and a neighbour, as drawn on its row."""

    edge_id: str
    rule: str
    mechanism: str  # with " listen" for a listening edge
    verdict: Verdict
    detail: str = ""  # what its row in the box says: the end of the edge there, or for a box
    # that is one vendor or resource, the centre's component on this edge

    @property
    def label(self) -> str:
        """Rule and verdict first: what is cut when the row is short is the mechanism."""
        return f"{self.rule} {self.verdict.glyph} {self.mechanism}"


@dataclass(frozen=True, slots=True)
class Neighbour:
    node_id: str
    name: str
    kind: str  # system | external | resource
    edges: tuple[FocusEdge, ...]
    inferred: bool = False
    note: str = ""  # said in its bottom border: "no known owner" for such a resource

    @property
    def worst(self) -> Verdict:
        return min((e.verdict for e in self.edges), key=lambda v: v.rank)

    @property
    def height(self) -> int:
        return len(self.edges) + 2


CALLER_SIDES = ("no callers", "calls nothing")
"""What the empty sides of a system's or a component's focus view say."""


@dataclass(frozen=True, slots=True)
class Focus:
    """What the focus view shows: the centre and its two sides (callers left, callees right)."""

    centre: str  # node id
    name: str
    sublabel: str
    callers: tuple[Neighbour, ...]
    callees: tuple[Neighbour, ...]
    # What an empty side says (left, right): a resource is fed and feeds, it calls nothing.
    empty: tuple[str, str] = CALLER_SIDES

    def side(self, side: int) -> tuple[Neighbour, ...]:
        return self.callers if side == LEFT else self.callees if side == RIGHT else ()

    def escaped(self) -> Focus:
        """The same focus with every text it draws escaped (names come from the spans'
        resources), measured as drawn; the node and edge ids stay as they are."""

        def edge(e: FocusEdge) -> FocusEdge:
            return replace(e, rule=safe(e.rule), mechanism=safe(e.mechanism), detail=safe(e.detail))

        def side(ns: tuple[Neighbour, ...]) -> tuple[Neighbour, ...]:
            return tuple(
                replace(n, name=safe(n.name), note=safe(n.note), edges=tuple(map(edge, n.edges)))
                for n in ns
            )

        return replace(
            self,
            name=safe(self.name),
            sublabel=safe(self.sublabel),
            callers=side(self.callers),
            callees=side(self.callees),
        )


@dataclass(slots=True)
class FocusDrawing:
    canvas: Canvas
    # node id -> (x, y, width, height) of each box drawn, for clicks
    boxes: dict[str, tuple[int, int, int, int]] = field(default_factory=dict)


def elide_name(name: str, width: int) -> str:
    """A box's name in at most width cells, cut where it repeats or says least. A component of
    another system, "accounts/accounts-api", keeps its system whole and loses the system's name
    again inside the component's: "accounts/…-api" (a cut in the middle, "acco…api", made
    billing's and billing1's components look alike); one that shares only the start of the
    system's name loses that start ("providers/…-portal"), one that is the system's name again
    is cut at its end ("webapp-bff/webapp-…"). A resource, "dynamodb:table/Users", keeps
    its own name whole: "dyna…/Users" (its box says the service). Else a cut in the middle."""
    if len(name) <= width or "/" not in name:
        return elide(name, width)
    if ":" in name.partition("/")[0]:
        head, _, own_name = name.rpartition("/")
        keep = width - len(own_name) - 2
        if keep >= 1:
            return f"{head[:keep]}…/{own_name}"
        return elide(name, width)
    own, _, component = name.partition("/")
    shared = len(os.path.commonprefix([own, component]))
    if own and shared >= 3 and len(component) > shared:
        # "providers/provider-portal": the start they share is said once ("providers/…-portal").
        short = f"{own}/…{component[shared:]}"
        if len(short) <= width:
            return short
    if own and component == own and width >= len(own) + 3:
        # Its system's name again: the system whole, the component cut at its end.
        return f"{own}/{_cut(component, width - len(own) - 1)}"
    return elide(name, width)


ARROW = " → "
"""Between the two ends a row's detail names ("billing-job → Sessions"), the one nearer the
centre after it on the left, before it on the right."""


def elide_detail(detail: str, width: int, side: int) -> str:
    """A row's detail in at most width cells. One that names two ends (ARROW) keeps whole the
    end nearer the centre (in the focus view of the resources of no known owner, the resource:
    "bill… → Sessions" on the left, "Sessions → ind…" on the right) and cuts the other; a cut
    in the middle left "orders-…essions", neither name whole."""
    if ARROW not in detail:
        return elide_name(detail, width)  # a resource keeps its own name: "dyna…/Catalog"
    if len(detail) <= width:
        return detail
    if side == LEFT:
        far, _, near = detail.rpartition(ARROW)
        room = width - len(near) - len(ARROW)
        return f"{_cut(far, room)}{ARROW}{near}" if room >= 2 else elide(f"→ {near}", width)
    near, _, far = detail.partition(ARROW)
    room = width - len(near) - len(ARROW)
    return f"{near}{ARROW}{_cut(far, room)}" if room >= 2 else elide(f"{near} →", width)


def _cut(text: str, width: int) -> str:
    """text in width cells, cut at its end: the start of a component's name tells most."""
    return text if len(text) <= width else text[: width - 1] + "…"


def scroll_for(heights: list[int], selected: int | None, top: int, visible: int) -> int:
    """The first line to show of a column of boxes so that the selected box is in view: always
    where a box starts, so that no box is cut at the top, and no further down than where the
    boxes left all fit."""
    total = sum(heights)
    if total <= visible:
        return 0
    starts = _starts(heights)
    # From here on, all of them fit (the last box taller than the view: its start).
    last = min((s for s in starts if total - s <= visible), default=starts[-1])
    top = max((s for s in starts if s <= min(top, last)), default=0)
    if selected is None:
        return top
    y0 = starts[selected]
    y1 = y0 + heights[selected]
    if y0 < top:
        return y0
    if y1 > top + visible:
        # The first start from which the selected box fits whole (one taller than the view:
        # its own start).
        return next((s for s in starts if top <= s <= y0 and y1 - s <= visible), y0)
    return top


def _starts(heights: list[int]) -> list[int]:
    """The line each box starts on, the first at 0."""
    starts, y = [], 0
    for h in heights:
        starts.append(y)
        y += h
    return starts


def shown_boxes(heights: list[int], top: int, visible: int) -> tuple[range, int, int]:
    """Of a column of boxes scrolled to top (where a box starts) in visible lines: the indexes
    of the boxes drawn, and how many are hidden above and below. Only whole boxes are drawn,
    but for one taller than the view, drawn from its start and cut (it is counted below too:
    its last edges are not in view)."""
    starts = _starts(heights)
    first = next((i for i, s in enumerate(starts) if s >= top), len(heights))
    end = first
    while end < len(heights) and starts[end] + heights[end] - top <= visible:
        end += 1
    drawn_end = end + 1 if end == first < len(heights) else end  # a box taller than the view
    return range(first, drawn_end), first, len(heights) - end


NODE_STYLE = {"system": "bold", "external": "magenta", "resource": "cyan"}
ROUND = ("╭", "╮", "╰", "╯", "─", "│")
DOUBLE = ("╔", "╗", "╚", "╝", "═", "║")  # the highlighted box
BORDERS = {
    "external": ("┌", "┐", "└", "┘", "╌", "╎"),
    "resource": ("┏", "┓", "┗", "┛", "━", "┃"),
}


BOX_LEAST = 21
"""The cells a neighbour's box keeps (its name's, where shorter) when the rows between the boxes
would want them for their labels: "dynamodb:…/Payments", "providers/…-portal" still read..."""
ROWS_LEAST = 20
"""... unless that leaves a row fewer cells than this: the rule and glyph at both ends."""


def draw_focus(
    focus: Focus,
    width: int,
    height: int,
    selected: tuple[int, int],
    tops: tuple[int, int],
) -> FocusDrawing:
    """The view in width x height cells. selected: (side, index) of the highlighted box (side
    CENTRE for the centre); tops: the first line shown of the left and of the right side."""
    canvas = Canvas(max(width, 1), max(height, 1))
    drawing = FocusDrawing(canvas)
    if width < 30 or height < 3:
        canvas.text(0, 0, elide(f"{focus.name}: too small to draw", width), "dim")
        return drawing
    sel_side, sel_index = selected
    # A box's title is its name and, for one inferred, its mark: measured so (the mark cut an
    # inferred host's name, "127.0.…:36027 ~", with the rows beside it half blank).
    names = [n.name + (" ~" if n.inferred else "") for n in focus.callers + focus.callees]
    names += [e.detail for n in focus.callers + focus.callees for e in n.edges]
    centre_w = min(max(len(focus.name), len(focus.sublabel)) + 4, max(14, width // 4))
    # The rows between the boxes get room for their longest label once, in the middle (rule,
    # glyph and mechanism: " A302 ✗ dynamodb-streams listen " and the arrow), where that leaves
    # the boxes BOX_LEAST cells (on a narrow view, the rows keep ROWS_LEAST); the boxes the
    # rest, up to their longest name, names elided where they repeat. Boxes sized to their
    # longest name left the rows 20 cells on a landscape of long names: "A202 ✗ sqs lis…"
    # beside boxes half blank. Where every box already names each of its edges' mechanism (a
    # component's focus), a row needs room for the rule and glyph once: boxes too narrow for
    # their names take the rest.
    room = width - centre_w
    edges = [e for n in focus.callers + focus.callees for e in n.edges]
    if all(e.detail == e.mechanism for e in edges):
        rows_w = 12
    else:
        rows_w = max((len(e.label) + 2 for e in edges), default=8) + 3
    wanted = max((len(n) for n in names), default=8) + 4
    least = min(wanted, BOX_LEAST, room // 2 - ROWS_LEAST)  # on a narrow view, as before
    side_w = max(12, least, min(wanted, room // 2 - rows_w))
    gap = max(0, (width - 2 * side_w - centre_w) // 2)
    centre_x = side_w + gap
    # The centre: a box as tall as the view.
    is_sel = sel_side == CENTRE
    border = "bold bright_white" if is_sel else "bold"
    tl, tr, bl, br, hz, vt = (
        ("╔", "╗", "╚", "╝", "═", "║") if is_sel else ("╭", "╮", "╰", "╯", "─", "│")
    )
    canvas.text(centre_x, 0, tl + hz * (centre_w - 2) + tr, border)
    for y in range(1, height - 1):
        canvas.put(centre_x, y, vt, border)
        canvas.put(centre_x + centre_w - 1, y, vt, border)
    canvas.text(centre_x, height - 1, bl + hz * (centre_w - 2) + br, border)
    middle = max(1, (height - 2) // 2)
    label_style = "bold reverse" if is_sel else "bold"
    # Cut as a neighbour's name is: a resource keeps its own name ("dy…/Sessions").
    canvas.text(
        centre_x + 2, middle, elide_name(focus.name, centre_w - 4).center(centre_w - 4), label_style
    )
    if focus.sublabel and middle + 1 < height - 1:
        canvas.text(
            centre_x + 2,
            middle + 1,
            elide(focus.sublabel, centre_w - 4).center(centre_w - 4),
            "dim",
        )
    drawing.boxes[focus.centre] = (centre_x, 0, centre_w, height)

    for side, neighbours, x0 in (
        (LEFT, focus.callers, 0),
        (RIGHT, focus.callees, centre_x + centre_w + gap),
    ):
        if not neighbours:
            what = focus.empty[0] if side == LEFT else focus.empty[1]
            # No box: the note has the side's whole width, from the centre out on the right.
            x = 1 if side == LEFT else centre_x + centre_w + 2
            room = (centre_x - 2) if side == LEFT else width - x - 1
            canvas.text(x, max(0, middle), elide(what, room), "dim")
            continue
        # The sides use the lines inside the centre box (no edge leaves from its corners);
        # the first and the last line say how many boxes are scrolled out of view. Only whole
        # boxes are drawn (a box cut in half hid its edges with no sign of them).
        top = tops[0 if side == LEFT else 1]
        heights = [n.height for n in neighbours]
        starts = _starts(heights)
        drawn, above, below = shown_boxes(heights, top, height - 2)
        for index in drawn:
            n = neighbours[index]
            y = 1 + starts[index] - top
            sel = sel_side == side and sel_index == index
            _draw_neighbour(canvas, n, x0, y, side_w, sel, side)
            drawing.boxes[n.node_id] = (x0, y, side_w, n.height)
            for row, edge in enumerate(n.edges):
                ey = y + 1 + row
                if 1 <= ey < height - 1:
                    if side == LEFT:
                        _draw_edge(canvas, edge, side_w, centre_x - 1, ey)
                    else:
                        _draw_edge(canvas, edge, centre_x + centre_w, x0 - 1, ey)
        for line in (0, height - 1):
            canvas.text(x0, line, " " * side_w, "")
        if above:
            canvas.text(x0 + 1, 0, elide(f"▲ {above} more", side_w - 2), "dim")
        if below:
            canvas.text(x0 + 1, height - 1, elide(f"▼ {below} more", side_w - 2), "dim")
    return drawing


def _draw_neighbour(
    canvas: Canvas, n: Neighbour, x: int, y: int, w: int, selected: bool, side: int
) -> None:
    style = NODE_STYLE.get(n.kind, "bold")
    border = "bold bright_white" if selected else (style if n.kind != "system" else "white")
    tl, tr, bl, br, hz, vt = DOUBLE if selected else BORDERS.get(n.kind, ROUND)
    mark = " ~" if n.inferred else ""
    title = elide_name(n.name, w - 4 - len(mark)) + mark
    name_style = "bold reverse" if selected else style
    canvas.text(x, y, tl + hz * (w - 2) + tr, border)
    canvas.text(x + 2, y, title, name_style)
    for row, edge in enumerate(n.edges):
        yy = y + 1 + row
        canvas.put(x, yy, vt, border)
        canvas.text(x + 1, yy, " " * (w - 2), "")
        canvas.text(x + 2, yy, elide_detail(edge.detail, w - 4, side), "dim")
        canvas.put(x + w - 1, yy, vt, border)
    canvas.text(x, y + n.height - 1, bl + hz * (w - 2) + br, border)
    if n.note and w > 8:
        canvas.text(x + 2, y + n.height - 1, f" {elide(n.note, w - 6)} ", "dim")


def _draw_edge(canvas: Canvas, edge: FocusEdge, x1: int, x2: int, y: int) -> None:
    """A row from x1 to x2 (the arrowhead at x2), labelled near both ends when there is room,
    else once in the middle."""
    style = edge.verdict.style
    length = x2 - x1 + 1
    if length < 3:
        return
    canvas.hline(x1, x2, y, style)
    canvas.put(x2, y, "▶", style)
    text = f" {edge.label} "
    bold = style if "bold" in style else f"{style} bold"
    # The whole label at both ends when the row has room for it twice (a long row is followed
    # from either box); else once in the middle, its mechanism cut if need be (a short row is
    # read at a glance, and the mechanism says more than the rule again).
    if length >= 2 * len(text) + 6:
        canvas.text(x1 + 1, y, text, bold)
        canvas.text(x2 - len(text) - 1, y, text, bold)
        return
    shown = text
    if len(text) > length - 3:
        mid = f" {edge.rule} {edge.verdict.glyph} "
        room = length - 3 - len(mid) - 2  # what the mechanism can have, with its "…"
        shown = f"{mid}{edge.mechanism[:room]}… " if room > 0 else mid[: max(1, length - 3)]
    canvas.text(x1 + max(1, (length - len(shown)) // 2), y, shown, bold)
