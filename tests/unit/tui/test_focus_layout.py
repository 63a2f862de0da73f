"""The focus view's edge rows: the whole label at both ends when the row has room for it
twice, else once with its mechanism cut as needed; the rule and the verdict's glyph always. Its
boxes' names: cut where they repeat or say least. A side longer than the view: whole boxes,
the others counted."""

from __future__ import annotations

import pytest

from seamscope.classifiers.results import Verdict
from seamscope.tui.widgets.focus_layout import (
    CENTRE,
    LEFT,
    RIGHT,
    Focus,
    FocusEdge,
    Neighbour,
    draw_focus,
    elide_detail,
    elide_name,
    scroll_for,
)


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


@pytest.mark.parametrize(
    ("detail", "side", "width", "shown"),
    [
        ("orders-api → Sessions", LEFT, 15, "ord… → Sessions"),  # was "orders-…essions"
        ("Sessions → indexer", RIGHT, 15, "Sessions → ind…"),
        ("billing-job → Rates", LEFT, 19, "billing-job → Rates"),
        ("a → AVeryLongTableNameIndeed", LEFT, 15, "→ AVery…eIndeed"),
        ("orders-api", LEFT, 8, "orde…api"),  # one end only: cut in the middle, as before
    ],
)
def test_a_rows_detail_keeps_the_end_nearer_the_centre(
    detail: str, side: int, width: int, shown: str
) -> None:
    assert elide_detail(detail, width, side) == shown


def test_a_box_and_an_empty_side_say_what_the_focus_gives_them() -> None:
    # A resource of no known owner says so in its bottom border; a resource's empty side
    # says it feeds nothing (it said "calls nothing" of a table).
    edge = FocusEdge("e1", "unclassified", "dynamodb", Verdict.UNCLASSIFIED, "dynamodb")
    box = Neighbour(
        "dynamodb:table/Sessions",
        "dynamodb:table/Sessions",
        "resource",
        (edge,),
        True,
        "no known owner",
    )
    focus = Focus("component:orders/api", "api", "backend", (), (box,))
    drawn = draw_focus(focus, 100, 8, (CENTRE, 0), (0, 0)).canvas
    assert any("━ no known owner ━" in "".join(row) for row in drawn.chars)
    table = Focus(
        "t", "dynamodb:table/Rates", "", (box,), (), ("nothing feeds it", "feeds nothing")
    )
    drawn = draw_focus(table, 100, 8, (CENTRE, 0), (0, 0)).canvas
    assert any("feeds nothing" in "".join(row) for row in drawn.chars)


@pytest.mark.parametrize(
    ("name", "width", "shown"),
    [
        ("accounts/accounts-api", 16, "accounts/…-api"),
        ("billing1/billing1-api", 16, "billing1/…-api"),
        ("accounts/accounts-api", 21, "accounts/accounts-api"),
        ("dynamodb:table/Users", 11, "dyna…/Users"),
        ("dynamodb:table/Users", 19, "dynamodb:tab…/Users"),
        ("shop/bff", 8, "shop/bff"),
        ("orders-worker", 8, "orde…ker"),  # no system, no resource: cut in the middle
        ("accounts/accounts-api", 10, "accou…-api"),  # too narrow for the system whole
        # A component that shares only the start of its system's name loses that start
        # ("providers…er-portal" kept neither name whole), one that is its system's name again
        # is cut at its end ("webapp-bf…ebapp-bff").
        ("providers/provider-portal", 19, "providers/…-portal"),
        ("webapp-bff/webapp-bff", 19, "webapp-bff/webapp-…"),
        ("webapp-bff/webapp-bff", 13, "webapp-bff/w…"),
    ],
)
def test_a_name_is_cut_where_it_repeats_or_says_least(name: str, width: int, shown: str) -> None:
    assert elide_name(name, width) == shown
    assert len(elide_name(name, width)) <= width


def _component_focus(width: int, detail: str | None) -> list[str]:
    """web-bff in focus, called by two components of other systems (names that a cut in the
    middle makes alike); detail None: the boxes name each edge's mechanism (a component's
    focus), else that detail (a system's, where the boxes name components)."""
    callers = tuple(
        Neighbour(
            f"component:{s}/{s}-api",
            f"{s}/{s}-api",
            "system",
            (FocusEdge(f"e{s}", "A102", "graphql", Verdict.ANTI_PATTERN, detail or "graphql"),),
        )
        for s in ("billing", "billing1")
    )
    focus = Focus("component:web/web-bff", "web-bff", "bff", callers, ())
    canvas = draw_focus(focus, width, 10, (CENTRE, 0), (0, 0)).canvas
    return ["".join(row) for row in canvas.chars]


