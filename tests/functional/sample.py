"""A fixed sample store for the TUI tests: spans of a small fleet, fixed times and ids.

Spans are written the way the tracer writes them (SpanBatchBuilder + Store.append). The edges
come from the real classifier; `manual=True` writes hand-made nodes, edges and span labels
instead (fixed ids, times and figures), so the screens can be tested on exactly known data, with
the level, rule and verdict the real classifier gives each edge.
"""

from __future__ import annotations

import functools
import hashlib
import tempfile
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import duckdb

from seamscope.classifiers.engine import classify
from seamscope.classifiers.landscape import parse_landscape
from seamscope.classifiers.schema import CLASSIFIER_DDL
from seamscope.tracer.rows import SpanBatchBuilder
from seamscope.tracer.store import Store

T0 = int(datetime(2026, 3, 2, 9, 0, 0, tzinfo=UTC).timestamp() * 1e9)
MS = 1_000_000


def _res(name: str, system: str, role: str) -> dict[str, Any]:
    return {"service.name": name, "service.namespace": system, "seamscope.role": role}


RESOURCES: dict[str, dict[str, Any]] = {
    "web": _res("web", "shop", "webapp"),
    "bff": _res("bff", "shop", "bff"),
    "orders-api": _res("orders-api", "orders", "backend"),
    "orders-worker": _res("orders-worker", "orders", "worker"),
    "users-api": _res("users-api", "users", "backend"),
    "indexer": _res("indexer", "search", "worker"),
    "billing-job": _res("billing-job", "billing", "job"),
}


@dataclass(frozen=True)
class SampleEdge:
    """One integration of the sample fleet. Its level, rule and verdict are not written here:
    they are what the real classifier gives the sample's spans (`real_labels`)."""

    src: str  # component
    dst: str  # node id
    mechanism: str
    direction: str
    reason: str
    spans: int
    errors: int = 0
    via: str | None = None
    method: str = "GetItem"  # of a DynamoDB call: PutItem writes

    @property
    def key(self) -> tuple[str, str, str, str]:
        return (comp(self.src), self.dst, self.mechanism, self.direction)

    @property
    def level(self) -> str:
        return real_labels()[self.key].level

    @property
    def rule(self) -> str:
        return real_labels()[self.key].rule

    @property
    def verdict(self) -> str:
        return real_labels()[self.key].verdict


def comp(name: str) -> str:
    return f"component:{RESOURCES[name]['service.namespace']}/{name}"


EDGES: tuple[SampleEdge, ...] = (
    SampleEdge(
        "web", comp("bff"), "graphql", "call", "webapp web calls its BFF with GraphQL operations", 6
    ),
    SampleEdge(
        "bff", comp("orders-api"), "rest", "call", "the BFF aggregates the orders REST API", 5
    ),
    SampleEdge(
        "web",
        comp("users-api"),
        "rest",
        "call",
        "webapp web calls users-api REST directly, not through the BFF",
        4,
        1,
    ),
    SampleEdge(
        "billing-job",
        comp("bff"),
        "graphql",
        "call",
        "job billing-job calls the webapp BFF's GraphQL",
        3,
    ),
    SampleEdge(
        "orders-api",
        "dynamodb:table/Users",
        "dynamodb",
        "call",
        "orders-api reads table Users, owned by system users",
        5,
    ),
    SampleEdge(
        "orders-api",
        "dynamodb:table/Orders",
        "dynamodb",
        "call",
        "orders-api writes its own system's table Orders",
        8,
    ),
    SampleEdge(
        "orders-api",
        comp("orders-worker"),
        "sqs",
        "listen",
        "queue orders-q between components of system orders",
        4,
        via="sqs:queue/orders-q",
    ),
    SampleEdge(
        "orders-worker",
        comp("orders-api"),
        "rest",
        "call",
        "orders-worker calls orders-api REST inside system orders; a direct hit would do",
        3,
    ),
    SampleEdge(
        "users-api",
        comp("indexer"),
        "eventbridge",
        "listen",
        "SessionStarted events from users consumed by search as state",
        4,
        via="events:bus/default",
    ),
    SampleEdge(
        "orders-api",
        comp("indexer"),
        "sqs",
        "listen",
        "queue search-q carries events from system orders to system search",
        3,
        via="sqs:queue/search-q",
    ),
    SampleEdge(
        "users-api", "external:auth0", "http-external", "call", "users-api calls the Auth0 API", 3
    ),
    SampleEdge(
        "indexer",
        "s3:bucket/click-logs",
        "s3",
        "call",
        "no rule covers a worker writing its bucket",
        2,
    ),
)

