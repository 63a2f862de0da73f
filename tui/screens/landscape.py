"""Level 1, the system landscape (a focus view of one system, or the whole landscape as a
matrix); and level 2, one system's components, resources and vendors."""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import replace
from typing import Any

from rich.text import Text
from textual import work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, ScrollableContainer, Vertical
from textual.message import Message
from textual.widgets import DataTable, Static

from seamscope.classifiers import read
from seamscope.classifiers.landscape import Landscape
from seamscope.classifiers.read import Filters, Overview, SystemView
from seamscope.classifiers.render import UNOWNED_LABEL
from seamscope.classifiers.results import Edge, Node, Verdict
from seamscope.tracer.access import Query
from seamscope.tracer.terminal import plural, safe
from seamscope.tui.screens.base import DataScreen, marks_of
from seamscope.tui.widgets.cells import (
    external_kind,
    fill_table,
    heading,
    key_under_cursor,
    short_node,
    verdict_counts,
)
from seamscope.tui.widgets.edgetable import EdgeTable
from seamscope.tui.widgets.focus_layout import (
    ARROW,
    CALLER_SIDES,
    Focus,
    FocusEdge,
    Neighbour,
)
from seamscope.tui.widgets.focusmap import FocusMap
from seamscope.tui.widgets.footer import SteadyFooter
from seamscope.tui.widgets.header import SteadyHeader
from seamscope.tui.widgets.landmap import LandscapeMap
from seamscope.tui.widgets.layout import MapEdge, MapNode, elide
from seamscope.tui.widgets.matrix import Cell, Matrix, MatrixView, describe_cell
from seamscope.tui.widgets.news import NewsBar
from seamscope.tui.widgets.tables import NavTable
from seamscope.tui.widgets.why import WHY_LEAST, WhyPane

ROLE_RANK = {"webapp": 0, "bff": 1, "backend": 2, "worker": 3, "job": 3}

UNOWNED = ""
"""The group of the AWS resources of no known owner, as the systems list keys its row and a
SystemScreen takes it for its system: read.unowned_view()'s system, which no system is named
(an empty namespace is none, and the landscape file refuses it)."""

NO_OWNER = "no known owner"
"""What a resource's box says of its owner when no known system owns it."""


NARROW = 120
"""Below this many columns a screen's list (the systems, a system's components, the resources of
no known owner) steps aside and the focus view takes the whole width: beside the list, at 100
columns, the view's boxes had some 16 cells ("provid…s-api"). The focus view steps through the
list's rows then: j k on its centre (FocusMap.Step), Enter on a neighbour walks there, `:` goes
to any by name."""


def step_list(table: NavTable, by: int) -> None:
    """The list's cursor by rows, as its own j k move it (its row highlighted then centres the
    row's system, component or resource); at the first or the last row it stays."""
    row = table.cursor_row + by
    if 0 <= row < table.row_count:
        table.move_cursor(row=row, animate=False)


RESOURCE_SIDES = ("nothing feeds it", "feeds nothing")
"""What the empty sides of a resource's focus view say: it calls nothing, it is fed or read
("calls nothing" was said of a table only read)."""


def is_unowned(node: Node) -> bool:
    """An AWS resource no known system owns (read.unowned_view() gathers them)."""
    return node.node_type == "resource" and node.system is None


def group_label(resources: int) -> str:
    """The group's row in the systems list: how many resources it holds, in brackets as no
    system's name is ("(no known owner: 1)" widened the list by half on a landscape of short
    names, taking the room the focus view's rows had for their labels)."""
    return f"(unowned: {resources:,})"


def aggregate(edges: Iterable[tuple[str, str, str, Verdict]]) -> list[MapEdge]:
    """One arrow per (from, to, mechanism), coloured by the worst verdict among its edges and
    labelled with its glyph too, which a terminal without colour (NO_COLOR) still shows."""
    worst: dict[tuple[str, str, str], Verdict] = {}
    for src, dst, mechanism, verdict in edges:
        key = (src, dst, mechanism)
        if key not in worst or verdict.rank < worst[key].rank:
            worst[key] = verdict
    return [MapEdge(s, d, f"{v.glyph} {m}", v) for (s, d, m), v in sorted(worst.items())]


def _worst(verdicts: Iterable[Verdict]) -> Verdict | None:
    return min(verdicts, key=lambda v: v.rank, default=None)


def _other_end(e: Edge, centre: str) -> tuple[str, str, str]:
    """(node id, name, kind) of the map box at the end of e that is not the centre system."""
    if e.from_system == centre and e.level != "external" and e.to_system:
        return (f"system:{e.to_system}", e.to_system, "system")
    if e.from_system == centre:
        kind = "external" if e.to_node.startswith("external:") else "resource"
        name = e.to_node.partition(":")[2] if kind == "external" else e.to_node
        return (e.to_node, name, kind)
    if e.from_system:
        return (f"system:{e.from_system}", e.from_system, "system")
    kind = "external" if e.from_node.startswith("external:") else "resource"
    return (e.from_node, e.from_node.partition(":")[2] if kind == "external" else e.from_node, kind)


def _detail(node_id: str, hosts: Mapping[str, str]) -> str:
    """The part of a node id a neighbour's box shows on an edge's row: its component."""
    if node_id.startswith("component:"):
        return node_id.partition("/")[2]
    return short_node(node_id, hosts)


def group_sides(group: SystemView) -> Iterator[tuple[str, int, Edge, str]]:
    """(system, side, edge, resource) of each row of the box of the resources of no known
    owner in a system's focus view: right where a component of the system writes, calls or
    sends to one of them, left where it reads or receives from one (a message through one: in
    the view of each end's system)."""
    resources = {n.node_id: n.name for n in group.nodes if is_unowned(n)}
    for e in group.edges:
        through = next((r for r in (e.to_node, e.from_node, e.via) if r in resources), None)
        if through is None:
            continue
        if e.from_system is not None and e.from_node not in resources:
            yield e.from_system, 1, e, resources[through]
        if e.to_system is not None and e.to_node not in resources:
            yield e.to_system, -1, e, resources[through]


def _unowned_ids(group: SystemView | None) -> frozenset[str]:
    return frozenset(n.node_id for n in group.nodes if is_unowned(n)) if group else frozenset()


def _through_unowned(e: Edge, unowned: frozenset[str]) -> bool:
    """Whether e is a message through a resource of no known owner (a bus, a queue) between two
    ends that are not it: in a system's focus view its row is in the box of those resources,
    not in the box of the other end's system as well."""
    return e.via in unowned and e.via not in (e.from_node, e.to_node)


def focus_of(
    view: Overview, system: str, group: SystemView | None = None
) -> tuple[Focus, tuple[Edge, ...]]:
    """The focus view of one system (callers left, callees right) and its edges, worst first.
    With group (read.unowned_view), the resources of no known owner its components use are one
    box more, which walks to them (below 120 columns the systems list, where their row is, is
    hidden); the table lists their edges inside the system too. A message to or from another
    system through one of them goes through that box, its row naming the resource and the
    other end, and not into the other system's box too: it was drawn twice, listed once."""
    mine = tuple(e for e in view.edges if system in (e.from_system, e.to_system))
    sides: dict[int, dict[str, tuple[str, str, list[FocusEdge], bool]]] = {-1: {}, 1: {}}
    unowned = _unowned_ids(group)
    for e in mine:
        if _through_unowned(e, unowned):
            continue  # drawn in the box of the resources of no known owner, below
        out = e.from_system == system and e.to_system != system
        node_id, name, kind = _other_end(e, system)
        side = sides[1 if out else -1]
        entry = side.setdefault(node_id, (name, kind, [], node_id in view.inferred))
        mechanism = e.mechanism + (" listen" if e.direction == "listen" else "")
        if kind == "system":
            detail = _detail(e.to_node if out else e.from_node, view.hosts)  # its component
        else:
            # A vendor or a resource is its box: its own name on each row said it once per
            # edge ("algolia (vendor)" twice); the centre's component tells the rows apart.
            detail = (
                f"from {_detail(e.from_node, view.hosts)}"
                if out
                else f"to {_detail(e.to_node, view.hosts)}"
            )
        entry[2].append(FocusEdge(e.edge_id, e.rule_id, mechanism, e.verdict, detail))
    listed = {e.edge_id for e in mine}
    more: dict[str, Edge] = {}
    for where, at, e, resource in group_sides(group) if group is not None else ():
        if where != system:
            continue
        entry = sides[at].setdefault(f"system:{UNOWNED}", (UNOWNED_LABEL, "resource", [], False))
        mechanism = e.mechanism + (" listen" if e.direction == "listen" else "")
        detail = resource
        if _through_unowned(e, unowned):  # where the message comes from, or goes on to
            if at > 0:
                detail = f"{resource}{ARROW}{short_node(e.to_node, view.hosts)}"
            else:
                detail = f"{short_node(e.from_node, view.hosts)}{ARROW}{resource}"
        entry[2].append(FocusEdge(e.edge_id, e.rule_id, mechanism, e.verdict, detail))
        if e.edge_id not in listed:
            more[e.edge_id] = e
    if more:
        mine = tuple(sorted((*mine, *more.values()), key=read.edge_order))

    def neighbours(side: int) -> tuple[Neighbour, ...]:
        found = [
            # A host that is no vendor says what it is where a resource says it has no owner.
            Neighbour(node_id, name, kind, tuple(edges), inferred, view.hosts.get(node_id, ""))
            for node_id, (name, kind, edges, inferred) in sides[side].items()
        ]
        return tuple(sorted(found, key=lambda n: (n.worst.rank, n.kind != "system", n.name)))

    components = view.components_per_system.get(system, 0)
    focus = Focus(
        centre=f"system:{system}",
        name=system,
        sublabel=plural(components, "component") if components else "",
        callers=neighbours(-1),
        callees=neighbours(1),
    )
    return focus, mine


