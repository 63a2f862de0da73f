"""Navigation that never surprises: the selection is visible, Enter opens exactly it, Tab stops
only where keys work, Esc clears a filter before it goes back, vim keys, go to anything by name,
a live session asks before quitting; the focus view walks, the matrix fits 40+ systems; label
changes are marked and listed."""

from __future__ import annotations

import threading
from pathlib import Path

import duckdb
import pytest
from textual.pilot import Pilot
from textual.widget import Widget
from textual.widgets import DataTable, Static

from seamscope.classifiers.engine import classify
from seamscope.classifiers.landscape import parse_landscape
from seamscope.classifiers.results import Verdict
from seamscope.tracer.rows import SpanBatchBuilder
from seamscope.tracer.store import Store, short_lock
from seamscope.tui.app import SeamscopeApp
from seamscope.tui.data import LocalStore
from seamscope.tui.screens.dialogs import ConfirmQuit, HelpScreen
from seamscope.tui.screens.edge import EdgeScreen
from seamscope.tui.screens.landscape import TOP_SHARE, LandscapeScreen, SystemScreen
from seamscope.tui.screens.lists import EdgeListScreen, FindingsScreen, HistoryScreen
from seamscope.tui.screens.trace import TraceScreen
from seamscope.tui.widgets.edgetable import EdgeTable
from seamscope.tui.widgets.focus_layout import CENTRE, RIGHT
from seamscope.tui.widgets.focusmap import FocusMap
from seamscope.tui.widgets.landmap import LandscapeMap
from seamscope.tui.widgets.matrix import MatrixView
from tests.functional.conftest import AppFactory, settle
from tests.functional.sample import EDGES, T0, build_store, edge_id_of
from tests.functional.test_screens import SIZE, cells, static_text

pytestmark = pytest.mark.anyio


def _screen(app: SeamscopeApp) -> LandscapeScreen:
    assert isinstance(app.screen, LandscapeScreen)
    return app.screen


async def test_enter_on_the_highlighted_system_opens_exactly_it(
    sample_db: Path, make_app: AppFactory
) -> None:
    app = make_app(sample_db)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        screen = _screen(app)
        systems = screen.query_one("#systems", DataTable)
        assert app.focused is systems  # the first key goes where the highlight is
        row = cells(systems, 1).index("users")
        systems.move_cursor(row=row)
        await settle(pilot)
        assert screen.centre == "users"
        focus = screen.query_one(FocusMap)
        assert focus.focus_data is not None and focus.focus_data.name == "users"
        await pilot.press("enter")
        await settle(pilot)
        assert isinstance(app.screen, SystemScreen) and app.screen.system == "users"
        await pilot.press("escape")
        await settle(pilot)
        assert _screen(app).centre == "users"


async def test_the_focus_view_walks_to_a_neighbour_and_back(
    sample_db: Path, make_app: AppFactory
) -> None:
    app = make_app(sample_db)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        screen = _screen(app)
        systems = screen.query_one("#systems", DataTable)
        systems.move_cursor(row=cells(systems, 1).index("orders"))
        await settle(pilot)
        focus = screen.query_one(FocusMap)
        await pilot.press("tab")
        assert app.focused is focus
        await pilot.press("l")  # vim: to the callees
        await settle(pilot)
        side, index = focus.selected
        assert side == RIGHT
        data = focus.focus_data
        assert data is not None
        neighbour = data.callees[index]
        # The table follows: its cursor is on an edge of the highlighted neighbour.
        table = screen.query_one("#edges", EdgeTable)
        assert table.current_edge() in {e.edge_id for e in neighbour.edges}
        # Both ends of every row carry the rule and the verdict's glyph.
        assert all(e.label.startswith(f"{e.rule} {e.verdict.glyph}") for e in neighbour.edges)
        assert neighbour.kind == "system"  # orders' worst callee: users, whose table it hits
        await pilot.press("enter")  # walk there
        await settle(pilot)
        assert screen.centre == neighbour.name
        assert focus.highlighted == "system:orders"  # where it came from, highlighted
        await pilot.press("backspace")
        await settle(pilot)
        assert screen.centre == "orders"
        assert focus.selected[0] != CENTRE


