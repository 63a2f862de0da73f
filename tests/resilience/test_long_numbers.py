"""Integers of thousands of digits in an OTLP JSON request, sent to a running `seamscope
collect`: Python converts at most 4,300 digits to an int, and each such conversion the decoders
made raised a ValueError they did not expect, so one span's time or attribute in one request
got a 500 and a traceback in the log, and the request's valid spans were lost. Now such a span
is rejected with its place (the others stored), and a bare JSON number that long (OTLP JSON
writes its integers as strings) refuses the request with a 400 that says why."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from seamscope.tracer.otlp import protobuf_to_json
from tests.e2e.test_collect import Collector, span_count
from tests.otlp_sample import sample_request

pytestmark = pytest.mark.e2e

LONG = "9" * 5000
JSON = {"Content-Type": "application/json"}


def request_with(change: Callable[[dict[str, Any]], None]) -> dict[str, Any]:
    """A request of three spans, the first one changed."""
    obj: dict[str, Any] = json.loads(
        protobuf_to_json(sample_request(3, services=1, seed=70).SerializeToString())
    )
    change(obj["resourceSpans"][0]["scopeSpans"][0]["spans"][0])
    return obj


def set_start(span: dict[str, Any]) -> None:
    span["startTimeUnixNano"] = LONG


def set_end(span: dict[str, Any]) -> None:
    span["endTimeUnixNano"] = LONG


def add_attribute(span: dict[str, Any]) -> None:
    span["attributes"].append({"key": "n", "value": {"intValue": LONG}})


def add_event(span: dict[str, Any]) -> None:
    span["events"] = [{"name": "e", "timeUnixNano": LONG}]


@pytest.mark.parametrize(
    ("change", "says"),
    [
        (set_start, "startTimeUnixNano"),
        (set_end, "endTimeUnixNano"),
        (add_attribute, "5,000 digits"),
        (add_event, "5,000 digits"),
    ],
    ids=["a start time", "an end time", "an int attribute", "an event's time"],
)
def test_a_span_with_an_integer_of_5000_digits_is_rejected_alone(
    collector: Collector, db_path: Path, change: Callable[[dict[str, Any]], None], says: str
) -> None:
    status, answer = collector.post(json.dumps(request_with(change)).encode(), JSON)
    assert status == 200, answer[:300]
    partial = json.loads(answer)["partialSuccess"]
    assert partial["rejectedSpans"] == "1" and says in partial["errorMessage"], partial
    collector.process.stop()
    assert span_count(db_path) == 2
    assert "Traceback" not in collector.log.read_text()


def test_a_json_number_of_5000_digits_refuses_the_request(
    collector: Collector, db_path: Path
) -> None:
    body = json.dumps(request_with(lambda span: span.update(kind=0))).replace(
        '"kind": 0', f'"kind": {LONG}', 1
    )
    status, answer = collector.post(body.encode(), JSON)
    assert status == 400 and b"more than 4,300 digits" in answer, answer[:300]
    protobuf = {"Content-Type": "application/x-protobuf"}
    assert collector.post(sample_request(2, seed=71).SerializeToString(), protobuf)[0] == 200
    collector.process.stop()
    assert "Traceback" not in collector.log.read_text()
    assert span_count(db_path) == 2
