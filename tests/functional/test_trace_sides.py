"""A trace on both sides of two listening edges: the demo's billing worker receives the
providers' events (A201) and sends to the comms outbox (A202) in one poll. The traces beside it
are the other side of each edge, not "all of this side"."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from textual.widgets import DataTable, Static

from seamscope.tui.app import SeamscopeApp
from seamscope.tui.data import LocalStore
from seamscope.tui.screens.trace import TraceScreen
from tests.functional.conftest import settle
from tests.functional.test_panes import DEMO, demo_db

pytestmark = pytest.mark.anyio

__all__ = ["demo_db"]  # the fixture, shared with test_panes


async def test_a_trace_on_both_sides_lists_each_edges_other_side_first(demo_db: Path) -> None:
    app = SeamscopeApp(lambda: LocalStore(demo_db, DEMO / "seamscope.toml"), refresh_interval=0)
    async with app.run_test(size=(160, 45)) as pilot:
        await settle(pilot)
        assert app.source is not None
        found = app.source.user_sql(
            "SELECT l.trace_id FROM classifier_labelled_spans l JOIN edges e USING (edge_id) "
            "WHERE e.rule_id IN ('A201', 'A202') GROUP BY l.trace_id "
            "HAVING count(DISTINCT e.rule_id) = 2 ORDER BY l.trace_id LIMIT 1"
        )
        assert found.num_rows == 1, "no trace of the billing worker on both edges"
        app.open_trace(str(found.column("trace_id")[0]), edge_id=None, span_id=None)
        await settle(pilot)
        screen = app.screen
        assert isinstance(screen, TraceScreen)
        view = screen._view
        assert view is not None and view.pairing is not None
        this = str(screen.query_one("#this-caption", Static).render())
        other = str(screen.query_one("#other-caption", Static).render())
        hops = str(screen.query_one("#hops-caption", Static).render())
        assert this == "This trace: producer and consumer side"
        # The other trace is of the other side of its edge, and said so.
        assert not other.startswith("Another trace"), other
        assert "this side" not in hops, hops
        # Its spans' own (edge, side): a listed trace of the same side of the same edge comes
        # after every one of the other side.
        own = {(s.edge_id, s.side) for s in view.spans if s.side}
        sides = [(h.edge_id, h.side) in own for h in view.hops]
        assert sides[0] is False and sides == sorted(sides), sides
        # One row per trace: a trace with a span on each edge was listed twice, alike.
        table = screen.query_one("#hops", DataTable)
        traces = [str(table.get_row_at(r)[3]) for r in range(table.row_count)]
        assert len(traces) == len(set(traces)), traces


def _seconds(cell: str) -> float:
    value, unit = cell[1:].split()
    return float(value) * {"s": 1, "min": 60, "h": 3600}[unit]


async def test_the_other_sides_traces_say_how_far_from_this_one_they_start(demo_db: Path) -> None:
    """The list is nearest in time first; as dates its order read as a jumble (17:40:20,
    17:40:22, 17:40:18, 17:40:24 at 100x30 in the demo) under a title saying "started
    17:40:20". Each row says when it starts from this trace's start, and by that the rows of
    each side are in order."""
    app = SeamscopeApp(lambda: LocalStore(demo_db, DEMO / "seamscope.toml"), refresh_interval=0)
    async with app.run_test(size=(100, 30)) as pilot:
        await settle(pilot)
        assert app.source is not None
        found = app.source.user_sql(
            "SELECT l.trace_id FROM classifier_labelled_spans l JOIN edges e USING (edge_id) "
            "WHERE e.rule_id IN ('A201', 'A202') GROUP BY l.trace_id "
            "HAVING count(DISTINCT e.rule_id) = 2 ORDER BY l.trace_id LIMIT 1"
        )
        app.open_trace(str(found.column("trace_id")[0]), edge_id=None, span_id=None)
        await settle(pilot)
        screen = app.screen
        assert isinstance(screen, TraceScreen) and screen._view is not None
        view = screen._view
        table = screen.query_one("#hops", DataTable)
        assert str(table.ordered_columns[0].label) == "Starts"
        cells = [str(table.get_row_at(r)[0]) for r in range(table.row_count)]
        assert len(cells) > 3 and all(re.fullmatch(r"[+−]\d+\.\d (s|min|h)", c) for c in cells)
        own = {(s.edge_id, s.side) for s in view.spans if s.side}
        listed = {h.trace_id: h for h in reversed(view.hops)}
        group = [
            (listed[str(table.get_row_at(r)[3])].edge_id, listed[str(table.get_row_at(r)[3])].side)
            in own
            for r in range(table.row_count)
        ]
        for side in (False, True):
            far = [_seconds(c) for c, g in zip(cells, group, strict=True) if g is side]
            assert far == sorted(far), (side, cells)
        assert "nearest" in str(screen.query_one("#hops-caption", Static).render())


async def test_both_waterfalls_side_by_side_fit_their_panes(demo_db: Path) -> None:
    """Side by side at 160x45 a table's stream's waterfall was 94 cells in a pane of 80: the
    labels were cut at the pane's edge ("◀ ✗ A20"), the verdict out of view. Each waterfall of
    every listening edge's trace now fits its pane, its labels whole."""
    app = SeamscopeApp(lambda: LocalStore(demo_db, DEMO / "seamscope.toml"), refresh_interval=0)
    async with app.run_test(size=(160, 45)) as pilot:
        await settle(pilot)
        assert app.source is not None
        traces = app.source.user_sql(
            "SELECT e.rule_id, any_value(l.trace_id) AS trace_id, e.edge_id "
            "FROM classifier_labelled_spans l JOIN edges e USING (edge_id) "
            "WHERE e.direction = 'listen' GROUP BY ALL ORDER BY ALL"
        ).to_pylist()
        assert {"A302", "P401"} <= {t["rule_id"] for t in traces}
        wide: list[tuple[str, str, int, int]] = []
        for t in traces:
            app.open_trace(t["trace_id"], edge_id=t["edge_id"], span_id=None)
            await settle(pilot)
            screen = app.screen
            assert isinstance(screen, TraceScreen)
            for name in ("waterfall", "other"):
                table = screen.query_one(f"#{name}", DataTable)
                if not table.display or not table.row_count:
                    continue
                drawn, room = table.virtual_size.width, table.scrollable_content_region.width
                if drawn > room:
                    wide.append((t["rule_id"], name, drawn, room))
            app.pop_screen()
            await settle(pilot)
        assert not wide, wide