async def test_a_vendors_box_names_the_component_of_each_of_its_rows(
    sample_db: Path, make_app: AppFactory
) -> None:
    """Two components of orders call auth0: its box in orders' focus said "auth0 (vendor)" on
    both rows, its own name again; each row names the component of orders on that edge."""
    auth0 = edge_id_of(next(i for i, e in enumerate(EDGES) if e.dst == "external:auth0"))
    with duckdb.connect(str(sample_db)) as con:
        for n, caller in enumerate(("orders-api", "orders-worker")):
            con.execute(
                "INSERT INTO edges SELECT * REPLACE (? AS edge_id, ? AS from_node, "
                "'orders' AS from_system) FROM edges WHERE edge_id = ?",
                [f"auth0-{n}", f"component:orders/{caller}", auth0],
            )
    app = make_app(sample_db)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        screen = _screen(app)
        systems = screen.query_one("#systems", DataTable)
        systems.move_cursor(row=cells(systems, 1).index("orders"))
        await settle(pilot)
        focus = screen.query_one(FocusMap)
        assert focus.focus_data is not None
        box = next(n for n in focus.focus_data.callees if n.node_id == "external:auth0")
        rows = sorted(e.detail for e in box.edges)
        assert rows == ["from orders-api", "from orders-worker"]
        drawing = focus._drawn()
        assert drawing is not None
        x, y, w, h = drawing.boxes["external:auth0"]
        drawn = ["".join(row[x : x + w]) for row in drawing.canvas.chars[y : y + h]]
        assert "auth0" in drawn[0] and not any("auth0" in line for line in drawn[1:])
        assert sorted(line.strip("╎ ") for line in drawn[1:-1]) == rows


async def test_tab_stops_only_where_keys_work(sample_db: Path, make_app: AppFactory) -> None:
    app = make_app(sample_db)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        seen = []
        for _ in range(4):
            focused = app.focused
            assert focused is not None and focused.display and focused.region.area > 0
            seen.append(focused.id)
            await pilot.press("tab")
        assert seen == ["systems", "focus", "edges", "systems"]
        await pilot.press("m")  # the matrix takes the place of the list and the focus view
        await settle(pilot)
        seen = []
        for _ in range(3):
            assert app.focused is not None
            seen.append(app.focused.id)
            await pilot.press("tab")
        assert seen == ["matrix", "edges", "matrix"]


def _many_systems(path: Path, systems: int) -> None:
    """systems systems, each calling the next two (real spans, the real classifier)."""
    builder = SpanBatchBuilder()
    n = 0
    for i in range(systems):
        for step in (1, 2):
            j = (i + step) % systems
            trace = f"{i:04x}{step:02x}".ljust(32, "0")
            client, server = f"{n:016x}", f"{n + 1:016x}"
            n += 2
            start = T0 + n * 1_000_000
            common = {"server.address": f"sys{j:02d}-api", "server.port": 80}
            builder.add(
                trace_id=trace,
                span_id=client,
                parent_span_id=None,
                name="GET",
                kind="CLIENT",
                start_ns=start,
                end_ns=start + 3_000_000,
                status_code="UNSET",
                status_message=None,
                attributes={"http.request.method": "GET", **common},
                resource={"service.name": f"sys{i:02d}-api", "service.namespace": f"sys{i:02d}"},
                scope_name="opentelemetry.instrumentation.httpx",
            )
            builder.add(
                trace_id=trace,
                span_id=server,
                parent_span_id=client,
                name="GET /items",
                kind="SERVER",
                start_ns=start + 500_000,
                end_ns=start + 2_500_000,
                status_code="UNSET",
                status_message=None,
                attributes={"http.request.method": "GET", "http.route": "/items", **common},
                resource={"service.name": f"sys{j:02d}-api", "service.namespace": f"sys{j:02d}"},
                scope_name="opentelemetry.instrumentation.flask",
            )
    with Store.open(path) as store:
        store.append(builder.build(), batch_key="many", source="tests")
        classify(store.con)


async def test_the_matrix_fits_42_systems_in_160_columns(tmp_path: Path) -> None:
    db = tmp_path / "many.duckdb"
    _many_systems(db, 42)
    app = SeamscopeApp(lambda: LocalStore(db, classify=False), refresh_interval=0)
    async with app.run_test(size=(160, 45)) as pilot:
        await settle(pilot)
        screen = _screen(app)
        await pilot.press("m")
        await settle(pilot)
        matrix = screen.query_one(MatrixView)
        assert app.focused is matrix
        assert len(matrix.matrix.rows) == 42
        first_r, rows, first_c, cols = matrix._window()
        assert (first_c, cols >= 42) == (0, True)  # every column on screen at once
        line = matrix.render_line(matrix.header_rows).text
        assert line.count("✓") == 2  # each system calls the next two
        current = matrix.current
        assert current is not None
        info = static_text(screen.query_one("#cell-info", Static))
        assert "→" in info or "inside" in info
        # Walk the row to a cell with edges and open it: the edges between the pair.
        for _ in range(42):
            if matrix.current in matrix.matrix.cells:
                break
            await pilot.press("l")
        await pilot.press("enter")
        await settle(pilot)
        assert isinstance(app.screen, EdgeListScreen)
        assert app.screen.query_one("#findings", DataTable).row_count == 1