def _end_box(node_id: str) -> tuple[str, str, str]:
    """(box id, name, kind) of an edge's end in the group's focus view: a component stands for
    its system (the group `?` for one of no known system), a vendor and a resource for
    themselves."""
    kind, _, rest = node_id.partition(":")
    if kind == "component":
        system = rest.partition("/")[0]
        return (f"system:{system}", system, "system")
    if kind == "external":
        return (node_id, rest, "external")
    return (node_id, node_id, "resource")


def unowned_focus(
    group: SystemView, inferred: frozenset[str] = frozenset()
) -> tuple[Focus, tuple[Edge, ...]]:
    """The focus view of the resources of no known owner, as a system's: left the systems (and
    vendors) whose components write, call or send to them, right those that read or receive
    from them; a row names the component and the resource. An edge through one of them (a
    message over a topic of no known owner) is on both sides: its producer left, its consumer
    right."""
    resources = {n.node_id: n for n in group.nodes if is_unowned(n)}
    sides: dict[int, dict[str, tuple[str, str, list[FocusEdge], bool]]] = {-1: {}, 1: {}}

    def add(side: int, end: str, e: Edge, resource: str) -> None:
        box, name, kind = _end_box(end)
        entry = sides[side].setdefault(box, (name, kind, [], box in inferred))
        mechanism = e.mechanism + (" listen" if e.direction == "listen" else "")
        component = end.partition("/")[2] if end.startswith("component:") else ""
        own = resources[resource].name
        if not component:  # a vendor's box: its rows name the resource alone
            detail = f"→ {own}" if side < 0 else f"{own} →"
        else:
            detail = f"{component}{ARROW}{own}" if side < 0 else f"{own}{ARROW}{component}"
        entry[2].append(FocusEdge(e.edge_id, e.rule_id, mechanism, e.verdict, detail))

    for e in group.edges:
        if e.to_node in resources:
            add(-1, e.from_node, e, e.to_node)
        elif e.from_node in resources:
            add(1, e.to_node, e, e.from_node)
        elif e.via in resources:
            add(-1, e.from_node, e, e.via)
            add(1, e.to_node, e, e.via)

    def neighbours(side: int) -> tuple[Neighbour, ...]:
        found = [
            Neighbour(node_id, name, kind, tuple(edges), is_inferred)
            for node_id, (name, kind, edges, is_inferred) in sides[side].items()
        ]
        return tuple(sorted(found, key=lambda n: (n.worst.rank, n.kind != "system", n.name)))

    focus = Focus(
        centre=f"system:{UNOWNED}",
        name=UNOWNED_LABEL,
        sublabel=plural(len(resources), "resource"),
        callers=neighbours(-1),
        callees=neighbours(1),
        empty=("nothing feeds them", "feeds nothing"),
    )
    return focus, group.edges


def unowned_focus_ends(group: SystemView) -> Iterator[tuple[str, int, str]]:
    """The (centre, side, neighbour) of each row in the group's focus view (unowned_focus)."""
    focus, _edges = unowned_focus(group)
    for side, neighbours in ((-1, focus.callers), (1, focus.callees)):
        for n in neighbours:
            for _ in n.edges:
                yield UNOWNED, side, n.node_id


def tallest_side(ends: Iterable[tuple[str, int, str]]) -> tuple[int, int]:
    """Of the focus views of several centres, given each edge as (centre, side, the node at
    its other end): the most lines a side of boxes takes (a box is its edges and its border)
    and the most edges of one centre."""
    boxes: dict[tuple[str, int], Counter[str]] = defaultdict(Counter)
    edges: Counter[str] = Counter()
    for centre, side, other in ends:
        boxes[(centre, side)][other] += 1
        edges[centre] += 1
    lines = max((sum(n + 2 for n in side.values()) for side in boxes.values()), default=0)
    return lines, max(edges.values(), default=0)


def system_focus_ends(
    view: Overview, group: SystemView | None = None
) -> Iterator[tuple[str, int, str]]:
    """The (centre, side, neighbour) of each edge in every system's focus view, as focus_of
    groups them (with group, the box of the resources of no known owner too)."""
    unowned = _unowned_ids(group)
    for e in view.edges:
        if _through_unowned(e, unowned):
            continue  # in the box of the resources of no known owner (group_sides)
        for system in {e.from_system, e.to_system}:
            if system is not None:
                out = e.from_system == system and e.to_system != system
                yield system, 1 if out else -1, _other_end(e, system)[0]
    for system, side, _e, _resource in group_sides(group) if group is not None else ():
        yield system, side, f"system:{UNOWNED}"


def fitted_top(wanted: int, table: int, pool: int, screen: int) -> int:
    """The height of a screen's top pane (the focus view or a drawing, beside a list) over its
    edge table, pool lines shared between the two: what the top shows needs (wanted), up to
    its usual share of the screen (TOP_SHARE) when the table needs the rest for its rows
    (table, its header included), past that when the table leaves room; never less than
    TOP_LEAST. Its fixed share left a focus view of a few boxes mostly blank, and a side one
    line short of its last box (that box hidden, ▼ 1 more, blank lines under the table)."""
    usual = screen * TOP_SHARE // 100
    return max(TOP_LEAST, min(wanted, max(usual, pool - table)))


def _bottom(screen: DataScreen[Any], pool: int, top: int, table: int) -> tuple[int, int]:
    """(the edge table's lines, the lines it leaves the reason pane) under a top of top lines,
    as fit_why shares them."""
    edges = screen.query_one("#edges", EdgeTable)
    pane = screen.query_one(WhyPane)
    own = edges.row_count + 1
    table = max(table, own)
    room = pool - top
    if own < table and room - own >= WHY_LEAST:
        if room - table < pane.needs(edges.edges) or room - own >= pane.needs_all(edges.edges):
            table = own
    if own > room and room - SCROLLED_WHY >= TABLE_LEAST:
        table = room - SCROLLED_WHY
    elif own > room and room - WHY_LEAST >= TABLE_SHORT:
        # Too few lines for both: the pane in what is over TABLE_SHORT, the first lines of
        # the reason (at 100x30 a hub's table had every line and no reason showed).
        table = max(TABLE_SHORT, room - SCROLLED_WHY)
    return table, room - table


def fit_why(screen: DataScreen[Any], pool: int, top: int, table: int) -> None:
    """The pane under a screen's edge table (the highlighted edge's reason whole, and what to
    do) in the lines the top (top lines) and the table's rows (table, its header included)
    leave of pool, where they leave WHY_LEAST or more: the table first. The table is as tall as
    the tallest centre's rows, so the pane stays put from one centre to the next, where that
    leaves the pane the lines to say the reason of each of the table's edges whole; else as
    tall as its own rows, the pane under them (on the demo at 100x30 a one-row table kept five
    blank lines over a pane of two, its reason cut). Under its own rows too where the pane says
    there all it has (what joined the ends, the figures, the rule's why and example) for each
    of them: it then ends in blank lines of its own, and the kept lines only parted a row from
    its reason (four blank lines under analytics' one edge at 220x60 on the demo). A table that
    scrolls even with every line gives SCROLLED_WHY of them to the pane where it keeps
    TABLE_LEAST (a hub of 60 edges showed no reason at 160x45 or 220x60); else, where no pane
    fits, the table has every line."""
    edges = screen.query_one("#edges", EdgeTable)
    pane = screen.query_one(WhyPane)
    table, left = _bottom(screen, pool, top, table)
    # Under a table that shows every row, the pane as tall as it needs for any of them (the
    # wrap of a scrolled hub's 60 reasons is not worked out: it has a few lines anyway).
    said = edges.edges if edges.row_count + 1 <= table else None
    if pane.fit(left, said):
        edges.styles.height = table
    else:
        edges.styles.clear_rule("height")  # its stylesheet's: every line


