"""Invalid UTF-8 in one string of a request costs neither the request nor its span: the text is
repaired (U+FFFD), the span kept, marked and counted; every other span as a clean decode gives
it."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import pyarrow as pa
import pytest
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceResponse

from seamscope.tracer.otlp import (
    DecodeResult,
    OtlpError,
    decode_flat,
    decode_json,
    decode_protobuf,
    protobuf_to_json,
    response_body,
)
from seamscope.tracer.otlp.flat_json import decode_json_flat
from seamscope.tracer.otlp.json_format import load_repaired
from seamscope.tracer.rows import SpanBatchBuilder
from tests.otlp_sample import sample_request

Decoder = Callable[[bytes, SpanBatchBuilder], DecodeResult]
MARK = "seamscope.invalid_utf8"
NAME = b"NAME-TO-SPOIL"
VALUE = b"VALUE-TO-SPOIL"
RESOURCE = b"RESOURCE-TO-SPOIL"


def _request(spans: int = 6, services: int = 1) -> Any:
    """A request whose span 1 has the name NAME and span 3 an attribute of value VALUE, and
    whose first resource an attribute of value RESOURCE: placeholders to spoil."""
    request = sample_request(spans, services=services, seed=21)
    first = request.resource_spans[0]
    first.scope_spans[0].spans[1].name = NAME.decode()
    first.scope_spans[0].spans[3].attributes.add(key="note").value.string_value = VALUE.decode()
    first.resource.attributes.add(key="host.name").value.string_value = RESOURCE.decode()
    return request


def _decode(decode: Decoder, body: bytes) -> tuple[DecodeResult, list[dict[str, Any]]]:
    builder = SpanBatchBuilder()
    result = decode(body, builder)
    table: pa.Table = builder.build()
    return result, table.to_pylist()


def _unmarked(row: dict[str, Any]) -> dict[str, Any]:
    """row with its mark taken out, for comparing with the clean decode."""
    attributes = json.loads(row["attributes"])
    assert attributes.pop(MARK) is True
    return {**row, "attributes": json.dumps(attributes, separators=(",", ":"))}


PB_DECODERS: list[Decoder] = [decode_protobuf, decode_flat]
JSON_DECODERS: list[Decoder] = [decode_json, decode_json_flat]


@pytest.mark.parametrize("decode", PB_DECODERS + JSON_DECODERS, ids=lambda d: d.__name__)
def test_one_bad_string_among_good_spans_keeps_every_span(decode: Decoder) -> None:
    request = _request()
    body = request.SerializeToString()
    if decode in JSON_DECODERS:
        body = protobuf_to_json(body).encode()
    # The same length, so the protobuf framing stays right: an invalid lead byte, a lead byte
    # without its continuation, and a stray continuation byte.
    spoiled = body.replace(NAME, b"NAME-T\xff-SPOIL").replace(VALUE, b"VAL\xc3E-T\x80-SPOIL")
    with pytest.raises(UnicodeDecodeError):
        spoiled.decode("utf-8")
    clean_result, clean = _decode(decode, body)
    result, rows = _decode(decode, spoiled)
    assert (clean_result.accepted, result.accepted, result.rejected) == (6, 6, 0)
    assert result.repaired == 2
    assert result.repairs == [
        "resourceSpans[0].scopeSpans[0].spans[1] (name)",
        "resourceSpans[0].scopeSpans[0].spans[3] (attributes)",
    ]
    assert "invalid UTF-8 replaced by U+FFFD in 2 spans" in result.warning
    assert result.error_message == ""  # nothing rejected
    for i, (row, clean_row) in enumerate(zip(rows, clean, strict=True)):
        if i == 1:
            assert row["name"] == "NAME-T\ufffd-SPOIL"
            assert _unmarked(row) == {**clean_row, "name": "NAME-T\ufffd-SPOIL"}
        elif i == 3:
            attributes = json.loads(row["attributes"])
            assert attributes["note"] == "VAL\ufffdE-T\ufffd-SPOIL" and attributes[MARK] is True
            fixed = json.loads(_unmarked(row)["attributes"])
            assert fixed == {**json.loads(clean_row["attributes"]), "note": attributes["note"]}
        else:
            assert row == clean_row


@pytest.mark.parametrize("decode", PB_DECODERS + JSON_DECODERS, ids=lambda d: d.__name__)
def test_a_bad_resource_string_marks_every_span_of_that_resource(decode: Decoder) -> None:
    body = _request(spans=8, services=2).SerializeToString()
    if decode in JSON_DECODERS:
        body = protobuf_to_json(body).encode()
    result, rows = _decode(decode, body.replace(RESOURCE, b"RESOURCE-\xfe\xfe-SPOIL"))
    first = [r for r in rows if r["service_name"] == "svc-0"]
    assert result.accepted == 8 and result.repaired == len(first) > 0
    assert all(
        json.loads(r["resource"])["host.name"] == "RESOURCE-\ufffd\ufffd-SPOIL" for r in first
    )
    assert all(json.loads(r["attributes"])[MARK] is True for r in first)
    assert all(MARK not in json.loads(r["attributes"]) for r in rows if r not in first)
    assert result.repairs[0].endswith("(resource)")


@pytest.mark.parametrize("decode", JSON_DECODERS, ids=lambda d: d.__name__)
@pytest.mark.parametrize(
    ("bad", "name"),
    [
        (b"\\ud800", "NAME\ufffd"),
        (b"\\udc80\\udcff", "NAME\ufffd\ufffd"),
        # As bytes, three invalid bytes: three U+FFFD, as protobuf gives for them.
        (b"\xed\xa0\x80", "NAME\ufffd\ufffd\ufffd"),
    ],
    ids=["escaped-high", "escaped-low", "encoded-surrogate"],
)
def test_lone_surrogates_in_json_are_repaired_too(decode: Decoder, bad: bytes, name: str) -> None:
    """A lone surrogate escape (how json.dumps writes text read with surrogateescape) refused
    its span; a surrogate encoded as bytes, which json.loads lets through, stopped the whole
    decode with a UnicodeEncodeError when the spans were built."""
    body = protobuf_to_json(_request().SerializeToString()).encode()
    result, rows = _decode(decode, body.replace(NAME, b"NAME" + bad))
    assert (result.accepted, result.rejected, result.repaired) == (6, 0, 1)
    assert rows[1]["name"] == name
    assert json.loads(rows[1]["attributes"])[MARK] is True


@pytest.mark.parametrize(
    "bad",
    [b"\xe2\x82", b"\xf0\x9f\x98", b"\xe2\x82\xff", b"\xc0\xaf", b"\xed\xa0\x80"],
    ids=["cut-short", "cut-short-4", "cut-then-stray", "overlong", "encoded-surrogate"],
)
def test_every_decoder_gives_one_replacement_for_each_invalid_sequence(bad: bytes) -> None:
    """JSON gave one U+FFFD for each invalid byte (surrogateescape), protobuf one for each
    invalid sequence (errors="replace"): the same bytes were stored as two texts."""
    spoiled = (b"N" + bad).ljust(len(NAME), b"-")
    body = _request().SerializeToString().replace(NAME, spoiled)
    text = protobuf_to_json(_request().SerializeToString()).encode().replace(NAME, spoiled)
    names = {
        decode.__name__: _decode(decode, text if decode in JSON_DECODERS else body)[1][1]["name"]
        for decode in [*PB_DECODERS, *JSON_DECODERS]
    }
    assert set(names.values()) == {spoiled.decode("utf-8", "replace")}, names


def test_the_flat_decoders_give_the_general_result() -> None:
    body = _request().SerializeToString().replace(NAME, b"NAME-T\xff-SPOIL")
    text = protobuf_to_json(_request().SerializeToString()).encode()
    text = text.replace(NAME, b"NAME-T\xff-SPOIL")
    assert _decode(decode_flat, body) == _decode(decode_protobuf, body)
    assert _decode(decode_json_flat, text) == _decode(decode_json, text)


def test_a_repaired_span_rejected_for_another_reason_is_not_counted_as_kept() -> None:
    request = _request()
    request.resource_spans[0].scope_spans[0].spans[1].trace_id = b"\x01" * 15
    body = request.SerializeToString().replace(NAME, b"NAME-T\xff-SPOIL")
    for decode in PB_DECODERS:
        result, rows = _decode(decode, body)
        assert (result.accepted, result.rejected, result.repaired) == (5, 1, 0)
        assert "spans[1].traceId: 15 bytes, want 16" in result.error_message
    text = protobuf_to_json(request.SerializeToString()).encode()
    text = text.replace(NAME, b"NAME-T\xff-SPOIL")
    for decode in JSON_DECODERS:
        result, rows = _decode(decode, text)
        assert (result.accepted, result.rejected, result.repaired) == (5, 1, 0)


@pytest.mark.parametrize(
    ("body", "message"),
    [
        # Malformed for another reason as well: refused with the message it had.
        (
            _request().SerializeToString().replace(NAME, b"NAME-T\xff-SPOIL")[:-3],
            "not an OTLP protobuf ExportTraceServiceRequest",
        ),
        (sample_request(3).SerializeToString()[:-3], "truncated or malformed"),
    ],
)
def test_a_protobuf_malformed_otherwise_is_refused_as_before(body: bytes, message: str) -> None:
    for decode in PB_DECODERS:
        with pytest.raises(OtlpError, match=message):
            decode(body, SpanBatchBuilder())


@pytest.mark.parametrize(
    ("body", "message"),
    [
        (b'{"a": "\xff"}', r"not UTF-8 text \(byte 7\)"),
        (b'{"resourceSpans": [\xff', r"not UTF-8 text \(byte 19\)"),
        (b"\xff\xfe not JSON", r"not UTF-8 text \(byte 10\)"),  # read as UTF-16 (its BOM)
    ],
)
def test_a_json_body_malformed_otherwise_is_refused_as_before(body: bytes, message: str) -> None:
    for decode in JSON_DECODERS:
        with pytest.raises(OtlpError, match=message):
            decode(body, SpanBatchBuilder())


@pytest.mark.parametrize("json_format", [False, True])
def test_the_response_is_a_partial_success_with_nothing_rejected(json_format: bool) -> None:
    body = _request().SerializeToString().replace(NAME, b"NAME-T\xff-SPOIL")
    result, _ = _decode(decode_protobuf, body)
    answer = response_body(result, json_format=json_format)
    if json_format:
        partial = json.loads(answer)["partialSuccess"]
        rejected, message = int(partial["rejectedSpans"]), partial["errorMessage"]
    else:
        parsed = ExportTraceServiceResponse.FromString(answer).partial_success
        rejected, message = parsed.rejected_spans, parsed.error_message
    assert rejected == 0
    assert message == (
        "invalid UTF-8 replaced by U+FFFD in 1 span, kept with seamscope.invalid_utf8 = true: "
        "resourceSpans[0].scopeSpans[0].spans[1] (name)"
    )
    assert response_body(
        _decode(decode_protobuf, _request().SerializeToString())[0], json_format=json_format
    ) in (b"", b"{}")


def test_protobuf_to_json_repairs_as_the_decoders_do() -> None:
    """The tee writes what it received as OTLP JSON: it refused such a request."""
    body = _request().SerializeToString().replace(NAME, b"NAME-T\xff-SPOIL")
    obj = json.loads(protobuf_to_json(body))
    span = obj["resourceSpans"][0]["scopeSpans"][0]["spans"][1]
    assert span["name"] == "NAME-T\ufffd-SPOIL"
    assert {"key": MARK, "value": {"boolValue": True}} in span["attributes"]


def _snake_case(value: Any) -> Any:
    """The request with the keys that have a snake_case form written so (accepted too)."""
    keys = {"resourceSpans": "resource_spans", "scopeSpans": "scope_spans"}
    if isinstance(value, dict):
        return {keys.get(k, k): _snake_case(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_snake_case(v) for v in value]
    return value


@pytest.mark.parametrize("keys", ["camelCase", "snake_case"])
@pytest.mark.parametrize(
    ("placeholder", "bad"),
    [
        (NAME, b"NAME-T\xff-SPOIL"),
        (VALUE, b"VALUE-\xe2\x82-SPOIL"),
        (RESOURCE, b"RESOURCE-\xed\xa0\x80-SPOIL"),
        (NAME, b"NAME\\udc80"),
    ],
    ids=["name", "attribute", "resource", "escaped-surrogate"],
)
def test_a_json_request_copied_by_load_repaired_reads_as_the_spans_stored(
    placeholder: bytes, bad: bytes, keys: str
) -> None:
    """The tee's copy of a JSON request carried the repaired text without the mark: read
    again, its spans lacked seamscope.invalid_utf8."""
    obj = json.loads(protobuf_to_json(_request().SerializeToString()))
    text = json.dumps(_snake_case(obj) if keys == "snake_case" else obj).encode()
    body = text.replace(placeholder, bad)
    stored = _decode(decode_json, body)
    copy = json.dumps(load_repaired(body), ensure_ascii=False).encode()
    again = _decode(decode_json, copy)
    assert stored[0].repaired > 0 and again[0].repaired == 0
    assert again[1] == stored[1]
