"""Tables the classifier writes into the store: public, documented in docs/schema.md (nodes and
edges are made from their records in classifiers/results.py).

They are derived from `spans` (and the landscape file) and can be rebuilt at any time;
`classifier_state` records the spans watermark (batches.batch_id) they reflect.

Node ids:
- component: ``component:<system>/<service.name>`` (system ``?`` when the namespace is unknown)
- AWS resource: ``<kind>`` such as ``dynamodb:table/Orders``, ``dynamodb:stream/Orders``,
  ``events:bus/default``, ``sqs:queue/orders-q``, ``sns:topic/user-events``,
  ``kinesis:stream/clicks``, ``s3:bucket/exports``, ``lambda:function/resize``
- external vendor: ``external:<vendor name or host>``
"""

from __future__ import annotations

from seamscope.classifiers.facts import JoinKeys
from seamscope.classifiers.results import (
    FINDINGS,
    Edge,
    LabelChange,
    Node,
    sql_list,
    table_ddl,
)

CLASSIFIER_DDL: tuple[str, ...] = (
    table_ddl("nodes", Node),
    table_ddl("edges", Edge),
    """CREATE TABLE IF NOT EXISTS span_labels (
    trace_id VARCHAR NOT NULL,
    span_id VARCHAR NOT NULL,
    edge_id VARCHAR NOT NULL,
    rule_id VARCHAR NOT NULL,
    verdict VARCHAR NOT NULL
)""",
    table_ddl("label_changes", LabelChange),
    """CREATE TABLE IF NOT EXISTS classifier_state (
    key VARCHAR PRIMARY KEY,
    value VARCHAR
)""",
    f"""CREATE OR REPLACE VIEW findings AS
    SELECT * FROM edges WHERE verdict IN {sql_list(FINDINGS)}""",
)

