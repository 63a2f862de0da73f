"""A screen whose read takes a while says so at once, and its keys work meanwhile."""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Any

import pytest
from textual.widgets import DataTable, Static

from seamscope.classifiers import read
from seamscope.tui.screens.lists import FindingsScreen, PatternsScreen
from tests.functional.conftest import AppFactory, settle
from tests.functional.test_screens import static_text

pytestmark = pytest.mark.anyio


async def test_findings_say_they_are_being_read_and_keys_work_meanwhile(
    sample_db: Path, make_app: AppFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    """On a store of 40 systems `n` showed a blank screen for a second or more (the read, then
    filling 428 rows). Here the read is held until the test lets it go: meanwhile the screen
    says what it reads, its table shows Textual's loading indicator, and `p` still opens the
    patterns (the read is a worker)."""
    app = make_app(sample_db)
    go = threading.Event()
    real = read.findings

    def held(q: Any, filters: Any) -> Any:
        go.wait()
        return real(q, filters)

    async with app.run_test(size=(160, 45)) as pilot:
        await settle(pilot)
        monkeypatch.setattr(read, "findings", held)
        try:
            await pilot.press("n")
            while not (isinstance(app.screen, FindingsScreen) and app.screen.query("#summary")):
                await pilot.pause()
            await pilot.pause()
            findings = app.screen
            summary = static_text(findings.query_one("#summary", Static))
            assert "Reading the findings" in summary, summary
            table = findings.query_one("#findings", DataTable)
            assert table.loading and not table.row_count
            await pilot.press("p")
            await pilot.pause()
            assert isinstance(app.screen, PatternsScreen)
        finally:
            go.set()
        await settle(pilot)
        await pilot.press("escape")
        await settle(pilot)
        assert app.screen is findings
        assert not table.loading and table.row_count
        summary = static_text(findings.query_one("#summary", Static))
        assert "worst first" in summary and "Reading" not in summary
