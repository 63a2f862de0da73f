from __future__ import annotations

import asyncio
import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import boto3
import httpx
import pytest
from botocore.stub import Stubber
from hypothesis import given, settings
from hypothesis import strategies as st
from opentelemetry.instrumentation.botocore import BotocoreInstrumentor
from opentelemetry.instrumentation.httpx import HTTPXClientInstrumentor
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from seamscope.tracer import hooks
from seamscope.tracer.distro import hook_kwargs
from seamscope.tracer.hooks import aws

STREAM_ARN = "arn:aws:dynamodb:eu-west-1:123456789012:table/Orders/stream/2026-01-01T00:00:00.000"
TOPIC_ARN = "arn:aws:sns:eu-west-1:123456789012:order-events"


class Recorder:
    """A span stand-in that records what a hook sets."""

    def __init__(self, attributes: dict[str, Any] | None = None) -> None:
        self.attributes: dict[str, Any] = dict(attributes or {})

    def is_recording(self) -> bool:
        return True

    def set_attributes(self, attrs: dict[str, Any]) -> None:
        self.attributes.update(attrs)


# --- pure functions with real parameter shapes ------------------------------------------------


def test_put_events_entries_give_parallel_lists_with_default_bus() -> None:
    params = {
        "Entries": [
            {"Source": "orders", "DetailType": "OrderPlaced", "Detail": "{}"},
            {
                "Source": "billing",
                "DetailType": "InvoiceSent",
                "Detail": "{}",
                "EventBusName": "arn:aws:events:eu-west-1:123456789012:event-bus/billing-bus",
            },
            {"Source": "x", "Detail": "{}", "EventBusName": "custom"},
        ]
    }
    attrs = hooks.botocore_request_attributes("events", "PutEvents", params)
    assert attrs["seamscope.eventbridge.bus_names"] == ["default", "billing-bus", "custom"]
    assert attrs["seamscope.eventbridge.sources"] == ["orders", "billing", "x"]
    assert attrs["seamscope.eventbridge.detail_types"] == ["OrderPlaced", "InvoiceSent", ""]


def test_kinesis_stream_from_name_or_arn() -> None:
    assert hooks.botocore_request_attributes(
        "kinesis", "PutRecord", {"StreamName": "clicks", "Data": b"x", "PartitionKey": "k"}
    ) == {"aws.kinesis.stream_name": "clicks"}
    arn = "arn:aws:kinesis:eu-west-1:123456789012:stream/clicks"
    attrs = hooks.botocore_request_attributes(
        "kinesis", "PutRecord", {"StreamARN": arn, "Data": b"x", "PartitionKey": "k"}
    )
    assert attrs == {"aws.kinesis.stream_name": "clicks", "aws.kinesis.stream_arn": arn}


def test_transactions_and_batch_gets_name_their_tables() -> None:
    params = {
        "TransactItems": [
            {"Put": {"TableName": "Orders", "Item": {"pk": {"S": "1"}}}},
            {"Update": {"TableName": "Stock", "Key": {}, "UpdateExpression": "SET a = :a"}},
            {"ConditionCheck": {"TableName": "Orders", "Key": {}, "ConditionExpression": "x"}},
            {"Delete": {"TableName": "Carts", "Key": {}}},
        ]
    }
    attrs = hooks.botocore_request_attributes("dynamodb", "TransactWriteItems", params)
    assert attrs == {"aws.dynamodb.table_names": ["Orders", "Stock", "Carts"]}
    gets = {"TransactItems": [{"Get": {"TableName": "Orders", "Key": {}}}]}
    assert hooks.botocore_request_attributes("dynamodb", "TransactGetItems", gets) == {
        "aws.dynamodb.table_names": ["Orders"]
    }
    batch: dict[str, Any] = {"RequestItems": {"Orders": {"Keys": []}, "Stock": {"Keys": []}}}
    assert hooks.botocore_request_attributes("dynamodb", "BatchGetItem", batch) == {
        "aws.dynamodb.table_names": ["Orders", "Stock"]
    }


