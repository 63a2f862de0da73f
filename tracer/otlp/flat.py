"""OTLP protobuf requests decoded with each span's attributes left as their wire bytes.

Walking every attribute's `AnyValue` in Python costs most of a protobuf request's decoding:
each access makes a Python object. Here the request is parsed with a copy of the trace
messages in which a span's attributes are a plain ``bytes`` field (the same wire layout), so
the parse hands over one bytes object per attribute. Spans of one kind repeat
most of their attributes byte for byte (``rpc.system``, ``cloud.region``, a table, a port), so
each distinct attribute is decoded once and remembered by its bytes; only the new ones (request
ids, URLs) are decoded with the real `KeyValue` message, as `protobuf` does.

The result is the general path's (`protobuf.add_protobuf_request`) by construction: the same
values reach the same `SpanBatchBuilder.add`, so the same typed columns and the same redaction
follow. Whatever is not plain, a span the general path would reject, bytes that do not parse,
a value too long or nested too deeply, invalid UTF-8, sends the whole request to the general
path, which then gives its located messages and partial success (and repairs the text:
otlp.utf8).
"""

from __future__ import annotations

from typing import Any

from google.protobuf import (  # type: ignore[import-untyped]
    descriptor_pb2,
    descriptor_pool,
    message_factory,
)
from google.protobuf.message import DecodeError  # type: ignore[import-untyped]
from opentelemetry.proto.common.v1.common_pb2 import KeyValue
from opentelemetry.proto.trace.v1 import trace_pb2

from seamscope.tracer.otlp.common import (
    MAX_NS,
    MAX_VALUE_CHARS,
    DecodeResult,
    KnownPieces,
    Reject,
    Tally,
)
from seamscope.tracer.otlp.protobuf import (
    _ZERO_SPAN,
    _ZERO_TRACE,
    _pb_attrs,
    _pb_value,
    decode_protobuf,
)
from seamscope.tracer.rows import (
    KINDS,
    STATUS_CODES,
    Piece,
    SpanBatchBuilder,
    attribute_piece,
    encoded_attributes,
    shared_piece,
)

_REAL = "opentelemetry.proto.trace.v1"
_FLAT = "seamscope.otlp.flat.v1"
_AS_BYTES = frozenset({"attributes"})
"""Span fields parsed as bytes. Events and links were too, each then parsed on its own: 0.6 us
an event more than walking the parsed messages, 0.2 s for the 262,144 a request may carry."""


def _flat_messages() -> Any:
    """The trace messages under a package of their own, Span's attributes as
    bytes; returns the message class of a request (TracesData has the layout of
    ExportTraceServiceRequest: field 1, repeated ResourceSpans)."""
    proto = descriptor_pb2.FileDescriptorProto()
    trace_pb2.DESCRIPTOR.CopyToProto(proto)
    proto.name = "seamscope/otlp_flat_trace.proto"
    proto.package = _FLAT

    def rename(message: Any) -> None:
        for field in message.field:
            if field.type_name.startswith(f".{_REAL}."):
                field.type_name = f".{_FLAT}." + field.type_name[len(_REAL) + 2 :]
            if message.name == "Span" and field.name in _AS_BYTES:
                field.type = descriptor_pb2.FieldDescriptorProto.TYPE_BYTES
                field.ClearField("type_name")
        for nested in message.nested_type:
            rename(nested)

    for message in proto.message_type:
        rename(message)
    pool = descriptor_pool.Default()
    try:
        pool.FindFileByName(proto.name)
    except KeyError:
        pool.Add(proto)
    return message_factory.GetMessageClass(pool.FindMessageTypeByName(f"{_FLAT}.TracesData"))


FlatRequest = _flat_messages()


class _General(Exception):
    """This request is for the general path."""


_pieces = KnownPieces()
_known = _pieces.known
_blank = _pieces.blank