def fit_top(screen: DataScreen[Any], pool: int, wanted: int, own: int, table: int) -> int:
    """The top's height (fitted_top) over the edge table and its reason pane (fit_why), set on
    screen's #top: as tall as the tallest centre needs (wanted), so that it keeps its height
    from one centre to the next, unless the centre in view needs less than half of that, or
    that cuts the reason pane short: then down to what the centre in view needs (own), the
    lines it frees to the table and the pane. At 100x30 on the demo the
    focus view of providers kept four blank lines in its centre's box (the height of the
    resources of no known owner, three boxes a side) over a pane of two lines, its reason
    cut."""
    height = fitted_top(wanted, table, pool, screen.size.height)
    least = fitted_top(own, table, pool, screen.size.height)
    if own * 2 < wanted:
        # The centre in view would leave more than half of it blank: as tall as it needs. At
        # 220x60 a component of one edge kept the height of its system's hub, its box and
        # "no callers" in some twenty blank lines.
        height = least
    edges = screen.query_one("#edges", EdgeTable)
    # A table that scrolls even under the shorter top gives the pane the same lines either
    # way (SCROLLED_WHY): the pane's need is not worked out (a hub's 60 reasons wrapped).
    if least < height and edges.row_count + 1 <= pool - least:
        _table, left = _bottom(screen, pool, height, table)
        short = screen.query_one(WhyPane).needs(edges.edges) - left
        if short > 0:
            height = max(least, height - short)
    elif own > height and edges.row_count + 1 > pool - height:
        # The view and the table both scroll anyway (a hub): the pane takes from the view the
        # lines it needs to keep SCROLLED_WHY. At 100x30 on a generated store of 40 systems
        # the resources of no known owner (and web) kept a pane of two lines, the headline
        # alone, wrapped; the view then shows a box less of each side, which it scrolls to.
        _table, left = _bottom(screen, pool, height, table)
        if left < SCROLLED_WHY:
            height = max(TOP_LEAST, height - (SCROLLED_WHY - left))
    screen.query_one("#top").styles.height = height
    fit_why(screen, pool, height, table)
    return height


def scroll_hint(wide: bool, tall: bool) -> str | None:
    """What the bottom border of a drawing larger than its pane says: that it scrolls, and
    with which keys (the selection moves from box to box and the pane follows it). At 100x30
    the demo's inventory drawing ran past the pane's right border, its boxes cut there, with a
    scroll bar for the only sign."""
    if wide and tall:
        return "◂ ▸ ▴ ▾ wider and taller than the pane: h l j k go to the boxes out of view"
    if wide:
        return "◂ ▸ wider than the pane: h l go to the boxes out of view"
    if tall:
        return "▴ ▾ taller than the pane: j k go to the boxes out of view"
    return None


def show_why(screen: DataScreen[Any]) -> None:
    """The highlighted edge of the screen's edge table in the pane under it (WhyPane): from
    the record its row was made of, no query."""
    table = screen.query_one("#edges", EdgeTable)
    key = table.current_edge()
    screen.query_one(WhyPane).show_edge(
        next((e for e in table.edges if e.edge_id == key), None) if key else None
    )


SCROLLED_WHY = 6
"""The reason pane's lines under a table that scrolls anyway: the verdict, the reason and what
to do, most often whole."""
TABLE_LEAST = 10
"""The edge table's lines (its header included) that SCROLLED_WHY never takes."""
TABLE_SHORT = 5
"""The edge table's lines (its header and four rows) under which the pane under a table that
scrolls anyway never takes its lines, where TABLE_LEAST leaves it too few (WHY_LEAST)."""

TOP_SHARE = 55
"""The top pane's share of the screen, in percent, when it and the edge table both need more."""
TOP_LEAST = 8


def matrix_of(view: Overview) -> Matrix:
    """Every system by every system (and vendor it calls). The overview lists no edge to or from
    a resource of no known owner (its component's system counts it inside): no such column."""
    names: dict[str, str] = {}
    cells: dict[tuple[str, str], Cell] = {}
    rows: set[str] = {f"system:{s}" for s in view.systems}
    columns: set[str] = set(rows)
    for e in view.edges:
        if not e.from_system:
            continue
        row = f"system:{e.from_system}"
        column, name, _kind = _other_end(e, e.from_system)
        names[column] = name
        rows.add(row)
        columns.add(column)
        cells.setdefault((row, column), Cell(e.verdict)).add(e.verdict, e.rule_id)
    for tally in view.internal:
        key = (f"system:{tally.system}", f"system:{tally.system}")
        rows.add(key[0])
        columns.add(key[0])
        cell = cells.setdefault(key, Cell(tally.verdict))
        for _ in range(tally.edges):
            cell.add(tally.verdict, tally.rule_id)
    for node in rows | columns:
        names.setdefault(node, node.partition(":")[2] if node.startswith("system:") else node)
    ordered_rows = tuple(sorted(rows, key=lambda n: names[n]))
    systems_first = sorted(columns, key=lambda n: (not n.startswith("system:"), names[n]))
    return Matrix(ordered_rows, tuple(systems_first), names, cells)


