"""The TUI never shows stale labels: it takes the landscape the other commands take, labels the
store again when the landscape or the catalog changed, and shows a bad landscape as such."""

from __future__ import annotations

from pathlib import Path

import pytest
from textual.widgets import DataTable, Static

from seamscope.classifiers.engine import classify
from seamscope.classifiers.landscape import load_landscape
from seamscope.cli.tui import landscape_for
from seamscope.tracer.store import short_lock
from seamscope.tui.app import SeamscopeApp
from seamscope.tui.data import LocalStore
from seamscope.tui.screens.dialogs import ProblemScreen
from seamscope.tui.screens.landscape import LandscapeScreen
from tests.functional.conftest import settle
from tests.functional.test_screens import cells
from tests.unit.classifiers.fleet import Fleet, Service

pytestmark = pytest.mark.anyio

SIZE = (160, 45)
OWNED_BY = (
    '[systems.orders]\ncomponents = {{ orders-api = "backend" }}\n\n'
    '[owners.tables]\nOrders = "{owner}"\n'
)


def _store(tmp_path: Path) -> Path:
    """billing's worker writes the Orders table: A301 or P301 depending on who owns it."""
    f = Fleet()
    f.dynamodb(Service("orders-api", "orders", "backend"), "PutItem", "Orders")
    f.dynamodb(Service("billing-worker", "billing", "worker"), "PutItem", "Orders")
    return f.store(tmp_path / "store.duckdb")


def _landscape(tmp_path: Path, name: str, owner: str) -> Path:
    path = tmp_path / name
    path.write_text(OWNED_BY.format(owner=owner))
    return path


def _rules(app: SeamscopeApp) -> dict[str, str]:
    table = app.screen.query_one("#edges", DataTable)
    return dict(zip(cells(table, 2), cells(table, 1), strict=True))  # From -> Rule


async def test_the_tui_labels_with_its_own_landscape_not_the_last_command_s(
    tmp_path: Path,
) -> None:
    db = _store(tmp_path)
    other = _landscape(tmp_path, "other.toml", "billing")
    mine = _landscape(tmp_path, "seamscope.toml", "orders")
    with short_lock(db) as store:  # as `seamscope edges --landscape other.toml` leaves it
        classify(store.con, load_landscape(other))
    app = SeamscopeApp(lambda: LocalStore(db, mine), refresh_interval=0)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        assert isinstance(app.screen, LandscapeScreen)
        assert _rules(app)["billing/billing-worker"] == "A301"
        summary = str(app.screen.query_one("#summary", Static).content)
        assert "seamscope.toml" in summary


async def test_the_header_names_the_landscape_file_of_this_session(tmp_path: Path) -> None:
    """A copy of the file the store was labelled with (same contents, another path or another
    working directory) labels nothing again; the header still names the copy, the file this
    session reads and watches, not the one the labels were made with."""
    db = _store(tmp_path)
    first = _landscape(tmp_path, "first.toml", "orders")
    with short_lock(db) as store:
        classify(store.con, load_landscape(first))
    (tmp_path / "copy").mkdir()
    copy = _landscape(tmp_path / "copy", "second.toml", "orders")
    app = SeamscopeApp(lambda: LocalStore(db, copy), refresh_interval=0)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        assert isinstance(app.screen, LandscapeScreen)
        summary = str(app.screen.query_one("#summary", Static).content)
        assert f"landscape {copy}" in summary
        assert str(first) not in summary


async def test_an_edited_landscape_relabels_the_open_tui(tmp_path: Path) -> None:
    db = _store(tmp_path)
    land = _landscape(tmp_path, "seamscope.toml", "orders")
    app = SeamscopeApp(lambda: LocalStore(db, land), refresh_interval=0.05)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        assert _rules(app)["billing/billing-worker"] == "A301"
        land.write_text(OWNED_BY.format(owner="billing") + "\n# billing owns it after all\n")
        for _ in range(100):
            await pilot.pause(0.05)
            await settle(pilot)
            if "billing/billing-worker" not in _rules(app):
                break  # the table shows system-level edges: now a P301 inside billing
        assert "billing/billing-worker" not in _rules(app)


async def test_a_bad_landscape_is_a_landscape_error_with_its_line(tmp_path: Path) -> None:
    db = _store(tmp_path)
    bad = _landscape(tmp_path, "seamscope.toml", "ordrs")
    app = SeamscopeApp(lambda: LocalStore(db, bad), refresh_interval=0)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        assert isinstance(app.screen, ProblemScreen)
        assert app.screen.problem_title == "The landscape file has an error"
        assert f"{bad}:5: owners.tables.Orders" in app.screen.message
        assert "Landscape" not in [
            a.binding.description for a in app.screen.active_bindings.values()
        ]


def test_the_landscape_is_resolved_as_the_other_commands_do(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    folder = tmp_path / "traces"
    folder.mkdir()
    (folder / "seamscope.toml").write_text("")
    monkeypatch.chdir(tmp_path)
    given = tmp_path / "given.toml"
    assert landscape_for(given, (folder,)) == given
    assert landscape_for(None, (folder,)) == folder / "seamscope.toml"
    assert landscape_for(None) is None
    (tmp_path / "seamscope.toml").write_text("")
    assert landscape_for(None, (folder,)) == Path("seamscope.toml")
