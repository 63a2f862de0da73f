"""The one read API of classification results: what the TUI's screens, the command line and the
demo show, as records (classifiers/results.py), from any reader.

Every function takes a query function (`seamscope.tracer.access.Query`: SQL and parameters in,
an Arrow table out), so it reads the same through a local connection, the owner's SQL endpoint
or this process's receiver.
"""

from __future__ import annotations

import heapq
import json
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from typing import Any, NamedTuple

import duckdb
import pyarrow as pa

from seamscope.classifiers.catalog import RULES, RULES_BY_ID, Rule, rule_for
from seamscope.classifiers.derive import private_host
from seamscope.classifiers.mechanisms import Side, sql_kinds
from seamscope.classifiers.results import (
    FINDINGS,
    NO_SYSTEM,
    Edge,
    Finding,
    LabelChange,
    Node,
    Verdict,
    columns,
    records,
    sql_list,
    verdict_rank_sql,
)
from seamscope.tracer.access import Query, SqlRejected

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
    changed_since: datetime | None = None  # only edges new or relabelled since then

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
        if self.changed_since is not None:
            parts.append(f"new or changed since {self.changed_since:%H:%M:%S}")
        return ", ".join(parts)

    def with_search(self, text: str) -> Filters:
        return replace(self, search=text)

    def where(self, now: datetime | None = None) -> tuple[str, list[Any]]:
        """A WHERE fragment over the edges table (alias-free) and its parameters."""
        clauses: list[str] = []
        params: list[Any] = []
        if self.system:
            clauses.append(f"({_in_system('from')} OR {_in_system('to')})")
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
        if self.changed_since is not None:
            clauses.append("edge_id IN (SELECT edge_id FROM label_changes WHERE changed_at >= ?)")
            params.append(self.changed_since)
        return (" AND ".join(clauses) or "TRUE"), params


UNPLACED = NO_SYSTEM
"""The system shown for components of no known system (no service.namespace, not in the
landscape file; their `system` is NULL): a group of their own, so that they can be browsed. No
system takes its name (results.NO_SYSTEM)."""


def _system_of(end: str) -> str:
    """The system of an edge's end (`from` or `to`) as the TUI shows it: UNPLACED for a
    component of no known system (a resource of no known owner and a vendor keep NULL)."""
    return (
        f"CASE WHEN {end}_system IS NULL AND starts_with({end}_node, 'component:') "
        f"THEN '{UNPLACED}' ELSE {end}_system END"
    )


def _in_system(end: str) -> str:
    """A condition that an edge's end (`from` or `to`) is in the system of the parameter."""
    return f"{_system_of(end)} = ?"


_UNOWNED = "node_type = 'resource' AND system IS NULL"
"""A node that is an AWS resource of no known owner: in no system (unowned_view)."""

_NODE_SYSTEM = (
    f"CASE WHEN system IS NULL AND node_type = 'component' THEN '{UNPLACED}' ELSE system END"
)
"""A node's system as the TUI shows it (UNPLACED for a component of no known system)."""


@dataclass(frozen=True, slots=True)
class Overview:
    """What the landscape screen shows."""

    status: str  # ok | empty | unclassified
    span_count: int
    systems: tuple[str, ...]
    components_per_system: dict[str, int]
    edges: tuple[Edge, ...]  # filtered, between systems (_SHOWN)
    now: datetime | None
    # Every edge the filters let through, of every level, by verdict: what the findings and
    # patterns screens count too.
    verdicts: dict[Verdict, int] = field(default_factory=dict)
    mark: ClassifierMark | None = None
    inferred: frozenset[str] = frozenset()  # nodes whose system, role, owner or vendor was
    # inferred rather than declared
    hosts: dict[str, str] = field(default_factory=dict)  # unknown_hosts()
    internal: tuple[RuleTally, ...] = ()  # edges inside each system, by rule
    # How many AWS resources no known system owns (unowned_view() shows them): in no system.
    unowned: int = 0
    # Each edge that appeared or changed rule since the time overview() was given, with its rule
    # before (None: it is new); {} when no time was given. `changes_since()` has the changes.
    changed: dict[str, str | None] = field(default_factory=dict)
    tables: frozenset[str] = frozenset()  # the classifier's tables the store had
    # What a later overview needs to read only the edges that changed since this one (`known`):
    # the classifier's edge revision the edges reflect (None: the store keeps none), the filters
    # they went through, the newest label change read; and how many edge rows this read fetched.
    revision: int | None = None
    filters: Filters | None = None
    since: datetime | None = None
    changes_seen: datetime | None = None
    edges_read: int = 0

    @property
    def edge_count(self) -> int:
        return sum(self.verdicts.values())


@dataclass(frozen=True, slots=True)
class RuleTally:
    """How many edges inside one system a rule labels."""

    system: str
    rule_id: str
    verdict: Verdict
    edges: int


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
    rule_id: str | None = None
    side: str | None = None  # of a listening edge: producer | consumer


@dataclass(frozen=True, slots=True)
class Latency:
    """Exact percentiles of one operation's spans on an edge (a listening edge's sends and its
    long-polling receives would make one meaningless figure together)."""

    operation: str
    spans: int
    p50_ms: float
    p95_ms: float
    max_ms: float


@dataclass(frozen=True, slots=True)
class EdgeDetail:
    edge: Edge
    rule: Rule
    spans: tuple[SpanRow, ...]
    latency: tuple[Latency, ...] = ()
    ends: tuple[Node | None, Node | None] = (None, None)  # from and to, when known
    history: tuple[LabelChange, ...] = ()  # its label changes, newest first


@dataclass(frozen=True, slots=True)
class Hop:
    """A span of the same listening edge in another trace: the other side of the event."""

    trace_id: str
    span_id: str
    kind: str
    service_name: str | None
    start_time: datetime
    edge_id: str
    side: str | None = None  # producer | consumer


