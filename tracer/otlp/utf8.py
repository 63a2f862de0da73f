"""Text that is not valid UTF-8 in a request: repaired, its span kept and marked, not refused.

The strict decoders stay the usual path; this is taken only when they fail on invalid UTF-8.
Each invalid sequence becomes one U+FFFD, as Python's ``errors="replace"`` reads it (the
Unicode standard's "maximal subpart": a sequence cut short is one, each stray byte one, a
surrogate encoded as bytes three), in protobuf and JSON alike; in JSON each lone surrogate
escape is one too. U+FFFD is the replacement character every UTF-8 decoder uses: the text stays
valid for DuckDB, the terminal
and JSON exports, and cannot be mistaken for what the sender meant (a form that kept the byte
values, such as ``\\xff``, would read as that text when a sender did write it). The span
carries `INVALID_UTF8_ATTRIBUTE`, so SQL finds it, and the request's `DecodeResult` counts and
locates it.

Protobuf: proto3 `string` fields are checked by the parser, which refuses the whole request.
`repair_protobuf` parses it again with a copy of the trace messages in a private descriptor
pool, every string field made `bytes` (the same wire format, which the parser does not
check), repairs the bytes of those fields, marks the spans and serializes it: the strict
decoders then read the repaired body.
"""

from __future__ import annotations

import codecs
import functools
import json
import re
from typing import Any

from google.protobuf import (  # type: ignore[import-untyped]
    descriptor,
    descriptor_pb2,
    descriptor_pool,
    message_factory,
)
from google.protobuf.message import DecodeError  # type: ignore[import-untyped]
from opentelemetry.proto.trace.v1 import trace_pb2

from seamscope.tracer.otlp.common import INVALID_UTF8_ATTRIBUTE

# JSON

_SURROGATE_ESCAPE = re.compile(rb"\\u[dD][89a-fA-F]")
_ENCODED_SURROGATE = re.compile(rb"\xed[\xa0-\xbf]")
_LONE_SURROGATE = re.compile("[\ud800-\udfff]")


def may_hold_surrogates(raw: bytes) -> bool:
    """Whether json.loads of raw may give a string with a lone surrogate: a \\uD800-\\uDFFF
    escape, or a surrogate encoded as UTF-8 bytes (json.loads takes those: 'surrogatepass')."""
    return bool(_SURROGATE_ESCAPE.search(raw)) or (
        b"\xed" in raw and bool(_ENCODED_SURROGATE.search(raw))
    )


def _as_surrogate(exc: UnicodeError) -> tuple[str, int]:
    """A decoding error handler: each invalid sequence the UTF-8 decoder reports (what
    "replace" gives one U+FFFD for) read as one lone surrogate, for `repaired` to replace.
    "surrogateescape" gave one per byte: JSON got two U+FFFD for a sequence cut short where
    protobuf got one."""
    assert isinstance(exc, UnicodeDecodeError)
    return "\udcff", exc.end


_AS_SURROGATE = "seamscope-as-surrogate"
codecs.register_error(_AS_SURROGATE, _as_surrogate)


def json_text(raw: bytes) -> str | bytes:
    """raw as json.loads is to read it: UTF-8 decoded strictly (raises UnicodeDecodeError),
    other encodings as they are. json.loads of the bytes would let surrogates encoded as UTF-8
    through ("surrogatepass"), one character for the three bytes protobuf repairs as three."""
    encoding = json.detect_encoding(raw)
    if encoding in ("utf-8", "utf-8-sig"):
        return raw.decode(encoding)
    return raw


def lenient_json(raw: bytes) -> Any:
    """The JSON in raw, which is not UTF-8, with each invalid sequence read as a lone surrogate
    (for `repaired` to replace); None when it is no JSON even so, or not meant as UTF-8."""
    encoding = json.detect_encoding(raw)
    if encoding not in ("utf-8", "utf-8-sig"):
        return None
    try:
        return json.loads(raw.decode(encoding, _AS_SURROGATE))
    except (ValueError, RecursionError):
        return None


def repaired(value: Any) -> tuple[Any, bool]:
    """value with every lone surrogate in its strings (keys too, in lists and dicts) replaced
    by U+FFFD, and whether there was any; value itself when there was none."""
    if isinstance(value, str):
        if _LONE_SURROGATE.search(value) is None:
            return value, False
        return _LONE_SURROGATE.sub("\ufffd", value), True
    if isinstance(value, dict):
        items = [(repaired(k), repaired(v)) for k, v in value.items()]
        if not any(k[1] or v[1] for k, v in items):
            return value, False
        return {k[0]: v[0] for k, v in items}, True
    if isinstance(value, (list, tuple)):
        values = [repaired(v) for v in value]
        if not any(v[1] for v in values):
            return value, False
        return [v[0] for v in values], True
    return value, False


