"""OTLP trace export requests (protobuf or JSON) -> SpanBatchBuilder rows, and protobuf -> JSON.

Validation is strict and located: a span with a bad id, a missing field, a value of the wrong
type or text that is not valid UTF-8 is rejected and counted (OTLP partial success) with a
message such as ``resourceSpans[0].scopeSpans[1].spans[7].traceId: 30 hex digits, want 32``;
the valid spans of the same request are kept. A body that does not parse at all raises
OtlpError. The JSON side follows the OTLP JSON mapping (hex ids, enums as ints or names,
int64 as strings or numbers, lowerCamelCase keys; snake_case keys are accepted too).
"""

from __future__ import annotations

import base64
import binascii
import json
import math
import re
from dataclasses import dataclass, field
from typing import Any

from google.protobuf.message import DecodeError  # type: ignore[import-untyped]
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import (
    ExportTraceServiceRequest,
    ExportTraceServiceResponse,
)

from seamscope.tracer.errors import SeamscopeError
from seamscope.tracer.rows import (
    KINDS,
    REDACTED,
    STATUS_CODES,
    SpanBatchBuilder,
    redact_attributes,
)

MAX_DEPTH = 16
"""How deeply array/kvlist attribute values may nest before the span is rejected."""
MAX_MESSAGES = 10
"""Located messages kept per request; the rest are only counted."""
MAX_VALUE_CHARS = 1_000_000
"""Longest string value (attribute, name) a span may carry; longer ones reject the span."""
_MAX_NS = 2**63 - 1

_HEX32 = re.compile(r"[0-9a-fA-F]{32}")
_HEX16 = re.compile(r"[0-9a-fA-F]{16}")
_SURROGATE_ESCAPE = re.compile(rb"\\u[dD][89a-fA-F]")
_KIND_BY_NAME = {f"SPAN_KIND_{k}": i for i, k in enumerate(KINDS)}
_STATUS_BY_NAME = {f"STATUS_CODE_{s}": i for i, s in enumerate(STATUS_CODES)}
_ZERO_TRACE = b"\x00" * 16
_ZERO_SPAN = b"\x00" * 8


_UNPRINTABLE = re.compile("[\x00-\x1f\x7f\ud800-\udfff]")


def one_line(text: str) -> str:
    """text with control characters and lone surrogates escaped: messages stay one line."""
    return _UNPRINTABLE.sub(lambda m: f"\\u{ord(m.group()):04x}", text)


class OtlpError(SeamscopeError):
    """The body as a whole is no OTLP trace export request."""

    def __init__(self, message: str) -> None:
        super().__init__(one_line(message))


class _Reject(Exception):
    """One span (or one resource's spans) cannot be stored; the message is located."""


@dataclass(slots=True)
class DecodeResult:
    """What one request gave: spans added to the builder, spans rejected and why."""

    accepted: int = 0
    rejected: int = 0
    messages: list[str] = field(default_factory=list)

    def reject(self, count: int, message: str) -> None:
        self.rejected += count
        if len(self.messages) < MAX_MESSAGES:
            self.messages.append(one_line(message))

    @property
    def error_message(self) -> str:
        """One line naming the first problems, empty when nothing was rejected."""
        if not self.rejected:
            return ""
        text = "; ".join(self.messages)
        if self.rejected > len(self.messages):
            text += f" ({self.rejected} spans rejected in all)"
        return text


# ---------------------------------------------------------------------------------------------
# Protobuf


def _text(value: str, path: str) -> str:
    if len(value) > MAX_VALUE_CHARS:
        raise _Reject(f"{path}: a value of {len(value):,} characters, over {MAX_VALUE_CHARS:,}")
    return value


def _pb_value(value: Any, path: str, depth: int) -> Any:
    kind = value.WhichOneof("value")
    if kind is None:
        return None
    if kind == "string_value":
        return _text(value.string_value, path)
    if kind == "int_value" or kind == "bool_value":
        return getattr(value, kind)
    if kind == "double_value":
        number = value.double_value
        return number if math.isfinite(number) else str(number)
    if depth >= MAX_DEPTH:
        raise _Reject(f"{path}: attribute value nested deeper than {MAX_DEPTH} levels")
    if kind == "array_value":
        return [_pb_value(v, path, depth + 1) for v in value.array_value.values]
    if kind == "kvlist_value":
        return {kv.key: _pb_value(kv.value, path, depth + 1) for kv in value.kvlist_value.values}
    return bytes(value.bytes_value)


