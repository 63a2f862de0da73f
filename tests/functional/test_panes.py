"""The top pane of the landscape and of a system (the focus view or the whole system's drawing,
beside the list) is as tall as what it shows needs, and no taller while the edge table below
needs the lines: no blank rows inside it, no box hidden over blank lines. Under the edge table,
where its rows leave the lines, the highlighted edge's reason whole."""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Any

import pytest
from textual.pilot import Pilot
from textual.widget import Widget
from textual.widgets import DataTable, Static

from seamscope.classifiers.catalog import rule_for
from seamscope.tui.app import SeamscopeApp
from seamscope.tui.data import LocalStore
from seamscope.tui.screens.base import DataScreen
from seamscope.tui.screens.landscape import TOP_LEAST, LandscapeScreen, SystemScreen
from seamscope.tui.screens.trace import TraceScreen
from seamscope.tui.widgets.edgetable import EdgeTable
from seamscope.tui.widgets.focusmap import FocusMap
from seamscope.tui.widgets.landmap import LandscapeMap
from seamscope.tui.widgets.why import WhyPane
from tests.functional.conftest import AppFactory, settle
from tests.functional.test_navigation import go_to
from tests.functional.test_screens import cells

pytestmark = pytest.mark.anyio

SIZES = [(100, 30), (160, 45), (220, 60)]


def _side_bottoms(focus: FocusMap) -> list[int]:
    """The line below each side's last box, of the focus view drawn now (0: no box)."""
    drawing = focus._drawn()
    assert drawing is not None and focus.focus_data is not None
    bottoms = []
    for side in (focus.focus_data.callers, focus.focus_data.callees):
        ends = [
            y + h
            for node_id, (_, y, _, h) in drawing.boxes.items()
            for n in side
            if n.node_id == node_id
        ]
        bottoms.append(max(ends, default=0))
    return bottoms


@pytest.mark.parametrize("size", SIZES)
async def test_the_landscapes_focus_view_is_as_tall_as_its_tallest_system_needs(
    sample_db: Path, make_app: AppFactory, size: tuple[int, int]
) -> None:
    """The top took 55% of the screen whatever it showed: on the sample's systems of one or two
    neighbours a side, half the focus view was blank rows over the centre's border."""
    app = make_app(sample_db)
    async with app.run_test(size=size) as pilot:
        await settle(pilot)
        screen = app.screen
        assert isinstance(screen, LandscapeScreen)
        focus = screen.query_one(FocusMap)
        table = screen.query_one("#edges", EdgeTable)
        assert focus.focus_data is not None
        names = [f"system:{name}" for name in screen.view.systems] if screen.view else []
        lowest = 0
        for name in names:
            screen.walk_to(name.partition(":")[2])
            await settle(pilot)
            drawing = focus._drawn()
            assert drawing is not None and focus.focus_data is not None
            data = focus.focus_data
            # Every box of both sides is drawn: no side scrolls, nothing is counted as hidden.
            assert set(drawing.boxes) == {data.centre} | {
                n.node_id for n in data.callers + data.callees
            }, name
            lowest = max(lowest, *_side_bottoms(focus))
            # And every edge of the table is in view.
            assert table.row_count + 1 <= table.scrollable_content_region.height, name
        # The tallest side ends on the line above the centre's bottom border: no blank line.
        assert lowest == focus.size.height - 1


