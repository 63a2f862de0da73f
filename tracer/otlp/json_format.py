"""OTLP JSON ExportTraceServiceRequest -> SpanBatchBuilder rows (see common for the rules).

Follows the OTLP JSON mapping: hex ids, enums as ints or names, int64 as strings or numbers,
lowerCamelCase keys (snake_case keys are accepted too).
"""

from __future__ import annotations

import base64
import binascii
import json
import math
import re
from typing import Any

from seamscope.tracer.otlp.common import (
    INVALID_UTF8_ATTRIBUTE,
    MAX_DEPTH,
    MAX_NS,
    MAX_VALUE_CHARS,
    DecodeResult,
    OtlpError,
    Reject,
    Tally,
    bounded,
)
from seamscope.tracer.otlp.utf8 import json_text, lenient_json, may_hold_surrogates, repaired
from seamscope.tracer.rows import KINDS, STATUS_CODES, SpanBatchBuilder

_HEX32 = re.compile(r"[0-9a-fA-F]{32}")
_HEX16 = re.compile(r"[0-9a-fA-F]{16}")
_KIND_BY_NAME = {f"SPAN_KIND_{k}": i for i, k in enumerate(KINDS)}
_STATUS_BY_NAME = {f"STATUS_CODE_{s}": i for i, s in enumerate(STATUS_CODES)}


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
        raise Reject(f"{path}: {_type_name(value)}, want a string")
    return bounded(value, path)


_MAX_DIGITS = 20
"""Digits an integer in a string may have: int64 and uint64 need at most 20. Python refuses to
convert more than 4,300 (a ValueError the decoder did not expect: a 500 and a traceback), and
converting fewer but many costs time quadratic in them."""


def _json_int(value: Any, path: str) -> int:
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    if isinstance(value, str) and value.lstrip("-").isdigit() and value.isascii():
        if len(value.lstrip("-")) > _MAX_DIGITS:
            raise Reject(f"{path}: an integer of {len(value.lstrip('-')):,} digits, past int64")
        return int(value)
    if isinstance(value, float) and value.is_integer():
        return int(value)
    raise Reject(f"{path}: {_type_name(value)} {str(value)[:40]!r}, want an integer")


def _json_time(obj: dict[str, Any], camel: str, snake: str, path: str) -> int:
    raw = _get(obj, camel, snake)
    if type(raw) is str and raw.isdigit() and raw.isascii():
        if len(raw) > _MAX_DIGITS:
            raise Reject(f"{path}{camel}: {raw[:24]}... ({len(raw):,} digits) is not a time")
        value = int(raw)
    elif raw is None:
        raise Reject(f"{path}{camel}: missing")
    else:
        value = _json_int(raw, path + camel)
    if not 0 < value <= MAX_NS:
        raise Reject(f"{path}{camel}: {value} is not a time")
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
    raise Reject(f"{path}: {_type_name(value)}, want a number")


def _json_value(value: Any, path: str, depth: int, tally: Tally) -> Any:
    if not isinstance(value, dict):
        raise Reject(f"{path}: {_type_name(value)}, want an AnyValue object")
    if not value:
        tally.empty_values()
        return None
    if len(value) != 1:
        raise Reject(f"{path}: {len(value)} keys, an AnyValue has one")
    key, inner = next(iter(value.items()))
    if key in ("stringValue", "string_value"):
        return _want_str(inner, f"{path}.{key}")
    if key in ("intValue", "int_value"):
        return _json_int(inner, f"{path}.{key}")
    if key in ("boolValue", "bool_value"):
        if not isinstance(inner, bool):
            raise Reject(f"{path}.{key}: {_type_name(inner)}, want true or false")
        return inner
    if key in ("doubleValue", "double_value"):
        return _json_double(inner, f"{path}.{key}")
    if key in ("bytesValue", "bytes_value"):
        try:
            return base64.b64decode(_want_str(inner, f"{path}.{key}"), validate=True)
        except (binascii.Error, ValueError):
            raise Reject(f"{path}.{key}: not base64") from None
    if key in ("arrayValue", "array_value", "kvlistValue", "kvlist_value"):
        if depth >= MAX_DEPTH:
            raise Reject(f"{path}: attribute value nested deeper than {MAX_DEPTH} levels")
        if not isinstance(inner, dict):
            raise Reject(f"{path}.{key}: {_type_name(inner)}, want an object")
        values = inner.get("values") or []
        if not isinstance(values, list):
            raise Reject(f"{path}.{key}.values: {_type_name(values)}, want an array")
        if key.startswith("array"):
            return [
                _json_value(v, f"{path}.{key}.values[{i}]", depth + 1, tally)
                for i, v in enumerate(values)
            ]
        return _json_kvlist(values, f"{path}.{key}.values", tally, depth + 1)
    raise Reject(f"{path}: unknown AnyValue field {key[:40]!r}")


