"""The baseline of `seamscope check`: what a broken one says (cli/check.py's read_baseline;
tests/e2e/test_classify_cli.py runs it as a user does)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from seamscope.cli.check import BaselineError, read_baseline

ENTRY = {"rule_id": "A101", "from": "a/x", "to": "b/y", "mechanism": "rest"}


def test_a_baseline_nested_too_deeply_says_so(tmp_path: Path) -> None:
    path = tmp_path / "b.json"
    path.write_text("[" * 100_000 + "]" * 100_000)
    with pytest.raises(BaselineError, match=r"b\.json: not a seamscope baseline \(JSON nested too"):
        read_baseline(path)


@pytest.mark.parametrize(
    ("entry", "kind"),
    [(1, "a number"), ("A101", "a string"), ([ENTRY], "a list"), (None, "null"), (True, "true")],
)
def test_an_entry_that_is_not_an_object_is_named(tmp_path: Path, entry: object, kind: str) -> None:
    path = tmp_path / "b.json"
    path.write_text(json.dumps({"version": 1, "findings": [ENTRY, entry]}))
    with pytest.raises(BaselineError) as raised:
        read_baseline(path)
    assert str(raised.value) == (
        f"{path}: findings[1] is {kind}, not an object with rule_id, from, to, mechanism"
    )


def test_no_findings_list_is_said_as_before(tmp_path: Path) -> None:
    path = tmp_path / "b.json"
    for content in ('{"version": 1}', '{"findings": "A101"}', "[]"):
        path.write_text(content)
        with pytest.raises(BaselineError, match="no 'findings' list"):
            read_baseline(path)