def _pb_attrs(attributes: Any, path: str) -> dict[str, Any]:
    """A KeyValue list as a dict; the hot path of decoding, so scalars are handled inline.

    A non-empty string_value can only be set when the value is a string, so most attributes
    cost one accessor call and no WhichOneof.
    """
    out: dict[str, Any] = {}
    for kv in attributes:
        value = kv.value
        text = value.string_value
        if text:
            if len(text) > MAX_VALUE_CHARS:
                _text(text, f"{path}.{kv.key}")
            out[kv.key] = text
            continue
        kind = value.WhichOneof("value")
        if kind == "int_value":
            out[kv.key] = value.int_value
        elif kind == "string_value":
            out[kv.key] = ""
        elif kind == "bool_value":
            out[kv.key] = value.bool_value
        elif kind is None:
            out[kv.key] = None
        else:
            out[kv.key] = _pb_value(value, f"{path}.{kv.key}", 0)
    return out


def decode_protobuf(body: bytes, builder: SpanBatchBuilder) -> DecodeResult:
    """Adds the valid spans of a protobuf ExportTraceServiceRequest to builder."""
    try:
        request = ExportTraceServiceRequest.FromString(body)
    except DecodeError as exc:
        text = str(exc)
        if "String field" in text:
            reason = text.rsplit(": ", 1)[-1]
        elif "MaxDepth" in text:
            reason = "nested too deeply"
        else:
            reason = "truncated or malformed"
        raise OtlpError(
            f"not an OTLP protobuf ExportTraceServiceRequest ({len(body)} bytes): {reason}"
        ) from None
    return add_protobuf_request(request, builder)


def add_protobuf_request(request: Any, builder: SpanBatchBuilder) -> DecodeResult:
    """Adds the valid spans of a parsed ExportTraceServiceRequest to builder."""
    result = DecodeResult()
    add = builder.add
    kinds = KINDS
    statuses = STATUS_CODES
    for ri, rs in enumerate(request.resource_spans):
        rpath = f"resourceSpans[{ri}]"
        try:
            if not rs.HasField("resource"):
                raise _Reject(f"{rpath}.resource: missing")
            resource = _pb_attrs(rs.resource.attributes, f"{rpath}.resource.attributes")
        except _Reject as exc:
            count = sum(len(ss.spans) for ss in rs.scope_spans)
            result.reject(count, str(exc))
            continue
        for si, ss in enumerate(rs.scope_spans):
            scope_name = ss.scope.name if ss.HasField("scope") else None
            for pi, span in enumerate(ss.spans):
                try:
                    trace_id = span.trace_id
                    span_id = span.span_id
                    parent = span.parent_span_id
                    if len(trace_id) != 16 or trace_id == _ZERO_TRACE:
                        raise _Reject(_id_problem("traceId", trace_id, 16))
                    if len(span_id) != 8 or span_id == _ZERO_SPAN:
                        raise _Reject(_id_problem("spanId", span_id, 8))
                    if parent and len(parent) != 8:
                        raise _Reject(_id_problem("parentSpanId", parent, 8))
                    start = span.start_time_unix_nano
                    end = span.end_time_unix_nano
                    if not 0 < start <= _MAX_NS:
                        raise _Reject(f"startTimeUnixNano: {start} is not a time")
                    if not start <= end <= _MAX_NS:
                        raise _Reject(f"endTimeUnixNano: {end} is before the start {start}")
                    kind = span.kind
                    if not 0 <= kind < len(kinds):
                        raise _Reject(f"kind: {kind} is not a span kind")
                    status = span.status
                    code = status.code
                    if not 0 <= code < len(statuses):
                        raise _Reject(f"status.code: {code} is not a status code")
                    attributes = _pb_attrs(span.attributes, "attributes")
                    span_events = span.events
                    events = (
                        [
                            {
                                "name": e.name,
                                "time_unix_nano": e.time_unix_nano,
                                "attributes": _pb_attrs(e.attributes, f"events[{ei}].attributes"),
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
                                "trace_id": link.trace_id.hex(),
                                "span_id": link.span_id.hex(),
                                "attributes": _pb_attrs(link.attributes, f"links[{li}].attributes"),
                            }
                            for li, link in enumerate(span_links)
                        ]
                        if span_links
                        else ()
                    )
                    name = span.name
                    if len(name) > MAX_VALUE_CHARS:
                        _text(name, "name")
                except _Reject as exc:
                    result.reject(1, f"{rpath}.scopeSpans[{si}].spans[{pi}].{exc}")
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
    return result