BUCKET_WRITE = EDGES[-1]

# What spans cannot tell the classifier about the sample fleet.
LANDSCAPE = """\
[owners.tables]
Users = "users"
Orders = "orders"

[vendors.auth0]
hosts = ["*.auth0.com"]
"""


@dataclass(frozen=True)
class RealLabel:
    level: str
    rule: str
    verdict: str


@functools.cache
def real_labels() -> dict[tuple[str, str, str, str], RealLabel]:
    """What the real classifier says of the sample's spans, by (from, to, mechanism, direction).

    Fails when it sees other integrations than EDGES, so the sample cannot drift from it.
    """
    with tempfile.TemporaryDirectory() as folder:
        builder = SpanBatchBuilder()
        build_spans(builder)
        with Store.open(Path(folder) / "labels.duckdb") as store:
            store.append(builder.build(), batch_key="sample-1", source="tests")
            classify(store.con, parse_landscape(LANDSCAPE, Path("sample.toml")), full=True)
            rows = store.con.execute(
                "SELECT from_node, to_node, mechanism, direction, level, rule_id, verdict "
                "FROM edges"
            ).fetchall()
    labels = {(r[0], r[1], r[2], r[3]): RealLabel(r[4], r[5], r[6]) for r in rows}
    expected = {e.key for e in EDGES}
    if set(labels) != expected:
        raise AssertionError(
            "the real classifier and the sample see different integrations: "
            f"only classified {sorted(set(labels) - expected)}, "
            f"only in the sample {sorted(expected - set(labels))}"
        )
    return labels


def _hex(text: str, n: int) -> str:
    return hashlib.sha256(text.encode()).hexdigest()[:n]


def _client_attrs(edge: SampleEdge) -> dict[str, Any]:
    kind, _, name = edge.dst.partition(":")
    if edge.mechanism in ("rest", "graphql"):
        host = name.partition("/")[2]
        attrs: dict[str, Any] = {
            "http.request.method": "POST" if edge.mechanism == "graphql" else "GET",
            "url.full": f"http://{host}:8080/{'graphql' if edge.mechanism == 'graphql' else 'api'}",
            "server.address": host,
            "server.port": 8080,
            "http.response.status_code": 200,
        }
        if edge.mechanism == "graphql":
            attrs["graphql.operation.name"] = "Shortlist"
            attrs["graphql.operation.type"] = "query"
        return attrs
    if edge.mechanism == "http-external":
        return {
            "http.request.method": "POST",
            "url.full": "https://example.auth0.com/oauth/token",
            "server.address": "example.auth0.com",
            "http.response.status_code": 200,
        }
    if edge.mechanism == "dynamodb":
        table = name.partition("/")[2]
        return {
            "rpc.system": "aws-api",
            "rpc.service": "DynamoDB",
            "rpc.method": edge.method,
            "aws.dynamodb.table_names": [table],
        }
    if edge.mechanism == "s3":
        return {
            "rpc.system": "aws-api",
            "rpc.service": "S3",
            "rpc.method": "PutObject",
            "aws.s3.bucket": name.partition("/")[2],
        }
    return {}


def _span_name(edge: SampleEdge) -> str:
    if edge.mechanism == "graphql":
        return "POST /graphql"
    if edge.mechanism == "rest":
        return "GET /api"
    if edge.mechanism == "http-external":
        return "POST"
    if edge.mechanism == "dynamodb":
        return f"DynamoDB.{edge.method}"
    if edge.mechanism == "s3":
        return "S3.PutObject"
    if edge.mechanism == "sqs":
        return "SQS.SendMessage"
    return "EventBridge.PutEvents"