def test_s3_bucket_and_sns_target_arn() -> None:
    assert hooks.botocore_request_attributes(
        "s3", "PutObject", {"Bucket": "invoices", "Key": "a", "Body": b""}
    ) == {"aws.s3.bucket": "invoices"}
    assert hooks.botocore_request_attributes(
        "sns", "Publish", {"TargetArn": TOPIC_ARN, "Message": "m"}
    ) == {"seamscope.sns.topic_arns": [TOPIC_ARN]}
    endpoint = "arn:aws:sns:eu-west-1:123456789012:endpoint/APNS/app/1234"
    assert hooks.botocore_request_attributes("sns", "Publish", {"TargetArn": endpoint}) == {}
    assert hooks.botocore_request_attributes("sns", "Publish", {"PhoneNumber": "+1"}) == {}


def test_dynamodb_stream_arn_follows_the_shard_iterator() -> None:
    get_iter = hooks.botocore_request_attributes(
        "dynamodbstreams",
        "GetShardIterator",
        {"StreamArn": STREAM_ARN, "ShardId": "s-1", "ShardIteratorType": "TRIM_HORIZON"},
    )
    assert get_iter == {
        "seamscope.dynamodb.stream_arn": STREAM_ARN,
        "seamscope.dynamodb.stream_table": "Orders",
    }
    hooks.botocore_response_attributes(
        "dynamodbstreams", "GetShardIterator", {"ShardIterator": "it-1"}, get_iter
    )
    first = hooks.botocore_request_attributes(
        "dynamodbstreams", "GetRecords", {"ShardIterator": "it-1"}
    )
    assert first == get_iter
    hooks.botocore_response_attributes(
        "dynamodbstreams", "GetRecords", {"Records": [], "NextShardIterator": "it-2"}, first
    )
    second = hooks.botocore_request_attributes(
        "dynamodbstreams", "GetRecords", {"ShardIterator": "it-2"}
    )
    assert second == get_iter
    assert (
        hooks.botocore_request_attributes("dynamodbstreams", "GetRecords", {"ShardIterator": "?"})
        == {}
    )


def test_iterator_memory_is_bounded() -> None:
    for i in range(hooks.MAX_ITERATORS + 50):
        hooks.botocore_response_attributes(
            "kinesis",
            "GetShardIterator",
            {"ShardIterator": f"bound-{i}"},
            {"aws.kinesis.stream_name": "s"},
        )
    assert len(aws._iterators) <= hooks.MAX_ITERATORS
    assert (
        hooks.botocore_request_attributes("kinesis", "GetRecords", {"ShardIterator": "bound-0"})
        == {}
    )
    last = f"bound-{hooks.MAX_ITERATORS + 49}"
    assert hooks.botocore_request_attributes("kinesis", "GetRecords", {"ShardIterator": last}) == {
        "aws.kinesis.stream_name": "s"
    }


def test_sqs_receive_reads_eventbridge_and_sns_envelopes() -> None:
    eb = {
        "version": "0",
        "id": "1",
        "detail-type": "OrderPlaced",
        "source": "orders",
        "time": "2026-01-01T00:00:00Z",
        "region": "eu-west-1",
        "resources": [],
        "detail": {"id": 1},
    }
    sns = {"Type": "Notification", "MessageId": "m", "TopicArn": TOPIC_ARN, "Message": "hi"}
    sns_of_eb = {"Type": "Notification", "TopicArn": TOPIC_ARN, "Message": json.dumps(eb)}
    result = {
        "Messages": [
            {"MessageId": "1", "ReceiptHandle": "r", "Body": json.dumps(eb)},
            {"MessageId": "2", "ReceiptHandle": "r", "Body": json.dumps(sns)},
            {"MessageId": "3", "ReceiptHandle": "r", "Body": "plain text"},
            {"MessageId": "4", "ReceiptHandle": "r", "Body": json.dumps(sns_of_eb)},
        ]
    }
    attrs = hooks.botocore_response_attributes("sqs", "ReceiveMessage", result, {})
    assert attrs == {
        "seamscope.eventbridge.sources": ["orders", "orders"],
        "seamscope.eventbridge.detail_types": ["OrderPlaced", "OrderPlaced"],
        "seamscope.sns.topic_arns": [TOPIC_ARN],
    }
    assert hooks.botocore_response_attributes("sqs", "ReceiveMessage", {"Messages": []}, {}) == {}


