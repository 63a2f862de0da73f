"""The baseline of `seamscope check`: what a broken one says, and how it is written
(cli/check.py's read_baseline and write_baseline; tests/e2e/test_classify_cli.py runs them as
a user does)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from seamscope.cli.check import BaselineError, read_baseline, write_baseline

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


def test_a_baseline_in_a_missing_folder_is_a_baseline_error(tmp_path: Path) -> None:
    path = tmp_path / "no" / "such" / "b.json"
    with pytest.raises(BaselineError) as raised:
        write_baseline(path, [])
    assert str(raised.value) == (
        f"{path}: cannot write the baseline (the folder {path.parent} does not exist)"
    )


def test_a_baseline_under_a_file_is_a_baseline_error(tmp_path: Path) -> None:
    (tmp_path / "f").write_text("")
    with pytest.raises(BaselineError, match=r"f/b\.json: cannot write the baseline \(Not a dir"):
        write_baseline(tmp_path / "f" / "b.json", [])


def test_a_baseline_that_is_no_regular_file_is_not_written(tmp_path: Path) -> None:
    """A folder here (the command line refuses one before); a named pipe or a device takes the
    same way, never opened (a pipe would wait for a reader for ever)."""
    folder = tmp_path / "b.json"
    folder.mkdir()
    with pytest.raises(BaselineError, match="cannot write the baseline \\(not a regular file\\)"):
        write_baseline(folder, [])
    assert list(tmp_path.iterdir()) == [folder] and list(folder.iterdir()) == []


def test_the_baseline_replaced_keeps_its_mode_and_its_link(tmp_path: Path) -> None:
    real = tmp_path / "real.json"
    real.write_text(json.dumps({"version": 1, "findings": [ENTRY]}))
    real.chmod(0o644)
    link = tmp_path / "link.json"
    link.symlink_to(real)
    write_baseline(link, [])
    assert link.is_symlink() and json.loads(real.read_text()) == {"version": 1, "findings": []}
    assert real.stat().st_mode & 0o777 == 0o644
    assert sorted(p.name for p in tmp_path.iterdir()) == ["link.json", "real.json"]