@dataclass
class Labelled:
    trace_id: str
    span_id: str
    edge_index: int


def build_spans(builder: SpanBatchBuilder, edges: tuple[SampleEdge, ...] = EDGES) -> list[Labelled]:
    """Adds the fleet's spans; returns which span carries which edge (for hand-made labels)."""
    labelled: list[Labelled] = []
    for index, edge in enumerate(edges):
        for k in range(edge.spans):
            trace_id = _hex(f"trace-{index}-{k}", 32)
            start = T0 + (index * 10 + k) * 1000 * MS
            root_id = _hex(f"root-{index}-{k}", 16)
            error = k < edge.errors
            builder.add(
                trace_id=trace_id,
                span_id=root_id,
                parent_span_id=None,
                name=f"{edge.src} handle",
                kind="SERVER" if edge.src != "billing-job" else "INTERNAL",
                start_ns=start,
                end_ns=start + 40 * MS,
                status_code="ERROR" if error else "UNSET",
                status_message=None,
                attributes={},
                resource=RESOURCES[edge.src],
                scope_name="app",
            )
            client_id = _hex(f"client-{index}-{k}", 16)
            if edge.direction == "listen":
                # The producer's send; the consumer's receive in a trace of its own.
                assert edge.via is not None
                via_kind, _, via_name = edge.via.partition(":")
                queue = via_name.partition("/")[2]
                if via_kind == "sqs":
                    attrs: dict[str, Any] = {
                        "rpc.system": "aws-api",
                        "rpc.service": "SQS",
                        "rpc.method": "SendMessage",
                        "messaging.system": "aws.sqs",
                        "messaging.destination.name": queue,
                    }
                else:
                    attrs = {
                        "rpc.system": "aws-api",
                        "rpc.service": "EventBridge",
                        "rpc.method": "PutEvents",
                        "seamscope.eventbridge.bus_names": [queue],
                        "seamscope.eventbridge.sources": ["sessions"],
                        "seamscope.eventbridge.detail_types": ["SessionStarted"],
                    }
                builder.add(
                    trace_id=trace_id,
                    span_id=client_id,
                    parent_span_id=root_id,
                    name=_span_name(edge),
                    kind="PRODUCER",
                    start_ns=start + 5 * MS,
                    end_ns=start + 15 * MS,
                    status_code="UNSET",
                    status_message=None,
                    attributes=attrs,
                    resource=RESOURCES[edge.src],
                    scope_name="botocore",
                )
                labelled.append(Labelled(trace_id, client_id, index))
                consumer = edge.dst.partition("/")[2]
                c_trace = _hex(f"consumer-trace-{index}-{k}", 32)
                c_span = _hex(f"consumer-{index}-{k}", 16)
                received: dict[str, Any] = {
                    "messaging.system": "aws.sqs",
                    "messaging.destination.name": queue,
                    "messaging.operation": "receive",
                }
                c_parent = None
                if via_kind == "events":
                    # The bus delivers to the consumer's queue inside a poll, whose work
                    # (a write to its own bucket) is the handling of the event.
                    c_parent = _hex(f"poll-{index}-{k}", 16)
                    received = {
                        "messaging.system": "aws.sqs",
                        "messaging.destination.name": f"{consumer}-events",
                        "messaging.operation": "receive",
                        "seamscope.eventbridge.sources": ["sessions"],
                        "seamscope.eventbridge.detail_types": ["SessionStarted"],
                    }
                    poll = start + 190 * MS
                    builder.add(
                        trace_id=c_trace,
                        span_id=c_parent,
                        parent_span_id=None,
                        name=f"{consumer} poll",
                        kind="INTERNAL",
                        start_ns=poll,
                        end_ns=poll + 90 * MS,
                        status_code="UNSET",
                        status_message=None,
                        attributes={},
                        resource=RESOURCES[consumer],
                        scope_name="app",
                    )
                    builder.add(
                        trace_id=c_trace,
                        span_id=_hex(f"handling-{index}-{k}", 16),
                        parent_span_id=c_parent,
                        name="S3.PutObject",
                        kind="CLIENT",
                        start_ns=poll + 75 * MS,
                        end_ns=poll + 85 * MS,
                        status_code="UNSET",
                        status_message=None,
                        attributes=_client_attrs(BUCKET_WRITE),
                        resource=RESOURCES[consumer],
                        scope_name="botocore",
                    )
                builder.add(
                    trace_id=c_trace,
                    span_id=c_span,
                    parent_span_id=c_parent,
                    name=f"{queue} receive",
                    kind="CONSUMER",
                    start_ns=start + 200 * MS,
                    end_ns=start + 260 * MS,
                    status_code="UNSET",
                    status_message=None,
                    attributes=received,
                    resource=RESOURCES[consumer],
                    scope_name="botocore",
                )
                labelled.append(Labelled(c_trace, c_span, index))
                continue
            builder.add(
                trace_id=trace_id,
                span_id=client_id,
                parent_span_id=root_id,
                name=_span_name(edge),
                kind="CLIENT",
                start_ns=start + 5 * MS,
                end_ns=start + (25 + 3 * k) * MS,
                status_code="ERROR" if error else "UNSET",
                status_message="503 from upstream" if error else None,
                attributes=_client_attrs(edge),
                resource=RESOURCES[edge.src],
                scope_name="httpx"
                if "http" in _span_name(edge) or "/" in _span_name(edge)
                else "botocore",
            )
            labelled.append(Labelled(trace_id, client_id, index))
            if edge.dst.startswith("component:"):
                callee = edge.dst.partition("/")[2]
                builder.add(
                    trace_id=trace_id,
                    span_id=_hex(f"server-{index}-{k}", 16),
                    parent_span_id=client_id,
                    name=_span_name(edge),
                    kind="SERVER",
                    start_ns=start + 7 * MS,
                    end_ns=start + (22 + 3 * k) * MS,
                    status_code="ERROR" if error else "UNSET",
                    status_message=None,
                    attributes={
                        "http.route": "/graphql" if edge.mechanism == "graphql" else "/api"
                    },
                    resource=RESOURCES[callee],
                    scope_name="flask",
                )
    return labelled