@pytest.mark.parametrize(
    ("document", "name", "expected"),
    [
        ("{ orders { id } }", None, ("query", None)),
        ("query Orders { orders { id } }", None, ("query", "Orders")),
        (
            "mutation PlaceOrder($id: ID!) { place(id: $id) { id } }",
            None,
            ("mutation", "PlaceOrder"),
        ),
        (
            "# comment with query Fake\nsubscription OnOrder { orderPlaced { id } }",
            None,
            ("subscription", "OnOrder"),
        ),
        ("fragment F on Order { id }\nquery Q { orders { ...F } }", None, ("query", "Q")),
        ('query A { a(s: "mutation B {") }\nmutation B { b }', "B", ("mutation", "B")),
        ("query A { a } mutation B { b }", None, ("query", "A")),
        # A brace in a string of the operation's header does not open its selection set.
        ('query A($s: String = "{") { a }\nmutation B { b }', "B", ("mutation", "B")),
        ("query A @dir(a: {k: 1}) { a } mutation B { b }", "B", ("mutation", "B")),
        ("query @cached { a }", None, ("query", None)),
        ("query # the list\nOrders { a }", None, ("query", "Orders")),
        ("fragment F on Order { id }", None, None),
        ("", None, None),
    ],
)
def test_graphql_operation(
    document: str, name: str | None, expected: tuple[str, str | None] | None
) -> None:
    assert hooks.graphql_operation(document, name) == expected


def test_graphql_name_from_operation_name_and_batched_requests() -> None:
    assert hooks.graphql_attributes(
        {"query": "query A { a } query B { b }", "operationName": "B"}
    ) == {"graphql.operation.type": "query", "graphql.operation.name": "B"}
    # operationName picks the operation, and with it the type.
    assert hooks.graphql_attributes(
        {"query": "query A { a } mutation B { b }", "operationName": "B"}
    ) == {"graphql.operation.type": "mutation", "graphql.operation.name": "B"}
    assert hooks.graphql_attributes([{"query": "mutation { x }"}]) == {
        "graphql.operation.type": "mutation"
    }
    assert hooks.graphql_attributes({"query": 3}) == {}
    assert hooks.graphql_attributes({"data": {}}) == {}


# --- garbage never raises and records nothing --------------------------------------------------

_garbage = st.recursive(
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats()
    | st.text(max_size=20)
    | st.binary(max_size=20),
    lambda children: (
        st.lists(children, max_size=4)
        | st.dictionaries(
            st.sampled_from(
                [
                    "Entries",
                    "StreamName",
                    "StreamARN",
                    "StreamArn",
                    "ShardIterator",
                    "TransactItems",
                    "RequestItems",
                    "Bucket",
                    "TargetArn",
                    "TopicArn",
                    "Messages",
                    "Body",
                    "Source",
                    "EventBusName",
                    "DetailType",
                    "TableName",
                    "Put",
                    "NextShardIterator",
                    "query",
                    "operationName",
                    "StreamDescription",
                ]
            )
            | st.text(max_size=8),
            children,
            max_size=4,
        )
    ),
    max_leaves=20,
)
_services = st.sampled_from(
    ["events", "kinesis", "dynamodbstreams", "dynamodb", "s3", "sns", "sqs", "x"]
)
_operations = st.sampled_from(
    [
        "PutEvents",
        "PutRecord",
        "GetShardIterator",
        "GetRecords",
        "DescribeStream",
        "TransactWriteItems",
        "BatchGetItem",
        "PutObject",
        "Publish",
        "ReceiveMessage",
        "Nope",
    ]
)


@settings(max_examples=300, deadline=None)
@given(service=_services, operation=_operations, params=_garbage, result=_garbage)
def test_botocore_hooks_never_raise(service: str, operation: str, params: Any, result: Any) -> None:
    span = Recorder()
    hooks.botocore_request_hook(span, service, operation, params)
    hooks.botocore_response_hook(span, service, operation, result)
    for value in span.attributes.values():
        assert isinstance(value, str) or (
            isinstance(value, list) and all(isinstance(v, str) for v in value)
        )


