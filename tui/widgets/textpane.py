"""A scrolling pane of text that takes the keys the tables take."""

from __future__ import annotations

from textual.binding import Binding
from textual.containers import VerticalScroll


class TextPane(VerticalScroll):
    """j k scroll a line, h l sideways, g G to the top and the bottom, Ctrl+D Ctrl+U a page,
    as arrows, Home, End and PgDn PgUp do: help lists those keys for moving anywhere, and
    a pane that took only the arrows ignored them."""

    BINDINGS = [
        Binding("j", "scroll_down", "Down", show=False),
        Binding("k", "scroll_up", "Up", show=False),
        Binding("h", "scroll_left", "Left", show=False),
        Binding("l", "scroll_right", "Right", show=False),
        Binding("g", "scroll_home", "Top", show=False),
        Binding("G", "scroll_end", "Bottom", show=False),
        Binding("ctrl+d", "page_down", "Page down", show=False),
        Binding("ctrl+u", "page_up", "Page up", show=False),
    ]