def _json_kvlist(values: Any, path: str, tally: Tally, depth: int = 0) -> dict[str, Any]:
    """A KeyValue array as a dict; common scalar shapes inline (the hot path of ingest).
    Attributes without a key or a value are counted (tally)."""
    if values is None:
        return {}
    if type(values) is not list:
        raise Reject(f"{path}: {_type_name(values)}, want an array")
    out: dict[str, Any] = {}
    for i, kv in enumerate(values):
        if type(kv) is not dict:
            raise Reject(f"{path}[{i}]: {_type_name(kv)}, want a key/value object")
        key = kv.get("key")
        if type(key) is not str or not key:
            if type(key) is not str:
                raise Reject(f"{path}[{i}].key: {_type_name(key)}, want a string")
            if kv.get("value"):  # (without a value too, it is counted below)
                tally.empty_values()
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
                if (
                    type(inner) is str
                    and inner.isdigit()
                    and inner.isascii()
                    and len(inner) <= _MAX_DIGITS
                ):
                    out[key] = int(inner)
                    continue
            elif kind == "boolValue":
                if type(inner) is bool:
                    out[key] = inner
                    continue
        if value is None:
            tally.empty_values()
            out[key] = None
        else:
            out[key] = _json_value(value, f"{path}[{i}].value", depth, tally)
    return out


def _json_id(
    obj: dict[str, Any], camel: str, snake: str, pattern: re.Pattern[str], required: bool
) -> str | None:
    value = _get(obj, camel, snake)
    if value is None or value == "":
        if required:
            raise Reject(f"{camel}: missing")
        return None
    if not isinstance(value, str):
        raise Reject(f"{camel}: {_type_name(value)}, want a hex string")
    want = 32 if pattern is _HEX32 else 16
    if len(value) != want:
        raise Reject(f"{camel}: {len(value)} hex digits, want {want}")
    if not pattern.fullmatch(value):
        raise Reject(f"{camel}: {value[:40]!r} is not hex")
    value = value.lower()
    if required and value.count("0") == want:
        raise Reject(f"{camel}: all zeros, not a valid id")
    return value


def _json_enum(value: Any, names: dict[str, int], path: str, limit: int) -> int:
    if value is None:
        return 0
    if isinstance(value, str):
        number = names.get(value)
        if number is None:
            raise Reject(f"{path}: {value[:40]!r} is not one of {', '.join(names)}")
        return number
    if isinstance(value, int) and not isinstance(value, bool) and 0 <= value < limit:
        return value
    raise Reject(f"{path}: {str(value)[:40]!r} is not valid")


def _json_list(obj: dict[str, Any], camel: str, snake: str, path: str) -> list[Any]:
    value = _get(obj, camel, snake)
    if value is None:
        return []
    if not isinstance(value, list):
        raise OtlpError(f"{path}{camel}: {_type_name(value)}, want an array")
    return value


# OTLP before 0.15 (protocol 0.x) named scopeSpans instrumentationLibrarySpans and scope
# instrumentationLibrary; old exporters and stored files still carry them, and other readers
# take them as the same.
_OLD_SCOPE_SPANS = ("instrumentationLibrarySpans", "instrumentation_library_spans")
_RESOURCE_SPANS_KEYS = frozenset(
    {"resource", "scopeSpans", "scope_spans", "schemaUrl", "schema_url", *_OLD_SCOPE_SPANS}
)
_SCOPE_SPANS_KEYS = frozenset(
    {"scope", "spans", "schemaUrl", "schema_url", "instrumentationLibrary",
     "instrumentation_library"}
)  # fmt: skip