class LandscapeScreen(DataScreen[Any]):
    """Level 1. The systems on the left; beside them the focus view of the highlighted one (its
    callers and callees), or with m the whole landscape as a matrix; below, the edges."""

    BINDINGS = [
        Binding("m", "toggle_view", "Matrix/focus"),
        Binding("backspace", "walk_back", "Walk back"),
    ]
    AUTO_FOCUS = "#systems"
    READS_HOSTS = False  # the overview has them (one round trip fewer through a live owner)

    def __init__(self) -> None:
        super().__init__()
        self.view: Overview | None = None
        self.centre: str | None = None  # the focused system's name
        self.mode = "focus"
        self.walked: list[str] = []  # systems walked from, for backspace
        self._merge = True  # the next fetch may merge changes into the view (r: read it all)
        self._matrix_shows: Overview | None = None  # the view the matrix shows
        self._listed = 0  # the edges the table lists in the focus view
        # The resources of no known owner with their edges (read.unowned_view), read after the
        # overview when it counts any (_load_group): the systems list's last row, centred as a
        # system is. Kept from one refresh to the next until the new one is read.
        self.group: SystemView | None = None
        self._group_filters: Filters | None = None  # those the group was read with
        self._shown_filters: Filters | None = None  # those of the view shown last

    def compose(self) -> ComposeResult:
        yield SteadyHeader()
        yield Static("", id="summary", classes="summary")
        with Horizontal(id="top"):
            yield NavTable(id="systems")
            yield FocusMap(id="focus")
            with Vertical(id="matrix-pane"):
                yield MatrixView(id="matrix")
                yield Static("", id="cell-info", classes="caption")
        yield Static("", id="edges-caption", classes="caption")
        with Vertical(id="bottom"):
            yield EdgeTable(id="edges")
            yield WhyPane(id="why")
        yield NewsBar()
        yield SteadyFooter()

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        """Backspace is offered once there is a walk to go back on."""
        if action == "walk_back":
            return bool(self.walked)
        return super().check_action(action, parameters)

    NARROW = NARROW
    """Below this many columns the focus view takes the whole width (the systems list would
    leave its rows no room for both labels); walk it, step with j k on its centre, or go to a
    system with `:`."""

    def on_resize(self) -> None:
        self._place_panes()
        if self.view is not None:
            self.query_one("#summary", Static).update(self._summary(self.view))
            if self.mode == "focus":
                self._caption(self._listed)

    MIN_EDGE_ROWS = 7
    """The edge table's height, at least, when the matrix grows to show all its rows."""

    def _fit_top(self) -> None:
        """The focus view (and the systems list) as tall as the tallest system's needs, which
        keeps it from changing height from one system to the next (fitted_top). The matrix
        grows past its usual share of the screen when that shows every row (and the legend),
        leaving the edge table MIN_EDGE_ROWS lines or more."""
        top = self.query_one("#top")
        pool = top.outer_size.height + self.query_one("#bottom").outer_size.height
        if pool <= 0 or self.view is None:
            return
        if self.mode == "matrix":
            # As tall as the matrix needs, the table under it as tall as the cell with the most
            # edges needs (it keeps its height from cell to cell), and the reason of its
            # highlighted edge (the cell's worst) in the lines left: at 220x60 the matrix kept
            # its share of the screen, 15 blank lines under the demo's 9 systems, and the
            # table 23 blank lines under its one row.
            matrix = self.query_one(MatrixView)
            wanted = matrix.wanted_height() + 3  # its border, the line under
            height = max(TOP_LEAST, min(wanted, pool - self.MIN_EDGE_ROWS))
            top.styles.height = height
            tallest = max((c.edges for c in matrix.matrix.cells.values()), default=0)
            fit_why(self, pool, height, tallest + 1)
            return
        lines, listed = tallest_side(system_focus_ends(self.view, self.group))
        if self.group is not None:
            group_lines, _ = tallest_side(unowned_focus_ends(self.group))
            lines, listed = max(lines, group_lines), max(listed, len(self.group.edges))
        wanted = lines + 4  # the centre's top and bottom lines, the pane's border
        own = self.query_one(FocusMap).wanted_height()
        if self.query_one("#systems").display:
            rows = len(self.view.systems) + (self.group is not None)
            wanted = max(wanted, rows + 1)  # the list's rows and header
            own = max(own, rows + 1)
        fit_top(self, pool, wanted, min(own, wanted), listed + 1)

    def _place_panes(self) -> None:
        self.call_after_refresh(self._fit_top)

    def on_edge_table_resized(self, message: EdgeTable.Resized) -> None:
        message.stop()
        self._fit_top()
        systems = self.query_one("#systems", NavTable)
        shown = self.mode == "focus" and self.size.width >= self.NARROW
        if systems.display != shown:
            had_focus = self.focused is systems
            systems.display = shown
            if had_focus and not shown:
                self.query_one(FocusMap).focus()

    def on_mount(self) -> None:
        systems = self.query_one("#systems", NavTable)
        systems.add_column("", key="verdict")
        systems.add_column("System", key="name")
        systems.add_column(heading("Edges"), key="edges")
        self.query_one("#matrix-pane").display = False
        super().on_mount()

    def forget(self) -> None:
        self._merge = False

    def fetch(self, q: Query) -> tuple[Overview, dict[str, str]]:
        # The marks come with the overview: one round trip fewer through a live owner. Given
        # the view on screen, only the edges changed since are read and merged into it.
        known, self._merge = (self.view if self._merge else None), True
        view = read.overview(q, self.filters, self.sapp.opened_at, known=known)
        return view, marks_of(view.changed)

    class GroupLoaded(Message):
        """The resources of no known owner, read after the overview."""

        def __init__(self, group: SystemView, filters: Filters) -> None:
            super().__init__()
            self.group = group
            self.filters = filters  # those it was read with

    @work(thread=True, exclusive=True, group="unowned")
    def _load_group(self) -> None:
        """Reads the resources of no known owner (their edges are inside the systems of their
        components, so the overview lists none of them) once the landscape is on screen: the
        systems and their edges are shown without waiting for a second read, which through a
        live owner waits its turn behind the classifier (a live refresh's p95 went from about
        230 to 470-620 ms on a 10M store while both came in one fetch)."""
        filters = self.filters
        try:
            group = self.source.run(lambda q: read.unowned_view(q, filters))
        except Exception as exc:  # a query error must not take the app down
            self.post_message(self.Failed(exc))
            return
        self.post_message(self.GroupLoaded(group, filters))

    def on_landscape_screen_group_loaded(self, message: GroupLoaded) -> None:
        message.stop()
        view = self.view
        if view is None or not view.unowned or message.filters != self.filters:
            return  # gone, or read under other filters, since it was asked for
        self.group, self._group_filters = message.group, message.filters
        # The user may have moved the cursor while the group was read, its highlight still
        # queued behind this message: the centre follows it, or the cursor would be put back.
        self._follow_systems_cursor(view)
        self._fill_systems(view)
        self._put_system_cursor()
        self._show_focus()
        self.call_after_refresh(self._fit_top)

    def new_spans(self, spans: int) -> bool:
        # Of what this screen shows only the span count comes from outside the classifier's
        # tables: the summary takes the new count, the rest stays.
        view = self.view
        if view is None or view.status != "ok" or self.loading:
            return False
        self.view = replace(view, span_count=spans)
        if self._matrix_shows is view:
            self._matrix_shows = self.view
        self.query_one("#summary", Static).update(self._summary(self.view))
        return True

    def show(self, payload: Any) -> None:
        view: Overview
        view, self.sapp.changed = payload
        if view.status != "ok":
            # This screen is popped at once: no title for its header to draw (Textual's Header
            # updates its title in a callback, which failed with NoMatches when it ran after
            # the header's children were taken down, and stopped the app; once in CI).
            self.sapp.show_empty(view.status, view.span_count)
            return
        self.sub_title = "System landscape"
        self.view = view
        self.sapp.hosts = view.hosts
        if not view.unowned or self._group_filters != self.filters:
            # Kept until the next read comes (a live refresh does not blink), but never as
            # read under other filters: its row counted edges a search excluded.
            self.group = None
        self.query_one("#summary", Static).update(self._summary(view))
        self._follow_systems_cursor(view)
        self._fill_systems(view)
        refiltered = self._shown_filters not in (None, self.filters)
        self._shown_filters = self.filters
        if not self._listed_row(self.centre) or (refiltered and not self._has_edges(view)):
            # A filter or a search that leaves the centre no edge moves it to the system it
            # leaves the worst ones (it stayed, the focus view and the table empty, while
            # the header counted what the search found elsewhere).
            self.centre = self._first_system(view)
        self._put_system_cursor()
        self._show_focus()
        self.call_after_refresh(self._fit_top)
        if view.unowned:
            self._load_group()
        # The matrix is made when it is shown: a refresh in the focus view (the landscape grown
        # to thousands of edges) does not go over every edge once more for a hidden widget.
        self._matrix_shows = None
        if self.mode == "matrix":
            self._show_matrix()
            self._show_cell()

    def _show_matrix(self) -> None:
        """The matrix of the view on screen, unless it already shows it."""
        if self.view is not None and self._matrix_shows is not self.view:
            self.query_one(MatrixView).show_matrix(matrix_of(self.view))
            self._matrix_shows = self.view
            self.call_after_refresh(self._fit_top)

    def _summary(self, view: Overview) -> Text:
        """The counts on the first line, the landscape and the filter on the second. Where the
        counts would wrap, the verdicts go by glyph alone (the help's legend names them), then
        the figures by their short words, so the second line is never pushed out of the
        header."""
        seen = {v: n for v, n in view.verdicts.items() if n}
        room = self.size.width - 2  # the summary's padding
        forms = [
            Text.assemble(self._figures(view, short=words), verdict_counts(seen, short=glyphs))
            for words, glyphs in ((False, False), (False, True), (True, True))
        ]
        first = next((t for t in forms if room <= 0 or t.cell_len <= room), forms[-1])
        note = Text.assemble(first, "\n", landscape_note(view, self.source.landscape))
        if self.filters.describe():
            note.append(f"   filter: {self.filters.describe()}", "italic")
        return note

    @staticmethod
    def _figures(view: Overview, *, short: bool) -> Text:
        """The systems, edges and spans counted: the group `?` is listed like a system and
        counted apart, as it is none."""
        known = sum(1 for s in view.systems if s != read.UNPLACED)
        figures = Text.assemble((plural(known, "system"), "bold"))
        if read.UNPLACED in view.systems:
            unplaced = view.components_per_system.get(read.UNPLACED, 0)
            figures.append(
                f" + {unplaced:,} in {read.UNPLACED}"
                if short
                else f" + {plural(unplaced, 'component')} of no known system ({read.UNPLACED})"
            )
        if view.unowned:
            figures.append(
                f" + {view.unowned:,} unowned"
                if short
                else f" + {plural(view.unowned, 'resource')} of {NO_OWNER}"
            )
        between = "between" if short else "between systems"
        figures.append(
            f" · {plural(view.edge_count, 'edge')} ({len(view.edges):,} {between})"
            f" · {plural(view.span_count, 'span')}  "
        )
        return figures

    def _has_edges(self, view: Overview) -> bool:
        """Whether the centre has an edge in view (between systems, or inside its own)."""
        centre = self.centre
        return (
            centre == UNOWNED
            or any(centre in (e.from_system, e.to_system) for e in view.edges)
            or any(t.system == centre and t.edges for t in view.internal)
        )

    def _first_system(self, view: Overview) -> str | None:
        """The system to start with: the one with the worst edges, then the most of them."""
        best: tuple[int, int, str] | None = None
        for name in view.systems:
            edges = [e for e in view.edges if name in (e.from_system, e.to_system)]
            worst = _worst(e.verdict for e in edges)
            key = (worst.rank if worst else 9, -len(edges), name)
            if best is None or key < best:
                best = key
        return best[2] if best else None

    def _fill_systems(self, view: Overview) -> None:
        per: dict[str, list[Verdict]] = {name: [] for name in view.systems}
        for e in view.edges:
            for name in {e.from_system, e.to_system}:
                if name in per:
                    per[name].append(e.verdict)
        for tally in view.internal:
            if tally.system in per:
                per[tally.system] += [tally.verdict] * tally.edges
        table = self.query_one("#systems", NavTable)
        names = [
            (name, name + (" ~" if f"system:{name}" in view.inferred else ""), verdicts)
            for name, verdicts in per.items()
        ]
        group = self.group
        if group is not None:
            # Last, after the systems: the resources of no known owner, counted, with the
            # worst verdict of every edge to, from or through them.
            label = group_label(view.unowned)
            names.append((UNOWNED, label, [e.verdict for e in group.edges]))
        width = max(10, min(24, max((len(label) for _, label, _ in names), default=10)))
        rows: list[tuple[str, list[str | Text]]] = []
        for key, label, verdicts in names:
            worst = _worst(verdicts)
            glyph = Text(worst.glyph, style=worst.style) if worst else Text("·", style="dim")
            rows.append(
                (key, [glyph, elide(label, width), Text(str(len(verdicts)), justify="right")])
            )
        fill_table(table, rows)

    def _listed_row(self, key: str | None) -> bool:
        """Whether the systems list has a row of key: a system, or the group of resources of no
        known owner."""
        if key is None or self.view is None:
            return False
        return key in self.view.systems or (key == UNOWNED and self.group is not None)

    def _follow_systems_cursor(self, view: Overview) -> None:
        """The system under the table's cursor is the centre: the user may have just moved it,
        its highlight message still queued, when new data comes (the message would then set
        the centre after the table was refilled, from a row that holds another system)."""
        under = key_under_cursor(self.query_one("#systems", NavTable))
        if under is not None and (under in view.systems or (under == UNOWNED and self.group)):
            self.centre = under

    def _put_system_cursor(self) -> None:
        if self.centre is None:
            return
        table = self.query_one("#systems", NavTable)
        try:
            row = table.get_row_index(self.centre)
        except Exception:
            return
        if table.cursor_row != row:
            table.move_cursor(row=row, animate=False)

    def _focus(self) -> tuple[Focus, tuple[Edge, ...]] | None:
        """The focus view of the centre (a system, or the group of resources of no known owner)
        and the edges the table lists with it."""
        view, centre = self.view, self.centre
        if view is None or centre is None:
            return None
        if centre == UNOWNED:
            if self.group is None:
                return None
            return unowned_focus(self.group, view.inferred)
        return focus_of(view, centre, self.group)

    def _show_focus(self, highlight: str | None = None) -> None:
        shown = self._focus()
        if shown is None:
            return
        focus, edges = shown
        fmap = self.query_one(FocusMap)
        fmap.show_focus(focus, highlight)
        if self.mode == "focus":
            self._fill_edges(edges, fmap.highlighted_edges)
            self._caption(len(edges))

    def _caption(self, listed: int) -> None:
        """What the table lists: the centre's edges with its neighbours. The systems list counts
        its edges inside too, which the table leaves out (the system's screen lists them): the
        caption says how many, so the figures add up."""
        view, centre = self.view, self.centre
        if view is None or centre is None:
            return
        if centre == UNOWNED:
            self._group_caption(listed)
            return
        # The table lists those of its edges inside it that go to, from or through a resource
        # of no known owner (their box in the focus view): not counted again.
        between = sum(1 for e in view.edges if centre in (e.from_system, e.to_system))
        inside = sum(t.edges for t in view.internal if t.system == centre)
        inside = max(0, inside - (listed - between))
        more = f"{inside:,} more inside {centre}"
        forms = [
            f"{plural(listed, 'edge')} between {centre} and the systems, vendors and resources "
            "it calls or is called by",
            f"{plural(listed, 'edge')} between {centre} and its neighbours",
        ]
        if inside:
            forms = [
                f"{forms[0]} · {more}, listed when you open it",
                f"{forms[1]} · {more}, listed when you open it",
                f"{forms[1]} · {more}",
                f"{listed:,} with neighbours · {inside:,} inside",
            ]
        self._listed = listed
        self._put_caption(forms)

    def _put_caption(self, forms: list[str]) -> None:
        """The line over the edge table: the first of forms (longest first) that fits."""
        room = self.size.width - 2  # the caption's padding
        text = next((f for f in forms if len(f) <= room), forms[-1])
        self.query_one("#edges-caption", Static).update(Text(safe(text)))

    def _group_caption(self, listed: int) -> None:
        """What the table lists when the group of resources of no known owner is the centre."""
        count = self.view.unowned if self.view else 0
        resources = "the resource" if count == 1 else f"the {plural(count, 'resource')}"
        opens = "it, with its edges" if count == 1 else "them, each with its edges"
        forms = [
            f"{plural(listed, 'edge')} to, from or through {resources} of {NO_OWNER} · "
            f"Enter opens {opens}",
            f"{plural(listed, 'edge')} to, from or through {resources} of {NO_OWNER}",
            f"{plural(listed, 'edge')} of {resources} of {NO_OWNER}",
        ]
        self._listed = listed
        self._put_caption(forms)

    def _fill_edges(self, edges: tuple[Edge, ...], near: tuple[str, ...] = ()) -> None:
        """The edges in the table; the cursor on the first of near (the highlighted box's)."""
        table = self.query_one("#edges", EdgeTable)
        table.set_edges(edges, self.sapp.change_marks(edges))
        for e in edges:
            if e.edge_id in near:
                table.put_cursor_on(e.edge_id)
                break
        show_why(self)
        self.call_after_refresh(self._fit_top)  # the table and its pane follow its rows

    # ---- the systems list ------------------------------------------------------------------

    def on_data_table_row_highlighted(self, event: DataTable.RowHighlighted) -> None:
        # A key may be "": the group of resources of no known owner (UNOWNED).
        key = event.row_key.value
        if event.data_table.id == "edges":
            show_why(self)
            return
        if event.data_table.id != "systems" or key is None:
            return
        if key_under_cursor(event.data_table) != key:
            return  # stale: the cursor moved on, or the table was refilled, since
        if key != self.centre:
            self.centre = key
            self._show_focus()

    def on_data_table_row_selected(self, event: DataTable.RowSelected) -> None:
        key = event.row_key.value
        if key is None:
            return
        if event.data_table.id == "systems":
            self.sapp.open_system(key)
        elif event.data_table.id == "edges" and key:
            self.sapp.open_edge(key)

    # ---- the focus view --------------------------------------------------------------------

    def on_focus_map_step(self, event: FocusMap.Step) -> None:
        step_list(self.query_one("#systems", NavTable), event.by)

    def on_focus_map_highlighted(self, event: FocusMap.Highlighted) -> None:
        shown = self._focus()
        if shown is not None:
            self._fill_edges(shown[1], event.edge_ids)

    def on_focus_map_chosen(self, event: FocusMap.Chosen) -> None:
        kind, _, name = event.node_id.partition(":")
        if event.centre:
            self.sapp.open_system(name)  # "system:" for the group: UNOWNED
        elif kind == "system":
            self.walk_to(name)
        elif self.centre == UNOWNED:
            # A vendor that writes one of them: its rows, in the table.
            table = self.query_one("#edges", EdgeTable)
            for edge_id in self.query_one(FocusMap).highlighted_edges:
                table.put_cursor_on(edge_id)
                table.focus()
                break
        elif self.centre is not None:
            self.sapp.open_pair(f"system:{self.centre}", event.node_id)

    def walk_to(self, system: str) -> None:
        """Makes system the centre, keeping where it came from for backspace."""
        if self.centre is not None and self.centre != system:
            self.walked.append(self.centre)
            self.refresh_bindings()
        came_from = self.centre
        self.centre = system
        self._put_system_cursor()
        self._show_focus(highlight=f"system:{came_from}" if came_from is not None else None)

    def action_walk_back(self) -> None:
        if self.walked:
            back = self.walked.pop()
            self.refresh_bindings()
            came_from = self.centre
            self.centre = back
            self._put_system_cursor()
            self._show_focus(highlight=f"system:{came_from}" if came_from is not None else None)

    # ---- the matrix ------------------------------------------------------------------------

    def action_toggle_view(self) -> None:
        self.mode = "matrix" if self.mode == "focus" else "focus"
        matrix = self.mode == "matrix"
        self.query_one("#matrix-pane").display = matrix
        self.query_one("#edges-caption").display = not matrix  # the line under the matrix says
        self._place_panes()
        self.query_one(FocusMap).display = not matrix
        if matrix:
            self._show_matrix()
            if self.centre is not None:
                self.query_one(MatrixView).put_cursor(f"system:{self.centre}")
            self.query_one(MatrixView).focus()
            self._show_cell()
        else:
            current = self.query_one(MatrixView).current
            if current is not None and current[0].startswith("system:"):
                self.centre = current[0].partition(":")[2]
                self._put_system_cursor()
            self._show_focus()
            # The list is back beside the focus view from NARROW columns (the matrix hid it):
            # said now, not at the table's next resize, which came after this and sent the
            # keys to the focus view (m, m at 160 columns moved them off the list).
            systems = self.query_one("#systems")
            systems.display = self.size.width >= self.NARROW
            (systems if systems.display else self.query_one(FocusMap)).focus()

    def _show_cell(self) -> None:
        matrix_view = self.query_one(MatrixView)
        current = matrix_view.current
        info = self.query_one("#cell-info", Static)
        if current is None or self.view is None:
            info.update("")
            self._fill_edges(())
            return
        row, column = current
        info.update(Text(safe(describe_cell(matrix_view.matrix, row, column), lines=True)))
        self._fill_edges(self._pair(row, column))
        if row == column and (row, column) in matrix_view.matrix.cells:
            self._load_inside(row.partition(":")[2])

    class InsideLoaded(Message):
        """The edges inside a system, for the matrix's diagonal cell."""

        def __init__(self, system: str, edges: tuple[Edge, ...]) -> None:
            super().__init__()
            self.system = system
            self.edges = edges

    @work(thread=True, exclusive=True, group="inside")
    def _load_inside(self, system: str) -> None:
        """The overview only counts a system's own edges: they are read when its cell is shown."""
        filters = self.filters
        try:
            node = f"system:{system}"
            edges = self.source.run(lambda q: read.pair_edges(q, node, node, filters))
        except Exception as exc:  # a query error must not take the app down
            self.post_message(self.Failed(exc))
            return
        self.post_message(self.InsideLoaded(system, edges))

    def on_landscape_screen_inside_loaded(self, message: InsideLoaded) -> None:
        message.stop()
        current = self.query_one(MatrixView).current
        if self.mode == "matrix" and current == (f"system:{message.system}",) * 2:
            self._fill_edges(message.edges)

    def _pair(self, row: str, column: str) -> tuple[Edge, ...]:
        view = self.view
        if view is None:
            return ()
        system = row.partition(":")[2]
        if row == column:
            return ()  # inside the system: read when shown (_load_inside)
        return tuple(
            e for e in view.edges if e.from_system == system and _other_end(e, system)[0] == column
        )

    def on_matrix_view_moved(self, event: MatrixView.Moved) -> None:
        self._show_cell()

    def on_matrix_view_chosen(self, event: MatrixView.Chosen) -> None:
        if event.row == event.column:
            self.sapp.open_system(event.row.partition(":")[2])
        else:
            self.sapp.open_pair(event.row, event.column)


