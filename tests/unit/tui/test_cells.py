"""clip_end: a sentence cut at its end, with "…", in the room it is given."""

from __future__ import annotations

from seamscope.tui.widgets.cells import WORD_CUT_SLACK, clip_end

REASON = "queue search-q carries events from system orders to system search"


def test_a_sentence_that_fits_is_whole() -> None:
    assert clip_end(REASON, len(REASON)) == REASON


def test_a_cut_ends_a_word_where_that_leaves_a_few_cells_blank() -> None:
    shown = clip_end(REASON, 18)  # "queue search-q ca" would split "carries"
    assert shown == "queue search-q…"
    assert 18 - len(shown) <= WORD_CUT_SLACK


def test_a_cut_splits_a_word_where_ending_one_would_leave_more_blank() -> None:
    """A long word (a node id) is cut inside, not dropped whole with the room it had."""
    reason = "webapp portal/provider-portal calls payments/payments-api of another system"
    shown = clip_end(reason, 28)
    assert shown == "webapp portal/provider-port…" and len(shown) == 28


def test_every_cut_ends_in_an_ellipsis_within_its_width() -> None:
    for width in range(1, len(REASON)):
        shown = clip_end(REASON, width)
        assert shown.endswith("…") and len(shown) <= width
        assert REASON.startswith(shown[:-1])
