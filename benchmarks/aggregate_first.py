"""Aggregate first, facts after: an experiment for issue 15's full classification (not part of
the default benchmark run).

`python -m benchmarks.aggregate_first --db STORE [--repeats 3] [--input-keys] [--labels]
[--storage]` times,
in turn on the same store and connection (read only; only temporary tables are made):

(a) the bare parent/child join, the benchmark's peer (benchmarks.classify.BARE_JOIN);
(b) today's facts, as a full classification derives them (engine._Merge.derive_facts: the Lambda
    invocations and the facts table, one row per fact); apart, (b') those facts into
    classifier_groups and classifier_hist and (b'') into classifier_spans, by the full run's own
    steps (merge_groups, replace_stored_facts; temporary tables);
(c) the same groups and histogram derived the other way round: the AWS spans grouped by the
    columns their facts read (with their component and histogram bucket), the HTTP calls joined
    to their callees and grouped likewise, the invocations grouped; today's facts statement
    (facts_sql) then runs over those few thousand rows, each carrying its aggregates, and they
    are summed into groups; (c') the same without the histogram's buckets.

Each is timed by its wall clock and by the CPU time of the process (getrusage: DuckDB's threads
included). It then checks that (c)'s groups and histogram equal those (b') made (EXCEPT ALL both
ways). With --input-keys it copies the store, gives each span the key of its
fact inputs as a store could when storing it (ADD_INPUT_KEYS), and times (c*), (c) over those
keys, against (a) and (c) on the copy, checking (c*) against (c). With --labels it copies the
store, classifies it in full, and times reading one edge's spans from span_labels against
deriving them from the spans when read, which is what (c) leaves to the readers of span_labels.
With --storage it times what storing today's facts table costs (Storage): the facts statement
stored, as a bare count and stored with only the columns the later statements read, and the
stored table copied with its integers alone, with each text column besides, and whole.
"""

from __future__ import annotations

import argparse
import resource
import shutil
import statistics
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from functools import partial
from pathlib import Path
from typing import NamedTuple

import duckdb

from benchmarks.classify import BARE_JOIN
from benchmarks.generate import landscape_path
from seamscope.classifiers import facts
from seamscope.classifiers.engine import HIST_BASE, _Merge, classify
from seamscope.classifiers.facts import JoinKeys, classified_sql, facts_sql
from seamscope.classifiers.landscape import load_landscape
from seamscope.classifiers.results import sql_list
from seamscope.classifiers.schema import INTERNAL_DDL

BUCKET = (
    f"CAST(floor(ln(greatest(duration_ns, 1000) / 1e6) / ln({HIST_BASE})) AS SMALLINT) AS bucket"
)
NO_BUCKET = "0::SMALLINT AS bucket"


def _aggregates(role: str, err: str) -> str:
    """What a group keeps of the spans it counts; it sums again over inputs and buckets."""
    return f"""max({role}) AS role, count(*) AS n, count(*) FILTER (WHERE {err}) AS errors,
    min(start_time) AS first_seen, max(start_time) AS last_seen,
    max(struct_pack(t := start_time, id := trace_id)) AS sample"""


_AGGREGATES = _aggregates("role", "err")
# The same over the store's own columns (classified_sql's role and err).
_STORED_AGGREGATES = _aggregates(
    "service_role", "status_code = 'ERROR' OR coalesce(http_status_code, 0) >= 500"
)
# The group's columns, as classifier_groups has them.
GROUP_COLUMNS = (
    "gkey, svc, ns, role, fkind, target, callee_svc, callee_ns, op, is_write, n, errors, "
    "first_seen, last_seen, sample_trace_id"
)
# What an input row carries besides what its facts read.
_CARRIED = "role, n, errors, first_seen, last_seen, sample, bucket"
# The columns of classified_sql's rows that facts_sql reads and no input row gives.
_UNUSED = ", ".join(
    f"NULL::{t} AS {c}"
    for c, t in (
        ("trace_id", "VARCHAR"),
        ("span_id", "VARCHAR"),
        ("parent_span_id", "VARCHAR"),
        ("name", "VARCHAR"),
        ("inst", "VARCHAR"),
        ("start_time", "TIMESTAMPTZ"),
        ("duration_ns", "BIGINT"),
        ("err", "BOOLEAN"),
        ("links", "JSON"),
    )
)


