"""Secrets sent over OTLP never reach the store (nor the --tee file)."""

from __future__ import annotations

import json
import signal
from pathlib import Path

import pytest
from opentelemetry.proto.common.v1.common_pb2 import AnyValue, KeyValue

from seamscope.tracer.otlp import protobuf_to_json
from seamscope.tracer.store import open_read_only
from tests.e2e.test_collect import start_collector
from tests.otlp_sample import sample_request

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
]


def _kv(key: str, value: str | list[str]) -> KeyValue:
    if isinstance(value, list):
        any_value = AnyValue()
        for item in value:
            any_value.array_value.values.add(string_value=item)
        return KeyValue(key=key, value=any_value)
    return KeyValue(key=key, value=AnyValue(string_value=value))


def leaky_request(seed: int) -> bytes:
    request = sample_request(2, seed=seed, services=1)
    request.resource_spans[0].resource.attributes.extend([_kv("deployment.api_token", SECRETS[2])])
    span = request.resource_spans[0].scope_spans[0].spans[0]
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
        ]
    )
    event = span.events.add(name="request", time_unix_nano=span.start_time_unix_nano)
    event.attributes.extend([_kv("http.request.header.cookie", [f"session={SECRETS[5]}"])])
    link = span.links.add(trace_id=b"\x09" * 16, span_id=b"\x08" * 8)
    link.attributes.extend([_kv("api_key", SECRETS[6])])
    return bytes(request.SerializeToString())


def test_secrets_never_reach_the_store(db_path: Path, tmp_path: Path) -> None:
    tee = tmp_path / "tee.jsonl"
    c = start_collector(db_path, tmp_path, "--tee", str(tee))
    try:
        pb = leaky_request(1)
        assert c.post(pb, {"Content-Type": "application/x-protobuf"})[0] == 200
        as_json = protobuf_to_json(leaky_request(2)).encode()
        assert all(s.encode() in as_json for s in SECRETS)
        assert c.post(as_json, {"Content-Type": "application/json"})[0] == 200
        assert c.stop(signal.SIGTERM) == 0
    finally:
        c.process.stop()
    con = open_read_only(db_path)
    try:
        rows = con.execute("SELECT * FROM spans").fetchall()
        columns = [d[0] for d in con.description or ()]
    finally:
        con.close()
    assert len(rows) == 4
    text = json.dumps([dict(zip(columns, r, strict=True)) for r in rows], default=str)
    leaked = [s for s in SECRETS if s in text]
    assert not leaked, f"in the store: {leaked}"
    assert "REDACTED" in text
    assert "api.example.com/v1/orders?access_token=REDACTED&page=2" in text  # the URL stays useful
    for path in [db_path, *db_path.parent.glob(db_path.name + ".wal"), tee]:
        raw = path.read_bytes()
        assert not [s for s in SECRETS if s.encode() in raw], path
    assert len(tee.read_text().splitlines()) == 2