@settings(max_examples=200, deadline=None)
@given(span=_garbage, service=_garbage, params=_garbage)
def test_hooks_survive_garbage_spans_and_names(span: Any, service: Any, params: Any) -> None:
    hooks.botocore_request_hook(span, service, "PutEvents", params)
    hooks.botocore_response_hook(span, service, "ReceiveMessage", params)
    hooks.httpx_request_hook(span, params)
    hooks.httpx_response_hook(span, params, params)


@settings(max_examples=200, deadline=None)
@given(
    document=st.text(alphabet='{}()"#\n querymutation$:!,.abc', max_size=60),
    name=st.text(max_size=5),
)
def test_graphql_scanner_takes_any_text(document: str, name: str) -> None:
    op = hooks.graphql_operation(document, name)
    assert op is None or op[0] in ("query", "mutation", "subscription")


def test_a_hook_that_raises_inside_records_nothing() -> None:
    class Exploding(Recorder):
        def set_attributes(self, attrs: dict[str, Any]) -> None:
            raise RuntimeError("boom")

    hooks.botocore_request_hook(Exploding(), "s3", "PutObject", {"Bucket": "b"})
    span = Recorder()
    hooks.botocore_request_hook(span, "events", "PutEvents", {"Entries": [{"Source": 1}, "x"]})
    assert span.attributes["seamscope.eventbridge.sources"] == [""]


# --- through the real instrumentors --------------------------------------------------------------


@pytest.fixture
def callers_hook() -> list[tuple[str, str]]:
    """The calls of a request hook the service passed to the instrumentor itself."""
    return []


@pytest.fixture
def memory(callers_hook: list[tuple[str, str]]) -> Iterator[InMemorySpanExporter]:
    exporter = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    bc, hx = BotocoreInstrumentor(), HTTPXClientInstrumentor()  # type: ignore[no-untyped-call]

    def theirs(span: Any, service: str, operation: str, params: Any) -> None:
        callers_hook.append((service, operation))

    bc.instrument(tracer_provider=provider, **hook_kwargs("botocore", {"request_hook": theirs}))
    hx.instrument(tracer_provider=provider, **hook_kwargs("httpx", {}))
    try:
        yield exporter
    finally:
        bc.uninstrument()
        hx.uninstrument()
        provider.shutdown()


def _only(exporter: InMemorySpanExporter, name: str) -> ReadableSpan:
    spans = [s for s in exporter.get_finished_spans() if s.name == name]
    assert len(spans) == 1, [s.name for s in exporter.get_finished_spans()]
    return spans[0]


def test_real_botocore_client_calls_get_enriched(memory: InMemorySpanExporter) -> None:
    kwargs: dict[str, Any] = {
        "region_name": "eu-west-1",
        "aws_access_key_id": "testing",
        "aws_secret_access_key": "testing",
    }
    events = boto3.client("events", **kwargs)
    with Stubber(events) as stub:
        stub.add_response("put_events", {"FailedEntryCount": 0, "Entries": [{"EventId": "1"}]})
        events.put_events(
            Entries=[{"Source": "orders", "DetailType": "OrderPlaced", "Detail": "{}"}]
        )
    streams = boto3.client("dynamodbstreams", **kwargs)
    with Stubber(streams) as stub:
        stub.add_response("get_shard_iterator", {"ShardIterator": "real-it-1"})
        stub.add_response("get_records", {"Records": [], "NextShardIterator": "real-it-2"})
        it = streams.get_shard_iterator(
            StreamArn=STREAM_ARN,
            ShardId="shardId-00000001700000000000-abcdef01",
            ShardIteratorType="LATEST",
        )
        streams.get_records(ShardIterator=it["ShardIterator"])
    span = _only(memory, "EventBridge.PutEvents")
    assert span.attributes is not None
    assert span.attributes["seamscope.eventbridge.bus_names"] == ("default",)
    assert span.attributes["seamscope.eventbridge.detail_types"] == ("OrderPlaced",)
    records = _only(memory, "DynamoDB Streams.GetRecords")
    assert records.attributes is not None
    assert records.attributes["seamscope.dynamodb.stream_table"] == "Orders"


