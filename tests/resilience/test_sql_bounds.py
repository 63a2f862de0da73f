"""What one query may cost, through a running `seamscope collect` and through `seamscope sql`
alone: a time limit, a result size cap with a clear error, DuckDB's memory and spill bounded,
one query at a time per client, and intake that goes on meanwhile.

Time bounds are generous: they catch a stall (a query running its whole course, intake
waiting on SQL), not a slow machine.
"""

from __future__ import annotations

import concurrent.futures
import http.client
import json
import subprocess
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from seamscope.tracer.owner import CLIENT_HEADER, find_owner
from tests.e2e.test_collect import SEAMSCOPE, Collector, start_collector
from tests.otlp_sample import sample_request

pytestmark = pytest.mark.e2e

PB = {"Content-Type": "application/x-protobuf"}
TIMEOUT_S = 2.0
PATIENCE_S = 20.0
# CPU for as long as it is let run: a join of 10^14 pairs.
BUSY = "select count(*) from range(10000000) a, range(10000000) b where a.range + b.range = 7"


@pytest.fixture
def collector(db_path: Path, tmp_path: Path, request: pytest.FixtureRequest) -> Iterator[Collector]:
    """A collector whose SQL endpoint stops a query after TIMEOUT_S (or the test's own limit)."""
    timeout_s = getattr(request, "param", TIMEOUT_S)
    c = start_collector(
        db_path,
        tmp_path,
        "--no-classify",
        "--sql-timeout",
        str(timeout_s),
        "--sql-max-mb",
        "16",
        "--memory-limit",
        "300MB",
        "--max-temp-size",
        "200MB",
    )
    try:
        yield c
    finally:
        c.process.stop()


def ask(
    c: Collector, sql: str, client: str = "test", timeout: float = PATIENCE_S * 3
) -> tuple[int, dict[str, Any]]:
    owner = find_owner(Path(c.log).parent / "seamscope.duckdb")
    assert owner is not None
    conn = http.client.HTTPConnection("127.0.0.1", c.port, timeout=timeout)
    try:
        headers = {"Content-Type": "application/json", CLIENT_HEADER: client, **owner.headers()}
        conn.request(
            "POST", "/seamscope/v1/sql", json.dumps({"sql": sql, "format": "json"}), headers
        )
        response = conn.getresponse()
        return response.status, json.loads(response.read())
    finally:
        conn.close()


def post_spans(c: Collector, seed: int) -> int:
    conn = http.client.HTTPConnection("127.0.0.1", c.port, timeout=PATIENCE_S)
    try:
        conn.request("POST", "/v1/traces", sample_request(3, seed=seed).SerializeToString(), PB)
        response = conn.getresponse()
        response.read()
        return response.status
    finally:
        conn.close()


# The size cap, not the time limit, must be what stops this query: on a loaded machine building
# 16 MB of strings can take longer than TIMEOUT_S, so this collector waits as long as the test does.
@pytest.mark.parametrize("collector", [PATIENCE_S], indirect=True)
def test_a_huge_result_is_refused_clearly_and_intake_goes_on(collector: Collector) -> None:
    big = "select repeat('x', 5000000) a, repeat('y', 5000000) b from range(40)"
    with concurrent.futures.ThreadPoolExecutor(2) as pool:
        answer = pool.submit(ask, collector, big)
        assert post_spans(collector, 1) == 200
        status, body = answer.result()
    assert status == 400
    assert "larger than 16 MB" in body["error"] and "LIMIT" in body["error"]
    status, body = ask(collector, "select count(*) from spans")
    assert status == 200 and body["rows"] == [[3]]


def test_a_long_query_is_stopped_and_intake_never_waits(collector: Collector) -> None:
    with concurrent.futures.ThreadPoolExecutor(2) as pool:
        answer = pool.submit(ask, collector, BUSY)
        for seed in range(5):
            assert post_spans(collector, seed) == 200
        status, body = answer.result()
    assert status == 400 and f"longer than {TIMEOUT_S:g} s" in body["error"]


def test_one_query_at_a_time_per_client(collector: Collector) -> None:
    order: list[str] = []
    lock = threading.Lock()

    def run(name: str, sql: str, client: str) -> tuple[int, dict[str, Any]]:
        result = ask(collector, sql, client)
        with lock:
            order.append(name)
        return result

    with concurrent.futures.ThreadPoolExecutor(4) as pool:
        busy = [pool.submit(run, f"busy-{i}", BUSY, "greedy") for i in range(3)]
        # Another client's query is not queued behind the greedy client's three.
        quick = pool.submit(run, "quick", "select 42 as answer", "other")
        assert quick.result()[1]["rows"] == [[42]]
        for future in busy:
            assert future.result()[0] == 400
    assert order.index("quick") < 2, order  # before the greedy client's second query ended


def test_duckdb_memory_and_spill_are_bounded(db_path: Path, tmp_path: Path) -> None:
    c = start_collector(
        db_path, tmp_path, "--no-classify", "--memory-limit", "100MB", "--max-temp-size", "64MB"
    )
    try:
        status, body = ask(
            c, "select current_setting('memory_limit'), current_setting('max_temp_directory_size')"
        )
        assert status == 200 and body["rows"] == [["95.3 MiB", "61.0 MiB"]]  # DuckDB's spelling
        spill = db_path.with_name(db_path.name + ".tmp")
        biggest = 0
        with concurrent.futures.ThreadPoolExecutor(1) as pool:
            answer = pool.submit(
                ask, c, "select count(distinct range * 7919 % 1000000007) from range(3000000000)"
            )
            while not answer.done():
                size = sum(f.stat().st_size for f in spill.glob("*") if f.is_file())
                biggest = max(biggest, size)
                threading.Event().wait(0.05)
            status, body = answer.result()
        assert status == 400, body
        assert "memory" in body["error"].lower(), body  # not the time limit: it ran out of room
        assert biggest <= 64 * 1024 * 1024 * 1.1
    finally:
        c.process.stop()


def test_seamscope_sql_alone_stops_a_long_query_and_lets_go_of_the_store(
    db_path: Path, tmp_path: Path
) -> None:
    c = start_collector(db_path, tmp_path, "--no-classify")
    assert post_spans(c, 9) == 200
    c.process.stop()
    done = subprocess.run(
        [*SEAMSCOPE, "sql", "--db", str(db_path), "--timeout", str(TIMEOUT_S), BUSY],
        capture_output=True,
        text=True,
        timeout=PATIENCE_S * 3,
    )
    assert done.returncode == 2 and "Traceback" not in done.stderr
    assert f"longer than {TIMEOUT_S:g} s" in done.stderr
    # The store is free again: an owner can start.
    c = start_collector(db_path, tmp_path, "--no-classify")
    try:
        assert post_spans(c, 10) == 200
    finally:
        c.process.stop()


@pytest.mark.parametrize("collector", [PATIENCE_S], indirect=True)
def test_a_json_answer_is_bounded_as_text_too(collector: Collector) -> None:
    # 12 MB of Arrow, under the 16 MB bound, whose JSON text is six times that (\u0001 each):
    # the answer was sent whole, 72 MB, built in the owner's memory first.
    escaped = "select repeat(chr(1), 600) as x from range(20000)"
    status, body = ask(collector, escaped)
    assert status == 400, str(body)[:200]
    assert "larger than 16 MB" in body["error"] and "LIMIT" in body["error"]
    # Under the bound as text too, it is answered whole.
    status, body = ask(collector, escaped.replace("20000", "2000"))
    assert status == 200 and len(body["rows"]) == 2000 and body["rows"][0] == ["\x01" * 600]
