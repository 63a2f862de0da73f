"""The AWS resources of no known owner (read.unowned_view): a row of their own after the systems
on the landscape, opened like a system, each resource and its edges browsed and an edge opened;
their boxes say they have no known owner. And the help names every cause of a label change."""

from __future__ import annotations

import re
import typing
from pathlib import Path

import pytest
from textual.widgets import DataTable, Static

from seamscope.classifiers.results import Col, LabelChange
from seamscope.tui.screens.dialogs import HelpScreen
from seamscope.tui.screens.edge import EdgeScreen
from seamscope.tui.screens.landscape import LandscapeScreen, SystemScreen, system_graph
from seamscope.tui.widgets.focus_layout import LEFT, RIGHT
from seamscope.tui.widgets.focusmap import FocusMap
from tests.functional.conftest import AppFactory, settle
from tests.functional.sample import build_unowned_store
from tests.functional.test_screens import SIZE, cells, static_text

pytestmark = pytest.mark.anyio

SESSIONS = "dynamodb:table/Sessions"
UNOWNED = ""  # the group's key and system: read.unowned_view()'s system (landscape.UNOWNED)


@pytest.fixture
def unowned_db(tmp_path: Path) -> Path:
    """The sample fleet, and Sessions written by orders and users, Rates only read by billing:
    two tables of no known owner, as the real classifier leaves them."""
    return build_unowned_store(tmp_path / "unowned.duckdb")


def _landscape(app: object) -> LandscapeScreen:
    screen = getattr(app, "screen", None)
    assert isinstance(screen, LandscapeScreen)
    return screen


def _drawn(focus: FocusMap) -> str:
    drawing = focus._drawn()
    assert drawing is not None
    canvas = drawing.canvas
    return "\n".join("".join(text for text, _ in canvas.runs(y)) for y in range(canvas.height))


async def test_the_resources_of_no_known_owner_are_a_row_opened_like_a_system(
    unowned_db: Path, make_app: AppFactory
) -> None:
    # They were in no row of the landscape: a table two systems write was found only from
    # inside one of them, and a table only read was found only from its reader's system.
    app = make_app(unowned_db)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        screen = _landscape(app)
        systems = screen.query_one("#systems", DataTable)
        # Last, after the systems: counted, with the worst verdict of their edges.
        assert cells(systems, 1)[-1] == "(unowned: 2)"
        assert cells(systems, 0)[-1] == "?"  # every edge to them is unclassified
        assert cells(systems, 2)[-1] == "4"
        assert cells(systems, 1)[:-1] == ["billing", "orders", "search", "shop", "users"]
        # The header counts them apart from the systems, as it does the group `?`.
        summary = static_text(screen.query_one("#summary", Static))
        assert summary.startswith("5 systems + 2 resources of no known owner · ")
        await pilot.resize_terminal(70, 30)
        await settle(pilot)
        first = static_text(screen.query_one("#summary", Static)).split("\n")[0]
        assert first.startswith("5 systems + 2 unowned · ")
        await pilot.resize_terminal(*SIZE)
        await settle(pilot)

        # Highlighted, the focus view centres them: left what writes or reads them, by system,
        # each row naming the component and the table; the table lists their edges.
        systems.move_cursor(row=systems.row_count - 1)
        await settle(pilot)
        assert screen.centre == UNOWNED
        focus = screen.query_one(FocusMap)
        data = focus.focus_data
        assert data is not None and data.name == "(no known owner)"
        assert data.sublabel == "2 resources"
        assert {n.node_id for n in data.callers} == {
            "system:billing",
            "system:orders",
            "system:users",
        }
        billing = next(n for n in data.callers if n.node_id == "system:billing")
        assert sorted(e.detail for e in billing.edges) == [
            "billing-job → Rates",
            "billing-job → Sessions",
        ]
        edges = screen.query_one("#edges", DataTable)
        assert edges.row_count == 4
        caption = static_text(screen.query_one("#edges-caption", Static))
        assert "4 edges to, from or through the 2 resources of no known owner" in caption

        # Enter on a system's box walks there, Backspace back to them.
        focus.focus()  # (the narrow terminal gave it the focus already, with no list to hold it)
        await pilot.press("h")
        await settle(pilot)
        walked_to = focus.highlighted
        assert walked_to in ("system:billing", "system:orders", "system:users")
        await pilot.press("enter")
        await settle(pilot)
        assert screen.centre == walked_to.partition(":")[2]
        await pilot.press("backspace")
        await settle(pilot)
        assert screen.centre == UNOWNED

        # Enter on the centre opens them as a system is opened: each resource a row.
        assert app.focused is focus
        await pilot.press("l")  # back to the centre (what walking highlighted: where it came from)
        assert focus.highlighted == "system:"
        await pilot.press("enter")
        await settle(pilot)
        group = app.screen
        assert isinstance(group, SystemScreen) and group.system == UNOWNED
        assert group.sub_title == "Resources of no known owner"
        members = group.query_one("#components", DataTable)
        assert [c.label.plain for c in members.ordered_columns][1] == "Resource"
        assert cells(members, 1) == ["Rates ~", "Sessions ~"]
        assert [c.strip() for c in cells(members, 2)] == ["1", "3"]
        note = static_text(group.query_one("#summary", Static))
        assert note.startswith("Resources of no known owner · 2 resources · 3 systems · ")

        # A resource in focus: what writes or reads it, and why it has no owner.
        members.move_cursor(row=1)
        await settle(pilot)
        gfocus = group.query_one(FocusMap)
        centre = gfocus.focus_data
        assert centre is not None and centre.centre == SESSIONS
        assert centre.sublabel == "no known owner"
        assert {n.node_id for n in centre.callers} == {
            "component:billing/billing-job",
            "component:orders/orders-api",
            "component:users/users-api",
        }
        caption = static_text(group.query_one("#edges-caption", Static))
        assert "3 edges of Sessions · written by several systems (orders, users)" in caption
        table = group.query_one("#edges", DataTable)
        assert table.row_count == 3

        # An edge opens.
        table.focus()
        await pilot.press("enter")
        await settle(pilot)
        assert isinstance(app.screen, EdgeScreen)
        await pilot.press("escape")
        await settle(pilot)

        # A writer's box opens its system, on that component.
        gfocus.focus()
        await pilot.press("h", "j")
        await settle(pilot)
        chosen = gfocus.highlighted
        assert chosen is not None and chosen.startswith("component:")
        await pilot.press("enter")
        await settle(pilot)
        opened = app.screen
        assert isinstance(opened, SystemScreen)
        assert opened.system == chosen.partition(":")[2].partition("/")[0]
        assert opened.centre == chosen


