"""Four instrumented services export at once while a reader reads and a holder locks the store.

Nothing may be lost or stored twice: the count of spans in the store equals the count sent.
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path

import pytest

from seamscope.demo.processes import ManagedProcess, free_port
from seamscope.tracer.owner import find_owner
from tests.e2e.services.harness import (
    BIN,
    SERVICES,
    drain_leftover_spool,
    query,
    service_env,
    start_service,
)

pytestmark = [pytest.mark.e2e, pytest.mark.slow]

PRODUCERS = 4
SPANS_EACH = 1500
RATE = 600.0  # spans per second and producer


def _wait_for_line(log: Path, text: str, proc: ManagedProcess, timeout_s: float = 30) -> None:
    deadline = time.monotonic() + timeout_s
    while text not in (log.read_text() if log.exists() else ""):
        assert proc.alive(), f"{proc.name} exited: {log.read_text() if log.exists() else ''}"
        assert time.monotonic() < deadline, f"{proc.name} never said {text!r}"
        time.sleep(0.02)


def _wait_exit(proc: ManagedProcess, log: Path, timeout_s: float = 120) -> None:
    assert proc.popen is not None
    try:
        code = proc.popen.wait(timeout_s)
    except Exception:
        proc.stop()
        raise
    text = log.read_text()
    assert code == 0, f"{proc.name} exited with {code}: {text}"
    assert "Traceback" not in text and "Queue full" not in text, text


def test_four_services_a_reader_and_a_lock_holder_lose_nothing(
    tmp_path: Path, db_path: Path
) -> None:
    stop = tmp_path / "stop-reader"
    reader_log = tmp_path / "reader.log"
    reader = ManagedProcess(
        "reader",
        [sys.executable, str(SERVICES / "store_reader.py"), str(db_path), str(stop)],
        log_path=reader_log,
    )
    procs: list[ManagedProcess] = [reader]
    try:
        reader.start()
        producers = []
        for i in range(PRODUCERS):
            env = service_env(db_path, f"worker-{i}", "load")
            log = tmp_path / f"producer-{i}.log"
            proc = start_service(
                f"producer-{i}", "span_producer.py", [f"p{i}", str(SPANS_EACH), str(RATE)], env, log
            )
            producers.append((proc, log))
            procs.append(proc)
        # In the middle of the run, another process holds the store for a few seconds.
        time.sleep(1.0)
        holder_log = tmp_path / "holder.log"
        holder = ManagedProcess(
            "holder",
            [sys.executable, str(SERVICES / "lock_holder.py"), str(db_path), "3"],
            log_path=holder_log,
        ).start()
        procs.append(holder)
        _wait_for_line(holder_log, "locked", holder)
        for proc, log in producers:
            _wait_exit(proc, log)
        _wait_for_line(holder_log, "released", holder)
        stop.touch()
        _wait_exit(reader, reader_log)
    finally:
        for proc in procs:
            proc.stop()

    drained = drain_leftover_spool(db_path)
    rows = query(
        db_path,
        "select service_name, count(*), count(distinct span_id), "
        "count(distinct json_extract(attributes, '$.seq')) from spans group by all order by 1",
    )
    assert rows == [
        (f"worker-{i}", SPANS_EACH, SPANS_EACH, SPANS_EACH) for i in range(PRODUCERS)
    ], f"spool drained after the run: {drained}"
    reads = json.loads(reader_log.read_text().strip().splitlines()[-1])
    assert reads["reads"] > 0
    print(f"\nreader: {reads}; spans left in the spool after the run: {drained}")


def test_an_owner_starting_and_stopping_in_the_middle_loses_nothing(
    tmp_path: Path, db_path: Path
) -> None:
    stop = tmp_path / "stop-reader"
    reader_log = tmp_path / "reader.log"
    reader = ManagedProcess(
        "reader",
        [sys.executable, str(SERVICES / "store_reader.py"), str(db_path), str(stop)],
        log_path=reader_log,
    )
    procs: list[ManagedProcess] = [reader]
    try:
        reader.start()
        producers = []
        for i in range(PRODUCERS):
            env = service_env(db_path, f"worker-{i}", "load")
            log = tmp_path / f"producer-{i}.log"
            proc = start_service(
                f"producer-{i}", "span_producer.py", [f"p{i}", str(SPANS_EACH), str(RATE)], env, log
            )
            producers.append((proc, log))
            procs.append(proc)
        time.sleep(1.0)
        owner_log = tmp_path / "collect.log"
        collect = ManagedProcess(
            "collect",
            [str(BIN / "seamscope"), "collect", "--db", str(db_path), "--port", str(free_port())],
            log_path=owner_log,
        ).start()
        procs.append(collect)
        deadline = time.monotonic() + 30
        while (found := find_owner(db_path)) is None or found.pid != collect.pid:
            assert collect.alive(), owner_log.read_text()
            assert time.monotonic() < deadline, "seamscope collect never published itself"
            time.sleep(0.02)
        time.sleep(1.5)
        assert collect.stop() == 0, owner_log.read_text()
        for proc, log in producers:
            _wait_exit(proc, log)
        stop.touch()
        _wait_exit(reader, reader_log)
    finally:
        for proc in procs:
            proc.stop()

    drained = drain_leftover_spool(db_path)
    rows = query(
        db_path,
        "select service_name, count(*), count(distinct span_id), "
        "count(distinct json_extract(attributes, '$.seq')) from spans group by all order by 1",
    )
    assert rows == [
        (f"worker-{i}", SPANS_EACH, SPANS_EACH, SPANS_EACH) for i in range(PRODUCERS)
    ], f"spool drained after the run: {drained}"
    sources = dict(query(db_path, "select source, sum(span_count) from batches group by all"))
    assert sources.get("otlp-http", 0) > 0, f"nothing went through the owner: {sources}"
    assert sources.get("exporter", 0) > 0, f"nothing was appended directly: {sources}"
    print(f"\nstored by: {sources}; left in the spool after the run: {drained}")
