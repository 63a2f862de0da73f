"""Builds spans the way the instrumentations emit them (see notes on OTel ground truth).

A tiny fleet DSL for classifier tests: each helper adds the spans one real call produces, with
the attribute shapes of the Python instrumentations (botocore: rpc.* + aws.*; httpx in old or
stable HTTP conventions) or of the JS SDK (db.system.name/db.namespace, PRODUCER sends, an
HTTP transport span nested under every AWS span). The spans go into a real DuckDB store
through SpanBatchBuilder and Store.append, as the exporter and the receiver do.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from seamscope.tracer.rows import SpanBatchBuilder
from seamscope.tracer.store import Store

MOTO = ("127.0.0.1", 5555)
BASE_NS = 1_700_000_000_000_000_000
_ids = itertools.count(1)


def _hex(n: int, width: int) -> str:
    return format(n, f"0{width}x")


@dataclass
class Span:
    trace_id: str
    span_id: str
    parent_span_id: str | None
    name: str
    kind: str
    start_ns: int
    end_ns: int
    attributes: dict[str, Any]
    resource: dict[str, Any]
    status_code: str = "UNSET"
    # Span links: (trace_id, span_id, link attributes), as Lambda triggers and batch receives make.
    links: list[tuple[str, str, dict[str, Any]]] = field(default_factory=list)


@dataclass
class Service:
    name: str
    system: str | None
    role: str | None = None
    instance: str | None = None
    sdk: str = "python"  # python | python-old-http | js

    @property
    def resource(self) -> dict[str, Any]:
        res: dict[str, Any] = {"service.name": self.name} if self.name else {}
        if self.system:
            res["service.namespace"] = self.system
        if self.role:
            res["seamscope.role"] = self.role
        res["service.instance.id"] = self.instance or f"{self.name}-1"
        return res


@dataclass
class Fleet:
    spans: list[Span] = field(default_factory=list)
    clock: int = BASE_NS

    def tick(self, ms: float = 1.0) -> int:
        self.clock += int(ms * 1_000_000)
        return self.clock

    def at(self, seconds: float) -> None:
        """Moves the clock to BASE + seconds (never backwards)."""
        self.clock = max(self.clock, BASE_NS + int(seconds * 1e9))

    def new_trace(self) -> str:
        return _hex(next(_ids), 32)

    def _span(
        self,
        svc: Service,
        trace_id: str | None,
        parent: str | None,
        name: str,
        kind: str,
        attrs: dict[str, Any],
        ms: float = 5.0,
        error: bool = False,
        links: list[tuple[str, str, dict[str, Any]]] | None = None,
    ) -> Span:
        start = self.tick(0.1)
        span = Span(
            trace_id=trace_id or self.new_trace(),
            span_id=_hex(next(_ids), 16),
            parent_span_id=parent,
            name=name,
            kind=kind,
            start_ns=start,
            end_ns=start + int(ms * 1_000_000),
            attributes=attrs,
            resource=svc.resource,
            status_code="ERROR" if error else "UNSET",
            links=list(links or ()),
        )
        self.spans.append(span)
        return span

    def span(
        self,
        svc: Service,
        name: str,
        kind: str,
        attrs: dict[str, Any],
        *,
        parent: Span | None = None,
        links: list[tuple[str, str, dict[str, Any]]] | None = None,
    ) -> Span:
        """Any one span, as another SDK shapes it (see tests/fixtures/sdks)."""
        return self._span(
            svc,
            parent.trace_id if parent else None,
            parent.span_id if parent else None,
            name,
            kind,
            attrs,
            links=links,
        )

    # --- spans of work that is no integration ---------------------------------------------

    def root(self, svc: Service, name: str, kind: str = "INTERNAL") -> Span:
        return self._span(svc, None, None, name, kind, {})

    def server(
        self,
        svc: Service,
        route: str,
        trace_id: str | None = None,
        parent: str | None = None,
        method: str = "GET",
        port: int = 8000,
    ) -> Span:
        attrs: dict[str, Any] = {"http.route": route}
        if svc.sdk == "python-old-http":
            attrs.update(
                {"http.method": method, "net.host.name": "127.0.0.1", "net.host.port": port}
            )
        else:
            attrs.update(
                {
                    "http.request.method": method,
                    "server.address": "127.0.0.1",
                    "server.port": port,
                    "url.path": route,
                }
            )
        return self._span(svc, trace_id, parent, f"{method} {route}", "SERVER", attrs)

    # --- HTTP -------------------------------------------------------------------------------

    def http(
        self,
        client: Service,
        url: str,
        *,
        method: str = "GET",
        server: Service | None = None,
        route: str | None = None,
        port: int | None = None,
        parent: Span | None = None,
        graphql: tuple[str, str] | None = None,
        status: int = 200,
    ) -> Span:
        """A client call; with `server` also the callee's SERVER span (propagated context)."""
        attrs: dict[str, Any]
        if client.sdk == "python-old-http":
            attrs = {"http.method": method, "http.url": url, "http.status_code": status}
        else:
            from urllib.parse import urlsplit

            parts = urlsplit(url)
            attrs = {
                "http.request.method": method,
                "url.full": url,
                "server.address": parts.hostname,
                "http.response.status_code": status,
            }
            if parts.port:
                attrs["server.port"] = parts.port
        if graphql:
            attrs["graphql.operation.type"], attrs["graphql.operation.name"] = graphql
        span = self._span(
            client,
            parent.trace_id if parent else None,
            parent.span_id if parent else None,
            method,
            "CLIENT",
            attrs,
            error=status >= 500,
        )
        if server is not None:
            from urllib.parse import urlsplit

            self.server(
                server,
                route or urlsplit(url).path or "/",
                span.trace_id,
                span.span_id,
                method=method,
                port=port or urlsplit(url).port or 80,
            )
        return span

    # --- AWS --------------------------------------------------------------------------------

    def aws(
        self,
        svc: Service,
        service: str,
        op: str,
        attrs: dict[str, Any],
        *,
        parent: Span | None = None,
        kind: str = "CLIENT",
        name: str | None = None,
    ) -> Span:
        base: dict[str, Any] = {
            "rpc.system": "aws-api",
            "rpc.service": service,
            "rpc.method": op,
            "cloud.region": "eu-west-1",
        }
        if svc.sdk != "js":
            base["server.address"] = MOTO[0]
            base["server.port"] = MOTO[1]
        base.update(attrs)
        span = self._span(
            svc,
            parent.trace_id if parent else None,
            parent.span_id if parent else None,
            name or f"{service}.{op}",
            kind,
            base,
        )
        if svc.sdk == "js":
            # The JS HTTP instrumentation nests the transport request under the AWS span.
            self._span(
                svc,
                span.trace_id,
                span.span_id,
                "POST",
                "CLIENT",
                {
                    "http.request.method": "POST",
                    "url.full": f"https://{service.lower()}.eu-west-1.amazonaws.com/",
                    "server.address": f"{service.lower()}.eu-west-1.amazonaws.com",
                    "http.response.status_code": 200,
                },
            )
        return span

    def dynamodb(self, svc: Service, op: str, table: str, parent: Span | None = None) -> Span:
        if svc.sdk == "js":
            attrs: dict[str, Any] = {
                "db.system.name": "dynamodb",
                "db.namespace": table,
                "db.operation.name": op,
            }
        else:
            attrs = {
                "db.system": "dynamodb",
                "db.operation": op,
                "aws.dynamodb.table_names": [table],
            }
        return self.aws(svc, "DynamoDB", op, attrs, parent=parent)

    def put_events(
        self,
        svc: Service,
        source: str,
        detail_type: str,
        bus: str = "default",
        parent: Span | None = None,
    ) -> Span:
        return self.aws(
            svc,
            "EventBridge",
            "PutEvents",
            {
                "seamscope.eventbridge.bus_names": [bus],
                "seamscope.eventbridge.sources": [source],
                "seamscope.eventbridge.detail_types": [detail_type],
            },
            parent=parent,
        )

    def receive_events(
        self,
        svc: Service,
        queue: str,
        source: str,
        detail_type: str,
        parent: Span | None = None,
    ) -> Span:
        return self.aws(
            svc,
            "SQS",
            "ReceiveMessage",
            {
                "messaging.system": "aws.sqs",
                "messaging.destination": queue,
                "seamscope.eventbridge.sources": [source],
                "seamscope.eventbridge.detail_types": [detail_type],
            },
            parent=parent,
        )

    def send(self, svc: Service, queue: str, parent: Span | None = None) -> Span:
        if svc.sdk == "js":
            return self.aws(
                svc,
                "SQS",
                "SendMessage",
                {
                    "messaging.system": "aws_sqs",
                    "messaging.destination.name": queue,
                    "messaging.operation.type": "send",
                },
                parent=parent,
                kind="PRODUCER",
                name=f"{queue} send",
            )
        return self.aws(
            svc,
            "SQS",
            "SendMessage",
            {"messaging.system": "aws.sqs", "messaging.destination": queue},
            parent=parent,
        )

    def receive(self, svc: Service, queue: str, parent: Span | None = None) -> Span:
        return self.aws(
            svc,
            "SQS",
            "ReceiveMessage",
            {"messaging.system": "aws.sqs", "messaging.destination": queue},
            parent=parent,
        )

    def publish(self, svc: Service, topic: str, parent: Span | None = None) -> Span:
        arn = f"arn:aws:sns:eu-west-1:123456789012:{topic}"
        return self.aws(
            svc,
            "SNS",
            "Publish",
            {
                "messaging.system": "aws.sns",
                "messaging.destination.name": arn,
                "aws.sns.topic.arn": arn,
            },
            parent=parent,
            kind="PRODUCER",
            name=f"{topic} send",
        )

    def receive_sns(self, svc: Service, queue: str, topic: str) -> Span:
        return self.aws(
            svc,
            "SQS",
            "ReceiveMessage",
            {
                "messaging.system": "aws.sqs",
                "messaging.destination": queue,
                "seamscope.sns.topic_arns": [f"arn:aws:sns:eu-west-1:123456789012:{topic}"],
            },
        )

    def stream_read(self, svc: Service, table: str, parent: Span | None = None) -> Span:
        arn = f"arn:aws:dynamodb:eu-west-1:123456789012:table/{table}/stream/2024-01-01T00:00:00"
        return self.aws(
            svc,
            "DynamoDB Streams",
            "GetRecords",
            {"seamscope.dynamodb.stream_arn": arn},
            parent=parent,
        )

    def kinesis(self, svc: Service, op: str, stream: str) -> Span:
        return self.aws(svc, "Kinesis", op, {"aws.kinesis.stream_name": stream})

    # --- storing ----------------------------------------------------------------------------

    def table(self, spans: list[Span] | None = None) -> Any:
        builder = SpanBatchBuilder()
        for s in spans if spans is not None else self.spans:
            builder.add(
                trace_id=s.trace_id,
                span_id=s.span_id,
                parent_span_id=s.parent_span_id,
                name=s.name,
                kind=s.kind,
                start_ns=s.start_ns,
                end_ns=s.end_ns,
                status_code=s.status_code,
                status_message=None,
                attributes=s.attributes,
                resource=s.resource,
                scope_name="test",
                links=[{"trace_id": t, "span_id": i, "attributes": a} for t, i, a in s.links],
            )
        return builder.build()

    def in_end_order(self) -> list[Span]:
        """The order exporters deliver spans in: as they end."""
        return sorted(self.spans, key=lambda s: (s.end_ns, s.span_id))

    def store(self, path: Path, batches: list[list[Span]] | None = None) -> Path:
        with Store.open(path) as store:
            for i, batch in enumerate(batches or [self.in_end_order()]):
                if batch:
                    store.append(self.table(batch), batch_key=f"b{i}", source="test")
        return path


def partly_placed() -> Fleet:
    """A fleet where some services set no service.namespace: web (no system) calls orders-api
    (orders) and stock (no system), and shop-web (shop) calls web."""
    f = Fleet()
    web, api = Service("web", None, "webapp"), Service("orders-api", "orders", "backend")
    f.http(web, "http://127.0.0.1:5001/orders", server=api, route="/orders")
    f.http(Service("shop-web", "shop", "webapp"), "http://127.0.0.1:5002/web", server=web)
    f.http(web, "http://127.0.0.1:5003/stock", server=Service("stock", None, "backend"))
    return f
