"""Text from spans (names, attributes, messages) shown to a person: control characters
escaped, so a span cannot clear the screen, set the terminal's title, plant a hyperlink or
reorder text (ESC and CSI sequences, OSC, C1 controls, bidirectional overrides). The CLI and
the TUI both print through `safe`."""

from __future__ import annotations

import re

# C0 but newline and tab, DEL, C1, the bidirectional embeddings, overrides and isolates, and
# lone surrogates.
_CONTROL = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069\ud800-\udfff]")
_CONTROL_ONE_LINE = re.compile("[\x00-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069\ud800-\udfff]")


def _escape(match: re.Match[str]) -> str:
    return f"\\u{ord(match.group()):04x}"


def safe(text: str, *, lines: bool = False) -> str:
    """text with every control character written as \\uXXXX; lines keeps newlines and tabs
    (where the output is made of lines: reports, CSV)."""
    return (_CONTROL if lines else _CONTROL_ONE_LINE).sub(_escape, text)


def blanked(text: str) -> str:
    """text with every control character drawn as U+FFFD, one cell each: for text already
    measured into a layout."""
    return _CONTROL_ONE_LINE.sub("\ufffd", text)


def has_control(text: str) -> bool:
    """Whether `safe` (one line) would change text."""
    return _CONTROL_ONE_LINE.search(text) is not None


def plural(n: int, word: str, many: str | None = None) -> str:
    """ "1 request", "2 requests" (many: the plural where it is not word + s), with thousands
    separated: the counts the command line, the reports and the TUI say."""
    return f"{n:,} {word if n == 1 else (many or word + 's')}"
