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


def test_a_terminal_too_narrow_for_every_column_hides_them_in_their_order() -> None:
    """Columns that have a hide_order go, 1 first, until the rest fit at the floor (ten cells,
    or their whole width when narrower); a column without one always stays."""
    from seamscope.cli.table import Column, _shown

    names = ["from", "to", "mechanism", "dir", "level", "rule", "verdict", "spans", "errors",
             "p50 ms", "p95 ms", "first seen", "last seen"]  # fmt: skip
    order = {"first seen": 1, "level": 2, "dir": 3, "p50 ms": 4, "errors": 5, "last seen": 6}
    columns = [Column(n, hide_order=order.get(n)) for n in names]
    # Every column at the floor: 10+10+10+6+9+10+10+5+6+4+4+10+10 = 104 cells, and 40 of borders.
    assert _shown(columns, EDGES_WHOLE, 144) == list(range(13))
    assert _shown(columns, EDGES_WHOLE, 143) == [i for i in range(13) if i != 11]
    # 100 columns: first seen, level, dir and p50 ms leave 103 cells; errors goes too (94).
    shown = _shown(columns, EDGES_WHOLE, 100)
    hidden = [names[i] for i in range(13) if i not in shown]
    assert hidden == ["dir", "level", "errors", "p50 ms", "first seen"]
    # Too narrow even without all six: every column that may go is gone, the others stay.
    assert [names[i] for i in _shown(columns, EDGES_WHOLE, 40)] == [
        "from", "to", "mechanism", "rule", "verdict", "spans", "p95 ms",
    ]  # fmt: skip
    assert _shown([Column(n) for n in names], EDGES_WHOLE, 40) == list(range(13))
