"""The TUI's data access: where the store is read from, and the queries every screen runs.

Screens never touch DuckDB themselves. They call the functions here from thread workers; each
function takes a `DataSource` and returns plain records. Every source reads through the reader
`seamscope.tracer.access.open_reader` picks, and adds what the TUI needs on top:

- `LocalStore`: a file nobody owns (or that an owner took over since: the reader follows it).
  `refresh()` classifies new spans under a short read-write lock while nobody owns the store.
- `ReceiverSource`: this process owns the store (`seamscope tui --collect`); the embedded receiver
  classifies after each commit and answers queries on its own cursors.
- `OwnerSource`: another process owns the store and classifies what it receives.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any, Protocol, TypeVar

import pyarrow as pa

from seamscope.classifiers.catalog import RULES, UNCLASSIFIED
from seamscope.classifiers.engine import CLASSIFIER_VERSION, classify
from seamscope.classifiers.landscape import Landscape, load_landscape
from seamscope.classifiers.results import FINDINGS, Verdict, sql_list, verdict_rank_sql
from seamscope.tracer.access import Query as Query  # the screens' type of a query function
from seamscope.tracer.access import Reader, open_reader
from seamscope.tracer.errors import SeamscopeError
from seamscope.tracer.store import StoreError, StoreLocked, short_lock

T = TypeVar("T")


class DataSource(Protocol):
    """Somewhere the TUI reads the store from."""

    description: str

    def run(self, work: Callable[[Query], T]) -> T:
        """Calls work with a query function valid for the duration of the call."""
        ...

    def refresh(self) -> None:
        """Brings the derived tables (edges, labels) up to date with the spans, if it can."""
        ...

    def may_have_changed(self) -> bool:
        """Cheap check before a poll: False when the store surely has not changed since."""
        ...

    def user_sql(self, sql: str) -> pa.Table:
        """Runs a user's statement read-only; raises SqlRejected when it is refused or fails."""
        ...

    def close(self) -> None: ...


class LocalStore:
    """A store file that no process owns: brief connections, never held between refreshes."""

    def __init__(self, path: Path, landscape: Path | None = None, *, classify: bool = True) -> None:
        self.path = path
        self.description = str(path)
        self.landscape: Landscape | None = (
            load_landscape(landscape) if landscape is not None else None
        )
        self._classifies = classify
        # DuckDB refuses a read-only and a read-write connection to one file in one process at
        # the same time; workers take turns.
        self._lock = threading.Lock()
        self._classified_watermark: int | None = None
        self._file_state: tuple[tuple[int, int], ...] | None = None

    def _reader(self) -> Reader:
        # Chosen again for every read: an owner may start or stop between two refreshes. One
        # try at a locked file: the next tick tries again.
        return open_reader(self.path, lock_attempts=1)

    def may_have_changed(self) -> bool:
        """Compares the file's and its WAL's size and mtime with the last poll, so an idle TUI
        does not open the file every second (each open would shut a starting owner out)."""
        state = []
        for candidate in (self.path, self.path.with_name(self.path.name + ".wal")):
            try:
                st = candidate.stat()
            except OSError:
                state.append((-1, -1))
                continue
            state.append((st.st_mtime_ns, st.st_size))
        current = tuple(state)
        changed = current != self._file_state
        self._file_state = current
        return changed

    def run(self, work: Callable[[Query], T]) -> T:
        with self._lock:
            return self._reader().run(work)

    def refresh(self) -> None:
        if not self._classifies:
            return
        mark = self.run(_classify_watermarks)
        watermark = mark.spans
        if watermark == self._classified_watermark:
            return
        if mark.classified == watermark and (
            self.landscape is None
            or (
                mark.landscape == self.landscape.fingerprint()
                and mark.version == CLASSIFIER_VERSION
            )
        ):
            # The classifier already reflects every batch, with this landscape (its own state
            # says so): no need to take the file read-write.
            self._classified_watermark = watermark
            return
        with self._lock:
            if self._reader().owner is not None:
                return  # the owner classifies what it receives
            try:
                with short_lock(self.path, attempts=3) as store:
                    classify(store.con, self.landscape)
            except StoreLocked:
                return  # someone is appending; the next tick tries again
        self._classified_watermark = watermark

    def user_sql(self, sql: str) -> pa.Table:
        with self._lock:
            return self._reader().user_sql(sql)

    def close(self) -> None:
        pass