def _id_problem(name: str, value: bytes, want: int) -> str:
    if len(value) == want:
        return f"{name}: all zeros, not a valid id"
    if not value:
        return f"{name}: missing"
    return f"{name}: {len(value)} bytes, want {want}"


# ---------------------------------------------------------------------------------------------
# JSON


def _get(obj: dict[str, Any], camel: str, snake: str | None = None) -> Any:
    value = obj.get(camel)
    if value is None and snake is not None:
        value = obj.get(snake)
    return value


def _type_name(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, (int, float)):
        return "a number"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, list):
        return "an array"
    return "an object"


def _want_str(value: Any, path: str) -> str:
    if not isinstance(value, str):
        raise _Reject(f"{path}: {_type_name(value)}, want a string")
    return _text(value, path)


def _json_int(value: Any, path: str) -> int:
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    if isinstance(value, str) and value.lstrip("-").isdigit() and value.isascii():
        return int(value)
    if isinstance(value, float) and value.is_integer():
        return int(value)
    raise _Reject(f"{path}: {_type_name(value)} {str(value)[:40]!r}, want an integer")


def _json_time(obj: dict[str, Any], camel: str, snake: str, path: str) -> int:
    raw = _get(obj, camel, snake)
    if type(raw) is str and raw.isdigit() and raw.isascii():
        value = int(raw)
    elif raw is None:
        raise _Reject(f"{path}{camel}: missing")
    else:
        value = _json_int(raw, path + camel)
    if not 0 < value <= _MAX_NS:
        raise _Reject(f"{path}{camel}: {value} is not a time")
    return value


def _json_double(value: Any, path: str) -> Any:
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        number = float(value)
        return number if math.isfinite(number) else str(number)
    if value in ("NaN", "Infinity", "-Infinity"):
        return value
    if isinstance(value, str):
        try:
            return float(value)
        except ValueError:
            pass
    raise _Reject(f"{path}: {_type_name(value)}, want a number")


def _json_value(value: Any, path: str, depth: int) -> Any:
    if not isinstance(value, dict):
        raise _Reject(f"{path}: {_type_name(value)}, want an AnyValue object")
    if not value:
        return None
    if len(value) != 1:
        raise _Reject(f"{path}: {len(value)} keys, an AnyValue has one")
    key, inner = next(iter(value.items()))
    if key in ("stringValue", "string_value"):
        return _want_str(inner, f"{path}.{key}")
    if key in ("intValue", "int_value"):
        return _json_int(inner, f"{path}.{key}")
    if key in ("boolValue", "bool_value"):
        if not isinstance(inner, bool):
            raise _Reject(f"{path}.{key}: {_type_name(inner)}, want true or false")
        return inner
    if key in ("doubleValue", "double_value"):
        return _json_double(inner, f"{path}.{key}")
    if key in ("bytesValue", "bytes_value"):
        try:
            return base64.b64decode(_want_str(inner, f"{path}.{key}"), validate=True)
        except (binascii.Error, ValueError):
            raise _Reject(f"{path}.{key}: not base64") from None
    if key in ("arrayValue", "array_value", "kvlistValue", "kvlist_value"):
        if depth >= MAX_DEPTH:
            raise _Reject(f"{path}: attribute value nested deeper than {MAX_DEPTH} levels")
        if not isinstance(inner, dict):
            raise _Reject(f"{path}.{key}: {_type_name(inner)}, want an object")
        values = inner.get("values") or []
        if not isinstance(values, list):
            raise _Reject(f"{path}.{key}.values: {_type_name(values)}, want an array")
        if key.startswith("array"):
            return [
                _json_value(v, f"{path}.{key}.values[{i}]", depth + 1) for i, v in enumerate(values)
            ]
        return _json_kvlist(values, f"{path}.{key}.values", depth + 1)
    raise _Reject(f"{path}: unknown AnyValue field {key[:40]!r}")


