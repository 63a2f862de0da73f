"""SDK ReadableSpans -> the store's Arrow rows, inside the service's export thread; and the
same spans with their secrets redacted, for what the exporter sends as OTLP.

Kept small and allocation-light: it runs in the BatchSpanProcessor thread of every traced
service. All naming, typed columns and redaction of rows happen in SpanBatchBuilder; both
paths redact with the same functions (tracer/redact.py).
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from typing import Any

from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import Event, ReadableSpan
from opentelemetry.trace import Link, SpanKind, StatusCode
from opentelemetry.trace.status import Status

from seamscope.tracer.otlp.common import INVALID_UTF8_ATTRIBUTE
from seamscope.tracer.redact import (
    json_may_hold_secret,
    may_hold_secret,
    redact_attributes,
    redact_name,
    redact_text,
    scrubbed_key,
)
from seamscope.tracer.rows import KINDS, STATUS_CODES, SpanBatchBuilder, encode_container

_KIND_NAMES: dict[SpanKind, str] = {
    SpanKind.INTERNAL: "INTERNAL",
    SpanKind.SERVER: "SERVER",
    SpanKind.CLIENT: "CLIENT",
    SpanKind.PRODUCER: "PRODUCER",
    SpanKind.CONSUMER: "CONSUMER",
}
_STATUS_NAMES: dict[StatusCode, str] = {
    StatusCode.UNSET: "UNSET",
    StatusCode.OK: "OK",
    StatusCode.ERROR: "ERROR",
}
assert set(_KIND_NAMES.values()) <= set(KINDS)
assert set(_STATUS_NAMES.values()) <= set(STATUS_CODES)

_EMPTY: dict[str, Any] = {}


def _attrs(attributes: Any) -> Mapping[str, Any]:
    """The plain mapping behind an SDK BoundedAttributes, without copying it.

    A finished span's attributes no longer change, and the builder only reads them (tuples
    serialise as JSON lists). Reading ``_dict`` saves the slow Mapping protocol of
    BoundedAttributes: about a third of the conversion time.
    """
    if not attributes:
        return _EMPTY
    inner = getattr(attributes, "_dict", None)
    if isinstance(inner, dict):
        return inner
    if isinstance(attributes, dict):
        return attributes
    return dict(attributes)


def _span_attrs(span: ReadableSpan) -> Mapping[str, Any]:
    # ReadableSpan.attributes wraps the BoundedAttributes in a MappingProxyType: go around it.
    raw = getattr(span, "_attributes", None)
    return _attrs(raw if raw is not None else span.attributes)


def add_sdk_spans(builder: SpanBatchBuilder, spans: Sequence[ReadableSpan]) -> None:
    """Adds each finished SDK span to builder."""
    add = builder.add
    resources: dict[int, tuple[Any, Mapping[str, Any]]] = {}
    for span in spans:
        ctx = span.context
        if ctx is None:
            continue
        resource = span.resource
        cached = resources.get(id(resource))
        if cached is None or cached[0] is not resource:
            cached = (resource, _attrs(resource.attributes))
            resources[id(resource)] = cached
        parent = span.parent
        status = span.status
        scope = span.instrumentation_scope
        # The private lists avoid a tuple copy per span; most spans have neither.
        events = span._events if hasattr(span, "_events") else span.events
        links = span._links if hasattr(span, "_links") else span.links
        start = span.start_time or 0
        end = span.end_time or start
        add(
            trace_id=format(ctx.trace_id, "032x"),
            span_id=format(ctx.span_id, "016x"),
            parent_span_id=format(parent.span_id, "016x") if parent is not None else None,
            name=span.name,
            kind=_KIND_NAMES.get(span.kind, "UNSPECIFIED"),
            start_ns=start,
            end_ns=end,
            status_code=_STATUS_NAMES.get(status.status_code, "UNSET"),
            status_message=status.description,
            attributes=_span_attrs(span),
            resource=cached[1],
            scope_name=scope.name if scope is not None else None,
            events=[
                {
                    "name": e.name,
                    "time_unix_nano": e.timestamp,
                    "attributes": _attrs(e.attributes),
                }
                for e in events
            ]
            if events
            else (),
            links=[
                {
                    "trace_id": format(link.context.trace_id, "032x"),
                    "span_id": format(link.context.span_id, "016x"),
                    "attributes": _attrs(link.attributes),
                }
                for link in links
            ]
            if links
            else (),
        )


_keyed: dict[tuple[str, ...], bool] = {}


def _attrs_need(attrs: Mapping[str, Any]) -> bool:
    """Whether attributes hold anything to redact: keys judged once per key set, values by
    the substring tests over their JSON."""
    if not attrs:
        return False
    keys = tuple(attrs)
    by_key = _keyed.get(keys)
    if by_key is None:
        by_key = any(scrubbed_key(k) for k in keys)
        if len(_keyed) >= 10_000:
            _keyed.clear()
        _keyed[keys] = by_key
    return by_key or json_may_hold_secret(
        encode_container(attrs if isinstance(attrs, dict) else dict(attrs))
    )


def _span_needs(span: ReadableSpan, resource_needs: bool) -> bool:
    description = span.status.description
    return (
        resource_needs
        or redact_name(span.name) != span.name
        or (description is not None and may_hold_secret(description))
        or _attrs_need(_span_attrs(span))
        or any(
            redact_name(e.name) != e.name or _attrs_need(_attrs(e.attributes)) for e in span.events
        )
        or any(_attrs_need(_attrs(link.attributes)) for link in span.links)
    )


def _redacted(span: ReadableSpan, resource: Resource) -> ReadableSpan:
    status = span.status
    description = status.description
    if description is not None:
        status = Status(status.status_code, redact_text(description))
    return ReadableSpan(
        name=redact_name(span.name),
        context=span.context,
        parent=span.parent,
        resource=resource,
        attributes=redact_attributes(_span_attrs(span)),
        events=[
            Event(redact_name(e.name), redact_attributes(_attrs(e.attributes)), e.timestamp)
            for e in span.events
        ],
        links=[
            Link(link.context, redact_attributes(_attrs(link.attributes))) for link in span.links
        ],
        kind=span.kind,
        status=status,
        start_time=span.start_time,
        end_time=span.end_time,
        instrumentation_scope=span.instrumentation_scope,
    )


def redacted_spans(spans: Sequence[ReadableSpan]) -> Sequence[ReadableSpan]:
    """spans with every secret redacted as the store would (spans with none are kept as they
    are, and so is the sequence when no span has any)."""
    resources: dict[int, tuple[Resource, Resource | None]] = {}
    out: list[ReadableSpan] | None = None
    for i, span in enumerate(spans):
        resource = span.resource
        cached = resources.get(id(resource))
        if cached is None or cached[0] is not resource:
            attrs = _attrs(resource.attributes)
            clean = None
            if _attrs_need(attrs):
                clean = Resource(redact_attributes(attrs), resource.schema_url)
            cached = (resource, clean)
            resources[id(resource)] = cached
        if not _span_needs(span, cached[1] is not None):
            if out is not None:
                out.append(span)
            continue
        if out is None:
            out = list(spans[:i])
        out.append(_redacted(span, cached[1] or resource))
    return spans if out is None else out


_SURROGATES = re.compile("[\ud800-\udfff]+")


def _replaced(run: re.Match[str]) -> str:
    """A run of lone surrogates as the receiver reads the bytes behind it: those of
    `surrogateescape` (U+DC80-U+DCFF, one per byte that was not UTF-8) are those bytes again,
    each invalid sequence of them one U+FFFD as `errors="replace"` makes it (a cut euro sign,
    two bytes, is one); any other surrogate is one U+FFFD."""
    out: list[str] = []
    raw = bytearray()
    for char in run.group():
        code = ord(char)
        if 0xDC80 <= code <= 0xDCFF:
            raw.append(code - 0xDC00)
            continue
        if raw:
            out.append(raw.decode("utf-8", "replace"))
            raw.clear()
        out.append("\ufffd")
    if raw:
        out.append(raw.decode("utf-8", "replace"))
    return "".join(out)


def _text(value: str) -> tuple[str, bool]:
    fixed = _SURROGATES.sub(_replaced, value)
    return fixed, fixed != value


def _value(value: Any) -> tuple[Any, bool]:
    if isinstance(value, str):
        return _text(value)
    if isinstance(value, (tuple, list)):
        items = [_value(v) for v in value]
        return tuple(v for v, _ in items), any(bad for _, bad in items)
    return value, False


def _clean_attrs(attrs: Mapping[str, Any]) -> tuple[dict[str, Any], bool]:
    out: dict[str, Any] = {}
    bad = False
    for key, value in attrs.items():
        k, bad_key = _text(key)
        v, bad_value = _value(value)
        out[k] = v
        bad = bad or bad_key or bad_value
    return out, bad


def repaired_spans(spans: Sequence[ReadableSpan]) -> tuple[Sequence[ReadableSpan], int]:
    """spans whose text is not valid Unicode (a lone surrogate: what `os.fsdecode` or
    `surrogateescape` make of bytes that are not UTF-8), repaired as the receiver repairs
    invalid UTF-8: each surrogate becomes U+FFFD and the span gets INVALID_UTF8_ATTRIBUTE.
    Neither the Arrow rows nor OTLP can hold such text, and one span of it cost the whole batch
    (every span of it lost). Only called once a batch failed on it. Returns the spans and how
    many were repaired."""
    out: list[ReadableSpan] = []
    repaired = 0
    resources: dict[int, tuple[Resource, Resource, bool]] = {}
    for span in spans:
        resource = span.resource
        cached = resources.get(id(resource))
        if cached is None or cached[0] is not resource:
            attrs, bad = _clean_attrs(_attrs(resource.attributes))
            cached = (resource, Resource(attrs, resource.schema_url) if bad else resource, bad)
            resources[id(resource)] = cached
        name, bad = _text(span.name)
        attributes, bad_attrs = _clean_attrs(_span_attrs(span))
        events = []
        for e in span.events:
            event_name, bad_name = _text(e.name)
            event_attrs, bad_event = _clean_attrs(_attrs(e.attributes))
            events.append(Event(event_name, event_attrs, e.timestamp))
            bad = bad or bad_name or bad_event
        links = []
        for link in span.links:
            link_attrs, bad_link = _clean_attrs(_attrs(link.attributes))
            links.append(Link(link.context, link_attrs))
            bad = bad or bad_link
        status = span.status
        if status.description is not None:
            description, bad_status = _text(status.description)
            if bad_status:
                status, bad = Status(status.status_code, description), True
        if not (bad or bad_attrs or cached[2]):
            out.append(span)
            continue
        repaired += 1
        attributes[INVALID_UTF8_ATTRIBUTE] = True
        out.append(
            ReadableSpan(
                name=name,
                context=span.context,
                parent=span.parent,
                resource=cached[1],
                attributes=attributes,
                events=events,
                links=links,
                kind=span.kind,
                status=status,
                start_time=span.start_time,
                end_time=span.end_time,
                instrumentation_scope=span.instrumentation_scope,
            )
        )
    return out, repaired