async def test_a_systems_focus_view_shows_all_of_a_side_the_table_leaves_room_for(
    sample_db: Path, make_app: AppFactory
) -> None:
    """At 100x30 orders-api's four callees took twelve lines of eleven: three boxes, two blank
    lines, "▼ 1 more", and four blank lines under the edge table."""
    app = make_app(sample_db)
    async with app.run_test(size=(100, 30)) as pilot:
        await settle(pilot)
        app.open_system("orders")
        await settle(pilot)
        screen = app.screen
        assert isinstance(screen, SystemScreen)
        components = screen.query_one("#components", DataTable)
        for row in range(components.row_count):
            components.move_cursor(row=row)
            await settle(pilot)
            focus = screen.query_one(FocusMap)
            drawing = focus._drawn()
            assert drawing is not None and focus.focus_data is not None
            data = focus.focus_data
            shown = set(drawing.boxes) - {data.centre}
            assert shown == {n.node_id for n in data.callers + data.callees}, cells(components, 1)
            text = "\n".join("".join(line) for line in drawing.canvas.chars)
            assert "▼" not in text and "▲" not in text
        table = screen.query_one("#edges", EdgeTable)
        assert table.row_count + 1 <= table.scrollable_content_region.height


@pytest.mark.parametrize("size", [(160, 45), (220, 60)])
async def test_the_whole_system_drawing_takes_the_top_it_is_in(
    sample_db: Path, make_app: AppFactory, size: tuple[int, int]
) -> None:
    """The drawing's pane was at most 60% of the top: the drawing cut after 12 of its 19 lines
    (a scrollbar), over 10 blank lines of the top beside the components list."""
    app = make_app(sample_db)
    async with app.run_test(size=size) as pilot:
        await settle(pilot)
        await go_to(pilot, "orderswork")
        await pilot.press("m")
        await settle(pilot)
        screen = app.screen
        assert isinstance(screen, SystemScreen)
        pane = screen.query_one("#map-pane")
        canvas = screen.query_one(LandscapeMap).drawing.canvas
        top = screen.query_one("#top")
        assert pane.outer_size.height == top.outer_size.height
        # The whole drawing's height is in view (the table of 6 edges leaves the room).
        assert pane.scrollable_content_region.height >= canvas.height
        table = screen.query_one("#edges", EdgeTable)
        assert table.row_count + 1 <= table.scrollable_content_region.height


def _said(pane: WhyPane) -> str:
    """The pane's text as drawn, its lines joined and its spaces collapsed."""
    lines = (pane.render_line(y).text.strip("│ ") for y in range(pane.size.height))
    return " ".join(" ".join(lines).split())


async def _open(pilot: Pilot[None], where: str) -> DataScreen[Any]:
    await settle(pilot)
    if where == "system":
        pilot.app.open_system("orders")  # type: ignore[attr-defined]
        await settle(pilot)
    screen = pilot.app.screen
    assert isinstance(screen, LandscapeScreen if where == "landscape" else SystemScreen)
    return screen


@pytest.mark.parametrize("where", ["landscape", "system"])
async def test_the_highlighted_edges_reason_is_under_the_edge_table_where_it_leaves_room(
    sample_db: Path, make_app: AppFactory, where: str
) -> None:
    """At 160x45 the lines under the edge table of the landscape and of a system were blank
    (the top fitted to what it shows); the table cuts the reason to the room its figures
    leave. The pane there says the highlighted edge's verdict, rule, reason whole and what to
    do, and follows the table's cursor, from the records the table has: no query."""
    app = make_app(sample_db)
    async with app.run_test(size=(160, 45)) as pilot:
        screen = await _open(pilot, where)
        table = screen.query_one("#edges", EdgeTable)
        pane = screen.query_one(WhyPane)
        assert table.row_count >= 2
        reads = 0
        source = app.source
        assert source is not None
        run = source.run

        def counted(work: Any) -> Any:
            nonlocal reads
            reads += 1
            return run(work)

        source.run = counted  # type: ignore[method-assign]
        said = []
        for row in range(table.row_count):
            table.move_cursor(row=row)
            await settle(pilot)
            edge = table.edges[row]
            assert pane.display and pane.region.y >= table.region.bottom
            shown = _said(pane)
            assert f"{edge.verdict.glyph} {edge.verdict}" in shown
            assert edge.rule_id in shown and rule_for(edge.rule_id, edge.verdict).name in shown
            assert edge.reason and " ".join(edge.reason.split()) in shown
            assert ("Do instead:" in shown) == edge.verdict.is_finding
            said.append(shown)
        assert len(set(said)) == len(said)  # it followed the cursor
        assert reads == 0
        # Every row of the table is still in view above it.
        assert table.row_count + 1 <= table.scrollable_content_region.height