def _nodes() -> list[tuple[Any, ...]]:
    rows: list[tuple[Any, ...]] = []
    for name, res in RESOURCES.items():
        rows.append(
            (
                comp(name),
                "component",
                name,
                res["service.namespace"],
                res["seamscope.role"],
                None,
                False,
                None,
            )
        )
    rows += [
        (
            "dynamodb:table/Users",
            "resource",
            "Users",
            "users",
            None,
            "dynamodb-table",
            True,
            "written only by system users",
        ),
        (
            "dynamodb:table/Orders",
            "resource",
            "Orders",
            "orders",
            None,
            "dynamodb-table",
            True,
            "written only by system orders",
        ),
        ("sqs:queue/orders-q", "resource", "orders-q", "orders", None, "sqs-queue", True, None),
        ("sqs:queue/search-q", "resource", "search-q", "search", None, "sqs-queue", True, None),
        ("events:bus/default", "resource", "default", None, None, "events-bus", True, None),
        (
            "s3:bucket/click-logs",
            "resource",
            "click-logs",
            "search",
            None,
            "s3-bucket",
            True,
            "written only by system search",
        ),
        ("external:auth0", "external", "auth0", None, None, None, True, "host example.auth0.com"),
    ]
    return rows


def _system_of(node_id: str) -> str | None:
    for row in _nodes():
        if row[0] == node_id:
            return row[3]  # type: ignore[no-any-return]
    return None