async def test_an_unowned_resources_box_says_it_has_no_known_owner(
    unowned_db: Path, make_app: AppFactory
) -> None:
    # In orders' focus view and drawing, Sessions (no known owner) looked as Orders (orders')
    # does: its kind, and nothing of its owner.
    app = make_app(unowned_db)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        app.open_system("orders", select="component:orders/orders-api")
        await settle(pilot)
        screen = app.screen
        assert isinstance(screen, SystemScreen)
        focus = screen.query_one(FocusMap)
        data = focus.focus_data
        assert data is not None
        boxes = {n.node_id: n for n in data.callees}
        assert boxes[SESSIONS].note == "no known owner"
        assert boxes["dynamodb:table/Orders"].note == ""
        assert "━ no known owner ━" in _drawn(focus)

        assert screen.view is not None
        nodes = {n.node_id: n for n in system_graph(screen.view)[0]}
        assert nodes[SESSIONS].sublabel == "dynamodb-table · no known owner"
        assert nodes["dynamodb:table/Orders"].sublabel == "dynamodb-table"
        assert nodes["dynamodb:table/Users"].sublabel == "dynamodb-table of users"
        await pilot.press("m")
        await settle(pilot)
        await pilot.press("m")
        await settle(pilot)

        # Enter on its box opens it among the resources of no known owner.
        focus.focus()
        side, index = RIGHT, [n.node_id for n in data.callees].index(SESSIONS)
        focus.selected = (side, index)
        await pilot.press("enter")
        await settle(pilot)
        group = app.screen
        assert isinstance(group, SystemScreen) and group.system == UNOWNED
        assert group.centre == SESSIONS


async def test_go_to_opens_a_resource_of_no_known_owner_among_them(
    unowned_db: Path, make_app: AppFactory
) -> None:
    # It opened a bare list of the resource's edges, which said nothing of its owner; the
    # group itself could not be gone to.
    app = make_app(unowned_db)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        await pilot.press("colon", *"Rates")
        await settle(pilot)
        await pilot.press("enter")
        await settle(pilot)
        screen = app.screen
        assert isinstance(screen, SystemScreen) and screen.system == UNOWNED
        assert screen.centre == "dynamodb:table/Rates"
        await pilot.press("escape")
        await settle(pilot)
        await pilot.press("colon", *"no known owner")
        await settle(pilot)
        await pilot.press("enter")
        await settle(pilot)
        screen = app.screen
        assert isinstance(screen, SystemScreen) and screen.system == UNOWNED