def _facts_of_inputs(invocations: str) -> str:
    """The groups' facts derived from grouped rows, by today's facts_sql itself: CTEs
    aws_inputs, http_inputs (with the callee found for their spans, and has_callee) and the
    invocations grouped (`invocations`) come before; each input row becomes one row of the
    relation facts_sql reads (an HTTP one with a server row under it for its callee), numbered
    by batch_id, and its facts take its aggregates back by that number. Gives (gkey, bucket)
    rows with the group's columns."""
    return f"""inputs AS (
    SELECT row_number() OVER () AS id, * FROM (
        SELECT 'aws' AS src, * FROM aws_inputs
        UNION ALL BY NAME SELECT 'http' AS src, * FROM http_inputs
        UNION ALL BY NAME SELECT 'run' AS src, * FROM (
            SELECT svc, ns, fn, {BUCKET}, {_AGGREGATES} FROM {invocations} GROUP BY ALL
        )
    )
),
input_spans AS (
    SELECT id::UBIGINT AS tk, 1::UBIGINT AS sk, NULL::UBIGINT AS pk, id AS batch_id,
           src AS cat, NULL::VARCHAR AS role, NULL::VARCHAR AS http_route,
           * EXCLUDE (id, src, {_CARRIED}, has_callee, callee_svc, callee_ns, callee_route),
           {_UNUSED}
    FROM inputs WHERE src IN ('aws', 'http')
    UNION ALL BY NAME
    SELECT id::UBIGINT AS tk, 2::UBIGINT AS sk, 1::UBIGINT AS pk, id AS batch_id,
           'server' AS cat, callee_svc AS svc, callee_ns AS ns, callee_route AS http_route
    FROM inputs WHERE src = 'http' AND has_callee
),
input_runs AS (
    SELECT id::UBIGINT AS tk, 1::UBIGINT AS sk, NULL::UBIGINT AS pk, id AS batch_id, svc, ns,
           NULL::VARCHAR AS role, fn, {_UNUSED}
    FROM inputs WHERE src = 'run'
)
SELECT f.gkey, any_value(f.svc) AS svc, any_value(f.ns) AS ns, any_value(f.fkind) AS fkind,
       any_value(f.target) AS target, any_value(f.callee_svc) AS callee_svc,
       any_value(f.callee_ns) AS callee_ns, any_value(f.op) AS op,
       any_value(f.is_write) AS is_write, i.bucket, max(i.role) AS role,
       sum(i.n)::BIGINT AS n, sum(i.errors)::BIGINT AS errors,
       min(i.first_seen) AS first_seen, max(i.last_seen) AS last_seen, max(i.sample) AS sample
FROM ({facts_sql("input_spans", "input_runs")}) AS f
JOIN inputs AS i ON i.id = f.batch_id
GROUP BY f.gkey, i.bucket"""


def _category(alias: str, cat: str) -> str:
    """The condition that a span (alias.) of classified_sql's rows is of category cat."""
    return f"{alias}cat = '{cat}'"


def _calls(spans: str, inputs: str, bucket: str, is_: Callable[[str, str], str] = _category) -> str:
    """CTEs callees, aws_parents and calls: the HTTP calls of `spans` (classified_sql's columns)
    joined to their callee (a server span under them) as facts_sql joins them, and grouped by
    `inputs` (columns of c), the callee, the URL where no traced server names the route (the
    path is read from it) and the bucket. is_(alias, category): the condition on a span's
    category."""
    return f"""callees AS (
    SELECT tk, pk, min(svc) AS callee_svc, min(ns) AS callee_ns, min(http_route) AS callee_route
    FROM {spans} WHERE {is_("", "server")} AND pk IS NOT NULL
    GROUP BY ALL
),
-- The AWS spans with an HTTP child: a call under one is dropped unless a server answered it.
aws_parents AS (
    SELECT DISTINCT a.tk, a.sk FROM {spans} AS a
    SEMI JOIN {spans} AS h ON h.tk = a.tk AND h.pk = a.sk AND {is_("h.", "http")}
    WHERE {is_("a.", "aws")} AND NOT a.processing
),
calls AS (
    SELECT {inputs}, e.tk IS NOT NULL AS has_callee, e.callee_svc, e.callee_ns,
           e.callee_route, CASE WHEN e.callee_route IS NULL THEN c.http_url END AS http_url,
           {bucket}, {_AGGREGATES}
    FROM {spans} AS c
    LEFT JOIN callees AS e ON e.tk = c.tk AND e.pk = c.sk
    LEFT JOIN aws_parents AS a ON a.tk = c.tk AND a.sk = c.pk
    WHERE {is_("c.", "http")} AND (e.callee_svc IS NOT NULL OR a.tk IS NULL)
    GROUP BY ALL
)"""


