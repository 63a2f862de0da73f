"""OTLP protobuf ExportTraceServiceRequest -> SpanBatchBuilder rows (see common for the rules)."""

from __future__ import annotations

import math
from typing import Any

from google.protobuf.message import DecodeError  # type: ignore[import-untyped]
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest

from seamscope.tracer.otlp.common import (
    MAX_DEPTH,
    MAX_NS,
    MAX_VALUE_CHARS,
    DecodeResult,
    OtlpError,
    Reject,
    Tally,
    bounded,
)
from seamscope.tracer.otlp.utf8 import Repairs, repair_protobuf
from seamscope.tracer.rows import KINDS, STATUS_CODES, SpanBatchBuilder

_ZERO_TRACE = b"\x00" * 16
_ZERO_SPAN = b"\x00" * 8


def _pb_value(value: Any, path: str, depth: int, tally: Tally) -> Any:
    kind = value.WhichOneof("value")
    if kind is None:
        tally.empty_values()
        return None
    if kind == "string_value":
        return bounded(value.string_value, path)
    if kind == "int_value" or kind == "bool_value":
        return getattr(value, kind)
    if kind == "double_value":
        number = value.double_value
        return number if math.isfinite(number) else str(number)
    if depth >= MAX_DEPTH:
        raise Reject(f"{path}: attribute value nested deeper than {MAX_DEPTH} levels")
    if kind == "array_value":
        return [_pb_value(v, path, depth + 1, tally) for v in value.array_value.values]
    if kind == "kvlist_value":
        out: dict[str, Any] = {}
        for kv in value.kvlist_value.values:
            key = kv.key
            if not key and kv.value.WhichOneof("value") is not None:
                tally.empty_values()  # (without a value too, _pb_value counts it)
            out[key] = _pb_value(kv.value, path, depth + 1, tally)
        return out
    return bytes(value.bytes_value)


def _pb_attrs(attributes: Any, path: str, tally: Tally) -> dict[str, Any]:
    """A KeyValue list as a dict; the hot path of decoding, so scalars are handled inline.
    Attributes without a key or a value are counted (tally).

    A non-empty string_value can only be set when the value is a string, so most attributes
    cost one accessor call and no WhichOneof.
    """
    out: dict[str, Any] = {}
    for kv in attributes:
        value = kv.value
        text = value.string_value
        key = kv.key
        if text and key:
            if len(text) > MAX_VALUE_CHARS:
                bounded(text, f"{path}.{key}")
            out[key] = text
            continue
        kind = value.WhichOneof("value")
        if not key or kind is None:
            tally.empty_values()
        if text:
            if len(text) > MAX_VALUE_CHARS:
                bounded(text, f"{path}.{key}")
            out[key] = text
        elif kind == "int_value":
            out[key] = value.int_value
        elif kind == "string_value":
            out[key] = ""
        elif kind == "bool_value":
            out[key] = value.bool_value
        elif kind is None:
            out[key] = None
        else:
            out[key] = _pb_value(value, f"{path}.{key}", 0, tally)
    return out


def decode_protobuf(body: bytes, builder: SpanBatchBuilder) -> DecodeResult:
    """Adds the valid spans of a protobuf ExportTraceServiceRequest to builder, walking every
    attribute (otlp.flat's decoder is quicker and gives the same). A request refused only for
    invalid UTF-8 is read repaired (otlp.utf8), its spans kept."""
    try:
        request = ExportTraceServiceRequest.FromString(body)
    except DecodeError as exc:
        fixed = repair_protobuf(body) if "UTF-8" in str(exc) else None
        if fixed is None:
            raise _parse_error(body, exc) from None
        try:
            request = ExportTraceServiceRequest.FromString(fixed[0])
        except DecodeError:
            raise _parse_error(body, exc) from None
        return add_protobuf_request(request, builder, fixed[1])
    return add_protobuf_request(request, builder)


def parse_request(body: bytes) -> Any:
    """The ExportTraceServiceRequest in body; OtlpError says why it does not parse."""
    try:
        return ExportTraceServiceRequest.FromString(body)
    except DecodeError as exc:
        raise _parse_error(body, exc) from None


def _parse_error(body: bytes, exc: DecodeError) -> OtlpError:
    text = str(exc)
    if "String field" in text:
        reason = text.rsplit(": ", 1)[-1]
    elif "MaxDepth" in text:
        reason = "nested too deeply"
    else:
        reason = "truncated or malformed"
    return OtlpError(
        f"not an OTLP protobuf ExportTraceServiceRequest ({len(body)} bytes): {reason}"
    )


