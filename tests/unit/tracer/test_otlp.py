from __future__ import annotations

import json
from typing import Any

import pyarrow as pa
import pytest
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import (
    ExportTraceServiceRequest,
    ExportTraceServiceResponse,
)

from seamscope.tracer.otlp import (
    MAX_DEPTH,
    MAX_VALUE_CHARS,
    OtlpError,
    decode_json,
    decode_protobuf,
    protobuf_to_json,
    response_body,
)
from seamscope.tracer.otlp.encode import redact_json_request
from seamscope.tracer.rows import SpanBatchBuilder
from tests.otlp_sample import sample_request

TRACE = "5b8efff798038103d269b633813fc60c"
SPAN = "eee19b7ec3c1b174"


def _decode_json(obj: Any) -> tuple[Any, pa.Table]:
    builder = SpanBatchBuilder()
    result = decode_json(json.dumps(obj), builder)
    return result, builder.build()


def _request(span: dict[str, Any], resource: dict[str, Any] | None = None) -> dict[str, Any]:
    rs: dict[str, Any] = {
        "resource": resource
        if resource is not None
        else {"attributes": [{"key": "service.name", "value": {"stringValue": "orders-api"}}]},
        "scopeSpans": [{"scope": {"name": "manual"}, "spans": [span]}],
    }
    return {"resourceSpans": [rs]}


def _span(**overrides: Any) -> dict[str, Any]:
    span: dict[str, Any] = {
        "traceId": TRACE,
        "spanId": SPAN,
        "parentSpanId": "",
        "name": "DynamoDB.PutItem",
        "kind": 3,
        "startTimeUnixNano": "1764000000000000000",
        "endTimeUnixNano": "1764000000002500000",
        "attributes": [],
        "status": {},
    }
    span.update(overrides)
    return span


def test_protobuf_and_its_json_form_give_the_same_rows() -> None:
    body = sample_request(30, seed=7).SerializeToString()
    b1, b2 = SpanBatchBuilder(), SpanBatchBuilder()
    r1 = decode_protobuf(body, b1)
    r2 = decode_json(protobuf_to_json(body), b2)
    assert (r1.accepted, r1.rejected, r2.accepted, r2.rejected) == (30, 0, 30, 0)
    t1, t2 = b1.build(), b2.build()
    assert t1.equals(t2)
    row = t1.to_pylist()[1]
    assert row["rpc_service"] == "DynamoDB" and row["db_tables"] == ["Orders"]
    assert row["service_name"] == "svc-0" and row["service_namespace"] == "sys-0"
    assert len(row["trace_id"]) == 32 and len(row["span_id"]) == 16
    assert row["parent_span_id"] is not None and row["duration_ns"] == 2_500_000


def test_json_value_types_enum_names_and_string_ints() -> None:
    attrs = [
        {"key": "s", "value": {"stringValue": "x"}},
        {"key": "i", "value": {"intValue": "9007199254740993"}},
        {"key": "i2", "value": {"intValue": 7}},
        {"key": "d", "value": {"doubleValue": 1.5}},
        {"key": "nan", "value": {"doubleValue": "NaN"}},
        {"key": "b", "value": {"boolValue": True}},
        {"key": "bytes", "value": {"bytesValue": "AQI="}},
        {
            "key": "arr",
            "value": {"arrayValue": {"values": [{"stringValue": "a"}, {"intValue": "2"}]}},
        },
        {
            "key": "kv",
            "value": {"kvlistValue": {"values": [{"key": "k", "value": {"boolValue": False}}]}},
        },
        {"key": "http.response.status_code", "value": {"intValue": "503"}},
        {"key": "empty", "value": {}},
    ]
    span = _span(
        kind="SPAN_KIND_SERVER",
        status={"code": "STATUS_CODE_ERROR", "message": "boom"},
        attributes=attrs,
        traceId=TRACE.upper(),
    )
    result, table = _decode_json(_request(span))
    assert (result.accepted, result.rejected) == (1, 0)
    row = table.to_pylist()[0]
    assert (
        row["kind"] == "SERVER"
        and row["status_code"] == "ERROR"
        and row["status_message"] == "boom"
    )
    assert row["trace_id"] == TRACE and row["http_status_code"] == 503
    assert json.loads(row["attributes"]) == {
        "s": "x",
        "i": 9007199254740993,
        "i2": 7,
        "d": 1.5,
        "nan": "NaN",
        "b": True,
        "bytes": "0102",
        "arr": ["a", 2],
        "kv": {"k": False},
        "http.response.status_code": 503,
        "empty": None,
    }