class ReceiverSource:
    """This process owns the store through an embedded receiver that classifies as it commits."""

    def __init__(self, receiver: Any, description: str) -> None:
        self.receiver = receiver
        self.description = description
        self._reader = open_reader(receiver.db_path, embedded=receiver)

    def run(self, work: Callable[[Query], T]) -> T:
        return self._reader.run(work)

    def refresh(self) -> None:
        pass

    def may_have_changed(self) -> bool:
        # The batch watermark moves before the classifier has written the edges of that batch;
        # a poll is a few cursor queries in this process, so always poll.
        return True

    def user_sql(self, sql: str) -> pa.Table:
        return self._reader.user_sql(sql)

    def close(self) -> None:
        self.receiver.stop()


class OwnerSource:
    """Another process owns the store: every query goes to its SQL endpoint."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.description = f"{path} (live, through its owner)"

    def run(self, work: Callable[[Query], T]) -> T:
        # Chosen again for every read: should the owner stop, the reader reads locally.
        return open_reader(self.path).run(work)

    def refresh(self) -> None:
        pass

    def may_have_changed(self) -> bool:
        return True  # the owner's watermark is one small query away

    def user_sql(self, sql: str) -> pa.Table:
        return open_reader(self.path).user_sql(sql)

    def close(self) -> None:
        pass


def open_source(path: Path, landscape: Path | None = None) -> DataSource:
    """The right source for a store file: through its live owner if it has one, else local."""
    if open_reader(path).owner is not None:
        return OwnerSource(path)
    return LocalStore(path, landscape)


# ---------------------------------------------------------------------------------------------
# Records


@dataclass(frozen=True, slots=True)
class Filters:
    """What the user narrowed the view to; empty fields match everything."""

    system: str = ""
    component: str = ""
    mechanism: str = ""
    verdict: str = ""
    rule: str = ""
    window_minutes: int = 0
    search: str = ""

    def describe(self) -> str:
        parts = [
            f"{name}={value}"
            for name, value in (
                ("system", self.system),
                ("component", self.component),
                ("mechanism", self.mechanism),
                ("verdict", self.verdict),
                ("rule", self.rule),
                ("search", self.search),
            )
            if value
        ]
        if self.window_minutes:
            parts.append(f"last {self.window_minutes} min")
        return ", ".join(parts)

    def with_search(self, text: str) -> Filters:
        return replace(self, search=text)

    def where(self, now: datetime | None = None) -> tuple[str, list[Any]]:
        """A WHERE fragment over the edges table (alias-free) and its parameters."""
        clauses: list[str] = []
        params: list[Any] = []
        if self.system:
            clauses.append("(from_system = ? OR to_system = ?)")
            params += [self.system, self.system]
        if self.component:
            clauses.append("(from_node ILIKE ? OR to_node ILIKE ?)")
            params += [f"%{self.component}%", f"%{self.component}%"]
        for column, value in (
            ("mechanism", self.mechanism),
            ("verdict", self.verdict),
            ("rule_id", self.rule),
        ):
            if value:
                clauses.append(f"{column} = ?")
                params.append(value)
        if self.window_minutes and now is not None:
            clauses.append("last_seen >= ?")
            params.append(now - timedelta(minutes=self.window_minutes))
        if self.search:
            clauses.append(
                "concat_ws(' ', from_node, to_node, from_system, to_system, mechanism, rule_id,"
                " verdict, via, reason) ILIKE ?"
            )
            params.append(f"%{self.search}%")
        return (" AND ".join(clauses) or "TRUE"), params


@dataclass(frozen=True, slots=True)
class Edge:
    edge_id: str
    from_node: str
    to_node: str
    from_system: str | None
    to_system: str | None
    mechanism: str
    direction: str
    via: str | None
    level: str
    rule_id: str
    verdict: Verdict
    reason: str | None
    operations: tuple[str, ...]
    span_count: int
    error_count: int
    p50_ms: float | None
    p95_ms: float | None
    first_seen: datetime | None
    last_seen: datetime | None
    sample_trace_id: str | None

    @property
    def error_rate(self) -> float:
        return self.error_count / self.span_count if self.span_count else 0.0


@dataclass(frozen=True, slots=True)
class Node:
    node_id: str
    node_type: str
    name: str
    system: str | None
    role: str | None
    resource_kind: str | None
    inferred: bool
    inference: str | None


@dataclass(frozen=True, slots=True)
class Overview:
    """What the landscape screen shows."""

    status: str  # ok | empty | unclassified
    span_count: int
    systems: tuple[str, ...]
    components_per_system: dict[str, int]
    edges: tuple[Edge, ...]  # filtered, system and external level
    now: datetime | None


@dataclass(frozen=True, slots=True)
class SystemView:
    system: str
    nodes: tuple[Node, ...]
    edges: tuple[Edge, ...]


@dataclass(frozen=True, slots=True)
class SpanRow:
    trace_id: str
    span_id: str
    parent_span_id: str | None
    name: str
    kind: str
    service_name: str | None
    start_time: datetime
    duration_ms: float
    status_code: str
    edge_id: str | None = None
    verdict: Verdict | None = None


@dataclass(frozen=True, slots=True)
class EdgeDetail:
    edge: Edge
    rule: Rule | None
    spans: tuple[SpanRow, ...]


@dataclass(frozen=True, slots=True)
class Hop:
    """A span of the same listening edge in another trace: the other side of the event."""

    trace_id: str
    span_id: str
    kind: str
    service_name: str | None
    start_time: datetime
    edge_id: str


@dataclass(frozen=True, slots=True)
class TraceView:
    trace_id: str
    spans: tuple[SpanRow, ...]
    hops: tuple[Hop, ...]


@dataclass(frozen=True, slots=True)
class Rule:
    id: str
    name: str
    level: str
    verdict: Verdict
    summary: str
    rationale: str
    example: str
    fix: str


@dataclass(frozen=True, slots=True)
class RuleCount:
    rule: Rule
    edges: int
    spans: int


@dataclass(slots=True)
class Watermark:
    """Changes whenever spans arrive or the classifier rewrites edges."""

    batch: int | None = None
    edges: int = 0
    labelled: str | None = None
    extra: tuple[Any, ...] = field(default_factory=tuple)


# ---------------------------------------------------------------------------------------------
# Queries


def _rows(table: pa.Table) -> list[dict[str, Any]]:
    rows: list[dict[str, Any]] = table.to_pylist()
    return rows


def _has_table(q: Query, name: str) -> bool:
    table = q("SELECT count(*) AS n FROM information_schema.tables WHERE table_name = ?", [name])
    return bool(table.column(0)[0].as_py())


def _spans_watermark(q: Query) -> int:
    value = q("SELECT coalesce(max(batch_id), 0) AS w FROM batches", None).column(0)[0].as_py()
    return int(value)


@dataclass(frozen=True, slots=True)
class ClassifierMark:
    """How far the classifier's tables reflect the store, from its own state."""

    spans: int  # the newest batch
    classified: int | None = None  # the batch they reflect, None when unknown
    landscape: str | None = None  # the fingerprint of the landscape they were made with
    version: str | None = None  # the classifier's version that made them


