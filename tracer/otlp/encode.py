"""Protobuf requests as OTLP JSON (as the Collector's file exporter writes them), the redaction
of JSON requests, and the export responses."""

from __future__ import annotations

import base64
import json
import math
from typing import Any

from google.protobuf.message import DecodeError  # type: ignore[import-untyped]
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import (
    ExportTraceServiceRequest,
    ExportTraceServiceResponse,
)

from seamscope.tracer.otlp.common import DecodeResult, OtlpError
from seamscope.tracer.otlp.utf8 import repair_protobuf
from seamscope.tracer.redact import (
    REDACTED,
    is_secret_key,
    json_may_hold_secret,
    redact_name,
    redact_text,
    redact_value,
)


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
    """Redacts an OTLP JSON request in place, with the store's rule (tracer/redact.py): every
    attribute (nested arrays and maps too), span and event names, status messages.

    So a tee file or a sample trace written from received requests carries no more secrets
    than the store does.
    """
    if isinstance(obj, dict):
        for name, value in obj.items():
            if name == "attributes" and isinstance(value, list):
                _redact_kvs(value)
            elif name == "name" and isinstance(value, str):
                obj[name] = redact_name(value)
            elif name == "message" and isinstance(value, str):
                obj[name] = redact_text(value)
            else:
                redact_json_request(value)
    elif isinstance(obj, list):
        for value in obj:
            redact_json_request(value)
    return obj


class _Opaque:
    """An AnyValue of a shape this walker does not read."""


_OPAQUE = _Opaque()


def _json_any(value: Any) -> Any:
    """An OTLP JSON AnyValue as a plain value (as the decoders read it), or _OPAQUE."""
    if not isinstance(value, dict) or len(value) > 1:
        return _OPAQUE
    if not value:
        return None
    ((kind, inner),) = value.items()
    if kind in ("stringValue", "string_value", "boolValue", "bool_value") and isinstance(
        inner, (str, bool)
    ):
        return inner
    if kind in ("intValue", "int_value"):
        if isinstance(inner, int):
            return inner
        if isinstance(inner, str) and inner.lstrip("-").isdigit():
            return int(inner)
    elif kind in ("doubleValue", "double_value") and isinstance(inner, (int, float, str)):
        return inner
    elif kind in ("bytesValue", "bytes_value") and isinstance(inner, str):
        try:
            return base64.b64decode(inner, validate=True)
        except ValueError:
            return _OPAQUE
    elif kind in ("arrayValue", "array_value") and isinstance(inner, dict):
        items = [_json_any(v) for v in inner.get("values") or []]
        return _OPAQUE if any(i is _OPAQUE for i in items) else items
    elif kind in ("kvlistValue", "kvlist_value") and isinstance(inner, dict):
        out: dict[str, Any] = {}
        for kv in inner.get("values") or []:
            if not isinstance(kv, dict) or not isinstance(kv.get("key"), str):
                return _OPAQUE
            item = _json_any(kv.get("value") or {})
            if item is _OPAQUE:
                return _OPAQUE
            out[kv["key"]] = item
        return out
    return _OPAQUE


def _to_json_any(value: Any) -> dict[str, Any]:
    if value is None:
        return {}
    if isinstance(value, bool):
        return {"boolValue": value}
    if isinstance(value, int):
        return {"intValue": str(value)}
    if isinstance(value, float):
        return {"doubleValue": value if math.isfinite(value) else str(value)}
    if isinstance(value, bytes):
        return {"bytesValue": base64.b64encode(value).decode("ascii")}
    if isinstance(value, (list, tuple)):
        return {"arrayValue": {"values": [_to_json_any(v) for v in value]}}
    if isinstance(value, dict):
        return {
            "kvlistValue": {
                "values": [{"key": k, "value": _to_json_any(v)} for k, v in value.items()]
            }
        }
    return {"stringValue": str(value)}


def _redact_kvs(kvs: list[Any]) -> None:
    for kv in kvs:
        if not isinstance(kv, dict) or not isinstance(kv.get("key"), str):
            continue
        key = kv["key"]
        value = _json_any(kv.get("value"))
        if value is _OPAQUE:
            # A shape the decoders reject anyway: keep nothing that could be a secret.
            if is_secret_key(key) or json_may_hold_secret(json.dumps(kv.get("value"))):
                kv["value"] = {"stringValue": REDACTED}
            continue
        cleaned = redact_value(key, value)
        if cleaned is not value:
            kv["value"] = _to_json_any(cleaned)


def protobuf_to_json(body: bytes, *, redact: bool = False) -> str:
    """A protobuf request body as one line of OTLP JSON, invalid UTF-8 repaired as the decoders
    repair it (otlp.utf8); raises OtlpError if it does not parse."""
    try:
        request = ExportTraceServiceRequest.FromString(body)
    except DecodeError as exc:
        fixed = repair_protobuf(body) if "UTF-8" in str(exc) else None
        try:
            if fixed is None:
                raise DecodeError from None
            request = ExportTraceServiceRequest.FromString(fixed[0])
        except DecodeError:
            raise OtlpError(
                f"not an OTLP protobuf ExportTraceServiceRequest ({len(body)} bytes)"
            ) from None
    obj = request_to_json(request)
    if redact:
        redact_json_request(obj)
    return json.dumps(obj, separators=(",", ":"), ensure_ascii=False)


def response_body(result: DecodeResult | None, *, json_format: bool) -> bytes:
    """The ExportTraceServiceResponse, with partial_success when spans were rejected, or kept
    with their text repaired (rejected 0 and a message: OTLP's warning)."""
    rejected = result.rejected if result is not None else 0
    message = result.partial_message if result is not None else ""
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