def write_manual_edges(store: Store, labelled: list[Labelled]) -> None:
    """Hand-made classifier output for exactly known screens."""
    con = store.con
    for statement in CLASSIFIER_DDL:
        con.execute(statement)
    con.execute("DELETE FROM nodes")
    con.execute("DELETE FROM edges")
    con.execute("DELETE FROM span_labels")
    con.executemany("INSERT INTO nodes VALUES (?, ?, ?, ?, ?, ?, ?, ?)", _nodes())
    for index, edge in enumerate(EDGES):
        edge_id = _hex(f"edge-{index}", 16)
        src = comp(edge.src)
        first = datetime.fromtimestamp((T0 + index * 10 * 1000 * MS) / 1e9, tz=UTC)
        last = datetime.fromtimestamp(
            (T0 + (index * 10 + edge.spans - 1) * 1000 * MS) / 1e9, tz=UTC
        )
        con.execute(
            f"INSERT INTO edges VALUES ({', '.join('?' * 21)})",
            [
                edge_id,
                src,
                edge.dst,
                _system_of(src),
                _system_of(edge.dst),
                edge.mechanism,
                edge.direction,
                edge.via,
                edge.level,
                edge.rule,
                edge.verdict,
                edge.reason,
                [_span_name(edge)],
                edge.spans,
                edge.errors,
                20.0 + index,
                25.0 + 2 * index,
                first,
                last,
                _hex(f"trace-{index}-0", 32),
                "host" if edge.direction == "call" else "name",
            ],
        )
        for item in labelled:
            if item.edge_index == index:
                con.execute(
                    "INSERT INTO span_labels VALUES (?, ?, ?, ?, ?)",
                    [item.trace_id, item.span_id, edge_id, edge.rule, edge.verdict],
                )


def edge_id_of(index: int) -> str:
    """The id of EDGES[index] in a manual store."""
    return _hex(f"edge-{index}", 16)


def build_store(path: Path, *, manual: bool = True) -> Path:
    """Writes the sample store at path (spans, then edges) and returns the path."""
    builder = SpanBatchBuilder()
    labelled = build_spans(builder)
    with Store.open(path) as store:
        store.append(builder.build(), batch_key="sample-1", source="tests")
        if manual:
            write_manual_edges(store, labelled)
        else:
            classify(store.con, None, full=True)
    return path


# Tables no landscape entry and no single writer give an owner: Sessions, written by two
# systems, and Rates, only read. The real classifier leaves both with no known owner.
UNOWNED_EDGES: tuple[SampleEdge, ...] = (
    SampleEdge(
        "orders-api", "dynamodb:table/Sessions", "dynamodb", "call", "", 4, method="PutItem"
    ),
    SampleEdge("users-api", "dynamodb:table/Sessions", "dynamodb", "call", "", 3, method="PutItem"),
    SampleEdge("billing-job", "dynamodb:table/Sessions", "dynamodb", "call", "", 2),
    SampleEdge("billing-job", "dynamodb:table/Rates", "dynamodb", "call", "", 2),
)


def build_unowned_store(path: Path) -> Path:
    """The sample fleet and UNOWNED_EDGES, labelled by the real classifier with the sample's
    landscape (which declares no owner of Sessions or Rates): two resources of no known owner."""
    builder = SpanBatchBuilder()
    build_spans(builder, EDGES + UNOWNED_EDGES)
    with Store.open(path) as store:
        store.append(builder.build(), batch_key="sample-1", source="tests")
        classify(store.con, parse_landscape(LANDSCAPE, Path("sample.toml")), full=True)
    return path


def make_unresolved(path: Path, edge_id: str) -> str:
    """The edge as the classifier leaves one whose consumer was never seen."""
    reason = (
        "no consumer of sqs:queue/search-q was seen: no receive names the queue and no "
        "span links to these sends (a Lambda function it triggers may record neither: the "
        "event-source mapping is known from seamscope discover aws or [[routes]])"
    )
    with duckdb.connect(str(path)) as con:
        con.execute(
            "UPDATE edges SET rule_id = 'unresolved', verdict = 'unresolved', evidence = 'none', "
            "reason = ? WHERE edge_id = ?",
            [reason, edge_id],
        )
    return reason
