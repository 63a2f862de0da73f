"""The landscape map's drawing: every arrow from its source box to its target box, labelled."""

from __future__ import annotations

import random
import re

from seamscope.classifiers.results import Verdict
from seamscope.tui.widgets.layout import Box, Canvas, MapDrawing, MapEdge, MapNode, draw

LINE_CHARS = set("─│┌┐└┘├┤┬┴┼▶")


def _text(drawing: MapDrawing) -> list[str]:
    return ["".join(row) for row in drawing.canvas.chars]


def _entry_rows(box: Box, rows: list[str]) -> list[int]:
    """Rows where an arrowhead sits right before the box's left side."""
    return [y for y in range(box.y, box.y + box.height) if box.x > 0 and rows[y][box.x - 1] == "▶"]


def _exit_labels(box: Box, rows: list[str]) -> list[str]:
    right = box.x + box.width
    return [rows[y][right : right + 24] for y in range(box.y, box.y + box.height)]


def sample() -> tuple[list[MapNode], list[MapEdge]]:
    nodes = [
        MapNode("web", "web", "webapp"),
        MapNode("bff", "bff"),
        MapNode("orders", "orders", "2 components"),
        MapNode("users", "users"),
        MapNode("search", "search"),
        MapNode("x:auth0", "auth0", "vendor", kind="external"),
    ]
    edges = [
        MapEdge("web", "bff", "graphql", Verdict.PATTERN),
        MapEdge("web", "orders", "rest", Verdict.ANTI_PATTERN),  # skips a column
        MapEdge("bff", "orders", "rest", Verdict.PATTERN),
        MapEdge("orders", "users", "dynamodb", Verdict.ANTI_PATTERN),
        MapEdge("users", "search", "eventbridge", Verdict.PATTERN),
        MapEdge("search", "orders", "rest", Verdict.SMELL),  # goes backwards
        MapEdge("users", "x:auth0", "http-external", Verdict.PATTERN),
    ]
    return nodes, edges


def test_every_arrow_ends_at_its_target_and_carries_its_label() -> None:
    nodes, edges = sample()
    drawing = draw(nodes, edges)
    rows = _text(drawing)
    for node in nodes:
        box = drawing.boxes[node.node_id]
        incoming = [e for e in edges if e.dst == node.node_id]
        assert len(_entry_rows(box, rows)) == len(incoming), node.node_id
        outgoing = sorted(e.label for e in edges if e.src == node.node_id)
        found = (re.match(r"^─ (\S+) ", part) for part in _exit_labels(box, rows))
        labels = sorted(m.group(1) for m in found if m)
        assert labels == outgoing, node.node_id


def test_boxes_do_not_overlap_and_lines_never_cross_a_box() -> None:
    nodes, edges = sample()
    drawing = draw(nodes, edges)
    boxes = list(drawing.boxes.values())
    for i, a in enumerate(boxes):
        for b in boxes[i + 1 :]:
            apart = (
                a.x + a.width <= b.x
                or b.x + b.width <= a.x
                or a.y + a.height <= b.y
                or b.y + b.height <= a.y
            )
            assert apart, (a, b)
    rows = _text(drawing)
    for box in boxes:
        for y in range(box.y + 1, box.y + box.height - 1):
            inside = rows[y][box.x + 1 : box.x + box.width - 1]
            assert not (set(inside) & LINE_CHARS), (box.node_id, inside)


def test_labels_are_written_in_their_verdict_colour() -> None:
    nodes, edges = sample()
    drawing = draw(nodes, edges)
    rows = _text(drawing)
    box = drawing.boxes["orders"]
    y = next(y for y in range(box.y, box.y + box.height) if "dynamodb" in rows[y])
    x = rows[y].index("dynamodb")
    assert "red" in drawing.canvas.styles[y][x]


def test_the_drawing_is_deterministic_and_marks_the_selection() -> None:
    nodes, edges = sample()
    first = draw(nodes, edges, selected="orders")
    second = draw(list(nodes), list(edges), selected="orders")
    assert _text(first) == _text(second)
    box = first.boxes["orders"]
    assert first.canvas.chars[box.y][box.x] == "╔"
    other = first.boxes["users"]
    assert first.canvas.chars[other.y][other.x] == "╭"