async def test_the_reason_under_the_landscapes_table_follows_the_focus_view(
    sample_db: Path, make_app: AppFactory
) -> None:
    """A box highlighted in the focus view puts the table's cursor on its first edge: the
    pane says that edge."""
    app = make_app(sample_db)
    async with app.run_test(size=(160, 45)) as pilot:
        screen = await _open(pilot, "landscape")
        table = screen.query_one("#edges", EdgeTable)
        pane = screen.query_one(WhyPane)
        before = _said(pane)
        await pilot.press("tab", "l")
        await settle(pilot)
        edge = table.edges[table.cursor_row]
        assert edge.edge_id in screen.query_one(FocusMap).highlighted_edges
        assert _said(pane) != before and edge.rule_id in _said(pane)


@pytest.mark.parametrize(("where", "size"), [("system", (100, 30)), ("landscape", (100, 22))])
async def test_the_reason_under_the_edge_table_gives_way_to_its_rows(
    sample_db: Path, make_app: AppFactory, where: str, size: tuple[int, int]
) -> None:
    """Where the edge table needs its lines for its rows, no pane takes them."""
    app = make_app(sample_db)
    async with app.run_test(size=size) as pilot:
        screen = await _open(pilot, where)
        table = screen.query_one("#edges", EdgeTable)
        assert table.row_count
        assert not screen.query_one(WhyPane).display
        assert table.row_count + 1 <= table.scrollable_content_region.height


@pytest.mark.parametrize("size", [(160, 45), (220, 60)])
@pytest.mark.parametrize("where", ["landscape", "system"])
async def test_the_reason_pane_takes_every_line_the_table_leaves_and_says_more_there(
    sample_db: Path, make_app: AppFactory, where: str, size: tuple[int, int]
) -> None:
    """On a store of few edges the reason pane was as tall as its three lines: at 220x60 some
    thirty blank lines stayed between it and the footer. In the lines the table leaves it says
    what joined the two ends, the edge's figures, and the rule's why and example (the edge
    screen's sections), after what it said before."""
    app = make_app(sample_db)
    async with app.run_test(size=size) as pilot:
        screen = await _open(pilot, where)
        table = screen.query_one("#edges", EdgeTable)
        pane = screen.query_one(WhyPane)
        footer = screen.query_one("SteadyFooter")
        assert pane.display
        assert pane.region.y == table.region.bottom  # the table's rows right above it
        assert pane.region.bottom <= footer.region.y
        edge = table.edges[table.cursor_row]
        rule = rule_for(edge.rule_id, edge.verdict)
        shown = _said(pane)
        assert " ".join(edge.reason.split()) in shown if edge.reason else True
        assert f"Joined by {edge.evidence}" in shown
        assert f"Spans {edge.span_count:,}" in shown
        assert rule.rationale and " ".join(rule.rationale.split())[:60] in shown
        assert shown.index("Do instead") < shown.index("Joined by") < shown.index("Why")


@pytest.mark.parametrize("size", [(160, 45), (220, 60)])
async def test_under_a_short_findings_list_the_reason_pane_takes_the_lines_its_rows_leave(
    sample_db: Path, make_app: AppFactory, size: tuple[int, int]
) -> None:
    """The findings list took every line and its pane sat at the footer: at 220x60 on the
    demo's eight findings some forty blank lines lay between the two. Where the rows take at
    most half of the lines, the pane is right under them and says there what the landscape's
    says (what joined the ends, the figures, the rule's why)."""
    app = make_app(sample_db)
    async with app.run_test(size=size) as pilot:
        await settle(pilot)
        await pilot.press("n")
        await settle(pilot)
        screen = app.screen
        table = screen.query_one("#findings", EdgeTable)
        pane = screen.query_one(WhyPane)
        footer = screen.query_one("SteadyFooter")
        assert 0 < table.row_count and pane.display
        assert pane.region.y == table.region.bottom
        assert table.region.height == table.row_count + 1  # its rows and header, no blank row
        assert pane.region.bottom <= footer.region.y
        edge = table.edges[table.cursor_row]
        shown = _said(pane)
        assert f"Joined by {edge.evidence}" in shown and "Why:" in shown


