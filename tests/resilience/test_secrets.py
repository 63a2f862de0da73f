"""Secrets never leave a traced process in clear, and never reach the store, the spool, the
--tee file or an owner, wherever they hide in a span: the files' and requests' bytes are
searched for every one of them."""

from __future__ import annotations

import json
import signal
from collections.abc import Iterator
from pathlib import Path

import pytest
from opentelemetry.proto.common.v1.common_pb2 import AnyValue, KeyValue

from seamscope.tracer.otlp import protobuf_to_json
from seamscope.tracer.owner import publish, withdraw
from seamscope.tracer.spool import spool_dir
from seamscope.tracer.store import open_read_only
from tests.e2e.services.harness import (
    drain_leftover_spool,
    holding_lock,
    query,
    run_service,
    service_env,
)
from tests.e2e.services.leaky_service import SECRETS as SERVICE_SECRETS
from tests.e2e.test_collect import start_collector
from tests.otlp_sample import sample_request
from tests.resilience.listener import RecordingListener

pytestmark = pytest.mark.e2e

SECRETS = [
    "sk-live-0a1b2c3d4e",
    "tok3n-in-query",
    "hunter2-pw",
    "AKIAZZZZZZZZZZZZZZZZ",
    "ASIAQQQQQQQQQQQQQQQQ",
    "cookie-val-77",
    "link-secret-88",
    "sig-99-xyz",
    "nested-auth-11",
    "array-url-pw-22",
    "span-name-tok-33",
    "status-tok-44",
    "event-pw-55",
    "eyJhbGciOiJub25lIn0.eyJzdWIiOiJ4In0.c2ln",
]


def _kv(key: str, value: str | list[str] | dict[str, str]) -> KeyValue:
    any_value = AnyValue()
    if isinstance(value, list):
        for item in value:
            any_value.array_value.values.add(string_value=item)
    elif isinstance(value, dict):
        for k, v in value.items():
            any_value.kvlist_value.values.add(key=k, value=AnyValue(string_value=v))
    else:
        any_value.string_value = value
    return KeyValue(key=key, value=any_value)


def leaky_request(seed: int, *, walk: bool = False) -> bytes:
    """Two spans, the first with a secret in every place; with walk, a third span whose kind
    the flat decoder leaves to the general walk (which rejects that span alone)."""
    request = sample_request(3 if walk else 2, seed=seed, services=1)
    if walk:
        request.resource_spans[0].scope_spans[0].spans[2].kind = 9
    request.resource_spans[0].resource.attributes.extend([_kv("deployment.api_token", SECRETS[2])])
    span = request.resource_spans[0].scope_spans[0].spans[0]
    span.name = f"GET /cb?access_token={SECRETS[10]}"
    span.status.message = f"upstream said: Bearer {SECRETS[11]}"
    span.attributes.extend(
        [
            _kv("http.request.header.authorization", [f"Bearer {SECRETS[0]}"]),
            _kv("url.full", f"https://api.example.com/v1/orders?access_token={SECRETS[1]}&page=2"),
            _kv("http.url", f"https://admin:{SECRETS[2]}@internal.example.com/x"),
            _kv("note", f"used key {SECRETS[3]} and {SECRETS[4]} today"),
            _kv("x-amz-security-token", "FwoGZXIvYXdzEXAMPLE"),
            _kv(
                "presigned",
                f"https://b.s3.amazonaws.com/k?X-Amz-Signature={SECRETS[7]}&X-Amz-Date=1",
            ),
            _kv("request.headers", {"authorization": SECRETS[8], "accept": "json"}),
            _kv("mirrors", ["plain", f"https://u:{SECRETS[9]}@m.example.com/"]),
            _kv("graphql.variables", json.dumps({"jwt": SECRETS[13]})),
        ]
    )
    event = span.events.add(name="request", time_unix_nano=span.start_time_unix_nano)
    event.attributes.extend([_kv("http.request.header.cookie", [f"session={SECRETS[5]}"])])
    failure = span.events.add(name="exception", time_unix_nano=span.start_time_unix_nano)
    failure.attributes.extend([_kv("exception.message", f"login: password={SECRETS[12]}")])
    link = span.links.add(trace_id=b"\x09" * 16, span_id=b"\x08" * 8)
    link.attributes.extend([_kv("api_key", SECRETS[6])])
    return bytes(request.SerializeToString())


