"""sample_traces/ works offline: ingested as a user would, every edge gets the README's label."""

from __future__ import annotations

import subprocess
import sys
import uuid
from pathlib import Path

import duckdb
import pytest

from seamscope.demo.findings import classified_edges
from seamscope.demo.run import FLEET
from tests.e2e.terminal import (
    kill_terminal,
    seamscope_line,
    send_keys,
    send_text,
    start_terminal,
    wait_exit,
    wait_for,
)
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
        [sys.executable, "-m", "seamscope.cli", "ingest", str(SAMPLES), "--db", str(db)],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr

    edges = classified_edges(db, SAMPLES / "seamscope.toml")
    assert sorted(set(CATALOG) - {e.edge.rule_id for e in edges}) == []
    wrong = []
    for source, target, mechanism, rule in expected_labels():
        got = sorted(
            {
                e.edge.rule_id
                for e in edges
                if (e.source, e.target, e.edge.mechanism) == (source, target, mechanism)
            }
        )
        if got != [rule]:
            wrong.append(f"{source} -> {target} ({mechanism}): expected {rule}, got {got}")
    assert wrong == []
    listed = {row[:3] for row in expected_labels()}
    unlisted = [e for e in edges if (e.source, e.target, e.edge.mechanism) not in listed]
    assert unlisted == []


def test_the_tui_opens_the_samples_offline(tmp_path: Path) -> None:
    """`seamscope tui sample_traces/` in a real terminal: the findings of the samples show."""
    session, done = f"samples-{uuid.uuid4().hex[:8]}", tmp_path / "exit-code"
    command = seamscope_line("tui", SAMPLES, exit_file=done)
    start_terminal(session, 180, 45, command)
    try:
        wait_for(session, "System landscape", limit_s=60)
        send_keys(session, "n")
        wait_for(session, "A401", "inventory/inventory-sync-job", limit_s=60)
        # The portal's REST call (P103) is the landscape file's allowed exception: the folder's
        # seamscope.toml was taken without --landscape.
        send_text(session, ":")  # go to
        wait_for(session, "Go to a system")
        send_text(session, "P103")
        wait_for(session, "rule P103")  # the palette found it
        send_keys(session, "Enter")
        wait_for(session, "1 edge of rule P103", "provider-portal", limit_s=60)
        send_keys(session, "q")
        assert wait_exit(done) == "0"
    finally:
        kill_terminal(session)


@pytest.mark.slow
def test_the_capture_script_recaptures_every_service_in_one_command(tmp_path: Path) -> None:
    out = tmp_path / "captured"
    done = subprocess.run(
        [
            sys.executable,
            str(SAMPLES / "capture.py"),
            "--out",
            str(out),
            "--seconds",
            "6",
            "--pace",
            "1",
        ],  # fmt: skip
        capture_output=True,
        text=True,
        timeout=240,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    assert sorted(p.name for p in out.iterdir()) == ["demo-fleet.jsonl", "seamscope.toml"]
    db = tmp_path / "captured.duckdb"
    ingested = subprocess.run(
        [sys.executable, "-m", "seamscope.cli", "ingest", str(out), "--db", str(db)],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert ingested.returncode == 0, ingested.stderr
    con = duckdb.connect(str(db), read_only=True)
    try:
        services = {r[0] for r in con.execute("SELECT DISTINCT service_name FROM spans").fetchall()}
    finally:
        con.close()
    assert services == {spec.name for spec in FLEET}
