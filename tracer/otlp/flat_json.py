"""OTLP JSON requests decoded by msgspec into typed structs, each attribute left as its text.

`json.loads` of an OTLP JSON request builds a dict for every span, attribute and value, and the
general walk (`json_format`) then visits them all in Python: together most of a file's ingest.
Here msgspec parses the request straight into the few fields a span needs, in C, and leaves
each attribute as its raw JSON text; spans of one kind repeat most attributes character for
character, so each distinct one is decoded once (by the general walk's own code) and
remembered by its text.

The result is the general path's by construction: the same values reach the same
`SpanBatchBuilder.add`. The fast path takes only the form the Collector and `protobuf_to_json`
write (camelCase keys, ids as lowercase hex, times as digit strings, kinds and codes as
numbers); any other form, and anything the general walk would reject, sends the whole request
to it.
"""

from __future__ import annotations

import json
import re
from typing import Any

import msgspec

from seamscope.tracer.otlp.common import (
    MAX_NS,
    MAX_VALUE_CHARS,
    DecodeResult,
    KnownPieces,
    Reject,
    Tally,
)
from seamscope.tracer.otlp.json_format import (
    _json_kvlist,
    decode_json,
    json_events,
    json_links,
)
from seamscope.tracer.otlp.utf8 import may_hold_surrogates
from seamscope.tracer.rows import (
    KINDS,
    STATUS_CODES,
    Piece,
    SpanBatchBuilder,
    attribute_piece,
    encoded_attributes,
    plain_piece,
    shared_piece,
)

# Ids as the Collector and the SDKs' exporters write them (checked inline: three ids a span).
_TRACE_ID = re.compile(r"[0-9a-f]{32}").fullmatch
_SPAN_ID = re.compile(r"[0-9a-f]{16}").fullmatch
_ZERO_TRACE = "0" * 32
_ZERO_SPAN = "0" * 16


class _Status(msgspec.Struct):
    code: int | None = None
    message: str | None = None


class _Span(msgspec.Struct):
    traceId: str  # noqa: N815 - the OTLP JSON names
    spanId: str  # noqa: N815
    startTimeUnixNano: str | int  # noqa: N815
    endTimeUnixNano: str | int  # noqa: N815
    name: str = ""  # left out at its default: the unknown name, as in protobuf
    parentSpanId: str | None = None  # noqa: N815
    parent_span_id: Any = None  # the snake_case form, which the general walk reads too
    kind: int | None = None
    attributes: list[msgspec.Raw] | None = None
    events: list[Any] | None = None
    links: list[Any] | None = None
    status: _Status | None = None


class _Scope(msgspec.Struct):
    name: str | None = None


class _ScopeSpans(msgspec.Struct):
    spans: list[_Span]
    scope: _Scope | None = None


class _Resource(msgspec.Struct):
    attributes: list[msgspec.Raw] | None = None


class _ResourceSpans(msgspec.Struct):
    scopeSpans: list[_ScopeSpans]  # noqa: N815
    resource: _Resource | None = None  # not set: no resource info is known (the OTLP proto)


class _Request(msgspec.Struct):
    resourceSpans: list[_ResourceSpans]  # noqa: N815


_decoder = msgspec.json.Decoder(_Request)


class _General(Exception):
    """This request is for the general path."""


_pieces = KnownPieces()
_known = _pieces.known
_blank = _pieces.blank
_remember = _pieces.remember

# A string attribute in the form the Collector writes, with nothing escaped in its key or value:
# the key and the value are the text between the quotes, and their JSON is that text again
# (json's encoder escapes only quotes, backslashes and control characters, which it has none
# of). Request ids, URLs and paths are of this form and differ in every span.
_PLAIN_STRING = re.compile(
    rb'\{"key":"([^"\\\x00-\x1f]*)","value":\{"stringValue":"([^"\\\x00-\x1f]*)"\}\}'
)


def _attribute(text: bytes, tally: Tally) -> Piece:
    """The Piece of one KeyValue's JSON text, its value as the general walk makes it; its
    empty values (no key, no value, empty ones in an array or a map) counted in tally."""
    blank = _blank.get(text)
    if blank is not None:
        tally.empty_values(blank[1])
        return blank[0]
    plain = _PLAIN_STRING.fullmatch(text)
    if plain is not None and plain[1]:
        try:
            key, value = plain[1].decode(), plain[2].decode()
        except UnicodeDecodeError:  # msgspec does not check the text of a Raw
            raise _General from None
        if len(value) <= MAX_VALUE_CHARS:
            piece = plain_piece(key, value, f'"{key}":"{value}"')
            _remember(text, piece, 0)
            return piece
    before = tally.blank
    try:
        ((key, value),) = _json_kvlist([json.loads(text)], "attributes", tally).items()
    except (ValueError, RecursionError, Reject):
        raise _General from None
    shared = shared_piece(key, value)
    if shared is None:
        return attribute_piece(key, value)
    _remember(text, shared, tally.blank - before)
    return shared


