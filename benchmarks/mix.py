"""A realistic mix of spans, shaped like what the real instrumentations emit.

The shapes follow notes/otel-ground-truth.md (botocore, httpx, Flask, SNS producer spans) and the
attributes the seamscope hooks add. Used by the hot-path benchmarks: builder inputs, real SDK
ReadableSpans and OTLP protobuf requests, all from the same templates.
"""

from __future__ import annotations

import random
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

Attrs = dict[str, Any]

REGION = "eu-west-1"
ACCOUNT = "123456789012"


@dataclass(frozen=True, slots=True)
class Template:
    """One kind of span: name, kind, instrumentation scope and an attribute factory."""

    weight: int
    name: str
    kind: str
    scope: str
    attrs: Callable[[random.Random], Attrs]


def _aws(service: str, method: str, rng: random.Random, port: int = 443) -> Attrs:
    host = f"{service.lower()}.{REGION}.amazonaws.com"
    return {
        "rpc.system": "aws-api",
        "rpc.service": service,
        "rpc.method": method,
        "cloud.region": REGION,
        "server.address": host,
        "server.port": port,
        "aws.request_id": f"{rng.getrandbits(64):016X}REQ{rng.getrandbits(32):08X}",
        "retry_attempts": 0,
        "http.status_code": 200,
    }


def _dynamodb(method: str) -> Callable[[random.Random], Attrs]:
    def make(rng: random.Random) -> Attrs:
        attrs = _aws("DynamoDB", method, rng)
        table = rng.choice(("Orders", "Customers", "Inventory", "Payments"))
        attrs.update(
            {
                "aws.dynamodb.table_names": [table],
                "db.system": "dynamodb",
                "db.operation": method,
                "net.peer.name": f"dynamodb.{REGION}.amazonaws.com:443",
            }
        )
        if method in ("Query", "Scan"):
            attrs["aws.dynamodb.consistent_read"] = False
            attrs["aws.dynamodb.limit"] = 100
            attrs["aws.dynamodb.count"] = rng.randrange(100)
            attrs["aws.dynamodb.scanned_count"] = rng.randrange(100, 200)
        return attrs

    return make


def _transact(rng: random.Random) -> Attrs:
    attrs = _aws("DynamoDB", "TransactWriteItems", rng)
    attrs.update(
        {
            "db.system": "dynamodb",
            "db.operation": "TransactWriteItems",
            "aws.dynamodb.table_names": ["Orders", "Inventory"],  # recovered by the hook
        }
    )
    return attrs


def _streams(rng: random.Random) -> Attrs:
    attrs = _aws("DynamoDB Streams", "GetRecords", rng)
    attrs["seamscope.dynamodb.stream_arn"] = (
        f"arn:aws:dynamodb:{REGION}:{ACCOUNT}:table/Orders/stream/2026-11-25T10:00:00.000"
    )
    attrs["seamscope.dynamodb.stream_table"] = "Orders"
    return attrs


def _sqs(method: str) -> Callable[[random.Random], Attrs]:
    def make(rng: random.Random) -> Attrs:
        attrs = _aws("SQS", method, rng)
        queue = rng.choice(("orders-q", "billing-q", "events-q"))
        url = f"https://sqs.{REGION}.amazonaws.com/{ACCOUNT}/{queue}"
        attrs.update(
            {
                "aws.queue_url": url,
                "messaging.url": url,
                "messaging.destination": queue,
                "messaging.system": "aws.sqs",
            }
        )
        if method == "ReceiveMessage":
            attrs["seamscope.eventbridge.sources"] = ["orders"]
            attrs["seamscope.eventbridge.detail_types"] = ["OrderPlaced"]
            attrs["seamscope.eventbridge.bus_names"] = ["default"]
        return attrs

    return make


def _sns(rng: random.Random) -> Attrs:
    arn = f"arn:aws:sns:{REGION}:{ACCOUNT}:order-events"
    return {
        "rpc.system": "aws-api",
        "rpc.service": "SNS",
        "rpc.method": "Publish",
        "cloud.region": REGION,
        "server.address": f"sns.{REGION}.amazonaws.com",
        "server.port": 443,
        "messaging.system": "aws.sns",
        "messaging.destination": arn,
        "messaging.destination.name": arn,
        "messaging.destination_kind": "topic",
        "aws.sns.topic.arn": arn,
        "aws.request_id": f"{rng.getrandbits(64):016x}",
        "retry_attempts": 0,
        "http.status_code": 200,
    }