def test_layers_follow_the_calls() -> None:
    nodes, edges = sample()
    boxes = draw(nodes, edges).boxes
    assert boxes["web"].column < boxes["bff"].column < boxes["orders"].column
    assert boxes["orders"].column < boxes["users"].column < boxes["search"].column


def test_a_cycle_and_a_rank_hint_are_drawn() -> None:
    nodes = [MapNode("a", "a"), MapNode("b", "b"), MapNode("r", "table", kind="resource", rank=5)]
    edges = [
        MapEdge("a", "b", "rest", Verdict.PATTERN),
        MapEdge("b", "a", "sqs", Verdict.SMELL),
        MapEdge("a", "r", "dynamodb", Verdict.PATTERN),
    ]
    drawing = draw(nodes, edges)
    rows = _text(drawing)
    assert len(_entry_rows(drawing.boxes["a"], rows)) == 1
    assert len(_entry_rows(drawing.boxes["b"], rows)) == 1
    assert drawing.boxes["r"].column == max(b.column for b in drawing.boxes.values())
    assert drawing.canvas.chars[drawing.boxes["r"].y][drawing.boxes["r"].x] == "┏"


def test_thirty_systems_stay_drawable() -> None:
    rng = random.Random(7)
    nodes = [MapNode(f"s{i:02d}", f"system-{i:02d}", "3 components") for i in range(30)]
    edges = []
    for _ in range(60):
        a, b = rng.sample(range(30), 2)
        edges.append(
            MapEdge(f"s{a:02d}", f"s{b:02d}", rng.choice(["rest", "sqs"]), Verdict.PATTERN)
        )
    unique = {(e.src, e.dst, e.label): e for e in edges}
    drawing = draw(nodes, list(unique.values()))
    rows = _text(drawing)
    arrows = sum(len(_entry_rows(box, rows)) for box in drawing.boxes.values())
    assert arrows == len(unique)
    assert drawing.box_at(drawing.boxes["s00"].x + 1, drawing.boxes["s00"].y + 1) is not None


def test_nothing_to_draw() -> None:
    drawing = draw([], [])
    assert drawing.canvas.width == 0 and drawing.boxes == {}


def test_names_and_labels_are_drawn_escaped_and_measured_as_drawn() -> None:
    nodes = [MapNode("a", "orders\x1b[2J", "sub\x07"), MapNode("b", "users\u202e")]
    edges = [MapEdge("a", "b", "rest\x9b31m", Verdict.PATTERN)]
    rows = _text(draw(nodes, edges))
    screen = "\n".join(rows)
    assert not re.search("[\x00-\x1f\x7f-\x9f\u202e]", screen.replace("\n", ""))
    assert "orders\\u001b[2J" in screen and "users\\u202e" in screen
    box = next(row for row in rows if "orders\\u001b[2J" in row)
    assert re.search(r"│ orders\\u001b\[2J\s*[│├]", box)  # the whole name inside its box


def test_a_control_character_that_reaches_the_canvas_keeps_its_one_cell() -> None:
    canvas = Canvas(8, 1)
    canvas.text(0, 0, "a\x1bb\x07c")
    assert "".join(canvas.chars[0]) == "a\ufffdb\ufffdc   "


def test_a_drawing_wider_than_its_room_is_drawn_narrower_every_arrow_kept() -> None:
    """A system's drawing was as wide as its lanes two cells apart and its labels whole made
    it, whatever the room: the pane scrolled sideways. Given a room it is drawn as narrow as
    fits, every arrow still reaching its target and carrying its verdict's glyph."""
    nodes, plain = sample()
    edges = [MapEdge(e.src, e.dst, f"{e.verdict.glyph} {e.label}", e.verdict) for e in plain]
    wide = draw(nodes, edges)
    assert not wide.narrowed
    assert draw(nodes, edges, room=wide.canvas.width).canvas.width == wide.canvas.width
    room = wide.canvas.width * 3 // 4
    narrow = draw(nodes, edges, room=room)
    assert narrow.narrowed and narrow.canvas.width <= room
    rows = _text(narrow)
    for node in nodes:
        box = narrow.boxes[node.node_id]
        incoming = [e for e in edges if e.dst == node.node_id]
        assert len(_entry_rows(box, rows)) == len(incoming), node.node_id
        glyphs = sorted(e.verdict.glyph for e in edges if e.src == node.node_id)
        found = (re.match(r"^─ (\S)", part) for part in _exit_labels(box, rows))
        assert sorted(m.group(1) for m in found if m) == glyphs, node.node_id