def test_in_a_components_focus_long_names_take_the_rows_mechanism() -> None:
    """At 76 cells (the system screen in a terminal of 100 columns) the boxes say which of the
    two systems calls; the rows keep rule and glyph, the boxes already name the mechanism."""
    text = "\n".join(_component_focus(76, None))
    assert "billing/…-api" in text and "billing1/…-api" in text
    assert "── A102 ✗ ─▶" in text


def test_in_a_systems_focus_the_rows_keep_their_room_for_the_mechanism() -> None:
    text = "\n".join(_component_focus(76, "billing-api"))
    assert "A102 ✗ graphql" in text


TOPS, BOTTOMS = "╭╔┌┏", "╰╚└┗"


def _side_column(lines: list[str]) -> tuple[str, int, int]:
    """The left side's first column, line by line, between the counters; and the counts the
    first and the last line say are hidden above and below (0 when they say nothing)."""

    def count(line: str, arrow: str) -> int:
        text = line.strip()
        return int(text.split()[1]) if text.startswith(arrow) else 0

    column = "".join(line[0] for line in lines[1:-1])
    return column, count(lines[0][:20], "▲"), count(lines[-1][:20], "▼")


def _whole_boxes(column: str) -> int:
    """How many boxes the column shows, each whole: its top, its rows and its bottom, the
    first on the first line, blank only after the last."""
    body = column.rstrip(" ")
    assert body[:1] in (*TOPS, ""), f"a box cut at the top: {column!r}"
    boxes = 0
    at_top = True
    for char in body:
        if at_top:
            assert char in TOPS, f"a box cut: {column!r}"
            boxes, at_top = boxes + 1, False
        elif char in BOTTOMS:
            at_top = True
        else:
            assert char in "│║╎┃", f"not a box: {column!r}"
    assert at_top, f"a box cut at the bottom: {column!r}"
    return boxes


@pytest.mark.parametrize("height", [9, 13, 16])
def test_a_scrolled_side_shows_whole_boxes_and_counts_the_others(height: int) -> None:
    """Walking down a side longer than the view and back up: every box shown is whole (the
    view scrolls by boxes) and the counters above and below count every box not shown (they
    said 0 more over a box cut in half)."""
    edges = [1, 1, 2, 1, 3, 1, 1, 2, 1, 1]
    callers = tuple(
        Neighbour(
            f"system:s{i}",
            f"s{i}",
            "system",
            tuple(FocusEdge(f"e{i}-{j}", "P102", "rest", Verdict.PATTERN, "api") for j in range(n)),
        )
        for i, n in enumerate(edges)
    )
    focus = Focus("system:web", "web", "", callers, ())
    heights = [n.height for n in callers]
    top = 0
    for index in [*range(len(callers)), *reversed(range(len(callers)))]:
        top = scroll_for(heights, index, top, height - 2)
        canvas = draw_focus(focus, 100, height, (LEFT, index), (top, 0)).canvas
        column, above, below = _side_column(["".join(row) for row in canvas.chars])
        shown = _whole_boxes(column)
        assert above + shown + below == len(callers), (index, column, above, below)
        names = "\n".join("".join(row)[:20] for row in canvas.chars)
        assert f"═s{index}═" in names  # the highlighted box is in view


def test_an_inferred_neighbours_name_is_whole_beside_its_mark() -> None:
    # The box was as wide as the longest name, and its title, the name and " ~", cut the name
    # ("127.0.…:36027 ~") with some forty cells of the row between free, at 160 columns.
    edge = FocusEdge("e1", "unresolved", "http-external", Verdict.UNRESOLVED, "from shop-api")
    host = Neighbour("external:127.0.0.1:36027", "127.0.0.1:36027", "external", (edge,), True)
    focus = Focus("system:shop", "shop", "1 component", (), (host,))
    canvas = draw_focus(focus, 140, 8, (CENTRE, 0), (0, 0)).canvas
    title = "".join(canvas.chars[1])
    assert "127.0.0.1:36027 ~" in title, title
