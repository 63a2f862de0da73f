"""Hostile OTLP against a running `seamscope collect`: every body gets a 4xx with a reason, and the
receiver keeps serving."""

from __future__ import annotations

import gzip
import http.client
import json
import select
import socket
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest

from seamscope.tracer.ingest import STORED_HEADER
from seamscope.tracer.otlp import protobuf_to_json
from seamscope.tracer.otlp.common import zstd
from tests.e2e.test_collect import Collector, start_collector
from tests.otlp_sample import sample_request

pytestmark = pytest.mark.e2e

PB = {"Content-Type": "application/x-protobuf"}
JS = {"Content-Type": "application/json"}


@pytest.fixture(scope="module")
def collector(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Collector]:
    tmp = tmp_path_factory.mktemp("hostile")
    c = start_collector(tmp / "seamscope.duckdb", tmp, "--max-body-mb", "8")
    try:
        yield c
    finally:
        c.process.stop()


_seed = iter(range(1000, 10_000))
_good_spans = [0]
"""The spans of the good requests this process sent to its collector (pytest-xdist gives each
worker a collector of its own and a share of the tests): the store must hold exactly these."""


def still_serving(c: Collector) -> None:
    assert c.process.alive()
    status, body = c.post(sample_request(3, seed=next(_seed)).SerializeToString(), PB)
    assert status == 200, body
    _good_spans[0] += 3


def json_request(span_changes: dict[str, Any] | None = None, **top: Any) -> bytes:
    obj = json.loads(protobuf_to_json(sample_request(1, seed=next(_seed)).SerializeToString()))
    span = obj["resourceSpans"][0]["scopeSpans"][0]["spans"][0]
    span.update(span_changes or {})
    obj["resourceSpans"][0].update(top)
    return json.dumps(obj).encode()


def _field(number: int, payload: bytes) -> bytes:
    """One length-delimited protobuf field (wire type 2)."""
    length = len(payload)
    varint = b""
    while True:
        byte = length & 0x7F
        length >>= 7
        varint += bytes([byte | (0x80 if length else 0)])
        if not length:
            break
    return bytes([number << 3 | 2]) + varint + payload


def nested_pb(depth: int) -> bytes:
    """A request whose one span has an attribute nested depth arrays deep, built by hand:
    the protobuf library refuses to build what it would refuse to parse."""
    value = _field(1, b"leaf")  # AnyValue.string_value
    for _ in range(depth):
        value = _field(5, _field(1, value))  # AnyValue.array_value.values[0]
    start = (1_764_000_000_000_000_000).to_bytes(8, "little")
    span = (
        _field(1, bytes(range(1, 17)))
        + _field(2, bytes(range(1, 9)))
        + _field(5, b"deep")
        + bytes([7 << 3 | 1])
        + start
        + bytes([8 << 3 | 1])
        + start
        + _field(9, _field(1, b"deep") + _field(2, value))
    )
    resource = _field(1, _field(1, b"service.name") + _field(2, _field(1, b"hostile")))
    return _field(1, _field(1, resource) + _field(2, _field(2, span)))


def huge_value_pb() -> bytes:
    request = sample_request(1, seed=next(_seed))
    span = request.resource_spans[0].scope_spans[0].spans[0]
    span.attributes.add(key="blob").value.string_value = "x" * 3_000_000
    return bytes(request.SerializeToString())


def wrong_id_pb() -> bytes:
    request = sample_request(1, seed=next(_seed))
    request.resource_spans[0].scope_spans[0].spans[0].span_id = b"\x01\x02\x03"
    return bytes(request.SerializeToString())


def wrong_link_id_pb() -> bytes:
    request = sample_request(1, seed=next(_seed))
    request.resource_spans[0].scope_spans[0].spans[0].links.add(
        trace_id=b"\x01" * 12, span_id=b"\x02" * 8
    )
    return bytes(request.SerializeToString())


def no_resource_pb() -> bytes:
    request = ExportTraceServiceRequest()
    request.CopyFrom(sample_request(1, seed=next(_seed)))
    request.resource_spans[0].ClearField("resource")
    return bytes(request.SerializeToString())