@dataclass(frozen=True, slots=True)
class Pairing:
    """The sides a trace and the trace beside it (TraceView.other) take of the listening edges
    they share: `producer`, `consumer`, or `producer and consumer` for a trace on both."""

    mine: str
    theirs: str
    # No trace of the other side was found: the traces listed (TraceView.hops) and the one
    # beside are more of this trace's side. A table stream's consumer: the table writes no
    # span of its edge.
    same_side: bool


@dataclass(frozen=True, slots=True)
class TraceView:
    trace_id: str
    spans: tuple[SpanRow, ...]
    hops: tuple[Hop, ...]
    other: TraceView | None = None  # the trace of the first hop: the other side of the event
    pairing: Pairing | None = None  # with other: how the two pair up


@dataclass(frozen=True, slots=True)
class RuleCount:
    rule: Rule
    edges: int
    spans: int


# ---------------------------------------------------------------------------------------------
# Queries


def _rows(table: pa.Table) -> list[dict[str, Any]]:
    rows: list[dict[str, Any]] = table.to_pylist()
    return rows


def _has_table(q: Query, name: str) -> bool:
    table = q("SELECT count(*) AS n FROM information_schema.tables WHERE table_name = ?", [name])
    return bool(table.column(0)[0].as_py())


# classifier_labelled_spans as a store labelled before it existed has it (opened read-only, or
# through an owner of an older release): the same rows, at twice the cost.
_LABELLED_BY_IDS = (
    "(SELECT sp.*, l.edge_id, l.rule_id, l.verdict FROM span_labels l "
    "JOIN spans sp USING (trace_id, span_id))"
)


def _labelled(q: Query) -> str:
    """Every labelled span with all its columns and its label, as a relation for FROM."""
    if _has_table(q, "classifier_labelled_spans"):
        return "classifier_labelled_spans"
    return _LABELLED_BY_IDS


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
    catalog: str | None = None  # the rule catalog's version that labelled them
    landscape_path: str | None = None  # the landscape file they were made with ("" for none)


def classifier_mark(q: Query) -> ClassifierMark:
    """How far the classifier's tables reflect the store (a refresh may skip classifying)."""
    spans = _spans_watermark(q)
    if not _has_table(q, "classifier_state"):
        return ClassifierMark(spans)
    return _mark(
        spans,
        q(
            "SELECT key, value FROM classifier_state "
            "WHERE key IN ('watermark', 'landscape', 'version', 'catalog', 'landscape_path')",
            None,
        ).to_pylist(),
    )


def _mark(spans: int, rows: list[dict[str, Any]] | None) -> ClassifierMark:
    """The mark from the newest batch and classifier_state's rows (None: no such table)."""
    if rows is None:
        return ClassifierMark(spans)
    state = {str(r["key"]): str(r["value"]) for r in rows}
    try:
        classified = int(state["watermark"]) if "watermark" in state else None
    except ValueError:
        classified = None
    return ClassifierMark(
        spans,
        classified,
        state.get("landscape"),
        state.get("version"),
        state.get("catalog"),
        state.get("landscape_path"),
    )


_EDGE_STATS = (
    "count(*), sum(span_count), max(last_seen)::VARCHAR, bit_xor(hash(edge_id, rule_id, verdict)), "
    f"count(*) FILTER (WHERE verdict IN {sql_list(FINDINGS)})"
)
_FINDINGS = 4  # the findings' count in Watermark.classified
# The classifier's own state: it moves with every run that took new spans, and with a new
# landscape, catalog or version, so the classifier's tables cannot change while it stays.
_STATE_KEYS = "('watermark', 'landscape', 'version', 'catalog', 'landscape_path')"
_STATE_DIGEST = (
    f"(SELECT list(value ORDER BY key) FROM classifier_state WHERE key IN {_STATE_KEYS})::VARCHAR"
)


class Watermark(NamedTuple):
    """A token that changes when anything a screen shows may have changed."""

    batch: int  # the newest batch
    classified: tuple[Any, ...] | None  # the edges' figures and the classifier's state
    spans: int  # how many spans the store holds


def watermark(q: Query, edges: bool = False) -> Watermark:
    """The store's watermark (one statement). edges: the store had an edges table at the last
    call (one statement instead of two)."""
    if edges:
        try:
            row = q(
                f"SELECT (SELECT coalesce(max(batch_id), 0) FROM batches) AS _batch, "
                f"(SELECT count(*) FROM spans) AS _spans, {_EDGE_STATS}, {_STATE_DIGEST} "
                "FROM edges",
                None,
            ).to_pylist()[0]
            batch, spans = int(row.pop("_batch")), int(row.pop("_spans"))
            return Watermark(batch, tuple(row.values()), spans)
        except (SqlRejected, duckdb.Error):
            pass  # gone since (a new classifier version drops its tables)
    first = _together(
        q,
        {
            "batch": ("SELECT coalesce(max(batch_id), 0) FROM batches", None, []),
            "spans": ("SELECT count(*) FROM spans", None, []),
            "tables": (
                "SELECT count(*) FROM information_schema.tables "
                "WHERE table_name IN ('edges', 'classifier_state')",
                None,
                [],
            ),
        },
    )
    batch, spans = int(first["batch"]), int(first["spans"])
    if first["tables"] < 2:
        return Watermark(batch, None, spans)
    row = q(f"SELECT {_EDGE_STATS}, {_STATE_DIGEST} FROM edges", None).to_pylist()[0]
    return Watermark(batch, tuple(row.values()), spans)


def finding_count(token: object) -> int | None:
    """How many findings a watermark saw (None before the classifier ran)."""
    if isinstance(token, Watermark) and token.classified is not None:
        value = token.classified[_FINDINGS]
        return int(value) if value is not None else None
    return None


def only_spans_moved(before: object, after: object) -> bool:
    """Whether between two watermarks only spans came: the classifier's tables, and so
    everything read from them, are the same."""
    return (
        isinstance(before, Watermark)
        and isinstance(after, Watermark)
        and before.classified is not None
        and before.classified == after.classified
    )


_EDGE_COLUMNS = ", ".join(
    f"{_system_of(c.name.removesuffix('_system'))} AS {c.name}"
    if c.name in ("from_system", "to_system")
    else c.name
    for c in columns(Edge)
)