async def test_the_matrix_takes_the_tables_keys_for_first_last_row_and_a_page(
    tmp_path: Path,
) -> None:
    db = tmp_path / "many.duckdb"
    _many_systems(db, 42)
    app = SeamscopeApp(lambda: LocalStore(db, classify=False), refresh_interval=0)
    async with app.run_test(size=(100, 30)) as pilot:
        await settle(pilot)
        await pilot.press("m")
        await settle(pilot)
        matrix = _screen(app).query_one(MatrixView)
        assert app.focused is matrix
        await pilot.press("l", "l")
        column = matrix.cursor[1]
        _, page, _, _ = matrix._window()
        assert 1 < page < 41
        for key, row in (("G", 41), ("g", 0), ("ctrl+d", page), ("ctrl+d", 2 * page)):
            await pilot.press(key)
            await settle(pilot)
            assert (key, matrix.cursor) == (key, (row, column))
        await pilot.press("ctrl+u")
        await settle(pilot)
        assert matrix.cursor == (page, column)
        first_r, _, _, _ = matrix._window()
        assert first_r <= page  # the cursor's row in view
        assert "→" in static_text(_screen(app).query_one("#cell-info", Static))


@pytest.mark.parametrize("size", [(220, 60), (160, 45)])
async def test_the_matrix_takes_the_room_its_rows_need(
    tmp_path: Path, size: tuple[int, int]
) -> None:
    """42 systems: the matrix grows past its usual share of the screen, all its rows shown
    where the screen has room, and the edge table and its reason pane keep their few lines."""
    db = tmp_path / "many.duckdb"
    _many_systems(db, 42)
    app = SeamscopeApp(lambda: LocalStore(db, classify=False), refresh_interval=0)
    async with app.run_test(size=size) as pilot:
        await settle(pilot)
        screen = _screen(app)
        top = screen.query_one("#top")
        focus_view = top.outer_size.height  # fitted to the systems list and the focus view
        usual = size[1] * TOP_SHARE // 100
        await pilot.press("m")
        await settle(pilot)
        matrix = screen.query_one(MatrixView)
        bottom = screen.query_one("#bottom")
        _, rows_shown, _, _ = matrix._window()
        assert top.outer_size.height > usual
        assert bottom.outer_size.height >= LandscapeScreen.MIN_EDGE_ROWS
        if size[1] >= 60:
            assert rows_shown >= 42
        else:
            assert bottom.outer_size.height == LandscapeScreen.MIN_EDGE_ROWS
        await pilot.press("m")  # back to the focus view: its height again
        await settle(pilot)
        assert top.outer_size.height == focus_view


async def test_the_matrix_lists_a_systems_own_edges_on_its_diagonal_cell(
    sample_db: Path, make_app: AppFactory
) -> None:
    """The overview only counts the edges inside a system; its diagonal cell reads and lists
    them, as any other cell lists the edges between its pair; one whose callee is unknown (no
    system on its far end) among them, as the count has it."""
    with duckdb.connect(str(sample_db)) as con:
        con.execute(
            "UPDATE edges SET to_system = NULL WHERE edge_id = (SELECT min(edge_id) FROM edges "
            "WHERE level = 'component' AND from_system = 'orders')"
        )
    app = make_app(sample_db)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        screen = _screen(app)
        await pilot.press("m")
        await settle(pilot)
        matrix = screen.query_one(MatrixView)
        inside = ("system:orders", "system:orders")
        cell = matrix.matrix.cells[inside]
        r, c = (matrix.matrix.rows.index(inside[0]), matrix.matrix.columns.index(inside[1]))
        now_r, now_c = matrix.cursor
        await pilot.press(*(["j" if r > now_r else "k"] * abs(r - now_r)))
        await pilot.press(*(["l" if c > now_c else "h"] * abs(c - now_c)))
        await settle(pilot)
        assert matrix.current == inside
        hint = static_text(screen.query_one("#cell-info", Static))
        assert "inside orders" in hint
        edges = screen.query_one("#edges", EdgeTable)
        assert edges.row_count == cell.edges > 0
        assert any("orders-worker" in text for text in cells(edges, 2))
        # The table lists them already; Enter does what the hint says: it opens the system.
        assert hint.strip().endswith("· Enter opens orders")
        await pilot.press("enter")
        await settle(pilot)
        assert isinstance(app.screen, SystemScreen) and app.screen.system == "orders"
        await pilot.press("escape")
        await settle(pilot)
        assert _screen(app) is screen and matrix.current == inside
        await pilot.press("h" if c > 0 else "l")  # off the diagonal: that pair's edges only
        await settle(pilot)
        assert matrix.current != inside
        assert edges.row_count == len(
            screen._pair(*matrix.current) if matrix.current is not None else ()
        )


async def go_to(pilot: Pilot[None], text: str) -> None:
    """`:` (go to), the text typed, the first match taken with Enter."""
    await pilot.press("colon")
    await settle(pilot)
    await pilot.press(*text)
    await pilot.pause(0.3)
    await settle(pilot)
    await pilot.press("enter")
    await settle(pilot)