def test_snake_case_keys_are_accepted() -> None:
    span = {
        "trace_id": TRACE,
        "span_id": SPAN,
        "name": "x",
        "start_time_unix_nano": 1764000000000000000,
        "end_time_unix_nano": 1764000000000000001,
    }
    obj = {"resource_spans": [{"resource": {"attributes": []}, "scope_spans": [{"spans": [span]}]}]}
    result, table = _decode_json(obj)
    assert result.accepted == 1 and table.column("duration_ns").to_pylist() == [1]


@pytest.mark.parametrize(
    ("override", "message"),
    [
        ({"traceId": TRACE[:30]}, "spans[0].traceId: 30 hex digits, want 32"),
        ({"traceId": "0" * 32}, "traceId: all zeros"),
        ({"traceId": "g" * 32}, "traceId: 'gggg"),
        ({"traceId": None}, "traceId: missing"),
        ({"spanId": 12}, "spanId: a number, want a hex string"),
        ({"parentSpanId": "abc"}, "parentSpanId: 3 hex digits, want 16"),
        ({"name": 5}, "name: a number, want a string"),
        ({"startTimeUnixNano": None}, "startTimeUnixNano: missing"),
        ({"startTimeUnixNano": "soon"}, "startTimeUnixNano: a string 'soon', want an integer"),
        ({"endTimeUnixNano": "1"}, "endTimeUnixNano: 1 is before the start"),
        ({"kind": "SPAN_KIND_NOPE"}, "kind: 'SPAN_KIND_NOPE' is not one of"),
        ({"kind": 99}, "kind: '99' is not valid"),
        (
            {"attributes": [{"key": "a", "value": {"intValue": "1.5"}}]},
            "attributes[0].value.intValue",
        ),
        ({"attributes": [{"key": "a", "value": {"stringValue": 1}}]}, "want a string"),
        (
            {"attributes": [{"key": "a", "value": {"fooValue": 1}}]},
            "unknown AnyValue field 'fooValue'",
        ),
        ({"attributes": [{"value": {"stringValue": "x"}}]}, "attributes[0].key: null"),
        ({"attributes": {"a": 1}}, "attributes: an object, want an array"),
        ({"attributes": [{"key": "a", "value": {"bytesValue": "***"}}]}, "not base64"),
    ],
)
def test_a_bad_span_is_rejected_with_a_located_message(
    override: dict[str, Any], message: str
) -> None:
    good = _span(spanId="00000000000000a1")
    bad = _span(**override)
    obj = _request(bad)
    obj["resourceSpans"][0]["scopeSpans"].insert(0, {"spans": [good]})
    result, table = _decode_json(obj)
    assert (result.accepted, result.rejected) == (1, 1)
    assert table.num_rows == 1 and table.column("span_id").to_pylist() == ["00000000000000a1"]
    assert result.error_message.startswith("resourceSpans[0].scopeSpans[1].spans[0].")
    assert message in result.error_message


