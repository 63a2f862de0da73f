"""Counts in the command line's words."""

from __future__ import annotations


def plural(n: int, word: str, many: str | None = None) -> str:
    """ "1 request", "2 requests" (many: the plural where it is not word + s), with thousands
    separated. The TUI has its own (seamscope.tui.widgets.cells.plural), which the command line
    cannot import without loading textual."""
    return f"{n:,} {word if n == 1 else (many or word + 's')}"