_VERDICT_ORDER = verdict_rank_sql()


def _now(q: Query) -> datetime | None:
    value = q("SELECT max(last_seen) FROM edges", None).column(0)[0].as_py()
    return value if isinstance(value, datetime) else None


def _together(q: Query, parts: dict[str, tuple[str, str | None, list[Any]]]) -> dict[str, Any]:
    """Several queries as one statement, so that they cost one round trip through an owner's SQL
    endpoint. Each part is (a query, the ORDER BY of its rows or "" for any order, its
    parameters) and comes back as its rows (a struct array: `records` makes records of them); or
    (a query of one value, None, its parameters) and comes back as that value."""
    selects: list[str] = []
    params: list[Any] = []
    for name, (sql, order, values) in parts.items():
        if order is not None:
            by = f" ORDER BY {order}" if order else ""
            selects.append(f"(SELECT list(_r{by}) FROM ({sql}) AS _r) AS {name}")
        else:
            selects.append(f"({sql}) AS {name}")
        params += values
    table = q("SELECT " + ", ".join(selects), params)
    got: dict[str, Any] = {}
    for name, (_, order, _) in parts.items():
        column = table.column(name).combine_chunks()
        got[name] = column.flatten() if order is not None else column[0].as_py()
    return got


_CLASSIFIER_TABLES = frozenset({"edges", "classifier_state", "label_changes"})
_REVISIONS = "classifier_edge_revisions"


def overview(
    q: Query,
    filters: Filters,
    since: datetime | None = None,
    tables: frozenset[str] | None = None,
    *,
    known: Overview | None = None,
) -> Overview:
    """The system landscape: systems and the edges between them (and to vendors); with
    since, also which edges appeared or changed rule since then (`Overview.changed`).

    Two statements in all (three with a time window), however many parts: through an owner busy
    receiving, every round trip waits its turn for the owner's interpreter. One, given the tables
    an earlier overview found (`Overview.tables`) when the classifier had made them all.

    Given the overview read before (known), only the edges the classifier changed since (its
    edge revisions) are read and merged into known's: a live landscape of thousands of edges
    reads tens of them a second. Everything is read again when that cannot be done (a time
    window, other filters, a store without revisions) or the merge does not add up."""
    if known is not None:
        tables = known.tables
    if tables is not None and _CLASSIFIER_TABLES <= tables:
        try:
            if known is not None and _can_merge(known, filters, since):
                merged = _overview(q, filters, since, tables, None, known)
                if merged is not None:
                    return merged
            view = _overview(q, filters, since, tables, None)
            assert view is not None
            return view
        except (SqlRejected, duckdb.Error):
            pass  # gone since (a new classifier version drops its tables): ask which there are
    first = _together(
        q,
        {
            "span_count": ("SELECT count(*) FROM spans", None, []),
            "batch": ("SELECT coalesce(max(batch_id), 0) FROM batches", None, []),
            "tables": (
                "SELECT table_name FROM information_schema.tables "
                f"WHERE table_name IN {sql_list(_CLASSIFIER_TABLES | {_REVISIONS, _HOSTS_TABLE})}",
                "table_name",
                [],
            ),
        },
    )
    found = frozenset(str(r["table_name"]) for r in first["tables"].to_pylist())
    if "edges" not in found:
        span_count = int(first["span_count"])
        status = "empty" if span_count == 0 else "unclassified"
        return Overview(status, span_count, (), {}, (), None, tables=found)
    found_view = _overview(q, filters, since, found, first)
    assert found_view is not None
    return found_view


def _can_merge(known: Overview, filters: Filters, since: datetime | None) -> bool:
    """Whether an overview can be had by merging the changed edges into known's."""
    return (
        known.status == "ok"
        and known.revision is not None
        and known.filters == filters
        and known.since == since
        and not filters.window_minutes  # edges leave the window without changing
    )


_HOME = f"coalesce({_system_of('from')}, {_system_of('to')})"
"""The system an edge that is not between systems (not _SHOWN) is counted inside: the system of
its `from` end, else of its `to` end (a stream of a table of no known owner, read by a
component: inside the reader's system)."""
_SHOWN = (
    "(level IN ('system', 'external') OR (level = 'unknown' AND "
    f"coalesce({_system_of('from')} <> {_system_of('to')}, false)))"
)
"""Edges between systems as the TUI shows them: between two systems, to or from a vendor, and
between the group of components of no known system (UNPLACED) and a system (level `unknown`).
The others are inside a system (or the group), those of a resource of no known owner inside
the system of their component."""
_EDGE_ORDER = f"{_VERDICT_ORDER}, from_system, to_system, mechanism, from_node, to_node"


def edge_order(e: Edge) -> tuple[Any, ...]:
    """The overview's order of its edges (_EDGE_ORDER), in Python: worst verdict first, then
    the ends and the mechanism (NULLs last, as DuckDB sorts them)."""
    return (
        e.verdict.rank,
        e.from_system is None,
        e.from_system or "",
        e.to_system is None,
        e.to_system or "",
        e.mechanism,
        e.from_node,
        e.to_node,
    )


def merge_edges(
    shown: tuple[Edge, ...], changed: list[Edge], dropped: Iterable[str]
) -> tuple[Edge, ...]:
    """The edges shown, with the changed ones in their place (new ones added) and the dropped
    ones (gone, or no longer let through by the filters) taken out; unchanged edges are the same
    records, in the overview's order.

    Most changes of a live landscape are new figures on edges already shown, whose place in
    the order stays: those replace their old records where they are, and only the others
    (new, moved, dropped) are merged in order."""
    gone = set(dropped)
    if not changed and not gone:
        return shown
    place = {e.edge_id: i for i, e in enumerate(shown)}
    edges = list(shown)
    moved: list[Edge] = []
    for e in changed:
        i = place.get(e.edge_id)
        if i is not None and edge_order(edges[i]) == edge_order(e):
            edges[i] = e
        else:
            moved.append(e)
            gone.add(e.edge_id)
    if not gone:
        return tuple(edges)
    kept = [e for e in edges if e.edge_id not in gone]
    if not moved:
        return tuple(kept)
    return tuple(heapq.merge(kept, sorted(moved, key=edge_order), key=edge_order))