def _known_keys(
    obj: dict[str, Any], known: frozenset[str], found: bool, path: str, want: str
) -> None:
    """An object with nothing under the key that holds its spans, but keys OTLP does not
    name (a misspelt or other format's key): its spans would be lost without a word, so it is
    an error. Unknown keys beside the spans are ignored, as the protocol asks."""
    if found:
        return
    unknown = set(obj) - known
    if unknown:
        keys = ", ".join(map(repr, sorted(unknown)))[:80]
        raise OtlpError(f"{path}: no {want} (keys: {keys})")


class _NotUtf8(OtlpError):
    """The body is not UTF-8 text."""


def parse_json(data: bytes | str) -> Any:
    """json.loads with one-line OtlpError messages for every way it can fail."""
    try:
        return json.loads(json_text(data) if isinstance(data, bytes) else data)
    except UnicodeDecodeError as exc:
        raise _NotUtf8(f"not UTF-8 text (byte {exc.start})") from None
    except json.JSONDecodeError as exc:
        raise OtlpError(f"not JSON: {exc.msg} at line {exc.lineno} column {exc.colno}") from None
    except RecursionError:
        raise OtlpError("JSON nested too deeply") from None
    except ValueError:
        # json's own int() of a number past 4,300 digits; OTLP JSON writes its integers as
        # strings, and no sender writes such a number.
        raise OtlpError("not OTLP JSON: a number of more than 4,300 digits") from None


def decode_json(data: bytes | str, builder: SpanBatchBuilder) -> DecodeResult:
    """Adds the valid spans of an OTLP JSON ExportTraceServiceRequest to builder. A body that
    is not UTF-8 but JSON even so is read with its text repaired (otlp.utf8), its spans kept."""
    raw = data.encode("utf-8", "surrogatepass") if isinstance(data, str) else data
    try:
        obj = parse_json(data)
    except _NotUtf8 as exc:
        # Read leniently; a body that is no request even so keeps the message it had.
        obj = lenient_json(raw)
        if obj is None:
            raise
        try:
            return add_json_request(obj, builder)
        except OtlpError:
            raise exc from None
    return add_json_request(obj, builder, check_text=may_hold_surrogates(raw))


