"""Which span attributes carry which fact: one table for every SDK and both generations of the
semantic conventions.

Each typed column of ``spans`` (tracer/schema.py) is filled from the first of its sources that a
span carries and that yields a value; what the instrumentations of Java, Go, .NET, Node and
Python really set is in docs/sdks.md (with the test suites it was taken from). The classifier
names the same sources when a span lacks a fact, so its "unresolved, because ..." says which
attribute would have told.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from urllib.parse import urlsplit

# An SQS queue URL: https://<endpoint>/<account id>/<queue name>.
_QUEUE_URL = re.compile(r"^https?://[^/?#]+/\d{12}/([^/?#]+)/?$")


def queue_of_url(value: str) -> str | None:
    """The queue name of an SQS queue URL; None for anything else."""
    match = _QUEUE_URL.match(value)
    return match.group(1) if match else None


def service_part(value: str) -> str | None:
    """`DynamoDB` of an rpc.method written as `DynamoDB/PutItem` (semconv 1.39 and later)."""
    service, slash, _ = value.partition("/")
    return service or None if slash else None


def operation_part(value: str) -> str | None:
    """`PutItem` of `DynamoDB/PutItem`; the value itself when it names no service."""
    return value.rpartition("/")[2] or None


def host_of(value: str) -> str | None:
    """The host of an address that is a URL (Go's otelaws puts the QueueUrl into
    server.address); the value itself when it is none."""
    if "://" not in value:
        return value
    try:
        return urlsplit(value).hostname
    except ValueError:
        return None


@dataclass(frozen=True, slots=True)
class Source:
    """An attribute that carries a column's fact, and how its value becomes the fact."""

    key: str
    read: Callable[[str], str | None] | None = None  # None: the value as it is
    # Read only from a span of an AWS SDK call (it carries rpc.system, rpc.system.name or
    # messaging.system): a URL means a queue only there.
    aws_only: bool = False
    # What it says, for docs and for the classifier's reasons ("a QueueUrl in url.full").
    shown: str = ""

    @property
    def label(self) -> str:
        return self.shown or self.key


AWS_MARKERS = frozenset({"rpc.system", "rpc.system.name", "messaging.system"})

_QUEUE_SOURCES = (
    Source("aws.sqs.queue.url", queue_of_url, shown="aws.sqs.queue.url"),
    Source("aws.queue_url", queue_of_url, shown="aws.queue_url"),
    Source("messaging.url", queue_of_url, shown="messaging.url"),
    Source("server.address", queue_of_url, aws_only=True, shown="a QueueUrl in server.address"),
    Source("url.full", queue_of_url, aws_only=True, shown="a QueueUrl in url.full"),
)

# Typed column <- its sources, first that yields a value wins. Newer conventions first.
COLUMN_SOURCES: dict[str, tuple[Source, ...]] = {
    "rpc_system": (Source("rpc.system"), Source("rpc.system.name")),
    "rpc_service": (Source("rpc.service"), Source("rpc.method", service_part)),
    "rpc_method": (Source("rpc.method", operation_part),),
    "cloud_region": (Source("cloud.region"),),
    "db_system": (Source("db.system.name"), Source("db.system")),
    "db_operation": (Source("db.operation.name"), Source("db.operation")),
    "messaging_system": (Source("messaging.system"),),
    "messaging_operation": (
        Source("messaging.operation.type"),
        Source("messaging.operation"),
    ),
    "messaging_destination": (
        Source("messaging.destination.name"),
        Source("messaging.destination"),
        Source("aws.sns.topic.arn"),
        Source("aws.kinesis.stream_name"),
        Source("aws.kinesis.stream.name"),
        *_QUEUE_SOURCES,
    ),
    "http_method": (Source("http.request.method"), Source("http.method")),
    "http_url": (Source("url.full"), Source("http.url")),
    "http_route": (Source("http.route"),),
    "http_status_code": (Source("http.response.status_code"), Source("http.status_code")),
    # Under the old conventions a span that carries net.host.* is a server's, and its
    # net.peer.* names the client (Node's instrumentation-http and python-contrib's WSGI
    # servers record both; no client records net.host.*): the host's own come first. http.host
    # is the Host header (old conventions; python-contrib's tornado server records the called
    # host nowhere else), read before net.peer.*, which names the client on a server span.
    # http.server_name is not read: it is a configured name (Node's `serverName`, Go otelhttp's
    # operation name up to v0.37, WSGI's SERVER_NAME: the socket's), not the called host.
    # A captured Host header (HOST_HEADER) is read by tracer/rows.py, in place of an absent
    # server.address or one that is an IP address.
    "server_address": (
        Source("server.address", host_of),
        Source("net.host.name"),
        Source("http.host"),
        Source("net.peer.name"),
    ),
    "server_port": (Source("server.port"), Source("net.host.port"), Source("net.peer.port")),
    "graphql_operation_name": (Source("graphql.operation.name"),),
    "graphql_operation_type": (Source("graphql.operation.type"),),
    "stream_name": (
        Source("aws.kinesis.stream_name"),
        Source("aws.kinesis.stream.name"),
        Source("seamscope.dynamodb.stream_table"),
    ),
    "stream_arn": (Source("seamscope.dynamodb.stream_arn"), Source("aws.kinesis.stream_arn")),
    "s3_bucket": (Source("aws.s3.bucket"),),
    "faas_invoked_name": (Source("faas.invoked_name"), Source("aws.lambda.function.name")),
}

# The Host header as captured (OTEL_INSTRUMENTATION_HTTP_CAPTURE_HEADERS_SERVER_REQUEST=host, or
# the Java agent's otel.instrumentation.http.server.capture-request-headers): a list of its values.
# tracer/rows.py reads it in place of a server.address that is an IP address: python-contrib's
# ASGI puts its socket's address there, and the stable conventions' server.address is otherwise
# the called host, better than the header behind a proxy (X-Forwarded-Host, Forwarded).
HOST_HEADER = "http.request.header.host"

# The attributes that name each resource an integration goes through (the classifier's reasons
# list them when a span names none). Tables and events are not in COLUMN_SOURCES: they are lists
# (tracer/rows.py).
QUEUE_ATTRIBUTES = (
    "messaging.destination.name",
    "messaging.destination",
    *(s.label for s in _QUEUE_SOURCES),
)
TOPIC_ATTRIBUTES = ("aws.sns.topic.arn", "messaging.destination.name")
STREAM_ATTRIBUTES = ("aws.kinesis.stream.name", "aws.kinesis.stream_name")
TABLE_ATTRIBUTES = ("aws.dynamodb.table_names", "db.collection.name", "db.namespace")
FUNCTION_ATTRIBUTES = ("faas.invoked_name", "aws.lambda.function.name")