def _put_events(rng: random.Random) -> Attrs:
    attrs = _aws("EventBridge", "PutEvents", rng)
    n = rng.choice((1, 1, 2))
    attrs["seamscope.eventbridge.bus_names"] = ["default"] * n
    attrs["seamscope.eventbridge.sources"] = ["orders"] * n
    attrs["seamscope.eventbridge.detail_types"] = ["OrderPlaced", "OrderPaid"][:n]
    return attrs


def _kinesis(rng: random.Random) -> Attrs:
    attrs = _aws("Kinesis", "PutRecord", rng)
    attrs["aws.kinesis.stream_name"] = "clickstream"
    return attrs


def _s3(rng: random.Random) -> Attrs:
    attrs = _aws("S3", "PutObject", rng)
    attrs["aws.s3.bucket"] = "invoices-archive"
    return attrs


def _httpx(host: str, path: str, graphql: bool = False) -> Callable[[random.Random], Attrs]:
    def make(rng: random.Random) -> Attrs:
        attrs: Attrs = {
            "http.request.method": "POST" if graphql else "GET",
            "url.full": f"http://{host}:8080{path}"
            + ("" if graphql else f"/{rng.randrange(10**6)}"),
            "server.address": host,
            "server.port": 8080,
            "network.peer.address": "127.0.0.1",
            "network.peer.port": 8080,
            "http.response.status_code": 200,
        }
        if graphql:
            attrs["graphql.operation.name"] = rng.choice(("CartQuery", "Checkout", "Profile"))
            attrs["graphql.operation.type"] = "query"
        return attrs

    return make


def _external(rng: random.Random) -> Attrs:
    return {
        "http.request.method": "POST",
        "url.full": "https://api.mailchimp.com/3.0/lists/abc/members?api_key=s3cr3t&page=2",
        "server.address": "api.mailchimp.com",
        "server.port": 443,
        "network.peer.address": "203.0.113.7",
        "network.peer.port": 443,
        "http.response.status_code": 200,
        "http.request.header.authorization": ["Bearer abcdef"],
    }


def _flask(rng: random.Random) -> Attrs:
    return {
        "http.request.method": "GET",
        "url.scheme": "http",
        "url.path": f"/orders/{rng.randrange(10**6)}",
        "http.route": "/orders/<oid>",
        "server.address": "orders:8080",
        "server.port": 8080,
        "network.peer.address": "127.0.0.1",
        "network.peer.port": 51234,
        "client.address": "127.0.0.1",
        "user_agent.original": "python-httpx/0.28.1",
        "network.protocol.version": "1.1",
        "http.response.status_code": 200,
    }


def _internal(rng: random.Random) -> Attrs:
    return {"seamscope.job": "nightly-copy", "job.run": rng.randrange(1000)}


BOTO = "opentelemetry.instrumentation.botocore"
HTTPX = "opentelemetry.instrumentation.httpx"
FLASK = "opentelemetry.instrumentation.flask"

TEMPLATES: tuple[Template, ...] = (
    Template(14, "DynamoDB.GetItem", "CLIENT", BOTO, _dynamodb("GetItem")),
    Template(10, "DynamoDB.PutItem", "CLIENT", BOTO, _dynamodb("PutItem")),
    Template(6, "DynamoDB.Query", "CLIENT", BOTO, _dynamodb("Query")),
    Template(2, "DynamoDB.Scan", "CLIENT", BOTO, _dynamodb("Scan")),
    Template(2, "DynamoDB.TransactWriteItems", "CLIENT", BOTO, _transact),
    Template(3, "DynamoDB Streams.GetRecords", "CLIENT", BOTO, _streams),
    Template(6, "SQS.SendMessage", "CLIENT", BOTO, _sqs("SendMessage")),
    Template(6, "SQS.ReceiveMessage", "CLIENT", BOTO, _sqs("ReceiveMessage")),
    Template(3, "order-events send", "PRODUCER", BOTO, _sns),
    Template(4, "EventBridge.PutEvents", "CLIENT", BOTO, _put_events),
    Template(2, "Kinesis.PutRecord", "CLIENT", BOTO, _kinesis),
    Template(2, "S3.PutObject", "CLIENT", BOTO, _s3),
    Template(12, "GET", "CLIENT", HTTPX, _httpx("orders", "/orders")),
    Template(6, "POST", "CLIENT", HTTPX, _httpx("bff", "/graphql", graphql=True)),
    Template(2, "POST", "CLIENT", HTTPX, _external),
    Template(16, "GET /orders/<oid>", "SERVER", FLASK, _flask),
    Template(4, "nightly-copy", "INTERNAL", "app", _internal),
)