def landscape_note(view: Overview, given: Landscape | None) -> Text:
    """Which landscape the labels were made with, and whether anything was inferred (~).

    The store keeps the path of the file it was labelled with, as that run named it; a file of
    the same contents elsewhere (a copy, the same file from another working directory) labels
    nothing again, so that path can name another file than this session's: where the labels
    match the file this session was given, the note names that file."""
    mark = view.mark
    used = (mark.landscape_path if mark else None) or ""
    inferred = f" · ~ {len(view.inferred)} inferred" if view.inferred else ""
    if given is not None and mark is not None and mark.landscape != given.fingerprint():
        return Text(
            f"labels from the owner's landscape {used or '(none)'}, not {given.path}{inferred}",
            "bold yellow",
        )
    if given is not None and given.path:
        used = given.path
    if not used:
        return Text(f"no landscape file: owners, roles, vendors inferred{inferred}", "italic")
    return Text(f"landscape {used}{inferred}", "dim")


def _drawn_pairs(view: SystemView) -> list[tuple[str, str, str, Verdict]]:
    """(from, to, mechanism, verdict) of each arrow of a system's drawing. In the drawing of the
    resources of no known owner, an edge through one of them (a message over a topic) is two
    arrows, producer to resource and resource to consumer: the resource is what it shows."""
    if view.system != UNOWNED:
        return [(e.from_node, e.to_node, e.mechanism, e.verdict) for e in view.edges]
    unowned = {n.node_id for n in view.nodes if is_unowned(n)}
    pairs: list[tuple[str, str, str, Verdict]] = []
    for e in view.edges:
        if e.via in unowned and e.via not in (e.from_node, e.to_node):
            pairs += [(e.from_node, e.via, e.mechanism, e.verdict)]
            pairs += [(e.via, e.to_node, e.mechanism, e.verdict)]
        else:
            pairs.append((e.from_node, e.to_node, e.mechanism, e.verdict))
    return pairs