def test_callers_own_hook_still_runs(
    memory: InMemorySpanExporter, callers_hook: list[tuple[str, str]]
) -> None:
    s3 = boto3.client(
        "s3", region_name="eu-west-1", aws_access_key_id="t", aws_secret_access_key="t"
    )
    with Stubber(s3) as stub:
        stub.add_response("put_object", {"ETag": "x"})
        s3.put_object(Bucket="invoices", Key="k", Body=b"1")
    assert callers_hook == [("s3", "PutObject")]
    # ... and ours too.
    span = _only(memory, "S3.PutObject")
    assert span.attributes is not None and span.attributes["aws.s3.bucket"] == "invoices"


class _Handler(BaseHTTPRequestHandler):
    def _answer(self) -> None:
        length = int(self.headers.get("content-length") or 0)
        if length:
            self.rfile.read(length)
        elif self.headers.get("transfer-encoding") == "chunked":
            while (size := int(self.rfile.readline().strip() or b"0", 16)) > 0:
                self.rfile.read(size + 2)
            self.rfile.readline()
        self.send_response(200)
        self.send_header("content-length", "2")
        self.end_headers()
        self.wfile.write(b"{}")

    do_GET = do_POST = _answer

    def log_message(self, fmt: str, *args: Any) -> None:
        pass


@pytest.fixture
def server() -> Iterator[str]:
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{httpd.server_address[1]}"
    finally:
        httpd.shutdown()
        httpd.server_close()


def test_httpx_graphql_post_and_rest_get(memory: InMemorySpanExporter, server: str) -> None:
    with httpx.Client() as client:
        client.post(f"{server}/graphql", json={"query": "query Orders { orders { id } }"})
        client.get(f"{server}/orders/1")
        client.post(f"{server}/graphql", content=iter([b'{"query": "{ a }"}']))
        client.get(f"{server}/graphql", params={"query": "{ a }", "operationName": "A"})
    posts = [s for s in memory.get_finished_spans() if s.name == "POST"]
    assert posts[0].attributes is not None
    assert posts[0].attributes["graphql.operation.name"] == "Orders"
    assert posts[0].attributes["graphql.operation.type"] == "query"
    # A streamed body is never consumed by the hook.
    assert posts[1].attributes is not None and "graphql.operation.type" not in posts[1].attributes
    gets = [s for s in memory.get_finished_spans() if s.name == "GET"]
    assert gets[0].attributes is not None and "graphql.operation.type" not in gets[0].attributes
    assert gets[1].attributes is not None
    assert gets[1].attributes["graphql.operation.type"] == "query"
    assert gets[1].attributes["graphql.operation.name"] == "A"


def test_httpx_operation_name_picks_the_operation_of_a_document(
    memory: InMemorySpanExporter, server: str
) -> None:
    document = {"query": "query A { a } mutation B { b }", "operationName": "B"}
    with httpx.Client() as client:
        client.post(f"{server}/graphql", json=document)
        client.get(f"{server}/graphql", params=document)
    for name in ("POST", "GET"):
        span = _only(memory, name)
        assert span.attributes is not None
        assert (
            span.attributes["graphql.operation.type"],
            span.attributes["graphql.operation.name"],
        ) == ("mutation", "B"), name


async def _async_post(server: str) -> None:
    async with httpx.AsyncClient() as client:
        await client.post(f"{server}/graphql", json={"query": "mutation Pay { pay }"})


def test_httpx_async_client(memory: InMemorySpanExporter, server: str) -> None:
    asyncio.run(_async_post(server))
    span = _only(memory, "POST")
    assert span.attributes is not None
    assert span.attributes["graphql.operation.type"] == "mutation"
    assert span.attributes["graphql.operation.name"] == "Pay"


def test_stream_iterators_are_followed_even_when_spans_are_not_recording() -> None:
    class Unsampled(Recorder):
        def is_recording(self) -> bool:
            return False

    params = {"StreamArn": STREAM_ARN, "ShardId": "s", "ShardIteratorType": "LATEST"}
    hooks.botocore_request_hook(Unsampled(), "dynamodbstreams", "GetShardIterator", params)
    hooks.botocore_response_hook(
        Unsampled(), "dynamodbstreams", "GetShardIterator", {"ShardIterator": "unsampled-it"}
    )
    span = Recorder()
    hooks.botocore_request_hook(
        span, "dynamodbstreams", "GetRecords", {"ShardIterator": "unsampled-it"}
    )
    assert span.attributes["seamscope.dynamodb.stream_table"] == "Orders"
