"""The classifier's results, declared once: the verdict a rule gives an edge (with the rank that
orders findings worst first and the style every front end shows it in), and the node, edge and
finding records.

A stored record's fields carry their columns (`Col`), so the one declaration makes the table
(classifiers/schema.py), the Arrow data the classifier writes, the records every reader gets
(classifiers/read.py) and docs/schema.md's tables (a test keeps them in step).
"""

from __future__ import annotations

import dataclasses
import functools
import typing
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Annotated, Any

import pyarrow as pa

from seamscope.tracer.schema import Column

NO_SYSTEM = "?"
"""The system shown for components of no known system (no service.namespace and not in the
landscape file): a group of their own, and a part of their node ids (`component:?/web`). No
system can take the name: a service.namespace of `?` is taken as none, and the landscape file
refuses it."""


class Verdict(StrEnum):
    """What a rule says of an integration (the store keeps the value)."""

    PATTERN = "pattern"
    SMELL = "smell"
    ANTI_PATTERN = "anti-pattern"
    UNCLASSIFIED = "unclassified"
    # A fact the decision needs is missing from the spans (a queue no span names, a consumer
    # never seen): shown with what was missing, never as a pattern or anti-pattern.
    UNRESOLVED = "unresolved"

    @property
    def rank(self) -> int:
        """0 for the worst: findings, edge lists and map arrows sort by it."""
        return _LOOK[self][0]

    @property
    def style(self) -> str:
        """The Rich style it is shown in (the TUI, the command line, the demo)."""
        return _LOOK[self][1]

    @property
    def glyph(self) -> str:
        """One character shown with it, so a verdict is never told by colour alone."""
        return _LOOK[self][2]

    @property
    def is_finding(self) -> bool:
        """Anti-patterns and smells are findings (`seamscope check`, the findings view)."""
        return self in FINDINGS

    @classmethod
    def worst_first(cls) -> tuple[Verdict, ...]:
        return tuple(sorted(cls, key=lambda v: v.rank))


_LOOK: dict[Verdict, tuple[int, str, str]] = {
    Verdict.ANTI_PATTERN: (0, "bold red", "✗"),
    Verdict.SMELL: (1, "yellow", "!"),
    Verdict.UNCLASSIFIED: (2, "bright_blue", "?"),
    Verdict.UNRESOLVED: (3, "magenta", "…"),
    Verdict.PATTERN: (4, "green", "✓"),
}
FINDINGS: tuple[Verdict, ...] = (Verdict.ANTI_PATTERN, Verdict.SMELL)


class Evidence(StrEnum):
    """What joined an edge's two ends, strongest first (the store keeps the value)."""

    TRACE = "trace"  # the other end's span is a child in the same trace (context carried)
    LINK = "link"  # a span link from the consumer's span to the producer's
    HOOK = "hook"  # what seamscope's hooks recorded: bus, source, detail-type; topic; stream
    DISCOVERED = "discovered"  # the account's wiring, read by `seamscope discover aws`
    DECLARED = "declared"  # a route declared in the landscape file's [[routes]]
    NAME = "name"  # the span names the resource; producers and consumers by the same name
    HOST = "host"  # an HTTP call's host and port: the component that serves it, or a vendor
    NONE = "none"  # nothing joined the other end: the edge is unresolved

    @property
    def strength(self) -> int:
        """0 for the strongest: an edge joined several ways records the strongest."""
        return _EVIDENCE_ORDER.index(self)

    def stronger(self, other: Evidence) -> Evidence:
        return self if self.strength <= other.strength else other


_EVIDENCE_ORDER: tuple[Evidence, ...] = tuple(Evidence)


def sql_list(values: Iterable[str]) -> str:
    """Values as a SQL list: ``('anti-pattern', 'smell')``."""
    return "(" + ", ".join(f"'{v}'" for v in values) + ")"


def verdict_rank_sql(column: str = "verdict") -> str:
    """A SQL expression ranking a verdict column as Verdict.rank does."""
    whens = " ".join(f"WHEN '{v}' THEN {v.rank}" for v in Verdict.worst_first())
    return f"CASE {column} {whens} ELSE {len(Verdict)} END"


@dataclass(frozen=True, slots=True)
class Col:
    """A record field's column in the store: its DuckDB type (and constraint), and what it holds
    (docs/schema.md says so)."""

    sql: str
    doc: str


# DuckDB type -> the Arrow type the classifier writes it as.
_ARROW: dict[str, pa.DataType] = {
    "VARCHAR": pa.string(),
    "VARCHAR[]": pa.list_(pa.string()),
    "BOOLEAN": pa.bool_(),
    "BIGINT": pa.int64(),
    "DOUBLE": pa.float64(),
    "TIMESTAMPTZ": pa.timestamp("us", tz="UTC"),
}


