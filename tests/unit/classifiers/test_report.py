"""classifiers/report.py: reading an owner's classification waits for the owner to catch up."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pyarrow as pa
import pytest

from seamscope.classifiers import report
from seamscope.tracer.errors import SeamscopeError


class _Owner:
    """What a command sees of an owner: its classification's watermark and newest batch, one
    answer per query (None: the state table is not made yet)."""

    def __init__(self, answers: list[tuple[int, int] | None]) -> None:
        self.answers = answers
        self.asked = 0
        self.owner = None

    def query(self, sql: str, params: Any = None) -> pa.Table:
        answer = self.answers[min(self.asked, len(self.answers) - 1)]
        self.asked += 1
        if answer is None:
            raise SeamscopeError("Catalog Error: Table with name classifier_state does not exist")
        return pa.table({"w": [answer[0]], "top": [answer[1]]})


def test_waits_until_the_owner_has_classified_what_it_held(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(report, "_POLL_S", 0)
    owner = _Owner([None, (0, 7), (5, 9), (7, 12)])
    report._await_owner(Path("s.duckdb"), owner, 60)  # type: ignore[arg-type]
    # The target is the newest batch when the state first answered (7), not the later ones:
    # a live stream does not keep the command waiting.
    assert owner.asked == 4


def test_an_owner_that_does_not_catch_up_is_one_line(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(report, "_POLL_S", 0)
    with pytest.raises(SeamscopeError) as caught:
        report._await_owner(Path("s.duckdb"), _Owner([(3, 1200)]), 0.05)  # type: ignore[arg-type]
    assert str(caught.value) == (
        "s.duckdb: the store's owner has not classified the spans it holds (up to batch 3 of "
        "1,200) after 0.05 s; try again when it has"
    )