def aggregate_first_sql(spans: str, invocations: str, bucket: str = BUCKET) -> str:
    """(gkey, bucket) rows with the group's columns and its aggregates over the spans in that
    bucket, from `spans` (classified_sql's rows) and `invocations` (invocations_sql's); `bucket`
    NO_BUCKET: one row per group (no histogram)."""
    return f"""
WITH aws_inputs AS (
    -- The columns an AWS span's facts read, and the group's other columns: a few thousand rows.
    SELECT svc, ns, kind, aws, op, processing, db_tables, dest, events, sns_topics,
           stream_name, stream_arn, s3_bucket, fn, {bucket}, {_AGGREGATES}
    FROM {spans} WHERE cat = 'aws'
    GROUP BY ALL
),
{_calls(spans, "c.svc, c.ns, c.method, c.host, c.port, c.gql_name, c.gql_type", bucket)},
http_inputs AS (FROM calls),
{_facts_of_inputs(invocations)}"""


# (c)'s (gkey, bucket) rows (the table {rows}) summed into groups, as classifier_groups keeps
# them.
_AF_GROUPS = """SELECT gkey, any_value(svc) AS svc, any_value(ns) AS ns, max(role) AS role,
       any_value(fkind) AS fkind, any_value(target) AS target,
       any_value(callee_svc) AS callee_svc, any_value(callee_ns) AS callee_ns,
       any_value(op) AS op, any_value(is_write) AS is_write, sum(n)::BIGINT AS n,
       sum(errors)::BIGINT AS errors, min(first_seen) AS first_seen,
       max(last_seen) AS last_seen, max(sample).id AS sample_trace_id
FROM {rows} GROUP BY gkey"""


# --- (c*): the fact inputs keyed when a span is stored ---------------------------------------
# What a span's facts read, beyond its trace: an AWS span's facts depend on these columns only,
# an HTTP call's on these and its callee (and its URL where no traced server names the route).
_AWS_INPUTS = (
    "service_name, service_namespace, kind, rpc_service, db_system, messaging_system, "
    "rpc_method, db_operation, messaging_operation, db_tables, messaging_destination, events, "
    "sns_topics, "
    "stream_name, stream_arn, s3_bucket, faas_invoked_name"
)
_HTTP_INPUTS = (
    "service_name, service_namespace, http_method, server_address, server_port, "
    "graphql_operation_name, graphql_operation_type"
)
_HTTP_SPAN = "kind IN ('CLIENT', 'PRODUCER') AND http_method IS NOT NULL"
# What the store would compute once per span when it stores it, as it does the join keys: the
# category (1 AWS, 2 an HTTP call, 3 a server) and a hash of the
# columns its facts read; and a table of every input met (a few thousand rows), with the
# columns classified_sql gives them (its span_id carries the input's key through).
ADD_INPUT_KEYS = (
    "ALTER TABLE spans ADD COLUMN fact_cat UTINYINT",
    "ALTER TABLE spans ADD COLUMN fact_input UBIGINT",
    f"""UPDATE spans SET
        fact_cat = CASE
            WHEN {facts._AWS_SPAN} THEN 1
            WHEN kind = 'SERVER' THEN 3
            WHEN {_HTTP_SPAN} THEN 2 END,
        fact_input = CASE
            WHEN {facts._AWS_SPAN} THEN hash({_AWS_INPUTS})
            WHEN {_HTTP_SPAN} THEN hash({_HTTP_INPUTS}) END""",
    "CREATE TABLE fact_inputs AS SELECT CAST(span_id AS UBIGINT) AS input, * EXCLUDE (span_id) "
    "FROM ("
    + classified_sql(
        "(SELECT * REPLACE (CAST(fact_input AS VARCHAR) AS span_id) FROM "
        "(SELECT DISTINCT ON (fact_input) * FROM spans WHERE fact_cat IN (1, 2)))",
        facts.STORED_KEYS,
    )
    + ")",
    "CHECKPOINT",
)


_FACT_CATS = {"aws": 1, "http": 2, "server": 3}


def _fact_cat(alias: str, cat: str) -> str:
    """The condition on a keyed span's stored category (an integer the scan filters on)."""
    return f"{alias}fact_cat = {_FACT_CATS[cat]}"


def keyed_spans_sql(top: int) -> str:
    """The keyed store's spans that can hold facts, by their stored keys and category, with
    the few columns (c*) reads of them under classified_sql's names."""
    return f"""SELECT trace_key AS tk, span_key AS sk, parent_key AS pk, fact_input, fact_cat,
        service_name AS svc, service_namespace AS ns, service_role AS role, http_route,
        http_url, start_time, duration_ns, trace_id,
        coalesce(messaging_operation = 'process', false) AS processing,
        status_code = 'ERROR' OR coalesce(http_status_code, 0) >= 500 AS err
    FROM spans WHERE batch_id <= {top} AND fact_cat IS NOT NULL"""


