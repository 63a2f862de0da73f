"""The landscape map widget: the drawing of `layout.draw`, with a selectable box."""

from __future__ import annotations

from rich.segment import Segment
from rich.style import Style
from textual import events
from textual.binding import Binding
from textual.geometry import Region, Size
from textual.message import Message
from textual.strip import Strip
from textual.widget import Widget

from seamscope.tui.widgets.layout import Box, MapDrawing, MapEdge, MapNode, draw, parse_style

_EMPTY = "Nothing to draw."


class LandscapeMap(Widget, can_focus=True):
    """Systems (or components) as boxes, arrows coloured by verdict. Enter drills in.

    A big landscape draws a canvas thousands of cells wide and hundreds of lines high, so the
    map renders line by line (Textual's line API: only the lines on screen, each made once per
    drawing), and a map that is hidden is drawn only when it is shown.
    """

    DEFAULT_CSS = """
    LandscapeMap {
        width: auto;
        height: auto;
        padding: 0 1;
    }
    """

    BINDINGS = [
        Binding("up", "move(0, -1)", "Up", show=False),
        Binding("down", "move(0, 1)", "Down", show=False),
        Binding("left", "move(-1, 0)", "Left", show=False),
        Binding("right", "move(1, 0)", "Right", show=False),
        # The keys of the focus view, the matrix and the tables (help lists them for all).
        Binding("k", "move(0, -1)", "Up", show=False),
        Binding("j", "move(0, 1)", "Down", show=False),
        Binding("h", "move(-1, 0)", "Left", show=False),
        Binding("l", "move(1, 0)", "Right", show=False),
        Binding("enter", "choose", "Open", show=True),
    ]

    class Highlighted(Message):
        """The selection moved to another box."""

        def __init__(self, node_id: str) -> None:
            super().__init__()
            self.node_id = node_id

    class Chosen(Message):
        """The user opened a box (Enter or a click on the selected box)."""

        def __init__(self, node_id: str) -> None:
            super().__init__()
            self.node_id = node_id

    def __init__(self, *, id: str | None = None) -> None:  # noqa: A002
        super().__init__(id=id)
        self._map_nodes: list[MapNode] = []
        self._map_edges: list[MapEdge] = []
        self.selected: str | None = None
        self._drawing: MapDrawing = draw([], [])
        self._stale = False  # the graph changed while the map was hidden
        self._strips: dict[int, Strip] = {}
        self._strips_base: Style | None = None
        self.room: int | None = None  # the cells across it has (fit_room); None: no limit

    def set_graph(
        self, nodes: list[MapNode], edges: list[MapEdge], *, draw_now: bool = True
    ) -> None:
        """Replaces what the map shows, keeping the selection when its box still exists.

        With draw_now false (the map is hidden) the drawing waits for ensure_drawn().
        """
        self._map_nodes, self._map_edges = nodes, edges
        ids = [n.node_id for n in nodes]
        if self.selected not in ids:
            self.selected = ids[0] if ids else None
        self._stale = True
        if draw_now:
            self._redraw()

    def ensure_drawn(self) -> None:
        """Draws the graph set while the map was hidden."""
        if self._stale:
            self._redraw()

    @property
    def drawing(self) -> MapDrawing:
        return self._drawing

    def fit_room(self, room: int) -> None:
        """The cells across the pane gives it: a drawing wider than that is drawn narrower
        (layout.draw's room), as far as it can (it scrolled sideways, lanes taking most of it)."""
        if room == self.room:
            return
        self.room = room
        if self._stale:
            return  # drawn at this room when shown
        drawing = self._drawing
        if drawing.narrowed or drawing.canvas.width > room:
            self._redraw()

    @property
    def selected_title(self) -> str:
        """The selected box's name and what it is, whole (a narrowed drawing cuts them)."""
        node = next((n for n in self._map_nodes if n.node_id == self.selected), None)
        if node is None:
            return ""
        return f"{node.label} · {node.sublabel}" if node.sublabel else node.label

    def _redraw(self) -> None:
        self._drawing = draw(self._map_nodes, self._map_edges, self.selected, room=self.room)
        self._stale = False
        self._strips.clear()
        self.refresh(layout=True)

    def get_content_width(self, container: Size, viewport: Size) -> int:
        if not self._map_nodes:
            return len(_EMPTY)
        return max(1, self._drawing.canvas.width)

    def get_content_height(self, container: Size, viewport: Size, width: int) -> int:
        return max(1, self._drawing.canvas.height)

    def render_line(self, y: int) -> Strip:
        base = self.rich_style  # the widget's own colours, under the drawing's
        if base != self._strips_base:
            self._strips.clear()
            self._strips_base = base
        strip = self._strips.get(y)
        if strip is None:
            strip = self._strips[y] = self._make_strip(y, base)
        return strip

    def _make_strip(self, y: int, base: Style) -> Strip:
        if not self._map_nodes:
            return Strip([Segment(_EMPTY, base + Style(dim=True))] if y == 0 else [])
        canvas = self._drawing.canvas
        if y >= canvas.height:
            return Strip([])
        segments = [
            Segment(text, base + parse_style(style) if style else base)
            for text, style in canvas.runs(y)
        ]
        return Strip(segments, canvas.width)

    def select(self, node_id: str) -> None:
        if self._stale and node_id in {n.node_id for n in self._map_nodes}:
            self.selected = node_id  # drawn with the selection when the map is shown
            return
        if node_id == self.selected or node_id not in self._drawing.boxes:
            return
        self.selected = node_id
        self._redraw()
        self.post_message(self.Highlighted(node_id))
        self.reveal()

    def reveal(self) -> None:
        """Scrolls the pane the map is in to the selected box (a large drawing opened where
        only lanes show, with no box in view)."""
        box = self._drawing.boxes.get(self.selected) if self.selected is not None else None
        if box is not None and self.parent is not None and isinstance(self.parent, Widget):
            self.parent.scroll_to_region(
                Region(box.x, box.y, box.width + 2, box.height), animate=False
            )

    def _neighbour(self, dx: int, dy: int) -> Box | None:
        boxes = self._drawing.boxes
        if self.selected not in boxes:
            return None
        here = boxes[self.selected]
        candidates = [
            b
            for b in boxes.values()
            if (dx and (b.column - here.column) * dx > 0)
            or (dy and b.column == here.column and (b.row - here.row) * dy > 0)
        ]
        if not candidates:
            return None
        return min(
            candidates,
            key=lambda b: (abs(b.column - here.column), abs(b.row - here.row), b.node_id),
        )

    def action_move(self, dx: int, dy: int) -> None:
        box = self._neighbour(dx, dy)
        if box is not None:
            self.select(box.node_id)

    def action_choose(self) -> None:
        if self.selected is not None:
            self.post_message(self.Chosen(self.selected))

    def on_click(self, event: events.Click) -> None:
        offset = event.get_content_offset(self)
        if offset is None:
            return
        box = self._drawing.box_at(offset.x, offset.y)
        if box is None:
            return
        if box.node_id == self.selected or event.chain >= 2:
            self.post_message(self.Chosen(box.node_id))
        else:
            self.select(box.node_id)