def _blank_tail(pane: WhyPane) -> int:
    """The blank lines at the foot of the pane, over its bottom border."""
    lines = [pane.render_line(y).text.strip("│╰─╯ ") for y in range(pane.size.height)]
    return len(lines) - len("\n".join(lines).rstrip("\n").split("\n"))


@pytest.mark.parametrize("where", ["landscape", "matrix", "system", "findings"])
async def test_the_reason_pane_is_no_taller_than_its_tables_edges_need(
    demo_db: Path, where: str
) -> None:
    """At 220x60 on the demo the reason pane reached the footer whatever it had to say: under
    the matrix, a system's focus view and the findings it framed twenty to forty blank lines
    once it had said all it has of the edge (its reason, what joined the ends, the figures,
    the rule's why and example). It is as tall as the edge of its table that needs the most
    needs, so it keeps its height from row to row, and that edge fills it."""
    app = SeamscopeApp(lambda: LocalStore(demo_db, DEMO / "seamscope.toml"), refresh_interval=0)
    async with app.run_test(size=(220, 60)) as pilot:
        await settle(pilot)
        if where == "system":
            app.open_system("inventory")
        elif where != "landscape":
            await pilot.press("m" if where == "matrix" else "n")
        await settle(pilot)
        screen = app.screen
        table = screen.query_one("#findings" if where == "findings" else "#edges", EdgeTable)
        pane = screen.query_one(WhyPane)
        footer = screen.query_one("SteadyFooter")
        heights, tails = set(), []
        for row in range(table.row_count):
            table.move_cursor(row=row)
            await settle(pilot)
            assert pane.display and pane.region.bottom <= footer.region.y
            assert "Example:" in _said(pane)  # all it has
            heights.add(pane.outer_size.height)
            tails.append(_blank_tail(pane))
        assert len(heights) == 1  # it stays put
        assert min(tails) == 0, tails


async def test_a_findings_list_taller_than_half_the_screen_keeps_its_lines(
    sample_db: Path, make_app: AppFactory
) -> None:
    """Where the rows need more than half of the lines, the list has them, the pane its usual
    share at the foot."""
    app = make_app(sample_db)
    async with app.run_test(size=(100, 12)) as pilot:
        await settle(pilot)
        await pilot.press("n")
        await settle(pilot)
        screen = app.screen
        table = screen.query_one("#findings", EdgeTable)
        pane = screen.query_one(WhyPane)
        assert table.row_count + 1 > table.region.height  # the rows scroll
        assert pane.display and pane.region.y == table.region.bottom
        assert "Why:" not in _said(pane)


@pytest.fixture
def demo_db(tmp_path: Path) -> Path:
    """The demo's captured spans (sample_traces/), stored as `seamscope tui sample_traces/`
    stores them."""
    from seamscope.tracer.ingest import ingest

    db = tmp_path / "demo.duckdb"
    assert ingest(db, [str(DEMO / "demo-fleet.jsonl")], use_owner=False).ok
    return db


DEMO = Path(__file__).parents[2] / "sample_traces"