def leaked(secrets: list[str], *paths: Path) -> list[tuple[str, str]]:
    """(file, secret) for every secret found in the bytes of the files."""
    found = []
    for path in paths:
        raw = path.read_bytes()
        found += [(path.name, s) for s in secrets if s.encode() in raw]
    return found


def test_secrets_sent_over_otlp_never_reach_the_store_or_tee(db_path: Path, tmp_path: Path) -> None:
    tee = tmp_path / "tee.jsonl"
    c = start_collector(db_path, tmp_path, "--tee", str(tee))
    try:
        pb = leaky_request(1)
        assert all(s.encode() in pb for s in SECRETS)
        assert c.post(pb, {"Content-Type": "application/x-protobuf"})[0] == 200
        as_json = protobuf_to_json(leaky_request(2)).encode()
        assert c.post(as_json, {"Content-Type": "application/json"})[0] == 200
        # The same secrets through the general walk: a protobuf request the flat decoder
        # leaves to it, and JSON with enum names for kinds (which only the walk reads).
        status, _ = c.post(leaky_request(3, walk=True), {"Content-Type": "application/x-protobuf"})
        assert status == 200
        walked = json.loads(protobuf_to_json(leaky_request(4)))
        for span in walked["resourceSpans"][0]["scopeSpans"][0]["spans"]:
            span["kind"] = "SPAN_KIND_CLIENT"
        assert c.post(json.dumps(walked).encode(), {"Content-Type": "application/json"})[0] == 200
        wal = db_path.with_name(db_path.name + ".wal")
        assert not leaked(SECRETS, *[p for p in (wal, tee) if p.exists()])
        assert c.stop(signal.SIGTERM) == 0
    finally:
        c.process.stop()
    con = open_read_only(db_path)
    try:
        rows = con.execute("SELECT * FROM spans").fetchall()
        columns = [d[0] for d in con.description or ()]
    finally:
        con.close()
    assert len(rows) == 8
    text = json.dumps([dict(zip(columns, r, strict=True)) for r in rows], default=str)
    assert not [s for s in SECRETS if s in text]
    assert "REDACTED" in text
    assert "api.example.com/v1/orders?access_token=REDACTED&page=2" in text  # the URL stays useful
    assert '"accept":"json"' in text.replace(" ", "").replace("\\", "")  # nested, not secret
    assert not leaked(SECRETS, db_path, tee)
    assert len(tee.read_text().splitlines()) == 4


@pytest.fixture
def recorder(db_path: Path) -> Iterator[RecordingListener]:
    """An owner of this user's own (so followed) that records what it is sent."""
    server = RecordingListener()
    publish(db_path, "127.0.0.1", server.port)
    try:
        yield server
    finally:
        withdraw(db_path)
        server.close()


SPANS = 20
SERVICE = list(SERVICE_SECRETS.values())


def _run_leaky(db_path: Path) -> None:
    run_service("leaky_service.py", [str(SPANS)], service_env(db_path, "leaky", "auth"))


def test_a_traced_service_sends_an_owner_nothing_in_clear(
    db_path: Path, recorder: RecordingListener
) -> None:
    _run_leaky(db_path)
    assert recorder.bodies
    body = b"".join(recorder.bodies)
    assert [s for s in SERVICE if s.encode() in body] == []
    assert b"REDACTED" in body and b"login failed" in body  # redacted, not emptied


def test_a_traced_service_stores_and_tees_nothing_in_clear(db_path: Path, tmp_path: Path) -> None:
    tee = tmp_path / "tee.jsonl"
    c = start_collector(db_path, tmp_path, "--tee", str(tee), "--no-classify")
    try:
        _run_leaky(db_path)
        assert c.stop(signal.SIGTERM) == 0
    finally:
        c.process.stop()
    assert query(db_path, "select count(*) from spans") == [(SPANS,)]
    assert not leaked(SERVICE, db_path, tee)
    names = query(db_path, "select distinct name, status_message from spans")
    assert names == [("GET /callback?token=REDACTED", "denied: Bearer REDACTED")]


def test_a_traced_service_spools_nothing_in_clear(db_path: Path) -> None:
    with holding_lock(db_path):
        _run_leaky(db_path)
        spooled = [p for p in spool_dir(db_path).iterdir() if p.is_file()]
        assert spooled
        assert not leaked(SERVICE, *spooled)
    assert drain_leftover_spool(db_path) == SPANS
    assert not leaked(SERVICE, db_path)
