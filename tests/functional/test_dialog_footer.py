"""The footer a user sees while a dialog is open lists the dialog's keys, not the screen's."""

from __future__ import annotations

from pathlib import Path

import pytest
from textual.screen import ModalScreen
from textual.widgets._footer import FooterKey

from seamscope.tui.screens.dialogs import ConfirmQuit
from seamscope.tui.screens.landscape import LandscapeScreen
from tests.functional.conftest import AppFactory, settle

pytestmark = pytest.mark.anyio


def shown(app: object) -> list[str]:
    """The keys the footer on the terminal shows: a dialog has none of its own, so the one
    dimmed under it (the top screen that is no dialog)."""
    stack = app.screen_stack  # type: ignore[attr-defined]
    below = next(s for s in reversed(stack) if not isinstance(s, ModalScreen))
    return [k.key for k in below.query(FooterKey) if k.display]


@pytest.mark.parametrize("opener", ["question_mark", "colon", "f", "slash"])
async def test_the_footer_under_a_dialog_lists_only_the_dialog_s_keys(
    sample_db: Path, make_app: AppFactory, opener: str
) -> None:
    """Under help, go to, the filter and the search, the landscape's footer still offered, dimmed,
    `n Findings  p Patterns  s SQL ...`, none of which the dialog passes on: they did nothing.
    Now it lists the dialog's keys (Esc), and the key it lists closes the dialog."""
    app = make_app(sample_db)
    async with app.run_test(size=(160, 45)) as pilot:
        await settle(pilot)
        before = shown(app)
        assert "n" in before
        await pilot.press(opener)
        await settle(pilot)
        assert isinstance(app.screen, ModalScreen)
        keys = shown(app)
        assert keys and "n" not in keys and "p" not in keys, keys
        assert set(keys) <= {"escape", "ctrl+p"} | set(app.screen.active_bindings), keys
        await pilot.press(keys[0])
        await settle(pilot)
        assert isinstance(app.screen, LandscapeScreen)
        assert shown(app) == before


async def test_the_quit_question_s_footer_offers_its_answers(
    sample_db: Path, make_app: AppFactory
) -> None:
    """The quit confirmation's footer: its two answers, nothing of the screen under it."""
    app = make_app(sample_db)
    async with app.run_test(size=(160, 45)) as pilot:
        await settle(pilot)
        app.push_screen(ConfirmQuit())
        await settle(pilot)
        assert shown(app) == ["y", "n"]
        await pilot.press("n")
        await settle(pilot)
        assert isinstance(app.screen, LandscapeScreen) and "n" in shown(app)