def _json_kvlist(values: Any, path: str, depth: int = 0) -> dict[str, Any]:
    """A KeyValue array as a dict; common scalar shapes inline (the hot path of ingest)."""
    if values is None:
        return {}
    if type(values) is not list:
        raise _Reject(f"{path}: {_type_name(values)}, want an array")
    out: dict[str, Any] = {}
    for i, kv in enumerate(values):
        if type(kv) is not dict:
            raise _Reject(f"{path}[{i}]: {_type_name(kv)}, want a key/value object")
        key = kv.get("key")
        if type(key) is not str:
            raise _Reject(f"{path}[{i}].key: {_type_name(key)}, want a string")
        value = kv.get("value")
        if type(value) is dict and len(value) == 1:
            ((kind, inner),) = value.items()
            if kind == "stringValue":
                if type(inner) is str and len(inner) <= MAX_VALUE_CHARS:
                    out[key] = inner
                    continue
            elif kind == "intValue":
                if type(inner) is int:
                    out[key] = inner
                    continue
                if type(inner) is str and inner.isdigit() and inner.isascii():
                    out[key] = int(inner)
                    continue
            elif kind == "boolValue":
                if type(inner) is bool:
                    out[key] = inner
                    continue
        if value is None:
            out[key] = None
        else:
            out[key] = _json_value(value, f"{path}[{i}].value", depth)
    return out


def _json_id(
    obj: dict[str, Any], camel: str, snake: str, pattern: re.Pattern[str], required: bool
) -> str | None:
    value = _get(obj, camel, snake)
    if value is None or value == "":
        if required:
            raise _Reject(f"{camel}: missing")
        return None
    if not isinstance(value, str):
        raise _Reject(f"{camel}: {_type_name(value)}, want a hex string")
    want = 32 if pattern is _HEX32 else 16
    if len(value) != want:
        raise _Reject(f"{camel}: {len(value)} hex digits, want {want}")
    if not pattern.fullmatch(value):
        raise _Reject(f"{camel}: {value[:40]!r} is not hex")
    value = value.lower()
    if required and value.count("0") == want:
        raise _Reject(f"{camel}: all zeros, not a valid id")
    return value


def _json_enum(value: Any, names: dict[str, int], path: str, limit: int) -> int:
    if value is None:
        return 0
    if isinstance(value, str):
        number = names.get(value)
        if number is None:
            raise _Reject(f"{path}: {value[:40]!r} is not one of {', '.join(names)}")
        return number
    if isinstance(value, int) and not isinstance(value, bool) and 0 <= value < limit:
        return value
    raise _Reject(f"{path}: {str(value)[:40]!r} is not valid")


def _check_text(value: Any, path: str) -> None:
    """Rejects lone surrogates (JSON escapes of invalid UTF-8) anywhere in value."""
    if isinstance(value, str):
        try:
            value.encode("utf-8")
        except UnicodeEncodeError:
            raise _Reject(f"{path}: invalid UTF-8 (a lone surrogate escape)") from None
    elif isinstance(value, dict):
        for k, v in value.items():
            _check_text(k, path)
            _check_text(v, path)
    elif isinstance(value, (list, tuple)):
        for v in value:
            _check_text(v, path)


def _json_list(obj: dict[str, Any], camel: str, snake: str, path: str) -> list[Any]:
    value = _get(obj, camel, snake)
    if value is None:
        return []
    if not isinstance(value, list):
        raise OtlpError(f"{path}{camel}: {_type_name(value)}, want an array")
    return value


def parse_json(data: bytes | str) -> Any:
    """json.loads with one-line OtlpError messages for every way it can fail."""
    try:
        return json.loads(data)
    except UnicodeDecodeError as exc:
        raise OtlpError(f"not UTF-8 text (byte {exc.start})") from None
    except json.JSONDecodeError as exc:
        raise OtlpError(f"not JSON: {exc.msg} at line {exc.lineno} column {exc.colno}") from None
    except RecursionError:
        raise OtlpError("JSON nested too deeply") from None