# The classifier's own bookkeeping, kept so that a refresh merges new spans into stored
# aggregates instead of scanning the store again. Internal: users query nodes, edges,
# span_labels and findings; these may change with any release (classifier_state holds the
# version, and a version change rebuilds them).
INTERNAL_DDL: tuple[str, ...] = (
    # One row per (span, target) that is an integration; gkey names its group. The span by its
    # keys (facts.KEYS: its trace, itself, its parent) and batch: span_labels finds its ids.
    """CREATE TABLE IF NOT EXISTS classifier_spans (
    tk UBIGINT NOT NULL,
    sk UBIGINT NOT NULL,
    pk UBIGINT,
    batch_id BIGINT NOT NULL,
    gkey UBIGINT NOT NULL,
    start_time TIMESTAMPTZ NOT NULL,
    duration_ns BIGINT NOT NULL,
    err BOOLEAN NOT NULL,
    inst VARCHAR
)""",
    # Integration facts grouped by everything that decides their edge; merged incrementally.
    """CREATE TABLE IF NOT EXISTS classifier_groups (
    gkey UBIGINT PRIMARY KEY,
    svc VARCHAR, ns VARCHAR, role VARCHAR,
    fkind VARCHAR, target VARCHAR,
    callee_svc VARCHAR, callee_ns VARCHAR,
    op VARCHAR, is_write BOOLEAN,
    n BIGINT NOT NULL, errors BIGINT NOT NULL,
    first_seen TIMESTAMPTZ, last_seen TIMESTAMPTZ, sample_trace_id VARCHAR
)""",
    # Latency histogram per group: log buckets (factor 1.1), mergeable, so p50/p95 need no scan.
    """CREATE TABLE IF NOT EXISTS classifier_hist (
    gkey UBIGINT NOT NULL, bucket SMALLINT NOT NULL, n BIGINT NOT NULL,
    PRIMARY KEY (gkey, bucket)
)""",
    # Where traced servers listen, and where AWS answers (host, port -> component or aws).
    """CREATE TABLE IF NOT EXISTS classifier_hosts (
    host VARCHAR NOT NULL, port INTEGER NOT NULL, hkind VARCHAR NOT NULL,
    svc VARCHAR NOT NULL, ns VARCHAR NOT NULL, n BIGINT NOT NULL,
    PRIMARY KEY (host, port, hkind, svc, ns)
)""",
    # Every component seen, with the roles its spans declare.
    """CREATE TABLE IF NOT EXISTS classifier_components (
    svc VARCHAR NOT NULL, ns VARCHAR NOT NULL, role VARCHAR NOT NULL, n BIGINT NOT NULL,
    PRIMARY KEY (svc, ns, role)
)""",
    # Receives (mechanisms.HANDLED_KINDS), for attributing a worker's untraced handling by
    # instance and time.
    """CREATE TABLE IF NOT EXISTS classifier_receives (
    tk UBIGINT NOT NULL, sk UBIGINT NOT NULL, inst VARCHAR NOT NULL,
    start_time TIMESTAMPTZ NOT NULL, gkey UBIGINT NOT NULL
)""",
    # What a consumer did while handling an event: (receive group, call group) pairs.
    """CREATE TABLE IF NOT EXISTS classifier_handling (
    recv_gkey UBIGINT NOT NULL, call_gkey UBIGINT NOT NULL,
    PRIMARY KEY (recv_gkey, call_gkey)
)""",
    # Runs of self-started work that scan or query a table (candidates for polling replication).
    """CREATE TABLE IF NOT EXISTS classifier_runs (
    trace_id VARCHAR NOT NULL, root_span_id VARCHAR NOT NULL, tk UBIGINT NOT NULL,
    svc VARCHAR, ns VARCHAR, inst VARCHAR, name VARCHAR, start_time TIMESTAMPTZ NOT NULL,
    scans VARCHAR[], writes UBIGINT[], listens BOOLEAN
)""",
    # The runs of each recurring job (runs that listen to nothing) gathered: its first and last
    # distinct start times (the last in microseconds since the epoch), how many there are and
    # the sum of the squared gaps between them (microseconds squared: the period and how steady
    # it is, in integers), the tables it scanned (sorted) and the groups it wrote. New runs
    # merge into their job's row (minimum, maximum, sums and sets: merging gives what gathering
    # all the runs again gives), so the job periods are read from a row per job, not from every
    # run, and a merge writes a row of the same size however many runs the job had.
    """CREATE TABLE IF NOT EXISTS classifier_jobs (
    jkey UBIGINT PRIMARY KEY, svc VARCHAR, ns VARCHAR, name VARCHAR,
    first_run TIMESTAMPTZ NOT NULL, last_us BIGINT NOT NULL, runs BIGINT NOT NULL,
    gap_sq HUGEINT NOT NULL, scanned VARCHAR[], written UBIGINT[]
)""",
    # Span links of consumers (and the consumer's span): joined to the producer's span when it is
    # stored, before or after.
    """CREATE TABLE IF NOT EXISTS classifier_links (
    tk UBIGINT NOT NULL, sk UBIGINT NOT NULL, gkey UBIGINT NOT NULL,
    start_time TIMESTAMPTZ NOT NULL,
    linked_tk UBIGINT NOT NULL, linked_sk UBIGINT NOT NULL
)""",
    # Consumer groups joined to producer groups by their spans: `trace` (the consumer's span is
    # the producer's child) or `link`.
    """CREATE TABLE IF NOT EXISTS classifier_joins (
    cons_gkey UBIGINT NOT NULL, prod_gkey UBIGINT NOT NULL, how VARCHAR NOT NULL,
    PRIMARY KEY (cons_gkey, prod_gkey, how)
)""",
    # Which edges each group's spans belong to (a producer's send may feed several consumers).
    """CREATE TABLE IF NOT EXISTS classifier_group_edges (
    gkey UBIGINT NOT NULL, edge_id VARCHAR NOT NULL
)""",
    # Where each edge's p50 and p95 stand in its latency histogram (the sum of its groups'
    # classifier_hist rows): the bucket of each, the count of the edge's facts in the buckets
    # below it (lo) and in it (n), and the edge's count (tot). A batch moves them by its own few
    # buckets and reads the edge's whole histogram only where a percentile leaves its bucket
    # (derive.refresh_stats); derive makes them again from the histograms.
    """CREATE TABLE IF NOT EXISTS classifier_edge_pct (
    edge_id VARCHAR NOT NULL, tot BIGINT NOT NULL,
    b50 SMALLINT, lo50 BIGINT, n50 BIGINT, b95 SMALLINT, lo95 BIGINT, n95 BIGINT
)""",
    # The classification (classifier_state.revision) that last changed each edge's row, and a
    # digest of the row; digest NULL: the edge went (revisions.py). A live TUI reads only the
    # edges past the revision it has.
    """CREATE TABLE IF NOT EXISTS classifier_edge_revisions (
    edge_id VARCHAR NOT NULL, digest UBIGINT, revision BIGINT NOT NULL
)""",
)


def span_labels_views(keys: JoinKeys) -> tuple[str, str]:
    """span_labels as a view: a rule change relabels every span of an edge without rewriting
    them; the spans' ids come from the store, found by batch and keys (the state holds no ids).

    Beneath it, classifier_labelled_spans (internal) gives every column of each labelled span
    with its label and the group of its fact (gkey: a send is a listening edge's producer side,
    a receive its consumer's), from that one join: the TUI's edge and trace screens read a
    span's name, times and service from it. Joining span_labels to spans again on the ids would
    scan the store twice (about 3x the time on 10M spans).
    """
    return (
        f"""CREATE OR REPLACE VIEW classifier_labelled_spans AS
    SELECT sp.* EXCLUDE (tk, sk, pk), e.edge_id, e.rule_id, e.verdict, s.gkey
    FROM classifier_spans AS s
    JOIN (SELECT *, {keys.spans} FROM spans) AS sp
      ON sp.batch_id = s.batch_id AND sp.tk = s.tk AND sp.sk = s.sk
    JOIN classifier_group_edges AS m ON m.gkey = s.gkey
    JOIN edges AS e ON e.edge_id = m.edge_id""",
        """CREATE OR REPLACE VIEW span_labels AS
    SELECT trace_id, span_id, edge_id, rule_id, verdict FROM classifier_labelled_spans""",
    )
