"""What the TUI looks like under NO_COLOR: greys, every text readable on its background.

Textual turns each colour into the grey of its luminance (its Monochrome filter). A verdict's
colour is dark for red: under NO_COLOR the anti-patterns' "✗ anti-pattern", their rows in the
focus view and the header's "✗ 7" were drawn grey 37 on grey 35, all but invisible, while their
glyph is what says the verdict there. This filter keeps Textual's greys for the backgrounds
(the cursor's row, the panes) and gives a text too close to its background's grey a grey it
can be read on."""

from __future__ import annotations

from functools import lru_cache

from rich.segment import Segment
from rich.style import Style
from textual.color import Color
from textual.filter import LineFilter

LEAST_CONTRAST = 110
"""How far apart (0-255) a text's grey and its background's must be."""


@lru_cache(1024)
def readable_grey(style: Style, background: Color) -> Style:
    """style in greys, its text at least LEAST_CONTRAST from its background."""
    bg = (
        Color.from_rich_color(style.bgcolor).monochrome
        if style.bgcolor is not None
        else background.monochrome
    )
    fg = Color.from_rich_color(style.color).monochrome if style.color is not None else None
    if fg is not None and abs(fg.r - bg.r) < LEAST_CONTRAST:
        level = min(255, bg.r + LEAST_CONTRAST) if bg.r < 128 else max(0, bg.r - LEAST_CONTRAST)
        fg = Color(level, level, level)
    return style + Style.from_color(
        None if fg is None else fg.rich_color,
        None if style.bgcolor is None else bg.rich_color,
    )


class ReadableMonochrome(LineFilter):
    """Textual's Monochrome, but no text is lost on its background (readable_grey)."""

    def apply(self, segments: list[Segment], background: Color) -> list[Segment]:
        return [
            Segment(text, None if style is None else readable_grey(style, background), None)
            for text, style, _control in segments
        ]
