"""demo.json, what the demo says runs where: written whole or not at all."""

from __future__ import annotations

import json
import os
from pathlib import Path

from seamscope.demo.run import Fleet


def test_the_demo_writes_its_state_whole(tmp_path: Path) -> None:
    """The demo's demo.json was truncated, then written: a test that waited for the file to
    exist and killed the demo read it empty."""
    fleet = Fleet(run_dir=tmp_path, db_path=tmp_path / "store.duckdb")
    fleet.write_state()
    held = tmp_path / "held"
    os.link(tmp_path / "demo.json", held)
    fleet.ports["moto"] = 1
    fleet.write_state()
    assert json.loads(held.read_text())["ports"] == {}
    assert json.loads((tmp_path / "demo.json").read_text())["ports"] == {"moto": 1}
