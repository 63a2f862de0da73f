"""What one request may make a decoder walk besides its valid spans, against a running
`seamscope collect`: megabytes of empty resourceSpans or scopeSpans (two bytes each, a
microsecond each to walk: 6 MB held a decoder for 2.6 s of CPU, 5 s on a loaded machine), of
empty spans (each rejected with its place: 2.7 s), one span with hundreds of thousands of
empty events or links (15 s), or millions of attributes without a key or a value, on a span,
a resource, an event or a link, or as the empty values of an array or a map (two bytes each:
6 MB held a decoder for 1 s as protobuf, 0.6 s as JSON, where a plain request of that size
takes 0.25 s). Such a request was answered once the decoder was done with it (200, or 400
after rejecting every span); it is now refused with a 400 that says why, the walk cut short at
the limit.

A request the OpenTelemetry Collector sends is never refused so: a batch of 8,192 spans (its
default) from 2,048 resources, a few empty groups among them and eight events and links a
span, is stored whole, and so is one of 8,192 spans of 128 attributes each (the SDKs' default
limit), an array with an empty value among them."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import duckdb
import pytest
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest
from opentelemetry.proto.trace.v1.trace_pb2 import Span

from seamscope.tracer.otlp import protobuf_to_json
from seamscope.tracer.otlp.common import (
    MAX_EMPTY_GROUPS,
    MAX_EMPTY_VALUES,
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
    c = start_collector(db_path, tmp_path, "--no-classify", "--max-body-mb", "64")
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


def attributes_batch(spans: int, seed: int) -> ExportTraceServiceRequest:
    """Spans from a quarter as many resources, with 128 attributes each, the SDKs' default limit: a
    request id, a route and a size that differ from span to span, the rest shared by spans of
    one kind, and an array with an empty value (a null kept in an array, as the specification
    lets an SDK send it)."""
    request = sample_request(spans, services=spans // 4, seed=seed)
    n = 0
    for rs in request.resource_spans:
        for span in rs.scope_spans[0].spans:
            n += 1
            del span.attributes[:]
            span.attributes.add(key="app.request.id").value.string_value = f"r-{n:08d}"
            span.attributes.add(key="http.route").value.string_value = f"/items/{n % 997}"
            span.attributes.add(key="app.size").value.int_value = n
            values = span.attributes.add(key="app.retries").value.array_value.values
            values.add(int_value=1)
            values.add()  # an empty value
            for k in range(124):
                value = span.attributes.add(key=f"app.attribute.{k:03d}").value
                if k % 3 == 0:
                    value.string_value = f"value {k}"
                elif k % 3 == 1:
                    value.int_value = k
                else:
                    value.bool_value = True
            assert len(span.attributes) == 128
    return request


def test_spans_of_128_attributes_each_are_stored_whole(collector: Collector, db_path: Path) -> None:
    body = attributes_batch(8192, seed=45).SerializeToString()
    assert 8192 < MAX_EMPTY_VALUES  # one empty value a span, well inside the limit
    status, answer = collector.post(body, PROTOBUF)
    assert status == 200, answer[:300]
    as_json = protobuf_to_json(attributes_batch(1024, seed=47).SerializeToString())
    assert collector.post(as_json.encode(), JSON)[0] == 200
    collector.process.stop()
    assert span_count(db_path) == 8192 + 1024
    con = duckdb.connect(str(db_path), read_only=True)
    try:
        ((attributes, retries),) = con.execute(
            "SELECT json_keys(attributes::JSON), attributes::JSON->'app.retries' FROM spans "
            "WHERE span_id = (SELECT min(span_id) FROM spans)"
        ).fetchall()
    finally:
        con.close()
    assert len(attributes) == 128 and json.loads(retries) == [1, None]


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


def one_span_with_attributes(raw: bytes, count: int, where: str = "span") -> bytes:
    """A request of one valid span whose attributes (where: "span", "resource", "event",
    "link"), or one attribute's array or map ("array", "kvlist") hold count times raw, a
    KeyValue's bytes (an AnyValue's for "array")."""
    span: bytes = one_span(46).SerializeToString()
    resource = b""
    if where == "span":
        span += _field(9, raw) * count  # Span.attributes
    elif where == "resource":
        resource = _field(1, _field(1, raw) * count)  # ResourceSpans.resource.attributes
    elif where == "event":
        span += _field(11, b"\x09" + b"\x01" * 8 + _field(3, raw) * count)  # Event.attributes
    elif where == "link":
        span += _field(13, _field(4, raw) * count)  # Link.attributes
    else:  # AnyValue.array_value (5) / kvlist_value (6), their values (1)
        inner = _field(5 if where == "array" else 6, _field(1, raw) * count)
        span += _field(9, b"\x0a\x01k" + _field(2, inner))
    return _field(1, resource + _field(2, _field(2, span)))


def _field(number: int, payload: bytes) -> bytes:
    return bytes([number << 3 | 2]) + _varint(len(payload)) + payload


def json_span_with_attributes(attributes: list[object], where: str = "span") -> bytes:
    """One valid span as OTLP JSON whose attributes (where: "span", "resource", "event")
    are attributes."""
    request = json.loads(protobuf_to_json(one_span_with_attributes(b"", 0)))
    span = request["resourceSpans"][0]["scopeSpans"][0]["spans"][0]
    if where == "span":
        span["attributes"] = attributes
    elif where == "resource":
        request["resourceSpans"][0]["resource"] = {"attributes": attributes}
    else:
        span["events"] = [{"timeUnixNano": "1", "name": "e", "attributes": attributes}]
    return json.dumps(request, separators=(",", ":")).encode()


NO_KEY_NO_VALUE = b""  # a KeyValue with neither field
NO_VALUE = b"\x0a\x01a"  # key "a", no value
NO_KEY = b"\x12\x02\x18\x01"  # no key, intValue 1
EMPTY_ANY_VALUE = b""  # an AnyValue with no field set
EMPTY_VALUES = "attributes without a key or a value"


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
    (
        "6 MB of attributes with neither key nor value",
        one_span_with_attributes(NO_KEY_NO_VALUE, 3_000_000),
        PROTOBUF,
        EMPTY_VALUES,
    ),
    (
        "6 MB of attributes without a value",
        one_span_with_attributes(NO_VALUE, 1_200_000),
        PROTOBUF,
        EMPTY_VALUES,
    ),
    (
        "6 MB of attributes without a key",
        one_span_with_attributes(NO_KEY, 1_000_000),
        PROTOBUF,
        EMPTY_VALUES,
    ),
    *(
        (
            f"6 MB of empty attributes ({where})",
            one_span_with_attributes(NO_KEY_NO_VALUE, 3_000_000, where),
            PROTOBUF,
            EMPTY_VALUES,
        )
        for where in ("resource", "event", "link")
    ),
    (
        "6 MB of empty values in an array",
        one_span_with_attributes(EMPTY_ANY_VALUE, 3_000_000, "array"),
        PROTOBUF,
        EMPTY_VALUES,
    ),
    (
        "6 MB of empty entries in a map",
        one_span_with_attributes(NO_KEY_NO_VALUE, 3_000_000, "kvlist"),
        PROTOBUF,
        EMPTY_VALUES,
    ),
    (
        "attributes without a value as JSON",
        json_span_with_attributes([{"key": "a"}] * 550_000),
        JSON,
        EMPTY_VALUES,
    ),
    (
        "attributes without a key as JSON",
        json_span_with_attributes([{"key": "", "value": {"intValue": "1"}}] * 300_000),
        JSON,
        EMPTY_VALUES,
    ),
    (
        "empty attributes of a resource as JSON",
        json_span_with_attributes([{"key": "a", "value": {}}] * 400_000, "resource"),
        JSON,
        EMPTY_VALUES,
    ),
    (
        "empty attributes of an event as JSON",
        json_span_with_attributes([{"key": "a"}] * 550_000, "event"),
        JSON,
        EMPTY_VALUES,
    ),
    (
        "6 MB of empty values in an array as JSON",
        json_span_with_attributes(
            [{"key": "k", "value": {"arrayValue": {"values": [{}] * 2_000_000}}}]
        ),
        JSON,
        EMPTY_VALUES,
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
    limits = (MAX_EMPTY_GROUPS, MAX_EVENTS_AND_LINKS, MAX_EMPTY_VALUES)
    assert any(f"400 the request holds more than {n:,}" in log for n in limits) or (
        f"400 more than {MAX_REJECTED_SPANS:,} spans" in log
    ), log


ARRAY_VALUES = 1_500_000


def test_an_array_of_a_million_values_is_stored_whole(collector: Collector, db_path: Path) -> None:
    """1.5M booleans in one array attribute, 6 MB of protobuf: valid (the specification's
    attribute limits count attributes and shorten strings, an array's strings one by one, but
    never shorten an array), and no more than three times a plain request of that size to
    decode (0.61 s against 0.22 s of CPU; as JSON, 0.98 s for its 28 MB against 0.29 s for 14
    MB of plain spans), where each limit above guards a blowup of four times or more. So no
    limit of its own: the span is stored with every value, as JSON too, and never refused."""
    request = sample_request(1, seed=48)
    span = request.resource_spans[0].scope_spans[0].spans[0]
    values = span.attributes.add(key="app.flags").value.array_value.values
    values.extend([values.add(bool_value=True)] * (ARRAY_VALUES - 1))
    body = request.SerializeToString()
    assert len(body) > 5_000_000
    status, answer = collector.post(body, PROTOBUF)
    assert status == 200, answer[:300]
    other = sample_request(1, seed=49)
    other.resource_spans[0].scope_spans[0].spans[0].attributes.add(key="app.flags").CopyFrom(
        span.attributes[-1]
    )
    status, answer = collector.post(protobuf_to_json(other.SerializeToString()).encode(), JSON)
    assert status == 200, answer[:300]
    collector.process.stop()
    con = duckdb.connect(str(db_path), read_only=True)
    try:
        lengths = con.execute(
            "SELECT json_array_length(attributes::JSON->'app.flags') FROM spans"
        ).fetchall()
    finally:
        con.close()
    assert lengths == [(ARRAY_VALUES,), (ARRAY_VALUES,)]