@dataclass(frozen=True, slots=True)
class Node:
    """A component, an AWS resource or a vendor: a row of ``nodes``."""

    node_id: Annotated[
        str,
        Col(
            "VARCHAR PRIMARY KEY",
            "`component:<system>/<service.name>`, an AWS resource such as `dynamodb:table/Orders`, "
            "`events:bus/default`, `sqs:queue/orders-q`, or `external:<vendor or host>`",
        ),
    ]
    node_type: Annotated[str, Col("VARCHAR NOT NULL", "`component`, `resource` or `external`")]
    name: Annotated[str, Col("VARCHAR NOT NULL", "service name, resource name or vendor")]
    system: Annotated[
        str | None,
        Col(
            "VARCHAR",
            "the owning system; NULL when unknown (the TUI shows such components under `?`)",
        ),
    ]
    role: Annotated[
        str | None, Col("VARCHAR", "components: `webapp`, `bff`, `backend`, `worker`, `job`")
    ] = None
    resource_kind: Annotated[
        str | None, Col("VARCHAR", "resources: `dynamodb-table`, `sqs-queue`, `events-bus`, ...")
    ] = None
    inferred: Annotated[
        bool,
        Col(
            "BOOLEAN NOT NULL",
            "true when system, role or owner was inferred rather than declared",
        ),
    ] = False
    inference: Annotated[str | None, Col("VARCHAR", "how it was inferred")] = None

    @classmethod
    def from_row(cls, row: Mapping[str, Any]) -> Node:
        return cls(**_values(cls, row))

    @property
    def label(self) -> str:
        """How reports name it: a component as system/name, anything else by its id."""
        if self.node_type == "component":
            return f"{self.system or NO_SYSTEM}/{self.name}"
        return self.node_id


@dataclass(frozen=True, slots=True)
class Edge:
    """One integration, (from, to, mechanism, direction), with the rule that labels it: a row of
    ``edges``."""

    edge_id: Annotated[
        str,
        Col("VARCHAR PRIMARY KEY", "stable hash of from_node, to_node, mechanism, direction"),
    ]
    from_node: Annotated[str, Col("VARCHAR NOT NULL", "`nodes.node_id` of the caller / producer")]
    to_node: Annotated[
        str, Col("VARCHAR NOT NULL", "`nodes.node_id` of the callee / consumer / resource")
    ]
    from_system: Annotated[str | None, Col("VARCHAR", "system of `from_node`")]
    to_system: Annotated[str | None, Col("VARCHAR", "system of `to_node`")]
    mechanism: Annotated[
        str,
        Col(
            "VARCHAR NOT NULL",
            "`rest`, `graphql`, `dynamodb`, `dynamodb-streams`, `eventbridge`, `sqs`, `sns`, "
            "`kinesis`, `lambda`, `s3`, `http-external`",
        ),
    ]
    direction: Annotated[str, Col("VARCHAR NOT NULL", "`call` or `listen`")]
    via: Annotated[
        str | None, Col("VARCHAR", "listening edges: the resource the event travels through")
    ]
    level: Annotated[
        str,
        Col(
            "VARCHAR NOT NULL",
            "`system` (between systems), `component` (inside one), `external` (to or from a "
            "vendor), or `unknown`: the system of an end is not known (a component of no known "
            "system, a resource of no known owner), so whether the edge crosses systems is not "
            "known either (its verdict is then `unresolved` or `unclassified`)",
        ),
    ]
    rule_id: Annotated[
        str,
        Col(
            "VARCHAR NOT NULL",
            "`P101` ... `A401`, `unclassified` or `unresolved` (`seamscope patterns` lists them)",
        ),
    ]
    verdict: Annotated[
        Verdict,
        Col(
            "VARCHAR NOT NULL",
            "`pattern`, `anti-pattern`, `smell`, `unclassified`, `unresolved` (a fact the "
            "decision needs is missing: the reason says which)",
        ),
    ]
    reason: Annotated[str | None, Col("VARCHAR", "why this rule, in terms of the evidence seen")]
    operations: Annotated[
        tuple[str, ...],
        Col("VARCHAR[]", "GraphQL operations, HTTP routes, detail-types, AWS methods seen"),
    ]
    span_count: Annotated[int, Col("BIGINT NOT NULL", "spans on this edge")]
    error_count: Annotated[int, Col("BIGINT NOT NULL", "of which status ERROR")]
    p50_ms: Annotated[
        float | None,
        Col("DOUBLE", "median duration, from a log histogram: within about 5% of the exact value"),
    ]
    p95_ms: Annotated[
        float | None, Col("DOUBLE", "95th percentile duration, as p50_ms (within about 5%)")
    ]
    first_seen: Annotated[datetime | None, Col("TIMESTAMPTZ", "earliest span")]
    last_seen: Annotated[datetime | None, Col("TIMESTAMPTZ", "latest span")]
    sample_trace_id: Annotated[str | None, Col("VARCHAR", "a trace to look at")]
    evidence: Annotated[
        Evidence,
        Col(
            "VARCHAR NOT NULL",
            "what joined the two ends, strongest first: `trace` (the other end's span is a child "
            "in the same trace), `link` (a span link to the producer's span, which started at "
            "most an hour before the consumer's or a minute after it: whichever was stored "
            "first, and in a full run alike), `hook` (event "
            "identity recorded by seamscope's hooks), `discovered` / `declared` (a route of "
            "`aws_routes` or the landscape file), `name` (the span names the resource; producer "
            "and consumer by the same name), `host` (an HTTP call's host and port), `none` "
            "(nothing: unresolved)",
        ),
    ]

    @classmethod
    def from_row(cls, row: Mapping[str, Any]) -> Edge:
        return cls(**_values(cls, row))

    @property
    def error_rate(self) -> float:
        return self.error_count / self.span_count if self.span_count else 0.0

    def as_json(self, source: str, target: str) -> dict[str, Any]:
        """The JSON shape of `seamscope edges`: the columns, and the ends by name."""
        out: dict[str, Any] = {"edge_id": self.edge_id, "from": source, "to": target}
        for column in columns(Edge)[1:]:
            value = getattr(self, column.name)
            if isinstance(value, datetime):
                value = value.isoformat()
            elif isinstance(value, tuple):
                value = list(value)
            out[column.name] = value
        return out


