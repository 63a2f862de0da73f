"""The SQL screen at 100 columns: the schema pane listed the classifier's internal tables
first, the editor kept 8 lines for a one-line query, and an empty result showed
only its header."""

from __future__ import annotations

from pathlib import Path

import pytest
from textual.binding import Binding
from textual.widgets import DataTable, Static, TextArea, Tree
from textual.widgets._footer import FooterKey

from seamscope.tui.screens.dialogs import HelpScreen
from seamscope.tui.screens.sql import INTERNAL, SqlScreen
from tests.functional.conftest import AppFactory, settle
from tests.functional.test_screens import _run_sql, static_text

pytestmark = pytest.mark.anyio


async def test_the_sql_screen_at_100_columns(sample_db: Path, make_app: AppFactory) -> None:
    app = make_app(sample_db)
    async with app.run_test(size=(100, 30)) as pilot:
        await settle(pilot)
        await pilot.press("s")
        await settle(pilot)
        assert isinstance(app.screen, SqlScreen)
        tree = app.screen.query_one("#sql-schema", Tree)
        top = [str(n.data) for n in tree.root.children]
        assert "spans" in top and "edges" in top
        assert not any(t.startswith(INTERNAL) for t in top)  # behind the closed "internal"
        assert top[-1] == "None"  # that node, after the public tables and views
        assert not tree.root.children[-1].is_expanded
        await _run_sql(pilot, app, "SELECT span_id FROM spans WHERE false")
        editor = app.screen.query_one("#sql-editor", TextArea)
        assert editor.size.height <= 3  # one line of query, and room for a second
        status = static_text(app.screen.query_one("#sql-status", Static)).strip()
        assert status == "No rows"
        assert app.screen.query_one("#sql-result", DataTable).row_count == 0


async def test_ctrl_b_hides_the_schema_pane_and_gives_its_room_to_the_editor(
    sample_db: Path, make_app: AppFactory
) -> None:
    """At 100 columns the schema pane took 38 cells; Ctrl+B (harlequin's key) hides it, the
    editor and the result take the room, focus leaves the hidden pane, and F8 or Ctrl+B again
    brings it back. F9 does the same as Ctrl+B."""
    app = make_app(sample_db)
    async with app.run_test(size=(100, 30)) as pilot:
        await settle(pilot)
        await pilot.press("s")
        await settle(pilot)
        assert isinstance(app.screen, SqlScreen)
        editor = app.screen.query_one("#sql-editor", TextArea)
        tree = app.screen.query_one("#sql-schema", Tree)
        narrow = editor.size.width
        tree.focus()
        await pilot.press("ctrl+b")
        await settle(pilot)
        assert not tree.region.width  # hidden: no cell of the screen
        assert editor.size.width >= narrow + 38
        assert app.screen.query_one("#sql-result", DataTable).size.width >= narrow + 38
        assert app.focused is editor  # not left on the hidden tree
        await pilot.press("ctrl+b")
        await settle(pilot)
        assert tree.region.width and editor.size.width == narrow
        await pilot.press("f9")  # the same key for a terminal in tmux, whose prefix Ctrl+B is
        await settle(pilot)
        assert not tree.region.width
        await pilot.press("f9")
        await settle(pilot)
        assert tree.region.width
        await pilot.press("ctrl+b", "f8")
        await settle(pilot)
        assert tree.region.width and app.focused is app.screen.query_one("#sql-history")


@pytest.mark.parametrize(("tmux", "shown"), [(True, "f9"), (False, "ctrl+b")])
async def test_in_tmux_the_footer_offers_f9_for_the_side_pane(
    sample_db: Path, make_app: AppFactory, monkeypatch: pytest.MonkeyPatch, tmux: bool, shown: str
) -> None:
    """In tmux, whose prefix Ctrl+B is, the footer offered `^b Schema`: the key never reached the
    TUI and tmux took the key after it as its command. There the footer and the help name F9,
    which does the same; elsewhere Ctrl+B, harlequin's key. Both keys work either way."""
    if tmux:
        monkeypatch.setenv("TMUX", "/tmp/tmux-1000/default,4242,0")
    else:
        monkeypatch.delenv("TMUX", raising=False)
    app = make_app(sample_db)
    async with app.run_test(size=(100, 30)) as pilot:
        await settle(pilot)
        await pilot.press("s")
        await settle(pilot)
        assert isinstance(app.screen, SqlScreen)
        keys = [k.key for k in app.screen.query(FooterKey) if k.display]
        other = {"f9", "ctrl+b"} - {shown}
        assert shown in keys and not other & set(keys), keys
        app.action_help()  # (? is typed in the editor; the palette's "Help and keys" runs this)
        await settle(pilot)
        help_box = app.screen
        assert isinstance(help_box, HelpScreen)
        listed = [key for key, description in help_box.keys if description == "Schema"]
        assert listed == [app.get_key_display(Binding(shown, "toggle_side"))], help_box.keys
        await pilot.press("escape")
        await settle(pilot)
        tree = app.screen.query_one("#sql-schema", Tree)
        for key in ("f9", "ctrl+b"):
            await pilot.press(key)
            await settle(pilot)
            assert not tree.region.width, key
            await pilot.press(key)
            await settle(pilot)
            assert tree.region.width, key
