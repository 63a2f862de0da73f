"""The store is locked by another process for ~10 s while services export.

The services keep serving (their export runs in the BatchSpanProcessor thread and keeps what
it cannot store in memory), and every span arrives once the lock is gone. Request latency with
and without the lock is printed (run with -s), never asserted: the machine is shared.
"""

from __future__ import annotations

import json
import statistics
import sys
import time
from pathlib import Path

import pytest

from seamscope.demo.processes import ManagedProcess, free_port, wait_for_http
from tests.e2e.services.harness import (
    SERVICES,
    drain_leftover_spool,
    query,
    service_env,
    start_service,
)

pytestmark = [pytest.mark.e2e, pytest.mark.slow]

LOCK_S = 10.0


def _line(log: Path, prefix: str, proc: ManagedProcess, timeout_s: float = 60) -> str:
    deadline = time.monotonic() + timeout_s
    while True:
        for line in (log.read_text() if log.exists() else "").splitlines():
            if line.startswith(prefix):
                return line
        assert proc.alive() or prefix in log.read_text(), f"{proc.name} exited: {log.read_text()}"
        assert time.monotonic() < deadline, f"{proc.name} never said {prefix!r}"
        time.sleep(0.02)


def _summary(latencies: list[float]) -> str:
    if not latencies:
        return "no requests"
    ms = sorted(x * 1000 for x in latencies)
    p95 = ms[min(len(ms) - 1, int(len(ms) * 0.95))]
    return f"n={len(ms)} p50={statistics.median(ms):.2f} ms p95={p95:.2f} ms max={ms[-1]:.2f} ms"


def test_services_keep_running_while_the_store_is_locked_and_lose_nothing(
    tmp_path: Path, db_path: Path
) -> None:
    port = free_port()
    api_url = f"http://127.0.0.1:{port}"
    stop, result = tmp_path / "stop", tmp_path / "latency.json"
    api = start_service(
        "api",
        "http_api.py",
        [str(port)],
        service_env(db_path, "orders-bff", "orders"),
        tmp_path / "api.log",
    )
    procs = [api]
    try:
        wait_for_http(f"{api_url}/health", process=api.popen, timeout_s=30)
        client_log = tmp_path / "client.log"
        client = start_service(
            "client",
            "latency_client.py",
            [api_url, str(stop), str(result)],
            service_env(db_path, "orders-web", "web"),
            client_log,
        )
        procs.append(client)
        time.sleep(3.0)
        holder_log = tmp_path / "holder.log"
        holder = ManagedProcess(
            "holder",
            [sys.executable, str(SERVICES / "lock_holder.py"), str(db_path), str(LOCK_S)],
            log_path=holder_log,
        ).start()
        procs.append(holder)
        locked_at = float(_line(holder_log, "locked ", holder).split()[1])
        released_at = float(
            _line(holder_log, "released ", holder, timeout_s=LOCK_S + 30).split()[1]
        )
        time.sleep(3.0)
        stop.touch()
        assert client.popen is not None
        assert client.popen.wait(60) == 0, client_log.read_text()
        assert api.stop() == 0, (tmp_path / "api.log").read_text()
    finally:
        for proc in procs:
            proc.stop()
    for log in (client_log, tmp_path / "api.log"):
        text = log.read_text()
        assert "Traceback" not in text and "Queue full" not in text, text

    made = json.loads(result.read_text())
    samples: list[list[float]] = made["samples"]
    during = [lat for t, lat in samples if locked_at <= t <= released_at]
    outside = [lat for t, lat in samples if t < locked_at or t > released_at]
    assert during, "the client made no request while the store was locked"

    drained = drain_leftover_spool(db_path)
    client_spans = query(
        db_path,
        "select count(*), count(distinct span_id) from spans "
        "where service_name = 'orders-web' and kind = 'CLIENT'",
    )
    server_spans = query(
        db_path,
        "select count(*), count(distinct span_id) from spans "
        "where service_name = 'orders-bff' and kind = 'SERVER' and http_route = '/orders/<oid>'",
    )
    n = made["requests"]
    assert client_spans == [(n, n)], f"spool drained after the run: {drained}"
    assert server_spans == [(n, n)], f"spool drained after the run: {drained}"
    print(
        f"\nrequest latency without the lock: {_summary(outside)}"
        f"\nrequest latency while the store was locked ({LOCK_S:.0f} s): {_summary(during)}"
        f"\nspans per service: {n}; left in the spool after the run: {drained}"
    )