def _attributes(
    raws: list[msgspec.Raw] | None, tally: Tally
) -> tuple[dict[str, Any], tuple[str, bool] | None]:
    """The attributes and their `encoded` form (SpanBatchBuilder.add)."""
    if not raws:
        return encoded_attributes(())
    known = _known.get
    return encoded_attributes([known(text) or _attribute(text, tally) for text in map(bytes, raws)])


def _spans(request: _Request) -> list[tuple[Any, ...]]:
    """Every span of request as SpanBatchBuilder.add's arguments, by position; _General when
    any is not plain; OtlpError when it holds more than a decoder should walk (Tally)."""
    out: list[tuple[Any, ...]] = []
    tally = Tally()
    if not request.resourceSpans:
        raise _General  # the general walk says whether that is an empty request
    for rs in request.resourceSpans:
        if not rs.scopeSpans:
            tally.empty_group()
            continue
        resource = _attributes(rs.resource.attributes if rs.resource is not None else None, tally)[
            0
        ]
        for ss in rs.scopeSpans:
            if not ss.spans:
                tally.empty_group()
                continue
            scope_name = (ss.scope.name if ss.scope is not None else None) or None
            for span in ss.spans:
                # Times as digit strings (or JSON numbers, which msgspec reads as int).
                start = span.startTimeUnixNano
                if isinstance(start, str):
                    if not (start.isdigit() and start.isascii()) or len(start) > 20:
                        raise _General  # the general walk says why (and what is too long)
                    start = int(start)
                end = span.endTimeUnixNano
                if isinstance(end, str):
                    if not (end.isdigit() and end.isascii()) or len(end) > 20:
                        raise _General  # the general walk says why (and what is too long)
                    end = int(end)
                kind = span.kind or 0
                status = span.status
                code = (status.code or 0) if status is not None else 0
                message = status.message if status is not None else None
                name = span.name
                if (
                    (span.parentSpanId is None and span.parent_span_id is not None)
                    or not 0 < start <= end <= MAX_NS
                    or not 0 <= kind < len(KINDS)
                    or not 0 <= code < len(STATUS_CODES)
                    or len(name) > MAX_VALUE_CHARS
                    or (message is not None and len(message) > MAX_VALUE_CHARS)
                ):
                    raise _General
                records = len(span.events or ()) + len(span.links or ())
                if records:
                    tally.add_records(records)
                try:
                    events = json_events(span.events, tally) if span.events else ()
                    links = json_links(span.links, tally) if span.links else ()
                except Reject:
                    raise _General from None
                attributes, encoded = _attributes(span.attributes, tally)
                # Ids in lowercase hex, as the Collector and the SDKs write them; the general
                # walk takes any other case.
                trace_id = span.traceId
                span_id = span.spanId
                parent = span.parentSpanId or None
                if (
                    not _TRACE_ID(trace_id)
                    or trace_id == _ZERO_TRACE
                    or not _SPAN_ID(span_id)
                    or span_id == _ZERO_SPAN
                    or (parent is not None and not _SPAN_ID(parent))
                ):
                    raise _General
                out.append(
                    (
                        trace_id,
                        span_id,
                        parent,
                        name,
                        KINDS[kind],
                        start,
                        end,
                        STATUS_CODES[code],
                        message or None,
                        attributes,
                        resource,
                        scope_name,
                        events,
                        links,
                        encoded,
                    )
                )
    return out


def decode_json_flat(data: bytes | str, builder: SpanBatchBuilder) -> DecodeResult:
    """Adds the valid spans of an OTLP JSON ExportTraceServiceRequest to builder, as
    json_format.decode_json does (raises OtlpError for a body that is no request)."""
    raw = data.encode("utf-8", "surrogatepass") if isinstance(data, str) else data
    if may_hold_surrogates(raw):
        return decode_json(data, builder)  # lone surrogates: the general walk repairs them
    try:
        spans = _spans(_decoder.decode(raw))
    except (_General, msgspec.DecodeError, UnicodeEncodeError, RecursionError):
        # RecursionError: msgspec's decoder on a document nested past the interpreter's limit;
        # the general walk names it a request nested too deeply.
        return decode_json(data, builder)
    add = builder.add
    for values in spans:
        add(*values)
    return DecodeResult(accepted=len(spans))
