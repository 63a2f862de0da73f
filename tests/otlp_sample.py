"""A realistic OTLP trace export request for tests: AWS SDK and HTTP client spans."""

from __future__ import annotations

from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest
from opentelemetry.proto.common.v1.common_pb2 import AnyValue, KeyValue
from opentelemetry.proto.trace.v1.trace_pb2 import Span


def sample_request(spans: int, *, services: int = 3, seed: int = 0) -> ExportTraceServiceRequest:
    """A request of that many spans over services resources.

    Ids are derived from seed, so two calls with different seeds never share a span id.
    """

    def kv(key: str, value: str | int) -> KeyValue:
        if isinstance(value, int):
            return KeyValue(key=key, value=AnyValue(int_value=value))
        return KeyValue(key=key, value=AnyValue(string_value=value))

    request = ExportTraceServiceRequest()
    per_service = max(1, -(-spans // services))
    made = 0
    base = 1_764_000_000_000_000_000 + seed * 1_000_000_000
    for si in range(services):
        rs = request.resource_spans.add()
        rs.resource.attributes.extend(
            [
                kv("service.name", f"svc-{si}"),
                kv("service.namespace", f"sys-{si % 2}"),
                kv("telemetry.sdk.language", "python"),
                kv("service.instance.id", f"inst-{seed}-{si}"),
            ]
        )
        scope = rs.scope_spans.add()
        scope.scope.name = "opentelemetry.instrumentation.botocore"
        for i in range(min(per_service, spans - made)):
            n = made + i
            span = scope.spans.add()
            span.trace_id = (seed * 1_000_003 + n // 4 + 1).to_bytes(16, "big")
            span.span_id = ((seed << 32) + n + 1).to_bytes(8, "big")
            if n % 4:
                span.parent_span_id = ((seed << 32) + n).to_bytes(8, "big")
            span.start_time_unix_nano = base + n * 1000
            span.end_time_unix_nano = base + n * 1000 + 2_500_000
            if n % 3 == 0:
                span.name = "GET"
                span.kind = Span.SPAN_KIND_CLIENT
                span.attributes.extend(
                    [
                        kv("http.request.method", "GET"),
                        kv("url.full", f"http://inventory:8080/items/{n}"),
                        kv("server.address", "inventory"),
                        kv("server.port", 8080),
                        kv("http.response.status_code", 200),
                    ]
                )
            else:
                span.name = "DynamoDB.PutItem"
                span.kind = Span.SPAN_KIND_CLIENT
                span.attributes.extend(
                    [
                        kv("rpc.system", "aws-api"),
                        kv("rpc.service", "DynamoDB"),
                        kv("rpc.method", "PutItem"),
                        kv("cloud.region", "eu-west-1"),
                        kv("db.system", "dynamodb"),
                        kv("db.operation", "PutItem"),
                        kv("server.address", "dynamodb.eu-west-1.amazonaws.com"),
                        kv("server.port", 443),
                        kv("aws.request_id", f"req-{n}"),
                        kv("http.status_code", 200),
                    ]
                )
                span.attributes.add(key="aws.dynamodb.table_names").value.array_value.values.add(
                    string_value="Orders"
                )
        made += per_service
        if made >= spans:
            break
    return request