def _overview(
    q: Query,
    filters: Filters,
    since: datetime | None,
    tables: frozenset[str],
    first: dict[str, Any] | None,
    known: Overview | None = None,
) -> Overview | None:
    """The overview's second statement; first: the span count and newest batch when the first
    statement read them, else they come with this one. known: read only the edges changed since
    it and merge them in; None when that does not add up (the caller reads everything)."""
    # The store's own newest edge is "now" for the time window: a store read later, or a
    # fixed sample, still shows its last minutes.
    now = _now(q) if filters.window_minutes else None
    where, params = filters.where(now)
    revisions = _REVISIONS in tables
    parts: dict[str, tuple[str, str | None, list[Any]]] = {
        "span_count": ("SELECT count(*) FROM spans", None, []),
        "batch": ("SELECT coalesce(max(batch_id), 0) FROM batches", None, []),
        "now": ("SELECT max(last_seen) FROM edges", None, []),
        "edges": (
            f"SELECT {_EDGE_COLUMNS} FROM edges WHERE {_SHOWN} AND {where}",
            _EDGE_ORDER,
            params,
        ),
        "systems": (
            f"SELECT {_NODE_SYSTEM} AS system, "
            "count(*) FILTER (WHERE node_type = 'component') AS components FROM nodes "
            "WHERE node_type <> 'external' AND (system IS NOT NULL OR node_type = 'component') "
            "GROUP BY ALL",
            "system",
            [],
        ),
        "verdicts": (
            f"SELECT verdict, count(*) AS n FROM edges WHERE {where} GROUP BY ALL",
            "verdict",
            params,
        ),
        "inferred": ("SELECT node_id FROM nodes WHERE inferred", "node_id", []),
        "hosts": (_hosts_sql(tables), "", []),
        "unowned": (f"SELECT count(*) FROM nodes WHERE {_UNOWNED}", None, []),
        "internal": (
            f"SELECT {_HOME} AS from_system, rule_id, verdict, count(*) AS n "
            f"FROM edges WHERE NOT {_SHOWN} AND {_HOME} IS NOT NULL "
            f"AND {where} GROUP BY ALL",
            "from_system, rule_id, verdict, n",
            params,
        ),
    }
    if "classifier_state" in tables:
        parts["state"] = (
            "SELECT key, value FROM classifier_state "
            "WHERE key IN ('watermark', 'landscape', 'version', 'catalog', 'landscape_path')",
            "key",
            [],
        )
    if revisions:
        parts["revision"] = (f"SELECT coalesce(max(revision), 0) FROM {_REVISIONS}", None, [])
    if known is not None:
        # Only the edges stamped since known's revision: those shown now, and the ids of the
        # others (gone, or no longer let through); and how many are shown, to check the merge.
        assert known.revision is not None
        changed_ids = f"SELECT edge_id FROM {_REVISIONS} WHERE revision > ?"
        parts["edges"] = (
            f"SELECT {_EDGE_COLUMNS} FROM edges WHERE edge_id IN ({changed_ids}) "
            f"AND {_SHOWN} AND {where}",
            "",
            [known.revision, *params],
        )
        parts["dropped"] = (
            f"SELECT edge_id FROM ({changed_ids}) AS c WHERE edge_id NOT IN "
            f"(SELECT edge_id FROM edges WHERE {_SHOWN} AND {where})",
            "",
            [known.revision, *params],
        )
        parts["shown"] = (f"SELECT count(*) FROM edges WHERE {_SHOWN} AND {where}", None, params)
    if since is not None and "label_changes" in tables:
        # Merging: the changes from the newest one read before on (its transaction's again).
        seen = known.changes_seen if known is not None else None
        parts["changed"] = (
            "SELECT edge_id, old_rule_id FROM label_changes WHERE changed_at >= ? "
            + ("AND changed_at >= ? " if seen is not None else "")
            + "QUALIFY row_number() OVER (PARTITION BY edge_id ORDER BY changed_at DESC) = 1",
            "",  # any order: a dict
            [since] if seen is None else [since, seen],
        )
        parts["changes_seen"] = ("SELECT max(changed_at) FROM label_changes", None, [])
    if first is not None:
        del parts["span_count"], parts["batch"]
    got = _together(q, parts) | (first or {})
    span_count = int(got["span_count"])
    systems = got["systems"].to_pylist()
    verdicts = {Verdict(r["verdict"]): int(r["n"]) for r in got["verdicts"].to_pylist()}
    read_edges = records(Edge, got["edges"])
    changed: dict[str, str | None] = (
        dict(zip(*(c.to_pylist() for c in got["changed"].flatten()), strict=True))
        if "changed" in got
        else {}
    )
    revision = int(got["revision"]) if "revision" in got else None
    if known is None:
        edges = tuple(read_edges)
    else:
        if revision is None or known.revision is None or revision < known.revision:
            return None  # the revisions started again: nothing to merge into
        dropped = [str(r["edge_id"]) for r in got["dropped"].to_pylist()]
        edges = merge_edges(known.edges, read_edges, dropped)
        if len(edges) != int(got["shown"]):
            return None  # an edge went without a trace (a rebuild): read everything
        changed = known.changed | changed if changed else known.changed
    status = "ok" if systems or edges else ("empty" if span_count == 0 else "ok")
    value = got["now"]
    newest = got.get("changes_seen")
    return Overview(
        status=status,
        span_count=span_count,
        systems=tuple(str(r["system"]) for r in systems),
        components_per_system={str(r["system"]): int(r["components"]) for r in systems},
        edges=edges,
        now=now if now is not None else value if isinstance(value, datetime) else None,
        verdicts={v: verdicts.get(v, 0) for v in Verdict.worst_first()},
        mark=_mark(int(got["batch"]), got["state"].to_pylist() if "state" in got else None),
        inferred=frozenset(str(r["node_id"]) for r in got["inferred"].to_pylist()),
        hosts=_hosts(got["hosts"].to_pylist()),
        internal=tuple(
            RuleTally(str(r["from_system"]), str(r["rule_id"]), Verdict(r["verdict"]), int(r["n"]))
            for r in got["internal"].to_pylist()
        ),
        changed=changed,
        unowned=int(got["unowned"]),
        tables=tables,
        revision=revision,
        filters=filters,
        since=since,
        changes_seen=newest if isinstance(newest, datetime) else None,
        edges_read=len(read_edges),
    )