async def test_with_the_attributes_at_100x30_both_waterfalls_keep_their_rows(
    demo_db: Path,
) -> None:
    """At 100x30 with the attributes shown (a), the producer's waterfall showed one of its
    three spans, the labelled ones out of view, over five lines of the list of other traces:
    the waterfalls' rows come first, the list keeps its header and a row."""
    app = SeamscopeApp(lambda: LocalStore(demo_db, DEMO / "seamscope.toml"), refresh_interval=0)
    async with app.run_test(size=(100, 30)) as pilot:
        await settle(pilot)
        assert app.source is not None
        found = app.source.user_sql(
            "SELECT l.trace_id FROM classifier_labelled_spans l JOIN edges e USING (edge_id) "
            "WHERE e.rule_id IN ('A201', 'A202') GROUP BY l.trace_id "
            "HAVING count(DISTINCT e.rule_id) = 2 ORDER BY l.trace_id LIMIT 1"
        )
        app.open_trace(str(found.column("trace_id")[0]), edge_id=None, span_id=None)
        await settle(pilot)
        await pilot.press("a")
        await settle(pilot)
        screen = app.screen
        assert isinstance(screen, TraceScreen)
        assert screen.query_one("#attributes-pane").display
        for name in ("waterfall", "other"):
            table = screen.query_one(f"#{name}", DataTable)
            assert table.row_count > 1
            assert table.size.height >= table.row_count + 1, (name, table.size.height)
        hops = screen.query_one("#hops", DataTable)
        assert hops.row_count > 1 and hops.size.height >= 2
