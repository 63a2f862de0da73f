"""Intake cannot be starved: connections that send headers and then nothing, half a header, or
nothing at all, a flood of connections, and gzip bodies of many tiny members, against a real
`seamscope collect`. Legitimate senders (a plain post, a traced service) keep getting through,
and the stalled connections are closed in time.

The time bounds here are generous (a freeze lasted as long as the connections were held, or
tens of seconds): they catch a stall, not a slow machine.
"""

from __future__ import annotations

import contextlib
import gzip
import http.client
import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.e2e.services.harness import run_service, service_env
from tests.e2e.test_collect import Collector, start_collector
from tests.otlp_sample import sample_request

pytestmark = pytest.mark.e2e

PB = {"Content-Type": "application/x-protobuf"}
BODIES = 72
"""Connections trickling a body: more than the receiver's request slots (64)."""
WAITING = 48
"""Connections stalling before their headers end."""
IDLE_S = 3.0
PATIENCE_S = 20.0
"""How long a legitimate request may take while the attack goes on; a freeze exceeds it."""


@pytest.fixture
def collector(db_path: Path, tmp_path: Path) -> Iterator[Collector]:
    c = start_collector(
        db_path,
        tmp_path,
        "--no-classify",
        "--idle-timeout",
        str(IDLE_S),
        "--max-connections",
        str(BODIES + WAITING + 16),
    )
    try:
        yield c
    finally:
        c.process.stop()


HEAD = (
    b"POST /v1/traces HTTP/1.1\r\nHost: 127.0.0.1\r\n"
    b"Content-Type: application/x-protobuf\r\nContent-Length: 100000\r\n\r\n"
)


def stall(port: int, count: int, *, body: bool) -> list[socket.socket]:
    """count connections that stall: before their headers end (half of them send half the
    headers, the others nothing), or with body=True once their body began (see `trickle`)."""
    sockets = []
    for i in range(count):
        sock = socket.create_connection(("127.0.0.1", port), timeout=30)
        if body:
            sock.sendall(HEAD + b"\0")
        elif i % 2:
            sock.sendall(HEAD[:40])
        sockets.append(sock)
    return sockets


@contextlib.contextmanager
def trickle(sockets: list[socket.socket]) -> Iterator[None]:
    """Sends a byte of body every half second on each socket: no gap between pieces is long
    enough to time out, so a request slot taken before the body is read stays taken."""
    stop = threading.Event()

    def drip() -> None:
        while not stop.wait(0.5):
            for sock in sockets:
                with contextlib.suppress(OSError):
                    sock.send(b"\0")

    thread = threading.Thread(target=drip, daemon=True)
    thread.start()
    try:
        yield
    finally:
        stop.set()
        thread.join()


def post(c: Collector, body: bytes, headers: dict[str, str]) -> tuple[int, bytes]:
    conn = http.client.HTTPConnection("127.0.0.1", c.port, timeout=PATIENCE_S)
    try:
        conn.request("POST", "/v1/traces", body=body, headers=headers)
        response = conn.getresponse()
        return response.status, response.read()
    finally:
        conn.close()


def closed_by_server(sock: socket.socket, within_s: float) -> bool:
    """True once the server closed sock (whatever it answered first)."""
    sock.settimeout(within_s)
    try:
        while sock.recv(65536):
            pass
    except TimeoutError:
        return False
    except OSError:
        return True
    return True


def spans_and_dropped(c: Collector) -> tuple[int, int]:
    from seamscope.tracer.access import open_reader

    db = Path(c.log).parent / "seamscope.duckdb"
    rows = (
        open_reader(db)
        .user_sql(
            "SELECT (SELECT count(*) FROM spans) AS n, "
            "(SELECT coalesce(max(value::BIGINT), 0) FROM seamscope_meta "
            "WHERE key = 'dropped_spans') AS dropped"
        )
        .to_pylist()
    )
    return int(rows[0]["n"]), int(rows[0]["dropped"])


def test_stalled_connections_starve_nobody(
    collector: Collector, db_path: Path, tmp_path: Path
) -> None:
    waiting = stall(collector.port, WAITING, body=False)
    bodies = stall(collector.port, BODIES, body=True)
    held = waiting + bodies
    try:
        with trickle(bodies):
            status, body = post(collector, sample_request(5, seed=1).SerializeToString(), PB)
            assert status == 200, body
            # A traced service, under the real opentelemetry-instrument, sends to the owner.
            env = service_env(db_path, "worker", "load")
            run_service("span_producer.py", ["w", "3000", "3000"], env, timeout_s=120)
            assert spans_and_dropped(collector) == (3005, 0)
            # A connection that stalls before its body is closed once idle too long.
            assert all(closed_by_server(sock, PATIENCE_S + IDLE_S) for sock in waiting)
    finally:
        for sock in held:
            sock.close()
    assert collector.process.alive()


