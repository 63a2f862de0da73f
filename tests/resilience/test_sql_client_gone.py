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

from seamscope.tracer.owner import SECRET_HEADER, SQL_PATH, owner_file
from tests.e2e.test_collect import SEAMSCOPE, Collector
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
