"""The focus view's edge rows: the whole label at both ends when the row has room for it
twice, else once with its mechanism cut as needed; the rule and the verdict's glyph always."""

from __future__ import annotations

import pytest

from seamscope.classifiers.results import Verdict
from seamscope.tui.widgets.focus_layout import CENTRE, Focus, FocusEdge, Neighbour, draw_focus


def _edge_row(width: int, mechanism: str = "eventbridge listen") -> str:
    edge = FocusEdge("e1", "A201", mechanism, Verdict.ANTI_PATTERN, "svc")
    caller = Neighbour("system:orders", "orders", "system", (edge,))
    focus = Focus("system:billing", "billing", "4 components", (caller,), ())
    canvas = draw_focus(focus, width, 8, (CENTRE, 0), (0, 0)).canvas
    row = "".join(canvas.chars[2])  # the caller's box starts on line 1; its edge is the next
    start = row.index("│", row.index("svc")) + 1
    return row[start : row.index("▶") + 1]


def test_a_long_row_carries_the_whole_label_at_both_ends() -> None:
    row = _edge_row(220)
    assert row.count("A201 ✗ eventbridge listen") == 2
    assert row.startswith("─ A201") and row.endswith("listen ─▶")


@pytest.mark.parametrize("width", [120, 150])
def test_a_shorter_row_carries_the_whole_label_once(width: int) -> None:
    row = _edge_row(width)
    assert row.count("A201") == 1
    assert " A201 ✗ eventbridge listen " in row


def test_a_short_row_cuts_the_mechanism_not_the_rule() -> None:
    row = _edge_row(80)
    assert row.count("A201") == 1
    assert " A201 ✗ " in row and "…" in row
    label = row.strip("─▶ ")
    assert "eventbridge listen".startswith(label.removeprefix("A201 ✗ ").removesuffix("…"))


def test_a_row_too_short_for_any_mechanism_keeps_the_rule_and_glyph() -> None:
    row = _edge_row(60, mechanism="dynamodb-streams listen")
    assert "A201 ✗" in row and "dyn" not in row


def test_an_empty_side_says_so_in_full() -> None:
    edge = FocusEdge("e1", "A201", "rest", Verdict.ANTI_PATTERN, "svc")
    caller = Neighbour("system:orders", "orders", "system", (edge,))
    for focus, note in (
        (Focus("system:billing", "billing", "", (caller,), ()), "calls nothing"),
        (Focus("system:billing", "billing", "", (), (caller,)), "no callers"),
    ):
        canvas = draw_focus(focus, 80, 8, (CENTRE, 0), (0, 0)).canvas
        assert any(note in "".join(row) for row in canvas.chars)
