"""The focus view on a generated landscape of ten systems, as a user walks it: every row says its
rule, glyph and mechanism whole where the view has the width, and a box names the resource on
each row by its own name."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from benchmarks.generate import generate_store, landscape_path
from seamscope.tui.app import SeamscopeApp
from seamscope.tui.data import LocalStore
from seamscope.tui.screens.landscape import LandscapeScreen
from seamscope.tui.widgets.focusmap import FocusMap
from tests.functional.conftest import settle

pytestmark = pytest.mark.anyio


@pytest.fixture(scope="module")
def ten_systems(tmp_path_factory: pytest.TempPathFactory) -> Path:
    store = tmp_path_factory.mktemp("g10") / "g10.duckdb"
    generate_store(store, 20_000, systems=10)
    return store


def _app(store: Path) -> SeamscopeApp:
    landscape = landscape_path(store)
    return SeamscopeApp(lambda: LocalStore(store, landscape), refresh_interval=0)


async def _each_centre(app: SeamscopeApp) -> list[tuple[str, list[str]]]:
    """Walks to every system: (system, its focus view's lines as drawn)."""
    screen = app.screen
    assert isinstance(screen, LandscapeScreen) and screen.view is not None
    seen = []
    for system in screen.view.systems:
        screen.walk_to(system)
        drawing = screen.query_one(FocusMap)._drawn()
        assert drawing is not None
        seen.append((system, ["".join(row) for row in drawing.canvas.chars]))
    return seen


CUT_LABEL = re.compile(r"…\s*─")
"""A row's label cut short: "─ A202 ✗ sqs lis… ─▶"."""
CUT_TABLE = re.compile(r"dynamo[^/│ ]*…[^/ ]")
"""A table's name cut in the middle, its own name lost: "dynamodb…roviders"."""


async def test_the_rows_say_their_mechanism_whole_at_160_columns(ten_systems: Path) -> None:
    """The boxes were as wide as the longest name of any neighbour (38 cells beside the list at
    160 columns, most of them blank), which left a row 20 cells: "A202 ✗ sqs lis…",
    "A302 ✗ dynamod…". The rows now get their longest label, the boxes the rest."""
    app = _app(ten_systems)
    async with app.run_test(size=(160, 45)) as pilot:
        await settle(pilot)
        rows = 0
        for system, lines in await _each_centre(app):
            for line in lines:
                assert not CUT_LABEL.search(line), (system, line)
                rows += line.count("▶")
        assert rows > 100


async def test_a_row_in_a_box_names_its_resource_whole(ten_systems: Path) -> None:
    """A box's row naming a table was cut in the middle ("dynamodb…roviders" on the demo at
    100 columns): it keeps the table's own name, as the box's title does ("dyna…/Catalog")."""
    app = _app(ten_systems)
    async with app.run_test(size=(100, 30)) as pilot:
        await settle(pilot)
        tables = 0
        for system, lines in await _each_centre(app):
            for line in lines:
                assert not CUT_TABLE.search(line), (system, line)
                tables += line.count("dynamo")
        assert tables > 10