def _attribute(raw: bytes, tally: Tally) -> Piece:
    """The Piece of one KeyValue's bytes, its value as protobuf._pb_attrs makes it; its empty
    values (no key, no value, empty ones in an array or a map) counted in tally."""
    blank = _blank.get(raw)
    if blank is not None:
        tally.empty_values(blank[1])
        return blank[0]
    if len(raw) > MAX_VALUE_CHARS:
        raise _General  # a value may be too long: the general path says where
    try:
        kv = KeyValue.FromString(raw)
    except DecodeError:
        raise _General from None
    before = tally.blank
    key = kv.key
    value = kv.value
    text = value.string_value
    if text:
        found: Any = text
    else:
        kind = value.WhichOneof("value")
        if kind == "int_value":
            found = value.int_value
        elif kind == "string_value":
            found = ""
        elif kind == "bool_value":
            found = value.bool_value
        elif kind is None:
            found = None
            if key:
                tally.empty_values()
        else:
            # A Reject (nested too deeply, too long) sends the request to the general path:
            # _spans, which this is called from, turns it into _General.
            found = _pb_value(value, key, 0, tally)
    if not key:
        tally.empty_values()
    piece = shared_piece(key, found)
    if piece is None:
        return attribute_piece(key, found)
    _pieces.remember(raw, piece, tally.blank - before)
    return piece


def _link_id(value: bytes, want: int) -> str:
    """A link's id as hex; an id of another length (not left out) sends the request to the
    general path, which refuses its span with the place."""
    if value and len(value) != want:
        raise _General
    return value.hex()


def _spans(request: Any) -> list[tuple[Any, ...]]:
    """Every span of request as SpanBatchBuilder.add's arguments, by position; _General when
    any is not plain; OtlpError when it holds more than a decoder should walk (Tally)."""
    known = _known.get
    kinds = KINDS
    statuses = STATUS_CODES
    out: list[tuple[Any, ...]] = []
    tally = Tally()
    try:
        for rs in request.resource_spans:
            scope_spans = rs.scope_spans
            if not scope_spans:
                tally.empty_group()
                continue
            resource = _pb_attrs(rs.resource.attributes, "resource.attributes", tally)
            for ss in scope_spans:
                spans = ss.spans
                if not spans:
                    tally.empty_group()
                    continue
                scope_name = (ss.scope.name if ss.HasField("scope") else None) or None
                for span in spans:
                    trace_id = span.trace_id
                    span_id = span.span_id
                    parent = span.parent_span_id
                    start = span.start_time_unix_nano
                    end = span.end_time_unix_nano
                    kind = span.kind
                    status = span.status
                    code = status.code
                    name = span.name
                    if (
                        len(trace_id) != 16
                        or trace_id == _ZERO_TRACE
                        or len(span_id) != 8
                        or span_id == _ZERO_SPAN
                        or (parent and len(parent) != 8)
                        or not 0 < start <= end <= MAX_NS
                        or not 0 <= kind < len(kinds)
                        or not 0 <= code < len(statuses)
                        or len(name) > MAX_VALUE_CHARS
                    ):
                        raise _General
                    attributes, encoded = encoded_attributes(
                        [known(raw) or _attribute(raw, tally) for raw in span.attributes]
                    )
                    records = len(span.events) + len(span.links)
                    if records:
                        tally.add_records(records)
                    events: Any = ()
                    if span.events:
                        events = [
                            {
                                "name": e.name,
                                "time_unix_nano": e.time_unix_nano,
                                "attributes": _pb_attrs(a, "events.attributes", tally) if a else {},
                            }
                            for e in span.events
                            for a in (e.attributes,)
                        ]
                    links: Any = ()
                    if span.links:
                        links = [
                            {
                                "trace_id": _link_id(link.trace_id, 16),
                                "span_id": _link_id(link.span_id, 8),
                                "attributes": _pb_attrs(a, "links.attributes", tally) if a else {},
                            }
                            for link in span.links
                            for a in (link.attributes,)
                        ]
                    out.append(
                        (
                            trace_id.hex(),
                            span_id.hex(),
                            parent.hex() if parent else None,
                            name,
                            kinds[kind],
                            start,
                            end,
                            statuses[code],
                            status.message or None,
                            attributes,
                            resource,
                            scope_name,
                            events,
                            links,
                            encoded,
                        )
                    )
    except Reject:
        raise _General from None
    return out


def decode_flat(body: bytes, builder: SpanBatchBuilder) -> DecodeResult:
    """Adds the valid spans of a protobuf ExportTraceServiceRequest to builder, as
    protobuf.decode_protobuf does (raises OtlpError for a body that does not parse)."""
    try:
        spans = _spans(FlatRequest.FromString(body))
    except (_General, DecodeError):
        return decode_protobuf(body, builder)
    add = builder.add
    for values in spans:
        add(*values)
    return DecodeResult(accepted=len(spans))