UNKNOWN_HOST = "unknown host"
"""What an external node is that the classifier took for no vendor: a host of a private network
(derive.private_host) that no traced server answered, a service of ours as likely as a vendor."""
SHARED_HOST = "shared host"
"""What an external node is that stands for a host several traced components serve
(derive's shared_host): which of them a call reached is not known."""

_HOSTS = (
    "SELECT node_id, name, EXISTS (SELECT 1 FROM edges e WHERE e.to_node = n.node_id "
    "AND e.mechanism <> 'http-external') AS served, "
    "EXISTS (SELECT 1 FROM edges e WHERE e.to_node = n.node_id "
    f"AND e.verdict <> '{Verdict.UNRESOLVED.value}') AS labelled, "
    "{named} AS named FROM nodes n WHERE node_type = 'external' AND inferred"
)
"""The external nodes the classifier inferred (a declared vendor is not), whether a call to one
has its own mechanism (only a shared host's have: derive.call_target; a vendor's and a private
host's are `http-external`) and whether one is labelled (a call to a vendor has a rule; one to
a host taken for no vendor is unresolved, saying why), and whether a traced server names its
host (at another port than the one called: derive's other_port; a server's own host is its
component, no external node)."""


_HOSTS_TABLE = "classifier_hosts"
_NAMED = f"EXISTS (SELECT 1 FROM {_HOSTS_TABLE} h WHERE h.hkind <> 'aws' AND h.host = n.name)"


def _hosts_sql(tables: Iterable[str]) -> str:
    """_HOSTS for a store with these tables (one classified before the classifier kept its
    hosts has no server's host to name)."""
    return _HOSTS.format(named=_NAMED if _HOSTS_TABLE in tables else "false")


def _host(name: str) -> str:
    """The host of an external node's name: derive names a loopback host with its port, an
    IPv6 address in brackets (`[::1]:8080`)."""
    head, _, port = name.rpartition(":")
    if head and port.isdigit() and (":" not in head or head.startswith("[") or head == "::1"):
        return head.strip("[]")
    return name


def _hosts(rows: Iterable[dict[str, Any]]) -> dict[str, str]:
    out: dict[str, str] = {}
    for r in rows:
        if r["labelled"]:
            continue
        if r["served"]:
            out[str(r["node_id"])] = SHARED_HOST
        elif r["named"] or private_host(_host(str(r["name"]))) is not None:
            out[str(r["node_id"])] = UNKNOWN_HOST
    return out


def unknown_hosts(q: Query) -> dict[str, str]:
    """The external nodes that are no vendor, by node id: UNKNOWN_HOST or SHARED_HOST. Every
    other external node is a vendor, declared or inferred from a public host."""
    found = q(
        "SELECT table_name FROM information_schema.tables "
        f"WHERE table_name IN ('nodes', 'edges', '{_HOSTS_TABLE}')",
        None,
    ).column(0)
    tables = {str(name) for name in found.to_pylist()}
    if not {"nodes", "edges"} <= tables:
        return {}
    return _hosts(_rows(q(_hosts_sql(tables), None)))


def system_view(q: Query, system: str, filters: Filters) -> SystemView:
    """Level 2: a system's components, resources and vendors, and every edge touching them."""
    where, params = replace(filters, system="").where(_now(q))
    edges = tuple(
        Edge.from_row(r)
        for r in _rows(
            q(
                f"SELECT {_EDGE_COLUMNS} FROM edges "
                f"WHERE ({_in_system('from')} OR {_in_system('to')}) "
                f"AND {where} ORDER BY {_VERDICT_ORDER}, from_node, to_node, mechanism",
                [system, system, *params],
            )
        )
    )
    node_ids = sorted({e.from_node for e in edges} | {e.to_node for e in edges})
    nodes = tuple(
        Node.from_row(r)
        for r in _rows(
            q(
                f"SELECT * REPLACE ({_NODE_SYSTEM} AS system) FROM nodes "
                f"WHERE {_NODE_SYSTEM} = ? OR list_contains(?, node_id) "
                "ORDER BY node_type, name",
                [system, node_ids],
            )
        )
    )
    return SystemView(system, nodes, edges)


def unowned_view(q: Query, filters: Filters) -> SystemView:
    """The AWS resources no known system owns (their `system` is NULL; each node's inference
    says why and what to declare), with every edge to, from or through them and the nodes at
    their other ends: a group of their own, as system_view() shows a system. Its `system` is
    "", which no system is named (the landscape file refuses it; an empty namespace is none)."""
    where, params = replace(filters, system="").where(_now(q))
    ids = f"SELECT node_id FROM nodes WHERE {_UNOWNED}"
    edges = tuple(
        Edge.from_row(r)
        for r in _rows(
            q(
                f"SELECT {_EDGE_COLUMNS} FROM edges "
                f"WHERE (from_node IN ({ids}) OR to_node IN ({ids}) OR via IN ({ids})) "
                f"AND {where} ORDER BY {_VERDICT_ORDER}, from_node, to_node, mechanism",
                params,
            )
        )
    )
    node_ids = sorted({e.from_node for e in edges} | {e.to_node for e in edges})
    nodes = tuple(
        Node.from_row(r)
        for r in _rows(
            q(
                f"SELECT * REPLACE ({_NODE_SYSTEM} AS system) FROM nodes "
                f"WHERE ({_UNOWNED}) OR list_contains(?, node_id) ORDER BY node_type, name",
                [node_ids],
            )
        )
    )
    return SystemView("", nodes, edges)


