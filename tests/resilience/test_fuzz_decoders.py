"""Fuzzing the OTLP decoders: any input gives spans, counted rejections or an OtlpError, never a
crash, and whatever is accepted can be stored."""

from __future__ import annotations

import json
import tempfile
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from opentelemetry.proto.common.v1.common_pb2 import AnyValue

from seamscope.tracer.otlp import (
    MAX_DEPTH,
    MAX_VALUE_CHARS,
    OtlpError,
    decode_flat,
    decode_json,
    decode_protobuf,
    protobuf_to_json,
)
from seamscope.tracer.otlp.common import MAX_NS
from seamscope.tracer.otlp.flat_json import decode_json_flat
from seamscope.tracer.rows import SpanBatchBuilder
from seamscope.tracer.store import Store
from tests.otlp_sample import sample_request

SETTINGS = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
VALID_PB = sample_request(4, seed=1).SerializeToString()
VALID_JSON = json.loads(protobuf_to_json(VALID_PB))

_store_dir = tempfile.TemporaryDirectory(prefix="seamscope-fuzz-")
_store = Store.open(Path(_store_dir.name) / "fuzz.duckdb")


def _decode(fn: Any, data: Any) -> None:
    builder = SpanBatchBuilder()
    try:
        result = fn(data, builder)
    except OtlpError as exc:
        assert str(exc) and "\n" not in str(exc)
        return
    table = builder.build()
    assert table.num_rows == result.accepted
    assert result.accepted + result.rejected >= 0
    if result.rejected:
        assert result.error_message
    if result.repaired:
        assert result.warning and result.repaired <= result.accepted
    if table.num_rows:
        _store.append(table, batch_key=None, source="fuzz")


def _outcome(fn: Any, data: bytes) -> tuple[Any, ...]:
    builder = SpanBatchBuilder()
    try:
        result = fn(data, builder)
    except OtlpError as exc:
        return ("error", str(exc))
    return (
        result.accepted,
        result.rejected,
        result.messages,
        result.repaired,
        result.repairs,
        builder.build(),
    )


def _same_both_ways(data: Any, json_format: bool = False) -> None:
    """otlp.flat (flat_json) gives what the general walk gives: the same rows, rejections,
    messages, or the same error."""
    general = _outcome(decode_json if json_format else decode_protobuf, data)
    flat = _outcome(decode_json_flat if json_format else decode_flat, data)
    assert general[:-1] == flat[:-1]
    if general[0] != "error":
        assert general[-1].equals(flat[-1])
    else:
        assert general == flat


@SETTINGS
@given(st.binary(max_size=2048))
def test_random_bytes_as_protobuf(data: bytes) -> None:
    _decode(decode_protobuf, data)
    _decode(decode_flat, data)
    _same_both_ways(data)


def _array(values: list[AnyValue]) -> AnyValue:
    value = AnyValue()
    value.array_value.values.extend(values)
    return value


def _kvlist(items: list[tuple[str, AnyValue]]) -> AnyValue:
    value = AnyValue()
    for key, item in items:
        value.kvlist_value.values.add(key=key).value.CopyFrom(item)
    return value


any_values = st.recursive(
    st.builds(lambda v: AnyValue(string_value=v), st.text(max_size=20))
    | st.builds(lambda v: AnyValue(int_value=v), st.integers(-(2**63), 2**63 - 1))
    | st.builds(lambda v: AnyValue(bool_value=v), st.booleans())
    | st.builds(lambda v: AnyValue(double_value=v), st.floats())
    | st.builds(lambda v: AnyValue(bytes_value=v), st.binary(max_size=8))
    | st.just(AnyValue()),
    lambda children: (
        st.lists(children, max_size=3).map(_array)
        | st.lists(st.tuples(st.text(max_size=8), children), max_size=3).map(_kvlist)
    ),
    max_leaves=12,
)


@SETTINGS
@given(
    st.lists(
        st.tuples(st.sampled_from(["a", "b", "db.system", "url.full", "token", ""]), any_values),
        max_size=6,
    ),
    st.integers(0, 3),
)
def test_any_attribute_values_decode_the_same_both_ways(
    attributes: list[tuple[str, AnyValue]], at: int
) -> None:
    """Attribute values of every type and shape (repeated keys too), on a span, an event, a
    link or the resource."""
    request = sample_request(3, seed=9)
    span = request.resource_spans[0].scope_spans[0].spans[0]
    target = [
        span.attributes,
        span.events.add(name="e", time_unix_nano=5).attributes,
        span.links.add(trace_id=b"\x01" * 16, span_id=b"\x02" * 8).attributes,
        request.resource_spans[0].resource.attributes,
    ][at]
    for key, value in attributes:
        target.add(key=key).value.CopyFrom(value)
    _same_both_ways(request.SerializeToString())
    _same_both_ways(protobuf_to_json(request.SerializeToString()).encode(), json_format=True)