def decode_json(data: bytes | str, builder: SpanBatchBuilder) -> DecodeResult:
    """Adds the valid spans of an OTLP JSON ExportTraceServiceRequest to builder."""
    raw = data.encode("utf-8", "surrogatepass") if isinstance(data, str) else data
    return add_json_request(
        parse_json(data), builder, check_text=bool(_SURROGATE_ESCAPE.search(raw))
    )


def add_json_request(
    obj: Any, builder: SpanBatchBuilder, *, check_text: bool = True
) -> DecodeResult:
    """Adds the valid spans of a parsed OTLP JSON request to builder.

    check_text: look for lone surrogates (decode_json turns it on only when the text has
    \\uD800-\\uDFFF escapes, the one way invalid UTF-8 survives json.loads).
    """
    if not isinstance(obj, dict):
        raise OtlpError(f"the request is {_type_name(obj)}, want an object with resourceSpans")
    unknown = set(obj) - {"resourceSpans", "resource_spans"}
    if unknown and not _get(obj, "resourceSpans", "resource_spans"):
        raise OtlpError(
            f"no resourceSpans in the request (keys: {', '.join(map(repr, sorted(unknown)))[:80]})"
        )
    result = DecodeResult()
    add = builder.add
    for ri, rs in enumerate(_json_list(obj, "resourceSpans", "resource_spans", "")):
        rpath = f"resourceSpans[{ri}]"
        if not isinstance(rs, dict):
            raise OtlpError(f"{rpath}: {_type_name(rs)}, want an object")
        scope_spans = _json_list(rs, "scopeSpans", "scope_spans", rpath + ".")
        for si, ss in enumerate(scope_spans):
            if not isinstance(ss, dict):
                raise OtlpError(f"{rpath}.scopeSpans[{si}]: {_type_name(ss)}, want an object")
            _json_list(ss, "spans", "spans", f"{rpath}.scopeSpans[{si}].")
        try:
            res = rs.get("resource")
            if res is None:
                raise _Reject(f"{rpath}.resource: missing")
            if not isinstance(res, dict):
                raise _Reject(f"{rpath}.resource: {_type_name(res)}, want an object")
            resource = _json_kvlist(res.get("attributes"), f"{rpath}.resource.attributes")
            if check_text:
                _check_text(resource, f"{rpath}.resource.attributes")
        except _Reject as exc:
            result.reject(sum(len(_get(ss, "spans") or []) for ss in scope_spans), str(exc))
            continue
        for si, ss in enumerate(scope_spans):
            spath = f"{rpath}.scopeSpans[{si}]"
            scope = ss.get("scope")
            scope_name = scope.get("name") if isinstance(scope, dict) else None
            if scope_name is not None and not isinstance(scope_name, str):
                scope_name = str(scope_name)
            for pi, span in enumerate(_get(ss, "spans") or ()):
                try:
                    values = _json_span(span, check_text)
                    if check_text and scope_name:
                        _check_text(scope_name, "scope.name")
                except _Reject as exc:
                    result.reject(1, f"{spath}.spans[{pi}].{exc}")
                    continue
                add(resource=resource, scope_name=scope_name or None, **values)
                result.accepted += 1
    return result