# Protobuf

_STRING = descriptor_pb2.FieldDescriptorProto.TYPE_STRING
_BYTES = descriptor_pb2.FieldDescriptorProto.TYPE_BYTES


@functools.cache
def _bytes_messages() -> tuple[Any, frozenset[str]]:
    """The request's message class with every string field made bytes, in a pool of its own
    (TracesData has the layout of ExportTraceServiceRequest: field 1, repeated ResourceSpans),
    and the full names of those fields. Built when first needed (about 2 ms): most processes
    never see invalid UTF-8."""
    pool = descriptor_pool.DescriptorPool()
    strings: set[str] = set()
    added: set[str] = set()

    def as_bytes(message: Any, prefix: str) -> None:
        for field in message.field:
            if field.type == _STRING:
                field.type = _BYTES
                strings.add(f"{prefix}{message.name}.{field.name}")
        for nested in message.nested_type:
            as_bytes(nested, f"{prefix}{message.name}.")

    def add(file: Any) -> None:
        if file.name in added:
            return
        for dependency in file.dependencies:
            add(dependency)
        proto = descriptor_pb2.FileDescriptorProto()
        file.CopyToProto(proto)
        for message in proto.message_type:
            as_bytes(message, f"{proto.package}.")
        pool.Add(proto)
        added.add(file.name)

    add(trace_pb2.DESCRIPTOR)
    request = pool.FindMessageTypeByName("opentelemetry.proto.trace.v1.TracesData")
    return message_factory.GetMessageClass(request), frozenset(strings)


_MESSAGE = descriptor.FieldDescriptor.TYPE_MESSAGE
_MARK = INVALID_UTF8_ATTRIBUTE.encode()


def _fixed(value: bytes) -> bytes | None:
    """value repaired, or None when it is valid UTF-8."""
    try:
        value.decode("utf-8")
    except UnicodeDecodeError:
        return value.decode("utf-8", "replace").encode("utf-8")
    return None


def _repair(message: Any, skip: str = "") -> list[str]:
    """Repairs the string fields of message and of the messages in it (but field skip); the
    OTLP JSON names of its fields that held a repaired one."""
    strings = _bytes_messages()[1]
    found = []
    for field, value in message.ListFields():
        if field.name == skip:
            continue
        if field.type == _MESSAGE:
            items = value if field.is_repeated else (value,)
            # A list, not any(): every item is repaired, not only up to the first.
            if any([_repair(item) for item in items]):
                found.append(field.json_name)
        elif field.full_name in strings:
            if field.is_repeated:
                changed = False
                for i, item in enumerate(value):
                    fixed = _fixed(item)
                    if fixed is not None:
                        value[i] = fixed
                        changed = True
                if changed:
                    found.append(field.json_name)
            else:
                fixed = _fixed(value)
                if fixed is not None:
                    setattr(message, field.name, fixed)
                    found.append(field.json_name)
    return found


Repairs = dict[tuple[int, int, int], str]
"""(resource, scope, span) index of each repaired span -> the fields repaired, as one text."""


def repair_protobuf(body: bytes) -> tuple[bytes, Repairs] | None:
    """body, an ExportTraceServiceRequest the parser refused for invalid UTF-8, with every
    invalid sequence of its strings replaced by U+FFFD and each span that held one (or whose
    resource or scope did) given the attribute INVALID_UTF8_ATTRIBUTE = true; and where.
    None when body does not parse even so (it is malformed for another reason)."""
    try:
        request = _bytes_messages()[0].FromString(body)
    except DecodeError:
        return None
    repairs: Repairs = {}
    for ri, rs in enumerate(request.resource_spans):
        outer = _repair(rs, skip="scope_spans")
        for si, ss in enumerate(rs.scope_spans):
            middle = outer + _repair(ss, skip="spans")
            for pi, span in enumerate(ss.spans):
                found = middle + _repair(span)
                if found:
                    mark = span.attributes.add()
                    mark.key = _MARK
                    mark.value.bool_value = True
                    repairs[ri, si, pi] = ", ".join(found)
    return request.SerializeToString(), repairs