def system_graph(
    view: SystemView, hosts: Mapping[str, str] | None = None
) -> tuple[list[MapNode], list[MapEdge]]:
    """The boxes and arrows of a system's drawing; hosts (read.unknown_hosts): the external
    nodes that are no vendor, whose boxes say what they are instead."""
    known: dict[str, Node] = {n.node_id: n for n in view.nodes}
    pairs = _drawn_pairs(view)
    ids = sorted({p[0] for p in pairs} | {p[1] for p in pairs} | set(known))
    if view.system == UNOWNED:
        # What writes, calls or sends to them on the left of the resources, the rest right.
        calls_in = {src for src, dst, _, _ in pairs if dst in known and is_unowned(known[dst])}
    else:
        calls_in = {e.from_node for e in view.edges if e.to_system == view.system}
    nodes: list[MapNode] = []
    for node_id in ids:
        node = known.get(node_id)
        kind_prefix = node_id.partition(":")[0]
        if node is not None and node.node_type == "component" and node.system == view.system:
            role = node.role or "backend"
            nodes.append(
                MapNode(node_id, node.name, role, kind="component", rank=1 + ROLE_RANK.get(role, 2))
            )
        elif kind_prefix == "external" or (node is not None and node.node_type == "external"):
            name = node.name if node else node_id.partition(":")[2]
            nodes.append(
                MapNode(node_id, name, external_kind(node_id, hosts), kind="external", rank=7)
            )
        elif kind_prefix == "component" or (node is not None and node.node_type == "component"):
            name = node.name if node else node_id.partition("/")[2] or node_id
            system = node.system if node else node_id.partition(":")[2].partition("/")[0]
            rank = 0 if node_id in calls_in else 6
            nodes.append(MapNode(node_id, name, f"system {system}", kind="foreign", rank=rank))
        else:
            name = node.name if node else node_id.partition("/")[2] or node_id
            kind = node.resource_kind if node and node.resource_kind else kind_prefix
            owner = node.system if node else None
            if node is not None and is_unowned(node):
                sub = f"{kind} · {NO_OWNER}"  # it said its kind alone, as an owned one does
            elif owner in (None, view.system):
                sub = kind
            else:
                sub = f"{kind} of {owner}"
            nodes.append(MapNode(node_id, name, sub, kind="resource", rank=5))
    return nodes, aggregate(pairs)


def carried_only(view: SystemView) -> set[str]:
    """The resources that only carry listening edges (a queue, a topic, a stream): each such
    edge is drawn as one arrow from producer to consumer, named by its mechanism, and the
    resource's own box had no arrow, drawn at the foot of the drawing as if unused (a third of
    the height of a system of dozens of edges). The drawing of the resources of no known owner
    keeps them all: there the edges go through them (_drawn_pairs)."""
    if view.system == UNOWNED:
        return set()
    ends = {n for e in view.edges for n in (e.from_node, e.to_node)}
    return {e.via for e in view.edges if e.via and e.via not in ends}


def _focus_ends(e: Edge, node: str) -> Iterator[tuple[str, int, str]]:
    """(centre, side, the neighbour there) of edge e in the focus view of node, one of its ends
    or the resource it goes through (on both sides: component_focus)."""
    if node == e.from_node:
        yield node, 1, e.to_node
    elif node == e.to_node:
        yield node, -1, e.from_node
    else:
        yield node, -1, e.from_node
        yield node, 1, e.to_node


def _node_box(node_id: str, node: Node | None, system: str) -> tuple[str, str]:
    """(name, kind) of a node as a neighbour's box in a system's focus view."""
    kind = node_id.partition(":")[0]
    if kind == "component":
        own, _, name = node_id.partition(":")[2].partition("/")
        return (name if own == system else f"{own}/{name}", "system")
    if kind == "external":
        return (node.name if node else node_id.partition(":")[2], "external")
    return (node_id, "resource")