def _classify_watermarks(q: Query) -> ClassifierMark:
    spans = _spans_watermark(q)
    if not _has_table(q, "classifier_state"):
        return ClassifierMark(spans)
    state = {
        str(r["key"]): str(r["value"])
        for r in q(
            "SELECT key, value FROM classifier_state "
            "WHERE key IN ('watermark', 'landscape', 'version')",
            None,
        ).to_pylist()
    }
    try:
        classified = int(state["watermark"]) if "watermark" in state else None
    except ValueError:
        classified = None
    return ClassifierMark(spans, classified, state.get("landscape"), state.get("version"))


def watermark(q: Query) -> tuple[Any, ...]:
    """A token that changes when anything a screen shows may have changed."""
    batch = _spans_watermark(q)
    if not _has_table(q, "edges"):
        return (batch, None)
    row = q(
        "SELECT count(*), sum(span_count), max(last_seen)::VARCHAR, "
        "bit_xor(hash(edge_id, rule_id, verdict)), "
        f"count(*) FILTER (WHERE verdict IN {sql_list(FINDINGS)}) FROM edges",
        None,
    ).to_pylist()[0]
    return (batch, tuple(row.values()))


def finding_count(token: object) -> int | None:
    """How many findings a watermark token saw (None before the classifier ran)."""
    if isinstance(token, tuple) and len(token) == 2 and isinstance(token[1], tuple):
        value = token[1][-1]
        return int(value) if value is not None else None
    return None