def add_json_request(
    obj: Any, builder: SpanBatchBuilder, *, check_text: bool = True
) -> DecodeResult:
    """Adds the valid spans of a parsed OTLP JSON request to builder.

    check_text: look for lone surrogates, the invalid UTF-8 that json.loads lets through, and
    repair them (decode_json turns it on only when the text has \\uD800-\\uDFFF escapes or
    surrogates encoded as bytes, or was read leniently).
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
    tally = Tally()
    for ri, rs in enumerate(_json_list(obj, "resourceSpans", "resource_spans", "")):
        rpath = f"resourceSpans[{ri}]"
        if not isinstance(rs, dict):
            raise OtlpError(f"{rpath}: {_type_name(rs)}, want an object")
        scope_spans = _json_list(rs, "scopeSpans", "scope_spans", rpath + ".") or _json_list(
            rs, *_OLD_SCOPE_SPANS, rpath + "."
        )
        _known_keys(rs, _RESOURCE_SPANS_KEYS, bool(scope_spans), rpath, "scopeSpans")
        if not scope_spans:
            tally.empty_group()
        for si, ss in enumerate(scope_spans):
            if not isinstance(ss, dict):
                raise OtlpError(f"{rpath}.scopeSpans[{si}]: {_type_name(ss)}, want an object")
            spans = _json_list(ss, "spans", "spans", f"{rpath}.scopeSpans[{si}].")
            _known_keys(ss, _SCOPE_SPANS_KEYS, bool(spans), f"{rpath}.scopeSpans[{si}]", "spans")
            if not spans:
                tally.empty_group()
            for span in spans:
                if isinstance(span, dict):
                    events, links = span.get("events"), span.get("links")
                    records = (len(events) if isinstance(events, list) else 0) + (
                        len(links) if isinstance(links, list) else 0
                    )
                    if records:
                        tally.add_records(records)
        try:
            # Not set (absent or null): "no resource info is known" (the OTLP proto), so the
            # spans carry no service (the classifier's unknown-service); they are not rejected.
            res = rs.get("resource")
            if res is None:
                res = {}
            if not isinstance(res, dict):
                raise Reject(f"{rpath}.resource: {_type_name(res)}, want an object")
            resource = _json_kvlist(res.get("attributes"), f"{rpath}.resource.attributes", tally)
            outer: list[str] = []
            if check_text:
                resource, fixed = repaired(resource)
                outer = ["resource"] if fixed else []
        except Reject as exc:
            result.reject(sum(len(_get(ss, "spans") or []) for ss in scope_spans), str(exc))
            continue
        for si, ss in enumerate(scope_spans):
            spath = f"{rpath}.scopeSpans[{si}]"
            scope = ss.get("scope") or ss.get("instrumentationLibrary")
            scope_name = scope.get("name") if isinstance(scope, dict) else None
            if scope_name is not None and not isinstance(scope_name, str):
                scope_name = str(scope_name)
            middle = outer
            if check_text and scope_name:
                scope_name, fixed = repaired(scope_name)
                middle = [*outer, "scope"] if fixed else outer
            for pi, span in enumerate(_get(ss, "spans") or ()):
                try:
                    values = _json_span(span, tally)
                except Reject as exc:
                    result.reject(1, f"{spath}.spans[{pi}].{exc}")
                    tally.span_rejected(result)
                    continue
                found = _repair_span(values, middle) if check_text else None
                if found:
                    values["attributes"] = {**values["attributes"], INVALID_UTF8_ATTRIBUTE: True}
                    result.repair(f"{spath}.spans[{pi}] ({found})")
                add(resource=resource, scope_name=scope_name or None, **values)
                result.accepted += 1
    return result


def load_repaired(raw: bytes) -> Any:
    """The JSON request in raw (one the decoders took) with its text repaired everywhere and
    each span the decoders marked given the same mark: for copies of it, such as the tee file,
    which read again give the spans that were stored (without the mark, a repaired span read
    from the tee was one that held U+FFFD itself)."""
    try:
        obj = json.loads(json_text(raw))
    except UnicodeDecodeError:
        obj = lenient_json(raw)
    else:
        if not may_hold_surrogates(raw):
            return obj
    _mark_repaired(obj)
    return repaired(obj)[0]


_MARK = {"key": INVALID_UTF8_ATTRIBUTE, "value": {"boolValue": True}}


def _holds_surrogates(value: Any) -> bool:
    return repaired(value)[1]


def _mark_repaired(obj: Any) -> None:
    """Gives each span of a request read leniently the mark add_json_request gives it, in
    place: a span whose text it repairs (_REPAIRED_FIELDS), or whose resource's attributes or
    scope's name it repairs. What the decoders reject is left as it is."""
    if not isinstance(obj, dict):
        return
    for rs in _get(obj, "resourceSpans", "resource_spans") or ():
        if not isinstance(rs, dict):
            continue
        res = rs.get("resource")
        outer = isinstance(res, dict) and _holds_surrogates(res.get("attributes"))
        scope_spans = _get(rs, "scopeSpans", "scope_spans") or _get(rs, *_OLD_SCOPE_SPANS)
        for ss in scope_spans if isinstance(scope_spans, list) else ():
            if not isinstance(ss, dict):
                continue
            scope = ss.get("scope") or ss.get("instrumentationLibrary")
            name = scope.get("name") if isinstance(scope, dict) else None
            middle = outer or (isinstance(name, str) and _holds_surrogates(name))
            for span in _get(ss, "spans") or ():
                if not isinstance(span, dict):
                    continue
                status = span.get("status")
                fields = (
                    span.get("name"),
                    status.get("message") if isinstance(status, dict) else None,
                    span.get("attributes"),
                    span.get("events"),
                    span.get("links"),
                )
                if not (middle or any(_holds_surrogates(f) for f in fields)):
                    continue
                attributes = span.get("attributes")
                if attributes is None:
                    span["attributes"] = [_MARK]
                elif isinstance(attributes, list):
                    span["attributes"] = [*attributes, _MARK]


_REPAIRED_FIELDS = {
    "name": "name",
    "status_message": "status",
    "attributes": "attributes",
    "events": "events",
    "links": "links",
}
"""The values of a span that carry text, and the OTLP JSON field each is in."""


def _repair_span(values: dict[str, Any], outer: list[str]) -> str:
    """Repairs the text of a span's values in place; the fields repaired (outer: those of its
    resource and scope), as one text, empty when none was."""
    found = list(outer)
    for name, field in _REPAIRED_FIELDS.items():
        values[name], fixed = repaired(values[name])
        if fixed:
            found.append(field)
    return ", ".join(found)