def keyed_sql(spans: str, invocations: str, bucket: str = BUCKET) -> str:
    """(c) over the keyed store (`spans`: keyed_spans_sql's rows): the AWS spans grouped by
    their input's key alone, the HTTP calls by their input's key, callee and URL, each input's
    columns then read from fact_inputs."""
    return f"""
WITH aws_groups AS (
    SELECT fact_input, {bucket}, {_AGGREGATES} FROM {spans} WHERE fact_cat = 1 GROUP BY ALL
),
aws_inputs AS (
    SELECT d.svc, d.ns, d.kind, d.aws, d.op, d.processing, d.db_tables, d.dest, d.events,
           d.sns_topics,
           d.stream_name, d.stream_arn, d.s3_bucket, d.fn, g.* EXCLUDE (fact_input)
    FROM aws_groups AS g JOIN fact_inputs AS d ON d.input = g.fact_input
),
{_calls(spans, "c.fact_input", bucket, _fact_cat)},
http_inputs AS (
    SELECT d.svc, d.ns, d.method, d.host, d.port, d.gql_name, d.gql_type,
           g.* EXCLUDE (fact_input)
    FROM calls AS g JOIN fact_inputs AS d ON d.input = g.fact_input
),
{_facts_of_inputs(invocations)}"""


class Timing(NamedTuple):
    wall_ms: float
    cpu_ms: float


def _cpu_s() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def measure(fn: Callable[[], object]) -> Timing:
    """The wall clock and the CPU time of the process (DuckDB's threads included) fn took."""
    wall, cpu = time.perf_counter(), _cpu_s()
    fn()
    return Timing((time.perf_counter() - wall) * 1000, (_cpu_s() - cpu) * 1000)


def _keys(con: duckdb.DuckDBPyConnection, source: str) -> JoinKeys:
    """The join keys a full run takes: the stored ones where no span lacks one."""
    row = con.execute(
        f"SELECT count(*) FROM (SELECT 1 FROM {source} WHERE {facts.MISSING_KEYS} LIMIT 1)"
    )
    missing = row.fetchone()
    return facts.BY_KEYS if missing and missing[0] else facts.STORED_KEYS


# The state tables today's full run fills from its facts (schema.INTERNAL_DDL), by name.
_STATE_DDL = {
    table: next(d for d in INTERNAL_DDL if f"EXISTS {table} (" in d)
    for table in ("classifier_spans", "classifier_groups", "classifier_hist")
}


class Experiment:
    """The three ways over one store, on one connection."""

    def __init__(self, con: duckdb.DuckDBPyConnection) -> None:
        self.con = con
        row = con.execute("SELECT max(batch_id), count(*) FROM spans").fetchone()
        self.top, self.spans = (int(row[0] or 0), int(row[1])) if row else (0, 0)
        con.execute(
            f"CREATE OR REPLACE TEMP VIEW _af_src AS SELECT {facts.SPAN_COLUMNS} FROM spans "
            f"WHERE batch_id <= {self.top}"
        )
        keys = _keys(con, "_af_src")
        con.execute("CREATE OR REPLACE TEMP VIEW _af_s AS " + classified_sql("_af_src", keys))
        con.execute(
            "CREATE OR REPLACE TEMP VIEW _af_inv AS " + facts.invocations_sql("_af_src", keys)
        )
        self.joined = 0
        self.merge: _Merge | None = None

    def bare_join(self) -> None:
        row = self.con.execute(BARE_JOIN).fetchone()
        self.joined = int(row[0]) if row else 0

    def todays_facts(self) -> None:
        """The facts as a full classification derives them (the Lambda invocations included),
        with the state tables they go to made anew and empty (temporary, over any stored)."""
        for table, ddl in _STATE_DDL.items():
            self.con.execute(
                ddl.replace(
                    f"CREATE TABLE IF NOT EXISTS {table}", f"CREATE OR REPLACE TEMP TABLE {table}"
                )
            )
        self.merge = _Merge(self.con, 0, self.top, full=True, new=None)
        self.merge.select_all_spans()
        self.merge.derive_facts()

    def todays_groups(self) -> None:
        """The facts into classifier_groups and classifier_hist, as a full run puts them."""
        self._merge().merge_groups()

    def todays_state(self) -> None:
        """The per-fact state rows a full run writes (classifier_spans), from (b)'s facts."""
        self._merge().replace_stored_facts()

    def _merge(self) -> _Merge:
        if self.merge is None:
            raise RuntimeError("todays_facts runs first")
        return self.merge

    def aggregate_first(self) -> None:
        """(c): groups and histogram, with no row per fact."""
        self._summed("_af", aggregate_first_sql("_af_s", "_af_inv"))

    def _summed(self, prefix: str, sql: str) -> None:
        """{prefix}_gb: the (gkey, bucket) rows of sql; {prefix}_groups and {prefix}_hist
        summed from them."""
        x = self.con.execute
        x(f"CREATE OR REPLACE TEMP TABLE {prefix}_gb AS {sql}")
        x(
            f"CREATE OR REPLACE TEMP TABLE {prefix}_groups AS "
            + _AF_GROUPS.format(rows=f"{prefix}_gb")
        )
        x(
            f"CREATE OR REPLACE TEMP TABLE {prefix}_hist AS "
            f"SELECT gkey, bucket, sum(n)::BIGINT AS n FROM {prefix}_gb GROUP BY ALL"
        )

    def keyed(self) -> None:
        """(c*): (c) over a store whose spans carry their fact input's key (add_input_keys)."""
        self._summed("_ak", keyed_sql("_ak_s", "_af_inv"))

    def groups_only(self) -> None:
        """(c) without the histogram: the groups alone, to show what its buckets cost."""
        self.con.execute(
            "CREATE OR REPLACE TEMP TABLE _af_g AS "
            + aggregate_first_sql("_af_s", "_af_inv", NO_BUCKET)
        )

    def counts(self) -> dict[str, int]:
        """Rows of today's facts, of (c)'s (gkey, bucket) rows and of their AWS inputs."""
        out = {}
        for name, sql in (
            ("facts", "SELECT count(*) FROM _cls_fnew"),
            ("groups", "SELECT count(*) FROM _af_groups"),
            ("group buckets", "SELECT count(*) FROM _af_gb"),
            ("hist", "SELECT count(*) FROM _af_hist"),
        ):
            row = self.con.execute(sql).fetchone()
            out[name] = int(row[0]) if row else 0
        return out

    def differences(
        self, mine: str = "_af_", ref: str = "classifier_"
    ) -> dict[str, tuple[int, int]]:
        """Rows of {mine}groups and {mine}hist not in {ref}'s and back (EXCEPT ALL): (c)
        against the state today's full run makes of (b)'s facts by default."""
        out = {}
        for name, columns in (("groups", GROUP_COLUMNS), ("hist", "gkey, bucket, n")):
            both = []
            pair = (f"{mine}{name}", f"{ref}{name}")
            for a, b in (pair, pair[::-1]):
                row = self.con.execute(
                    f"SELECT count(*) FROM (SELECT {columns} FROM {a} "
                    f"EXCEPT ALL SELECT {columns} FROM {b})"
                ).fetchone()
                both.append(int(row[0]) if row else -1)
            out[name] = (both[0], both[1])
        return out


