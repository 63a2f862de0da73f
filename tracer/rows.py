"""Turns spans, from any source, into Arrow batches of the store's schema.

Both adapters (SDK ReadableSpans in the exporter, OTLP protobuf/JSON in the receiver and the
ingester) hand plain values to one SpanBatchBuilder, so both generations of semantic
conventions fill the same typed columns, and secrets are redacted in one place.
"""

from __future__ import annotations

import ipaddress
import json
import json.encoder
import re
from collections.abc import Callable, Mapping, Sequence
from typing import Any
from urllib.parse import urlsplit

import pyarrow as pa

from seamscope.tracer.keys import add_keys
from seamscope.tracer.redact import (
    REDACTED,
    json_may_hold_secret,
    redact_attributes,
    redact_name,
    redact_text,
    redact_url,
    scrubbed_key,
)
from seamscope.tracer.schema import SPAN_FIELDS
from seamscope.tracer.sources import AWS_MARKERS, COLUMN_SOURCES, HOST_HEADER

__all__ = [
    "KINDS",
    "REDACTED",
    "STATUS_CODES",
    "Piece",
    "SpanBatchBuilder",
    "attribute_piece",
    "encoded_attributes",
    "redact_attributes",
    "encode_container",
    "plain_piece",
    "redact_url",
    "shared_piece",
    "to_json",
]

AttrValue = (
    str | bool | int | float | Sequence[str] | Sequence[bool] | Sequence[int] | Sequence[float]
)
Attributes = Mapping[str, Any]

KINDS = ("UNSPECIFIED", "INTERNAL", "SERVER", "CLIENT", "PRODUCER", "CONSUMER")
STATUS_CODES = ("UNSET", "OK", "ERROR")

_INT_COLUMNS = frozenset({"http_status_code", "server_port"})

# Attributes our hooks set (see tracer/hooks/aws.py). Parallel lists, one item per event entry.
EVENT_BUSES = "seamscope.eventbridge.bus_names"
EVENT_SOURCES = "seamscope.eventbridge.sources"
EVENT_DETAIL_TYPES = "seamscope.eventbridge.detail_types"
SNS_TOPICS = "seamscope.sns.topic_arns"


def _host_port(url: str) -> tuple[str | None, int | None]:
    try:
        parts = urlsplit(url)
        return parts.hostname, parts.port
    except ValueError:
        return None, None


# The host and port of a URL's authority, as the classifier reads a server span's URL
# (classifiers/facts.py _AUTHORITY): a name, an IPv4 address or a bracketed IPv6 literal
# (`http://[::1]:8080/x`), once user info is cut off (up to its last "@", as urlsplit reads
# it; only where the URL has an "@", as the classifier does).
_AUTHORITY = re.compile(r"^[a-zA-Z]+://([^/?#:@\[\]]+|\[[0-9A-Fa-f:.]+\])(?::([0-9]*))?(?:[/?#]|$)")
_USER_INFO = re.compile(r"^([a-zA-Z]+://)[^/?#]*@")
# An IPv6 literal as a URL's authority or a Host header writes it, with its port or without.
# Stored without the brackets, as the stable conventions write server.address (Go's otelhttp
# and python-contrib do; .NET's and Node's undici keep the brackets of Uri.Host / URL.hostname).
_BRACKETED = re.compile(r"^\[([0-9A-Fa-f:.]+)\](?::([0-9]*))?$")


def _ip_address(address: str) -> bool:
    """Whether an address (`host`, `host:port`, `[v6]` or `[v6]:port`) names an IP address,
    not a host name."""
    if address.startswith("["):
        match = _BRACKETED.match(address)
        host = match.group(1) if match is not None else address
    elif address.count(":") == 1:
        host = address.partition(":")[0]
    else:
        host = address
    try:
        ipaddress.ip_address(host)
    except ValueError:
        return False
    return True


def _called_host(header: Any, address: str | None) -> str | None:
    """The captured Host header (a list of its values) in place of an address that is absent
    or an IP address: python-contrib's ASGI records its socket's address in server.address.
    Any other server.address is the called host by the stable conventions, which prefer a
    proxy's Forwarded / X-Forwarded-Host to the Host header."""
    if isinstance(header, (list, tuple)):
        header = header[0] if header else None
    if not isinstance(header, str) or not header.strip():
        return address
    return header.strip() if address is None or _ip_address(address) else address


def _str_or_none(value: Any) -> str | None:
    if value is None:
        return None
    if isinstance(value, str):
        return value
    if isinstance(value, (list, tuple)):
        return ",".join(str(v) for v in value)
    return str(value)


