"""The owner (`seamscope collect`) killed with SIGKILL mid-ingest.

The receiver answers a request only after its spans are committed, so whatever a sender saw
acknowledged must be in the store when it is next opened (DuckDB replays its WAL), exactly once.
Senders retry what was not acknowledged with the same batch key: a request committed just
before the kill but never answered is then stored once, not twice.
"""

from __future__ import annotations

import http.client
import os
import signal
import sys
import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from seamscope.demo.processes import ManagedProcess
from seamscope.tracer.ingest import STORED_HEADER
from seamscope.tracer.owner import BATCH_KEY_HEADER, find_owner
from seamscope.tracer.receiver import Receiver
from seamscope.tracer.store import Store
from tests.e2e.services.harness import (
    SERVICES,
    drain_leftover_spool,
    query,
    service_env,
    start_service,
)
from tests.e2e.test_collect import Collector, start_collector
from tests.e2e.test_collect import children as children_of
from tests.otlp_sample import sample_request

pytestmark = [pytest.mark.e2e, pytest.mark.slow]

SENDERS = 3
REQUESTS_EACH = 40
SPANS_PER_REQUEST = 200
KILL_AFTER_ACKS = 25


@dataclass
class _Request:
    """One OTLP request a sender owes the store: its key, body and the span ids inside."""

    key: str
    body: bytes
    span_ids: list[str]
    acked: bool = False
    stored: int = 0
    answers: list[str] = field(default_factory=list)


def _make_request(key: str, seed: int) -> _Request:
    message = sample_request(SPANS_PER_REQUEST, seed=seed)
    ids = [
        span.span_id.hex()
        for rs in message.resource_spans
        for ss in rs.scope_spans
        for span in ss.spans
    ]
    body = message.SerializeToString()
    return _Request(key, body, ids)