@pytest.mark.parametrize(("where", "height"), [("landscape", 30), ("inventory", 28)])
async def test_no_blank_lines_over_a_reason_pane_cut_short(
    demo_db: Path, where: str, height: int
) -> None:
    """The table kept the height of the tallest centre's rows so that the pane stayed put: at
    100x30 on the demo a one-row table kept five blank lines over a pane of two lines, its
    reason cut with "…" (at 100x28 inventory-indexer's two rows kept three). Where the pane
    cannot say the reason whole under a table that tall, the table is as tall as its own rows
    and the pane takes the rest; either way no blank line lies between the table's rows and a
    pane cut short."""
    landscape = DEMO / "seamscope.toml"
    app = SeamscopeApp(lambda: LocalStore(demo_db, landscape), refresh_interval=0)
    async with app.run_test(size=(100, height)) as pilot:
        await settle(pilot)
        if where != "landscape":
            app.open_system(where)
        await settle(pilot)
        screen = app.screen
        assert isinstance(screen, LandscapeScreen if where == "landscape" else SystemScreen)
        rows = screen.query_one("#systems" if where == "landscape" else "#components", DataTable)
        table = screen.query_one("#edges", EdgeTable)
        pane = screen.query_one(WhyPane)
        shown: list[tuple[int, int]] = []  # (rows of the table, lines of the pane)
        for row in range(rows.row_count):
            rows.move_cursor(row=row)  # as j k on the focus view's centre step it (hidden here)
            await settle(pilot)
            if not pane.display:
                continue
            assert pane.region.y == table.region.bottom
            if table.region.height > table.row_count + 1:  # blank lines under its rows
                assert not _said(pane).endswith("…"), (cells(rows, 1)[row], _said(pane))
            shown.append((table.row_count, pane.region.height))
        # The centre of the fewest rows left its pane more lines than that of the most.
        assert min(shown)[1] > max(shown)[1], shown