def _int_or_none(value: Any) -> int | None:
    if value is None or isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value if -(2**31) <= value < 2**31 else None
    if isinstance(value, float):
        return int(value) if -(2**31) <= value < 2**31 else None
    if isinstance(value, str):
        try:
            number = int(value)
        except ValueError:
            return None
        return number if -(2**31) <= number < 2**31 else None
    return None


def _str_list(value: Any) -> list[str]:
    if value is None:
        return []
    if isinstance(value, str):
        return [value]
    if isinstance(value, (list, tuple)):
        return [str(v) for v in value]
    return [str(value)]


def _json_default(value: Any) -> Any:
    if isinstance(value, bytes):
        return value.hex()
    if isinstance(value, (tuple, set, frozenset)):
        return list(value)
    return str(value)


_ENCODER = json.JSONEncoder(separators=(",", ":"), default=_json_default, ensure_ascii=False)
_encode = _ENCODER.encode
# The C encoder made once, as json.dumps would make it on every call (no circular-reference
# markers: span attributes, events and links are trees of plain values).
_c_make_encoder = getattr(json.encoder, "c_make_encoder", None)
_c_encoder = (
    _c_make_encoder(
        None, _json_default, json.encoder.encode_basestring, None, ":", ",", False, False, True
    )
    if _c_make_encoder is not None
    else None
)


def encode_container(value: dict[str, Any] | list[Any]) -> str:
    """JSON of a dict or list, as to_json makes it, without building an encoder per call."""
    if _c_encoder is None:
        return _encode(value)
    chunks: list[str] = _c_encoder(value, 0)
    return "".join(chunks)


def to_json(value: Any) -> str:
    return _encode(value)


Piece = tuple[str, Any, str, bool, bool, bool]
"""One attribute as a span's attribute JSON holds it: (key, value, its `"key":value` text,
whether `json_may_hold_secret` holds for that text, whether it has "@", whether it has "://")."""


def attribute_piece(key: str, value: Any) -> Piece:
    """The Piece of one attribute. Decoders remember it by the attribute's wire bytes, so a
    span's attribute JSON and its redaction test cost a join instead of an encode and a scan."""
    return plain_piece(key, value, encode_container({key: value})[1:-1])


_SCALARS = frozenset({str, int, float, bool, type(None)})


def shared_piece(key: str, value: Any) -> Piece | None:
    """The Piece of an attribute that a decoder may remember and hand to every span that
    carries the same bytes: a scalar as it is, an array of scalars as a tuple (the builder
    reads an array as list or tuple alike, and no span can change a tuple it shares); None for
    a map or an array holding maps or arrays, whose piece is made anew for each span."""
    if value.__class__ is list:
        if not all(v.__class__ in _SCALARS for v in value):
            return None
        value = tuple(value)
    elif value.__class__ is dict:
        return None
    return attribute_piece(key, value)


def plain_piece(key: str, value: Any, text: str) -> Piece:
    """The Piece of one attribute whose `"key":value` text the caller has made already."""
    return key, value, text, json_may_hold_secret(text), "@" in text, "://" in text


def encoded_attributes(pieces: Sequence[Piece]) -> tuple[dict[str, Any], tuple[str, bool] | None]:
    """The attributes of pieces as a dict, and (their JSON, whether json_may_hold_secret holds
    for it) as SpanBatchBuilder.add's `encoded` takes it; None when a key repeats (the dict then
    keeps one value, its JSON is the builder's to make).

    The JSON is the pieces' texts joined, exactly what encode_container makes of the dict. Every
    test of json_may_hold_secret but one matches inside one piece: "=" looks back no further
    than the opening quote of its string, and no other substring can span the `,"` between two
    pieces; the one that can, "@" with "://", is tested over all the pieces.
    """
    if not pieces:
        return {}, ("{}", False)
    # Not strict: every piece has six fields, and the check cost a third of a microsecond a
    # span.
    keys, values, texts, suspects, ats, schemes = zip(*pieces, strict=False)
    attributes = dict(zip(keys, values, strict=False))
    if len(attributes) != len(pieces):
        return attributes, None
    suspect = True in suspects or (True in ats and True in schemes)
    return attributes, ("{" + ",".join(texts) + "}", suspect)