def _median(values: list[float]) -> float:
    return statistics.median(values) if values else float("nan")


def _load() -> str:
    try:
        with open("/proc/loadavg", encoding="ascii") as f:
            return " / ".join(f.read().split()[:3])
    except OSError:
        return "?"


WAYS = (
    ("(a) bare parent/child join", "bare_join"),
    ("(b) today's facts (invocations and facts table)", "todays_facts"),
    ("(b') today's groups and histogram from (b)'s facts (merge_groups)", "todays_groups"),
    ("(b'') today's per-fact state rows (classifier_spans)", "todays_state"),
    ("(c) aggregate first: groups and histogram", "aggregate_first"),
    ("(c') the same without the histogram buckets (groups only)", "groups_only"),
)


Ways = tuple[tuple[str, str], ...]


def _rounds(
    exp: object, ways: Ways, repeats: int, log: Callable[[str], None]
) -> dict[str, list[Timing]]:
    """Each way (a method of exp, by name) timed once per round, in turn."""
    times: dict[str, list[Timing]] = {name: [] for name, _ in ways}
    for round_ in range(repeats):
        for name, method in ways:
            taken = measure(getattr(exp, method))
            times[name].append(taken)
            log(
                f"round {round_ + 1}: {name}: {taken.wall_ms:,.0f} ms wall, "
                f"{taken.cpu_ms:,.0f} ms CPU"
            )
    return times


def _table(ways: Ways, times: dict[str, list[Timing]]) -> list[str]:
    """A Markdown table of the medians and runs, with ratios to the first way (the join)."""
    bare = times[ways[0][0]]
    bare_wall = _median([t.wall_ms for t in bare])
    bare_cpu = _median([t.cpu_ms for t in bare])
    lines = [
        "| statement | wall, median (runs) | CPU, median (runs) | x (a) wall | x (a) CPU |",
        "|---|---|---|---|---|",
    ]
    for name, _ in ways:
        walls = [t.wall_ms for t in times[name]]
        cpus = [t.cpu_ms for t in times[name]]
        wall, cpu = _median(walls), _median(cpus)
        lines.append(
            f"| {name} | {wall:,.0f} ms ({', '.join(f'{w:,.0f}' for w in walls)}) "
            f"| {cpu:,.0f} ms ({', '.join(f'{c:,.0f}' for c in cpus)}) "
            f"| {wall / bare_wall:.2f}x | {cpu / bare_cpu:.2f}x |"
        )
    return lines