def component_focus(
    view: SystemView, node_id: str, hosts: Mapping[str, str] | None = None
) -> tuple[Focus, tuple[Edge, ...]]:
    """The focus view of one component (or, among the resources of no known owner, of one
    resource): what calls it (or feeds it) left, what it calls right. An edge through the
    resource (a message over it) is on both sides: its producer left, its consumer right."""
    known = {n.node_id: n for n in view.nodes}
    mine = tuple(e for e in view.edges if node_id in (e.from_node, e.to_node, e.via))
    sides: dict[int, dict[str, list[FocusEdge]]] = {-1: {}, 1: {}}
    for e in mine:
        mechanism = e.mechanism + (" listen" if e.direction == "listen" else "")
        row = FocusEdge(e.edge_id, e.rule_id, mechanism, e.verdict, mechanism)
        if node_id not in (e.from_node, e.to_node):  # it carries the edge
            sides[-1].setdefault(e.from_node, []).append(row)
            sides[1].setdefault(e.to_node, []).append(row)
            continue
        out = e.from_node == node_id
        sides[1 if out else -1].setdefault(e.to_node if out else e.from_node, []).append(row)

    def neighbours(side: int) -> tuple[Neighbour, ...]:
        found = []
        for other, edges in sides[side].items():
            node = known.get(other)
            name, kind = _node_box(other, node, view.system)
            note = NO_OWNER if node is not None and is_unowned(node) else ""
            if kind == "external":
                note = (hosts or {}).get(other, "")
            inferred = bool(node and node.inferred)
            found.append(Neighbour(other, name, kind, tuple(edges), inferred, note))
        return tuple(sorted(found, key=lambda n: (n.worst.rank, n.kind != "system", n.name)))

    node = known.get(node_id)
    name, _ = _node_box(node_id, node, view.system)
    if node is not None and is_unowned(node):
        sublabel = NO_OWNER
    else:
        sublabel = (node.role or "") if node else ""
    focus = Focus(
        centre=node_id,
        name=name,
        sublabel=sublabel,
        callers=neighbours(-1),
        callees=neighbours(1),
        empty=RESOURCE_SIDES if node is not None and node.node_type == "resource" else CALLER_SIDES,
    )
    return focus, mine


