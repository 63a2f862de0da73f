"""sample_traces/ works offline: ingested as a user would, every edge gets the README's label."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from seamscope.tui.demo.findings import classified_edges
from tests.e2e.test_demo import CATALOG, ROOT, expected_labels

pytestmark = pytest.mark.e2e

SAMPLES = ROOT / "sample_traces"


def test_the_readme_lists_every_file_and_the_files_stay_small() -> None:
    readme = (SAMPLES / "README.md").read_text()
    shipped = sorted(p.name for p in SAMPLES.iterdir() if p.suffix in (".jsonl", ".toml", ".py"))
    assert shipped == ["capture.py", "demo-fleet.jsonl", "seamscope.toml"]
    assert all(f"`{name}`" in readme for name in shipped)
    assert sum(p.stat().st_size for p in SAMPLES.glob("*.jsonl")) < 600_000


def test_ingested_samples_get_the_labels_the_readme_promises(tmp_path: Path) -> None:
    db = tmp_path / "samples.duckdb"
    done = subprocess.run(
        [sys.executable, "-m", "seamscope.tui", "ingest", str(SAMPLES), "--db", str(db)],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr

    edges = classified_edges(db, SAMPLES / "seamscope.toml")
    assert sorted(set(CATALOG) - {e.rule_id for e in edges}) == []
    wrong = []
    for source, target, mechanism, rule in expected_labels():
        got = sorted(
            {
                e.rule_id
                for e in edges
                if (e.source, e.target, e.mechanism) == (source, target, mechanism)
            }
        )
        if got != [rule]:
            wrong.append(f"{source} -> {target} ({mechanism}): expected {rule}, got {got}")
    assert wrong == []
    listed = {row[:3] for row in expected_labels()}
    unlisted = [e for e in edges if (e.source, e.target, e.mechanism) not in listed]
    assert unlisted == []