async def test_a_message_through_a_resource_of_no_known_owner_is_on_both_sides(
    sample_db: Path, make_app: AppFactory
) -> None:
    # The sample's default bus has no owner: users' events reach search through it. In the
    # group's focus view the producer is left, the consumer right; among the resources, the
    # bus in focus has both, and its drawing draws the bus between them (a bus that only
    # carries listening edges has no box in a system's drawing).
    app = make_app(sample_db)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        screen = _landscape(app)
        systems = screen.query_one("#systems", DataTable)
        assert cells(systems, 1)[-1] == "(unowned: 1)"
        systems.move_cursor(row=systems.row_count - 1)
        await settle(pilot)
        data = screen.query_one(FocusMap).focus_data
        assert data is not None
        assert [(n.node_id, [e.detail for e in n.edges]) for n in data.callers] == [
            ("system:users", ["users-api → default"])
        ]
        assert [(n.node_id, [e.detail for e in n.edges]) for n in data.callees] == [
            ("system:search", ["default → indexer"])
        ]
        await pilot.press("enter")
        await settle(pilot)
        group = app.screen
        assert isinstance(group, SystemScreen) and group.system == UNOWNED
        focus = group.query_one(FocusMap).focus_data
        assert focus is not None and focus.centre == "events:bus/default"
        assert [n.node_id for n in focus.side(LEFT)] == ["component:users/users-api"]
        assert [n.node_id for n in focus.side(RIGHT)] == ["component:search/indexer"]
        assert group.view is not None
        nodes, arrows = system_graph(group.view)
        assert {(a.src, a.dst) for a in arrows} == {
            ("component:users/users-api", "events:bus/default"),
            ("events:bus/default", "component:search/indexer"),
        }


def _causes() -> list[str]:
    """The causes the store's label_changes.cause column declares (docs/schema.md says them)."""
    hint = typing.get_type_hints(LabelChange, include_extras=True)["cause"]
    doc = next(m for m in hint.__metadata__ if isinstance(m, Col)).doc
    return re.findall(r"`(\w+)`", doc)


async def test_the_help_names_every_cause_of_a_label_change(
    sample_db: Path, make_app: AppFactory
) -> None:
    # It said "(spans, landscape, catalog)": the History screen shows routes and classifier too.
    causes = _causes()
    assert causes == ["spans", "landscape", "routes", "catalog", "classifier"]
    app = make_app(sample_db)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        await pilot.press("question_mark")
        await settle(pilot)
        assert isinstance(app.screen, HelpScreen)
        text = " ".join(static_text(s) for s in app.screen.query(Static))
        history = re.search(r"History\s+every label change with its cause \(([^)]*)\)", text)
        assert history is not None
        assert history.group(1).split(", ") == causes


async def test_a_systems_focus_view_has_a_box_for_the_resources_of_no_known_owner_it_uses(
    unowned_db: Path, make_app: AppFactory
) -> None:
    """Below 120 columns the systems list, whose last row is the group, is hidden, and no focus
    view had a box for it: only `:` reached it. A system whose components use one of them has
    the group as a neighbour: its rows name the resource, Enter walks there, and the table
    lists those edges (the caption no longer counts them inside)."""
    app = make_app(unowned_db)
    async with app.run_test(size=(100, 30)) as pilot:
        await settle(pilot)
        screen = _landscape(app)
        assert not screen.query_one("#systems").display
        assert screen.view is not None and screen.group is not None
        screen.walk_to("billing")
        await settle(pilot)
        focus = screen.query_one(FocusMap)
        assert focus.focus_data is not None
        box = next(n for n in focus.focus_data.callees if n.node_id == "system:")
        assert box.name == "(no known owner)"
        assert "Rates" in [e.detail for e in box.edges]
        table = screen.query_one("#edges", DataTable)
        listed = {str(k.value) for k in table.rows}
        assert {e.edge_id for e in box.edges} <= listed
        inside = sum(t.edges for t in screen.view.internal if t.system == "billing")
        between = sum(1 for e in screen.view.edges if "billing" in (e.from_system, e.to_system))
        caption = static_text(screen.query_one("#edges-caption", Static))
        more = inside - (len(listed) - between)
        assert (f"{more} more inside billing" in caption) if more else ("inside" not in caption)
        assert "Rates" in _drawn(focus) and "(no known owner)" in _drawn(focus)
        focus.focus()
        focus.selected = focus._position_of("system:") or (0, 0)
        await pilot.press("enter")
        await settle(pilot)
        assert screen.centre == ""  # the group, centred as a system is
        assert focus.focus_data is not None and focus.focus_data.name == "(no known owner)"