async def test_go_to_finds_a_component_by_fuzzy_name(sample_db: Path, make_app: AppFactory) -> None:
    app = make_app(sample_db)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        await go_to(pilot, "orderswork")
        assert isinstance(app.screen, SystemScreen)
        assert app.screen.system == "orders"
        await pilot.press("escape")
        await settle(pilot)
        await go_to(pilot, "A101")
        assert isinstance(app.screen, FindingsScreen) and app.screen.rule == "A101"


async def test_go_to_says_when_the_names_cannot_be_read(
    sample_db: Path, make_app: AppFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    # A read of the names that failed (the store held by a writer for a moment) left the
    # palette with nothing to find, saying nothing: "comms" found no match. It says why, and
    # the next palette reads them again.
    from textual.command import CommandList

    from seamscope.classifiers import read

    real = LocalStore.run
    failed: list[bool] = []

    def run(self: LocalStore, work: object) -> object:
        if work is read.goto_targets and not failed:
            failed.append(True)
            raise duckdb.IOException('Could not set lock on file "s.duckdb": Conflicting lock')
        return real(self, work)  # type: ignore[arg-type]

    monkeypatch.setattr(LocalStore, "run", run)
    app = make_app(sample_db)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        for attempt in range(2):
            await pilot.press("colon", *"orderswork")
            await pilot.pause(0.3)
            await settle(pilot)
            results = app.screen.query_one(CommandList)
            prompts = [
                str(results.get_option_at_index(i).prompt) for i in range(results.option_count)
            ]
            if attempt == 0:
                assert prompts and prompts[0].startswith("✗ the names could not be read"), prompts
                assert "Conflicting lock" in prompts[0]
                await pilot.press("escape")
                await settle(pilot)
            else:
                assert not any("could not be read" in p for p in prompts), prompts
                assert any("orders-worker" in p for p in prompts), prompts
        await pilot.press("enter")
        await settle(pilot)
        assert isinstance(app.screen, SystemScreen) and app.screen.system == "orders"


async def test_vim_keys_move_the_tables(sample_db: Path, make_app: AppFactory) -> None:
    app = make_app(sample_db)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        await pilot.press("n")
        await settle(pilot)
        table = app.screen.query_one("#findings", DataTable)
        assert table.cursor_row == 0
        await pilot.press("j", "j")
        assert table.cursor_row == 2
        await pilot.press("k")
        assert table.cursor_row == 1
        await pilot.press("G")
        assert table.cursor_row == table.row_count - 1
        await pilot.press("g")
        assert table.cursor_row == 0
        await pilot.press("enter")
        await settle(pilot)
        assert isinstance(app.screen, EdgeScreen)


async def _scrolls_with_vim_keys(pilot: Pilot[None], pane: Widget) -> None:
    """j k, G g, Ctrl+D Ctrl+U scroll pane (focused, taller than its room) as arrows and
    PgDn do."""
    assert pilot.app.focused is pane and pane.max_scroll_y > 1
    for keys, expected in (
        (("j", "j"), 2),
        (("k",), 1),
        (("G",), pane.max_scroll_y),
        (("g",), 0),
        (("ctrl+d",), min(pane.max_scroll_y, pane.scrollable_content_region.height)),
        (("ctrl+u",), 0),
    ):
        await pilot.press(*keys)
        await settle(pilot)
        assert (keys, round(pane.scroll_y)) == (keys, expected)


async def test_vim_keys_scroll_the_text_panes_and_a_focused_pane_shows_it(
    sample_db: Path, make_app: AppFactory
) -> None:
    """The help, the edge's details and a span's attributes take the keys help lists; a pane
    Tab focuses has the border of the focused focus view."""
    app = make_app(sample_db)
    async with app.run_test(size=(100, 30)) as pilot:
        await settle(pilot)
        assert isinstance(app.focused, FocusMap)  # at 100 columns, the list is left out
        focused_border = app.focused.styles.border_top
        await pilot.press("question_mark")
        await settle(pilot)
        await _scrolls_with_vim_keys(pilot, app.screen.query_one("#help-box"))
        await pilot.press("escape")
        await settle(pilot)
        app.open_edge(edge_id_of(next(i for i, e in enumerate(EDGES) if e.rule == "A101")))
        await settle(pilot)
        info = app.screen.query_one("#edge-info")
        assert app.focused is not info and info.styles.border_top != focused_border
        await pilot.press("tab")
        await settle(pilot)
        await _scrolls_with_vim_keys(pilot, info)
        assert info.styles.border_top == focused_border
        await pilot.press("shift+tab")
        await pilot.press("enter")  # the span's trace
        await settle(pilot)
        assert isinstance(app.screen, TraceScreen)
        await pilot.press("a")  # the attributes, on a short terminal too
        await settle(pilot)
        attributes = app.screen.query_one("#attributes-pane")
        while app.focused is not attributes:
            await pilot.press("tab")
        await settle(pilot)
        await _scrolls_with_vim_keys(pilot, attributes)
        assert attributes.styles.border_top == focused_border


async def test_a_live_session_asks_before_q_ends_it(sample_db: Path) -> None:
    app = SeamscopeApp(lambda: LocalStore(sample_db, classify=False), refresh_interval=0, live=True)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        await pilot.press("q")
        await settle(pilot)
        assert isinstance(app.screen, ConfirmQuit)
        await pilot.press("n")
        await settle(pilot)
        assert isinstance(app.screen, LandscapeScreen)
        await pilot.press("q")
        await settle(pilot)
        await pilot.press("y")
        await pilot.pause()
    assert app.return_code == 0


async def test_a_quit_asked_while_the_store_opens_stays_asked(sample_db: Path) -> None:
    """q as `seamscope demo` opens the TUI, before the landscape is there: the dialog stays
    above the landscape when it comes, and y quits. Before, the landscape replaced the dialog
    and the y typed into it did nothing."""
    opened = threading.Event()

    def source() -> LocalStore:
        assert opened.wait(60)
        return LocalStore(sample_db, classify=False)

    app = SeamscopeApp(source, refresh_interval=0, live=True)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("q")
        await pilot.pause()  # not settle: it would wait for the store that waits for this test
        assert isinstance(app.screen, ConfirmQuit)
        opened.set()
        await settle(pilot)
        assert [type(s) for s in app.screen_stack[1:]] == [LandscapeScreen, ConfirmQuit]
        await pilot.press("y")
        await pilot.pause()
    assert app.return_code == 0


async def test_the_store_opening_while_the_app_leaves_opens_nothing(sample_db: Path) -> None:
    """q and y typed before the TUI started (as `seamscope demo` starts it): the store came open
    after the quit, and the landscape then mounted while the app took its screens down, its
    on_mount meeting none of its widgets (NoMatches: a traceback on the demo's terminal)."""
    app = SeamscopeApp(lambda: LocalStore(sample_db, classify=False), refresh_interval=0, live=True)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        assert app.source is not None
        app.exit()
        app.post_message(SeamscopeApp.Ready(app.source))
        await pilot.pause()
    assert app.return_code == 0


RELABEL = """\
[owners.tables]
Users = "orders"
Orders = "orders"

[vendors.auth0]
hosts = ["*.auth0.com"]
"""


async def test_label_changes_are_marked_filtered_and_listed(tmp_path: Path) -> None:
    """A label that flips while the TUI is open: marked in the tables, c shows only the changed
    edges, H lists the flip with its cause, the edge screen has its history."""
    sample_db = build_store(tmp_path / "classified.duckdb", manual=False)
    app = SeamscopeApp(lambda: LocalStore(sample_db, classify=False), refresh_interval=0.1)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        with short_lock(sample_db) as store:  # as another command would, with another file
            classify(store.con, parse_landscape(RELABEL, Path("relabel.toml")))
        for _ in range(100):
            await pilot.pause(0.05)
            await settle(pilot)
            if app.changed:
                break
        assert app.changed, "no change was marked"
        flipped = next(iter(app.changed))
        assert app.changed[flipped].startswith("was ")
        await pilot.press("c")
        await settle(pilot)
        await pilot.press("n")
        await settle(pilot)
        listed = app.screen.query_one("#findings", EdgeTable)
        assert {e.edge_id for e in listed.edges} <= set(app.changed)
        await pilot.press("H")
        await settle(pilot)
        assert isinstance(app.screen, HistoryScreen)
        history = app.screen.query_one("#history", DataTable)
        assert "landscape" in cells(history, 6)
        await pilot.press("enter")
        await settle(pilot)
        assert isinstance(app.screen, EdgeScreen)
        assert "Label history" in static_text(app.screen.query_one("#edge-text", Static))
    con = duckdb.connect(str(sample_db), read_only=True)
    try:
        causes = con.execute("SELECT DISTINCT cause FROM label_changes").fetchall()
    finally:
        con.close()
    assert causes == [("landscape",)]


@pytest.mark.parametrize("size", [(100, 30), (160, 45), (220, 60)])
async def test_the_selection_stays_in_view_when_the_terminal_resizes(
    sample_db: Path, make_app: AppFactory, size: tuple[int, int]
) -> None:
    app = make_app(sample_db)
    async with app.run_test(size=(220, 60)) as pilot:
        await settle(pilot)
        screen = _screen(app)
        focus = screen.query_one(FocusMap)
        focus.focus()
        await pilot.press("l", "j")
        await settle(pilot)
        highlighted = focus.highlighted
        await pilot.resize_terminal(*size)
        await settle(pilot)
        assert focus.highlighted == highlighted
        drawing = focus._drawn()
        assert drawing is not None and highlighted in drawing.boxes
        x, y, w, h = drawing.boxes[str(highlighted)]
        assert 0 <= y and y + h <= focus.size.height and x + w <= focus.size.width


async def test_components_of_no_known_system_are_listed_and_opened_as_system_question_mark(
    tmp_path: Path, make_app: AppFactory
) -> None:
    # A fleet that sets no service.namespace: the landscape listed no system at all and had
    # nothing to open. Its components are now the group "?", opened like a system, where each
    # edge says which component to place.
    from tests.unit.classifiers.fleet import Fleet, Service

    f = Fleet()
    web, api = Service("web", None, "webapp"), Service("api", None, "backend")
    f.http(web, "http://127.0.0.1:5001/items", server=api, route="/items")
    f.dynamodb(api, "GetItem", "Items")
    app = make_app(f.store(tmp_path / "s.duckdb"), classify=True)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        screen = _screen(app)
        systems = screen.query_one("#systems", DataTable)
        # (and the table Items, which no known system owns, after them in a group of its own)
        assert cells(systems, 1) == ["?", "(unowned: 1)"]
        # The group is listed like a system, and is not counted as one ("1 system" before).
        summary = str(screen.query_one("#summary", Static).content)
        assert summary.startswith(
            "0 systems + 2 components of no known system (?) + 1 resource of no known owner · "
        )
        # Too narrow for those words: the short ones, and the landscape's line stays below.
        await pilot.resize_terminal(70, 30)
        await settle(pilot)
        first, second = str(screen.query_one("#summary", Static).content).split("\n")
        assert first.startswith("0 systems + 2 in ? + 1 unowned · 2 edges (0 between) · ")
        assert len(first) <= 68
        assert second.startswith("no landscape file")
        await pilot.resize_terminal(*SIZE)
        await settle(pilot)
        await pilot.press("enter")
        await settle(pilot)
        assert isinstance(app.screen, SystemScreen) and app.screen.system == "?"
        components = app.screen.query_one("#components", DataTable)
        assert {c.removesuffix(" ~") for c in cells(components, 1)} == {"web", "api"}


async def test_a_system_screen_focuses_one_component_and_walks_inside_the_system(
    sample_db: Path, make_app: AppFactory
) -> None:
    app = make_app(sample_db)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        app.open_system("orders")
        await settle(pilot)
        screen = app.screen
        assert isinstance(screen, SystemScreen)
        components = screen.query_one("#components", DataTable)
        assert set(cells(components, 1)) == {"orders-api", "orders-worker"}
        components.move_cursor(row=cells(components, 1).index("orders-worker"))
        await settle(pilot)
        focus = screen.query_one(FocusMap)
        assert focus.focus_data is not None and focus.focus_data.name == "orders-worker"
        assert app.focused is not None and app.focused.id == "components"
        await pilot.press("tab")
        assert app.focused is not None and app.focused.id == "focus"
        await pilot.press("l")  # to what orders-worker calls: orders-api (REST)
        await settle(pilot)
        assert focus.highlighted == "component:orders/orders-api"
        await pilot.press("enter")  # walk there, inside the system
        await settle(pilot)
        assert screen.centre == "component:orders/orders-api"
        await pilot.press("backspace")
        await settle(pilot)
        assert screen.centre == "component:orders/orders-worker"


async def test_new_data_keeps_the_system_the_user_just_moved_to(
    sample_db: Path, make_app: AppFactory
) -> None:
    """Data that comes while the highlight of the user's move is still queued (a live refresh)
    and brings a system that sorts before it: the centre stays the system moved to, not the
    one the old row number holds after the new rows."""
    from dataclasses import replace

    from seamscope.classifiers.read import Overview

    app = make_app(sample_db)
    async with app.run_test(size=(160, 45)) as pilot:
        await settle(pilot)
        screen = app.screen
        assert isinstance(screen, LandscapeScreen) and screen.view is not None
        view: Overview = screen.view
        systems = screen.query_one("#systems", DataTable)
        names = [str(systems.get_row_at(i)[1]) for i in range(systems.row_count)]
        target = "search" if screen.centre != "search" else "orders"
        systems.move_cursor(row=names.index(target))  # its RowHighlighted is queued ...
        grown = replace(view, systems=("aaa-new", *view.systems))
        screen.show((grown, {}))  # ... when the new data is shown
        await settle(pilot)
        assert screen.centre == target
        assert systems.coordinate_to_cell_key(systems.cursor_coordinate).row_key.value == target


async def test_the_unowned_group_arriving_keeps_the_system_the_user_just_moved_to(
    sample_db: Path, make_app: AppFactory
) -> None:
    """The resources of no known owner are read after the overview, in a worker. When they came
    while the highlight of the user's move was still queued, the cursor was put back on the
    system before the move and the move was lost (seen through a live owner in CI: the edges
    never followed the cursor)."""
    app = make_app(sample_db)
    async with app.run_test(size=(160, 45)) as pilot:
        await settle(pilot)
        screen = app.screen
        assert isinstance(screen, LandscapeScreen) and screen.view is not None
        assert screen.group is not None  # the sample has resources of no known owner
        systems = screen.query_one("#systems", DataTable)
        names = [str(systems.get_row_at(i)[1]) for i in range(systems.row_count)]
        target = "search" if screen.centre != "search" else "orders"
        systems.move_cursor(row=names.index(target))  # its RowHighlighted is queued ...
        # ... behind the group's message, as when the worker's read ends at that moment.
        screen.post_message(LandscapeScreen.GroupLoaded(screen.group, screen.filters))
        await settle(pilot)
        assert screen.centre == target
        assert systems.coordinate_to_cell_key(systems.cursor_coordinate).row_key.value == target
        focus = screen.query_one(FocusMap).focus_data
        assert focus is not None and focus.name == target  # and its edges in the table


async def test_the_whole_system_drawing_shows_each_verdict_by_its_glyph(
    sample_db: Path, make_app: AppFactory
) -> None:
    """The drawing (m on a system) coloured its arrows by verdict and labelled them with the
    mechanism alone: without colour (NO_COLOR, a monochrome terminal) an anti-pattern looked
    like a pattern. Each arrow's label now starts with its verdict's glyph, as the focus view's
    and the tables' do. (At 220 columns, where the drawing has the room for its labels
    whole: a narrower pane cuts their mechanisms, test_layout.)"""
    app = make_app(sample_db)
    async with app.run_test(size=(220, 60)) as pilot:
        await settle(pilot)
        await go_to(pilot, "orderswork")
        assert isinstance(app.screen, SystemScreen)
        await pilot.press("m")
        await settle(pilot)
        landmap = app.screen.query_one(LandscapeMap)
        assert landmap.display and not landmap.drawing.narrowed
        drawn = "\n".join("".join(row) for row in landmap.drawing.canvas.chars)
        arrows = landmap._map_edges
        assert arrows and {a.verdict for a in arrows} >= {Verdict.PATTERN}
        for arrow in arrows:
            assert arrow.label.startswith(f"{arrow.verdict.glyph} "), arrow
            assert f" {arrow.label} " in drawn, arrow


async def test_the_whole_system_drawing_opens_on_its_box_and_moves_with_vim_keys(
    sample_db: Path, make_app: AppFactory
) -> None:
    """A large drawing opened scrolled to its top left, which on a system of many edges is only
    lanes, and h j k l did nothing there (the arrows moved the selection)."""
    app = make_app(sample_db)
    async with app.run_test(size=(100, 30)) as pilot:
        await settle(pilot)
        await go_to(pilot, "orderswork")
        await pilot.press("m")
        await settle(pilot)
        landmap = app.screen.query_one(LandscapeMap)
        pane = app.screen.query_one("#map-pane")
        assert landmap.has_focus

        def in_view() -> bool:
            box = landmap.drawing.boxes[str(landmap.selected)]
            seen = pane.scrollable_content_region.size
            x, y = pane.scroll_offset
            return x <= box.x < x + seen.width and y <= box.y < y + seen.height

        assert in_view()
        first = landmap.selected
        # Drawn to fit 100 columns, its arrows into one box on one line: the indexer and the
        # resources one column right of orders-worker (h l between columns, j k in one).
        await pilot.press("l")
        await settle(pilot)
        assert landmap.selected == "component:search/indexer" and in_view()
        await pilot.press("j")
        await settle(pilot)
        assert landmap.selected == "dynamodb:table/Orders" and in_view()
        await pilot.press("k")
        await settle(pilot)
        assert landmap.selected == "component:search/indexer" and in_view()
        await pilot.press("h")
        await settle(pilot)
        assert landmap.selected == first and in_view()
        await pilot.press("h")
        await settle(pilot)
        assert landmap.selected == "component:orders/orders-api" and in_view()


async def test_the_whole_system_drawing_opens_on_the_component_in_focus(
    sample_db: Path, make_app: AppFactory
) -> None:
    """m opened the drawing on its first box by name (orders-api, with orders-worker in
    focus); it opens on the component in focus, and m again puts the focus view on the
    component selected in the drawing. A queue that only carries a listening edge (drawn as
    the arrow from producer to consumer) has no box of its own: it was drawn at the foot of
    the drawing, no arrow to it, as if unused."""
    app = make_app(sample_db)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        app.open_system("orders")
        await settle(pilot)
        screen = app.screen
        assert isinstance(screen, SystemScreen)
        components = screen.query_one("#components", DataTable)
        components.move_cursor(row=cells(components, 1).index("orders-worker"))
        await settle(pilot)
        await pilot.press("m")
        await settle(pilot)
        landmap = screen.query_one(LandscapeMap)
        assert landmap.selected == "component:orders/orders-worker"
        boxes = landmap.drawing.boxes
        assert "sqs:queue/orders-q" not in boxes
        ends = {n for a in landmap._map_edges for n in (a.src, a.dst)}
        assert set(boxes) <= ends  # every box drawn has an arrow
        landmap.select("component:orders/orders-api")
        await settle(pilot)
        await pilot.press("m")
        await settle(pilot)
        assert screen.centre == "component:orders/orders-api"
        focus = screen.query_one(FocusMap)
        assert focus.focus_data is not None and focus.focus_data.name == "orders-api"


async def test_j_k_on_the_focus_views_centre_step_through_the_hidden_list(
    sample_db: Path, make_app: AppFactory
) -> None:
    """Below 120 columns the list beside the focus view steps aside (the systems on the
    landscape; a system's components, whose boxes it left 15 cells at 100 columns: "search…
    ndexer"): j k on the centre step to the next or previous row of the list, as the list's
    own j k do. A neighbour's j k still move between the neighbours."""
    app = make_app(sample_db)
    async with app.run_test(size=(100, 30)) as pilot:
        await settle(pilot)
        screen = _screen(app)
        systems = screen.query_one("#systems", DataTable)
        assert not systems.display
        focus = screen.query_one(FocusMap)
        assert app.focused is focus and focus.selected == (CENTRE, 0)
        keys = [str(k.value) for k in systems.rows]
        start = keys.index(str(screen.centre))
        step = 1 if start + 1 < len(keys) else -1
        await pilot.press("j" if step == 1 else "k")
        await settle(pilot)
        assert screen.centre == keys[start + step]
        assert focus.focus_data is not None
        assert focus.focus_data.centre == f"system:{keys[start + step]}"
        await pilot.press("k" if step == 1 else "j")
        await settle(pilot)
        assert screen.centre == keys[start]

        app.open_system("orders")
        await settle(pilot)
        system = app.screen
        assert isinstance(system, SystemScreen)
        assert not system.query_one("#components").display
        sfocus = system.query_one(FocusMap)
        assert app.focused is sfocus
        assert system.centre == "component:orders/orders-api"
        drawn = sfocus._drawn()
        assert drawn is not None
        top = "".join(t for t, _ in drawn.canvas.runs(1))
        assert "search/indexer" in top and "orders-worker" in top  # whole
        await pilot.press("j")
        await settle(pilot)
        assert system.centre == "component:orders/orders-worker"
        assert sfocus.focus_data is not None and sfocus.focus_data.name == "orders-worker"
        await pilot.press("l", "j")  # among the callees: j moves the highlight, not the centre
        await settle(pilot)
        assert system.centre == "component:orders/orders-worker"
        await pilot.press("question_mark")  # the help says so
        await settle(pilot)
        assert isinstance(app.screen, HelpScreen)
        text = " ".join(static_text(s) for s in app.screen.query(Static))
        assert "j k on the centre" in text
        assert "The next or previous system, component or resource" in text


async def test_a_search_that_leaves_the_centre_no_edge_moves_the_focus_view_to_one_it_found(
    sample_db: Path, make_app: AppFactory
) -> None:
    """/ with a name the centre has no edge to: the header counted what the search found, but
    the focus view stayed on the centre ("no callers", "calls nothing") over an empty table.
    The centre moves to the system with the worst edges the search found."""
    app = make_app(sample_db)
    async with app.run_test(size=(100, 30)) as pilot:
        await settle(pilot)
        screen = app.screen
        assert isinstance(screen, LandscapeScreen) and screen.view is not None
        centre = screen.centre
        mine = [e for e in screen.view.edges if centre in (e.from_system, e.to_system)]
        ids = " ".join(f"{e.from_node} {e.to_node}" for e in mine)
        word = next(s for s in screen.view.systems if s != centre and s not in ids)
        await pilot.press("slash", *word, "enter")
        await settle(pilot)
        assert screen.centre != centre and app.filters.search == word
        table = screen.query_one("#edges", EdgeTable)
        assert table.row_count and all(word in f"{e.from_node} {e.to_node}" for e in table.edges)
        focus = screen.query_one(FocusMap).focus_data
        assert focus is not None and focus.callers + focus.callees


@pytest.mark.parametrize(("size", "pane"), [((160, 45), "systems"), ((100, 30), "focus")])
async def test_the_matrix_and_back_leaves_the_keys_where_they_were(
    sample_db: Path, make_app: AppFactory, size: tuple[int, int], pane: str
) -> None:
    """m, m at 160 columns left the keys in the focus view, not in the systems list they were
    in: the list, hidden under the matrix, was shown again only at the table's next resize,
    after the focus had been given."""
    app = make_app(sample_db)
    async with app.run_test(size=size) as pilot:
        await settle(pilot)
        assert app.focused is not None and app.focused.id == pane
        await pilot.press("m")
        await settle(pilot)
        assert isinstance(app.focused, MatrixView)
        await pilot.press("m")
        await settle(pilot)
        assert app.focused is not None and app.focused.id == pane