def findings(q: Query, filters: Filters) -> tuple[Edge, ...]:
    """Anti-patterns and smells, worst first (verdict, then errors, then traffic)."""
    if not _has_table(q, "edges"):
        return ()
    where, params = filters.where(_now(q))
    return tuple(
        Edge.from_row(r)
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
        Edge.from_row(r)
        for r in _rows(
            q(
                f"SELECT {_EDGE_COLUMNS} FROM edges WHERE {where} "
                f"ORDER BY {_VERDICT_ORDER}, from_node, to_node, mechanism",
                params,
            )
        )
    )


def pair_edges(q: Query, source: str, target: str, filters: Filters) -> tuple[Edge, ...]:
    """The edges from one map node to another: "system:<name>" stands for every node of the
    system (a system and itself: the edges inside it, those `Overview.internal` counts, an
    unresolved callee's too), anything else for that node."""
    clauses: list[str] = []
    params: list[Any] = []
    ends = (("from", source),) if source == target else (("from", source), ("to", target))
    for end, node in ends:
        kind, _, name = node.partition(":")
        if kind == "system" and source == target:
            clauses.append(f"{_HOME} = ?")  # inside it, as Overview.internal counts them
        elif kind == "system":
            clauses.append(_in_system(end))
        else:
            clauses.append(f"{end}_node = ?")
            name = node
        params.append(name)
    if source == target:
        clauses.append(f"NOT {_SHOWN}")
    elif source.startswith("system:") and target.startswith("system:"):
        clauses.append(_SHOWN)
    where, more = filters.where(_now(q))
    return tuple(
        Edge.from_row(r)
        for r in _rows(
            q(
                f"SELECT {_EDGE_COLUMNS} FROM edges WHERE {' AND '.join(clauses)} AND {where} "
                f"ORDER BY {_VERDICT_ORDER}, from_node, to_node, mechanism",
                [*params, *more],
            )
        )
    )


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
    rules = list(RULES)
    for rule_id, (_, _, verdict) in sorted(counts.items()):
        if rule_id not in RULES_BY_ID:
            rules.append(rule_for(rule_id, verdict))
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
        rule_id=row.get("rule_id"),
        side=row.get("side"),
    )


_SPAN_COLUMNS = (
    "s.trace_id, s.span_id, s.parent_span_id, s.name, s.kind, s.service_name, s.start_time, "
    "s.duration_ns, s.status_code"
)


def edge_detail(q: Query, edge_id: str, limit: int = 50) -> EdgeDetail | None:
    rows = _rows(q(f"SELECT {_EDGE_COLUMNS} FROM edges WHERE edge_id = ?", [edge_id]))
    if not rows:
        return None
    edge = Edge.from_row(rows[0])
    labelled = _labelled(q)
    spans = tuple(
        _span(r)
        for r in _rows(
            q(
                f"SELECT {_SPAN_COLUMNS}, s.edge_id, s.verdict, s.rule_id FROM {labelled} s "
                "WHERE s.edge_id = ? ORDER BY s.start_time DESC, s.span_id LIMIT ?",
                [edge_id, limit],
            )
        )
    )
    latency = tuple(
        Latency(
            str(r["name"]),
            int(r["n"]),
            float(r["q"][0]),
            float(r["q"][1]),
            float(r["mx"]),
        )
        for r in _rows(
            q(
                "SELECT s.name, count(*) AS n, "
                "quantile_cont(s.duration_ns / 1e6, [0.5, 0.95]) AS q, "
                f"max(s.duration_ns) / 1e6 AS mx FROM {labelled} s WHERE s.edge_id = ? "
                "GROUP BY s.name ORDER BY n DESC, s.name LIMIT 8",
                [edge_id],
            )
        )
    )
    nodes = {
        str(r["node_id"]): Node.from_row(r)
        for r in _rows(
            q("SELECT * FROM nodes WHERE node_id IN (?, ?)", [edge.from_node, edge.to_node])
        )
    }
    return EdgeDetail(
        edge,
        rule_for(edge.rule_id, edge.verdict),
        spans,
        latency,
        (nodes.get(edge.from_node), nodes.get(edge.to_node)),
        label_history(q, edge_id, limit=20),
    )


class _Sided(NamedTuple):
    """The labelled spans (as _labelled) with what tells a span's side of a listening edge:
    `group`, a join of the labelled relation `{l}` to the span's fact's group `g`, and `side`,
    the expression over them (edge `e`, span `s`)."""

    labelled: str
    columns: str  # of the labelled relation, beyond the label, that `side` reads
    group: str
    side: str


# A span's side of a listening edge is its fact's: a send is the producer's, a receive the
# consumer's, as they joined the edge. Not its service's node, which both ends can be (a worker
# reading its own queue) and which the landscape file can place (a component of no
# service.namespace that the file puts in a system: its node is not 'component:?/<name>').
_SIDED = _Sided(
    "classifier_labelled_spans",
    ", gkey",
    "LEFT JOIN classifier_groups g ON g.gkey = {l}.gkey",
    "CASE WHEN e.direction = 'listen' THEN CASE WHEN g.fkind IN "
    f"{sql_kinds(Side.PRODUCE)} THEN 'producer' ELSE 'consumer' END END AS side",
)
# A store labelled before the labelled spans named their group (opened read-only, or through
# an owner of an older release): its service is the edge's producer, or its consumer.
_SIDE_BY_SERVICE = (
    "CASE WHEN e.direction = 'listen' THEN CASE WHEN e.from_node = 'component:' || "
    f"coalesce(s.service_namespace, '{NO_SYSTEM}') || '/' || s.service_name "
    "THEN 'producer' ELSE 'consumer' END END AS side"
)


def _sided(q: Query) -> _Sided:
    named = q(
        "SELECT count(*) AS n FROM information_schema.columns "
        "WHERE table_name = 'classifier_labelled_spans' AND column_name = 'gkey'",
        None,
    ).column(0)[0]
    return _SIDED if named.as_py() else _Sided(_labelled(q), "", "", _SIDE_BY_SERVICE)