def _box_titles(focus: FocusMap) -> dict[str, str]:
    """Each neighbour's name as its box's top border shows it (node id -> the title drawn)."""
    drawing = focus._drawn()
    assert drawing is not None and focus.focus_data is not None
    lines = _drawn(focus).split("\n")
    titles = {}
    for n in focus.focus_data.callers + focus.focus_data.callees:
        x, y, w, _h = drawing.boxes[n.node_id]
        titles[n.node_id] = lines[y][x + 2 : x + w - 1].rstrip("─━╌═┓┐╮╗")
    return titles


async def test_the_resources_of_no_known_owner_at_100_columns(
    unowned_db: Path, make_app: AppFactory
) -> None:
    """At 100 columns the list of resources took about 21 columns and left the focus view's
    boxes 16: "billin…g-job", rows "eventb…isten". Below 120 columns the list steps aside, as
    the landscape's does: the boxes name what writes or reads each resource whole, and j k on
    the centre (the focus view has the keys) step to the next or previous resource, as they
    step the list."""
    app = make_app(unowned_db)
    async with app.run_test(size=(100, 30)) as pilot:
        await settle(pilot)
        app.open_system(UNOWNED)
        await settle(pilot)
        group = app.screen
        assert isinstance(group, SystemScreen) and group.centre == "dynamodb:table/Rates"
        focus = group.query_one(FocusMap)
        assert _box_titles(focus) == {"component:billing/billing-job": "billing/billing-job"}
        assert app.focused is focus  # the list hidden, the keys go to the focus view
        await pilot.press("j")
        await settle(pilot)
        assert group.centre == SESSIONS
        assert focus.focus_data is not None and focus.focus_data.centre == SESSIONS
        assert _box_titles(focus) == {
            "component:billing/billing-job": "billing/billing-job",
            "component:orders/orders-api": "orders/orders-api",
            "component:users/users-api": "users/users-api",
        }
        caption = static_text(group.query_one("#edges-caption", Static))
        assert caption.startswith("3 edges of Sessions")
        await pilot.press("j")  # the last: it stays
        await settle(pilot)
        assert group.centre == SESSIONS
        await pilot.press("k")
        await settle(pilot)
        assert group.centre == "dynamodb:table/Rates"
        assert focus.focus_data is not None and focus.focus_data.centre == group.centre


async def test_a_message_through_a_bus_of_no_known_owner_is_drawn_once_through_its_box(
    sample_db: Path, make_app: AppFactory
) -> None:
    """users' events reach search through the default bus, which no system owns. In users'
    focus view that edge was drawn twice, into search's box and into the box of the resources
    of no known owner, while the table listed it once. It goes through the bus's box now, its
    row naming the bus and where the message goes on to; search's box is not drawn for it. In
    search's view likewise, from the left."""
    app = make_app(sample_db)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        screen = _landscape(app)
        assert screen.view is not None
        (edge,) = [e for e in screen.view.edges if e.via == "events:bus/default"]
        for system, side, detail in (
            ("users", RIGHT, "default → search/indexer"),
            ("search", LEFT, "users/users-api → default"),
        ):
            screen.walk_to(system)
            await settle(pilot)
            focus = screen.query_one(FocusMap)
            data = focus.focus_data
            assert data is not None and data.centre == f"system:{system}"
            rows = [
                (n.node_id, e.detail, s)
                for s in (LEFT, RIGHT)
                for n in data.side(s)
                for e in n.edges
                if e.edge_id == edge.edge_id
            ]
            assert rows == [("system:", detail, side)], system
            table = screen.query_one("#edges", DataTable)
            assert [str(k.value) for k in table.rows].count(edge.edge_id) == 1
            drawn = _drawn(focus)
            assert "(no known owner)" in drawn and "default" in drawn


async def test_the_resources_of_no_known_owner_are_not_shown_as_read_under_another_filter(
    unowned_db: Path, make_app: AppFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The group is read after the overview and kept until the next read comes, so that a
    live refresh does not blink: after a search it kept the group read without it, its row
    counting edges the search excludes, until that read came; where it failed (a busy owner),
    for good. Read under other filters, it is dropped."""
    from seamscope.classifiers import read

    app = make_app(unowned_db)
    async with app.run_test(size=(160, 45)) as pilot:
        await settle(pilot)
        screen = _landscape(app)
        assert screen.group is not None and screen.group.edges
        systems = screen.query_one("#systems", DataTable)

        def refused(*args: object) -> typing.NoReturn:
            raise RuntimeError("busy")

        monkeypatch.setattr(read, "unowned_view", refused)
        await pilot.press("slash", *"nothing-is-named-so", "enter")
        await settle(pilot)
        assert app.filters.search == "nothing-is-named-so"
        assert screen.view is not None and not screen.view.edges
        assert screen.group is None
        assert all(edges == "0" for edges in cells(systems, 2)), cells(systems, 1)
