"""The TUI takes ./seamscope.toml, or the one beside the OTLP files it is given, as the other
commands do: one of another user is named and refused, as test_planted_files shows for them."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from seamscope.cli.tui import landscape_for
from seamscope.tracer.errors import SeamscopeError


def test_the_tuis_landscape_beside_the_files_must_be_the_users(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    traces = tmp_path / "traces"
    traces.mkdir()
    beside = traces / "seamscope.toml"
    beside.write_text("")
    assert landscape_for(None, (traces,)) == beside
    os.chown(beside, 65534, 65534)
    with pytest.raises(SeamscopeError, match="belongs to another user"):
        landscape_for(None, (traces,))
    assert landscape_for(beside, (traces,)) == beside  # named: taken knowingly