def trace_view(q: Query, trace_id: str) -> TraceView:
    sided = _sided(q)
    spans = tuple(
        _span(r)
        for r in _rows(
            q(
                f"SELECT {_SPAN_COLUMNS}, l.edge_id, l.verdict, l.rule_id, "
                f"{sided.side} FROM spans s "
                f"LEFT JOIN (SELECT trace_id, span_id, edge_id, verdict, rule_id{sided.columns} "
                f"FROM {sided.labelled} WHERE trace_id = ?) l USING (trace_id, span_id) "
                f"LEFT JOIN edges e ON e.edge_id = l.edge_id {sided.group.format(l='l')} "
                "WHERE s.trace_id = ? ORDER BY s.start_time, s.span_id",
                [trace_id, trace_id],
            )
        )
    )
    return TraceView(trace_id, spans, _hops(q, sided, trace_id, spans))


HOPS = 20
"""Spans of the other side listed, at most."""
HOP_WINDOW = timedelta(hours=1)
"""Where the other side is looked for first: a message's producer and its consumers are
seconds apart, and the store's time order lets DuckDB skip what lies outside."""


def _hops(q: Query, sided: _Sided, trace_id: str, spans: tuple[SpanRow, ...]) -> tuple[Hop, ...]:
    """Listening edges join traces by what the event is, not by trace context: the same edge's
    spans in other traces are the other side of the hop. The opposite side first, then those
    nearest in time to this trace (the likeliest partners of its messages)."""
    edges = sorted({sp.edge_id for sp in spans if sp.side and sp.edge_id})
    if not edges:
        return ()
    # This trace's side of each edge: a worker's poll that receives on one edge and sends on
    # another is both, each of one edge (its other sides were sorted as its own: the providers'
    # traces, the other side of what it receives, after more consumers of what it sends).
    mine = sorted({f"{sp.edge_id}:{sp.side}" for sp in spans if sp.side and sp.edge_id})
    start = min(sp.start_time for sp in spans)
    sql = (
        "SELECT s.trace_id, s.span_id, s.kind, s.service_name, s.start_time, s.edge_id, "
        f"{sided.side} FROM {sided.labelled} s JOIN edges e USING (edge_id) "
        f"{sided.group.format(l='s')} "
        "WHERE s.trace_id <> ? AND list_contains(?, s.edge_id){window} "
        "ORDER BY list_contains(?, s.edge_id || ':' || side), "
        "abs(epoch_us(s.start_time) - epoch_us(?::TIMESTAMPTZ)), "
        f"s.start_time, s.trace_id, s.span_id LIMIT {HOPS}"
    )
    near = " AND s.start_time BETWEEN ?::TIMESTAMPTZ AND ?::TIMESTAMPTZ"
    rows = _rows(
        q(
            sql.format(window=near),
            [trace_id, edges, start - HOP_WINDOW, start + HOP_WINDOW, mine, start],
        )
    )
    if len(rows) < HOPS or any(f"{r['edge_id']}:{r['side']}" in mine for r in rows):
        # Fewer than wanted near, or some of this trace's own side among them: what lies
        # outside the window may come before them.
        rows = _rows(q(sql.format(window=""), [trace_id, edges, mine, start]))
    return tuple(
        Hop(
            trace_id=r["trace_id"],
            span_id=r["span_id"],
            kind=r["kind"],
            service_name=r["service_name"],
            start_time=r["start_time"],
            edge_id=r["edge_id"],
            side=r["side"],
        )
        for r in rows
    )


def trace_with_other_side(q: Query, trace_id: str, other: str | None = None) -> TraceView:
    """A trace and, for an event that crossed traces, the trace on the other side (the given
    one, else the newest of the opposite side), so that a message's producer and consumer can
    be shown together."""
    view = trace_view(q, trace_id)
    hop = other or (view.hops[0].trace_id if view.hops else None)
    if hop is None:
        return view
    beside = trace_view(q, hop)
    return replace(view, other=beside, pairing=pairing(view, beside))


def _side(spans: Iterable[SpanRow], edges: set[str]) -> str:
    """producer or consumer: the side these spans take of the listening edges given."""
    sides = {s.side for s in spans if s.side and s.edge_id in edges}
    return sides.pop() if len(sides) == 1 else "producer and consumer"


def pairing(view: TraceView, other: TraceView) -> Pairing:
    """The sides view (a trace with its hops) and other (a trace of one of them) take of the
    listening edges of those hops, and whether each hop is of view's own side of its edge."""
    shared = {h.edge_id for h in view.hops}
    own = {(s.edge_id, s.side) for s in view.spans if s.side and s.edge_id in shared}
    return Pairing(
        mine=_side(view.spans, shared),
        theirs=_side(other.spans, shared),
        same_side=all((h.edge_id, h.side) in own for h in view.hops),
    )


def span_attributes(q: Query, trace_id: str, span_id: str) -> dict[str, Any]:
    """Every attribute of one span, and its resource, for the trace screen's side panel."""
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


# ---------------------------------------------------------------------------------------------
# Every node and edge, for the reports


@dataclass(frozen=True, slots=True)
class Snapshot:
    """Every node and edge of a store (worst edges first): what `seamscope edges`, `check`,
    `export` and `drift` report on."""

    nodes: dict[str, Node]
    edges: tuple[Edge, ...]

    def name(self, node_id: str) -> str:
        node = self.nodes.get(node_id)
        return node_id if node is None else node.label

    def edge_json(self, edge: Edge) -> dict[str, Any]:
        return edge.as_json(self.name(edge.from_node), self.name(edge.to_node))

    def finding(self, edge: Edge, name: Callable[[str], str] | None = None) -> Finding:
        """The edge as reports name it: its ends by name (self.name unless given), its rule."""
        name = name or self.name
        rule = RULES_BY_ID.get(edge.rule_id)
        return Finding(
            edge,
            name(edge.from_node),
            name(edge.to_node),
            rule.name if rule else edge.rule_id,
            rule.fix if rule else None,
        )

    def unresolved(self) -> list[Finding]:
        """Edges a missing fact left unresolved: no finding, but worth listing (what to supply)."""
        found = [self.finding(e) for e in self.edges if e.verdict is Verdict.UNRESOLVED]
        return sorted(found, key=lambda f: (f.source, f.target, f.edge.mechanism))

    def findings(self, *, strict: bool = True) -> list[Finding]:
        """Anti-patterns (and with strict, smells), worst first, then by rule and ends."""
        verdicts = FINDINGS if strict else (Verdict.ANTI_PATTERN,)
        found = [self.finding(e) for e in self.edges if e.verdict in verdicts]
        return sorted(
            found, key=lambda f: (f.edge.verdict.rank, f.edge.rule_id, f.source, f.target)
        )