def _table_names(attrs: Attributes) -> list[str] | None:
    names = attrs.get("aws.dynamodb.table_names")
    if names is None:
        names = (
            attrs.get("db.collection.name")
            if attrs.get("db.system.name") == "aws.dynamodb"
            else None
        )
    if names is None and _str_or_none(attrs.get("db.system.name") or attrs.get("db.system")) in (
        "dynamodb",
        "aws.dynamodb",
    ):
        names = attrs.get("db.namespace") or attrs.get("db.name")
    if names is None:
        return None
    return _str_list(names)


def _events(attrs: Attributes) -> list[dict[str, str | None]] | None:
    sources = attrs.get(EVENT_SOURCES)
    detail_types = attrs.get(EVENT_DETAIL_TYPES)
    buses = attrs.get(EVENT_BUSES)
    if sources is None and detail_types is None and buses is None:
        return None
    s, d, b = _str_list(sources), _str_list(detail_types), _str_list(buses)
    n = max(len(s), len(d), len(b))
    return [
        {
            "bus": b[i] if i < len(b) else None,
            "source": s[i] if i < len(s) else None,
            "detail_type": d[i] if i < len(d) else None,
        }
        for i in range(n)
    ]


def _sns_topics(attrs: Attributes) -> list[str] | None:
    topics = attrs.get(SNS_TOPICS)
    if topics is not None:
        return _str_list(topics)
    arn = attrs.get("aws.sns.topic.arn")
    if arn is not None:
        return _str_list(arn)
    if attrs.get("messaging.system") == "aws.sns":
        dest = attrs.get("messaging.destination.name") or attrs.get("messaging.destination")
        # A topic's ARN; a platform endpoint's (`...:endpoint/APNS/app/id`, a TargetArn that
        # Node's instrumentation records here) names a device, not a topic.
        if isinstance(dest, str) and dest.startswith("arn:") and "/" not in dest:
            return [dest]
    return None


Reader = Callable[[str], str | None]
_ResourceValues = tuple[str | None, str | None, str | None, str | None, str]

# Row layout: SPAN_FIELDS order (the input columns but the keys, which build() adds). add() fills
# a temporary row and appends it to one flat list (no container per span stays alive, so the
# cyclic GC is not kept busy); build() slices columns.
_NCOLS = len(SPAN_FIELDS)
_IDX: dict[str, int] = {c.name: i for i, c in enumerate(SPAN_FIELDS)}
_HEAD = tuple(c.name for c in SPAN_FIELDS[:15])
assert _HEAD == (
    "trace_id", "span_id", "parent_span_id", "name", "kind", "start_time", "end_time",
    "duration_ns", "status_code", "status_message", "service_name", "service_namespace",
    "service_role", "service_instance", "scope_name",
)  # fmt: skip
assert tuple(c.name for c in SPAN_FIELDS[-4:]) == (
    "attributes",
    "resource",
    "span_events",
    "links",
)
_ROLE = _IDX["service_role"]
_ADDRESS = _IDX["server_address"]
_PORT = _IDX["server_port"]
_URL = _IDX["http_url"]
_DB_TABLES = _IDX["db_tables"]
_EVENTS = _IDX["events"]
_SNS = _IDX["sns_topics"]

_TABLE_KEYS = frozenset(
    {"aws.dynamodb.table_names", "db.collection.name", "db.system.name", "db.system"}
)
_EVENT_KEYS = frozenset({EVENT_BUSES, EVENT_SOURCES, EVENT_DETAIL_TYPES})
_SNS_KEYS = frozenset({SNS_TOPICS, "aws.sns.topic.arn", "messaging.system"})


class _Plan:
    """What one attribute key set needs: computed once per distinct key set, then reused.

    Spans of one kind (a GetItem, a Flask request) carry the same keys every time, so the
    typed-column lookups, the secret-key checks and the list columns are decided once.
    """

    __slots__ = ("secret", "scalars", "tables", "events", "sns", "role", "host_header")

    def __init__(self, keys: tuple[str, ...]) -> None:
        present = set(keys)
        # Keys whose values are rewritten for the key alone (secrets, statements, GraphQL).
        self.secret = any(scrubbed_key(k) for k in keys)
        aws = not present.isdisjoint(AWS_MARKERS)
        scalars: list[tuple[int, tuple[tuple[str, Reader | None], ...], bool]] = []
        for column, sources in COLUMN_SOURCES.items():
            found = tuple(
                (s.key, s.read) for s in sources if s.key in present and (aws or not s.aws_only)
            )
            if found:
                scalars.append((_IDX[column], found, column in _INT_COLUMNS))
        self.scalars = tuple(scalars)
        self.tables = not present.isdisjoint(_TABLE_KEYS)
        self.events = not present.isdisjoint(_EVENT_KEYS)
        self.sns = not present.isdisjoint(_SNS_KEYS)
        self.role = "seamscope.role" in present
        self.host_header = HOST_HEADER in present


