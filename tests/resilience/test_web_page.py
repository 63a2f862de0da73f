"""What a web page in the user's browser could send to a running `seamscope collect`: a
rebound Host, a cross-origin Origin, a `text/plain` body, no secret. Each is refused and
nothing it sent is stored, while `seamscope sql` (which reads the secret from the owner file)
still answers."""

from __future__ import annotations

import http.client
import json
import stat
import subprocess
from pathlib import Path

import pytest

from seamscope.tracer.otlp import protobuf_to_json
from seamscope.tracer.owner import SECRET_HEADER, find_owner, owner_file
from tests.e2e.test_collect import SEAMSCOPE, Collector
from tests.otlp_sample import sample_request

pytestmark = pytest.mark.e2e

SQL = "/seamscope/v1/sql"


def send(c: Collector, path: str, body: bytes, headers: dict[str, str]) -> tuple[int, bytes]:
    conn = http.client.HTTPConnection("127.0.0.1", c.port, timeout=30)
    try:
        conn.request("POST", path, body=body, headers=headers)
        response = conn.getresponse()
        return response.status, response.read()
    finally:
        conn.close()


def count_spans(db: Path) -> int:
    done = subprocess.run(
        [*SEAMSCOPE, "sql", "--db", str(db), "--json", "select count(*) from spans"],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    return int(json.loads(done.stdout)["rows"][0][0])


def test_a_web_page_can_neither_read_nor_inject(collector: Collector, db_path: Path) -> None:
    spans = protobuf_to_json(sample_request(3, seed=41).SerializeToString()).encode()
    query = json.dumps({"sql": "select * from spans", "format": "json"}).encode()
    rebound = {"Host": f"attacker.example:{collector.port}"}
    page = {"Origin": "http://attacker.example"}
    attacks = [
        # DNS rebinding: the page's own name now resolves to 127.0.0.1.
        ("/v1/traces", spans, {"Content-Type": "application/json", **rebound}, 403),
        (SQL, query, {"Content-Type": "application/json", **rebound}, 403),
        # A cross-origin fetch from the page.
        ("/v1/traces", spans, {"Content-Type": "application/json", **page}, 403),
        ("/v1/traces", spans, {"Content-Type": "text/plain", **page}, 403),
        (SQL, query, {"Content-Type": "text/plain", **page}, 403),
        # Without a browser's Origin, still no query without the owner's secret.
        (SQL, query, {"Content-Type": "text/plain"}, 401),
        (SQL, query, {"Content-Type": "application/json"}, 401),
    ]
    for path, body, headers, status in attacks:
        got, answer = send(collector, path, body, headers)
        assert got == status, (path, headers, answer)
        assert json.loads(answer)["error"]
    assert count_spans(db_path) == 0

    owner = find_owner(db_path)
    assert owner is not None
    assert stat.S_IMODE(owner_file(db_path).stat().st_mode) == 0o600
    # A guessed secret, the real one cut short or with more after it: no query either.
    for wrong in ("guess", owner.secret[:-1], owner.secret + "x", owner.secret.upper()):
        guessed = {"Content-Type": "application/json", SECRET_HEADER: wrong}
        got, answer = send(collector, SQL, query, guessed)
        assert got == 401, (wrong, answer)
    # Even with the secret, a text/plain body (what a form or no-cors fetch sends) is refused.
    plain = {"Content-Type": "text/plain", SECRET_HEADER: owner.secret}
    assert send(collector, SQL, query, plain)[0] == 415

    # The legitimate ones go through: a local sender, and the store's user with the secret.
    headers = {"Content-Type": "application/json", "Host": f"localhost:{collector.port}"}
    assert send(collector, "/v1/traces", spans, headers)[0] == 200
    assert count_spans(db_path) == 3
    with_secret = {"Content-Type": "application/json", SECRET_HEADER: owner.secret}
    status, answer = send(collector, SQL, query, with_secret)
    assert status == 200 and len(json.loads(answer)["rows"]) == 3
