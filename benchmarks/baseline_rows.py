"""The span builder as the project skeleton had it, kept as the peer of the hot-path benchmark.

tracer/rows.py is measured against this in the same run, so its speed-up is a ratio that the
load of a shared machine does not distort. Not used by seamscope itself.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping, Sequence
from typing import Any
from urllib.parse import urlsplit

import pyarrow as pa

from seamscope.tracer.schema import SPAN_FIELDS, arrow_schema

AttrValue = (
    str | bool | int | float | Sequence[str] | Sequence[bool] | Sequence[int] | Sequence[float]
)
Attributes = Mapping[str, Any]

KINDS = ("UNSPECIFIED", "INTERNAL", "SERVER", "CLIENT", "PRODUCER", "CONSUMER")
STATUS_CODES = ("UNSET", "OK", "ERROR")

# Typed column <- attribute keys, first present wins. Newer conventions first.
_SCALAR_SOURCES: dict[str, tuple[str, ...]] = {
    "rpc_system": ("rpc.system",),
    "rpc_service": ("rpc.service",),
    "rpc_method": ("rpc.method",),
    "cloud_region": ("cloud.region",),
    "db_system": ("db.system.name", "db.system"),
    "db_operation": ("db.operation.name", "db.operation"),
    "messaging_system": ("messaging.system",),
    "messaging_operation": ("messaging.operation.type", "messaging.operation"),
    "messaging_destination": (
        "messaging.destination.name",
        "messaging.destination",
        "aws.sns.topic.arn",
        "aws.kinesis.stream_name",
    ),
    "http_method": ("http.request.method", "http.method"),
    "http_url": ("url.full", "http.url"),
    "http_route": ("http.route",),
    "http_status_code": ("http.response.status_code", "http.status_code"),
    "server_address": ("server.address", "net.peer.name", "net.host.name"),
    "server_port": ("server.port", "net.peer.port", "net.host.port"),
    "graphql_operation_name": ("graphql.operation.name",),
    "graphql_operation_type": ("graphql.operation.type",),
    "stream_name": ("aws.kinesis.stream_name", "seamscope.dynamodb.stream_table"),
    "stream_arn": ("seamscope.dynamodb.stream_arn", "aws.kinesis.stream_arn"),
    "s3_bucket": ("aws.s3.bucket",),
    "faas_invoked_name": ("faas.invoked_name",),
}
_INT_COLUMNS = frozenset({"http_status_code", "server_port"})

# Attributes our hooks set (see tracer/hooks/aws.py). Parallel lists, one item per event entry.
EVENT_BUSES = "seamscope.eventbridge.bus_names"
EVENT_SOURCES = "seamscope.eventbridge.sources"
EVENT_DETAIL_TYPES = "seamscope.eventbridge.detail_types"
SNS_TOPICS = "seamscope.sns.topic_arns"

# Secrets never reach the store.
_SECRET_KEY = re.compile(
    r"(authorization|cookie|token|secret|password|passwd|api[-_.]?key|credential|signature|"
    r"x-amz-security-token|session[-_.]?key)",
    re.IGNORECASE,
)
_SECRET_QUERY = re.compile(
    r"(?i)([?&](?:[^=&#]*(?:token|key|secret|password|passwd|signature|auth|credential|sig|code)"
    r"[^=&#]*)=)[^&#]*"
)
_AWS_ACCESS_KEY = re.compile(r"\b(?:AKIA|ASIA)[0-9A-Z]{16}\b")
REDACTED = "REDACTED"


def redact_url(url: str) -> str:
    """Drops user:password@ and the values of query parameters that look like secrets."""
    if "@" in url:
        try:
            parts = urlsplit(url)
        except ValueError:
            return url
        if parts.username is not None or parts.password is not None:
            host = parts.hostname or ""
            if parts.port:
                host = f"{host}:{parts.port}"
            url = parts._replace(netloc=f"{REDACTED}@{host}").geturl()
    if "?" in url:
        url = _SECRET_QUERY.sub(rf"\g<1>{REDACTED}", url)
    return url


_secret_keys: dict[str, bool] = {}


def _is_secret_key(key: str) -> bool:
    known = _secret_keys.get(key)
    if known is None:
        known = bool(_SECRET_KEY.search(key)) and not key.startswith(
            ("aws.", "seamscope.", "rpc.", "db.")
        )
        if len(_secret_keys) < 100_000:
            _secret_keys[key] = known
    return known


def _redact_value(key: str, value: Any) -> Any:
    if _is_secret_key(key):
        return REDACTED
    if isinstance(value, str):
        if "://" in value and ("?" in value or "@" in value):
            value = redact_url(value)
        if "AKIA" in value or "ASIA" in value:
            value = _AWS_ACCESS_KEY.sub(REDACTED, value)
    return value


def redact_attributes(attrs: Attributes) -> dict[str, Any]:
    """Returns a copy of attrs with secrets replaced by REDACTED."""
    return {k: _redact_value(k, v) for k, v in attrs.items()}


def _host_port(url: str) -> tuple[str | None, int | None]:
    try:
        parts = urlsplit(url)
        return parts.hostname, parts.port
    except ValueError:
        return None, None


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


def to_json(value: Any) -> str:
    return json.dumps(value, separators=(",", ":"), default=_json_default, ensure_ascii=False)


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
        if isinstance(dest, str) and dest.startswith("arn:"):
            return [dest]
    return None


_ResourceValues = tuple[str | None, str | None, str | None, str | None, str]


class SpanBatchBuilder:
    """Accumulates spans column by column and hands them over as one Arrow table."""

    __slots__ = ("_cols", "_resource_cache")

    def __init__(self) -> None:
        self._cols: dict[str, list[Any]] = {c.name: [] for c in SPAN_FIELDS}
        # Keyed by id(); the mapping itself is kept so that its id cannot be reused meanwhile.
        self._resource_cache: dict[int, tuple[Attributes, _ResourceValues]] = {}

    def __len__(self) -> int:
        return len(self._cols["trace_id"])

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
        *,
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
    ) -> None:
        """Adds one span. Ids are lowercase hex; times are Unix nanoseconds."""
        cols = self._cols
        service_name, namespace, role, instance, resource_json = self.resource_values(resource)
        attrs = redact_attributes(attributes)
        cols["trace_id"].append(trace_id)
        cols["span_id"].append(span_id)
        cols["parent_span_id"].append(parent_span_id or None)
        cols["name"].append(name)
        cols["kind"].append(kind)
        cols["start_time"].append(start_ns)
        cols["end_time"].append(end_ns)
        cols["duration_ns"].append(end_ns - start_ns)
        cols["status_code"].append(status_code)
        cols["status_message"].append(status_message or None)
        cols["service_name"].append(service_name)
        cols["service_namespace"].append(namespace)
        cols["service_role"].append(_str_or_none(attrs.get("seamscope.role")) or role)
        cols["service_instance"].append(instance)
        cols["scope_name"].append(scope_name or None)
        for column, keys in _SCALAR_SOURCES.items():
            value = None
            for key in keys:
                value = attrs.get(key)
                if value is not None:
                    break
            if column in _INT_COLUMNS:
                cols[column].append(_int_or_none(value))
            else:
                cols[column].append(_str_or_none(value))
        address = cols["server_address"][-1]
        if address is not None and address.count(":") == 1:
            # net.peer.name of botocore spans carries the port.
            host, _, port = address.partition(":")
            cols["server_address"][-1] = host
            if cols["server_port"][-1] is None:
                cols["server_port"][-1] = _int_or_none(port)
        # The URL carries the host when the old HTTP conventions left server.address out.
        url = cols["http_url"][-1]
        if url is not None and (
            cols["server_address"][-1] is None or cols["server_port"][-1] is None
        ):
            host, port = _host_port(url)
            if cols["server_address"][-1] is None:
                cols["server_address"][-1] = host
            if cols["server_port"][-1] is None:
                cols["server_port"][-1] = port
        cols["db_tables"].append(_table_names(attrs))
        cols["events"].append(_events(attrs))
        cols["sns_topics"].append(_sns_topics(attrs))
        cols["attributes"].append(to_json(attrs))
        cols["resource"].append(resource_json)
        cols["span_events"].append(to_json(list(events)) if events else None)
        cols["links"].append(to_json(list(links)) if links else None)

    def build(self) -> pa.Table:
        """The spans added so far (the skeleton's columns: no keys, which the store adds); the
        builder is emptied."""
        table = pa.Table.from_pydict(self._cols, schema=arrow_schema(SPAN_FIELDS))
        self._cols = {c.name: [] for c in SPAN_FIELDS}
        self._resource_cache.clear()
        return table