def run(db: Path, repeats: int, log: Callable[[str], None] = print) -> tuple[bool, str]:
    """Runs the rounds and the check; returns whether (c) equals today's groups, and the
    Markdown table of the figures."""
    con = duckdb.connect(str(db), read_only=True)
    try:
        con.execute("SET enable_progress_bar = false")
        exp = Experiment(con)
        times = _rounds(exp, WAYS, repeats, log)
        counts = exp.counts()
        diffs = exp.differences()
    finally:
        con.close()
    lines = _table(WAYS, times)
    bare_cpu = _median([t.cpu_ms for t in times[WAYS[0][0]]])
    equal = all(a == 0 and b == 0 for a, b in diffs.values())
    med = {name: _median([t.cpu_ms for t in times[name]]) for name, _ in WAYS}
    today = sum(med[name] for name, _ in WAYS[1:4])
    mine = med[WAYS[4][0]]
    lines.append(
        f"| today's (b) + (b') + (b''), summed | | {today:,.0f} ms | | {today / bare_cpu:.2f}x |"
    )
    lines.append(
        f"\n(c) takes {mine / med[WAYS[1][0]]:.2f}x the CPU of (b) and "
        f"{mine / today:.2f}x that of (b) + (b') + (b'')."
    )
    lines.append("")
    lines.append(
        f"{exp.spans:,} spans, {exp.joined:,} child spans joined; {counts['facts']:,} facts "
        f"today; (c): {counts['group buckets']:,} (group, bucket) rows, {counts['groups']:,} "
        f"groups, {counts['hist']:,} histogram rows. EXCEPT ALL both ways against "
        "classifier_groups and classifier_hist as today's full run fills them from (b)'s "
        f"facts: groups {diffs['groups']}, histogram {diffs['hist']} "
        f"({'equal' if equal else 'DIFFERENT'})."
    )
    return equal, "\n".join(lines)


# The facts table's integer and time columns; and what the statements after it read of the rest
# (a narrow facts table), the scans of runs as a flag instead of the operation.
_FACT_INTS = "tk, sk, pk, batch_id, gkey, start_time, duration_ns, err"
_NARROW = (
    f"{_FACT_INTS}, inst, role, svc, fkind, is_write, "
    "(fkind = 'dynamodb' AND op IN ('Scan', 'Query')) AS scans, links"
)
_FACTS_TABLE = "CREATE OR REPLACE TEMP TABLE _cls_fnew AS "


class Storage:
    """--storage: what storing today's facts table costs, beside the bare join (temporary
    tables only). Today's facts statement is taken as the full run makes it (its statements
    recorded), and timed stored, as a bare count, and stored with fewer columns; and the stored
    table copied with its integer and time columns alone, with each text column besides them,
    and whole."""

    def __init__(self, con: duckdb.DuckDBPyConnection) -> None:
        self.con = con
        self.exp = Experiment(con)
        merge = _Merge(con, 0, self.exp.top, full=True, new=None)
        made: list[str] = []
        run = merge.x

        def recording(sql: str, *params: object) -> duckdb.DuckDBPyConnection:
            made.append(sql)
            return run(sql, *params)

        merge.x = recording
        merge.select_all_spans()
        merge.derive_facts()
        self.query = next(s for s in made if s.startswith(_FACTS_TABLE))[len(_FACTS_TABLE) :]
        self.texts = [
            str(name)
            for name, kind, *_ in con.execute("DESCRIBE _cls_fnew").fetchall()
            if kind in ("VARCHAR", "JSON")
        ]
        self.ways: list[tuple[str, str]] = [
            ("(a) bare parent/child join", "bare_join"),
            ("(s) today's facts statement, its table stored", "stored"),
            ("(s0) the same statement as a count, nothing stored", "counted"),
            ("(sn) the same, stored with the columns later statements read", "narrow"),
            ("(t) the stored table copied: integers and times only", "copy_ints"),
        ]
        for column in self.texts:
            setattr(self, f"copy_{column}", partial(self._copy, f"{_FACT_INTS}, {column}"))
            self.ways.append((f"(t) the same with `{column}`", f"copy_{column}"))
        self.ways.append(("(t) the stored table copied whole", "copy_all"))

    def bare_join(self) -> None:
        self.exp.bare_join()

    def stored(self) -> None:
        self.con.execute("CREATE OR REPLACE TEMP TABLE _fs_facts AS " + self.query)

    def counted(self) -> None:
        self.con.execute(f"SELECT count(*) FROM ({self.query})").fetchall()

    def narrow(self) -> None:
        self.con.execute(
            f"CREATE OR REPLACE TEMP TABLE _fs_narrow AS SELECT {_NARROW} FROM ({self.query})"
        )

    def copy_ints(self) -> None:
        self._copy(_FACT_INTS)

    def copy_all(self) -> None:
        self._copy("*")

    def _copy(self, columns: str) -> None:
        self.con.execute(
            f"CREATE OR REPLACE TEMP TABLE _fs_copy AS SELECT {columns} FROM _cls_fnew"
        )


