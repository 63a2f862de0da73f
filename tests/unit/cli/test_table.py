"""The CLI tables' column widths in a terminal narrower than the table (cli/table.py's _fit)."""

from __future__ import annotations

from seamscope.cli.table import _fit

# `seamscope edges` on a generated store: from, to, mechanism, dir, level, rule, verdict, spans,
# errors, p50 ms, p95 ms, first seen, last seen; natural (the header whole) and whole (the
# widest cell, the header wrapped at its spaces).
EDGES_NATURAL = [34, 34, 16, 6, 9, 12, 14, 5, 6, 6, 6, 19, 19]
EDGES_WHOLE = [34, 34, 16, 6, 9, 12, 14, 5, 6, 4, 4, 19, 19]


def test_short_columns_stay_whole_and_the_long_ones_share_the_rest() -> None:
    """160 columns (120 cells of room): counts, ids and labels whole; the dates folded to their
    date and time (10 cells); from and to the rest, in proportion."""
    widths = _fit(EDGES_NATURAL, EDGES_WHOLE, 120)
    assert widths == [12, 12, 16, 6, 9, 12, 14, 5, 6, 4, 4, 10, 10]
    # 100 columns (60 cells): the numbers and dir whole, the others at least 4, from/to more.
    widths = _fit(EDGES_NATURAL, EDGES_WHOLE, 60)
    assert sum(widths) == 60
    assert [widths[i] for i in (3, 7, 8, 9, 10)] == [6, 5, 6, 4, 4]
    assert min(widths[0], widths[1]) > max(widths[i] for i in (2, 4, 5, 6, 11, 12)) >= 4


def test_a_table_that_fits_keeps_its_natural_widths() -> None:
    assert _fit(EDGES_NATURAL, EDGES_WHOLE, sum(EDGES_NATURAL)) == EDGES_NATURAL
    # Room for every cell but not every header: the headers wrap, no cell folds.
    assert _fit(EDGES_NATURAL, EDGES_WHOLE, sum(EDGES_NATURAL) - 1) == [
        34, 34, 16, 6, 9, 12, 14, 5, 6, 6, 5, 19, 19,
    ]  # fmt: skip


def test_a_terminal_too_narrow_for_the_short_columns_levels_the_table() -> None:
    """The fallback: the floor of the folded columns goes down a cell at a time, and below the
    width of the short columns these fold too (each column at most the floor, the room left
    shared in proportion); at 4 cells a column the table is wider than the terminal, which
    folds its lines, and nothing is cut."""
    assert _fit([40, 30, 6, 6], [40, 30, 6, 6], 22) == [5, 5, 6, 6]
    assert _fit([40, 30, 6, 6], [40, 30, 6, 6], 20) == [5, 5, 5, 5]
    natural = [40, 30, 20, 12]
    assert _fit(natural, natural, 23) == [7, 6, 5, 5]  # the whole room, the wider ones wider
    assert _fit(natural, natural, 10) == [4, 4, 4, 4]
    assert _fit([40, 3], [40, 3], 5) == [4, 3]