_plans: dict[tuple[str, ...], _Plan] = {}
_MAX_PLANS = 10_000


def _plan(keys: tuple[str, ...]) -> _Plan:
    plan = _plans.get(keys)
    if plan is None:
        plan = _Plan(keys)
        if len(_plans) >= _MAX_PLANS:
            _plans.clear()
        _plans[keys] = plan
    return plan


def _records_json(records: Sequence[Mapping[str, Any]]) -> str:
    """Span events or links as JSON, with secrets in their names and attributes redacted."""
    items = list(records)
    text = _encode(items)
    if not _records_may_hold_secret(text, items) and not any(
        scrubbed_key(k) for r in items for k in (r.get("attributes") or ())
    ):
        return text
    cleaned = []
    for record in items:
        record = dict(record)
        attrs = record.get("attributes")
        if isinstance(attrs, Mapping):
            record["attributes"] = redact_attributes(attrs)
        name = record.get("name")
        if isinstance(name, str):
            record["name"] = redact_name(name)
        cleaned.append(record)
    return _encode(cleaned)


def _records_may_hold_secret(text: str, items: list[Mapping[str, Any]]) -> bool:
    """json_may_hold_secret for text, the JSON of items (span events or links), not misled by
    their own structure: each record is a map and so is its attributes, which that test takes
    for map values (whose keys may name secrets), so that every event and link went through
    the redaction one by one (4 us each). When the text has no other "{" (none in a value, a
    name or a string), it has no map value, and the test is made without the structure's."""
    if text.count("{") != 2 * len(items) or not all(
        r.get("attributes").__class__ is dict for r in items
    ):
        return json_may_hold_secret(text)
    # Each "{" dropped follows "[", ":" or "," and precedes '"' or "}": no substring the test
    # looks for is made by dropping it.
    return json_may_hold_secret(text.replace("{", ""))


