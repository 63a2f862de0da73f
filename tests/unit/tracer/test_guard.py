"""Who may talk to the owner: Host, Origin, the secret and the content type, on every route."""

from __future__ import annotations

import http.client
import json
import os
import stat
from collections.abc import Iterator
from pathlib import Path

import pytest

from seamscope.tracer.owner import SECRET_HEADER, find_owner, owner_file, publish, withdraw
from seamscope.tracer.receiver import Receiver
from seamscope.tracer.receiver.guard import Guard, beyond_loopback, host_name
from tests.otlp_sample import sample_request

PB = {"Content-Type": "application/x-protobuf"}
JS = {"Content-Type": "application/json"}
SQL = "/seamscope/v1/sql"


@pytest.fixture
def receiver(db_path: Path) -> Iterator[Receiver]:
    r = Receiver(db_path, port=0).start()
    try:
        yield r
    finally:
        r.stop()


def request(
    r: Receiver, path: str, headers: dict[str, str], body: bytes = b"", method: str = "POST"
) -> tuple[int, dict[str, object]]:
    conn = http.client.HTTPConnection("127.0.0.1", r.port, timeout=30)
    try:
        conn.request(method, path, body=body, headers=headers)
        response = conn.getresponse()
        data = response.read()
        try:
            parsed = json.loads(data)
        except ValueError:
            parsed = {}
        return response.status, parsed if isinstance(parsed, dict) else {}
    finally:
        conn.close()


def secret(r: Receiver) -> dict[str, str]:
    assert r.owner is not None
    return r.owner.headers()


QUERY = json.dumps({"sql": "SELECT count(*) AS n FROM spans", "format": "json"}).encode()


def test_the_sql_endpoint_needs_the_secret_and_json(receiver: Receiver) -> None:
    assert request(receiver, SQL, {**JS, **secret(receiver)}, QUERY)[0] == 200
    status, answer = request(receiver, SQL, JS, QUERY)
    assert status == 401 and SECRET_HEADER in str(answer["error"])
    assert request(receiver, SQL, {**JS, SECRET_HEADER: "guess"}, QUERY)[0] == 401
    # What a browser sends cross-origin without asking first.
    status, answer = request(
        receiver, SQL, {"Content-Type": "text/plain", **secret(receiver)}, QUERY
    )
    assert status == 415 and "text/plain" in str(answer["error"])
    # Routes nobody declared public are private, whatever they are.
    assert request(receiver, "/seamscope/v1/anything", JS, b"{}")[0] == 401
    assert request(receiver, SQL, {}, method="GET")[0] == 401


@pytest.mark.parametrize(
    "host",
    ["127.0.0.1", "localhost", "LOCALHOST.", "[::1]", "127.8.9.10", "app.localhost"],
)
def test_loopback_names_may_post_spans(receiver: Receiver, host: str) -> None:
    body = sample_request(1, seed=len(host)).SerializeToString()
    headers = {**PB, "Host": f"{host}:{receiver.port}"}
    assert request(receiver, "/v1/traces", headers, body)[0] == 200


@pytest.mark.parametrize("path", ["/v1/traces", SQL, "/"])
def test_a_foreign_host_or_origin_is_refused_everywhere(receiver: Receiver, path: str) -> None:
    body = sample_request(1, seed=3).SerializeToString()
    for headers in (
        {"Host": f"rebound.example:{receiver.port}"},
        # Names that start like a loopback one but resolve wherever their owner says.
        {"Host": f"localhost.rebound.example:{receiver.port}"},
        {"Host": f"127.0.0.1.nip.io:{receiver.port}"},
        {"Host": "10.1.2.3"},
        {"Origin": "http://evil.example"},
        {"Origin": "null"},
        {"Origin": f"http://127.0.0.1:{receiver.port + 1}"},
    ):
        status, answer = request(receiver, path, {**PB, **secret(receiver), **headers}, body)
        assert status == 403, (path, headers)
        assert answer["error"]
    assert request(receiver, "/v1/traces", {**PB, "Origin": receiver.url}, body)[0] == 200
    assert receiver.stats.stored == 1


def test_allowed_hosts_and_wildcard_binds() -> None:
    guard = Guard("127.0.0.1", 4318, "s", ["collector.internal"])
    assert guard.host_allowed("collector.internal")
    assert not guard.host_allowed("192.168.1.4")
    anywhere = Guard("0.0.0.0", 4318, "s")
    assert anywhere.host_allowed("192.168.1.4") and not anywhere.host_allowed("evil.example")
    assert host_name("[::1]:4318") == "::1" and host_name("Example.COM.:80") == "example.com"


def test_the_owner_file_is_private_and_names_the_secret(receiver: Receiver, db_path: Path) -> None:
    mode = stat.S_IMODE(owner_file(db_path).stat().st_mode)
    assert mode == 0o600
    owner = find_owner(db_path)
    assert owner is not None and receiver.owner is not None
    assert owner.secret == receiver.owner.secret and len(owner.secret) >= 32
    assert owner.secret not in repr(owner)


def _published(db_path: Path) -> Path:
    publish(db_path, "127.0.0.1", 1)
    assert find_owner(db_path) is not None
    return owner_file(db_path)


def test_an_owner_file_others_can_write_is_not_followed(
    db_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    path = _published(db_path)
    path.chmod(0o622)
    assert find_owner(db_path) is None
    assert "other users can write it" in caplog.text
    path.chmod(0o600)
    assert find_owner(db_path) is not None
    withdraw(db_path)
    assert not path.exists()


def test_a_link_or_a_fifo_as_owner_file_is_not_followed(db_path: Path, tmp_path: Path) -> None:
    real = _published(tmp_path / "real.duckdb")
    os.symlink(real, owner_file(db_path))
    assert find_owner(db_path) is None
    owner_file(db_path).unlink()
    os.mkfifo(owner_file(db_path))  # opening it for reading must not wait for a writer
    assert find_owner(db_path) is None


@pytest.mark.skipif(os.geteuid() != 0, reason="needs root to give a file to another user")
def test_an_owner_file_of_another_user_is_not_followed(db_path: Path) -> None:
    path = _published(db_path)
    os.chown(path, 65534, 65534)
    assert find_owner(db_path) is None


@pytest.mark.parametrize(
    ("bound", "beyond"),
    [
        ("127.0.0.1", False),
        ("127.0.0.2", False),
        ("::1", False),
        ("[::1]", False),
        ("localhost", False),
        ("box.localhost", False),
        ("0.0.0.0", True),
        ("::", True),
        ("", True),
        ("192.0.2.7", True),
        ("2001:db8::1", True),
        ("collector.internal", True),
    ],
)
def test_beyond_loopback_tells_the_addresses_other_machines_reach(bound: str, beyond: bool) -> None:
    assert beyond_loopback(bound) is beyond
