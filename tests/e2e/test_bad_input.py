"""What a user mistypes, through the real command line: one message that names what and where,
exit status 2, no traceback."""

from __future__ import annotations

import signal
import subprocess
from pathlib import Path

import pytest

from seamscope.tracer.otlp import protobuf_to_json
from tests.e2e.test_collect import SEAMSCOPE, start_collector
from tests.otlp_sample import sample_request

pytestmark = pytest.mark.e2e


def _line(seed: int, spans: int = 4) -> str:
    return protobuf_to_json(sample_request(spans, seed=seed).SerializeToString())


def run(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*SEAMSCOPE, *args],
        capture_output=True,
        text=True,
        timeout=120,
        stdin=subprocess.DEVNULL,
        cwd=cwd,
    )


@pytest.mark.parametrize(
    ("args", "said"),
    [
        (["collect", "--memory-limit", "lots"], "'--memory-limit': 'lots' is not a size"),
        (["collect", "--memory-limit", "1KB"], "'--memory-limit': '1KB' is less than 1MB"),
        (["collect", "--max-temp-size", "90%"], "'--max-temp-size': '90%' is not a size"),
        (["tui", "--collect", "--memory-limit", "1PB"], "'--memory-limit': '1PB' is not a size"),
    ],
    ids=["memory-not-a-size", "memory-too-small", "temp-percent", "tui-unknown-unit"],
)
def test_a_wrong_duckdb_size_is_named_with_its_option(
    tmp_path: Path, args: list[str], said: str
) -> None:
    """DuckDB refused these only when the store was opened: 'lots' came back as the store's
    fault ("s.duckdb: Parser Error: ..."), 1KB as a traceback (new store) or "the store is
    locked" (one with tables)."""
    db = tmp_path / "s.duckdb"
    done = run(*args, "--db", str(db), "--port", "0", cwd=tmp_path)
    assert done.returncode == 2, done.stderr
    assert said in done.stderr
    assert "Traceback" not in done.stderr
    assert not db.exists()  # refused before anything was opened


def test_collect_counts_the_requests_it_refuses(tmp_path: Path) -> None:
    """A sender whose requests are all refused (400) left no trace in collect's output: its
    running count and last line said 0 spans stored and nothing else, as if nobody sent."""
    db = tmp_path / "s.duckdb"
    collector = start_collector(db, tmp_path, "--no-classify", "--decoders", "0")
    try:
        for body in (b"\xff\xfe not JSON", b'{"resourceSpans": "x"}'):
            status, _ = collector.post(body, {"Content-Type": "application/json"})
            assert status == 400
        status, _ = collector.post(_line(1).encode(), {"Content-Type": "application/json"})
        assert status == 200
    finally:
        assert collector.stop(signal.SIGINT) == 0
    lines = collector.log.read_text().splitlines()
    assert lines[-1] == (
        "seamscope: stopped; stored 4 spans (0 rejected, 0 repeated, 0 from the spool, "
        "2 bad requests refused)"
    )
