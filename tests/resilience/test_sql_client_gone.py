"""A client of the owner's SQL endpoint that hangs up while its answer is being sent (a Ctrl-C
on `seamscope sql`, a script that reads only the status): the owner goes on answering others,
and its log holds no traceback. Each such hang-up left aiohttp's "Error handling request" and a
traceback ending in "Cannot write to closing transport"."""

from __future__ import annotations

import json
import socket
import subprocess
from pathlib import Path

import pytest

from seamscope.tracer.owner import CLIENT_HEADER, SECRET_HEADER, SQL_PATH, owner_file
from tests.e2e.test_collect import SEAMSCOPE, Collector, start_collector
from tests.otlp_sample import sample_request

pytestmark = pytest.mark.e2e

# About 16 MB of JSON: far more than the sockets' buffers hold, so the owner is still writing
# it when the client hangs up.
BIG = "select repeat('x', 800) as pad from range(20000)"


def hang_up_mid_answer(c: Collector, secret: str, json_format: bool) -> bytes:
    """Sends the query, reads the first bytes of the answer, closes."""
    payload = json.dumps({"sql": BIG, **({"format": "json"} if json_format else {})}).encode()
    head = (
        f"POST {SQL_PATH} HTTP/1.1\r\nHost: 127.0.0.1:{c.port}\r\n"
        f"Content-Type: application/json\r\n{SECRET_HEADER}: {secret}\r\n"
        f"Content-Length: {len(payload)}\r\n\r\n"
    ).encode()
    with socket.create_connection(("127.0.0.1", c.port), timeout=60) as sock:
        sock.sendall(head + payload)
        first = sock.recv(64)
    return first


@pytest.mark.parametrize("json_format", [True, False], ids=["json", "arrow"])
def test_a_client_that_hangs_up_mid_answer_leaves_no_traceback(
    collector: Collector, db_path: Path, json_format: bool
) -> None:
    body = sample_request(5, seed=60).SerializeToString()
    assert collector.post(body, {"Content-Type": "application/x-protobuf"})[0] == 200
    secret = json.loads(owner_file(db_path).read_text())["secret"]
    for _ in range(3):
        assert hang_up_mid_answer(collector, secret, json_format).startswith(b"HTTP/1.1 200")
    sql = subprocess.run(
        [*SEAMSCOPE, "sql", "--db", str(db_path), "--csv", "select count(*) as n from spans"],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert sql.returncode == 0, sql.stderr
    assert sql.stdout.splitlines() == ["n", "5"]
    collector.process.stop()
    log = collector.log.read_text()
    assert "Traceback" not in log, log[-3000:]
    assert "Error handling request" not in log, log[-3000:]


# Runs for hours unless stopped: DuckDB interrupts it between vectors.
ENDLESS = "select sum(hash(range)) as h from range(1000000000000)"


def _post(c: Collector, secret: str, sql: str, client: str) -> socket.socket:
    payload = json.dumps({"sql": sql, "format": "json"}).encode()
    head = (
        f"POST {SQL_PATH} HTTP/1.1\r\nHost: 127.0.0.1:{c.port}\r\n"
        f"Content-Type: application/json\r\n{SECRET_HEADER}: {secret}\r\n"
        f"{CLIENT_HEADER}: {client}\r\nContent-Length: {len(payload)}\r\n\r\n"
    ).encode()
    sock = socket.create_connection(("127.0.0.1", c.port), timeout=120)
    sock.sendall(head + payload)
    return sock


def test_a_query_whose_client_hung_up_is_stopped(db_path: Path, tmp_path: Path) -> None:
    """A client that hangs up while its query runs (Ctrl-C in the TUI's console): the owner
    stops the query. It ran on to the time limit, and the same client's next query, which
    waits for its turn, waited with it: here the limit is an hour, and the next query must be
    answered while a socket's 120 s wait lasts."""
    c = start_collector(db_path, tmp_path, "--no-classify", "--sql-timeout", "3600")
    try:
        secret = json.loads(owner_file(db_path).read_text())["secret"]
        gone = _post(c, secret, ENDLESS, "person-sql")
        # Another client's query is answered meanwhile: the owner has read the endless one
        # (queries of one client wait for their turn; of others, they do not).
        with _post(c, secret, "select 1 as one", "someone-else") as other:
            assert other.recv(65536).startswith(b"HTTP/1.1 200")
        gone.shutdown(socket.SHUT_RDWR)
        gone.close()
        with _post(c, secret, "select 42 as answer", "person-sql") as after:
            answer = b""
            while b"42" not in answer:
                piece = after.recv(65536)  # socket.timeout (120 s) when the owner never answers
                assert piece, answer
                answer += piece
        assert answer.startswith(b"HTTP/1.1 200"), answer
    finally:
        c.process.stop()
    log = c.log.read_text()
    assert "Traceback" not in log, log[-3000:]
