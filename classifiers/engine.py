"""Classification: spans -> integration facts -> aggregates -> nodes, edges and labels.

Two layers. The lower one is incremental: only spans of batches past the watermark
(``classifier_state.watermark``) are read, together with the spans already stored for the
traces they touch (so a server span arriving after its client re-resolves that client), and
their facts are merged into per-group aggregates: counts, errors, first/last seen, a sample
trace and a log-bucketed latency histogram (mergeable, so p50/p95 never need a rescan; they are
read from the histogram with at most ~5% relative error). The upper layer (nodes, edges, rules)
is rebuilt from those small aggregates on every call, so a landscape change costs milliseconds.
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, fields
from pathlib import Path

import duckdb

from seamscope.classifiers.catalog import CATALOG_VERSION
from seamscope.classifiers.derive import derive, polling_edges, refresh_polling, refresh_stats
from seamscope.classifiers.facts import (
    AWS_FACTS,
    BY_KEYS,
    GENERAL_AWS_FACTS,
    GRAPHQL_CANDIDATE,
    GRAPHQL_SERVER_SPAN,
    INVOCATION_CANDIDATE,
    LONE_CANDIDATE,
    MISSING_KEYS,
    SPAN_COLUMNS,
    STORED_KEYS,
    URL_SERVER,
    JoinKeys,
    classified,
    classified_sql,
    counted_sql,
    facts_sql,
    graphql_sql,
    hosts_sql,
    invocations_sql,
    roots_of_sql,
    roots_sql,
)
from seamscope.classifiers.landscape import Landscape, load_landscape
from seamscope.classifiers.mechanisms import HANDLED_KINDS, Side, sql_kinds
from seamscope.classifiers.results import FINDINGS, sql_list
from seamscope.classifiers.revisions import stamp_revisions
from seamscope.classifiers.schema import CLASSIFIER_DDL, INTERNAL_DDL, span_labels_views
from seamscope.tracer.access import open_reader
from seamscope.tracer.discover import Route
from seamscope.tracer.keys import keys_sql
from seamscope.tracer.store import short_lock

# Bump when facts or aggregates change meaning: stored aggregates are then rebuilt.
CLASSIFIER_VERSION = "16"
# Spans of a touched trace that started this long before the earliest new span are not re-read.
# Related spans (client and server, AWS call and transport, receive and handling, a job's root
# and its calls) overlap or follow closely in time, and a long parent arrives last, bringing its
# own early start with it; the window bounds the scan of a large store.
TRACE_WINDOW = "30 seconds"
# A consumer's span link joins the producer's span when the producer started at most LINK_WINDOW
# before the consumer, or at most LINK_SKEW after it (their clocks differ). The same pairs join
# whichever side is stored first (the consumer's link finds the stored producer, a producer
# stored later finds the stored link) and in a full run, so the joins do not depend on the order
# the spans came in; and either side reads only that stretch of the other's table, which the
# zone maps on start_time cut from a store of any age.
LINK_WINDOW = "1 hour"
LINK_SKEW = "1 minute"
# Latency histogram bucket width (factor between bucket bounds).
HIST_BASE = 1.1
# How spans are joined inside a trace: on the integer keys (facts.BY_IDS joins on the hex ids,
# the reference tests compare with).
JOINS: JoinKeys = BY_KEYS

# What a consumer can do while handling an event: call, or produce in turn.
_CALL_KINDS = sql_kinds(Side.CALL, Side.PRODUCE)
_LISTEN_KINDS = sql_kinds(Side.CONSUME)
_PRODUCE_KINDS = sql_kinds(Side.PRODUCE)
_INTERNAL_TABLES = (
    "classifier_spans",
    "classifier_groups",
    "classifier_hist",
    "classifier_hosts",
    "classifier_components",
    "classifier_receives",
    "classifier_handling",
    "classifier_runs",
    "classifier_jobs",
    "classifier_links",
    "classifier_joins",
    "classifier_group_edges",
    "classifier_edge_pct",
    "classifier_edge_revisions",
)


@dataclass(frozen=True, slots=True)
class ClassifyResult:
    full: bool
    watermark: int
    new_spans: int
    nodes: int
    edges: int
    findings: int
    elapsed_ms: float


_EXPECTED = (
    ("nodes", "BASE TABLE"),
    ("edges", "BASE TABLE"),
    ("classifier_state", "BASE TABLE"),
    ("label_changes", "BASE TABLE"),
    ("classifier_labelled_spans", "VIEW"),
    ("span_labels", "VIEW"),
    ("findings", "VIEW"),
) + tuple((name, "BASE TABLE") for name in _INTERNAL_TABLES)


def ensure_classifier_tables(con: duckdb.DuckDBPyConnection) -> bool:
    """Creates the classifier's tables and views where missing (in the default schema); returns
    whether the store holds discovered routes (aws_routes), read in the same look."""
    present = set(
        con.execute(
            "SELECT table_name, table_type FROM information_schema.tables "
            "WHERE table_schema = current_schema()"
        ).fetchall()
    )
    routes = ("aws_routes", "BASE TABLE") in present
    if all(item in present for item in _EXPECTED):
        return routes
    for statement in CLASSIFIER_DDL:
        if "span_labels" in statement or "VIEW findings" in statement:
            continue
        con.execute(statement)
    for statement in INTERNAL_DDL:
        con.execute(statement)
    if ("span_labels", "BASE TABLE") in present:
        # Derived data: the view over the classifier's per-span facts replaces it.
        con.execute("DROP TABLE span_labels")
    if ("spans", "BASE TABLE") in present:  # not in a copy of the aggregates alone
        for statement in span_labels_views(JOINS):
            con.execute(statement)
    for statement in CLASSIFIER_DDL:
        if "VIEW findings" in statement:
            con.execute(statement)
    return routes


def _drop_classifier_tables(con: duckdb.DuckDBPyConnection) -> None:
    """Drops the classifier's tables and views (all derived): a new classifier version makes
    them again in its own shape."""
    for name, kind in con.execute(
        "SELECT table_name, table_type FROM information_schema.tables "
        "WHERE table_schema = current_schema()"
    ).fetchall():
        if name in ("span_labels", "classifier_labelled_spans", "findings") and kind == "VIEW":
            con.execute(f"DROP VIEW {name}")
    for name in ("span_labels", "nodes", "edges", *_INTERNAL_TABLES):
        con.execute(f"DROP TABLE IF EXISTS {name}")


def _state(con: duckdb.DuckDBPyConnection) -> dict[str, str]:
    return {
        str(k): str(v) for k, v in con.execute("SELECT key, value FROM classifier_state").fetchall()
    }


def _set_state(
    con: duckdb.DuckDBPyConnection, values: dict[str, str], known: dict[str, str] | None = None
) -> None:
    """Writes the values that differ from known, in one statement (each costs milliseconds).
    Keys known to be stored are updated in place: an INSERT OR REPLACE of the same rows costs
    about four times as much (a delete and an insert through the key's index)."""
    changed = [(k, v) for k, v in values.items() if known is None or known.get(k) != v]
    if not changed:
        return
    if known is not None and all(k in known for k, _ in changed):
        con.execute(
            "UPDATE classifier_state SET value = CASE key "
            + " ".join("WHEN ? THEN ?" for _ in changed)
            + " END WHERE key IN ("
            + ", ".join("?" for _ in changed)
            + ")",
            [*(item for pair in changed for item in pair), *(k for k, _ in changed)],
        )
        return
    con.execute(
        "INSERT OR REPLACE INTO classifier_state VALUES " + ", ".join("(?, ?)" for _ in changed),
        [item for pair in changed for item in pair],
    )


def _moment(expression: str) -> str:
    """SQL giving a TIMESTAMPTZ expression as the text a literal bound takes (UTC)."""
    return f"strftime({expression}, '%Y-%m-%d %H:%M:%S.%f')"


def _scalar(con: duckdb.DuckDBPyConnection, sql: str, params: list[object] | None = None) -> object:
    row = con.execute(sql, params or []).fetchone()
    return row[0] if row else None


@contextmanager
def _transaction(con: duckdb.DuckDBPyConnection) -> Iterator[None]:
    con.execute("BEGIN TRANSACTION")
    try:
        yield
    except BaseException:
        con.execute("ROLLBACK")
        raise
    con.execute("COMMIT")


def classify(
    con: duckdb.DuckDBPyConnection, landscape: Landscape | None = None, *, full: bool = False
) -> ClassifyResult:
    """Brings nodes, edges and span_labels up to date with the spans; cheap when nothing is new."""
    started = time.perf_counter()
    try:
        con.execute("SET enable_progress_bar = false")
    except duckdb.Error:
        pass  # an owner's hardened connection locks its configuration
    landscape = landscape or Landscape()
    routes = ensure_classifier_tables(con)
    state = _state(con)
    old = int(state.get("watermark", "0"))
    top, new = _top(con, old)
    fingerprint = landscape.fingerprint()
    wiring = _wiring(con) if routes else ""
    rebuild = full or state.get("version") != CLASSIFIER_VERSION or top < old
    same_rules = (
        state.get("landscape") == fingerprint
        and state.get("catalog") == CATALOG_VERSION
        and state.get("routes") == wiring
    )
    if not rebuild and top == old and same_rules:
        return _result(con, False, old, 0, started)
    # On the threads the database has. One thread would spend a little less CPU on a small
    # batch, but setting DuckDB to one and back costs more wall time than that saves (stopping
    # a thread frees what it allocated: 6-60 ms after an append), and an owner's locked
    # configuration never allowed it anyway (docs/performance.md, Classification).
    with _transaction(con):
        if state.get("version") != CLASSIFIER_VERSION:
            _drop_classifier_tables(con)
            ensure_classifier_tables(con)
        if rebuild:
            for table in _INTERNAL_TABLES:
                con.execute(f"DELETE FROM {table}")
            old, new = 0, None
        new_spans, runs_moved = 0, False
        # The shape the last call left (stored with the state), or read again.
        before = None if rebuild or not same_rules else state.get("shape") or _shape(con)
        merge = None
        if top > old:
            merge = _Merge(con, old, top, full=old == 0, new=new)
            new_spans, runs_moved = merge.run(), merge.runs_moved
        # The groups the merge moved (_MOVED) and its histogram rows, or every edge's where
        # there was no merge.
        moved, hist = (None, None) if merge is None else (_MOVED, merge.hist)
        after = _shape(con)
        polling = state.get("polling")
        a401 = state.get("a401")
        derived = False
        if before is not None and before == after and not runs_moved:
            # Same groups, hosts, components, handling and runs: the edges and their rules
            # stand; only the numbers of those whose groups moved change.
            refresh_stats(con, moved, hist)
        elif (
            before is not None
            and before == after
            and polling is not None
            and refresh_polling(con, polling, a401)
        ):
            # Only new runs of recurring jobs, which feed the same writes as before: the rules
            # stand; A401's reasons (period, run count) and the numbers move.
            refresh_stats(con, moved, hist)
        else:
            if merge is not None:
                merge.drop_temporaries()
            cause = (
                "classifier"
                if state.get("version") not in (None, CLASSIFIER_VERSION)
                else "catalog"
                if state.get("catalog") not in (None, CATALOG_VERSION)
                else "landscape"
                if state.get("landscape") not in (None, fingerprint)
                else "routes"
                if state.get("routes") not in (None, wiring)
                else "spans"
            )
            con.execute(
                "CREATE OR REPLACE TEMP TABLE _cls_prev AS SELECT edge_id, rule_id, verdict "
                "FROM edges"
            )
            polling = derive(con, landscape, [*landscape.routes, *discovered_routes(con)])
            a401 = polling_edges(con)
            derived = True
            _record_label_changes(con, cause)
        if merge is not None:
            merge.drop_temporaries()
        revision = int(state.get("revision", "0"))
        if stamp_revisions(con, revision + 1, new_edges=derived):
            revision += 1
        values = {
            "revision": str(revision),
            "watermark": str(top),
            "version": CLASSIFIER_VERSION,
            "landscape": fingerprint,
            "landscape_path": landscape.path or "",
            "catalog": CATALOG_VERSION,
            "routes": wiring,
            "polling": polling or "",
            "shape": after,
        }
        if a401 is not None:  # unknown until the first derive of this code
            values["a401"] = a401
        _set_state(
            con,
            values,
            None if rebuild else state,
        )
    return _result(con, rebuild, top, new_spans, started)


def _has_routes_table(con: duckdb.DuckDBPyConnection) -> bool:
    return bool(
        _scalar(
            con,
            "SELECT count(*) FROM information_schema.tables "
            "WHERE table_name = 'aws_routes' AND table_schema = current_schema()",
        )
    )


def _wiring(con: duckdb.DuckDBPyConnection) -> str:
    """Changes whenever `seamscope discover aws` stored other routes (a rerun changes them
    without adding spans); for a store with the aws_routes table."""
    row = con.execute(
        "SELECT count(*), max(discovered_at)::VARCHAR, "
        "bit_xor(hash(route_id, kind, source, target, event_sources, detail_types, origin)) "
        "FROM aws_routes"
    ).fetchone()
    return json.dumps([str(v) for v in row or ()])


def discovered_routes(con: duckdb.DuckDBPyConnection) -> list[Route]:
    """The routes `seamscope discover aws` stored, in the record the landscape's are in."""
    if not _has_routes_table(con):
        return []
    names = [f.name for f in fields(Route)]
    rows = con.execute(f"SELECT {', '.join(names)} FROM aws_routes ORDER BY route_id").fetchall()
    routes = []
    for row in rows:
        values = dict(zip(names, row, strict=True))
        for key in ("event_sources", "detail_types"):
            if values[key] is not None:
                values[key] = tuple(values[key])
        routes.append(Route(**values))
    return routes


def _record_label_changes(con: duckdb.DuckDBPyConnection, cause: str) -> None:
    """label_changes gets the edges that are new or changed rule since the labels before
    derive (_cls_prev); nothing on a store's first labelling, where every edge is new."""
    con.execute(
        """INSERT INTO label_changes
        SELECT now(), e.edge_id, e.from_node, e.to_node, e.mechanism, p.rule_id, p.verdict,
               e.rule_id, e.verdict, e.reason, ?
        FROM edges AS e LEFT JOIN _cls_prev AS p USING (edge_id)
        WHERE p.rule_id IS DISTINCT FROM e.rule_id
          AND EXISTS (SELECT 1 FROM _cls_prev)""",
        [cause],
    )
    con.execute("DROP TABLE _cls_prev")


def _top(con: duckdb.DuckDBPyConnection, old: int) -> tuple[int, _New | None]:
    """The newest batch stored, and how many spans are past the watermark with the start of the
    window they touch (an incremental merge needs both) and what they hold: read past the
    watermark, so the scan skips the row groups below it, and over every span only when none is
    left at or past it. What the new spans hold is counted only past a watermark: from none, the
    merge is a full one, and those counts would cost a scan of every span's columns."""
    held = (
        f"""count(*) FILTER (WHERE batch_id > $1 AND {INVOCATION_CANDIDATE}),
               count(*) FILTER (WHERE batch_id > $1 AND links IS NOT NULL),
               count(*) FILTER (WHERE batch_id > $1 AND {GRAPHQL_CANDIDATE}),
               count(*) FILTER (WHERE batch_id > $1 AND {LONE_CANDIDATE}),
               count(*) FILTER (WHERE batch_id > $1 AND {URL_SERVER}),
               count(*) FILTER (WHERE batch_id > $1 AND {GRAPHQL_SERVER_SPAN})"""
        if old > 0
        else "-1, -1, -1, -1, -1, -1"
    )
    row = con.execute(
        f"""SELECT max(batch_id), count(*) FILTER (WHERE batch_id > $1),
               strftime(min(start_time) FILTER (WHERE batch_id > $1) - INTERVAL '{TRACE_WINDOW}',
                        '%Y-%m-%d %H:%M:%S.%f'),
               {held}
        FROM spans WHERE batch_id >= $1""",
        [old],
    ).fetchone()
    if row is None or row[0] is None:
        return int(str(_scalar(con, "SELECT coalesce(max(batch_id), 0) FROM spans") or 0)), None
    lo = None if row[2] is None else str(row[2])
    return int(row[0]), _New(int(row[1]), lo, *(int(v) for v in row[3:9]))


def _shape(con: duckdb.DuckDBPyConnection) -> str:
    """What the edges and rules depend on, besides counts and job runs: changes when any of it
    changes. Each table read is a few hundred rows, whatever the store's size; the runs, which
    grow with every run of every job, are not read: the merge says whether it moved them."""
    row = con.execute(
        """SELECT (SELECT (count(*), bit_xor(gkey)) FROM classifier_groups),
                  (SELECT (count(*), bit_xor(hash(host, port, hkind, svc, ns)))
                   FROM classifier_hosts),
                  (SELECT count(*) FROM classifier_components),
                  (SELECT count(*) FROM classifier_handling),
                  (SELECT count(*) FROM classifier_joins)"""
    ).fetchone()
    return json.dumps([str(v) for v in row or ()])


def _result(
    con: duckdb.DuckDBPyConnection, full: bool, watermark: int, new_spans: int, started: float
) -> ClassifyResult:
    row = con.execute(
        "SELECT (SELECT count(*) FROM nodes), (SELECT count(*) FROM edges), "
        f"(SELECT count(*) FROM edges WHERE verdict IN {sql_list(FINDINGS)})"
    ).fetchone()
    assert row is not None
    return ClassifyResult(
        full=full,
        watermark=watermark,
        new_spans=new_spans,
        nodes=int(row[0]),
        edges=int(row[1]),
        findings=int(row[2]),
        elapsed_ms=(time.perf_counter() - started) * 1000,
    )


def _timed(con: duckdb.DuckDBPyConnection) -> Callable[..., duckdb.DuckDBPyConnection]:
    def run(sql: str, params: list[object] | None = None) -> duckdb.DuckDBPyConnection:
        started, cpu = time.perf_counter(), time.process_time()
        result = con.execute(sql, params or [])
        wall = (time.perf_counter() - started) * 1000
        used = (time.process_time() - cpu) * 1000
        print(f"{wall:8.1f} ms {used:8.1f} ms CPU  {' '.join(sql.split())[:80]}")
        return result

    return run


# The groups a merge changed (left by _Merge for refresh_stats; dropped with its temporaries).
_MOVED = "_cls_moved"


def _jobs_sql(where: str = "") -> str:
    """Each recurring job's runs gathered from classifier_runs (the runs `where`, a condition
    starting with AND, keeps): the columns of classifier_jobs, its start times as their count,
    the last and the sum of the squared gaps between them (in whole microseconds, so that a sum
    moved run by run equals the one gathered at once). One aggregate: the distinct start times
    sorted in a list give the count, the last and the gaps (a window over them, its aggregate
    and a join back cost a batch's few runs about 2 ms more)."""
    return f"""
    SELECT jkey, svc, ns, name, first_run, us[-1] AS last_us, len(us) AS runs,
           coalesce(list_sum(list_transform(list_zip(us[2:], us[:-1]),
                    lambda g: CAST(g[1] - g[2] AS HUGEINT) * (g[1] - g[2]))), 0) AS gap_sq,
           scanned, written
    FROM (
        SELECT hash(svc, ns, name) AS jkey, svc, ns, name, min(start_time) AS first_run,
               list_sort(list_distinct(list(epoch_us(start_time)))) AS us,
               list_sort(list_distinct(flatten(list(scans) FILTER (scans IS NOT NULL))))
                   AS scanned,
               list_distinct(flatten(list(writes) FILTER (writes IS NOT NULL))) AS written
        FROM classifier_runs WHERE NOT coalesce(listens, false){where}
        GROUP BY svc, ns, name
    )"""


def gather_jobs(con: duckdb.DuckDBPyConnection, run: Callable[..., object] | None = None) -> None:
    """classifier_jobs made again from every stored run (classifier_runs), as a full
    classification makes it; `run` executes each statement (con.execute by default)."""
    execute = run or con.execute
    execute("DELETE FROM classifier_jobs")
    execute(f"INSERT INTO classifier_jobs {_jobs_sql()}")


# A job's figures moved by those of its new runs (excluded) in an INSERT ... ON CONFLICT: runs
# that all start after its last add their gaps; any other (a run that started before the last
# one stored, or with it) leaves runs at -1, for the job to be gathered again from its runs.
_APPENDED = "epoch_us(excluded.first_run) > classifier_jobs.last_us"
_JOBS_MOVED = f"""
    first_run = least(classifier_jobs.first_run, excluded.first_run),
    last_us = greatest(classifier_jobs.last_us, excluded.last_us),
    runs = CASE WHEN {_APPENDED} THEN classifier_jobs.runs + excluded.runs ELSE -1 END,
    gap_sq = CASE WHEN {_APPENDED}
                  THEN classifier_jobs.gap_sq + excluded.gap_sq
                       + CAST(epoch_us(excluded.first_run) - classifier_jobs.last_us AS HUGEINT)
                         * (epoch_us(excluded.first_run) - classifier_jobs.last_us)
                  ELSE classifier_jobs.gap_sq END,
    scanned = CASE WHEN list_has_all(classifier_jobs.scanned, excluded.scanned)
                   THEN classifier_jobs.scanned
                   ELSE list_sort(list_distinct(list_concat(
                       classifier_jobs.scanned, excluded.scanned))) END,
    written = CASE WHEN list_has_all(classifier_jobs.written, excluded.written)
                   THEN classifier_jobs.written
                   ELSE list_distinct(list_concat(
                       classifier_jobs.written, excluded.written)) END"""
# A group's figures moved by those of the facts added (or taken away: negative counts, no times):
# the SET of an UPDATE of classifier_groups AS g FROM the moved groups AS x.
_GROUPS_MOVED = """
    n = g.n + x.n,
    errors = g.errors + x.errors,
    role = greatest(g.role, x.role),
    first_seen = least(g.first_seen, x.first_seen),
    sample_trace_id = CASE
        WHEN x.last_seen IS NULL THEN g.sample_trace_id
        WHEN g.last_seen IS NULL
             OR (x.last_seen, x.sample_trace_id) > (g.last_seen, g.sample_trace_id)
            THEN x.sample_trace_id
        ELSE g.sample_trace_id END,
    last_seen = greatest(g.last_seen, x.last_seen)"""
# The columns of a stored fact (classifier_spans), in its order.
_FACT_KEY = "tk, sk, pk, batch_id, gkey, start_time, duration_ns, err, inst"


@dataclass(frozen=True, slots=True)
class _New:
    """The spans past the watermark, as classify() found them: how many, the start of the
    window they touch (TRACE_WINDOW before the earliest), as text, and how many of them could be
    a Lambda invocation (INVOCATION_CANDIDATE), carry span links, record a GraphQL operation a
    server executed (GRAPHQL_CANDIDATE), be a call made outside any handling (LONE_CANDIDATE) or
    be a server span whose host is read from its URL (URL_SERVER).
    A merge whose touched traces hold no stored span reads only these, and skips what none of
    them needs."""

    count: int
    lo: str | None
    invocable: int = -1
    linked: int = -1
    graphql: int = -1
    lone: int = -1
    url_server: int = -1  # server spans with a URL (URL_SERVER): their host is read from it
    # SERVER spans that are no request's (GRAPHQL_SERVER_SPAN): strawberry's or otelgqlgen's
    # GraphQL operation, or a Lambda invocation
    server_spans: int = -1


class _Merge:
    """One merge, as named steps over temporary relations (``_cls_*``, dropped at the end).

    A full run (nothing stored yet) reads every span straight from the store; an incremental
    run reads the new spans with the stored spans of the traces they touch (within
    TRACE_WINDOW), replaces the facts stored for those traces and moves the aggregates by the
    multiset difference.
    """

    def __init__(
        self, con: duckdb.DuckDBPyConnection, old: int, top: int, *, full: bool, new: _New | None
    ) -> None:
        """Merges the spans of batches (old, top]; new: what classify() read of them, if it
        did (else read here)."""
        self.con = con
        self.new = new
        self.x = _timed(con) if os.environ.get("SEAMSCOPE_CLASSIFY_PROFILE") else con.execute
        self.old, self.top, self.full = old, top, full
        self.new_filter = f"batch_id > {old} AND batch_id <= {top}"
        self.lo = ""  # incremental runs: the start of the window read, as a SQL literal
        self.stored = False  # the window read holds spans of batches up to the watermark
        self.seen = False  # a touched trace already has facts stored
        self.removed = False  # the difference takes stored facts away
        self.runs_moved = False  # classifier_runs gained or lost a run
        self.keys = JOINS
        # What the merge added to the histograms, a row per fact (a query over its temporaries).
        self.hist: str | None = None
        self.temporaries: dict[str, str] = {}  # name -> TABLE or VIEW, as temp() made them

    def run(self) -> int:
        count = self.new.count if self.new is not None else self.count_new()
        if count == 0:
            self.temp(f"CREATE OR REPLACE TEMP TABLE {_MOVED} (gkey UBIGINT)")
            return 0
        if self.full:
            self.select_all_spans()
        else:
            self.select_touched_traces()
        self.derive_facts()
        self.replace_stored_facts()
        self.merge_groups()
        self.merge_joins()
        self.merge_hosts_and_components()
        self.merge_receives()
        self.merge_handling()
        self.merge_runs()
        # The temporaries (_MOVED among them) stay for refresh_stats: classify() drops them.
        return count

    def scalar(self, sql: str) -> object:
        return _scalar(self.con, sql)

    def none_new(self, what: str) -> bool:
        """Whether this incremental merge reads only new spans (no touched trace has a stored
        span in the window) and none of them has `what` (a count of _New)."""
        return (
            not self.full
            and not self.seen
            and self.new is not None
            and getattr(self.new, what) == 0
        )

    def made(self, sql: str) -> int:
        """Runs a CREATE TABLE ... AS and returns how many rows it stored (DuckDB answers with
        the count, as for an INSERT), sparing a count of its own."""
        row = self.x(sql).fetchone()
        return int(row[0]) if row else 0

    def temp(self, sql: str) -> int:
        """Runs a ``CREATE OR REPLACE TEMP {TABLE|VIEW} name ...`` as made() does, and keeps the
        name for drop_temporaries, which drops only what this merge made (each DROP costs a
        statement, made or not)."""
        words = sql.split(None, 6)
        assert words[:4] == ["CREATE", "OR", "REPLACE", "TEMP"], sql[:40]
        self.temporaries[words[5]] = words[4]
        return self.made(sql)

    def count_new(self) -> int:
        return int(str(self.scalar(f"SELECT count(*) FROM spans WHERE {self.new_filter}") or 0))

    # --- which spans are read ---------------------------------------------------------------

    def select_all_spans(self) -> None:
        """_cls_src: every span up to the newest batch (no copy: filters reach the scan)."""
        self.temp(
            f"CREATE OR REPLACE TEMP VIEW _cls_src AS SELECT {SPAN_COLUMNS} FROM spans "
            f"WHERE batch_id <= {self.top}"
        )

    def select_touched_traces(self) -> None:
        """_cls_src: the new spans and the stored spans of their traces, within the window."""
        # A literal bound (not a subquery) lets DuckDB skip row groups by their min/max.
        lo_value = (
            self.new.lo
            if self.new is not None
            else self.scalar(
                f"SELECT strftime(min(start_time) - INTERVAL '{TRACE_WINDOW}', "
                f"'%Y-%m-%d %H:%M:%S.%f') FROM spans WHERE {self.new_filter}"
            )
        )
        self.lo = f"TIMESTAMPTZ '{lo_value}+00'"
        # Two steps: the window is scanned for the touched traces reading three narrow columns,
        # then only the rows found are read in full (a scan decompresses every column it
        # projects for every row of the window before a join drops most of them).
        touched = f"""FROM spans
            WHERE batch_id <= {self.top} AND start_time >= {self.lo}
              AND {self.keys.trace} IN (
                  SELECT {self.keys.trace} FROM spans WHERE {self.new_filter})"""
        row = self.x(
            f"SELECT min(rowid), max(rowid), coalesce(bool_or(batch_id <= {self.old}), false), "
            f"count(*) {touched}"
        ).fetchone()
        first, last = (int(row[0]), int(row[1])) if row and row[0] is not None else (0, -1)
        # Without a stored span in the window, no touched trace can have facts stored.
        self.stored = bool(row and row[2])
        # Literal bounds let the scan skip every row group outside them. When the rows found
        # are every row between them (a batch's own spans, appended together: the usual case),
        # the bounds say it all, and the semi-join on the row ids would only cost its time (and
        # the table of them, a statement: the window is scanned again only where it is needed).
        every = row is not None and int(row[3]) == last - first + 1
        only = ""
        if not every:
            self.temp(f"CREATE OR REPLACE TEMP TABLE _cls_rows AS SELECT rowid AS r {touched}")
            only = " AND rowid IN (SELECT r FROM _cls_rows)"
        self.temp(f"""CREATE OR REPLACE TEMP VIEW _cls_src AS
            SELECT {SPAN_COLUMNS} FROM spans WHERE rowid BETWEEN {first} AND {last}{only}""")

    # --- facts ------------------------------------------------------------------------------

    def derive_facts(self) -> None:
        """_cls_fnew: the facts of the spans that can matter (_cls_s: a full run's view, a
        batch's CTE of the facts statement), with _cls_inv (Lambda invocations) and _cls_gql
        (GraphQL operations servers executed) where the spans hold any."""
        keys = self.keys
        # A batch's few thousand spans are read with their ids anyway (_cls_s keeps them), so
        # the keys that fall back on the ids cost it nothing, and no look for missing keys is
        # needed; a full run reads no hex id but the trace's where no span lacks a key.
        if (
            self.full
            and keys is BY_KEYS
            and not self.scalar(
                f"SELECT count(*) FROM (SELECT 1 FROM _cls_src WHERE {MISSING_KEYS} LIMIT 1)"
            )
        ):
            keys = STORED_KEYS
        # Only traces with a span at or below the watermark can have anything stored (stored
        # rows come from such spans, and the stored window is the window read): usually none.
        # An invocation is a server span, so a classified one: with none stored, only the new
        # spans can be one.
        if not self.full and self.stored:
            self.seen = bool(
                self.temp(
                    "CREATE OR REPLACE TEMP TABLE _cls_seen AS "
                    f"SELECT DISTINCT {keys.trace} AS tk FROM _cls_src "
                    f"WHERE batch_id <= {self.old} AND {classified(keys)}"
                )
            )
        # A full run's classified spans are a view over the store; a batch's are made inside
        # its facts statement (below), as a CTE that DuckDB materialises once for the
        # statement's five reads of it: cheaper than a temporary table of their 37 columns and
        # a statement of its own. What else reads a batch's spans reads _cls_src's few columns.
        with_spans = ""
        # Where no span read is a server span with a URL, its columns say the host (the
        # expression that reads a URL costs a batch about 2 ms to bind). After `seen`: the
        # stored spans of touched traces are read too.
        urls = not self.none_new("url_server")
        if self.full:
            self.temp(
                "CREATE OR REPLACE TEMP VIEW _cls_s AS " + classified_sql("_cls_src", keys, urls)
            )
        else:
            with_spans = f"WITH _cls_s AS MATERIALIZED ({classified_sql('_cls_src', keys, urls)}) "
        invocations = None if self.none_new("invocable") else "_cls_inv"
        if invocations:
            self.temp(
                f"CREATE OR REPLACE TEMP TABLE {invocations} AS "
                + invocations_sql("_cls_src", keys)
            )
        graphql = "_cls_gql" if self.executes_graphql() else None
        if graphql:
            self.temp(
                f"CREATE OR REPLACE TEMP TABLE {graphql} AS "
                + graphql_sql("_cls_src", keys, server_spans=self.reads_graphql_server_spans())
            )
        # The span's own ids are not needed past here (its keys are), the trace's are. A batch's
        # few thousand spans take the AWS facts that cost least to plan.
        aws = AWS_FACTS if self.full else GENERAL_AWS_FACTS
        self.temp(
            f"CREATE OR REPLACE TEMP TABLE _cls_fnew AS {with_spans}"
            "SELECT * EXCLUDE (span_id, parent_span_id) "
            f"FROM ({facts_sql('_cls_s', invocations, aws, graphql)})"
        )

    def executes_graphql(self) -> bool:
        """Whether a span read records a GraphQL operation a server executed. Such a span is
        no classified span (an INTERNAL one, most often), so a trace whose client and server
        come after it has it stored and not seen: any stored span in the window makes it
        looked for, as in a full run."""
        if not self.full and not self.stored and self.new is not None and self.new.graphql >= 0:
            return self.new.graphql > 0
        return bool(
            self.scalar(
                f"SELECT count(*) FROM (SELECT 1 FROM _cls_src WHERE {GRAPHQL_CANDIDATE} LIMIT 1)"
            )
        )

    def reads_graphql_server_spans(self) -> bool:
        """Whether a span read is a SERVER span that is no request's (GRAPHQL_SERVER_SPAN),
        which strawberry and otelgqlgen record their operation as: where none is, graphql_sql
        leaves out the statement's part that reads them (half its planning)."""
        if (
            not self.full
            and not self.stored
            and self.new is not None
            and self.new.server_spans >= 0
        ):
            return self.new.server_spans > 0
        return bool(
            self.scalar(
                f"SELECT count(*) FROM (SELECT 1 FROM _cls_src WHERE {GRAPHQL_SERVER_SPAN} LIMIT 1)"
            )
        )

    def replace_stored_facts(self) -> None:
        """_cls_delta: the facts to add (sign 1) and take away (sign -1), where a touched trace
        has facts stored (else the new facts are the difference); classifier_spans then holds
        the new facts in place of those stored for the touched traces."""
        x, key = self.x, _FACT_KEY
        if self.seen:
            old = self.temp(f"""CREATE OR REPLACE TEMP TABLE _cls_old AS
                SELECT {key} FROM classifier_spans
                WHERE start_time >= {self.lo}
                  AND tk IN (SELECT tk FROM _cls_seen)""")
            # Traces with nothing stored yet (the usual case) need no difference. The added
            # facts of the others take their trace's id (for the groups' sample trace).
            self.temp(f"""CREATE OR REPLACE TEMP TABLE _cls_delta AS
                SELECT {key}, trace_id, 1 AS sign FROM _cls_fnew
                WHERE tk NOT IN (SELECT tk FROM _cls_old)
                UNION ALL
                SELECT d.*, t.trace_id, 1 AS sign FROM (
                    SELECT {key} FROM _cls_fnew WHERE tk IN (SELECT tk FROM _cls_old)
                    EXCEPT ALL FROM _cls_old) AS d
                LEFT JOIN (
                    SELECT tk, max(trace_id) AS trace_id FROM _cls_fnew
                    WHERE tk IN (SELECT tk FROM _cls_old) GROUP BY tk
                ) AS t USING (tk)
                UNION ALL
                SELECT *, NULL AS trace_id, -1 AS sign FROM (
                    FROM _cls_old
                    EXCEPT ALL
                    SELECT {key} FROM _cls_fnew
                    WHERE tk IN (SELECT tk FROM _cls_old))""")
            self.removed = bool(self.scalar("SELECT count(*) FROM _cls_delta WHERE sign = -1"))
            if old:
                x(f"""DELETE FROM classifier_spans
                    WHERE start_time >= {self.lo}
                      AND tk IN (SELECT tk FROM _cls_old)""")
        x(f"INSERT INTO classifier_spans SELECT {key} FROM _cls_fnew")

    # --- aggregates -------------------------------------------------------------------------

    def merge_groups(self) -> None:
        """classifier_groups and classifier_hist move by the difference."""
        x = self.x
        # Traces with nothing stored (a full run, the usual batch): the difference is the facts.
        delta = "_cls_delta" if self.seen else "_cls_fnew"
        moved = self.temp(
            f"CREATE OR REPLACE TEMP TABLE {_MOVED} AS SELECT DISTINCT gkey FROM {delta}"
        )
        if not self.seen:
            # Nothing taken away: one aggregation of the facts, no difference to join.
            groups = """SELECT gkey, any_value(svc) AS svc, any_value(ns) AS ns, max(role) AS role,
                       any_value(fkind) AS fkind, any_value(target) AS target,
                       any_value(callee_svc) AS callee_svc, any_value(callee_ns) AS callee_ns,
                       any_value(op) AS op, any_value(is_write) AS is_write, count(*) AS n,
                       count(*) FILTER (WHERE err) AS errors, min(start_time) AS first_seen,
                       max(start_time) AS last_seen,
                       max(struct_pack(t := start_time, id := trace_id)).id AS sample_trace_id
                FROM _cls_fnew GROUP BY gkey"""
        else:
            groups = """WITH descr AS (
                    SELECT gkey, any_value(svc) AS svc, any_value(ns) AS ns, max(role) AS role,
                           any_value(fkind) AS fkind, any_value(target) AS target,
                           any_value(callee_svc) AS callee_svc, any_value(callee_ns) AS callee_ns,
                           any_value(op) AS op, any_value(is_write) AS is_write
                    FROM _cls_fnew GROUP BY gkey
                )
                SELECT d.gkey, any_value(c.svc) AS svc, any_value(c.ns) AS ns,
                       any_value(c.role) AS role, any_value(c.fkind) AS fkind,
                       any_value(c.target) AS target, any_value(c.callee_svc) AS callee_svc,
                       any_value(c.callee_ns) AS callee_ns, any_value(c.op) AS op,
                       any_value(c.is_write) AS is_write, sum(d.sign) AS n,
                       sum(CASE WHEN d.err THEN d.sign ELSE 0 END) AS errors,
                       min(d.start_time) FILTER (WHERE d.sign = 1) AS first_seen,
                       max(d.start_time) FILTER (WHERE d.sign = 1) AS last_seen,
                       max(struct_pack(t := d.start_time, id := d.trace_id))
                           FILTER (WHERE d.sign = 1).id AS sample_trace_id
                FROM _cls_delta AS d LEFT JOIN descr AS c USING (gkey)
                GROUP BY d.gkey"""
        if self.full:
            x(f"INSERT INTO classifier_groups {groups}")
        else:
            # Most of a batch's groups are stored already: moved in place (an UPDATE plans in
            # about half the time of an INSERT ... ON CONFLICT DO UPDATE), and the new ones, if
            # the UPDATE found fewer groups than moved, inserted after.
            row = x(
                f"UPDATE classifier_groups AS g SET {_GROUPS_MOVED} FROM ({groups}) AS x "
                "WHERE g.gkey = x.gkey"
            ).fetchone()
            if (int(row[0]) if row else 0) < moved:
                x(f"""INSERT INTO classifier_groups
                    SELECT * FROM ({groups})
                    WHERE gkey NOT IN (SELECT gkey FROM classifier_groups)""")
        bucket = f"CAST(floor(ln(greatest(duration_ns, 1000) / 1e6) / ln({HIST_BASE})) AS SMALLINT)"
        x(f"""INSERT INTO classifier_hist
            SELECT gkey, {bucket} AS bucket, {"sum(sign)" if self.seen else "count(*)"}
            FROM {delta} GROUP BY ALL
            ON CONFLICT (gkey, bucket) DO UPDATE SET n = classifier_hist.n + excluded.n""")
        # The same, a row per fact, for refresh_stats to move the edges' percentiles by (it
        # sums them by edge: summed by group here first, they would cost an aggregate more).
        self.hist = (
            f"SELECT gkey, {bucket} AS bucket, {'sign' if self.seen else 1} AS n FROM {delta}"
        )
        lost = 0
        if self.removed:
            # first/last seen and the sample cannot be un-merged: recompute the groups that
            # lost a fact at their first or last moment (the sample: the greatest trace id
            # among their latest facts, read from the store). A fact that started after a
            # group's first and before its last leaves both and the sample as they are; a
            # group left with no fact goes below. So a trace re-derived when its late spans
            # come (a client's span stored before its server's) mostly reads nothing here,
            # where every such group read all of classifier_spans.
            lost = self.temp("""CREATE OR REPLACE TEMP TABLE _cls_lost AS
                SELECT DISTINCT d.gkey
                FROM _cls_delta AS d JOIN classifier_groups AS g USING (gkey)
                WHERE d.sign = -1 AND g.n > 0
                  AND (d.start_time <= g.first_seen OR d.start_time >= g.last_seen)""")
        if lost:
            x(f"""UPDATE classifier_groups AS g SET
                    first_seen = r.f, last_seen = r.l, sample_trace_id = q.s
                FROM (
                    SELECT gkey, min(start_time) AS f, max(start_time) AS l
                    FROM classifier_spans
                    WHERE gkey IN (SELECT gkey FROM _cls_lost)
                    GROUP BY gkey
                ) AS r
                LEFT JOIN (
                    SELECT s.gkey, max(sp.trace_id) AS s
                    FROM classifier_spans AS s
                    JOIN (
                        SELECT gkey, max(start_time) AS l FROM classifier_spans
                        WHERE gkey IN (SELECT gkey FROM _cls_lost)
                        GROUP BY gkey
                    ) AS latest ON latest.gkey = s.gkey AND latest.l = s.start_time
                    JOIN (SELECT trace_id, batch_id, {self.keys.spans} FROM spans) AS sp
                      ON sp.batch_id = s.batch_id AND sp.tk = s.tk AND sp.sk = s.sk
                    GROUP BY s.gkey
                ) AS q ON q.gkey = r.gkey
                WHERE g.gkey = r.gkey""")
        if self.removed:
            x("DELETE FROM classifier_hist WHERE n <= 0")
            x("DELETE FROM classifier_groups WHERE n <= 0")

    def merge_joins(self) -> None:
        """classifier_joins: consumer groups joined to producer groups by their spans, where the
        consumer's span is the producer's child (trace context carried through the message) or
        links to it (Lambda triggers, batch receives)."""
        x = self.x
        x(f"""INSERT INTO classifier_joins
            SELECT DISTINCT c.gkey, p.gkey, 'trace'
            FROM _cls_fnew AS c JOIN _cls_fnew AS p
              ON p.tk = c.tk AND p.sk = c.pk
            WHERE c.fkind IN {_LISTEN_KINDS} AND p.fkind IN {_PRODUCE_KINDS}
            ON CONFLICT DO NOTHING""")
        self.forget_seen("classifier_links")
        if self.none_new("linked"):
            self.new_producers()
            return
        links = self.temp(f"""CREATE OR REPLACE TEMP TABLE _cls_rawlinks AS
            SELECT c_tk, c_sk, gkey, start_time, l.trace_id AS trace_id, l.span_id AS span_id,
                   NULL::VARCHAR AS parent_span_id
            FROM (
                SELECT tk AS c_tk, sk AS c_sk, gkey, start_time,
                       unnest(try_cast(try_cast(links AS JSON)
                           AS STRUCT(trace_id VARCHAR, span_id VARCHAR)[]))
                           AS l
                FROM _cls_fnew WHERE links IS NOT NULL AND fkind IN {_LISTEN_KINDS}
            )
            WHERE l.trace_id IS NOT NULL AND l.span_id IS NOT NULL""")
        if not links:
            self.new_producers()  # no links: their keys need no statement of their own
            return
        # The linked span's keys, as its own were computed (keys_sql, as the store does).
        self.temp(f"""CREATE OR REPLACE TEMP TABLE _cls_newlinks AS
            SELECT c_tk AS tk, c_sk AS sk, gkey, start_time, k.tk AS linked_tk,
                   k.sk AS linked_sk
            FROM (SELECT c_tk, c_sk, gkey, start_time, {self.keys.spans}
                  FROM ({keys_sql("FROM _cls_rawlinks")})) AS k""")
        earliest = _moment(f"min(start_time) - INTERVAL '{LINK_WINDOW}'")
        latest = _moment(f"max(start_time) + INTERVAL '{LINK_SKEW}'")
        bounds = self.con.execute(f"SELECT {earliest}, {latest} FROM _cls_newlinks").fetchone()
        if bounds is not None and bounds[0] is not None:
            x("INSERT INTO classifier_links SELECT * FROM _cls_newlinks")
            # The producers' spans stored before (or with) the consumers'.
            x(f"""INSERT INTO classifier_joins
                SELECT DISTINCT l.gkey, s.gkey, 'link'
                FROM _cls_newlinks AS l
                JOIN classifier_spans AS s
                  ON s.tk = l.linked_tk AND s.sk = l.linked_sk
                JOIN classifier_groups AS g ON g.gkey = s.gkey
                WHERE g.fkind IN {_PRODUCE_KINDS}
                  AND s.start_time BETWEEN TIMESTAMPTZ '{bounds[0]}+00'
                                       AND TIMESTAMPTZ '{bounds[1]}+00'
                  AND s.start_time BETWEEN l.start_time - INTERVAL '{LINK_WINDOW}'
                                       AND l.start_time + INTERVAL '{LINK_SKEW}'
                ON CONFLICT DO NOTHING""")
        self.new_producers()

    def new_producers(self) -> None:
        """New producers' spans that consumers stored before had linked to (none to look for
        while no consumer stored a link: a store without span links), read from the links of
        the consumers that started within the window after the new producers."""
        if not self.full and not self.scalar(
            "SELECT count(*) FROM (SELECT 1 FROM classifier_links LIMIT 1)"
        ):
            return
        earliest = _moment(f"min(start_time) - INTERVAL '{LINK_SKEW}'")
        latest = _moment(f"max(start_time) + INTERVAL '{LINK_WINDOW}'")
        row = self.con.execute(
            f"SELECT {earliest}, {latest} FROM _cls_fnew WHERE fkind IN {_PRODUCE_KINDS}"
        ).fetchone()
        if row is None or row[0] is None:
            return  # no new producer
        self.x(f"""INSERT INTO classifier_joins
            SELECT DISTINCT l.gkey, p.gkey, 'link'
            FROM _cls_fnew AS p
            JOIN classifier_links AS l
              ON l.linked_tk = p.tk AND l.linked_sk = p.sk
            WHERE p.fkind IN {_PRODUCE_KINDS}
              AND l.start_time BETWEEN TIMESTAMPTZ '{row[0]}+00' AND TIMESTAMPTZ '{row[1]}+00'
              AND l.start_time BETWEEN p.start_time - INTERVAL '{LINK_SKEW}'
                                   AND p.start_time + INTERVAL '{LINK_WINDOW}'
            ON CONFLICT DO NOTHING""")

    def merge_hosts_and_components(self) -> None:
        """Host map, AWS endpoints and components: per span, so only the new spans count."""
        x = self.x
        # The spans counted by all that either reads, in one pass (a few hundred rows, then
        # summed): a full run's over the store; a batch's over its own rows' few columns (its
        # classified spans live only inside its facts statement).
        if self.full:
            self.temp(f"""CREATE OR REPLACE TEMP TABLE _cls_new AS
                SELECT host, port, cat, svc, ns, role, count(*) AS n
                FROM _cls_s WHERE {self.new_filter} GROUP BY ALL""")
        else:
            self.temp(
                "CREATE OR REPLACE TEMP TABLE _cls_new AS "
                + counted_sql(
                    "_cls_src",
                    self.keys,
                    self.new_filter,
                    urls=self.new is None or self.new.url_server != 0,
                )
            )
        x(f"""INSERT INTO classifier_hosts
            SELECT host, port, hkind, coalesce(svc, ''), coalesce(ns, ''), sum(n)
            FROM ({hosts_sql("_cls_new", "sum(n)")}) GROUP BY ALL
            ON CONFLICT (host, port, hkind, svc, ns) DO UPDATE SET
                n = classifier_hosts.n + excluded.n""")
        x("""INSERT INTO classifier_components
            SELECT svc, coalesce(ns, ''), coalesce(role, ''), sum(n)
            FROM _cls_new WHERE svc IS NOT NULL GROUP BY ALL
            ON CONFLICT (svc, ns, role) DO UPDATE SET n = classifier_components.n + excluded.n""")

    # --- listening and jobs -----------------------------------------------------------------

    def forget_seen(self, table: str) -> int:
        """Drops what table holds for the touched traces that had facts stored (re-derived);
        returns how many rows went."""
        if not self.seen:
            return 0
        row = self.x(
            f"DELETE FROM {table} WHERE start_time >= {self.lo} "
            "AND tk IN (SELECT tk FROM _cls_seen)"
        ).fetchone()
        return int(row[0]) if row else 0

    def merge_receives(self) -> None:
        """Receives (HANDLED_KINDS), kept to attribute a worker's untraced handling later."""
        self.forget_seen("classifier_receives")
        self.x(f"""INSERT INTO classifier_receives
            SELECT tk, sk, inst, start_time, gkey FROM _cls_fnew
            WHERE fkind IN {HANDLED_KINDS} AND inst IS NOT NULL""")

    def merge_handling(self) -> None:
        """What consumers did while handling the events they received."""
        x = self.x
        # In the trace that received the event: the consumer's calls after the receive, each
        # the handling of the latest receive of its service at or before it (of those at one
        # moment, the greatest span key). The receives are first made one per trace, service
        # and moment (the greatest span key), so the ASOF join has no tie to leave to its sort's
        # order (which differed from run to run); an ASOF join, as a long trace of one worker
        # (thousands of receives and calls) would make a hash join with the inequality pair
        # every call with every receive before it.
        x(f"""INSERT INTO classifier_handling
            WITH recv AS (
                SELECT tk, sk, coalesce(svc, '') AS svc, start_time, gkey
                FROM _cls_fnew WHERE fkind IN {HANDLED_KINDS}
            ),
            recv_spans AS (
                SELECT tk, svc, start_time, max(sk) AS sk FROM recv GROUP BY tk, svc, start_time
            ),
            calls AS (
                SELECT tk, coalesce(svc, '') AS svc, start_time, gkey
                FROM _cls_fnew AS f
                SEMI JOIN recv_spans AS r
                    ON r.tk = f.tk AND r.svc = coalesce(f.svc, '')
                WHERE fkind IN {_CALL_KINDS}
            ),
            pairs AS (
                SELECT DISTINCT r.tk, r.sk, c.gkey
                FROM calls AS c ASOF JOIN recv_spans AS r
                  ON r.tk = c.tk AND r.svc = c.svc AND c.start_time >= r.start_time
            )
            SELECT DISTINCT recv.gkey, pairs.gkey
            FROM pairs JOIN recv USING (tk, sk)
            ON CONFLICT DO NOTHING""")
        # A worker that leaves every call in a trace of its own: what the same instance does
        # after a receive, until its next receive, within the trace window of it. Each call
        # is tested on its own (whichever batch holds it, as in a full run), and the receives
        # are read only between literal bounds, which the zone maps on start_time cut from a
        # store of any age. Of an instance's receives at one moment, the one of the greatest
        # span key (then trace key): made one per instance and moment before the ASOF join,
        # which would leave such a tie to its sort's order.
        if self.none_new("lone"):
            return  # no new span can be such a call, and no stored one is read
        lone = self.temp(f"""CREATE OR REPLACE TEMP TABLE _cls_lone AS
            SELECT c.inst, c.start_time, c.gkey
            FROM _cls_fnew AS c
            WHERE c.fkind IN {_CALL_KINDS} AND c.pk IS NULL AND c.inst IS NOT NULL
              AND (c.tk, coalesce(c.svc, '')) NOT IN (
                  SELECT (tk, coalesce(svc, '')) FROM _cls_fnew
                  WHERE fkind IN {HANDLED_KINDS})""")
        if not lone:
            return
        earliest = _moment(f"min(start_time) - INTERVAL '{TRACE_WINDOW}'")
        bounds = self.con.execute(
            f"SELECT {earliest}, {_moment('max(start_time)')} FROM _cls_lone"
        ).fetchone()
        if bounds is None or bounds[0] is None:
            return
        x(f"""INSERT INTO classifier_handling
            WITH rs AS (
                SELECT * FROM classifier_receives
                WHERE start_time BETWEEN TIMESTAMPTZ '{bounds[0]}+00'
                                     AND TIMESTAMPTZ '{bounds[1]}+00'
                  AND inst IN (SELECT inst FROM _cls_lone)
            ),
            rs_spans AS (
                SELECT inst, start_time, max({{'s': sk, 't': tk}}) AS k
                FROM rs GROUP BY inst, start_time
            ),
            pairs AS (
                SELECT DISTINCT r.k.t AS tk, r.k.s AS sk, c.gkey
                FROM _cls_lone AS c ASOF JOIN rs_spans AS r
                  ON r.inst = c.inst AND c.start_time >= r.start_time
                WHERE c.start_time <= r.start_time + INTERVAL '{TRACE_WINDOW}'
            )
            SELECT DISTINCT rs.gkey, pairs.gkey
            FROM pairs JOIN rs USING (tk, sk)
            ON CONFLICT DO NOTHING""")

    def merge_runs(self) -> None:
        """Runs of self-started work that scan a table: what they wrote in their own trace."""
        x = self.x
        forgotten = self.forget_seen("classifier_runs")
        scanned = bool(
            self.temp("""CREATE OR REPLACE TEMP TABLE _cls_scanned AS
                SELECT DISTINCT tk FROM _cls_fnew
                WHERE fkind = 'dynamodb' AND op IN ('Scan', 'Query')""")
        )
        if scanned:
            self.insert_runs()
        if forgotten:
            self.runs_moved = True
        if self.full or forgotten:
            # Runs went (or none were gathered yet): every job gathered again.
            gather_jobs(self.con, x)
        elif scanned:
            # Only new runs: merged into their jobs. They start within the window read (their
            # roots are among its spans), so the runs are read from there on, not all of them
            # (they grow with every run of every job); a run of these traces stored before
            # would merge again to the same sets. A job keeps the moments of its start times,
            # not the times, so a merge writes a row per job whatever its age. Sorting a list
            # costs each row a sort of its own, so the usual cases skip it: tables and writes
            # the job already has leave its lists as they are.
            new_runs = " AND start_time >= {} AND tk IN (SELECT tk FROM _cls_scanned)"
            moved = x(f"""INSERT INTO classifier_jobs {_jobs_sql(new_runs.format(self.lo))}
                ON CONFLICT (jkey) DO UPDATE SET {_JOBS_MOVED}
                RETURNING runs""").fetchall()
            if any(int(runs) < 0 for (runs,) in moved):
                # A run that did not come after its job's last: those jobs gathered again.
                again = _jobs_sql(
                    " AND hash(svc, ns, name) IN (SELECT jkey FROM classifier_jobs WHERE runs < 0)"
                )
                x(f"""UPDATE classifier_jobs AS j
                    SET last_us = g.last_us, runs = g.runs, gap_sq = g.gap_sq
                    FROM ({again}) AS g WHERE j.jkey = g.jkey""")

    def insert_runs(self) -> None:
        """classifier_runs gets the runs among the touched traces that scanned a table."""
        # A batch's classified spans are not kept (derive_facts): its roots come from its rows.
        roots = roots_sql("_cls_s") if self.full else roots_of_sql("_cls_src", self.keys)
        row = self.x(f"""INSERT INTO classifier_runs
            WITH scanned AS (FROM _cls_scanned),
            roots AS (
                SELECT * FROM ({roots})
                WHERE tk IN (SELECT tk FROM scanned)
            )
            SELECT r.trace_id, r.span_id, r.tk, r.svc, r.ns, r.inst, r.name, r.start_time,
                   list_distinct(list(f.target) FILTER (
                       WHERE f.fkind = 'dynamodb' AND f.op IN ('Scan', 'Query'))) AS scans,
                   list_distinct(list(f.gkey) FILTER (WHERE f.is_write)) AS writes,
                   bool_or(f.fkind IN {_LISTEN_KINDS}) AS listens
            FROM roots AS r
            JOIN (FROM _cls_fnew WHERE tk IN (SELECT tk FROM _cls_scanned)) AS f
              ON f.tk = r.tk AND coalesce(f.svc, '') = coalesce(r.svc, '')
            GROUP BY ALL
            HAVING len(scans) > 0""").fetchone()
        self.runs_moved = self.runs_moved or bool(row and row[0])

    def drop_temporaries(self) -> None:
        """Drops the temporaries this merge made, _MOVED among them, in one call: before
        derive (its memory, and its names: _cls_rows), or after refresh_stats."""
        if self.temporaries:
            self.x(
                "; ".join(
                    f"DROP {kind} IF EXISTS {name}" for name, kind in self.temporaries.items()
                )
            )
            self.temporaries.clear()


def classifier_hook(landscape: Path | None) -> Callable[[duckdb.DuckDBPyConnection], None]:
    """The classifier as a store's owner runs it: after its commits (the receiver's after_commit
    hook, called at most once per interval), incremental, on the owner's connection."""
    loaded = None if landscape is None else load_landscape(landscape)

    def hook(con: duckdb.DuckDBPyConnection) -> None:
        classify(con, loaded)

    return hook


def refresh_store(db_path: Path, landscape: Landscape | None = None) -> None:
    """Classifies the store at db_path unless an owner process is alive (it keeps it fresh)."""
    if open_reader(db_path).owner is not None:
        return
    with short_lock(db_path, create=False) as store:
        classify(store.con, landscape)