def test_a_link_without_ids_keeps_its_span_as_in_protobuf() -> None:
    """A link whose ids are left out (an encoder leaves empty bytes out) has the empty ids a
    protobuf body gives: the span is stored, not refused for its link, by both decoders."""
    from seamscope.tracer.otlp.flat_json import decode_json_flat

    request = ExportTraceServiceRequest()
    request.CopyFrom(sample_request(1, services=1))
    link = request.resource_spans[0].scope_spans[0].spans[0].links.add()
    attribute = link.attributes.add()
    attribute.key, attribute.value.string_value = "k", "v"
    pb = SpanBatchBuilder()
    assert decode_protobuf(request.SerializeToString(), pb).accepted == 1
    want = pb.build().column("links").to_pylist()
    assert json.loads(want[0]) == [{"trace_id": "", "span_id": "", "attributes": {"k": "v"}}]
    obj = _request(_span(links=[{"attributes": [{"key": "k", "value": {"stringValue": "v"}}]}]))
    result, table = _decode_json(obj)
    assert (result.accepted, result.rejected) == (1, 0), result.error_message
    assert table.column("links").to_pylist() == want
    flat = SpanBatchBuilder()
    assert decode_json_flat(json.dumps(obj).encode(), flat) == result
    assert flat.build().equals(table)


@pytest.mark.parametrize("how", ["absent", "null"])
def test_a_span_name_left_out_is_the_empty_name_protobuf_gives(how: str) -> None:
    """ "Empty value is equivalent to an unknown span name" (the OTLP proto): a JSON encoder that
    leaves out fields at their defaults sends no name, which is the empty name a protobuf body
    carries; both decoders store it alike."""
    from seamscope.tracer.otlp.flat_json import decode_json_flat

    obj = _request(_span())
    span = obj["resourceSpans"][0]["scopeSpans"][0]["spans"][0]
    if how == "absent":
        del span["name"]
    else:
        span["name"] = None
    result, table = _decode_json(obj)
    assert (result.accepted, result.rejected) == (1, 0), result.error_message
    assert table.column("name").to_pylist() == [""]
    flat = SpanBatchBuilder()
    assert decode_json_flat(json.dumps(obj).encode(), flat) == result
    assert flat.build().equals(table)
    request = ExportTraceServiceRequest()
    request.CopyFrom(sample_request(1, services=1))
    request.resource_spans[0].scope_spans[0].spans[0].name = ""
    pb = SpanBatchBuilder()
    assert decode_protobuf(request.SerializeToString(), pb).accepted == 1
    assert pb.build().column("name").to_pylist() == [""]


@pytest.mark.parametrize("how", ["absent", "null", "empty"])
def test_a_resource_not_set_keeps_its_spans_without_a_service(how: str) -> None:
    """The OTLP proto: "If this field is not set then no resource info is known". The spans are
    stored, with no service (the classifier's unknown-service), by every decoder alike; only a
    resource of the wrong type is refused."""
    from seamscope.tracer.otlp import decode_flat
    from seamscope.tracer.otlp.flat_json import decode_json_flat

    obj = _request(_span())
    if how == "absent":
        del obj["resourceSpans"][0]["resource"]
    else:
        obj["resourceSpans"][0]["resource"] = None if how == "null" else {}
    result, table = _decode_json(obj)
    assert (result.accepted, result.rejected) == (1, 0), result.error_message
    assert table.column("service_name").to_pylist() == [None]
    flat = SpanBatchBuilder()
    assert decode_json_flat(json.dumps(obj).encode(), flat) == result
    assert flat.build().equals(table)
    request = ExportTraceServiceRequest()
    request.CopyFrom(sample_request(2, services=1))
    request.resource_spans[0].ClearField("resource")
    body = request.SerializeToString()
    general, fast = SpanBatchBuilder(), SpanBatchBuilder()
    assert decode_protobuf(body, general) == decode_flat(body, fast)
    rows = general.build()
    assert rows.num_rows == 2 and set(rows.column("service_name").to_pylist()) == {None}
    assert fast.build().equals(rows)
    obj["resourceSpans"][0]["resource"] = "orders-api"
    result, table = _decode_json(obj)
    assert (result.accepted, result.rejected, table.num_rows) == (0, 1, 0)
    assert "resourceSpans[0].resource: a string, want an object" in result.error_message