def snapshot(q: Query) -> Snapshot:
    nodes = (Node.from_row(r) for r in _rows(q("SELECT * FROM nodes", None)))
    edges = _rows(
        q(
            f"SELECT {_EDGE_COLUMNS} FROM edges "
            f"ORDER BY {_VERDICT_ORDER}, level, from_node, to_node, mechanism",
            None,
        )
    )
    return Snapshot({n.node_id: n for n in nodes}, tuple(Edge.from_row(r) for r in edges))


# ---------------------------------------------------------------------------------------------
# Go to anything


@dataclass(frozen=True, slots=True)
class Target:
    """Something the user can go to by name: a system, component, resource, vendor, edge or
    rule. key is what opens it (a system name, a node id, an edge id or a rule id)."""

    kind: str  # system | component | resource | vendor | edge | rule
    name: str
    key: str
    detail: str = ""
    system: str | None = None


def goto_targets(q: Query) -> tuple[Target, ...]:
    """Every system, node, edge and rule by name (nodes and edges are hundreds to thousands)."""
    found: list[Target] = []
    systems: set[str] = set()
    if _has_table(q, "nodes"):
        for r in _rows(q("SELECT * FROM nodes ORDER BY node_type, name", None)):
            node = Node.from_row(r)
            if node.node_type == "component":
                systems.add(node.system or UNPLACED)
            kind = {"component": "component", "external": "vendor"}.get(node.node_type, "resource")
            detail = node.role or node.resource_kind or ""
            if node.system and node.node_type != "external":
                detail = f"{detail} of {node.system}" if detail else f"of {node.system}"
            if node.inferred:
                detail += " ~ inferred"
            name = node.label if node.node_type == "component" else short_id(node.node_id)
            found.append(Target(kind, name, node.node_id, detail, node.system))
    found[:0] = [Target("system", s, s) for s in sorted(systems)]
    if _has_table(q, "edges"):
        for r in _rows(
            q(
                "SELECT edge_id, from_node, to_node, mechanism, direction, rule_id, verdict "
                f"FROM edges ORDER BY {_VERDICT_ORDER}, from_node, to_node",
                None,
            )
        ):
            arrow = "⇢" if r["direction"] == "listen" else "→"
            name = f"{short_id(r['from_node'])} {arrow} {short_id(r['to_node'])}"
            detail = f"{r['mechanism']} {r['rule_id']} {r['verdict']}"
            found.append(Target("edge", name, str(r["edge_id"]), detail))
    for rule in RULES:
        found.append(Target("rule", f"{rule.id} {rule.name}", rule.id, str(rule.verdict)))
    return tuple(found)


def short_id(node_id: str) -> str:
    """component:orders/api -> orders/api; external:auth0 -> auth0; resources as they are."""
    kind, _, rest = node_id.partition(":")
    return rest if kind in ("component", "external") else node_id


# ---------------------------------------------------------------------------------------------
# Changes of labels


_CHANGE_COLUMNS = ", ".join(c.name for c in columns(LabelChange))


_CHANGES_SQL = (
    f"SELECT {_CHANGE_COLUMNS} FROM label_changes WHERE changed_at >= ? "
    "QUALIFY row_number() OVER (PARTITION BY edge_id ORDER BY changed_at DESC) = 1"
)


def changes_since(q: Query, since: datetime) -> dict[str, LabelChange]:
    """The latest change of each edge that appeared or changed rule since `since`."""
    if not _has_table(q, "label_changes"):
        return {}
    rows = _rows(q(_CHANGES_SQL, [since]))
    return {str(r["edge_id"]): LabelChange.from_row(r) for r in rows}


def label_history(
    q: Query, edge_id: str | None = None, limit: int = 500
) -> tuple[LabelChange, ...]:
    """Label changes, newest first: every edge's, or one edge's."""
    if not _has_table(q, "label_changes"):
        return ()
    where, params = ("edge_id = ?", [edge_id]) if edge_id else ("TRUE", [])
    return tuple(
        LabelChange.from_row(r)
        for r in _rows(
            q(
                f"SELECT {_CHANGE_COLUMNS} FROM label_changes WHERE {where} "
                "ORDER BY changed_at DESC, edge_id LIMIT ?",
                [*params, limit],
            )
        )
    )


# ---------------------------------------------------------------------------------------------
# The store's schema, for a SQL console


PUBLIC_TABLES = (
    "spans",
    "edges",
    "nodes",
    "span_labels",
    "findings",
    "label_changes",
    "batches",
    "classifier_state",
)


def schema_columns(q: Query) -> tuple[tuple[str, tuple[tuple[str, str], ...]], ...]:
    """Each table and view with its (column, type) pairs: the documented ones first, then the
    rest (the classifier's own bookkeeping) by name."""
    by_table: dict[str, list[tuple[str, str]]] = {}
    for r in q(
        "SELECT table_name, column_name, data_type FROM information_schema.columns "
        "WHERE table_schema = current_schema() ORDER BY table_name, ordinal_position",
        None,
    ).to_pylist():
        by_table.setdefault(str(r["table_name"]), []).append(
            (str(r["column_name"]), str(r["data_type"]))
        )
    order = {name: i for i, name in enumerate(PUBLIC_TABLES)}
    names = sorted(by_table, key=lambda t: (order.get(t, len(order)), t))
    return tuple((name, tuple(by_table[name])) for name in names)