def _post(port: int, request: _Request) -> bool:
    """One attempt; True when the owner acknowledged it (HTTP 200), never raises."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    try:
        conn.request(
            "POST",
            "/v1/traces",
            body=request.body,
            headers={"Content-Type": "application/x-protobuf", BATCH_KEY_HEADER: request.key},
        )
        response = conn.getresponse()
        response.read()
        request.answers.append(str(response.status))
        if response.status == 200:
            request.acked = True
            request.stored = int(response.headers.get(STORED_HEADER, "-1"))
            return True
        return False
    except (OSError, http.client.HTTPException) as exc:
        request.answers.append(type(exc).__name__)
        return False
    finally:
        conn.close()


def _sigkill(collector: Collector) -> None:
    """SIGKILL to the collector, as a crash takes it; its decoder processes then leave by
    themselves (tracer.orphans), and multiprocessing's resource tracker after them, which
    removes the pool's named semaphores from /dev/shm (a SIGKILL to the whole process group
    left five there at each kill). Whatever of the group still runs after 30 s gets SIGKILL
    too (only processes this test started)."""
    popen = collector.process.popen
    assert popen is not None
    others = children_of(popen.pid)
    os.kill(popen.pid, signal.SIGKILL)
    popen.wait(timeout=30)
    assert popen.returncode == -signal.SIGKILL
    deadline = time.monotonic() + 30
    while any(_alive(pid) for pid in others) and time.monotonic() < deadline:
        time.sleep(0.05)
    try:
        os.killpg(popen.pid, signal.SIGKILL)
    except ProcessLookupError:
        pass


def _span_counts(db_path: Path) -> Counter[str]:
    return Counter(
        {sid: n for sid, n in query(db_path, "select span_id, count(*) from spans group by all")}
    )


def test_acknowledged_spans_survive_sigkill_and_retries_store_the_rest_once(
    db_path: Path, tmp_path: Path
) -> None:
    per_sender = [
        [_make_request(f"sender-{s}-req-{r}", seed=s * 1000 + r + 1) for r in range(REQUESTS_EACH)]
        for s in range(SENDERS)
    ]
    everything = [req for reqs in per_sender for req in reqs]
    sent_ids = [sid for req in everything for sid in req.span_ids]
    assert len(set(sent_ids)) == len(sent_ids) == SENDERS * REQUESTS_EACH * SPANS_PER_REQUEST

    first = start_collector(db_path, tmp_path, "--no-classify", "--quiet")
    second: Collector | None = None
    acks = 0
    acks_lock = threading.Lock()
    kill_now = threading.Event()

    def send_once(requests: list[_Request]) -> None:
        nonlocal acks
        for req in requests:
            if _post(first.port, req):
                with acks_lock:
                    acks += 1
                    if acks >= KILL_AFTER_ACKS:
                        kill_now.set()

    try:
        senders = [threading.Thread(target=send_once, args=(reqs,)) for reqs in per_sender]
        for t in senders:
            t.start()
        # Killed while the senders keep posting: some requests are in flight at that moment.
        assert kill_now.wait(60), f"only {acks} acknowledgements: {first.log.read_text()}"
        _sigkill(first)
        for t in senders:
            t.join(60)
            assert not t.is_alive(), "a sender hangs on a dead owner"
    finally:
        first.process.stop()

    acked = [req for req in everything if req.acked]
    unacked = [req for req in everything if not req.acked]
    assert len(acked) >= KILL_AFTER_ACKS and unacked
    assert all(req.stored == SPANS_PER_REQUEST for req in acked)
    wal = Path(str(db_path) + ".wal")
    wal_bytes = wal.stat().st_size if wal.exists() else 0

    # The store opens (read-only: the WAL is replayed in memory) and holds every acknowledged
    # span exactly once; nothing is stored twice, nothing that was never sent.
    after_kill = _span_counts(db_path)
    assert all(after_kill[sid] == 1 for req in acked for sid in req.span_ids)
    assert set(after_kill.values()) == {1}
    assert set(after_kill) <= set(sent_ids)
    ledger = dict(query(db_path, "select batch_key, span_count from batches"))
    assert all(ledger.get(req.key) == SPANS_PER_REQUEST for req in acked)
    committed_unanswered = [req for req in unacked if req.key in ledger]
    # Each request is all or nothing: its ledger row and its spans are one transaction.
    assert sum(ledger.values()) == sum(after_kill.values())
    for req in everything:
        present = sum(after_kill[sid] for sid in req.span_ids)
        assert present == (SPANS_PER_REQUEST if req.key in ledger else 0), req.key

    # A new owner on the same store; the senders retry what was not acknowledged, same keys.
    try:
        second = start_collector(db_path, tmp_path, "--no-classify", "--quiet")
        assert (owner := find_owner(db_path)) is not None and owner.port == second.port

        def retry(requests: list[_Request]) -> None:
            assert second is not None
            for req in requests:
                if not req.acked:
                    for _ in range(20):
                        if _post(second.port, req):
                            break
                        time.sleep(0.1)

        retriers = [threading.Thread(target=retry, args=(reqs,)) for reqs in per_sender]
        for t in retriers:
            t.start()
        for t in retriers:
            t.join(120)
            assert not t.is_alive(), "a retrying sender hangs"
        # A sender that lost the answer to an acknowledged request sends it again: the key,
        # replayed from the WAL, makes it store nothing.
        resent = [_Request(req.key, req.body, req.span_ids) for req in acked[:5]]
        for req in resent:
            assert _post(second.port, req), req.answers
            assert req.stored == 0, req.key
        assert second.stop(signal.SIGTERM) == 0, second.log.read_text()
    finally:
        if second is not None:
            second.process.stop()

    assert all(req.acked for req in everything), [
        (req.key, req.answers) for req in everything if not req.acked
    ]
    # Retried requests that the killed owner had committed were stored again as nothing.
    for req in committed_unanswered:
        assert req.stored == 0, (req.key, req.answers)
    assert sum(req.stored for req in unacked) == len(sent_ids) - sum(after_kill.values())

    final = _span_counts(db_path)
    assert set(final) == set(sent_ids)
    assert set(final.values()) == {1}
    keys = query(db_path, "select count(*), count(distinct batch_key) from batches")
    assert keys == [(len(everything), len(everything))]
    with Store.open(db_path) as store:
        assert store.con.execute("select count(*) from spans").fetchall() == [(len(sent_ids),)]
    print(
        f"\nacknowledged before SIGKILL: {len(acked)} of {len(everything)} requests; "
        f"committed but unanswered: {len(committed_unanswered)}; WAL left: {wal_bytes} bytes; "
        f"spans after restart and retries: {sum(final.values())}"
    )


PRODUCERS = 3
SPANS_EACH = 2000
RATE = 250.0  # spans per second and producer


def _wait_exit(proc: ManagedProcess, log: Path, timeout_s: float = 120) -> None:
    assert proc.popen is not None
    code = proc.popen.wait(timeout_s)
    text = log.read_text()
    assert code == 0, f"{proc.name} exited with {code}: {text}"
    assert "Traceback" not in text and "Queue full" not in text, text


def _wait_for(what: str, check: object, timeout_s: float = 60) -> None:
    deadline = time.monotonic() + timeout_s
    assert callable(check)
    while not check():
        assert time.monotonic() < deadline, f"never happened: {what}"
        time.sleep(0.05)


@pytest.mark.parametrize("restart", [True, False], ids=["restarted", "never-restarted"])
def test_instrumented_services_lose_nothing_when_the_owner_is_sigkilled(
    db_path: Path, tmp_path: Path, restart: bool
) -> None:
    first = start_collector(db_path, tmp_path)
    collectors = [first]
    producers: list[tuple[ManagedProcess, Path]] = []
    try:
        for i in range(PRODUCERS):
            # Frequent small exports (a standard SDK setting): the kill is likely to catch one
            # in flight.
            env = service_env(
                db_path, f"worker-{i}", "load", extra={"OTEL_BSP_SCHEDULE_DELAY": "100"}
            )
            log = tmp_path / f"producer-{i}.log"
            proc = start_service(
                f"producer-{i}", "span_producer.py", [f"p{i}", str(SPANS_EACH), str(RATE)], env, log
            )
            producers.append((proc, log))
        # Killed once the owner has stored something and while the services still produce.
        _wait_for("the owner stored spans", lambda: "stored " in first.log.read_text())
        assert all(proc.alive() for proc, _ in producers), "the services ended before the kill"
        _sigkill(first)
        if restart:
            # The services append directly meanwhile; then a new owner takes over.
            _wait_for(
                "a service appended directly",
                lambda: (
                    query(db_path, "select count(*) from batches where source = 'exporter'")
                    != [(0,)]
                ),
            )
            second = start_collector(db_path, tmp_path)
            collectors.append(second)
        for proc, log in producers:
            _wait_exit(proc, log)
        if restart:
            assert collectors[-1].stop(signal.SIGTERM) == 0, collectors[-1].log.read_text()
    finally:
        for proc, _ in producers:
            proc.stop()
        for c in collectors:
            c.process.stop()

    drained = drain_leftover_spool(db_path)
    rows = query(
        db_path,
        "select service_name, count(*), count(distinct span_id), "
        "count(distinct json_extract(attributes, '$.seq')) from spans group by all order by 1",
    )
    dropped = query(db_path, "select value from seamscope_meta where key = 'dropped_spans'")
    logs = "\n".join(f"--- {log.name}\n{log.read_text()[-2000:]}" for _, log in producers)
    assert rows == [
        (f"worker-{i}", SPANS_EACH, SPANS_EACH, SPANS_EACH) for i in range(PRODUCERS)
    ], f"spool drained after the run: {drained}; dropped_spans: {dropped}\n{logs}"
    sources = dict(query(db_path, "select source, sum(span_count) from batches group by all"))
    assert sources.get("otlp-http", 0) > 0, f"nothing went through the first owner: {sources}"
    print(f"\nstored by: {sources}; left in the spool after the run: {drained}")


def test_a_new_owner_waits_out_a_services_short_lock(db_path: Path, tmp_path: Path) -> None:
    # After a crash the services append directly, each under a lock held for a moment; the
    # owner that takes over must wait for that moment instead of failing "the store is locked".
    Store.open(db_path).close()
    log = tmp_path / "holder.log"
    holder = ManagedProcess(
        "holder",
        [sys.executable, str(SERVICES / "lock_holder.py"), str(db_path), "0.3"],
        log_path=log,
    ).start()
    try:
        _wait_for("the holder locked the store", lambda: "locked " in log.read_text())
        with Receiver(db_path, port=0) as receiver:
            assert "released " in log.read_text()
            assert find_owner(db_path) is not None and receiver.port > 0
        assert holder.popen is not None and holder.popen.wait(30) == 0
    finally:
        holder.stop()


@pytest.mark.skipif(not Path("/proc/self/task").exists(), reason="reads /proc (Linux)")
def test_decoder_processes_leave_with_a_killed_owner(db_path: Path, tmp_path: Path) -> None:
    """A killed owner cannot stop its decoder processes: they notice and end themselves."""
    owner = start_collector(db_path, tmp_path, "--no-classify", "--decoders", "2")
    try:
        assert _post(owner.port, _make_request("decoded", seed=5))  # the decoders are up
        children = children_of(owner.process.pid)
        assert len(children) >= 2, children  # two decoders (and multiprocessing's tracker)
        popen = owner.process.popen
        assert popen is not None
        os.kill(popen.pid, signal.SIGKILL)  # the owner alone, not its process group
        popen.wait(timeout=30)
        _wait_for("the decoder processes ended", lambda: not any(_alive(c) for c in children))
    finally:
        owner.process.stop()  # the whole group: what the test would otherwise leave


def _alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"