def test_deep_nesting_is_rejected() -> None:
    value: dict[str, Any] = {"stringValue": "leaf"}
    for _ in range(MAX_DEPTH + 2):
        value = {"arrayValue": {"values": [value]}}
    result, _ = _decode_json(_request(_span(attributes=[{"key": "deep", "value": value}])))
    assert result.rejected == 1 and "nested deeper" in result.error_message


@pytest.mark.parametrize(
    ("body", "message"),
    [
        (b"{not json", "not JSON"),
        (b'{"a": "\xff"}', "not UTF-8"),
        (b"[]", "want an object with resourceSpans"),
        (b'{"foo": 1}', "no resourceSpans"),
        (b'{"resourceSpans": {}}', "resourceSpans: an object, want an array"),
        (b'{"resourceSpans": [1]}', "resourceSpans[0]: a number"),
        (b"[" * 100_000, "nested too deeply"),
    ],
)
def test_a_body_that_is_no_request_raises(body: bytes, message: str) -> None:
    with pytest.raises(OtlpError, match=message.replace("[", r"\[").replace("]", r"\]")):
        decode_json(body, SpanBatchBuilder())


def test_protobuf_rejections_and_errors() -> None:
    request = sample_request(3, services=1)
    spans = request.resource_spans[0].scope_spans[0].spans
    spans[0].trace_id = b"\x01" * 15
    spans[1].span_id = b""
    builder = SpanBatchBuilder()
    result = decode_protobuf(request.SerializeToString(), builder)
    assert (result.accepted, result.rejected) == (1, 2)
    assert (
        "resourceSpans[0].scopeSpans[0].spans[0].traceId: 15 bytes, want 16" in result.error_message
    )
    assert "spans[1].spanId: missing" in result.error_message
    with pytest.raises(OtlpError, match="not an OTLP protobuf"):
        decode_protobuf(sample_request(3).SerializeToString()[:-3], SpanBatchBuilder())
    bad_utf8 = (
        sample_request(2, services=1).SerializeToString().replace(b"DynamoDB", b"Dynamo\xffB")
    )
    # Not refused: repaired and kept (test_otlp_utf8.py).
    result = decode_protobuf(bad_utf8, SpanBatchBuilder())
    assert (result.accepted, result.rejected, result.repaired) == (2, 0, 1)


@pytest.mark.parametrize(
    ("trace_id", "span_id", "kept"),
    [
        (b"\x03" * 16, b"\x04" * 8, True),
        (b"", b"", True),  # left out: a link that joins nothing
        (b"\x03" * 12, b"\x04" * 8, False),
        (b"\x03" * 16, b"\x04" * 4, False),
    ],
)
def test_a_link_id_of_another_length_refuses_its_span_in_both_encodings(
    trace_id: bytes, span_id: bytes, kept: bool
) -> None:
    """Protobuf stored a link id of any length as its hex, where OTLP JSON refuses the span
    (its ids must be 32 and 16 hex digits): both now keep or refuse the same span."""
    from seamscope.tracer.otlp import decode_flat

    request = sample_request(2, services=1)
    request.resource_spans[0].scope_spans[0].spans[1].links.add(trace_id=trace_id, span_id=span_id)
    body = request.SerializeToString()
    want = (2, 0) if kept else (1, 1)
    results = []
    for decode in (decode_protobuf, decode_flat):
        result = decode(body, SpanBatchBuilder())
        assert (result.accepted, result.rejected) == want, result.error_message
        results.append(result)
    assert results[0] == results[1]
    as_json = json.loads(protobuf_to_json(body))
    result, _ = _decode_json(as_json)
    assert (result.accepted, result.rejected) == want, result.error_message
    if not kept:
        assert "spans[1].links[0]." in results[0].error_message
        assert "spans[1].links[0]." in result.error_message


def test_protobuf_to_json_is_the_collector_file_format() -> None:
    request = sample_request(2)
    line = protobuf_to_json(request.SerializeToString())
    assert "\n" not in line
    obj = json.loads(line)
    span = obj["resourceSpans"][0]["scopeSpans"][0]["spans"][0]
    assert span["traceId"] == request.resource_spans[0].scope_spans[0].spans[0].trace_id.hex()
    assert isinstance(span["startTimeUnixNano"], str)
    ints = [a for a in span["attributes"] if "intValue" in a["value"]]
    assert ints and all(isinstance(a["value"]["intValue"], str) for a in ints)


