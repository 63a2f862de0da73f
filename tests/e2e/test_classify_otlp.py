"""Spans of another SDK, as OTLP JSON, get the labels the Python ones get.

The same integrations are written twice as OTLP JSON files: once in the shapes of the Python
instrumentations (botocore rpc.* + aws.*, HTTP in old conventions), once in those of the
OpenTelemetry JS SDK (db.system.name / db.namespace, PRODUCER sends, an HTTP transport span
nested under every AWS span, stable HTTP conventions). Both go through `seamscope ingest` and
`seamscope edges` as real processes.
"""

from __future__ import annotations

import json
import subprocess
import sys
from collections import defaultdict
from pathlib import Path
from typing import Any

import pytest

from tests.unit.classifiers.fleet import Fleet, Service, Span

pytestmark = pytest.mark.e2e

_KINDS = {"INTERNAL": 1, "SERVER": 2, "CLIENT": 3, "PRODUCER": 4, "CONSUMER": 5}


def _value(value: Any) -> dict[str, Any]:
    if isinstance(value, bool):
        return {"boolValue": value}
    if isinstance(value, int):
        return {"intValue": str(value)}
    if isinstance(value, float):
        return {"doubleValue": value}
    if isinstance(value, (list, tuple)):
        return {"arrayValue": {"values": [_value(v) for v in value]}}
    return {"stringValue": str(value)}


def _attrs(attrs: dict[str, Any]) -> list[dict[str, Any]]:
    return [{"key": k, "value": _value(v)} for k, v in attrs.items()]


def otlp_json(spans: list[Span]) -> str:
    """One OTLP/JSON export request per line, one per resource, as the Collector writes them."""
    by_resource: dict[str, list[Span]] = defaultdict(list)
    for span in spans:
        by_resource[json.dumps(span.resource, sort_keys=True)].append(span)
    lines = []
    for resource, items in by_resource.items():
        request = {
            "resourceSpans": [
                {
                    "resource": {"attributes": _attrs(json.loads(resource))},
                    "scopeSpans": [
                        {
                            "scope": {"name": "test"},
                            "spans": [
                                {
                                    "traceId": s.trace_id,
                                    "spanId": s.span_id,
                                    "parentSpanId": s.parent_span_id or "",
                                    "name": s.name,
                                    "kind": _KINDS[s.kind],
                                    "startTimeUnixNano": str(s.start_ns),
                                    "endTimeUnixNano": str(s.end_ns),
                                    "attributes": _attrs(s.attributes),
                                    "links": [
                                        {"traceId": t, "spanId": i, "attributes": _attrs(a)}
                                        for t, i, a in s.links
                                    ],
                                    "status": {"code": 2 if s.status_code == "ERROR" else 0},
                                }
                                for s in items
                            ],
                        }
                    ],
                }
            ]
        }
        lines.append(json.dumps(request))
    return "\n".join(lines) + "\n"


def scenario(sdk: str) -> Fleet:
    f = Fleet()
    web = Service("shortlist-web", "shortlist", "webapp", sdk=sdk)
    bff = Service("webapp-bff", "shortlist", "bff", sdk=sdk)
    orders = Service("orders-api", "orders", "backend", sdk=sdk)
    billing = Service("billing-api", "billing", "backend", sdk=sdk)
    worker = Service("orders-worker", "orders", "worker", sdk=sdk)
    reporting = Service("reporting-job", "reporting", "job", sdk=sdk)
    f.http(
        web,
        "http://127.0.0.1:4000/graphql",
        method="POST",
        server=bff,
        graphql=("query", "Shortlist"),
    )
    f.http(bff, "http://127.0.0.1:5001/orders/7", server=orders, route="/orders/:id")
    f.http(
        reporting,
        "http://127.0.0.1:4000/graphql",
        method="POST",
        server=bff,
        graphql=("query", "Everything"),
    )
    f.dynamodb(orders, "PutItem", "Orders")
    f.dynamodb(billing, "Query", "Orders")
    f.send(orders, "orders-q")
    f.receive(worker, "orders-q")
    f.send(orders, "billing-q")
    f.receive(billing, "billing-q")
    f.http(billing, "https://api.vendor.example/v1/invoices", method="POST")
    return f


def labels(tmp_path: Path, sdk: str) -> set[tuple[str, str, str, str]]:
    source = tmp_path / f"{sdk}.jsonl"
    source.write_text(otlp_json(scenario(sdk).in_end_order()))
    db = tmp_path / f"{sdk}.duckdb"
    run = [sys.executable, "-m", "seamscope.cli"]
    done = subprocess.run(
        [*run, "ingest", str(source), "--db", str(db)], capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, done.stderr
    done = subprocess.run(
        [*run, "edges", "--db", str(db), "--format", "json"],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=tmp_path,
    )
    assert done.returncode == 0, done.stderr
    return {(e["from"], e["to"], e["mechanism"], e["rule_id"]) for e in json.loads(done.stdout)}


def test_js_sdk_spans_get_the_labels_of_python_spans(tmp_path: Path) -> None:
    python = labels(tmp_path, "python-old-http")
    js = labels(tmp_path, "js")
    assert js == python
    assert {row[3] for row in python} == {
        "P101",
        "P102",
        "A102",
        "P301",
        "A301",
        "P402",
        "A202",
        "P302",
    }
    # The JS HTTP spans under AWS calls are transport, not integrations with AWS hosts.
    assert not [row for row in js if "amazonaws" in row[1]]