def _json_span(span: Any, check_text: bool) -> dict[str, Any]:
    if not isinstance(span, dict):
        raise _Reject(f": {_type_name(span)}, want a span object")
    trace_id = _json_id(span, "traceId", "trace_id", _HEX32, True)
    span_id = _json_id(span, "spanId", "span_id", _HEX16, True)
    parent = _json_id(span, "parentSpanId", "parent_span_id", _HEX16, False)
    name = span.get("name")
    if name is None:
        raise _Reject("name: missing")
    _want_str(name, "name")
    start = _json_time(span, "startTimeUnixNano", "start_time_unix_nano", "")
    end = _json_time(span, "endTimeUnixNano", "end_time_unix_nano", "")
    if end < start:
        raise _Reject(f"endTimeUnixNano: {end} is before the start {start}")
    kind = _json_enum(span.get("kind"), _KIND_BY_NAME, "kind", len(KINDS))
    status = span.get("status") or {}
    if not isinstance(status, dict):
        raise _Reject(f"status: {_type_name(status)}, want an object")
    code = _json_enum(status.get("code"), _STATUS_BY_NAME, "status.code", len(STATUS_CODES))
    message = status.get("message")
    if message is not None:
        _want_str(message, "status.message")
    attributes = _json_kvlist(span.get("attributes"), "attributes")
    events = []
    for ei, e in enumerate(span.get("events") or ()):
        if not isinstance(e, dict):
            raise _Reject(f"events[{ei}]: {_type_name(e)}, want an object")
        events.append(
            {
                "name": _want_str(e.get("name", ""), f"events[{ei}].name"),
                "time_unix_nano": _json_int(
                    _get(e, "timeUnixNano", "time_unix_nano") or 0, f"events[{ei}].timeUnixNano"
                ),
                "attributes": _json_kvlist(e.get("attributes"), f"events[{ei}].attributes"),
            }
        )
    links = []
    for li, link in enumerate(span.get("links") or ()):
        if not isinstance(link, dict):
            raise _Reject(f"links[{li}]: {_type_name(link)}, want an object")
        try:
            link_trace = _json_id(link, "traceId", "trace_id", _HEX32, True)
            link_span = _json_id(link, "spanId", "span_id", _HEX16, True)
        except _Reject as exc:
            raise _Reject(f"links[{li}].{exc}") from None
        links.append(
            {
                "trace_id": link_trace,
                "span_id": link_span,
                "attributes": _json_kvlist(link.get("attributes"), f"links[{li}].attributes"),
            }
        )
    if check_text:
        _check_text(name, "name")
        _check_text(message, "status.message")
        _check_text(attributes, "attributes")
        _check_text(events, "events")
        _check_text(links, "links")
    return {
        "trace_id": trace_id,
        "span_id": span_id,
        "parent_span_id": parent,
        "name": name,
        "kind": KINDS[kind],
        "start_ns": start,
        "end_ns": end,
        "status_code": STATUS_CODES[code],
        "status_message": message or None,
        "attributes": attributes,
        "events": events,
        "links": links,
    }


# ---------------------------------------------------------------------------------------------
# Protobuf -> OTLP JSON (as the Collector's file exporter writes it) and responses


def _any_to_json(value: Any) -> dict[str, Any]:
    kind = value.WhichOneof("value")
    if kind is None:
        return {}
    if kind == "string_value":
        return {"stringValue": value.string_value}
    if kind == "int_value":
        return {"intValue": str(value.int_value)}
    if kind == "bool_value":
        return {"boolValue": value.bool_value}
    if kind == "double_value":
        number = value.double_value
        return {"doubleValue": number if math.isfinite(number) else str(number)}
    if kind == "bytes_value":
        return {"bytesValue": base64.b64encode(value.bytes_value).decode("ascii")}
    if kind == "array_value":
        return {"arrayValue": {"values": [_any_to_json(v) for v in value.array_value.values]}}
    return {"kvlistValue": {"values": _kvs_to_json(value.kvlist_value.values)}}


def _kvs_to_json(kvs: Any) -> list[dict[str, Any]]:
    return [{"key": kv.key, "value": _any_to_json(kv.value)} for kv in kvs]


def _span_to_json(span: Any) -> dict[str, Any]:
    out: dict[str, Any] = {
        "traceId": span.trace_id.hex(),
        "spanId": span.span_id.hex(),
    }
    if span.trace_state:
        out["traceState"] = span.trace_state
    if span.parent_span_id:
        out["parentSpanId"] = span.parent_span_id.hex()
    if span.flags:
        out["flags"] = span.flags
    out["name"] = span.name
    out["kind"] = span.kind
    out["startTimeUnixNano"] = str(span.start_time_unix_nano)
    out["endTimeUnixNano"] = str(span.end_time_unix_nano)
    out["attributes"] = _kvs_to_json(span.attributes)
    if span.events:
        out["events"] = [
            {
                "timeUnixNano": str(e.time_unix_nano),
                "name": e.name,
                "attributes": _kvs_to_json(e.attributes),
            }
            for e in span.events
        ]
    if span.links:
        out["links"] = [
            {
                "traceId": link.trace_id.hex(),
                "spanId": link.span_id.hex(),
                "attributes": _kvs_to_json(link.attributes),
            }
            for link in span.links
        ]
    status: dict[str, Any] = {}
    if span.status.message:
        status["message"] = span.status.message
    if span.status.code:
        status["code"] = span.status.code
    out["status"] = status
    return out