_EDGE_COLUMNS = (
    "edge_id, from_node, to_node, from_system, to_system, mechanism, direction, via, level, "
    "rule_id, verdict, reason, operations, span_count, error_count, p50_ms, p95_ms, "
    "first_seen, last_seen, sample_trace_id"
)

_VERDICT_ORDER = verdict_rank_sql()


def _edge(row: dict[str, Any]) -> Edge:
    return Edge(
        edge_id=row["edge_id"],
        from_node=row["from_node"],
        to_node=row["to_node"],
        from_system=row["from_system"],
        to_system=row["to_system"],
        mechanism=row["mechanism"],
        direction=row["direction"],
        via=row["via"],
        level=row["level"],
        rule_id=row["rule_id"],
        verdict=Verdict(row["verdict"]),
        reason=row["reason"],
        operations=tuple(row["operations"] or ()),
        span_count=int(row["span_count"]),
        error_count=int(row["error_count"]),
        p50_ms=row["p50_ms"],
        p95_ms=row["p95_ms"],
        first_seen=row["first_seen"],
        last_seen=row["last_seen"],
        sample_trace_id=row["sample_trace_id"],
    )


def _node(row: dict[str, Any]) -> Node:
    return Node(
        node_id=row["node_id"],
        node_type=row["node_type"],
        name=row["name"],
        system=row["system"],
        role=row["role"],
        resource_kind=row["resource_kind"],
        inferred=bool(row["inferred"]),
        inference=row["inference"],
    )


def _now(q: Query) -> datetime | None:
    value = q("SELECT max(last_seen) FROM edges", None).column(0)[0].as_py()
    return value if isinstance(value, datetime) else None


def overview(q: Query, filters: Filters) -> Overview:
    """The system landscape: systems and the edges between them (and to vendors)."""
    span_count = int(q("SELECT count(*) FROM spans", None).column(0)[0].as_py())
    if not _has_table(q, "edges"):
        status = "empty" if span_count == 0 else "unclassified"
        return Overview(status, span_count, (), {}, (), None)
    # The store's own newest edge is "now" for the time window: a store read later, or a
    # fixed sample, still shows its last minutes.
    now = _now(q)
    where, params = filters.where(now)
    edges = tuple(
        _edge(r)
        for r in _rows(
            q(
                f"SELECT {_EDGE_COLUMNS} FROM edges WHERE level IN ('system', 'external') "
                f"AND {where} ORDER BY {_VERDICT_ORDER}, from_system, to_system, mechanism, "
                "from_node, to_node",
                params,
            )
        )
    )
    systems = q(
        "SELECT system, count(*) FILTER (WHERE node_type = 'component') AS components "
        "FROM nodes WHERE system IS NOT NULL AND node_type <> 'external' "
        "GROUP BY system ORDER BY system",
        None,
    ).to_pylist()
    status = "ok" if systems or edges else ("empty" if span_count == 0 else "ok")
    return Overview(
        status=status,
        span_count=span_count,
        systems=tuple(str(r["system"]) for r in systems),
        components_per_system={str(r["system"]): int(r["components"]) for r in systems},
        edges=edges,
        now=now,
    )


def system_view(q: Query, system: str, filters: Filters) -> SystemView:
    """Level 2: a system's components, resources and vendors, and every edge touching them."""
    where, params = replace(filters, system="").where(_now(q))
    edges = tuple(
        _edge(r)
        for r in _rows(
            q(
                f"SELECT {_EDGE_COLUMNS} FROM edges WHERE (from_system = ? OR to_system = ?) "
                f"AND {where} ORDER BY {_VERDICT_ORDER}, from_node, to_node, mechanism",
                [system, system, *params],
            )
        )
    )
    node_ids = sorted({e.from_node for e in edges} | {e.to_node for e in edges})
    nodes = tuple(
        _node(r)
        for r in _rows(
            q(
                "SELECT * FROM nodes WHERE system = ? OR list_contains(?, node_id) "
                "ORDER BY node_type, name",
                [system, node_ids],
            )
        )
    )
    return SystemView(system, nodes, edges)