def add_protobuf_request(
    request: Any, builder: SpanBatchBuilder, repairs: Repairs | None = None
) -> DecodeResult:
    """Adds the valid spans of a parsed ExportTraceServiceRequest to builder. repairs: the
    spans whose text otlp.utf8 repaired, counted as such when they are kept. OtlpError when it
    holds more than a decoder should walk (Tally)."""
    result = DecodeResult()
    add = builder.add
    kinds = KINDS
    statuses = STATUS_CODES
    tally = Tally()
    for ri, rs in enumerate(request.resource_spans):
        if not rs.scope_spans:
            tally.empty_group()
            continue
        rpath = f"resourceSpans[{ri}]"
        try:
            # Not set: "no resource info is known" (the OTLP proto); an unset message reads as
            # an empty one, so the spans carry no service (the classifier's unknown-service).
            resource = _pb_attrs(rs.resource.attributes, f"{rpath}.resource.attributes", tally)
        except Reject as exc:
            count = sum(len(ss.spans) for ss in rs.scope_spans)
            result.reject(count, str(exc))
            continue
        for si, ss in enumerate(rs.scope_spans):
            if not ss.spans:
                tally.empty_group()
                continue
            scope_name = ss.scope.name if ss.HasField("scope") else None
            for pi, span in enumerate(ss.spans):
                records = len(span.events) + len(span.links)
                if records:
                    tally.add_records(records)
                try:
                    trace_id = span.trace_id
                    span_id = span.span_id
                    parent = span.parent_span_id
                    if len(trace_id) != 16 or trace_id == _ZERO_TRACE:
                        raise Reject(_id_problem("traceId", trace_id, 16))
                    if len(span_id) != 8 or span_id == _ZERO_SPAN:
                        raise Reject(_id_problem("spanId", span_id, 8))
                    if parent and len(parent) != 8:
                        raise Reject(_id_problem("parentSpanId", parent, 8))
                    start = span.start_time_unix_nano
                    end = span.end_time_unix_nano
                    if not 0 < start <= MAX_NS:
                        raise Reject(f"startTimeUnixNano: {start} is not a time")
                    if not start <= end <= MAX_NS:
                        raise Reject(f"endTimeUnixNano: {end} is before the start {start}")
                    kind = span.kind
                    if not 0 <= kind < len(kinds):
                        raise Reject(f"kind: {kind} is not a span kind")
                    status = span.status
                    code = status.code
                    if not 0 <= code < len(statuses):
                        raise Reject(f"status.code: {code} is not a status code")
                    attributes = _pb_attrs(span.attributes, "attributes", tally)
                    span_events = span.events
                    events = (
                        [
                            {
                                "name": e.name,
                                "time_unix_nano": e.time_unix_nano,
                                "attributes": _pb_attrs(
                                    e.attributes, f"events[{ei}].attributes", tally
                                ),
                            }
                            for ei, e in enumerate(span_events)
                        ]
                        if span_events
                        else ()
                    )
                    span_links = span.links
                    links = (
                        [
                            {
                                "trace_id": _link_id(link.trace_id, li, "traceId", 16),
                                "span_id": _link_id(link.span_id, li, "spanId", 8),
                                "attributes": _pb_attrs(
                                    link.attributes, f"links[{li}].attributes", tally
                                ),
                            }
                            for li, link in enumerate(span_links)
                        ]
                        if span_links
                        else ()
                    )
                    name = span.name
                    if len(name) > MAX_VALUE_CHARS:
                        bounded(name, "name")
                except Reject as exc:
                    result.reject(1, f"{rpath}.scopeSpans[{si}].spans[{pi}].{exc}")
                    tally.span_rejected(result)
                    continue
                add(
                    trace_id=trace_id.hex(),
                    span_id=span_id.hex(),
                    parent_span_id=parent.hex() if parent else None,
                    name=name,
                    kind=kinds[kind],
                    start_ns=start,
                    end_ns=end,
                    status_code=statuses[code],
                    status_message=status.message or None,
                    attributes=attributes,
                    resource=resource,
                    scope_name=scope_name or None,
                    events=events,
                    links=links,
                )
                result.accepted += 1
                if repairs is not None and (ri, si, pi) in repairs:
                    result.repair(f"{rpath}.scopeSpans[{si}].spans[{pi}] ({repairs[ri, si, pi]})")
    return result


def _link_id(value: bytes, li: int, name: str, want: int) -> str:
    """A link's id as hex: empty when left out (such a link joins nothing, its span stays), and
    refused at any length but its own, as OTLP JSON's hex ids are and as the Collector's
    decoder refuses any id field of another length."""
    if value and len(value) != want:
        raise Reject(f"links[{li}].{name}: {len(value)} bytes, want {want}")
    return value.hex()


def _id_problem(name: str, value: bytes, want: int) -> str:
    if len(value) == want:
        return f"{name}: all zeros, not a valid id"
    if not value:
        return f"{name}: missing"
    return f"{name}: {len(value)} bytes, want {want}"