def request_to_json(request: Any) -> dict[str, Any]:
    """A parsed ExportTraceServiceRequest as an OTLP JSON object (hex ids, camelCase)."""
    resource_spans = []
    for rs in request.resource_spans:
        entry: dict[str, Any] = {}
        if rs.HasField("resource"):
            entry["resource"] = {"attributes": _kvs_to_json(rs.resource.attributes)}
        scope_spans = []
        for ss in rs.scope_spans:
            scope_entry: dict[str, Any] = {}
            if ss.HasField("scope"):
                scope: dict[str, Any] = {"name": ss.scope.name}
                if ss.scope.version:
                    scope["version"] = ss.scope.version
                scope_entry["scope"] = scope
            scope_entry["spans"] = [_span_to_json(s) for s in ss.spans]
            if ss.schema_url:
                scope_entry["schemaUrl"] = ss.schema_url
            scope_spans.append(scope_entry)
        entry["scopeSpans"] = scope_spans
        if rs.schema_url:
            entry["schemaUrl"] = rs.schema_url
        resource_spans.append(entry)
    return {"resourceSpans": resource_spans}


def redact_json_request(obj: Any) -> Any:
    """Replaces secrets in the string attributes of an OTLP JSON request, in place.

    The same rule as the store's (rows.redact_attributes), so a tee file or a sample trace
    written from received requests carries no more secrets than the store does.
    """
    if isinstance(obj, dict):
        for name, value in obj.items():
            if name == "attributes" and isinstance(value, list):
                _redact_kvs(value)
            else:
                redact_json_request(value)
    elif isinstance(obj, list):
        for value in obj:
            redact_json_request(value)
    return obj


def _redact_kvs(kvs: list[Any]) -> None:
    for kv in kvs:
        if not isinstance(kv, dict) or not isinstance(kv.get("key"), str):
            continue
        value = kv.get("value")
        if isinstance(value, dict) and isinstance(value.get("stringValue"), str):
            cleaned = redact_attributes({kv["key"]: value["stringValue"]})[kv["key"]]
            if cleaned != value["stringValue"]:
                kv["value"] = {"stringValue": cleaned}
        elif (
            isinstance(value, dict) and value and redact_attributes({kv["key"]: 0})[kv["key"]] != 0
        ):
            kv["value"] = {"stringValue": REDACTED}
        else:
            redact_json_request(value)


def protobuf_to_json(body: bytes, *, redact: bool = False) -> str:
    """A protobuf request body as one line of OTLP JSON; raises OtlpError if it does not parse."""
    try:
        request = ExportTraceServiceRequest.FromString(body)
    except DecodeError:
        raise OtlpError(
            f"not an OTLP protobuf ExportTraceServiceRequest ({len(body)} bytes)"
        ) from None
    obj = request_to_json(request)
    if redact:
        redact_json_request(obj)
    return json.dumps(obj, separators=(",", ":"), ensure_ascii=False)


def response_body(result: DecodeResult | None, *, json_format: bool) -> bytes:
    """The ExportTraceServiceResponse, with partial_success when spans were rejected."""
    rejected = result.rejected if result is not None else 0
    message = result.error_message if result is not None else ""
    if json_format:
        body: dict[str, Any] = {}
        if rejected or message:
            body["partialSuccess"] = {"rejectedSpans": str(rejected), "errorMessage": message}
        return json.dumps(body).encode()
    response = ExportTraceServiceResponse()
    if rejected or message:
        response.partial_success.rejected_spans = rejected
        response.partial_success.error_message = message
    data: bytes = response.SerializeToString()
    return data