def test_response_bodies_carry_partial_success() -> None:
    builder = SpanBatchBuilder()
    obj = _request(_span(traceId="abc"))
    obj["resourceSpans"][0]["scopeSpans"][0]["spans"].append(_span())
    result = decode_json(json.dumps(obj), builder)
    parsed = ExportTraceServiceResponse.FromString(response_body(result, json_format=False))
    assert parsed.partial_success.rejected_spans == 1
    assert "traceId: 3 hex digits" in parsed.partial_success.error_message
    as_json = json.loads(response_body(result, json_format=True))
    assert as_json["partialSuccess"]["rejectedSpans"] == "1"
    assert response_body(None, json_format=False) == b""
    assert ExportTraceServiceRequest.FromString(b"").resource_spans == []


def test_protobuf_empty_and_zero_values_keep_their_type() -> None:
    from opentelemetry.proto.common.v1.common_pb2 import AnyValue, KeyValue

    request = sample_request(1)
    span = request.resource_spans[0].scope_spans[0].spans[0]
    del span.attributes[:]
    span.attributes.extend(
        [
            KeyValue(key="e", value=AnyValue(string_value="")),
            KeyValue(key="z", value=AnyValue(int_value=0)),
            KeyValue(key="f", value=AnyValue(bool_value=False)),
            KeyValue(key="d", value=AnyValue(double_value=0.0)),
            KeyValue(key="n", value=AnyValue()),
            KeyValue(key="b", value=AnyValue(bytes_value=b"")),
        ]
    )
    builder = SpanBatchBuilder()
    assert decode_protobuf(request.SerializeToString(), builder).accepted == 1
    attributes = json.loads(builder.build().column("attributes")[0].as_py())
    assert attributes == {"e": "", "z": 0, "f": False, "d": 0.0, "n": None, "b": ""}


