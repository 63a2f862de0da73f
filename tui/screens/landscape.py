"""Level 1, the system landscape; and level 2, one system's components, resources and vendors."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, ScrollableContainer, Vertical
from textual.widgets import DataTable, Header, Static

from seamscope.classifiers import read
from seamscope.classifiers.landscape import Landscape
from seamscope.classifiers.read import Overview, SystemView
from seamscope.classifiers.results import Edge, Node, Verdict
from seamscope.tracer.access import Query
from seamscope.tui.screens.base import (
    DataScreen,
    fill_table,
    fmt_ms,
    fmt_time,
    num,
    plural,
    short_node,
    verdict_counts,
    verdict_text,
)
from seamscope.tui.widgets.footer import SteadyFooter
from seamscope.tui.widgets.landmap import LandscapeMap
from seamscope.tui.widgets.layout import MapEdge, MapNode
from seamscope.tui.widgets.table import Table

MAP_LIMIT = 30
"""Beyond this many boxes the table leads and the map is hidden until asked for (m)."""

ROLE_RANK = {"webapp": 0, "bff": 1, "backend": 2, "worker": 3, "job": 3}


def edge_rows(edges: Iterable[Edge]) -> list[tuple[str, list[str | Text]]]:
    return [
        (
            e.edge_id,
            [
                short_node(e.from_node),
                short_node(e.to_node),
                e.mechanism + (" (listen)" if e.direction == "listen" else ""),
                e.rule_id,
                verdict_text(e.verdict),
                num(f"{e.span_count:,}"),
                num(f"{100 * e.error_rate:.1f}", "red" if e.error_count else ""),
                num(fmt_ms(e.p95_ms)),
                fmt_time(e.last_seen),
            ],
        )
        for e in edges
    ]


EDGE_COLUMNS = (
    "From",
    "To",
    "Mechanism",
    "Rule",
    "Verdict",
    "Spans",
    "Err %",
    "p95 ms",
    "Last seen",
)


def aggregate(edges: Iterable[tuple[str, str, str, Verdict]]) -> list[MapEdge]:
    """One arrow per (from, to, mechanism), coloured by the worst verdict among its edges."""
    worst: dict[tuple[str, str, str], Verdict] = {}
    for src, dst, mechanism, verdict in edges:
        key = (src, dst, mechanism)
        if key not in worst or verdict.rank < worst[key].rank:
            worst[key] = verdict
    return [MapEdge(s, d, m, v) for (s, d, m), v in sorted(worst.items())]


def landscape_graph(view: Overview) -> tuple[list[MapNode], list[MapEdge]]:
    systems = set(view.systems)
    for e in view.edges:
        for name in (e.from_system, e.to_system if e.level == "system" else None):
            if name:
                systems.add(name)
    nodes = [
        MapNode(
            f"system:{name}",
            name,
            _plural(view.components_per_system.get(name, 0), "component"),
        )
        for name in sorted(systems)
    ]
    pairs: list[tuple[str, str, str, Verdict]] = []
    vendors: set[str] = set()
    for e in view.edges:
        if not e.from_system:
            continue
        if e.level == "external":
            vendor = e.to_node if e.to_node.startswith("external:") else e.from_node
            vendors.add(vendor)
            pairs.append((f"system:{e.from_system}", vendor, e.mechanism, e.verdict))
        elif e.to_system:
            pairs.append(
                (f"system:{e.from_system}", f"system:{e.to_system}", e.mechanism, e.verdict)
            )
    nodes += [
        MapNode(v, v.partition(":")[2] or v, "vendor", kind="external", rank=None)
        for v in sorted(vendors)
    ]
    return nodes, aggregate(pairs)


def _plural(n: int, word: str) -> str:
    return plural(n, word) if n else ""


def landscape_note(view: Overview, given: Landscape | None) -> Text:
    """Which landscape the labels were made with, and whether anything was inferred (~)."""
    mark = view.mark
    used = (mark.landscape_path if mark else None) or ""
    inferred = f" · ~ {view.inferred} inferred" if view.inferred else ""
    if given is not None and mark is not None and mark.landscape != given.fingerprint():
        return Text(
            f"labels from the owner's landscape {used or '(none)'}, not {given.path}{inferred}",
            "bold yellow",
        )
    if not used:
        return Text(f"no landscape file: owners, roles, vendors inferred{inferred}", "italic")
    return Text(f"landscape {used}{inferred}", "dim")


def system_graph(view: SystemView) -> tuple[list[MapNode], list[MapEdge]]:
    known: dict[str, Node] = {n.node_id: n for n in view.nodes}
    ids = sorted({e.from_node for e in view.edges} | {e.to_node for e in view.edges} | set(known))
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
            nodes.append(MapNode(node_id, name, "vendor", kind="external", rank=7))
        elif kind_prefix == "component" or (node is not None and node.node_type == "component"):
            name = node.name if node else node_id.partition("/")[2] or node_id
            system = node.system if node else node_id.partition(":")[2].partition("/")[0]
            rank = 0 if node_id in calls_in else 6
            nodes.append(MapNode(node_id, name, f"system {system}", kind="foreign", rank=rank))
        else:
            name = node.name if node else node_id.partition("/")[2] or node_id
            kind = node.resource_kind if node and node.resource_kind else kind_prefix
            owner = node.system if node else None
            sub = kind if owner in (None, view.system) else f"{kind} of {owner}"
            nodes.append(MapNode(node_id, name, sub, kind="resource", rank=5))
    pairs = [(e.from_node, e.to_node, e.mechanism, e.verdict) for e in view.edges]
    return nodes, aggregate(pairs)


@dataclass(frozen=True, slots=True)
class _Shown:
    nodes: list[MapNode]
    edges: list[MapEdge]
    table: list[tuple[str, list[str | Text]]]
    note: Text


class GraphScreen(DataScreen[Any]):
    """A map beside a table of the same edges."""

    BINDINGS = [
        Binding("m", "toggle_map", "Map"),
        Binding("tab", "app.focus_next", "Switch pane", show=False),
    ]
    # The table holds the focus until the data says whether the map is shown: a big landscape
    # (map hidden) then needs no focus change, and so no Footer rebuild, in its first paint.
    AUTO_FOCUS = "#edges"

    def __init__(self) -> None:
        super().__init__()
        self.map_hidden: bool | None = None
        self.map_node_of: dict[str, str] = {}  # edge id -> the map box it starts from

    def compose(self) -> ComposeResult:
        yield Header()
        yield Static("", id="summary", classes="summary")
        with Horizontal(id="panes"):
            with ScrollableContainer(id="map-pane"):
                yield LandscapeMap(id="map")
            with Vertical(id="table-pane"):
                table: DataTable[Any] = Table(id="edges", cursor_type="row", zebra_stripes=True)
                table.add_columns(*EDGE_COLUMNS)
                yield table
        yield SteadyFooter()

    def present(self, shown: _Shown) -> None:
        landmap = self.query_one(LandscapeMap)
        first = self.map_hidden is None
        if first:
            self.map_hidden = len(shown.nodes) > MAP_LIMIT
            self._apply_map_visibility()
        # A hidden map is drawn when it is shown (m): a big one costs most of a refresh.
        landmap.set_graph(shown.nodes, shown.edges, draw_now=not self.map_hidden)
        fill_table(self.query_one("#edges", DataTable), shown.table)
        if first:
            (self.query_one("#edges") if self.map_hidden else landmap).focus()
        self.query_one("#summary", Static).update(shown.note)

    def _apply_map_visibility(self) -> None:
        self.query_one("#map-pane").display = not self.map_hidden

    def action_toggle_map(self) -> None:
        self.map_hidden = not self.map_hidden
        if not self.map_hidden:
            self.query_one(LandscapeMap).ensure_drawn()
        self._apply_map_visibility()

    def on_data_table_row_selected(self, event: DataTable.RowSelected) -> None:
        if event.data_table.id == "edges" and event.row_key.value:
            self.sapp.open_edge(event.row_key.value)

    def on_data_table_row_highlighted(self, event: DataTable.RowHighlighted) -> None:
        """Walking the table shows where the edge starts on the map."""
        if event.data_table.id != "edges" or self.focused is not event.data_table:
            return
        node = self.map_node_of.get(event.row_key.value or "")
        if node is not None:
            self.query_one(LandscapeMap).select(node)


class LandscapeScreen(GraphScreen):
    """Level 1: systems and vendors, and the edges between them."""

    def fetch(self, q: Query) -> Overview:
        return read.overview(q, self.filters)

    def show(self, payload: Any) -> None:
        view: Overview = payload
        self.sub_title = "System landscape"
        if view.status != "ok":
            self.sapp.show_empty(view.status, view.span_count)
            return
        nodes, arrows = landscape_graph(view)
        self.map_node_of = {e.edge_id: f"system:{e.from_system}" for e in view.edges}
        note = Text.assemble(
            (plural(len(view.systems), "system"), "bold"),
            f" · {plural(view.edge_count, 'edge')} ({len(view.edges):,} between systems)"
            f" · {plural(view.span_count, 'span')}  ",
            verdict_counts(view.verdicts),
            "  ",
            landscape_note(view, self.source.landscape),
        )
        if self.filters.describe():
            note.append(f"   filter: {self.filters.describe()}", "italic")
        self.present(_Shown(nodes, arrows, edge_rows(view.edges), note))

    def on_landscape_map_chosen(self, event: LandscapeMap.Chosen) -> None:
        kind, _, name = event.node_id.partition(":")
        if kind == "system":
            self.sapp.open_system(name)


class SystemScreen(GraphScreen):
    """Level 2: one system's components, resources and vendors, and the component edges."""

    def __init__(self, system: str) -> None:
        super().__init__()
        self.system = system

    def fetch(self, q: Query) -> SystemView:
        return read.system_view(q, self.system, self.filters)

    def show(self, payload: Any) -> None:
        view: SystemView = payload
        self.sub_title = f"System {self.system}"
        nodes, arrows = system_graph(view)
        self.map_node_of = {e.edge_id: e.from_node for e in view.edges}
        components = sum(1 for n in nodes if n.kind == "component")
        resources = sum(1 for n in nodes if n.kind == "resource")
        vendors = sum(1 for n in nodes if n.kind == "external")
        note = Text.assemble(
            (f"System {self.system}", "bold"),
            f" · {components} components · {resources} resources · {vendors} vendors"
            f" · {len(view.edges)} edges",
        )
        if self.filters.describe():
            note.append(f"   filter: {self.filters.describe()}", "italic")
        self.present(_Shown(nodes, arrows, edge_rows(view.edges), note))

    def on_landscape_map_chosen(self, event: LandscapeMap.Chosen) -> None:
        node_id = event.node_id
        if node_id.startswith("component:"):
            system = node_id.partition(":")[2].partition("/")[0]
            if system and system != self.system:
                self.sapp.open_system(system)
                return
        # Otherwise show the edges of that node in the table.
        table = self.query_one("#edges", DataTable)
        name = short_node(node_id)
        for index in range(table.row_count):
            cells = table.get_row_at(index)
            if name in (str(cells[0]), str(cells[1])):
                table.move_cursor(row=index)
                table.focus()
                return