def test_past_the_connection_limit_a_sender_is_told_to_retry(db_path: Path, tmp_path: Path) -> None:
    c = start_collector(db_path, tmp_path, "--no-classify", "--max-connections", "20")
    held: list[socket.socket] = []
    try:
        held = stall(c.port, 20, body=False)
        time.sleep(0.5)  # let the server take them all
        sock = socket.create_connection(("127.0.0.1", c.port), timeout=PATIENCE_S)
        answer = b""
        while chunk := sock.recv(65536):
            answer += chunk
        sock.close()
        assert answer.startswith(b"HTTP/1.1 503"), answer[:200]
        assert b"Retry-After: 1" in answer and b"too many open connections" in answer
        for s in held:
            s.close()
        held = []
        deadline = time.monotonic() + PATIENCE_S
        while True:  # the server notices the closed ones at once, but not in zero time
            status, _ = post(c, sample_request(2, seed=2).SerializeToString(), PB)
            if status == 200 or time.monotonic() > deadline:
                break
            time.sleep(0.1)
        assert status == 200
    finally:
        for s in held:
            s.close()
        c.process.stop()


def test_a_gzip_body_of_many_members_is_refused_without_stalling_intake(
    collector: Collector,
) -> None:
    members = gzip.compress(b"") * 200_000  # about 4 MB of empty members
    gz = {**PB, "Content-Encoding": "gzip"}
    for _ in range(2):
        status, body = post(collector, members, gz)
        assert status == 400 and b"members" in body, body[:200]
    # A few real members are fine.
    request = sample_request(3, seed=3).SerializeToString()
    half = len(request) // 2
    two = gzip.compress(request[:half]) + gzip.compress(request[half:])
    assert post(collector, two, gz)[0] == 200
    assert post(collector, sample_request(2, seed=4).SerializeToString(), PB)[0] == 200


def _trickled(port: int, data: bytes, *, head: bytes = b"", every_s: float = 0.5) -> bytes:
    """Sends head, then data a byte every every_s (never a gap a read timeout would see),
    until the receiver answers or closes; what it answered. Gives up past ten minutes."""
    with socket.create_connection(("127.0.0.1", port), timeout=every_s) as sock:
        sock.sendall(head)
        answer = b""
        for i in range(int(600 / every_s)):
            try:
                sock.send(data[i % len(data) : i % len(data) + 1])
            except OSError:
                pass  # closed: what it said before is still to be read
            try:
                chunk = sock.recv(65536)
            except TimeoutError:
                continue
            except ConnectionResetError:
                return answer
            if not chunk:
                return answer
            answer += chunk
        raise AssertionError("the receiver let a trickle go on for ten minutes")


def test_headers_trickled_a_byte_at_a_time_are_cut_off(collector: Collector) -> None:
    """Each byte of the headers comes before any gap could time out; the idle timeout counts
    from the connection's start, not from its last byte, so the connection is closed."""
    head = b"POST /v1/traces HTTP/1.1\r\nHost: 127.0.0.1\r\n"
    assert _trickled(collector.port, b"X-Slow: " + b"a" * 8000, head=head) == b""
    assert post(collector, bytes(sample_request(2, seed=77).SerializeToString()), PB)[0] == 200


def test_a_trickled_body_is_answered_408_at_the_body_timeout(db_path: Path, tmp_path: Path) -> None:
    """A byte of body every half second never leaves a gap of READ_GAP_S (10 s), so only the
    bound on the whole body (`--body-timeout`, 60 s unless told; 4 s here) ends it: answered
    408, saying so (it said "no part of the body arrived for 1 s", the last wait being cut to
    what was left of the whole body's time)."""
    c = start_collector(db_path, tmp_path, "--no-classify", "--body-timeout", "4")
    try:
        answer = _trickled(c.port, b"\0", head=HEAD, every_s=0.5)
        assert answer.startswith(b"HTTP/1.1 408"), answer[:200]
        assert b"longer than 4 s to arrive" in answer, answer[:300]
        assert post(c, bytes(sample_request(2, seed=78).SerializeToString()), PB)[0] == 200
    finally:
        c.process.stop()
    assert "Traceback" not in c.log.read_text()