def test_flat_decoding_takes_plain_requests_itself_and_gives_the_general_rows(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Arrays, maps, doubles, bytes, repeated keys, events, links and secrets are plain: the
    flat path decodes them without the general walk, to the same table."""
    from opentelemetry.proto.common.v1.common_pb2 import AnyValue

    from seamscope.tracer.otlp import decode_flat
    from seamscope.tracer.otlp import flat as flat_module

    request = sample_request(12, seed=21)
    span = request.resource_spans[0].scope_spans[0].spans[0]
    span.attributes.add(key="ratio").value.double_value = float("nan")
    span.attributes.add(key="blob").value.bytes_value = b"\x00\x01"
    span.attributes.add(key="server.port").value.int_value = 9090  # repeated: the last wins
    span.attributes.add(key="http.url").value.string_value = "https://u:pw@h/x?token=abc"
    kvlist = span.attributes.add(key="nested").value.kvlist_value.values.add(key="k")
    kvlist.value.CopyFrom(AnyValue(string_value="v"))
    span.events.add(name="exception", time_unix_nano=7).attributes.add(
        key="exception.message"
    ).value.string_value = "AKIAABCDEFGHIJKLMNOP"
    span.links.add(trace_id=b"\x03" * 16, span_id=b"\x04" * 8).attributes.add(key="n")
    body = request.SerializeToString()
    general = SpanBatchBuilder()
    assert decode_protobuf(body, general).accepted == 12
    expected = general.build()

    def walked(*args: object) -> None:
        raise AssertionError("the general walk was used")

    monkeypatch.setattr(flat_module, "decode_protobuf", walked)
    for _ in range(2):  # the second time with the attributes remembered
        builder = SpanBatchBuilder()
        assert decode_flat(body, builder).accepted == 12
        assert builder.build().equals(expected)
    row = expected.to_pylist()[0]
    assert row["server_port"] == 9090 and "pw" not in row["attributes"]
    assert "AKIA" not in row["span_events"]


def _long_name(span: Any) -> None:
    span.name = "n" * (MAX_VALUE_CHARS + 1)


@pytest.mark.parametrize(
    ("spoil", "message"),
    [
        (lambda s: setattr(s, "trace_id", b"\x01" * 15), "traceId: 15 bytes, want 16"),
        (lambda s: setattr(s, "trace_id", b"\x00" * 16), "traceId: all zeros"),
        (lambda s: setattr(s, "span_id", b""), "spanId: missing"),
        (lambda s: setattr(s, "span_id", b"\x00" * 8), "spanId: all zeros"),
        (lambda s: setattr(s, "parent_span_id", b"\x01" * 5), "parentSpanId: 5 bytes"),
        (lambda s: setattr(s, "start_time_unix_nano", 0), "startTimeUnixNano: 0"),
        (lambda s: setattr(s, "end_time_unix_nano", 1), "is before the start"),
        (lambda s: setattr(s, "kind", 9), "kind: 9 is not a span kind"),
        (lambda s: setattr(s.status, "code", 7), "status.code: 7"),
        (lambda s: s.links.add(trace_id=b"\x03" * 3), "links[0].traceId: 3 bytes, want 16"),
        (
            lambda s: s.links.add(trace_id=b"\x03" * 16, span_id=b"\x04" * 9),
            "links[0].spanId: 9 bytes, want 8",
        ),
        (_long_name, "name: a value of"),
        (
            lambda s: setattr(s.attributes[0].value, "string_value", "v" * (MAX_VALUE_CHARS + 1)),
            "a value of",
        ),
    ],
)
def test_flat_decoding_leaves_rejections_to_the_general_walk(spoil: Any, message: str) -> None:
    from seamscope.tracer.otlp import decode_flat

    request = sample_request(3, services=1)
    spoil(request.resource_spans[0].scope_spans[0].spans[0])
    body = request.SerializeToString()
    builder = SpanBatchBuilder()
    result = decode_flat(body, builder)
    assert (result.accepted, result.rejected) == (2, 1)
    assert "resourceSpans[0].scopeSpans[0].spans[0]." in result.error_message
    assert message in result.error_message
    assert builder.build().num_rows == 2
    general = SpanBatchBuilder()
    assert decode_protobuf(body, general) == result


def test_flat_decoding_leaves_invalid_utf8_to_the_general_walk() -> None:
    from seamscope.tracer.otlp import decode_flat

    body = sample_request(2, services=1).SerializeToString().replace(b"DynamoDB", b"Dynamo\xffB")
    flat, general = SpanBatchBuilder(), SpanBatchBuilder()
    result = decode_flat(body, flat)
    assert result == decode_protobuf(body, general) and result.repaired == 1
    assert flat.build().equals(general.build())


def test_flat_json_takes_the_collectors_form_itself_and_gives_the_general_rows(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from opentelemetry.proto.common.v1.common_pb2 import AnyValue

    from seamscope.tracer.otlp import flat_json
    from seamscope.tracer.otlp.flat_json import decode_json_flat

    request = sample_request(12, seed=23)
    span = request.resource_spans[0].scope_spans[0].spans[0]
    span.attributes.add(key="ratio").value.double_value = 0.25
    span.attributes.add(key="blob").value.bytes_value = b"\x00\x01"
    span.attributes.add(key="server.port").value.int_value = 9090
    span.attributes.add(key="http.url").value.string_value = "https://u:pw@h/x?token=abc"
    span.attributes.add(key="m").value.kvlist_value.values.add(key="k").value.CopyFrom(
        AnyValue(string_value="v")
    )
    span.status.code = 2
    span.status.message = "failed"
    span.events.add(name="exception", time_unix_nano=7).attributes.add(
        key="exception.message"
    ).value.string_value = "AKIAABCDEFGHIJKLMNOP"
    span.links.add(trace_id=b"\x03" * 16, span_id=b"\x04" * 8)
    text = protobuf_to_json(request.SerializeToString()).encode()
    general = SpanBatchBuilder()
    assert decode_json(text, general).accepted == 12
    expected = general.build()

    def walked(*args: object) -> None:
        raise AssertionError("the general walk was used")

    monkeypatch.setattr(flat_json, "decode_json", walked)
    for _ in range(2):  # the second time with the attributes remembered
        builder = SpanBatchBuilder()
        assert decode_json_flat(text, builder).accepted == 12
        assert builder.build().equals(expected)
    row = expected.to_pylist()[0]
    assert row["server_port"] == 9090 and "pw" not in row["attributes"]
    assert row["status_code"] == "ERROR" and "AKIA" not in row["span_events"]


@pytest.mark.parametrize(
    "request_obj",
    [
        {"resourceSpans": [], "other": 1},  # an error, not an empty request
        {"resource_spans": []},
        {"resourceSpans": [{"resource": {}, "scope_spans": [{"spans": [{}]}]}]},
        "parent_span_id",
        "kind_name",
        "int_times",
        "upper_hex",
    ],
)
def test_flat_json_gives_the_general_answer_for_other_forms(request_obj: Any) -> None:
    from seamscope.tracer.otlp.flat_json import decode_json_flat

    if isinstance(request_obj, str):
        obj = json.loads(protobuf_to_json(sample_request(4, seed=2).SerializeToString()))
        span = obj["resourceSpans"][0]["scopeSpans"][0]["spans"][1]
        if request_obj == "parent_span_id":
            span["parent_span_id"] = span.pop("parentSpanId")
        elif request_obj == "kind_name":
            span["kind"] = "SPAN_KIND_SERVER"
        elif request_obj == "int_times":
            span["startTimeUnixNano"] = int(span["startTimeUnixNano"])
        else:
            span["traceId"] = span["traceId"].upper()
        request_obj = obj
    text = json.dumps(request_obj).encode()
    outcomes: list[tuple[Any, Any]] = []
    for decode in (decode_json, decode_json_flat):
        builder = SpanBatchBuilder()
        try:
            result = decode(text, builder)
        except OtlpError as exc:
            outcomes.append(("error", str(exc)))
            continue
        outcomes.append((result, builder.build().to_pylist()))
    assert outcomes[0] == outcomes[1]


def _kv(key: str, value: dict[str, Any]) -> dict[str, Any]:
    return {"key": key, "value": value}


def test_redact_json_request_replaces_secrets_and_nothing_else() -> None:
    """What a tee file or a sample trace keeps of an OTLP JSON request (changed in place)."""
    kept: list[Any] = [
        _kv("service.name", {"stringValue": "svc"}),
        _kv("http.response.status_code", {"intValue": "200"}),
        _kv("url.full", {"stringValue": "https://h/cb?page=2"}),
    ]
    # Entries that are no attribute are passed over, not a reason to stop.
    odd: list[Any] = [{"value": {"stringValue": "an entry without a key"}}, "not an attribute"]
    span = [
        *odd,
        _kv("db.password", {"intValue": "1234"}),
        _kv(
            "http.request.header.authorization", {"arrayValue": {"values": [{"stringValue": "x"}]}}
        ),
        _kv("url.full", {"stringValue": "https://h/cb?token=abc&page=2"}),
        _kv("deployment.api_token", {"stringValue": "tok"}),
    ]
    resource = {"resource": {"attributes": kept}, "scopeSpans": [{"spans": [{"attributes": span}]}]}
    request = {"resourceSpans": [resource]}
    before = json.loads(json.dumps(kept))
    assert redact_json_request(request) is request
    assert kept == before
    assert span == [
        *odd,
        _kv("db.password", {"stringValue": "REDACTED"}),
        # An array keeps its shape, each item redacted (as in the store).
        _kv(
            "http.request.header.authorization",
            {"arrayValue": {"values": [{"stringValue": "REDACTED"}]}},
        ),
        _kv("url.full", {"stringValue": "https://h/cb?token=REDACTED&page=2"}),
        _kv("deployment.api_token", {"stringValue": "REDACTED"}),
    ]


_GONE = {"stringValue": "REDACTED"}


@pytest.mark.parametrize(
    ("key", "value", "expected"),
    [
        ("note", {"stringValue": "password=pw-1"}, {"stringValue": "password=REDACTED"}),
        # A shape the decoders reject is kept only when nothing in it may be a secret.
        ("note", {"weirdValue": "x"}, {"weirdValue": "x"}),
        ("db.password", {"weirdValue": "x"}, _GONE),
        ("note", {"weirdValue": "password=pw-2"}, _GONE),
        ("note", {"arrayValue": "password=pw-3"}, _GONE),
        ("note", {"intValue": "password=pw-4"}, _GONE),
        ("note", {"stringValue": "a", "boolValue": True}, {"stringValue": "a", "boolValue": True}),
        ("note", {"bytesValue": "not base64!"}, {"bytesValue": "not base64!"}),
        (
            "note",
            {"kvlistValue": {"values": [{"value": {"stringValue": "an entry without a key"}}]}},
            _GONE,  # a map may hold anything
        ),
        (
            "note",
            {"kvlistValue": {"values": [{"key": "api_key", "value": {"stringValue": "pw-5"}}]}},
            {"kvlistValue": {"values": [{"key": "api_key", "value": _GONE}]}},
        ),
    ],
)
def test_redact_json_request_reads_each_value_as_the_decoders_do(
    key: str, value: dict[str, Any], expected: dict[str, Any]
) -> None:
    request = {"resourceSpans": [{"scopeSpans": [{"spans": [{"attributes": [_kv(key, value)]}]}]}]}
    redact_json_request(request)
    assert request["resourceSpans"][0]["scopeSpans"][0]["spans"][0]["attributes"] == [
        _kv(key, expected)
    ]


def _kv_raw(value: str) -> bytes:
    from opentelemetry.proto.common.v1.common_pb2 import AnyValue, KeyValue

    data: bytes = KeyValue(key="k", value=AnyValue(string_value=value)).SerializeToString()
    return data


def _kv_text(value: str) -> bytes:
    return b'{"key":"k","value":{"stringValue":"' + value.encode() + b'"}}'


@pytest.mark.parametrize("form", ["protobuf", "json"])
def test_the_flat_decoders_remember_65_536_attributes_of_512_bytes_and_no_more(
    form: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """What bounds the memory of the attributes the flat decoders remember: at most 65,536 of
    them (the next one starts the memory anew), none longer than 512 bytes; and as many
    attributes that hold empty values, apart, each with the number of them."""
    from seamscope.tracer.otlp import flat, flat_json
    from seamscope.tracer.otlp.common import KnownPieces, Tally

    module: Any = flat if form == "protobuf" else flat_json
    make = _kv_raw if form == "protobuf" else _kv_text
    pieces = KnownPieces()
    known, blank = pieces.known, pieces.blank
    monkeypatch.setattr(module, "_pieces", pieces)
    monkeypatch.setattr(module, "_known", known)
    monkeypatch.setattr(module, "_blank", blank)
    if hasattr(module, "_remember"):
        monkeypatch.setattr(module, "_remember", pieces.remember)
    tally = Tally()
    for i in range(65_536):
        module._attribute(make(str(i)), tally)
    assert len(known) == 65_536 and not blank and tally.blank == 0
    module._attribute(make("one more"), tally)
    assert list(known) == [make("one more")]
    known.clear()
    sized = {len(make("x" * n)): make("x" * n) for n in range(600)}
    module._attribute(sized[512], tally)
    module._attribute(sized[513], tally)
    assert list(known) == [sized[512]]
    known.clear()
    no_key = make("v").replace(b"\x0a\x01k", b"") if form == "protobuf" else _kv_text("v")
    no_key = no_key.replace(b'"key":"k"', b'"key":""')
    for _ in range(3):
        module._attribute(no_key, tally)
    assert not known and list(blank) == [no_key] and tally.blank == 3