class SpanBatchBuilder:
    """Accumulates spans row by row and hands them over as one Arrow table."""

    __slots__ = ("_flat", "_resource_cache")

    def __init__(self) -> None:
        self._flat: list[Any] = []
        # Keyed by id(); the mapping itself is kept so that its id cannot be reused meanwhile.
        self._resource_cache: dict[int, tuple[Attributes, _ResourceValues]] = {}

    def __len__(self) -> int:
        return len(self._flat) // _NCOLS

    def resource_values(self, resource: Attributes) -> _ResourceValues:
        """(service_name, service_namespace, role, instance, resource JSON), cached by identity."""
        key = id(resource)
        cached = self._resource_cache.get(key)
        if cached is not None and cached[0] is resource:
            return cached[1]
        instance = _str_or_none(resource.get("service.instance.id"))
        if instance is None and resource.get("process.pid") is not None:
            instance = f"{resource.get('host.name', '')}:{resource.get('process.pid')}"
        values = (
            _str_or_none(resource.get("service.name")),
            _str_or_none(resource.get("service.namespace")),
            _str_or_none(resource.get("seamscope.role")),
            instance,
            to_json(redact_attributes(resource)),
        )
        self._resource_cache[key] = (resource, values)
        return values

    def add(
        self,
        trace_id: str,
        span_id: str,
        parent_span_id: str | None,
        name: str,
        kind: str,
        start_ns: int,
        end_ns: int,
        status_code: str,
        status_message: str | None,
        attributes: Attributes,
        resource: Attributes,
        scope_name: str | None,
        events: Sequence[Mapping[str, Any]] = (),
        links: Sequence[Mapping[str, Any]] = (),
        encoded: tuple[str, bool] | None = None,
    ) -> None:
        """Adds one span. Ids are lowercase hex; times are Unix nanoseconds. encoded: the
        attributes' JSON as `encode_container` makes it and whether `json_may_hold_secret` holds
        for it, when the caller knows both already (`AttributeCache` does).

        The arguments may come by position, in this order: the flat decoders pass each span as
        a tuple (a dict of keywords per span cost them about 0.5 us a span)."""
        cached = self._resource_cache.get(id(resource))
        if cached is not None and cached[0] is resource:
            service_name, namespace, role, instance, resource_json = cached[1]
        else:
            service_name, namespace, role, instance, resource_json = self.resource_values(resource)
        attrs: dict[str, Any] = attributes if isinstance(attributes, dict) else dict(attributes)
        plan = _plans.get(tuple(attrs)) or _plan(tuple(attrs))
        # Redaction: the common span has nothing to redact, which one scan of its JSON proves.
        if plan.secret:
            attrs = redact_attributes(attrs)
            attrs_json = encode_container(attrs)
        else:
            if encoded is None:
                attrs_json = encode_container(attrs)
                suspect = json_may_hold_secret(attrs_json)
            else:
                attrs_json, suspect = encoded
            if suspect:
                redacted = redact_attributes(attrs)
                if redacted != attrs:
                    attrs = redacted
                    attrs_json = encode_container(redacted)
        row: list[Any] = [None] * _NCOLS
        row[0:15] = (
            trace_id,
            span_id,
            parent_span_id or None,
            redact_name(name),
            kind,
            start_ns,
            end_ns,
            end_ns - start_ns,
            status_code,
            redact_text(status_message) if status_message else None,
            service_name,
            namespace,
            (_str_or_none(attrs.get("seamscope.role")) or role) if plan.role else role,
            instance,
            scope_name or None,
        )
        for index, sources, is_int in plan.scalars:
            value = None
            for key, read in sources:
                value = attrs[key]
                if read is not None and value is not None:
                    value = read(value) if value.__class__ is str else None
                if value is not None:
                    break
            if is_int:
                if value.__class__ is not int or not -2147483648 <= value < 2147483648:
                    value = _int_or_none(value)
            elif value.__class__ is not str:
                value = _str_or_none(value)
            row[index] = value
        address = row[_ADDRESS]
        if plan.host_header:
            address = row[_ADDRESS] = _called_host(attrs[HOST_HEADER], address)
        if address is not None and address.startswith("["):
            # An IPv6 literal in brackets (.NET's server.address, a Host header, http.host):
            # the address without them. One cut short at its first colon is none (Java's
            # agent reads `[fd00::5]:9000` as the host `[fd00`: tests/fixtures/sdks/ipv6.py).
            match = _BRACKETED.match(address)
            address = row[_ADDRESS] = match.group(1).lower() if match is not None else None
            port = match.group(2) if match is not None else None
            if port and (row[_PORT] is None or kind == "SERVER"):
                row[_PORT] = _int_or_none(port) or row[_PORT]
        elif address is not None and address.count(":") == 1:
            # net.peer.name of botocore spans carries the port. So does the Host header a
            # server records, and on a server span its port is the one called: python-contrib's
            # WSGI servers record it in net.host.name and server.address, and their socket's in
            # net.host.port and server.port.
            address, _, port = address.partition(":")
            row[_ADDRESS] = address
            if row[_PORT] is None or kind == "SERVER":
                row[_PORT] = _int_or_none(port) or row[_PORT]
        url = row[_URL]
        if url is not None:
            if kind == "SERVER" and (
                match := _AUTHORITY.match(_USER_INFO.sub(r"\1", url, 1) if "@" in url else url)
            ):
                # A server's URL (old conventions) is built from the Host header: the host and
                # port called, where its attributes name the socket (python-contrib's ASGI);
                # a URL without a port names the scheme's default, as the classifier reads it.
                row[_ADDRESS] = match.group(1).strip("[]").lower()
                port = match.group(2)
                row[_PORT] = _int_or_none(port) if port else None
            elif address is None or row[_PORT] is None:
                # The URL carries the host when the old conventions left server.address out.
                host, port_number = _host_port(url)
                if address is None:
                    row[_ADDRESS] = host
                if row[_PORT] is None:
                    row[_PORT] = port_number
        if plan.tables:
            row[_DB_TABLES] = _table_names(attrs)
        if plan.events:
            row[_EVENTS] = _events(attrs)
        if plan.sns:
            row[_SNS] = _sns_topics(attrs)
        row[-4:] = (
            attrs_json,
            resource_json,
            _records_json(events) if events else None,
            _records_json(links) if links else None,
        )
        self._flat += row

    def build(self) -> pa.Table:
        """The spans added so far as a table of INPUT_SCHEMA; the builder is emptied."""
        flat = self._flat
        self._flat = []
        self._resource_cache.clear()
        arrays = [
            pa.array(flat[i::_NCOLS], type=column.arrow_type)
            for i, column in enumerate(SPAN_FIELDS)
        ]
        table = pa.Table.from_arrays(arrays, names=[c.name for c in SPAN_FIELDS])
        return add_keys(table)
