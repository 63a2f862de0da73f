"""Four instrumented services export at once while a reader reads and a holder locks the store.

Nothing may be lost or stored twice: the count of spans in the store equals the count sent.
"""

from __future__ import annotations

import json
import sys
import time
from collections.abc import Callable
from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.ipc
import pytest

from seamscope.demo.processes import ManagedProcess, free_port
from seamscope.tracer.access import open_reader
from seamscope.tracer.exporter import ENV_MEMORY_SPANS
from seamscope.tracer.owner import find_owner
from seamscope.tracer.spool import spooled_files
from seamscope.tracer.store import StoreLocked, open_read_only
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


def _wait_until(
    condition: Callable[[], bool], what: str, procs: list[ManagedProcess], timeout_s: float = 60
) -> None:
    """Waits for a condition the processes bring about (the deadline only stops a hang)."""
    deadline = time.monotonic() + timeout_s
    while not condition():
        dead = [proc.name for proc in procs if not proc.alive()]
        # A process may bring the condition about and exit between the two looks.
        assert not dead or condition(), f"{', '.join(dead)} exited while waiting for {what}"
        assert time.monotonic() < deadline, f"never: {what}"
        time.sleep(0.02)


def _said(log: Path, text: str) -> bool:
    return log.exists() and text in log.read_text()


def _start_producers(
    db_path: Path, tmp_path: Path, gates: Path, small_memory: int = 0
) -> list[tuple[ManagedProcess, Path]]:
    """PRODUCERS instrumented services, each pausing at its gates; the first small_memory of
    them keep at most 100 undelivered spans in memory (past that they spool)."""
    producers = []
    for i in range(PRODUCERS):
        extra = {ENV_MEMORY_SPANS: "100"} if i < small_memory else {}
        env = service_env(db_path, f"worker-{i}", "load", extra=extra)
        log = tmp_path / f"producer-{i}.log"
        args = [f"p{i}", str(SPANS_EACH), str(RATE), str(gates)]
        producers.append((start_service(f"producer-{i}", "span_producer.py", args, env, log), log))
    return producers


def _spooled_after(db_path: Path, unix_time: float) -> bool:
    """Whether a spool file holds a span that ended after unix_time."""
    for path in spooled_files(db_path):
        with pa.memory_map(str(path), "r") as source:
            ends = pa.ipc.open_file(source).read_all().column("end_time")
        newest = pc.max(ends.cast(pa.int64())).as_py()  # ns since the epoch
        if newest is not None and newest / 1e9 > unix_time:
            return True
    return False


def _all_paused(producers: list[tuple[ManagedProcess, Path]], gate: int) -> Callable[[], bool]:
    return lambda: all(_said(log, f"paused {gate}") for _, log in producers)


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
    gates = tmp_path / "gates"
    gates.mkdir()
    release = tmp_path / "release-lock"
    procs: list[ManagedProcess] = [reader]
    try:
        reader.start()
        producers = _start_producers(db_path, tmp_path, gates, small_memory=2)
        procs += [proc for proc, _ in producers]
        # A third of the run done, another process takes the store and keeps it ...
        _wait_until(_all_paused(producers, 1), "every producer at its first gate", procs)
        holder_log = tmp_path / "holder.log"
        holder = ManagedProcess(
            "holder",
            [
                sys.executable,
                str(SERVICES / "lock_holder.py"),
                str(db_path),
                "--until",
                str(release),
            ],
            log_path=holder_log,
        ).start()
        procs.append(holder)
        _wait_until(lambda: _said(holder_log, "locked"), "the holder holding the store", procs)
        locked_at = float(holder_log.read_text().split()[1])
        with pytest.raises(StoreLocked):  # it holds the store: nobody else may open it
            open_read_only(db_path).close()
        (gates / "1").touch()
        # ... until an export has met its lock: spooled while it holds the store, spans that
        # ended after it took the store.
        _wait_until(
            lambda: _spooled_after(db_path, locked_at), "an export turned away by the lock", procs
        )
        release.touch()
        _wait_until(lambda: _said(holder_log, "released"), "the holder letting go", procs)
        # The last third runs with the store free again.
        (gates / "2").touch()
        for proc, log in producers:
            _wait_exit(proc, log)
        _wait_exit(holder, holder_log)
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
    sources = dict(query(db_path, "select source, sum(span_count) from batches group by all"))
    assert sources.get("spool", 0) > 0, f"nothing the lock turned away was stored: {sources}"
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
    gates = tmp_path / "gates"
    gates.mkdir()
    procs: list[ManagedProcess] = [reader]
    try:
        reader.start()
        producers = _start_producers(db_path, tmp_path, gates)
        procs += [proc for proc, _ in producers]
        _wait_until(_all_paused(producers, 1), "every producer at its first gate", procs)
        owner_log = tmp_path / "collect.log"
        collect = ManagedProcess(
            "collect",
            [str(BIN / "seamscope"), "collect", "--db", str(db_path), "--port", str(free_port())],
            log_path=owner_log,
        ).start()
        procs.append(collect)
        _wait_until(
            lambda: (found := find_owner(db_path)) is not None and found.pid == collect.pid,
            "seamscope collect publishing itself",
            procs,
        )
        (gates / "1").touch()

        def owner_took_spans() -> bool:
            rows = open_reader(db_path).user_sql(
                "select count(*) as n from batches where source = 'otlp-http'"
            )
            return bool(rows.to_pylist()[0]["n"])

        # The owner leaves once the producers' exports have reached it; the producers wait at
        # their second gate, so a third of the run is still to come.
        _wait_until(owner_took_spans, "an export reaching the owner", procs)
        assert collect.stop() == 0, owner_log.read_text()
        procs.remove(collect)
        (gates / "2").touch()
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