def storage(db: Path, repeats: int, log: Callable[[str], None] = print) -> str:
    """--storage: the Markdown table of what storing today's facts costs."""
    con = duckdb.connect(str(db), read_only=True)
    try:
        con.execute("SET enable_progress_bar = false")
        parts = Storage(con)
        ways = tuple(parts.ways)
        times = _rounds(parts, ways, repeats, log)
        row = con.execute("SELECT count(*) FROM _cls_fnew").fetchone()
        facts_count = int(row[0]) if row else 0
    finally:
        con.close()
    med = {name: _median([t.wall_ms for t in times[name]]) for name, _ in ways}
    stored, counted = med[ways[1][0]], med[ways[2][0]]
    lines = _table(ways, times)
    narrow = med[ways[3][0]]
    lines.append(
        f"\n{facts_count:,} facts. Stored, the statement takes {stored / counted:.2f}x its time "
        f"as a count (wall); with fewer columns, {narrow / stored:.2f}x its time stored whole."
    )
    return "\n".join(lines)


KEYED_WAYS = (
    ("(a) bare parent/child join", "bare_join"),
    ("(c) aggregate first: groups and histogram", "aggregate_first"),
    ("(c*) the same over fact inputs keyed when stored", "keyed"),
)


@contextmanager
def _copy(db: Path) -> Iterator[duckdb.DuckDBPyConnection]:
    """A connection to a copy of the store (gone after)."""
    with tempfile.TemporaryDirectory(prefix="aggregate-first-", dir=db.parent) as tmp:
        copy = Path(tmp) / db.name
        shutil.copyfile(db, copy)
        con = duckdb.connect(str(copy))
        try:
            con.execute("SET enable_progress_bar = false")
            yield con
        finally:
            con.close()


def keyed_run(db: Path, repeats: int, log: Callable[[str], None] = print) -> tuple[bool, str]:
    """Copies the store, gives its spans their fact inputs' keys (ADD_INPUT_KEYS, timed apart:
    the store would pay it when storing), then times (a), (c) and (c*) in turn on the copy and
    checks (c*) against (c)."""
    with _copy(db) as con:
        if _keys(con, "spans") is not facts.STORED_KEYS:
            raise SystemExit("--input-keys needs a store whose spans all have stored keys")
        taken = measure(lambda: [con.execute(sql) for sql in ADD_INPUT_KEYS])
        log(f"input keys added to the copy: {taken.wall_ms:,.0f} ms wall")
        exp = Experiment(con)
        con.execute(f"CREATE OR REPLACE TEMP VIEW _ak_s AS {keyed_spans_sql(exp.top)}")
        times = _rounds(exp, KEYED_WAYS, repeats, log)
        inputs = _scalar(con, "SELECT count(*) FROM fact_inputs")
        diffs = exp.differences("_ak_", "_af_")
    equal = all(a == 0 and b == 0 for a, b in diffs.values())
    lines = _table(KEYED_WAYS, times)
    lines.append("")
    lines.append(
        f"{inputs:,} fact inputs (AWS and HTTP) keyed. (c*) against (c), EXCEPT ALL both ways: "
        f"groups {diffs['groups']}, histogram {diffs['hist']} "
        f"({'equal' if equal else 'DIFFERENT'})."
    )
    return equal, "\n".join(lines)


# --- what (c) leaves to the readers: one edge's spans derived when read ---------------------


def _scalar(con: duckdb.DuckDBPyConnection, sql: str) -> object:
    row = con.execute(sql).fetchone()
    return row[0] if row else None


