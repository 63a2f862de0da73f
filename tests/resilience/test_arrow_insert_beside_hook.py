"""The receiver writer's Arrow-scan INSERTs beside the classifier's refresh on a cursor of its
own and the SQL endpoint's reads, in a process of its own (tests/resilience/arrow_stress.py):
an Arrow-scan INSERT beside another cursor's query is a known deadlock class of duckdb-python
(duckdb#18225). A hang makes the child dump every thread's stack and exit 1; should even that
not happen, pytest-timeout ends the test."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.slow
@pytest.mark.timeout(900)
def test_inserts_refreshes_and_reads_on_three_cursors_never_hang(tmp_path: Path) -> None:
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "tests.resilience.arrow_stress",
            str(tmp_path / "stress.duckdb"),
            # Bounded by work done, not by time: 25 commits, refreshes and reads at least.
            "--commits",
            "25",
            "--seconds",
            "1e9",
            "--hang-s",
            "300",
            # DuckDB's automatic checkpoint on commit too, beside the other cursors.
            "--checkpoint-threshold",
            "8MB",
            "--checkpoint-every",
            "10",
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
    )
    assert done.returncode == 0, done.stderr[-20_000:]
    assert done.stdout.startswith("ok "), done.stdout