def findings(q: Query, filters: Filters) -> tuple[Edge, ...]:
    """Anti-patterns and smells, worst first (verdict, then errors, then traffic)."""
    if not _has_table(q, "edges"):
        return ()
    where, params = filters.where(_now(q))
    return tuple(
        _edge(r)
        for r in _rows(
            q(
                f"SELECT {_EDGE_COLUMNS} FROM edges WHERE verdict IN {sql_list(FINDINGS)} "
                f"AND {where} ORDER BY {_VERDICT_ORDER}, error_count DESC, span_count DESC, "
                "edge_id",
                params,
            )
        )
    )


def all_edges(q: Query, filters: Filters) -> tuple[Edge, ...]:
    if not _has_table(q, "edges"):
        return ()
    where, params = filters.where(_now(q))
    return tuple(
        _edge(r)
        for r in _rows(
            q(
                f"SELECT {_EDGE_COLUMNS} FROM edges WHERE {where} "
                f"ORDER BY {_VERDICT_ORDER}, from_node, to_node, mechanism",
                params,
            )
        )
    )


def catalog() -> tuple[Rule, ...]:
    """The rule catalog."""
    return tuple(
        Rule(r.id, r.name, r.level, r.verdict, r.summary, r.rationale, r.example, r.fix)
        for r in RULES
    )


def _unknown_rule(rule_id: str, verdict: str) -> Rule:
    if rule_id == UNCLASSIFIED:
        return Rule(
            UNCLASSIFIED,
            UNCLASSIFIED,
            "any",
            Verdict.UNCLASSIFIED,
            "No rule of the catalog covers this integration.",
            "The guideline names no pattern for it; look at it and decide.",
            "",
            "Either change the integration to a known pattern, or extend the catalog.",
        )
    return Rule(rule_id, rule_id, "?", Verdict(verdict), "", "", "", "")


def rule_for(rule_id: str, verdict: str) -> Rule:
    for rule in catalog():
        if rule.id == rule_id:
            return rule
    return _unknown_rule(rule_id, verdict)


def pattern_counts(q: Query) -> tuple[RuleCount, ...]:
    """Each rule of the catalog with how many edges keep or break it (rules seen, too)."""
    counts: dict[str, tuple[int, int, str]] = {}
    if _has_table(q, "edges"):
        for r in q(
            "SELECT rule_id, any_value(verdict) AS verdict, count(*) AS n, "
            "sum(span_count) AS spans FROM edges GROUP BY rule_id",
            None,
        ).to_pylist():
            counts[str(r["rule_id"])] = (int(r["n"]), int(r["spans"] or 0), str(r["verdict"]))
    rules = list(catalog())
    known = {rule.id for rule in rules}
    for rule_id, (_, _, verdict) in sorted(counts.items()):
        if rule_id not in known:
            rules.append(_unknown_rule(rule_id, verdict))
    return tuple(
        RuleCount(rule, counts.get(rule.id, (0, 0, ""))[0], counts.get(rule.id, (0, 0, ""))[1])
        for rule in rules
    )


def _span(row: dict[str, Any]) -> SpanRow:
    return SpanRow(
        trace_id=row["trace_id"],
        span_id=row["span_id"],
        parent_span_id=row["parent_span_id"],
        name=row["name"],
        kind=row["kind"],
        service_name=row["service_name"],
        start_time=row["start_time"],
        duration_ms=row["duration_ns"] / 1e6,
        status_code=row["status_code"],
        edge_id=row.get("edge_id"),
        verdict=None if row.get("verdict") is None else Verdict(row["verdict"]),
    )


_SPAN_COLUMNS = (
    "s.trace_id, s.span_id, s.parent_span_id, s.name, s.kind, s.service_name, s.start_time, "
    "s.duration_ns, s.status_code"
)