CASES: list[tuple[str, bytes, dict[str, str], int, str]] = [
    (
        "truncated protobuf",
        sample_request(20).SerializeToString()[:-7],
        PB,
        400,
        "not an OTLP protobuf",
    ),
    ("random bytes", bytes(range(256)) * 4, PB, 400, "not an OTLP protobuf"),
    # Invalid UTF-8 in a string is repaired, not refused: test_invalid_utf8.py.
    (
        "invalid UTF-8 and a truncated protobuf",
        sample_request(2, services=1)
        .SerializeToString()
        .replace(b"DynamoDB", b"Dyn\xff\xfeoDB")[:-5],
        PB,
        400,
        "not an OTLP protobuf",
    ),
    (
        "invalid UTF-8 in JSON that does not parse",
        json_request({"name": "PLACEHOLDER"}).replace(b"PLACEHOLDER", b"\xc3\x28")[:-3],
        JS,
        400,
        "not UTF-8",
    ),
    (
        "wrong types",
        json_request({"startTimeUnixNano": {"a": 1}}),
        JS,
        400,
        "startTimeUnixNano: an object",
    ),
    (
        "wrong type of attribute",
        json_request({"attributes": [{"key": "k", "value": {"intValue": [1]}}]}),
        JS,
        400,
        "intValue: an array",
    ),
    ("json that is no request", b'["resourceSpans"]', JS, 400, "want an object"),
    (
        "resource of the wrong type",
        json_request(resource=["service.name"]),
        JS,
        400,
        "resource: an array, want an object",
    ),
    (
        "trace id of the wrong length",
        json_request({"traceId": "ab" * 15}),
        JS,
        400,
        "traceId: 30 hex digits, want 32",
    ),
    ("span id of the wrong length", wrong_id_pb(), PB, 400, "spanId: 3 bytes, want 8"),
    (
        "link id of the wrong length",
        wrong_link_id_pb(),
        PB,
        400,
        "links[0].traceId: 12 bytes, want 16",
    ),
    (
        "deeply nested JSON",
        json_request(
            {
                "attributes": [
                    {
                        "key": "k",
                        "value": json.loads(
                            '{"arrayValue": {"values": [' * 40 + '{"stringValue": "x"}' + "]}}" * 40
                        ),
                    }
                ]
            }
        ),
        JS,
        400,
        "nested deeper",
    ),
    (
        "JSON nested past the parser",
        b'{"resourceSpans": ' + b"[" * 200_000,
        JS,
        400,
        "nested too deeply",
    ),
    (
        "attribute value nested past the fast decoder",
        # msgspec's decoder gives up past the interpreter's recursion limit: the request goes
        # to the general walk, which names it (a 500 and a traceback before).
        b'{"resourceSpans":[{"scopeSpans":[{"spans":[{"traceId":"'
        + b"1" * 32
        + b'","spanId":"'
        + b"2" * 16
        + b'","startTimeUnixNano":"1","endTimeUnixNano":"2","attributes":'
        + b'[{"key":"k","value":'
        + b'{"arrayValue":{"values":[' * 600
        + b'{"stringValue":"x"}'
        + b"]}}" * 600
        + b"}]}]}]}]}",
        JS,
        400,
        "nested too deeply",
    ),
    (
        "misspelt key that holds the spans",
        json.dumps({"resourceSpans": [{"scopeSpans": [{"Spans": [{"name": "x"}]}]}]}).encode(),
        JS,
        400,
        "resourceSpans[0].scopeSpans[0]: no spans (keys: 'Spans')",
    ),
    ("deeply nested protobuf value", nested_pb(40), PB, 400, "nested deeper"),
    ("protobuf nested past the parser", nested_pb(200), PB, 400, "nested too deeply"),
    ("huge attribute value", huge_value_pb(), PB, 400, "over 1,000,000"),
    (
        "gzip bomb",
        gzip.compress(b"\0" * (64 * 1024 * 1024), 9),
        {**PB, "Content-Encoding": "gzip"},
        413,
        "inflates past",
    ),
    (
        "broken gzip",
        gzip.compress(sample_request(5).SerializeToString())[:-12],
        {**PB, "Content-Encoding": "gzip"},
        400,
        "gzip",
    ),
    (
        "zstd bomb",
        zstd.compress(b"\0" * (64 * 1024 * 1024)),
        {**PB, "Content-Encoding": "zstd"},
        413,
        "inflates past",
    ),
    (
        "broken zstd",
        zstd.compress(sample_request(5).SerializeToString())[:-6],
        {**PB, "Content-Encoding": "zstd"},
        400,
        "zstd body is truncated",
    ),
    (
        "zstd of many frames",
        zstd.compress(b"") * 100_000,
        {**PB, "Content-Encoding": "zstd"},
        400,
        "more than 64 frames",
    ),
    ("unknown encoding", b"x", {**PB, "Content-Encoding": "br"}, 415, "gzip, deflate, zstd"),
    ("not OTLP at all", b"<xml/>", {"Content-Type": "application/xml"}, 415, "not OTLP"),
]