@dataclass(frozen=True, slots=True)
class LabelChange:
    """An edge that appeared, or whose rule changed, when the classifier labelled the store again:
    a row of ``label_changes`` (the history the TUI marks and lists)."""

    changed_at: Annotated[
        datetime, Col("TIMESTAMPTZ NOT NULL", "when the classifier wrote it (its clock)")
    ]
    edge_id: Annotated[str, Col("VARCHAR NOT NULL", "`edges.edge_id`")]
    from_node: Annotated[str, Col("VARCHAR NOT NULL", "the edge's `from_node`")]
    to_node: Annotated[str, Col("VARCHAR NOT NULL", "the edge's `to_node`")]
    mechanism: Annotated[str, Col("VARCHAR NOT NULL", "the edge's mechanism")]
    old_rule_id: Annotated[str | None, Col("VARCHAR", "the rule before; NULL for a new edge")]
    old_verdict: Annotated[Verdict | None, Col("VARCHAR", "the verdict before")]
    rule_id: Annotated[str, Col("VARCHAR NOT NULL", "the rule now")]
    verdict: Annotated[Verdict, Col("VARCHAR NOT NULL", "the verdict now")]
    reason: Annotated[str | None, Col("VARCHAR", "the new rule's evidence")]
    cause: Annotated[
        str,
        Col(
            "VARCHAR NOT NULL",
            "what changed: `spans` (new evidence), `landscape` (the landscape file), `routes` "
            "(a rerun of `seamscope discover aws`), `catalog` (the rules), `classifier` (a new "
            "classifier version)",
        ),
    ]

    @classmethod
    def from_row(cls, row: Mapping[str, Any]) -> LabelChange:
        return cls(**_values(cls, row))

    @property
    def is_new(self) -> bool:
        return self.old_rule_id is None


@dataclass(frozen=True, slots=True)
class Finding:
    """An edge as reports name it (`seamscope check` and its baselines, drift): its ends by name,
    its rule's name and what to do instead."""

    edge: Edge
    source: str
    target: str
    rule_name: str
    fix: str | None

    @property
    def key(self) -> tuple[str, str, str, str]:
        """What a baseline remembers a finding by."""
        return (self.edge.rule_id, self.source, self.target, self.edge.mechanism)

    def as_json(self) -> dict[str, Any]:
        e = self.edge
        return {
            "rule_id": e.rule_id,
            "name": self.rule_name,
            "verdict": e.verdict,
            "level": e.level,
            "from": self.source,
            "to": self.target,
            "from_system": e.from_system,
            "to_system": e.to_system,
            "mechanism": e.mechanism,
            "direction": e.direction,
            "via": e.via,
            "evidence": e.evidence,
            "span_count": e.span_count,
            "error_count": e.error_count,
            "sample_trace_id": e.sample_trace_id,
            "reason": e.reason,
            "fix": self.fix,
            "edge_id": e.edge_id,
        }


# ---- the records as columns -------------------------------------------------------------------