def _edge_reads(
    con: duckdb.DuckDBPyConnection, kinds: str, keys: JoinKeys
) -> tuple[str, str, str, str]:
    """The edge of the largest group whose kind is in `kinds`, with the statement that reads
    its spans from span_labels, the one that derives them from the spans when read, and a
    description. An AWS fact needs its span alone (the components' AWS spans are read); an HTTP
    fact needs its trace's callee (every span of the traces where the components have a span)."""
    edge = str(
        _scalar(
            con,
            "SELECT m.edge_id FROM classifier_groups AS g JOIN classifier_group_edges AS m "
            f"USING (gkey) WHERE g.fkind IN {kinds} ORDER BY g.n DESC, g.gkey LIMIT 1",
        )
    )
    gkeys = ", ".join(
        str(r[0])
        for r in con.execute(
            "SELECT gkey FROM classifier_group_edges WHERE edge_id = ?", [edge]
        ).fetchall()
    )
    services = sql_list(
        tuple(
            str(r[0])
            for r in con.execute(
                f"SELECT DISTINCT svc FROM classifier_groups WHERE gkey IN ({gkeys})"
            ).fetchall()
        )
    )
    if "'http'" in kinds:
        source = (
            f"SELECT {facts.SPAN_COLUMNS} FROM spans WHERE {keys.trace} IN "
            f"(SELECT {keys.trace} FROM spans WHERE service_name IN {services})"
        )
    else:
        source = f"SELECT {facts.SPAN_COLUMNS} FROM spans WHERE service_name IN {services}"
    today = (
        "CREATE OR REPLACE TEMP TABLE _rt_today AS "
        f"SELECT trace_id, span_id FROM span_labels WHERE edge_id = '{edge}'"
    )
    derived = f"""CREATE OR REPLACE TEMP TABLE _rt_derived AS
        WITH src AS ({source}), s AS ({classified_sql("src", keys)})
        SELECT trace_id, span_id FROM ({facts_sql("s", None)}) WHERE gkey IN ({gkeys})"""
    return today, derived, edge, f"{len(gkeys.split(', '))} group(s) of {services}"


def labels(db: Path, repeats: int, log: Callable[[str], None] = print) -> str:
    """Copies the store, classifies the copy in full, then times reading the spans of two edges
    (the largest HTTP one and the largest DynamoDB one) from span_labels, in turn with deriving
    them from the spans when read; checks both give the same spans."""
    lines = [
        "| edge | spans | span_labels: wall / CPU, median | derived when read: wall / CPU, "
        "median | same spans |",
        "|---|---|---|---|---|",
    ]
    with _copy(db) as con:
        taken = measure(lambda: classify(con, load_landscape(landscape_path(db)), full=True))
        log(f"classified the copy in full: {taken.wall_ms:,.0f} ms wall")
        con.execute(
            f"CREATE OR REPLACE TEMP VIEW _rt_all AS SELECT {facts.SPAN_COLUMNS} FROM spans"
        )
        keys = _keys(con, "_rt_all")
        for kinds in ("('http')", "('dynamodb')"):
            today, derived, edge, what = _edge_reads(con, kinds, keys)
            runs: dict[str, list[Timing]] = {"today": [], "derived": []}
            for _ in range(repeats):
                for name, sql in (("today", today), ("derived", derived)):
                    runs[name].append(measure(partial(con.execute, sql)))
            same = all(
                _scalar(con, f"SELECT count(*) FROM ({a} EXCEPT ALL {b})") == 0
                for a, b in (
                    ("FROM _rt_today", "FROM _rt_derived"),
                    ("FROM _rt_derived", "FROM _rt_today"),
                )
            )
            count = _scalar(con, "SELECT count(*) FROM _rt_today")
            cells = []
            for name in ("today", "derived"):
                wall = _median([t.wall_ms for t in runs[name]])
                cpu = _median([t.cpu_ms for t in runs[name]])
                cells.append(f"{wall:,.0f} / {cpu:,.0f} ms")
            lines.append(
                f"| {edge} ({what}) | {count:,} | {cells[0]} | {cells[1]} | "
                f"{'yes' if same else 'NO'} |"
            )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m benchmarks.aggregate_first", description=__doc__
    )
    parser.add_argument(
        "--db", type=Path, required=True, help="a store (python -m benchmarks.generate)"
    )
    parser.add_argument("--repeats", type=int, default=3, help="rounds of (a), (b), (c) in turn")
    parser.add_argument("--labels", action="store_true", help="also time one edge's spans read")
    parser.add_argument(
        "--input-keys", action="store_true", help="also (c*) on a copy with keyed fact inputs"
    )
    parser.add_argument(
        "--storage", action="store_true", help="also what storing today's facts table costs"
    )
    args = parser.parse_args(argv)
    started = datetime.now(UTC).strftime("%Y-%m-%d %H:%M")
    print(f"{started} UTC, load average {_load()}", flush=True)
    equal, table = run(args.db, args.repeats)
    print(table)
    if args.input_keys:
        keyed_equal, keyed_table = keyed_run(args.db, args.repeats)
        print(keyed_table)
        equal = equal and keyed_equal
    if args.labels:
        print(labels(args.db, args.repeats))
    if args.storage:
        print(storage(args.db, args.repeats))
    print(f"ended {datetime.now(UTC).strftime('%H:%M')} UTC, load average {_load()}")
    return 0 if equal else 1


if __name__ == "__main__":
    sys.exit(main())