def _json_span(span: Any, tally: Tally) -> dict[str, Any]:
    if not isinstance(span, dict):
        raise Reject(f": {_type_name(span)}, want a span object")
    trace_id = _json_id(span, "traceId", "trace_id", _HEX32, True)
    span_id = _json_id(span, "spanId", "span_id", _HEX16, True)
    parent = _json_id(span, "parentSpanId", "parent_span_id", _HEX16, False)
    # "Empty value is equivalent to an unknown span name" (the OTLP proto), and a JSON encoder
    # leaves out a field at its default value: absent or null is the empty name, as in protobuf.
    name = span.get("name")
    if name is None:
        name = ""
    _want_str(name, "name")
    start = _json_time(span, "startTimeUnixNano", "start_time_unix_nano", "")
    end = _json_time(span, "endTimeUnixNano", "end_time_unix_nano", "")
    if end < start:
        raise Reject(f"endTimeUnixNano: {end} is before the start {start}")
    kind = _json_enum(span.get("kind"), _KIND_BY_NAME, "kind", len(KINDS))
    status = span.get("status") or {}
    if not isinstance(status, dict):
        raise Reject(f"status: {_type_name(status)}, want an object")
    code = _json_enum(status.get("code"), _STATUS_BY_NAME, "status.code", len(STATUS_CODES))
    message = status.get("message")
    if message is not None:
        _want_str(message, "status.message")
    attributes = _json_kvlist(span.get("attributes"), "attributes", tally)
    events = json_events(span.get("events"), tally)
    links = json_links(span.get("links"), tally)
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


def json_events(items: Any, tally: Tally) -> list[dict[str, Any]]:
    """A span's events (a JSON array, or None) as SpanBatchBuilder.add takes them. The form
    the Collector writes (a name, the time in digits or left out, no attributes or an array
    of them) inline; each event costs a microsecond, and a request may carry 262,144."""
    events: list[dict[str, Any]] = []
    append = events.append
    for ei, e in enumerate(items or ()):
        if e.__class__ is dict:
            name = e.get("name", "")
            time = e.get("timeUnixNano")
            if time.__class__ is str:
                time = int(time) if time.isdigit() and time.isascii() and len(time) <= 20 else ""
            elif time is None and "time_unix_nano" not in e:
                time = 0
            if name.__class__ is str and len(name) <= MAX_VALUE_CHARS and time.__class__ is int:
                attributes = e.get("attributes")
                append(
                    {
                        "name": name,
                        "time_unix_nano": time,
                        "attributes": _json_kvlist(attributes, f"events[{ei}].attributes", tally)
                        if attributes
                        else _json_kvlist(attributes, "", tally),
                    }
                )
                continue
        append(_json_event(e, ei, tally))
    return events


def _json_event(e: Any, ei: int, tally: Tally) -> dict[str, Any]:
    """One event of any form json_events takes, or a Reject that says why not."""
    if not isinstance(e, dict):
        raise Reject(f"events[{ei}]: {_type_name(e)}, want an object")
    return {
        "name": _want_str(e.get("name", ""), f"events[{ei}].name"),
        "time_unix_nano": _json_int(
            _get(e, "timeUnixNano", "time_unix_nano") or 0, f"events[{ei}].timeUnixNano"
        ),
        "attributes": _json_kvlist(e.get("attributes"), f"events[{ei}].attributes", tally),
    }


def json_links(items: Any, tally: Tally) -> list[dict[str, Any]]:
    """A span's links (a JSON array, or None) as SpanBatchBuilder.add takes them."""
    links = []
    for li, link in enumerate(items or ()):
        if not isinstance(link, dict):
            raise Reject(f"links[{li}]: {_type_name(link)}, want an object")
        try:
            # Left out (an encoder leaves an empty id out): the empty id a protobuf body gives,
            # kept with the span; such a link joins nothing.
            link_trace = _json_id(link, "traceId", "trace_id", _HEX32, False)
            link_span = _json_id(link, "spanId", "span_id", _HEX16, False)
        except Reject as exc:
            raise Reject(f"links[{li}].{exc}") from None
        links.append(
            {
                "trace_id": link_trace or "",
                "span_id": link_span or "",
                "attributes": _json_kvlist(
                    link.get("attributes"), f"links[{li}].attributes", tally
                ),
            }
        )
    return links