@functools.cache
def columns(record: type) -> tuple[Column, ...]:
    """The columns a record declares, in its field order."""
    hints = typing.get_type_hints(record, include_extras=True)
    found: list[Column] = []
    for f in dataclasses.fields(record):
        col = next(
            (m for m in getattr(hints[f.name], "__metadata__", ()) if isinstance(m, Col)), None
        )
        if col is not None:
            base = col.sql.split(" ")[0]
            found.append(Column(f.name, col.sql, _ARROW[base], col.doc))
    return tuple(found)


def table_ddl(table: str, record: type) -> str:
    cols = ",\n    ".join(f"{c.name} {c.sql_type}" for c in columns(record))
    return f"CREATE TABLE IF NOT EXISTS {table} (\n    {cols}\n)"


def to_arrow(record: type, rows: Iterable[Any]) -> pa.Table:
    """Records as the Arrow table of their columns."""
    cols = columns(record)
    data: dict[str, list[Any]] = {c.name: [] for c in cols}
    for row in rows:
        for c in cols:
            data[c.name].append(getattr(row, c.name))
    return pa.Table.from_pydict(data, schema=pa.schema([(c.name, c.arrow_type) for c in cols]))


R = typing.TypeVar("R")


def records(record: type[R], rows: pa.StructArray) -> list[R]:
    """Records from a query's rows as one struct array, converted a column at a time: half the
    time of a dict per row and from_row (a live landscape converts thousands of edges a
    second)."""
    names = [f.name for f in dataclasses.fields(record)]  # type: ignore[arg-type]
    converters = _converters(typing.cast(type, record))
    children = dict(zip((f.name for f in rows.type), rows.flatten(), strict=True))
    cols = []
    for name, convert in converters:
        values = _pylist(children[name])
        cols.append(values if convert is _same else [convert(v) for v in values])
    if names == [name for name, _ in converters]:
        return [record(*row) for row in zip(*cols, strict=True)]
    return [record(**dict(zip(names, row, strict=True))) for row in zip(*cols, strict=True)]


_UTC_NAMES = frozenset({"UTC", "Etc/UTC", "+00:00", "GMT", "Etc/GMT", "Z"})
_MICROSECONDS = {"s": 1_000_000, "ms": 1_000, "us": 1}


def _pylist(values: pa.Array) -> list[Any]:
    """An array's Python values; UTC timestamps (to the microsecond) counted from the epoch,
    each given the zone object pyarrow would give it: the same datetimes in a sixth of the time
    (pyarrow localises each value on its own; a live landscape converts thousands a second)."""
    kind = values.type
    if not (pa.types.is_timestamp(kind) and kind.tz in _UTC_NAMES and kind.unit in _MICROSECONDS):
        return values.to_pylist()  # type: ignore[no-any-return]
    first = next((v for v in values if v.is_valid), None)
    if first is None:
        return values.to_pylist()  # type: ignore[no-any-return]
    epoch = datetime(1970, 1, 1, tzinfo=first.as_py().tzinfo)
    scale = _MICROSECONDS[kind.unit]
    counts = values.cast(pa.int64()).to_pylist()
    if values.null_count:
        return [None if v is None else epoch + timedelta(0, 0, v * scale) for v in counts]
    return [epoch + timedelta(0, 0, v * scale) for v in counts]


def _values(record: type, row: Mapping[str, Any]) -> dict[str, Any]:
    """A record's field values from a query's row (a dict of its columns)."""
    return {name: convert(row[name]) for name, convert in _converters(record)}


@functools.cache
def _converters(record: type) -> tuple[tuple[str, Callable[[Any], Any]], ...]:
    hints = typing.get_type_hints(record)
    out = []
    for c in columns(record):
        hint = hints[c.name]
        if hint is Verdict or hint is Evidence:
            convert: Callable[[Any], Any] = _member_of(hint)
        elif hint == Verdict | None:
            convert = _verdict_or_none
        elif hint is bool or hint is int:
            convert = hint
        elif typing.get_origin(hint) is tuple:
            convert = _tuple
        else:
            convert = _same
        out.append((c.name, convert))
    return tuple(out)


E = typing.TypeVar("E", bound=StrEnum)


def _member_of(kind: type[E]) -> Callable[[Any], E]:
    """The member of kind a stored value names, looked up (a fifth of the enum's own call);
    an unknown value raises the enum's ValueError, as before."""
    members: dict[Any, E] = dict(kind._value2member_map_)

    def member(value: Any) -> E:
        found = members.get(value)
        return found if found is not None else kind(value)

    return member


_verdict = _member_of(Verdict)


def _verdict_or_none(value: Any) -> Verdict | None:
    return None if value is None else _verdict(value)


def _tuple(value: Any) -> tuple[Any, ...]:
    return tuple(value or ())


def _same(value: Any) -> Any:
    return value
