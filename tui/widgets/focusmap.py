"""The focus view widget: one system, its callers and its callees (focus_layout draws them)."""

from __future__ import annotations

from rich.segment import Segment
from rich.style import Style
from textual import events
from textual.binding import Binding
from textual.geometry import Size
from textual.message import Message
from textual.strip import Strip
from textual.widget import Widget

from seamscope.tui.widgets.focus_layout import (
    CENTRE,
    LEFT,
    RIGHT,
    Focus,
    FocusDrawing,
    draw_focus,
    scroll_for,
)
from seamscope.tui.widgets.layout import parse_style


class FocusMap(Widget, can_focus=True):
    """Arrows (or h j k l) move the highlight between the centre and its neighbours; up and
    down on the centre step to the next or previous centre (Step); Enter on a neighbour walks
    there (it becomes the centre), Enter on the centre opens it."""

    DEFAULT_CSS = """
    FocusMap {
        width: 1fr;
        height: 1fr;
    }
    """

    BINDINGS = [
        Binding("up,k", "move(0, -1)", "Up", show=False),
        Binding("down,j", "move(0, 1)", "Down", show=False),
        Binding("left,h", "move(-1, 0)", "Callers", show=False),
        Binding("right,l", "move(1, 0)", "Callees", show=False),
        Binding("enter", "choose", "Walk/open"),  # the footer leads with it here
    ]

    class Highlighted(Message):
        """The highlight moved: node_id is the box now highlighted, edge_ids its rows."""

        def __init__(self, node_id: str, edge_ids: tuple[str, ...]) -> None:
            super().__init__()
            self.node_id = node_id
            self.edge_ids = edge_ids

    class Chosen(Message):
        """Enter (or a click on the highlighted box): the centre to open, or a neighbour to
        walk to."""

        def __init__(self, node_id: str, centre: bool) -> None:
            super().__init__()
            self.node_id = node_id
            self.centre = centre

    class Step(Message):
        """Up or down with the centre highlighted: the screen centres the next (by 1) or the
        previous (by -1) row of its list."""

        def __init__(self, by: int) -> None:
            super().__init__()
            self.by = by

    def __init__(self, *, id: str | None = None) -> None:  # noqa: A002
        super().__init__(id=id)
        self.focus_data: Focus | None = None
        self.selected: tuple[int, int] = (CENTRE, 0)
        self._tops = [0, 0]
        self._last: dict[int, int] = {}  # the index last highlighted on each side
        self._drawing: FocusDrawing | None = None
        self._strips: dict[int, Strip] = {}

    # ---- data ------------------------------------------------------------------------------

    def show_focus(self, focus: Focus, highlight: str | None = None) -> None:
        """Shows focus; the highlight goes to highlight when given, stays where it was when the
        centre is the same, else is on the centre."""
        recentred = self.focus_data is None or self.focus_data.centre != focus.centre
        # A new centre starts highlighted unless told otherwise (walking highlights where it
        # came from); a refresh of the same centre keeps the highlight where it was.
        keep = highlight or (None if recentred else self.highlighted)
        escaped = focus.escaped()
        if not recentred and escaped == self.focus_data:
            # Nothing drawn here changed (a live refresh with new figures): no redraw, unless
            # the highlight moves.
            at = self._position_of(keep) or (CENTRE, 0)
            if at != self.selected:
                self.selected = at
                self._redraw()
            return
        self.focus_data = escaped
        if recentred:
            self._tops = [0, 0]
            self._last = {}
        self.selected = self._position_of(keep) or (CENTRE, 0)
        self._redraw()

    def wanted_height(self) -> int:
        """The lines the view needs to draw every box of the centre it shows: its taller side,
        the centre's top and bottom lines and the view's border (0 before it shows one)."""
        focus = self.focus_data
        if focus is None:
            return 0
        sides = (sum(n.height for n in focus.side(side)) for side in (LEFT, RIGHT))
        return max(sides) + 4

    @property
    def highlighted(self) -> str | None:
        focus = self.focus_data
        if focus is None:
            return None
        side, index = self.selected
        if side == CENTRE:
            return focus.centre
        neighbours = focus.side(side)
        return neighbours[index].node_id if index < len(neighbours) else focus.centre

    @property
    def highlighted_edges(self) -> tuple[str, ...]:
        """The edges of the highlighted box (none for the centre)."""
        focus = self.focus_data
        side, index = self.selected
        if focus is None or side == CENTRE or index >= len(focus.side(side)):
            return ()
        return tuple(e.edge_id for e in focus.side(side)[index].edges)

    def _position_of(self, node_id: str | None) -> tuple[int, int] | None:
        focus = self.focus_data
        if focus is None or node_id is None:
            return None
        if node_id == focus.centre:
            return (CENTRE, 0)
        for side in (LEFT, RIGHT):
            for index, n in enumerate(focus.side(side)):
                if n.node_id == node_id:
                    return (side, index)
        return None

    # ---- drawing ---------------------------------------------------------------------------

    def _redraw(self) -> None:
        self._drawing = None
        self._strips.clear()
        self.refresh()

    def on_resize(self, event: events.Resize) -> None:
        self._redraw()

    def _drawn(self) -> FocusDrawing | None:
        if self.focus_data is None:
            return None
        if self._drawing is None:
            width, height = self.size
            focus = self.focus_data
            side, index = self.selected
            for i, s in enumerate((LEFT, RIGHT)):
                heights = [n.height for n in focus.side(s)]
                chosen = index if side == s else None
                self._tops[i] = scroll_for(heights, chosen, self._tops[i], height - 2)
            tops = (self._tops[0], self._tops[1])
            self._drawing = draw_focus(focus, width, height, self.selected, tops)
        return self._drawing

    def get_content_height(self, container: Size, viewport: Size, width: int) -> int:
        return max(1, container.height)

    def render_line(self, y: int) -> Strip:
        strip = self._strips.get(y)
        if strip is not None:
            return strip
        base = self.rich_style
        drawing = self._drawn()
        if drawing is None:
            text = "Loading…" if y == 0 else ""
            return Strip([Segment(text, base + Style(dim=True))])
        canvas = drawing.canvas
        if y >= canvas.height:
            return Strip([])
        strip = Strip(
            [
                Segment(text, base + parse_style(style) if style else base)
                for text, style in canvas.runs(y)
            ],
            canvas.width,
        )
        self._strips[y] = strip
        return strip

    # ---- keys and mouse --------------------------------------------------------------------

    def action_move(self, dx: int, dy: int) -> None:
        focus = self.focus_data
        if focus is None:
            return
        side, index = self.selected
        if dx:
            target = side + dx  # LEFT, CENTRE, RIGHT are -1, 0, 1
            if target not in (LEFT, CENTRE, RIGHT) or (target and not focus.side(target)):
                return
            if side:
                self._last[side] = index
            last = min(self._last.get(target, 0), len(focus.side(target)) - 1)
            self.selected = (target, max(0, last) if target else 0)
        elif side != CENTRE:
            count = len(focus.side(side))
            self.selected = (side, max(0, min(count - 1, index + dy)))
        else:
            # Up and down from the centre: the next or previous centre, as the list beside
            # the view steps (below 120 columns the list is hidden, and this is the way).
            self.post_message(self.Step(dy))
            return
        self._redraw()
        node = self.highlighted
        if node is not None:
            self.post_message(self.Highlighted(node, self.highlighted_edges))

    def action_choose(self) -> None:
        node = self.highlighted
        if node is not None and self.focus_data is not None:
            self.post_message(self.Chosen(node, node == self.focus_data.centre))

    def on_click(self, event: events.Click) -> None:
        drawing = self._drawn()
        offset = event.get_content_offset(self)
        if drawing is None or offset is None:
            return
        for node_id, (x, y, w, h) in drawing.boxes.items():
            if x <= offset.x < x + w and y <= offset.y < y + h:
                if node_id == self.highlighted or event.chain >= 2:
                    self.action_choose()
                    return
                position = self._position_of(node_id)
                if position is not None:
                    self.selected = position
                    self._redraw()
                    self.post_message(self.Highlighted(node_id, self.highlighted_edges))
                return
