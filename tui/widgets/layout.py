"""Draws a landscape as a character canvas: boxes in layered columns, orthogonal arrows.

Pure and deterministic (no Textual), so the map looks the same in every snapshot and can be
unit-tested. Columns come from the graph's layering (or a rank the caller gives, such as the
role of a component); rows are shared across columns, with corridors between them that carry
the arrows which skip columns or go backwards. Each arrow leaves its source box on its own row,
with its label (the mechanism) right beside the box, and enters the target on its own row.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterator
from dataclasses import dataclass, field, replace
from functools import lru_cache

from rich.style import Style

from seamscope.classifiers.results import Verdict
from seamscope.tracer.terminal import blanked, has_control, safe

NODE_STYLES: dict[str, str] = {
    "system": "bold",
    "component": "bold",
    "resource": "cyan",
    "external": "magenta",
    "foreign": "dim",
}

N, E, S, W = 1, 2, 4, 8
_LINE = {
    N | S: "│",
    E | W: "─",
    N: "│",
    S: "│",
    E: "─",
    W: "─",
    N | E: "└",
    N | W: "┘",
    S | E: "┌",
    S | W: "┐",
    N | S | E: "├",
    N | S | W: "┤",
    E | W | N: "┴",
    E | W | S: "┬",
    N | E | S | W: "┼",
}


@dataclass(frozen=True, slots=True)
class MapNode:
    node_id: str
    label: str
    sublabel: str = ""
    kind: str = "system"  # system | component | resource | external | foreign
    rank: int | None = None  # column hint; None = from the graph's layering


@dataclass(frozen=True, slots=True)
class MapEdge:
    src: str
    dst: str
    label: str
    verdict: Verdict


@dataclass(frozen=True, slots=True)
class Box:
    node_id: str
    x: int
    y: int
    width: int
    height: int
    column: int
    row: int

    def contains(self, x: int, y: int) -> bool:
        return self.x <= x < self.x + self.width and self.y <= y < self.y + self.height


@dataclass(slots=True)
class Canvas:
    width: int
    height: int
    chars: list[list[str]] = field(default_factory=list)
    styles: list[list[str]] = field(default_factory=list)
    masks: list[list[int]] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.chars = [[" "] * self.width for _ in range(self.height)]
        self.styles = [[""] * self.width for _ in range(self.height)]
        self.masks = [[0] * self.width for _ in range(self.height)]

    def put(self, x: int, y: int, char: str, style: str = "") -> None:
        if 0 <= x < self.width and 0 <= y < self.height:
            self.chars[y][x] = char
            self.styles[y][x] = style
            self.masks[y][x] = 0

    def text(self, x: int, y: int, text: str, style: str = "") -> None:
        # The drawings escape the names they are given (measured as drawn); a control
        # character that still gets here is drawn as U+FFFD, never sent to the terminal.
        if has_control(text):
            text = blanked(text)
        for i, char in enumerate(text):
            self.put(x + i, y, char, style)

    def line(self, x: int, y: int, bits: int, style: str) -> None:
        if 0 <= x < self.width and 0 <= y < self.height:
            mask = self.masks[y][x] | bits
            if self.chars[y][x] != " " and self.masks[y][x] == 0:
                return  # never draw over a box or a label
            self.masks[y][x] = mask
            self.chars[y][x] = _LINE.get(mask, "┼")
            self.styles[y][x] = style

    def hline(self, x1: int, x2: int, y: int, style: str) -> None:
        # line() for each cell, inlined: a big map draws hundreds of thousands of these cells.
        if not 0 <= y < self.height:
            return
        lo, hi = min(x1, x2), max(x1, x2)
        chars, styles, masks = self.chars[y], self.styles[y], self.masks[y]
        for x in range(max(lo, 0), min(hi, self.width - 1) + 1):
            mask = masks[x]
            if mask == 0 and chars[x] != " ":
                continue  # never draw over a box or a label
            mask |= (W if x > lo else 0) | (E if x < hi else 0)
            masks[x] = mask
            chars[x] = _LINE.get(mask, "┼")
            styles[x] = style

    def vline(self, x: int, y1: int, y2: int, style: str) -> None:
        lo, hi = min(y1, y2), max(y1, y2)
        for y in range(lo, hi + 1):
            bits = (N if y > lo else 0) | (S if y < hi else 0)
            self.line(x, y, bits, style)

    def runs(self, y: int) -> Iterator[tuple[str, str]]:
        """Row y as (text, style) runs of one style each."""
        row_chars, row_styles = self.chars[y], self.styles[y]
        start = 0
        for x in range(1, self.width + 1):
            if x == self.width or row_styles[x] != row_styles[start]:
                yield "".join(row_chars[start:x]), row_styles[start]
                start = x


@lru_cache(maxsize=256)
def parse_style(style: str) -> Style:
    return Style.parse(style)


@dataclass(frozen=True, slots=True)
class MapDrawing:
    canvas: Canvas
    boxes: dict[str, Box]
    narrowed: bool = False  # drawn narrower than its own width, to fit the room it was given

    def box_at(self, x: int, y: int) -> Box | None:
        for box in self.boxes.values():
            if box.contains(x, y):
                return box
        return None


def _layers(nodes: list[MapNode], edges: list[MapEdge]) -> dict[str, int]:
    """Longest-path layering, cycles broken by a depth-first search in name order."""
    ids = [n.node_id for n in nodes]
    succ: dict[str, list[str]] = defaultdict(list)
    for e in edges:
        if e.src != e.dst:
            succ[e.src].append(e.dst)
    for key in succ:
        succ[key] = sorted(set(succ[key]))
    # Drop back edges found by an iterative DFS.
    state: dict[str, int] = {}
    forward: dict[str, list[str]] = defaultdict(list)
    for root in sorted(ids):
        if root in state:
            continue
        stack: list[tuple[str, int]] = [(root, 0)]
        state[root] = 1
        while stack:
            node, i = stack[-1]
            children = succ.get(node, [])
            if i < len(children):
                stack[-1] = (node, i + 1)
                child = children[i]
                if state.get(child) == 1:
                    continue  # back edge
                forward[node].append(child)
                if child not in state:
                    state[child] = 1
                    stack.append((child, 0))
            else:
                state[node] = 2
                stack.pop()
    layer: dict[str, int] = {}
    indegree: dict[str, int] = {n: 0 for n in ids}
    for dsts in forward.values():
        for d in dsts:
            indegree[d] = indegree.get(d, 0) + 1
    ready = sorted(n for n, d in indegree.items() if d == 0)
    for n in ready:
        layer[n] = 0
    while ready:
        node = ready.pop(0)
        for child in forward.get(node, []):
            layer[child] = max(layer.get(child, 0), layer[node] + 1)
            indegree[child] -= 1
            if indegree[child] == 0:
                ready.append(child)
                ready.sort()
    return {n: layer.get(n, 0) for n in ids}


def _order_lanes(items: list[tuple[str, int | None, int | None, int]]) -> list[str]:
    """Orders the lanes of one gap so that no arrow's exit runs along another's entry.

    items: (key, exit_y, entry_y, kind). Lane i must lie left of lane j when i leaves on the row
    where j enters. A topological order of that constraint, ties by kind then row.
    """
    before: dict[str, set[str]] = {k: set() for k, *_ in items}
    by_entry: dict[int, list[str]] = defaultdict(list)
    for key, _, entry, _ in items:
        if entry is not None:
            by_entry[entry].append(key)
    for key, exit_y, _, _ in items:
        if exit_y is not None:
            for other in by_entry.get(exit_y, []):
                if other != key:
                    before[other].add(key)
    sort_key = {k: (kind, ey if ey is not None else -1, ny or -1, k) for k, ey, ny, kind in items}
    order: list[str] = []
    remaining = set(before)
    while remaining:
        free = [k for k in remaining if not (before[k] & remaining)]
        if not free:
            free = [min(remaining, key=lambda k: sort_key[k])]
        pick = min(free, key=lambda k: sort_key[k])
        order.append(pick)
        remaining.discard(pick)
    return order


@dataclass(slots=True)
class _Lane:
    """One vertical line of a gap: the arrows it carries leave their sources on exits and
    enter their targets on entries (rows); it spans lo..hi."""

    kind: int
    exits: set[int] = field(default_factory=set)
    entries: set[int] = field(default_factory=set)
    lo: int = 1 << 30
    hi: int = -1

    def cover(self, *ys: int) -> None:
        self.lo = min(self.lo, *ys)
        self.hi = max(self.hi, *ys)


def _slot_lanes(lanes: dict[str, _Lane]) -> dict[str, int]:
    """The x slot of each lane of one gap, lanes that share no row sharing a slot. A lane lies
    left of every lane that enters on a row where it leaves (the exit's line would run along
    the entry's), as _order_lanes orders them; within that, the leftmost free slot."""
    before: dict[str, set[str]] = {k: set() for k in lanes}
    by_entry: dict[int, list[str]] = defaultdict(list)
    for key, lane in lanes.items():
        for y in lane.entries:
            by_entry[y].append(key)
    for key, lane in lanes.items():
        for y in lane.exits:
            for other in by_entry.get(y, []):
                if other != key:
                    before[other].add(key)
    order: list[str] = []
    remaining = set(lanes)
    sort_key = {k: (lane.kind, lane.lo, lane.hi, k) for k, lane in lanes.items()}
    while remaining:
        free = [k for k in remaining if not (before[k] & remaining)]
        pick = min(free or remaining, key=lambda k: sort_key[k])
        order.append(pick)
        remaining.discard(pick)
    slot: dict[str, int] = {}
    taken: list[list[tuple[int, int]]] = []
    for key in order:
        lane = lanes[key]
        s = max((slot[b] + 1 for b in before[key] if b in slot), default=0)
        while s < len(taken) and any(not (hi < lane.lo or lane.hi < lo) for lo, hi in taken[s]):
            s += 1
        if s == len(taken):
            taken.append([])
        taken[s].append((lane.lo, lane.hi))
        slot[key] = s
    return slot


def elide(text: str, width: int) -> str:
    """text in at most width cells, cut in the middle: "accounts-…-worker"."""
    if width <= 0:
        return ""
    if len(text) <= width:
        return text
    if width == 1:
        return "…"
    head = (width - 1 + 1) // 2
    tail = width - 1 - head
    return text[:head] + "…" + (text[-tail:] if tail else "")


def _cut_end(text: str, width: int) -> str:
    return text if len(text) <= width else text[: max(0, width - 1)] + "…"


@dataclass(frozen=True, slots=True)
class Compact:
    """How narrow a drawing is drawn: the cells between two lanes, the most cells of an
    arrow's mechanism (its glyph always kept; 0: the glyph alone) and of a box's name and of
    the line under it (0: whole)."""

    pitch: int = 2
    mechanism: int = 0
    name: int = 0

    def arrow(self, e: MapEdge) -> str:
        glyph, _, mechanism = e.label.partition(" ")
        if not self.mechanism:
            return e.label
        if self.mechanism < 0:
            return glyph
        return f"{glyph} {_cut_end(mechanism, self.mechanism)}" if mechanism else glyph

    def box(self, n: MapNode) -> tuple[str, str]:
        if not self.name:
            return n.label, n.sublabel
        return elide(n.label, self.name), _cut_end(n.sublabel, self.name)


COMPACT = (
    Compact(),
    Compact(pitch=1),
    Compact(pitch=1, mechanism=12),
    Compact(pitch=1, mechanism=9),
    Compact(pitch=1, mechanism=9, name=20),
    Compact(pitch=1, mechanism=7, name=18),
    Compact(pitch=1, mechanism=5, name=16),
    Compact(pitch=1, mechanism=-1, name=16),
    Compact(pitch=1, mechanism=-1, name=13),
    Compact(pitch=1, mechanism=-1, name=10),
)
"""From the widest drawing to the narrowest; draw takes the first that fits its room. On the
demo at 160 columns inventory's drawing was 219 cells wide in a pane of 125, the lanes two
cells apart and every arrow's label whole: the pane scrolled sideways."""
READABLE = Compact(pitch=1, mechanism=-1, name=16)
MERGE_AT = 2
"""The steps of COMPACT tried with a lane for each arrow (its lanes two cells apart, then one);
past them the arrows into one box share one line (_place's merge). At 100 columns the hub of a
generated landscape of 40 systems was 127 cells wide in a pane of 96, 80 of them lanes: an
arrow into the BFF from each caller, and one back to each."""
FOLD_AT = COMPACT.index(READABLE) + 1
"""The steps of COMPACT tried before two columns are drawn as one (_fold): names are cut shorter
than READABLE's only where no column can fold."""
"""The drawing of one that none of COMPACT fits: it scrolls sideways anyway, and names cut to
ten cells (`billi…rker`, at 100 columns on the demo) were not worth the cells they saved."""


@dataclass(frozen=True, slots=True)
class _Across:
    width: int
    col_x: list[int]
    col_width: list[int]
    lane_x: dict[str, int]
    labels: list[str]
    names: dict[str, tuple[str, str]]


MAX_COLUMNS = 7
"""A long chain of calls would otherwise make one column per hop; layers are folded into this
many columns, in order, so the map stays about as wide as a terminal."""


def _fold(
    column: dict[str, int], ncols: int, edges: list[MapEdge]
) -> tuple[dict[str, int], int] | None:
    """The columns with two neighbours that no arrow joins drawn as one (their boxes stacked),
    those of fewest boxes (the drawing grows least in height), the rightmost of equals; None
    where every two neighbours are joined. An arrow that skipped the column between becomes
    a direct one; none runs inside a column that was not there before. On the demo at 160
    columns the other systems' components and the vendors right of them had a column each,
    nothing between them, and the drawing was three cells too wide."""
    joined = {
        min(column[e.src], column[e.dst]) for e in edges if abs(column[e.src] - column[e.dst]) == 1
    }
    sizes = [0] * ncols
    for c in column.values():
        sizes[c] += 1
    free = [c for c in range(ncols - 1) if c not in joined and sizes[c] and sizes[c + 1]]
    if not free:
        return None
    at = min(free, key=lambda c: (sizes[c] + sizes[c + 1], -c))
    return {k: c if c <= at else c - 1 for k, c in column.items()}, ncols - 1


def _place(
    nodes: list[MapNode],
    edges: list[MapEdge],
    known: dict[str, MapNode],
    column: dict[str, int],
    ncols: int,
    selected: str | None,
    room: int | None,
    compacts: tuple[Compact, ...],
    merge: bool = False,
) -> tuple[MapDrawing, bool]:
    """The drawing of nodes in the columns given, the widest of compacts that fits room (else
    READABLE); and whether it fits. With merge, the arrows into one box share one line (its
    lane) and one arrowhead, those that leave one box backwards or past a column share one
    line out of it, and lines that share no row share a lane's cells across (_slot_lanes)."""
    # Rows: first column by name, later columns by the mean row of their predecessors.
    members: dict[int, list[str]] = defaultdict(list)
    for n in nodes:
        members[column[n.node_id]].append(n.node_id)
    row: dict[str, int] = {}
    preds: dict[str, list[str]] = defaultdict(list)
    for e in edges:
        preds[e.dst].append(e.src)
    for c in range(ncols):

        def weight(node_id: str, c: int = c) -> tuple[float, str]:
            placed = [row[p] for p in preds[node_id] if p in row and column[p] < c]
            mean = sum(placed) / len(placed) if placed else float("inf")
            return (mean, known[node_id].label.lower())

        for i, node_id in enumerate(sorted(members[c], key=weight)):
            row[node_id] = i
    nrows = max(row.values()) + 1

    # Ports: each arrow leaves and enters on its own row of the box side.
    outs: dict[str, list[int]] = defaultdict(list)
    ins: dict[str, list[int]] = defaultdict(list)
    for i, e in enumerate(edges):
        outs[e.src].append(i)
        ins[e.dst].append(i)
    for lst in outs.values():
        lst.sort(key=lambda i: (row[edges[i].dst], column[edges[i].dst], edges[i].label))
    for lst in ins.values():
        lst.sort(key=lambda i: (row[edges[i].src], column[edges[i].src], edges[i].label))

    def box_size(n: MapNode) -> tuple[int, int]:
        width = max(len(n.label), len(n.sublabel)) + 4
        inner = 2 if n.sublabel else 1
        inner = max(inner, len(outs[n.node_id]), 1 if merge else len(ins[n.node_id]))
        return width, inner + 2

    sizes = {n.node_id: box_size(n) for n in nodes}
    row_height = [0] * nrows
    for node_id, (_, h) in sizes.items():
        row_height[row[node_id]] = max(row_height[row[node_id]], h)

    # Which arrows are direct (next column) and which need a corridor.
    direct = [column[e.dst] == column[e.src] + 1 for e in edges]
    corridor_of = {i: row[e.dst] for i, e in enumerate(edges) if not direct[i]}
    tracks: dict[int, list[int]] = defaultdict(list)
    for i in sorted(corridor_of, key=lambda i: (corridor_of[i], column[edges[i].src], i)):
        tracks[corridor_of[i]].append(i)
    corridor_height = [max(1 if 0 < r < nrows else 0, len(tracks[r])) for r in range(nrows + 1)]
    corridor_height[0] = len(tracks[0])
    corridor_height[nrows] = 0

    row_y: list[int] = []
    y = 0
    for r in range(nrows):
        y += corridor_height[r]
        row_y.append(y)
        y += row_height[r]
    height = y

    def box_y(node_id: str) -> int:
        return row_y[row[node_id]]

    def exit_y(i: int) -> int:
        src = edges[i].src
        return box_y(src) + 1 + outs[src].index(i)

    def entry_y(i: int) -> int:
        dst = edges[i].dst
        return box_y(dst) + 1 + (0 if merge else ins[dst].index(i))

    def track_y(i: int) -> int:
        track = corridor_of[i]
        return row_y[track] - corridor_height[track] + tracks[track].index(i)

    # Gap g lies left of column g; gap ncols lies right of the last column. An arrow to the
    # next column is one lane (into); one that skips columns or goes back, two (out, into).
    into: dict[int, str] = {}
    out_of: dict[int, str] = {}
    lane_slot: dict[int, dict[str, int]] = {}
    if merge:
        gap_lanes: dict[int, dict[str, _Lane]] = defaultdict(dict)
        for i, e in enumerate(edges):
            g_in = column[e.dst]
            into[i] = f"in:{e.dst}"
            lane = gap_lanes[g_in].setdefault(into[i], _Lane(2 if not direct[i] else 1))
            lane.entries.add(entry_y(i))
            if direct[i]:
                lane.exits.add(exit_y(i))
                lane.cover(exit_y(i), entry_y(i))
            else:
                lane.cover(track_y(i), entry_y(i))
                out_of[i] = f"out:{e.src}"
                lane = gap_lanes[column[e.src] + 1].setdefault(out_of[i], _Lane(0))
                lane.exits.add(exit_y(i))
                lane.cover(exit_y(i), track_y(i))
        lane_slot = {g: _slot_lanes(lanes) for g, lanes in gap_lanes.items()}
    else:
        gap_items: dict[int, list[tuple[str, int | None, int | None, int]]] = defaultdict(list)
        for i, e in enumerate(edges):
            g_out = column[e.src] + 1
            if direct[i]:
                into[i] = f"{i}"
                gap_items[g_out].append((into[i], exit_y(i), entry_y(i), 1))
            else:
                out_of[i], into[i] = f"{i}:out", f"{i}:in"
                gap_items[g_out].append((out_of[i], exit_y(i), None, 0))
                gap_items[column[e.dst]].append((into[i], None, entry_y(i), 2))
        lane_slot = {
            g: {key: k for k, key in enumerate(_order_lanes(items))}
            for g, items in gap_items.items()
        }
    lanes_of = {g: max(slots.values(), default=-1) + 1 for g, slots in lane_slot.items()}

    def across(compact: Compact) -> _Across:
        """The columns, gaps and lanes across the drawing, its names as compact cuts them."""
        labels = [compact.arrow(e) for e in edges]
        names = {n.node_id: compact.box(n) for n in nodes}
        col_width = [0] * ncols
        for n in nodes:
            name, sub = names[n.node_id]
            c = column[n.node_id]
            col_width[c] = max(col_width[c], max(len(name), len(sub)) + 4)
        label_zone = [0] * (ncols + 1)
        for i, e in enumerate(edges):
            g_out = column[e.src] + 1
            label_zone[g_out] = max(label_zone[g_out], len(labels[i]) + 3)
        pitch = compact.pitch
        gap_width = [
            (label_zone[g] + pitch * lanes_of.get(g, 0) + (2 if g in (0, ncols) else 3))
            if lanes_of.get(g) or label_zone[g]
            else (0 if g in (0, ncols) else 4)
            for g in range(ncols + 1)
        ]
        col_x: list[int] = []
        x = 0
        for c in range(ncols):
            x += gap_width[c]
            col_x.append(x)
            x += col_width[c]
        gap_x = [0] + [col_x[c] + col_width[c] for c in range(ncols)]
        lane_x: dict[str, int] = {}
        for g, slots in lane_slot.items():
            base = gap_x[g] + label_zone[g] + 1
            for key, k in slots.items():
                lane_x[key] = base + pitch * k
        return _Across(x + gap_width[ncols], col_x, col_width, lane_x, labels, names)

    layout = across(compacts[0])
    narrowed = room is not None and layout.width > room
    if narrowed:
        for compact in compacts[1:]:
            layout = across(compact)
            if room is not None and layout.width <= room:
                break
        else:
            # Too wide whatever is cut: it scrolls, its names no shorter than READABLE.
            layout = across(READABLE)
    fits = room is None or layout.width <= room
    width, col_x, col_width, lane_x = layout.width, layout.col_x, layout.col_width, layout.lane_x
    edges = [replace(e, label=label) for e, label in zip(edges, layout.labels, strict=True)]
    nodes = [
        replace(n, label=layout.names[n.node_id][0], sublabel=layout.names[n.node_id][1])
        for n in nodes
    ]
    for n in nodes:
        sizes[n.node_id] = (max(len(n.label), len(n.sublabel)) + 4, sizes[n.node_id][1])

    canvas = Canvas(width, height)
    boxes: dict[str, Box] = {}
    for n in nodes:
        w, h = sizes[n.node_id]
        c = column[n.node_id]
        bx = col_x[c] + (col_width[c] - w) // 2
        boxes[n.node_id] = Box(n.node_id, bx, box_y(n.node_id), w, h, c, row[n.node_id])

    # The worst drawn last, on top.
    drawing_order = sorted(range(len(edges)), key=lambda i: -edges[i].verdict.rank)
    for i in drawing_order:
        e = edges[i]
        style = e.verdict.style
        src, dst = boxes[e.src], boxes[e.dst]
        ey, ny = exit_y(i), entry_y(i)
        sx = src.x + src.width
        dx = dst.x - 1
        if direct[i]:
            lx = lane_x[into[i]]
            canvas.hline(sx, lx, ey, style)
            canvas.vline(lx, ey, ny, style)
            canvas.hline(lx, dx, ny, style)
        else:
            ox, ix = lane_x[out_of[i]], lane_x[into[i]]
            ty = track_y(i)
            canvas.hline(sx, ox, ey, style)
            canvas.vline(ox, ey, ty, style)
            canvas.hline(ox, ix, ty, style)
            canvas.vline(ix, ty, ny, style)
            canvas.hline(ix, dx, ny, style)
        canvas.put(dx, ny, "▶", style)
        # The label sits beside the source box, on the arrow's own row.
        canvas.put(sx, ey, "─", style)
        canvas.text(sx + 1, ey, f" {e.label} ", f"{style} bold" if "bold" not in style else style)

    for n in nodes:
        box = boxes[n.node_id]
        node_style = NODE_STYLES.get(n.kind, "")
        is_sel = n.node_id == selected
        border = "bold bright_white" if is_sel else (node_style or "white")
        label_style = "bold reverse" if is_sel else (node_style or "bold")
        tl, tr, bl, br, hz, vt = "╭", "╮", "╰", "╯", "─", "│"
        if n.kind == "external":
            tl, tr, bl, br, hz, vt = "┌", "┐", "└", "┘", "╌", "╎"
        elif n.kind == "resource":
            tl, tr, bl, br, hz, vt = "┏", "┓", "┗", "┛", "━", "┃"
        if is_sel:
            tl, tr, bl, br, hz, vt = "╔", "╗", "╚", "╝", "═", "║"
        canvas.text(box.x, box.y, tl + hz * (box.width - 2) + tr, border)
        for yy in range(box.y + 1, box.y + box.height - 1):
            canvas.put(box.x, yy, vt, border)
            canvas.text(box.x + 1, yy, " " * (box.width - 2), "")
            canvas.put(box.x + box.width - 1, yy, vt, border)
        canvas.text(box.x, box.y + box.height - 1, bl + hz * (box.width - 2) + br, border)
        canvas.text(box.x + 2, box.y + 1, n.label.center(box.width - 4), label_style)
        if n.sublabel:
            canvas.text(box.x + 2, box.y + 2, n.sublabel.center(box.width - 4), "dim")
    # Ports on the box sides, so an arrow visibly starts at its box.
    for i, e in enumerate(edges):
        src = boxes[e.src]
        style = e.verdict.style
        canvas.put(src.x + src.width - 1, exit_y(i), "├", style)
    return MapDrawing(canvas, boxes, narrowed), fits


def draw(
    nodes: list[MapNode],
    edges: list[MapEdge],
    selected: str | None = None,
    *,
    max_columns: int = MAX_COLUMNS,
    room: int | None = None,
) -> MapDrawing:
    """Lays out and draws the map. Edges whose ends are not among nodes are skipped. Labels are
    escaped before they are measured (names come from the spans' resources).

    With room (the cells the map has across), a drawing wider than that is drawn narrower, as
    little as makes it fit (COMPACT): its lanes closer, then the arrows' mechanisms and the
    boxes' names cut (the edge table under it names them whole), down to the verdict's glyph
    alone on an arrow. A drawing that still does not fit is the narrowest of them."""
    nodes = [replace(n, label=safe(n.label), sublabel=safe(n.sublabel)) for n in nodes]
    known = {n.node_id: n for n in nodes}
    edges = [
        replace(e, label=safe(e.label))
        for e in edges
        if e.src in known and e.dst in known and e.src != e.dst
    ]
    if not nodes:
        return MapDrawing(Canvas(0, 0), {})
    layers = _layers([n for n in nodes if n.rank is None], edges)
    column: dict[str, int] = {}
    for n in nodes:
        column[n.node_id] = n.rank if n.rank is not None else layers[n.node_id]
    # Compact the column numbers (ranks may leave gaps).
    used = sorted(set(column.values()))
    remap = {c: i for i, c in enumerate(used)}
    column = {k: remap[v] for k, v in column.items()}
    ncols = len(used)
    if ncols > max_columns:
        column = {k: v * max_columns // ncols for k, v in column.items()}
        ncols = max_columns

    drawing, fits = _place(nodes, edges, known, column, ncols, selected, room, COMPACT[:MERGE_AT])
    if fits:
        return drawing
    # Too wide with its lanes one cell apart: the arrows into one box share one line, and
    # lines that share no row share their cells across, before any label is cut.
    drawing, fits = _place(
        nodes, edges, known, column, ncols, selected, room, COMPACT[:FOLD_AT], merge=True
    )
    drawing = replace(drawing, narrowed=True)
    # Still too wide, with every mechanism cut to its glyph: two columns that no arrow joins
    # (the other systems' components right, and the vendors right of them) are drawn as one,
    # as long as some are, before names are cut shorter than READABLE's.
    while not fits:
        folded = _fold(column, ncols, edges)
        if folded is None:
            break
        column, ncols = folded
        candidate, fits = _place(
            nodes, edges, known, column, ncols, selected, room, COMPACT[:FOLD_AT], merge=True
        )
        if candidate.canvas.width < drawing.canvas.width:
            drawing = replace(candidate, narrowed=True)
    if not fits:
        candidate, fits = _place(
            nodes, edges, known, column, ncols, selected, room, COMPACT, merge=True
        )
        if fits or candidate.canvas.width < drawing.canvas.width:
            drawing = replace(candidate, narrowed=True)
    return drawing