@SETTINGS
@given(
    st.lists(st.tuples(st.text(max_size=12), st.text(max_size=24)), min_size=1, max_size=4),
    st.booleans(),
)
def test_string_attributes_of_any_text_decode_the_same_both_ways(
    attributes: list[tuple[str, str]], twice: bool
) -> None:
    """Keys and string values of any text (quotes, backslashes, control characters, letters
    outside ASCII, repeated keys) in the Collector's JSON: the flat decoder's shortcut for
    strings with nothing escaped gives the general walk's rows, and so does a second request
    of the same attributes, which the flat decoder then knows."""
    request = sample_request(2, seed=11)
    for span in request.resource_spans[0].scope_spans[0].spans:
        for key, value in attributes:
            span.attributes.add(key=key).value.string_value = value
    body = protobuf_to_json(request.SerializeToString()).encode()
    for _ in range(2 if twice else 1):
        _same_both_ways(body, json_format=True)


def test_an_attribute_that_is_not_utf8_is_repaired_both_ways() -> None:
    """msgspec does not check the text of the attributes it leaves raw; the flat decoder
    must give the walk's answer for bytes that are no UTF-8 (the span kept, its text
    repaired), not an exception of its own."""
    request = json.loads(protobuf_to_json(sample_request(1, seed=12).SerializeToString()))
    span = request["resourceSpans"][0]["scopeSpans"][0]["spans"][0]
    span["attributes"] = [{"key": "k", "value": {"stringValue": "PLACEHOLDER"}}]
    body = json.dumps(request, separators=(",", ":")).encode()
    for spoiled in (b"\xff", b"caf\xc3"):
        data = body.replace(b"PLACEHOLDER", spoiled)
        outcome = _outcome(decode_json_flat, data)
        assert outcome[:2] == (1, 0) and outcome[3] == 1
        _same_both_ways(data, json_format=True)


@SETTINGS
@given(st.integers(0, len(VALID_PB) - 1), st.binary(min_size=1, max_size=8), st.booleans())
def test_mutated_protobuf(position: int, patch: bytes, insert: bool) -> None:
    if insert:
        data = VALID_PB[:position] + patch + VALID_PB[position:]
    else:
        data = VALID_PB[:position] + patch + VALID_PB[position + len(patch) :]
    _decode(decode_protobuf, data)
    _decode(decode_flat, data)
    _same_both_ways(data)


@SETTINGS
@given(st.binary(max_size=2048))
def test_random_bytes_as_json(data: bytes) -> None:
    _decode(decode_json, data)
    _same_both_ways(data, json_format=True)


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=20),
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=12), children, max_size=4)
    ),
    max_leaves=20,
)