def resources(count: int = 12) -> list[Attrs]:
    """Resource attribute sets as the SDK and the seamscope distro fill them."""
    roles = ("webapp", "bff", "backend", "worker", "job")
    return [
        {
            "telemetry.sdk.language": "python",
            "telemetry.sdk.name": "opentelemetry",
            "telemetry.sdk.version": "1.45.1",
            "service.name": f"svc-{i}",
            "service.namespace": f"system-{i % 5}",
            "seamscope.role": roles[i % len(roles)],
            "service.instance.id": f"{i:04d}-instance",
            "host.name": "bench-host",
            "process.pid": 1000 + i,
            "telemetry.auto.version": "0.66b1",
        }
        for i in range(count)
    ]


@dataclass(slots=True)
class SpanInput:
    """The keyword arguments of SpanBatchBuilder.add, minus the resource."""

    trace_id: str
    span_id: str
    parent_span_id: str | None
    name: str
    kind: str
    start_ns: int
    end_ns: int
    status_code: str
    attributes: Attrs
    scope_name: str
    resource_index: int


def span_inputs(count: int, seed: int = 7) -> Iterator[SpanInput]:
    """count spans of the weighted mix, in traces of about 8 spans."""
    rng = random.Random(seed)
    weights = [t.weight for t in TEMPLATES]
    picks = rng.choices(TEMPLATES, weights=weights, k=count)
    start = 1_764_000_000_000_000_000
    trace_id = ""
    parent: str | None = None
    for i, template in enumerate(picks):
        if i % 8 == 0:
            trace_id = f"{rng.getrandbits(128):032x}"
            parent = None
        span_id = f"{rng.getrandbits(64):016x}"
        begin = start + i * 1_000_000
        yield SpanInput(
            trace_id=trace_id,
            span_id=span_id,
            parent_span_id=parent,
            name=template.name,
            kind=template.kind,
            start_ns=begin,
            end_ns=begin + rng.randrange(200_000, 30_000_000),
            status_code="ERROR" if rng.random() < 0.02 else "UNSET",
            attributes=template.attrs(rng),
            scope_name=template.scope,
            resource_index=i // 64 % 12,
        )
        parent = parent or span_id


def sdk_spans(count: int, seed: int = 7) -> list[Any]:
    """count real SDK ReadableSpans of the mix, made by the OpenTelemetry SDK itself."""
    from opentelemetry import trace
    from opentelemetry.sdk.resources import Resource
    from opentelemetry.sdk.trace import ReadableSpan, SpanProcessor, TracerProvider

    class Collect(SpanProcessor):
        def __init__(self) -> None:
            self.spans: list[ReadableSpan] = []

        def on_end(self, span: ReadableSpan) -> None:
            self.spans.append(span)

    collect = Collect()
    providers = []
    for attrs in resources():
        # Not shut down at exit: that registers the provider with atexit, which would keep it,
        # this processor and every span made alive until the benchmark process ends (1.1M
        # objects for the ingest's 100k spans, which every later garbage collection walks).
        provider = TracerProvider(resource=Resource.create(attrs), shutdown_on_exit=False)
        provider.add_span_processor(collect)
        providers.append(provider)
    kinds = {k.name: k for k in trace.SpanKind}
    root: Any = None
    for i, s in enumerate(span_inputs(count, seed)):
        tracer = providers[s.resource_index].get_tracer(s.scope_name, "0.66b1")
        context = None if root is None or i % 8 == 0 else trace.set_span_in_context(root)
        span = tracer.start_span(
            s.name,
            context=context,
            kind=kinds[s.kind],
            attributes=s.attributes,
            start_time=s.start_ns,
        )
        if s.status_code == "ERROR":
            span.set_status(trace.StatusCode.ERROR, "boom")
        span.end(end_time=s.end_ns)
        if i % 8 == 0:
            root = span
    return collect.spans


def otlp_requests(spans: list[Any], per_request: int = 512) -> list[bytes]:
    """The spans as serialized OTLP ExportTraceServiceRequests, as the stock exporter sends them."""
    from opentelemetry.exporter.otlp.proto.common.trace_encoder import encode_spans

    return [
        encode_spans(spans[i : i + per_request]).SerializeToString()
        for i in range(0, len(spans), per_request)
    ]
