from __future__ import annotations

import json

from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import Link, SpanKind, Status, StatusCode

from seamscope.tracer.rows import SpanBatchBuilder
from seamscope.tracer.sdk_spans import add_sdk_spans, redacted_spans


def _spans() -> tuple[ReadableSpan, ...]:
    memory = InMemorySpanExporter()
    provider = TracerProvider(
        resource=Resource.create({"service.name": "orders-api", "service.namespace": "orders"})
    )
    provider.add_span_processor(SimpleSpanProcessor(memory))
    tracer = provider.get_tracer("unit.scope")
    with tracer.start_as_current_span("parent", kind=SpanKind.SERVER) as parent:
        link = Link(parent.get_span_context(), {"why": "batch"})
        with tracer.start_as_current_span(
            "DynamoDB.PutItem",
            kind=SpanKind.CLIENT,
            links=[link],
            attributes={"rpc.system": "aws-api", "aws.dynamodb.table_names": ("Orders",)},
        ) as child:
            child.add_event("retry", {"attempt": 2})
            child.set_status(Status(StatusCode.ERROR, "boom"))
    provider.shutdown()
    return memory.get_finished_spans()


def test_sdk_spans_become_rows_with_hex_ids_names_and_json_records() -> None:
    spans = _spans()
    builder = SpanBatchBuilder()
    add_sdk_spans(builder, spans)
    rows = builder.build().drop_columns(["start_time", "end_time"]).to_pylist()
    by_name = {r["name"]: r for r in rows}
    child, parent = by_name["DynamoDB.PutItem"], by_name["parent"]
    sdk_child = next(s for s in spans if s.name == "DynamoDB.PutItem")
    assert sdk_child.context is not None
    assert child["trace_id"] == format(sdk_child.context.trace_id, "032x")
    assert len(child["trace_id"]) == 32 and child["trace_id"] == child["trace_id"].lower()
    assert child["span_id"] == format(sdk_child.context.span_id, "016x")
    assert child["parent_span_id"] == parent["span_id"]
    assert parent["parent_span_id"] is None
    assert (child["kind"], parent["kind"]) == ("CLIENT", "SERVER")
    assert (child["status_code"], child["status_message"]) == ("ERROR", "boom")
    assert parent["status_code"] == "UNSET"
    assert child["db_tables"] == ["Orders"]
    assert child["service_name"] == "orders-api"
    assert child["service_namespace"] == "orders"
    assert child["scope_name"] == "unit.scope"
    assert json.loads(child["attributes"])["aws.dynamodb.table_names"] == ["Orders"]
    events = json.loads(child["span_events"])
    assert events[0]["name"] == "retry" and events[0]["attributes"] == {"attempt": 2}
    links = json.loads(child["links"])
    assert links == [
        {
            "trace_id": parent["trace_id"],
            "span_id": parent["span_id"],
            "attributes": {"why": "batch"},
        }
    ]
    assert json.loads(child["resource"])["service.name"] == "orders-api"
    assert child["duration_ns"] == sdk_child.end_time - sdk_child.start_time  # type: ignore[operator]


def test_no_spans_give_an_empty_table() -> None:
    builder = SpanBatchBuilder()
    add_sdk_spans(builder, [])
    assert builder.build().num_rows == 0


def _traced(resource: dict[str, str], names: list[str]) -> list[ReadableSpan]:
    """One span per name, each with the secret its name asks for in one place only."""
    memory = InMemorySpanExporter()
    provider = TracerProvider(resource=Resource.create(resource))
    provider.add_span_processor(SimpleSpanProcessor(memory))
    tracer = provider.get_tracer("unit.scope")
    for name in names:
        attributes = {} if name == "bare" else {"k": "v"}
        with tracer.start_as_current_span("GET /orders", attributes=attributes) as span:
            if name == "in-attributes":
                span.set_attribute("db.password", "pw-1")
            elif name == "in-name":
                span.update_name("GET /cb?access_token=pw-2")
            elif name == "in-status":
                span.set_status(Status(StatusCode.ERROR, "login failed: password=pw-3"))
            elif name == "in-event":
                span.add_event("retry", {"api_key": "pw-4"})
            elif name == "in-event-name":
                span.add_event("Bearer pw-5-abcdef")
            elif name == "in-link":
                other = span.get_span_context()
                span.add_link(other, {"api_key": "pw-6"})
    provider.shutdown()
    return list(memory.get_finished_spans())


def test_redacted_spans_leave_no_secret_and_keep_clean_spans_as_they_are() -> None:
    """What a traced service sends an owner: each place a secret can be, alone in its span,
    between clean spans, and a clean span of a resource that holds a secret."""
    ours = _traced(
        {"service.name": "orders-api"},
        ["bare", "in-attributes", "clean", "in-name", "in-status", "in-event"]
        + ["in-event-name", "in-link", "clean"],
    )
    theirs = _traced({"service.name": "billing-api", "deployment.api_token": "pw-7"}, ["clean"])
    spans = [ours[0], *theirs, *ours[1:]]
    assert sum("pw-" in span.to_json() for span in spans) == 7
    out = redacted_spans(spans)
    assert len(out) == len(spans)
    for before, after in zip(spans, out, strict=True):
        assert "pw-" not in after.to_json()
        assert after.context == before.context
        if "pw-" not in before.to_json():
            assert after is before


def test_redacted_spans_give_back_the_same_sequence_when_nothing_is_secret() -> None:
    spans = _traced({"service.name": "orders-api"}, ["clean", "clean"])
    assert redacted_spans(spans) is spans