def _paths(obj: Any, prefix: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    out = [prefix]
    if isinstance(obj, dict):
        for k, v in obj.items():
            out.extend(_paths(v, (*prefix, k)))
    elif isinstance(obj, list):
        for i, v in enumerate(obj):
            out.extend(_paths(v, (*prefix, i)))
    return out


_VALID_PATHS = _paths(VALID_JSON)[1:]


@SETTINGS
@given(st.sampled_from(_VALID_PATHS), json_values)
def test_one_field_of_a_valid_request_replaced(path: tuple[Any, ...], value: Any) -> None:
    obj = json.loads(json.dumps(VALID_JSON))
    target = obj
    for step in path[:-1]:
        target = target[step]
    target[path[-1]] = value
    _decode(decode_json, json.dumps(obj))
    _same_both_ways(json.dumps(obj).encode(), json_format=True)
    _same_both_ways(json.dumps(obj), json_format=True)


@SETTINGS
@given(st.sampled_from(_VALID_PATHS))
def test_one_field_of_a_valid_request_removed(path: tuple[Any, ...]) -> None:
    obj = json.loads(json.dumps(VALID_JSON))
    target = obj
    for step in path[:-1]:
        target = target[step]
    del target[path[-1]]
    _same_both_ways(json.dumps(obj).encode(), json_format=True)


@SETTINGS
@given(json_values)
def test_any_json_document(value: Any) -> None:
    _decode(decode_json, json.dumps({"resourceSpans": value}))
    _decode(decode_json, json.dumps(value))
    _same_both_ways(json.dumps({"resourceSpans": value}).encode(), json_format=True)
    _same_both_ways(json.dumps(value).encode(), json_format=True)


# A span's own fields at and past the bounds the flat decoders test before they take a span
# themselves (anything else goes to the general walk): the enums' ranges, a status message, the
# times. Found missing by mutation testing (docs/testing.md): a looser test there would store a
# wrong kind or status, or drop the message, where the general walk names the problem. One field
# at a time, each value on both sides of its bound, so that no case depends on a random draw.


@pytest.mark.parametrize(
    ("field", "value"),
    [
        *(("kind", k) for k in (-1, 0, 5, 6)),
        *(("code", c) for c in (-1, 0, 2, 3)),
        *(("message", m) for m in ("", "boom", 'caf\u00e9 "quoted"')),
        *(("times", t) for t in ((1, 1), (5, 3), (0, 5), (1, MAX_NS), (1, MAX_NS + 1))),
        *(("name", "n" * size) for size in (MAX_VALUE_CHARS, MAX_VALUE_CHARS + 1)),
        ("message", "m" * (MAX_VALUE_CHARS + 1)),
    ],
)
def test_span_fields_at_and_past_their_bounds_decode_the_same_both_ways(
    field: str, value: Any
) -> None:
    request = sample_request(6, seed=13)
    span = request.resource_spans[0].scope_spans[0].spans[1]
    if field == "kind":
        span.kind = value
    elif field == "code":
        span.status.code = value
    elif field == "message":
        span.status.message = value
    elif field == "name":
        span.name = value
    else:
        span.start_time_unix_nano, span.end_time_unix_nano = value
    body = request.SerializeToString()
    _same_both_ways(body)
    _same_both_ways(protobuf_to_json(body).encode(), json_format=True)


def _nested(levels: int) -> AnyValue:
    """A string inside `levels` arrays."""
    value = AnyValue(string_value="deep")
    for _ in range(levels):
        value = _array([value])
    return value


@pytest.mark.parametrize("on", ["span", "event", "link"])
def test_values_nested_to_the_limit_and_past_it_decode_the_same_both_ways(on: str) -> None:
    """The general walk takes a value nested MAX_DEPTH levels and refuses one nested deeper;
    the flat decoders must draw the line at the same depth, on a span, an event or a link (the
    value is not remembered, so each is walked: new keys each time)."""
    outcomes = set()
    for levels in (MAX_DEPTH - 1, MAX_DEPTH, MAX_DEPTH + 1):
        request = sample_request(2, seed=14)
        span = request.resource_spans[0].scope_spans[0].spans[0]
        attributes = {
            "span": span.attributes,
            "event": span.events.add(name="e", time_unix_nano=5).attributes,
            "link": span.links.add(trace_id=b"\x01" * 16, span_id=b"\x02" * 8).attributes,
        }[on]
        attributes.add(key=f"nested.{levels}").value.CopyFrom(_nested(levels))
        body = request.SerializeToString()
        outcomes.add(_outcome(decode_protobuf, body)[:2])
        _same_both_ways(body)
        _same_both_ways(protobuf_to_json(body).encode(), json_format=True)
    assert len(outcomes) == 2, "the depths tried do not straddle the limit"


@pytest.mark.parametrize("size", [MAX_VALUE_CHARS, MAX_VALUE_CHARS + 1])
def test_a_string_value_of_the_longest_length_and_past_it_decodes_the_same_both_ways(
    size: int,
) -> None:
    """The longest string value the general walk takes, and one character more, as the flat
    decoders' shortcut for plain strings reads them."""
    request = sample_request(2, seed=16)
    span = request.resource_spans[0].scope_spans[0].spans[0]
    span.attributes.add(key="long").value.string_value = "v" * size
    body = request.SerializeToString()
    _same_both_ways(body)
    _same_both_ways(protobuf_to_json(body).encode(), json_format=True)


@pytest.mark.parametrize(
    ("field", "value"),
    [
        *(
            ("traceId", v)
            for v in (None, "", "ab" * 15 + "a", "g" * 32, "0" * 32, "AB" * 16, "ab" * 17)
        ),
        *(("spanId", v) for v in (None, "ab" * 7 + "a", "z" * 16, "0" * 16, "CD" * 8)),
        *(("parentSpanId", v) for v in ("", "0" * 16, "ab" * 7, "EF" * 8)),
        *(
            ("startTimeUnixNano", v)
            for v in (
                "\u0661\u0662\u0663",  # digits, but not ASCII ones
                "12x",
                "-5",
                " 12",
                "0",
                0,
                1,
                str(MAX_NS),
                MAX_NS + 1,
                str(MAX_NS + 1),
            )
        ),
        *(
            ("endTimeUnixNano", v)
            for v in ("\u0661\u0662\u0663", "12x", "-5", " 12", "0", 0, 1, "1", 2, "2")
        ),
    ],
)
def test_ids_and_times_of_the_collectors_json_decode_the_same_both_ways(
    field: str, value: Any
) -> None:
    """The span's ids and times as text in the Collector's JSON, at and past what the flat
    decoder takes itself: missing, one digit short or long, not hex, all zeros, upper case;
    times that are not plain ASCII digits, zero, the largest and past it. Found missing by
    mutation testing (docs/testing.md)."""
    request = json.loads(protobuf_to_json(sample_request(6, seed=15).SerializeToString()))
    span = request["resourceSpans"][0]["scopeSpans"][0]["spans"][1]
    if field == "startTimeUnixNano":
        span["endTimeUnixNano"] = str(MAX_NS)
    if field == "endTimeUnixNano":
        span["startTimeUnixNano"] = "1"
    if value is None:
        span.pop(field, None)
    else:
        span[field] = value
    _same_both_ways(json.dumps(request).encode(), json_format=True)