def test_a_drawing_no_cut_makes_fit_scrolls_with_its_names_readable() -> None:
    """At 100 columns on the demo comms' drawing fitted at no step: it was drawn at the
    narrowest anyway (`billi…rker`, `provi…rtal`) and scrolled all the same. Where nothing
    fits, names keep 16 cells."""
    nodes = [
        MapNode("a", "billing-worker-of-the-month", "system billing"),
        MapNode("b", "provider-portal-for-partners", "system providers"),
    ]
    edges = [MapEdge("a", "b", "✗ rest", Verdict.ANTI_PATTERN)]
    drawing = draw(nodes, edges, room=10)
    assert drawing.narrowed and drawing.canvas.width > 10
    rows = _text(drawing)
    for node in nodes:
        box = drawing.boxes[node.node_id]
        shown = rows[box.y + 1][box.x + 1 : box.x + box.width - 1].strip()
        assert len(shown) == 16 and "…" in shown, shown


def _trace(rows: list[str], x: int, y: int) -> set[tuple[int, int]]:
    """The cells of the line through (x, y): those its characters' strokes join."""
    strokes = {  # the sides each character has a stroke on: up, down, left, right
        "│": "ud", "─": "lr", "┌": "dr", "┐": "dl", "└": "ur", "┘": "ul", "├": "udr",
        "┤": "udl", "┬": "dlr", "┴": "ulr", "┼": "udlr", "▶": "l",
    }  # fmt: skip
    step = {"u": (0, -1, "d"), "d": (0, 1, "u"), "l": (-1, 0, "r"), "r": (1, 0, "l")}
    seen: set[tuple[int, int]] = set()
    todo = [(x, y)]
    while todo:
        cx, cy = todo.pop()
        if (cx, cy) in seen:
            continue
        seen.add((cx, cy))
        for side in strokes.get(rows[cy][cx], ""):
            dx, dy, back = step[side]
            nx, ny = cx + dx, cy + dy
            if 0 <= ny < len(rows) and 0 <= nx < len(rows[ny]):
                if back in strokes.get(rows[ny][nx], ""):
                    todo.append((nx, ny))
    return seen


def test_arrows_into_one_box_share_a_line_where_a_lane_each_does_not_fit() -> None:
    """A hub of a generated landscape of 40 systems (each calls its BFF, which calls each back)
    was drawn 127 cells wide in a pane of 96 at 100 columns, 80 of them lanes: one per arrow
    into the BFF and one per arrow back out of it. The arrows into one box now share one line
    and one arrowhead, those out of it one line, and each still joins its two boxes."""
    callers = [f"system-{i:02d}-api" for i in range(12)]
    nodes = [MapNode(c, c, "system x", kind="foreign", rank=0) for c in callers]
    nodes.append(MapNode("bff", "web-bff", "bff", kind="component", rank=1))
    edges = [MapEdge(c, "bff", "✗ graphql", Verdict.ANTI_PATTERN) for c in callers]
    edges += [MapEdge("bff", c, "✓ rest", Verdict.PATTERN) for c in callers]
    wide = draw(nodes, edges)
    room = 60
    assert wide.canvas.width > room
    drawing = draw(nodes, edges, room=room)
    assert drawing.narrowed and drawing.canvas.width <= room, drawing.canvas.width
    rows = _text(drawing)
    hub = drawing.boxes["bff"]
    heads = _entry_rows(hub, rows)
    assert len(heads) == 1
    line = _trace(rows, hub.x - 1, heads[0])
    for caller in callers:
        box = drawing.boxes[caller]
        # Its arrow leaves it labelled, and its line is the one that reaches the hub.
        exits = [y for y in range(box.y, box.y + box.height) if "graphql" in rows[y][box.x :]]
        assert len(exits) == 1, caller
        start = rows[exits[0]].index("graphql", box.x) + len("graphql") + 1
        assert (start, exits[0]) in line, caller
        # And the hub's call back ends at its left side.
        assert len(_entry_rows(box, rows)) == 1, caller
