"""The table with the keys people who live in k9s, lazygit and vim reach for."""

from __future__ import annotations

from textual.binding import Binding

from seamscope.tui.widgets.table import Table


class NavTable(Table):
    """j/k move, g/G jump to the first and last row, as arrows and Home/End do."""

    BINDINGS = [
        Binding("j", "cursor_down", "Down", show=False),
        Binding("k", "cursor_up", "Up", show=False),
        Binding("g", "scroll_top", "First", show=False),
        Binding("G", "scroll_bottom", "Last", show=False),
        Binding("ctrl+d", "page_down", "Page down", show=False),
        Binding("ctrl+u", "page_up", "Page up", show=False),
    ]

    def __init__(self, *, id: str | None = None, zebra_stripes: bool = True) -> None:  # noqa: A002
        super().__init__(id=id, cursor_type="row", zebra_stripes=zebra_stripes)


class SpansTable(NavTable):
    """An edge's spans: Enter opens a span's trace, and the footer says so first (it said
    nothing of Enter, only the caption over the table did)."""

    BINDINGS = [Binding("enter", "select_cursor", "Trace")]


class WaterfallTable(NavTable):
    """A trace's spans: Enter on a labelled span opens its edge, and the footer says so."""

    BINDINGS = [Binding("enter", "select_cursor", "Edge")]


class TracesTable(NavTable):
    """Traces of the other side: Enter opens one, and the footer says so."""

    BINDINGS = [Binding("enter", "select_cursor", "Open trace")]
