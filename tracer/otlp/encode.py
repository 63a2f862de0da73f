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
from seamscope.tracer.rows import REDACTED, redact_attributes


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