@pytest.fixture(scope="module")
def forty_systems(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from benchmarks.generate import generate_store

    store = tmp_path_factory.mktemp("g40") / "g40.duckdb"
    generate_store(store, 20_000, systems=40)
    return store


@pytest.mark.parametrize("size", [(160, 45), (220, 60)])
async def test_a_hub_s_scrolled_table_leaves_the_reason_pane_its_lines(
    forty_systems: Path, size: tuple[int, int]
) -> None:
    """On a generated landscape of 40 systems the hub `web` has some 60 edges: its table took
    every line, at 160x45 and at 220x60, and no reason was shown for any of them. A table that
    scrolls anyway now gives the pane a few lines and keeps most of them; a system whose
    edges fit keeps them all over its pane."""
    from benchmarks.generate import landscape_path

    store = forty_systems
    app = SeamscopeApp(lambda: LocalStore(store, landscape_path(store)), refresh_interval=0)
    async with app.run_test(size=size) as pilot:
        await settle(pilot)
        screen = app.screen
        assert isinstance(screen, LandscapeScreen) and screen.view is not None
        screen.walk_to("web")
        await settle(pilot)
        table = screen.query_one("#edges", EdgeTable)
        pane = screen.query_one(WhyPane)
        assert table.row_count + 1 > table.outer_size.height  # it scrolls
        assert table.outer_size.height >= 10
        assert pane.display and pane.outer_size.height >= 6
        edge = table.edges[table.cursor_row]
        assert edge.rule_id in _said(pane) and "Do instead" in _said(pane)


async def test_a_focus_view_gives_the_lines_it_does_not_need_to_a_reason_pane_cut_short(
    demo_db: Path,
) -> None:
    """At 100x30 on the demo the focus view kept the height of the tallest system's (the
    resources of no known owner, three boxes a side): providers' box held four blank lines
    while the reason pane under its table was cut to two lines, its reason ending in "…".
    Where the pane would be cut, the view is as tall as its own centre needs (never hiding a
    box of it), and the lines go to the pane."""
    landscape = DEMO / "seamscope.toml"
    app = SeamscopeApp(lambda: LocalStore(demo_db, landscape), refresh_interval=0)
    async with app.run_test(size=(100, 30)) as pilot:
        await settle(pilot)
        screen = app.screen
        assert isinstance(screen, LandscapeScreen)
        rows = screen.query_one("#systems", DataTable)
        focus = screen.query_one(FocusMap)
        pane = screen.query_one(WhyPane)
        cut = []
        for row in range(rows.row_count):
            rows.move_cursor(row=row)
            await settle(pilot)
            data = focus.focus_data
            drawing = focus._drawn()
            assert data is not None and drawing is not None
            # Every box of the centre is drawn.
            assert set(drawing.boxes) == {data.centre} | {
                n.node_id for n in data.callers + data.callees
            }, data.centre
            blank = focus.size.height - 1 - max(_side_bottoms(focus))
            said = _said(pane) if pane.display else ""
            if blank > 0 and focus.outer_size.height > TOP_LEAST:
                cut.append((data.centre, blank, said[-40:]))
                assert pane.display and not said.endswith("…"), (data.centre, blank, said)
        assert cut, "no system left lines in the view: nothing tested"


async def test_under_a_table_of_one_edge_the_reason_pane_follows_its_row(
    demo_db: Path,
) -> None:
    """At 220x60 on the demo the table of a system of one edge kept the height of the tallest
    system's table, so that the reason pane stayed put: four blank lines between the row and
    its reason, over a pane that said all it has with some twenty lines to spare. Where the
    pane says everything under the table's own rows, the table is as tall as its rows."""
    landscape = DEMO / "seamscope.toml"
    app = SeamscopeApp(lambda: LocalStore(demo_db, landscape), refresh_interval=0)
    async with app.run_test(size=(220, 60)) as pilot:
        await settle(pilot)
        screen = app.screen
        assert isinstance(screen, LandscapeScreen)
        screen.walk_to("analytics")
        await settle(pilot)
        table = screen.query_one("#edges", EdgeTable)
        pane = screen.query_one(WhyPane)
        assert table.row_count == 1
        assert pane.display and "Example:" in _said(pane)
        assert table.region.height == table.row_count + 1  # its row and header, no blank line
        assert pane.region.y == table.region.bottom


async def whole_drawing(pilot: Pilot[None], system: str) -> tuple[SystemScreen, Widget]:
    """Opens system on a settled app and shows its whole drawing (m): its screen and map pane."""
    app: Any = pilot.app
    await settle(pilot)
    app.open_system(system)
    await settle(pilot)
    await pilot.press("m")
    await settle(pilot)
    screen = app.screen
    assert isinstance(screen, SystemScreen)
    return screen, screen.query_one("#map-pane")


@pytest.mark.parametrize(
    ("size", "system"),
    [((160, 45), "comms"), ((160, 45), "providers"), ((220, 60), "inventory")],
)
async def test_the_whole_system_drawing_fits_its_pane_across(
    demo_db: Path, size: tuple[int, int], system: str
) -> None:
    """On the demo the drawings of comms and providers were some 175 cells wide in a pane of
    125 at 160x45, inventory's 219 in one of 185 at 220x60: lanes two cells apart and every
    label whole, the pane scrolled sideways and its right-hand boxes were out of view. Drawn
    narrower now where that makes it fit, every box still drawn; the pane's border names the
    selected box whole, as the drawing may cut it."""
    landscape = DEMO / "seamscope.toml"
    app = SeamscopeApp(lambda: LocalStore(demo_db, landscape), refresh_interval=0)
    async with app.run_test(size=size) as pilot:
        screen, pane = await whole_drawing(pilot, system)
        landmap = screen.query_one(LandscapeMap)
        drawing = landmap.drawing
        assert drawing.canvas.width + 2 <= pane.scrollable_content_region.width
        assert pane.max_scroll_x == 0
        assert drawing.narrowed  # and it needed to be
        assert set(drawing.boxes) == {n.node_id for n in landmap._map_nodes}
        node = next(n for n in landmap._map_nodes if n.node_id == landmap.selected)
        assert str(pane.border_title) == f"{node.label} · {node.sublabel}"
        await pilot.press("l")  # the next box: the border follows
        await settle(pilot)
        node = next(n for n in landmap._map_nodes if n.node_id == landmap.selected)
        assert str(pane.border_title).startswith(node.label)


async def test_the_other_sides_traces_take_the_lines_its_waterfall_leaves(demo_db: Path) -> None:
    """At 100x30 on the demo a consumer's trace listed the other side's traces in five lines
    (four of them, the rest scrolled) under some twelve blank lines of the other side's
    waterfall of two spans. The list now has the lines that waterfall leaves."""
    landscape = DEMO / "seamscope.toml"
    app = SeamscopeApp(lambda: LocalStore(demo_db, landscape), refresh_interval=0)
    async with app.run_test(size=(100, 30)) as pilot:
        await settle(pilot)
        assert app.source is not None
        found = app.source.user_sql("SELECT edge_id FROM edges WHERE rule_id = 'A202'")
        app.open_edge(str(found.column("edge_id")[0]))
        await settle(pilot)
        await pilot.press("enter")  # the first span's trace
        await settle(pilot)
        screen = app.screen
        assert isinstance(screen, TraceScreen)
        hops = screen.query_one("#hops", DataTable)
        other = screen.query_one("#other", DataTable)
        assert hops.row_count > 4  # more than its five lines showed
        assert other.row_count + 1 < other.size.height  # the waterfall leaves lines
        assert hops.size.height == hops.row_count + 1  # every trace in view


@pytest.mark.parametrize("size", [(100, 30), (160, 45)])
async def test_the_edge_screens_spans_fit_the_terminal_across(
    demo_db: Path, size: tuple[int, int]
) -> None:
    """At 100x30 on the demo the recent spans of a stream's edge (`DynamoDB
    Streams.GetRecords`) made a table 107 cells wide: it scrolled sideways, the trace ids cut
    off at the edge. Every column is in the width now, a span's name cut to the room left."""
    landscape = DEMO / "seamscope.toml"
    app = SeamscopeApp(lambda: LocalStore(demo_db, landscape), refresh_interval=0)
    async with app.run_test(size=size) as pilot:
        await settle(pilot)
        assert app.source is not None
        found = app.source.user_sql("SELECT edge_id FROM edges WHERE rule_id = 'A302'")
        app.open_edge(str(found.column("edge_id")[0]))
        await settle(pilot)
        spans = app.screen.query_one("#spans", DataTable)
        assert spans.row_count
        assert spans.max_scroll_x == 0
        assert spans.virtual_size.width <= spans.scrollable_content_region.width
        trace = [str(spans.get_row_at(row)[-1]) for row in range(spans.row_count)]
        assert all(len(t) == 12 for t in trace)


async def test_the_drawing_asked_for_before_the_system_is_read_opens_on_its_component(
    demo_db: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """On the demo, m pressed as a system's screen opened (its edges still being read) drew
    the system on the first box by name, another system's component (analytics-streamer
    for inventory), not on the component in focus as m does once the screen is read."""
    landscape = DEMO / "seamscope.toml"
    app = SeamscopeApp(lambda: LocalStore(demo_db, landscape), refresh_interval=0)
    release = threading.Event()
    fetch = SystemScreen.fetch

    def held(screen: SystemScreen, q: Any) -> Any:
        release.wait()  # the read goes on once m has been pressed
        return fetch(screen, q)

    async with app.run_test(size=(220, 60)) as pilot:
        await settle(pilot)
        monkeypatch.setattr(SystemScreen, "fetch", held)
        app.open_system("inventory")
        await pilot.pause()
        screen = app.screen
        assert isinstance(screen, SystemScreen) and screen.view is None
        await pilot.press("m")
        release.set()
        await settle(pilot)
        landmap = screen.query_one(LandscapeMap)
        assert screen.query_one("#map-pane").display
        assert screen.centre is not None and screen.centre.startswith("component:inventory/")
        assert landmap.selected == screen.centre


async def test_a_stream_consumers_trace_does_not_call_more_consumers_the_other_side(
    demo_db: Path,
) -> None:
    """A table stream's edge (A302 on the demo) has no producer's spans: the table writes
    none. Its consumer's trace showed another consumer's beside it as "Consumer side: trace
    ...", over "Traces on the other side", every one of them a consumer's too. They are said
    to be more of this side."""
    landscape = DEMO / "seamscope.toml"
    app = SeamscopeApp(lambda: LocalStore(demo_db, landscape), refresh_interval=0)
    async with app.run_test(size=(160, 45)) as pilot:
        await settle(pilot)
        assert app.source is not None
        found = app.source.user_sql("SELECT edge_id FROM edges WHERE rule_id = 'A302'")
        app.open_edge(str(found.column("edge_id")[0]))
        await settle(pilot)
        await pilot.press("enter")
        await settle(pilot)
        screen = app.screen
        assert isinstance(screen, TraceScreen)
        this = str(screen.query_one("#this-caption", Static).render())
        other = str(screen.query_one("#other-caption", Static).render())
        hops = str(screen.query_one("#hops-caption", Static).render())
        assert this == "This trace: consumer side"
        assert other.startswith("Another trace of the consumer side: ")
        assert "other side" not in hops and "this side" in hops
        kinds = screen.query_one("#hops", DataTable)
        assert {str(kinds.get_row_at(r)[2]) for r in range(kinds.row_count)} == {"CLIENT"}


async def test_a_hubs_scrolled_table_does_not_wrap_every_reason_to_fit_the_top(
    forty_systems: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Whether the focus view gives the pane lines (fit_top) asks what the pane needs for
    every edge of the table, each reason wrapped: some 20 to 40 ms for web's 60 edges on a
    generated store of 40 systems, at every fit. A table that scrolls anyway leaves the pane
    the same lines under any top: the question is not asked there."""
    from benchmarks.generate import landscape_path

    asked: list[int] = []
    needs = WhyPane.needs

    def counted(pane: WhyPane, edges: Any) -> int:
        asked.append(len(edges))
        return needs(pane, edges)

    monkeypatch.setattr(WhyPane, "needs", counted)
    store = forty_systems
    app = SeamscopeApp(lambda: LocalStore(store, landscape_path(store)), refresh_interval=0)
    async with app.run_test(size=(160, 45)) as pilot:
        await settle(pilot)
        screen = app.screen
        assert isinstance(screen, LandscapeScreen)
        screen.walk_to("web")
        await settle(pilot)
        asked.clear()
        screen._fit_top()
        table = screen.query_one("#edges", EdgeTable)
        assert table.row_count + 1 > table.outer_size.height  # it scrolls
        assert asked == []


@pytest.mark.parametrize("centre", ["", "web"])
async def test_at_100x30_a_hub_s_reason_pane_says_the_reason_and_what_to_do(
    forty_systems: Path, centre: str
) -> None:
    """At 100x30 on a generated landscape of 40 systems, the resources of no known owner (and
    the hub web) kept a reason pane of two lines: the headline alone, wrapped, without the
    reason or what to do. The focus view and the table both scroll anyway: the view gives the
    pane the lines it needs for them."""
    from benchmarks.generate import landscape_path

    store = forty_systems
    app = SeamscopeApp(lambda: LocalStore(store, landscape_path(store)), refresh_interval=0)
    async with app.run_test(size=(100, 30)) as pilot:
        await settle(pilot)
        screen = app.screen
        assert isinstance(screen, LandscapeScreen) and screen.view is not None
        screen.walk_to(centre)
        await settle(pilot)
        table = screen.query_one("#edges", EdgeTable)
        pane = screen.query_one(WhyPane)
        assert table.row_count + 1 > table.outer_size.height  # it scrolls
        edge = table.edges[table.cursor_row]
        said = _said(pane)
        assert pane.display and edge.rule_id in said, said
        assert "Do instead" in said and (edge.reason or "")[:30] in said, said
