"""What one request may make a decoder walk besides its valid spans, against a running
`seamscope collect`: megabytes of empty resourceSpans or scopeSpans (two bytes each, a
microsecond each to walk: 6 MB held a decoder for 2.6 s of CPU, 5 s on a loaded machine), of
empty spans (each rejected with its place: 2.7 s), or one span with hundreds of thousands of
empty events or links (15 s). Such a request was answered once the decoder was done with it
(200, or 400 after rejecting every span); it is now refused with a 400 that says why, the walk
cut short at the limit.

A request the OpenTelemetry Collector sends is never refused so: a batch of 8,192 spans (its
default) from 2,048 resources, a few empty groups among them and eight events and links a
span, is stored whole."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest
from opentelemetry.proto.trace.v1.trace_pb2 import Span

from seamscope.tracer.otlp import protobuf_to_json
from seamscope.tracer.otlp.common import (
    MAX_EMPTY_GROUPS,
    MAX_EVENTS_AND_LINKS,
    MAX_REJECTED_SPANS,
)
from tests.e2e.test_collect import Collector, span_count, start_collector
from tests.otlp_sample import sample_request

pytestmark = pytest.mark.e2e

PROTOBUF = {"Content-Type": "application/x-protobuf"}
JSON = {"Content-Type": "application/json"}


@pytest.fixture
def collector(db_path: Path, tmp_path: Path) -> Iterator[Collector]:
    c = start_collector(db_path, tmp_path, "--no-classify", "--max-body-mb", "16")
    try:
        yield c
    finally:
        c.process.stop()


def one_span(seed: int) -> Span:
    span: Span = sample_request(1, seed=seed).resource_spans[0].scope_spans[0].spans[0]
    return span


def collector_batch() -> ExportTraceServiceRequest:
    """8,192 spans from 2,048 resources (a gateway's batch), with 64 empty resourceSpans and
    64 empty scopeSpans among them, and four events and four links on every span."""
    request = sample_request(8192, services=2048, seed=40)
    for i, rs in enumerate(request.resource_spans):
        if i % 32 == 0:
            rs.scope_spans.add()  # a group a processor emptied
        for span in rs.scope_spans[0].spans:
            for k in range(4):
                span.events.add(name=f"retry {k}", time_unix_nano=span.start_time_unix_nano + k)
                span.links.add(trace_id=span.trace_id, span_id=span.span_id)
    for _ in range(64):
        request.resource_spans.add()
    return request


def test_a_collectors_batch_is_stored_whole(collector: Collector, db_path: Path) -> None:
    request = collector_batch()
    groups = sum(1 + len(rs.scope_spans) for rs in request.resource_spans)
    assert groups < 4 * 2048 and 8192 * 8 < MAX_EVENTS_AND_LINKS  # well inside the limits
    status, body = collector.post(request.SerializeToString(), PROTOBUF)
    assert status == 200, body[:300]
    as_json = protobuf_to_json(sample_request(300, services=100, seed=41).SerializeToString())
    assert collector.post(as_json.encode(), JSON)[0] == 200
    collector.process.stop()
    assert span_count(db_path) == 8192 + 300


def empty_resource_spans(count: int) -> bytes:
    return b"\x0a\x00" * count  # field 1 (resourceSpans), length 0


def empty_scope_spans(count: int) -> bytes:
    rs = b"\x12\x00" * count  # field 2 of ResourceSpans (scopeSpans), length 0
    return b"\x0a" + _varint(len(rs)) + rs


def _varint(n: int) -> bytes:
    out = b""
    while n > 0x7F:
        out += bytes([(n & 0x7F) | 0x80])
        n >>= 7
    return out + bytes([n])


def empty_spans(count: int) -> bytes:
    spans = b"\x12\x00" * count  # field 2 of ScopeSpans (spans), length 0
    ss = b"\x12" + _varint(len(spans)) + spans
    return b"\x0a" + _varint(len(ss)) + ss


def one_span_with(events: int, links: int) -> bytes:
    request = ExportTraceServiceRequest()
    scope = request.resource_spans.add().scope_spans.add()
    scope.spans.append(one_span(42))
    span: bytes = scope.spans[0].SerializeToString()
    span += b"\x5a\x00" * events + b"\x6a\x00" * links  # Span.events = 11, Span.links = 13
    ss = b"\x12" + _varint(len(span)) + span
    rs = b"\x12" + _varint(len(ss)) + ss
    return b"\x0a" + _varint(len(rs)) + rs


CASES: list[tuple[str, bytes, dict[str, str], str]] = [
    (
        "6 MB of empty resourceSpans",
        empty_resource_spans(3_000_000),
        PROTOBUF,
        "resourceSpans or scopeSpans without a span",
    ),
    (
        "6 MB of empty scopeSpans",
        empty_scope_spans(3_000_000),
        PROTOBUF,
        "resourceSpans or scopeSpans without a span",
    ),
    (
        "a real span among 1,100 empty groups",
        sample_request(1, seed=43).SerializeToString() + empty_resource_spans(1100),
        PROTOBUF,
        "resourceSpans or scopeSpans without a span",
    ),
    (
        "6 MB of empty resourceSpans as JSON",
        json.dumps({"resourceSpans": [{}] * 2_000_000}).encode(),
        JSON,
        "resourceSpans or scopeSpans without a span",
    ),
    (
        "empty scopeSpans as JSON",
        json.dumps({"resourceSpans": [{"scopeSpans": []}] * 2000}).encode(),
        JSON,
        "resourceSpans or scopeSpans without a span",
    ),
    (
        "6 MB of empty spans",
        empty_spans(3_000_000),
        PROTOBUF,
        "spans of the request are invalid",
    ),
    (
        "empty spans as JSON",
        json.dumps({"resourceSpans": [{"scopeSpans": [{"spans": [{}] * 100_000}]}]}).encode(),
        JSON,
        "spans of the request are invalid",
    ),
    ("a span with 3,000,000 empty events", one_span_with(3_000_000, 0), PROTOBUF, "events"),
    ("a span with 3,000,000 empty links", one_span_with(0, 3_000_000), PROTOBUF, "links"),
    (
        "a span with 300,000 events as JSON",
        protobuf_to_json(one_span_with(300_000, 0)).encode(),
        JSON,
        "events and links",
    ),
]


@pytest.mark.parametrize(
    ("body", "headers", "says"), [c[1:] for c in CASES], ids=[c[0] for c in CASES]
)
def test_a_request_of_empty_messages_is_refused(
    collector: Collector, db_path: Path, body: bytes, headers: dict[str, str], says: str
) -> None:
    status, answer = collector.post(body, headers)
    assert status == 400, answer[:300]
    assert says.encode() in answer, answer[:300]
    assert collector.post(sample_request(3, seed=44).SerializeToString(), PROTOBUF)[0] == 200
    collector.process.stop()
    assert span_count(db_path) == 3
    log = collector.log.read_text()
    assert "Traceback" not in log, log[-3000:]
    limits = (MAX_EMPTY_GROUPS, MAX_EVENTS_AND_LINKS, MAX_REJECTED_SPANS)
    assert any(f"400 the request holds more than {n:,}" in log for n in limits[:2]) or (
        f"400 more than {MAX_REJECTED_SPANS:,} spans" in log
    ), log