@pytest.mark.parametrize(
    ("name", "body", "headers", "status", "reason"), CASES, ids=[c[0] for c in CASES]
)
def test_hostile_body(
    collector: Collector, name: str, body: bytes, headers: dict[str, str], status: int, reason: str
) -> None:
    got, answer = collector.post(body, headers)
    assert got == status, answer[:300]
    assert reason.encode() in answer, answer[:300]
    still_serving(collector)


def _json_without_resource(null: bool) -> bytes:
    obj = json.loads(json_request())
    if null:
        obj["resourceSpans"][0]["resource"] = None
    else:
        del obj["resourceSpans"][0]["resource"]
    return json.dumps(obj).encode()


@pytest.mark.parametrize(
    ("body", "headers"),
    [
        (no_resource_pb(), PB),
        (_json_without_resource(null=False), JS),
        (_json_without_resource(null=True), JS),
    ],
    ids=["protobuf", "json-absent", "json-null"],
)
def test_a_request_without_a_resource_is_stored(
    collector: Collector, body: bytes, headers: dict[str, str]
) -> None:
    """Not hostile: the OTLP proto says a resource not set means "no resource info is known".
    The receiver stores the spans (answering with how many), with no service."""
    conn = http.client.HTTPConnection("127.0.0.1", collector.port, timeout=30)
    try:
        conn.request("POST", "/v1/traces", body=body, headers=headers)
        response = conn.getresponse()
        answer = response.read()
        assert response.status == 200, answer[:300]
        assert response.getheader(STORED_HEADER) == "1"
        _good_spans[0] += 1
    finally:
        conn.close()
    still_serving(collector)


def _raw_post(c: Collector, head: bytes, body_chunks: Iterator[bytes]) -> bytes:
    """Sends a request while watching for an early answer; returns what the server said."""
    sock = socket.create_connection(("127.0.0.1", c.port), timeout=30)
    answer = b""
    try:
        sock.sendall(head)
        for chunk in body_chunks:
            readable, _, _ = select.select([sock], [], [], 0)
            if readable:
                break
            try:
                sock.sendall(chunk)
            except (BrokenPipeError, ConnectionResetError):
                break
        deadline = time.monotonic() + 30
        while b"\r\n\r\n" not in answer and time.monotonic() < deadline:
            data = sock.recv(65536)
            if not data:
                break
            answer += data
        head, _, body = answer.partition(b"\r\n\r\n")
        length = 0
        for line in head.split(b"\r\n"):
            if line.lower().startswith(b"content-length:"):
                length = int(line.split(b":", 1)[1])
        while len(body) < length and time.monotonic() < deadline:
            data = sock.recv(65536)
            if not data:
                break
            body += data
        answer = head + b"\r\n\r\n" + body
    finally:
        sock.close()
    return answer


def test_hundred_megabyte_bodies(collector: Collector) -> None:
    size = 100 * 1024 * 1024
    chunk = b"\0" * (1024 * 1024)
    head = (
        f"POST /v1/traces HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/x-protobuf\r\n"
        f"Content-Length: {size}\r\n\r\n"
    ).encode()
    answer = _raw_post(collector, head, iter([chunk] * 100))
    assert answer.startswith(b"HTTP/1.1 413"), answer[:200]
    assert b"over the limit" in answer
    still_serving(collector)
    head = (
        b"POST /v1/traces HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/x-protobuf\r\n"
        b"Transfer-Encoding: chunked\r\n\r\n"
    )
    framed = b"%x\r\n" % len(chunk) + chunk + b"\r\n"
    answer = _raw_post(collector, head, iter([framed] * 100))
    assert answer.startswith(b"HTTP/1.1 413"), answer[:200]
    still_serving(collector)


def test_nothing_bad_was_stored(collector: Collector, tmp_path: Path) -> None:
    still_serving(collector)
    db = Path(collector.log).parent / "seamscope.duckdb"
    from seamscope.tracer.access import open_reader

    rows = (
        open_reader(db)
        .user_sql("SELECT count(*) AS n, count(DISTINCT span_id) AS d FROM spans")
        .to_pylist()
    )
    # Exactly the good requests' spans (a multiple of 3 was asked before, which the three
    # one-span requests without a resource broke whenever pytest-xdist split them up).
    assert rows[0]["n"] == rows[0]["d"] == _good_spans[0]
    assert open_reader(db).user_sql(
        "SELECT count(*) AS n FROM spans WHERE name LIKE '%PLACEHOLDER%'"
    ).to_pylist() == [{"n": 0}]