class SystemScreen(DataScreen[Any]):
    """Level 2: one system's components on the left; beside them the highlighted component in
    focus (what calls or feeds it left, what it calls right); with m, the whole system as a
    layered drawing; below, the edges."""

    BINDINGS = [
        Binding("m", "toggle_map", "Map/focus"),
        Binding("backspace", "walk_back", "Walk back"),
    ]
    AUTO_FOCUS = "#components"

    def __init__(self, system: str, select: str | None = None) -> None:
        super().__init__()
        self.system = system
        self.select = select  # a node to highlight first (go to a component)
        self.view: SystemView | None = None
        self.centre: str | None = None  # the focused component's node id
        self.walked: list[str] = []
        self.map_node_of: dict[str, str] = {}  # edge id -> the map box it starts from

    def compose(self) -> ComposeResult:
        yield SteadyHeader()
        yield Static("", id="summary", classes="summary")
        with Horizontal(id="top"):
            yield NavTable(id="components")
            yield FocusMap(id="focus")
            with ScrollableContainer(id="map-pane", can_focus=False):
                yield LandscapeMap(id="map")
        yield Static("", id="edges-caption", classes="caption")
        with Vertical(id="bottom"):
            yield EdgeTable(id="edges")
            yield WhyPane(id="why")
        yield NewsBar()
        yield SteadyFooter()

    def on_mount(self) -> None:
        table = self.query_one("#components", NavTable)
        table.add_column("", key="verdict")
        table.add_column("Resource" if self.system == UNOWNED else "Component", key="name")
        table.add_column(heading("Edges"), key="edges")
        self.query_one("#map-pane").display = False
        super().on_mount()

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        """Backspace is offered once there is a walk to go back on."""
        if action == "walk_back":
            return bool(self.walked)
        return super().check_action(action, parameters)

    @property
    def heading(self) -> str:
        """The system's name, or what the group of resources of no known owner is."""
        return f"Resources of {NO_OWNER}" if self.system == UNOWNED else f"System {self.system}"

    def fetch(self, q: Query) -> tuple[SystemView, dict[str, str]]:
        if self.system == UNOWNED:
            return read.unowned_view(q, self.filters), self.marks(q)
        return read.system_view(q, self.system, self.filters), self.marks(q)

    def _members(self, view: SystemView) -> list[Node]:
        """The list's rows: the system's components; the resources of no known owner."""
        if self.system == UNOWNED:
            return sorted((n for n in view.nodes if is_unowned(n)), key=lambda n: n.name)
        components = [
            n for n in view.nodes if n.node_type == "component" and n.system == self.system
        ]
        return sorted(components, key=lambda n: (ROLE_RANK.get(n.role or "", 2), n.name))

    def show(self, payload: Any) -> None:
        view: SystemView
        first = self.view is None
        view, self.sapp.changed = payload
        self.view = view
        self.sub_title = safe(self.heading)
        nodes, arrows = system_graph(view, self.sapp.hosts)
        self.map_node_of = {e.edge_id: e.from_node for e in view.edges}
        members = self._members(view)
        resources = sum(1 for n in nodes if n.kind == "resource")
        vendors = sum(1 for n in nodes if n.kind == "external" and n.node_id not in self.sapp.hosts)
        hosts = Counter(self.sapp.hosts[n.node_id] for n in nodes if n.node_id in self.sapp.hosts)
        inferred = sum(1 for n in view.nodes if n.inferred)
        if self.system == UNOWNED:
            # Their components are other systems': counted by system, which Enter opens.
            systems = {n.system for n in view.nodes if n.node_type == "component"}
            counts = f"{plural(len(members), 'resource')} · {plural(len(systems), 'system')}"
        else:
            counts = f"{plural(len(members), 'component')} · {plural(resources, 'resource')}"
        note = Text.assemble(
            (safe(self.heading), "bold"),
            f" · {counts} · {plural(vendors, 'vendor')}",
            "".join(f" · {plural(n, what)}" for what, n in sorted(hosts.items())),
            f" · {plural(len(view.edges), 'edge')}",
            (f" · ~ {inferred} inferred" if inferred else "", "yellow"),
        )
        if self.filters.describe():
            note.append(f"   filter: {self.filters.describe()}", "italic")
        self.query_one("#summary", Static).update(note)
        rows: list[tuple[str, list[str | Text]]] = []
        for n in members:
            verdicts = [
                e.verdict for e in view.edges if n.node_id in (e.from_node, e.to_node, e.via)
            ]
            worst = _worst(verdicts)
            glyph = Text(worst.glyph, style=worst.style) if worst else Text("·", style="dim")
            label = f"{n.name}{' ~' if n.inferred else ''}"
            rows.append((n.node_id, [glyph, label, Text(str(len(verdicts)), justify="right")]))
        table = self.query_one("#components", NavTable)
        under = key_under_cursor(table)  # the user's move, its highlight maybe still queued
        if under is not None and self.select is None:
            self.centre = under
        fill_table(table, rows)
        ids = [key for key, _ in rows]
        if self.select is not None and self.select in ids:
            self.centre, self.select = self.select, None
        if self.centre not in ids:
            self.centre = ids[0] if ids else None
        self._put_cursor()
        landmap = self.query_one(LandscapeMap)
        drawing = bool(self.query_one("#map-pane").display)
        if first and drawing and self.centre is not None:
            # m pressed before the system was read: the drawing opens on the component in
            # focus, as it does once read (it opened on the first box by name).
            landmap.selected = self.centre
            self.call_after_refresh(landmap.reveal)
        carried = carried_only(view)
        landmap.set_graph(
            [n for n in nodes if n.node_id not in carried],
            arrows,
            draw_now=drawing,
        )
        self._title_map()
        self._show_focus()
        self.call_after_refresh(self._fit_top)

    def on_resize(self) -> None:
        self.call_after_refresh(self._fit_top)

    def on_edge_table_resized(self, message: EdgeTable.Resized) -> None:
        message.stop()
        self._place_list()
        self._fit_top()

    def _place_list(self) -> None:
        """The list beside the focus view (or the drawing) from NARROW columns; below, the
        view has the width and the keys (j k on its centre step through the list's rows)."""
        members = self.query_one("#components", NavTable)
        shown = self.size.width >= NARROW
        if members.display == shown:
            return
        had_focus = self.focused is members
        members.display = shown
        if had_focus and not shown:
            drawing = self.query_one("#map-pane").display
            (self.query_one(LandscapeMap) if drawing else self.query_one(FocusMap)).focus()

    def on_focus_map_step(self, event: FocusMap.Step) -> None:
        step_list(self.query_one("#components", NavTable), event.by)

    def _fit_top(self) -> None:
        """The focus view (and the components list) as tall as the tallest component's needs;
        the whole system's drawing as tall as it is (fitted_top). Its pane was at most 60% of
        the top, which left a drawing cut short over blank lines of the top."""
        view = self.view
        top = self.query_one("#top")
        pool = top.outer_size.height + self.query_one("#bottom").outer_size.height
        if view is None or pool <= 0:
            return
        if self.query_one("#map-pane").display:
            pane = self.query_one("#map-pane", ScrollableContainer)
            landmap = self.query_one(LandscapeMap)
            landmap.fit_room(pane.scrollable_content_region.width - 2)  # its padding
            canvas = landmap.drawing.canvas
            wide = canvas.width + 2 > pane.scrollable_content_region.width  # its padding
            wanted = canvas.height + 2 + (pane.styles.scrollbar_size_horizontal if wide else 0)
            table = len(view.edges) + 1
        else:
            ids = self._component_ids()
            ends = (
                end
                for e in view.edges
                for node in ids & {e.from_node, e.to_node, e.via}
                for end in _focus_ends(e, node)
            )
            lines, listed = tallest_side(ends)
            wanted = lines + 4  # the focus view
            own = self.query_one(FocusMap).wanted_height()
            if self.query_one("#components").display:
                wanted = max(wanted, len(ids) + 1)  # the list's rows and header
                own = max(own, len(ids) + 1)
            table = listed + 1
            fit_top(self, pool, wanted, min(own, wanted), table)
            return
        height = fitted_top(wanted, table, pool, self.size.height)
        top.styles.height = height
        fit_why(self, pool, height, table)
        if self.query_one("#map-pane").display:
            pane.border_subtitle = scroll_hint(wide, wanted > height)

    def _component_ids(self) -> set[str]:
        """The list's rows (_members): the components, or the resources of no known owner."""
        view = self.view
        if view is None:
            return set()
        return {n.node_id for n in self._members(view)}

    def _put_cursor(self) -> None:
        table = self.query_one("#components", NavTable)
        if self.centre is None:
            return
        try:
            row = table.get_row_index(self.centre)
        except Exception:
            return
        if table.cursor_row != row:
            table.move_cursor(row=row, animate=False)

    def _show_focus(self, highlight: str | None = None) -> None:
        if self.view is None:
            return
        table = self.query_one("#edges", EdgeTable)
        caption = self.query_one("#edges-caption", Static)
        everything = self.view.edges
        whole = f"the resources of {NO_OWNER}" if self.system == UNOWNED else self.system
        if self.centre is None:
            caption.update(Text(safe(f"All {plural(len(everything), 'edge')} of {whole}")))
            table.set_edges(everything, self.sapp.change_marks(everything))
            show_why(self)
            return
        focus, edges = component_focus(self.view, self.centre, self.sapp.hosts)
        fmap = self.query_one(FocusMap)
        fmap.show_focus(focus, highlight)
        if self.query_one("#map-pane").display:
            edges = everything
            caption.update(Text(safe(f"All {plural(len(edges), 'edge')} of {whole}")))
        elif self.system == UNOWNED:
            caption.update(Text(safe(self._resource_caption(len(edges), len(everything)))))
        else:
            # The summary above counts the whole system's edges; the table, the focused one's.
            caption.update(
                Text(
                    safe(
                        f"{plural(len(edges), 'edge')} of {focus.name}, the component in focus "
                        f"({len(everything):,} in all of {self.system}; m shows them all)"
                    )
                )
            )
        table.set_edges(edges, self.sapp.change_marks(edges))
        for edge_id in fmap.highlighted_edges:
            table.put_cursor_on(edge_id)
            break
        show_why(self)
        self.call_after_refresh(self._fit_top)  # the table and its pane follow its rows

    def _resource_caption(self, listed: int, everything: int) -> str:
        """The caption over the edges of the resource in focus, among those of no known owner:
        why it has none (its node's inference: "written by several systems (orders, users)"),
        which is what to mend in the landscape file, cut to the room there is."""
        view, centre = self.view, self.centre
        node = next((n for n in view.nodes if n.node_id == centre), None) if view else None
        name = node.name if node else str(centre)
        why = (node.inference or "") if node else ""
        edges = f"{plural(listed, 'edge')} of {name}"
        forms = [
            f"{edges} · {why} · {everything:,} in all (m shows them all)",
            f"{edges} · {why}",
            f"{edges} ({everything:,} in all; m shows them all)",
            edges,
        ]
        if not why:
            forms = forms[2:]
        room = self.size.width - 2  # the caption's padding
        return next((f for f in forms if len(f) <= room), forms[-1])

    def on_data_table_row_highlighted(self, event: DataTable.RowHighlighted) -> None:
        key = event.row_key.value
        if event.data_table.id == "components" and key and key != self.centre:
            if key_under_cursor(event.data_table) != key:
                return  # stale: the cursor moved on, or the table was refilled, since
            self.centre = key
            self._show_focus()
        elif event.data_table.id == "edges":
            show_why(self)
            if self.focused is not event.data_table:
                return
            node = self.map_node_of.get(key or "")
            if node is not None and self.query_one("#map-pane").display:
                self.query_one(LandscapeMap).select(node)

    def on_data_table_row_selected(self, event: DataTable.RowSelected) -> None:
        key = event.row_key.value
        if not key:
            return
        if event.data_table.id == "edges":
            self.sapp.open_edge(key)
        elif event.data_table.id == "components":
            self.query_one(FocusMap).focus()

    def on_focus_map_highlighted(self, event: FocusMap.Highlighted) -> None:
        table = self.query_one("#edges", EdgeTable)
        for edge_id in event.edge_ids:
            table.put_cursor_on(edge_id)
            break

    def on_focus_map_chosen(self, event: FocusMap.Chosen) -> None:
        node_id = event.node_id
        if event.centre:
            self.query_one("#edges").focus()
            return
        if node_id.startswith("component:") or node_id in self._component_ids():
            system = node_id.partition(":")[2].partition("/")[0]
            if node_id not in self._component_ids():
                self.sapp.open_system(system, select=node_id)
                return
            if self.centre is not None:
                self.walked.append(self.centre)
                self.refresh_bindings()
            came_from, self.centre = self.centre, node_id
            self._put_cursor()
            self._show_focus(highlight=came_from)
        elif self._unowned(node_id):
            # A resource of no known owner opens among them, as another system's component
            # opens its system.
            self.sapp.open_system(UNOWNED, select=node_id)
        elif self.centre is not None:
            table = self.query_one("#edges", EdgeTable)
            table.focus()

    def action_walk_back(self) -> None:
        if self.walked:
            came_from, self.centre = self.centre, self.walked.pop()
            self.refresh_bindings()
            self._put_cursor()
            self._show_focus(highlight=came_from)

    def action_toggle_map(self) -> None:
        pane = self.query_one("#map-pane")
        pane.display = not pane.display
        self.query_one(FocusMap).display = not pane.display
        landmap = self.query_one(LandscapeMap)
        if pane.display:
            # The drawing opens on the component in focus (it opened on the first box by
            # name, often another system's component).
            if self.centre is not None:
                landmap.select(self.centre)
            landmap.ensure_drawn()
            landmap.focus()
            self._title_map()
            # Once the pane has its size: the selected box in view.
            self.call_after_refresh(landmap.reveal)
        else:
            # And back: the focus view on the component selected in the drawing.
            chosen = landmap.selected
            if chosen != self.centre and chosen in self._component_ids():
                self.centre = chosen
                self._put_cursor()
            self.query_one(FocusMap).focus()
        self._show_focus()
        self.call_after_refresh(self._fit_top)

    def _title_map(self) -> None:
        """The drawing's pane names its selected box whole in its border (a drawing narrowed
        to fit cuts the names in its boxes)."""
        pane = self.query_one("#map-pane")
        title = self.query_one(LandscapeMap).selected_title
        pane.border_title = Text(safe(title)) if title else None

    def on_landscape_map_highlighted(self, event: LandscapeMap.Highlighted) -> None:
        self._title_map()

    def _unowned(self, node_id: str) -> bool:
        """A resource of no known owner that is not one of this screen's rows."""
        view = self.view
        if view is None or self.system == UNOWNED:
            return False
        return any(n.node_id == node_id and is_unowned(n) for n in view.nodes)

    def on_landscape_map_chosen(self, event: LandscapeMap.Chosen) -> None:
        node_id = event.node_id
        if node_id.startswith("component:"):
            system = node_id.partition(":")[2].partition("/")[0]
            if system and system != self.system:
                self.sapp.open_system(system, select=node_id)
                return
        if self._unowned(node_id):
            self.sapp.open_system(UNOWNED, select=node_id)
            return
        table = self.query_one("#edges", EdgeTable)
        for e in table.edges:
            if node_id in (e.from_node, e.to_node):
                table.put_cursor_on(e.edge_id)
                table.focus()
                return