def edge_detail(q: Query, edge_id: str, limit: int = 50) -> EdgeDetail | None:
    rows = _rows(q(f"SELECT {_EDGE_COLUMNS} FROM edges WHERE edge_id = ?", [edge_id]))
    if not rows:
        return None
    edge = _edge(rows[0])
    spans = tuple(
        _span(r)
        for r in _rows(
            q(
                f"SELECT {_SPAN_COLUMNS}, l.edge_id, l.verdict FROM span_labels l "
                "JOIN spans s USING (trace_id, span_id) WHERE l.edge_id = ? "
                "ORDER BY s.start_time DESC, s.span_id LIMIT ?",
                [edge_id, limit],
            )
        )
    )
    return EdgeDetail(edge, rule_for(edge.rule_id, edge.verdict), spans)


def trace_view(q: Query, trace_id: str) -> TraceView:
    spans = tuple(
        _span(r)
        for r in _rows(
            q(
                f"SELECT {_SPAN_COLUMNS}, l.edge_id, l.verdict FROM spans s "
                "LEFT JOIN span_labels l USING (trace_id, span_id) WHERE s.trace_id = ? "
                "ORDER BY s.start_time, s.span_id",
                [trace_id],
            )
        )
    )
    # Listening edges join traces by what the event is, not by trace context: the same edge's
    # spans in other traces are the other side of the hop.
    hops = tuple(
        Hop(
            trace_id=r["trace_id"],
            span_id=r["span_id"],
            kind=r["kind"],
            service_name=r["service_name"],
            start_time=r["start_time"],
            edge_id=r["edge_id"],
        )
        for r in _rows(
            q(
                "SELECT s.trace_id, s.span_id, s.kind, s.service_name, s.start_time, l.edge_id "
                "FROM span_labels l JOIN edges e USING (edge_id) "
                "JOIN spans s ON s.trace_id = l.trace_id AND s.span_id = l.span_id "
                "WHERE e.direction = 'listen' AND l.trace_id <> ? AND l.edge_id IN "
                "(SELECT edge_id FROM span_labels WHERE trace_id = ?) "
                "ORDER BY s.start_time DESC, s.span_id LIMIT 20",
                [trace_id, trace_id],
            )
        )
    )
    return TraceView(trace_id, spans, hops)


def span_attributes(q: Query, trace_id: str, span_id: str) -> dict[str, Any]:
    """Every attribute of one span, and its resource, for the trace screen's side panel."""
    import json

    rows = q(
        "SELECT attributes, resource, status_message FROM spans "
        "WHERE trace_id = ? AND span_id = ? LIMIT 1",
        [trace_id, span_id],
    ).to_pylist()
    if not rows:
        return {}
    row = rows[0]
    out: dict[str, Any] = {}
    for key in ("attributes", "resource"):
        try:
            out[key] = json.loads(row[key]) if row[key] else {}
        except ValueError:
            out[key] = {"(raw)": row[key]}
    if row["status_message"]:
        out["status_message"] = row["status_message"]
    return out


def describe_error(exc: BaseException) -> tuple[str, str]:
    """(title, what to do) for a store problem, for the problem screen."""
    from seamscope.tracer.store import NotAStore, StoreMissing, StoreTooNew

    if isinstance(exc, StoreMissing):
        return (
            "No store here",
            "Run services under opentelemetry-instrument, or `seamscope collect`, or "
            "`seamscope ingest FILES`, then open it with `seamscope tui --db PATH`.",
        )
    if isinstance(exc, StoreLocked):
        return (
            "The store is locked",
            "Another process holds it read-write. If that is `seamscope collect`, it publishes "
            "an owner file and the TUI reads through it; otherwise stop that process or run "
            "`seamscope tui --collect` instead. Press r to retry.",
        )
    if isinstance(exc, StoreTooNew):
        return ("The store is from a newer seamscope", "Upgrade seamscope to read it.")
    if isinstance(exc, NotAStore):
        return ("Not a seamscope store", "Point --db at a store seamscope wrote.")
    if isinstance(exc, StoreError | SeamscopeError):
        return ("The store cannot be read", "Check the path and permissions, then press r.")
    return ("Something went wrong reading the store", "Press r to retry.")
