"""Large realistic stores, made in DuckDB SQL: `python -m benchmarks.generate --spans 10_000_000`.

A fleet of systems (a webapp shop with its GraphQL BFF, a provider portal, and domain systems
each with an API, a second backend, a worker and a job; every fourth with a webapp of its own)
runs scenarios that use every mechanism and make every rule of DESIGN.md's catalog fire: REST
with the callee's server span in the same trace, GraphQL to the BFF, DynamoDB direct hits
(transactional writes included), Streams readers, EventBridge PutEvents and the envelopes an SQS
receive gets, SQS/SNS/Kinesis inside and across systems, S3, vendor HTTP, and recurring jobs
that scan another system's table at a steady period. The span shapes are those the botocore,
httpx and Flask instrumentations and the seamscope hooks emit (notes/otel-ground-truth.md).

Spans are made with range() and hash-derived choices, never per span in Python: 10M spans take
well under a minute of DuckDB work. They go through the public schema (ensure_schema), in
batches recorded in the batches ledger, so watermarks work as with real ingestion. A landscape
file beside the store names the vendors, the data leaders and the provider-portal exception.
"""

from __future__ import annotations

import argparse
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import duckdb

from seamscope.tracer.keys import keys_sql
from seamscope.tracer.store import Store

# Domain systems take these names (with a number once the list runs out).
WORDS = (
    "orders", "billing", "catalog", "shipping", "identity", "payments", "inventory", "pricing",
    "reviews", "search", "loyalty", "returns", "invoices", "customers", "carts", "offers",
    "stores", "suppliers", "warehouses", "notifications", "accounts", "ledgers", "tickets",
    "contents", "media", "analytics", "subscriptions", "vouchers", "deliveries", "claims",
)  # fmt: skip
VENDORS = (
    ("mailchimp", "api.mailchimp.com", "/3.0/lists/members?api_key=REDACTED"),
    ("auth0", "shop.eu.auth0.com", "/oauth/token"),
    ("algolia", "xyz-dsn.algolia.net", "/1/indexes/products/query"),
)
REGION = "eu-west-1"
ACCOUNT = "123456789012"
BASE_TIME_S = 1_764_000_000  # 2025-11-24T16:00:00Z
TRACE_GAP_MS = 50  # traces start 50 ms apart (20 per second), jittered
# A system talks to the next few systems only (real landscapes are sparse, not all-to-all).
NEIGHBOURS = 4

# Scenario steps: (scenario, segment, seq, parent seq or -1, who, component, mechanism, target
# who, target component or resource variant, operation, route or name). A segment is one trace;
# a scenario with two segments is a producer and a consumer that share no trace context.
# who/target: A = the scenario's system, C = another one, web = shop webapp, bff, portal.
Step = tuple[str, int, int, int, str, str, str, str, str, str, str]
STEPS: tuple[Step, ...] = (
    # P101 graphql-bff, then P102 rest-between-backends (the BFF aggregating REST), P301
    ("gql", 0, 0, -1, "web", "web", "server", "", "", "GET", "/checkout"),
    ("gql", 0, 1, 0, "web", "web", "graphql", "bff", "", "POST", "Checkout"),
    ("gql", 0, 2, 1, "bff", "bff", "server", "", "", "POST", "/graphql"),
    ("gql", 0, 3, 2, "bff", "bff", "http", "C", "api", "GET", "/items"),
    ("gql", 0, 4, 3, "C", "api", "server", "", "", "GET", "/items/<item_id>"),
    ("gql", 0, 5, 4, "C", "api", "ddb", "C", "main", "GetItem", ""),
    # P102 between backends of two systems
    ("rest", 0, 0, -1, "A", "svc", "server", "", "", "POST", "/orders"),
    ("rest", 0, 1, 0, "A", "svc", "http", "C", "api", "GET", "/items"),
    ("rest", 0, 2, 1, "C", "api", "server", "", "", "GET", "/items/<item_id>"),
    ("rest", 0, 3, 2, "C", "api", "ddb", "C", "main", "Query", ""),
    ("rest", 0, 4, 0, "A", "svc", "ddb", "A", "main", "PutItem", ""),
    # A101 webapp-bypasses-bff
    ("bypass", 0, 0, -1, "A", "web", "server", "", "", "GET", "/account"),
    ("bypass", 0, 1, 0, "A", "web", "http", "C", "api", "GET", "/items"),
    ("bypass", 0, 2, 1, "C", "api", "server", "", "", "GET", "/items/<item_id>"),
    # P103 rest-allowed-webapp (the provider portal, excepted in the landscape file)
    ("portal", 0, 0, -1, "portal", "web", "server", "", "", "GET", "/providers"),
    ("portal", 0, 1, 0, "portal", "web", "http", "C", "api", "GET", "/items"),
    ("portal", 0, 2, 1, "C", "api", "server", "", "", "GET", "/items/<item_id>"),
    # A102 backend-calls-bff
    ("tobff", 0, 0, -1, "A", "api", "server", "", "", "GET", "/summary"),
    ("tobff", 0, 1, 0, "A", "api", "graphql", "bff", "", "POST", "CartQuery"),
    ("tobff", 0, 2, 1, "bff", "bff", "server", "", "", "POST", "/graphql"),
    # Producer: a transactional write, then PutEvents about the system's own entity
    ("put", 0, 0, -1, "A", "api", "server", "", "", "POST", "/items"),
    ("put", 0, 1, 0, "A", "api", "ddb", "A", "main+ledger", "TransactWriteItems", ""),
    ("put", 0, 2, 0, "A", "api", "events-put", "A", "own", "PutEvents", ""),
    # A non-leader announcing another system's entity (ECST from a non-leader: P201)
    ("relay", 0, 0, -1, "A", "svc", "server", "", "", "POST", "/sync"),
    ("relay", 0, 1, 0, "A", "svc", "events-put", "A", "relay", "PutEvents", ""),
    # Consumers of EventBridge envelopes through SQS, consumed as state (P201 / A201)
    ("state", 0, 0, -1, "C", "worker", "internal", "", "", "", "poll events"),
    ("state", 0, 1, 0, "C", "worker", "sqs-recv-ev", "A", "own", "ReceiveMessage", ""),
    ("state", 0, 2, 0, "C", "worker", "ddb", "C", "copy", "PutItem", ""),
    ("stater", 0, 0, -1, "C", "worker", "internal", "", "", "", "poll events"),
    ("stater", 0, 1, 0, "C", "worker", "sqs-recv-ev", "A", "relay", "ReceiveMessage", ""),
    ("stater", 0, 2, 0, "C", "worker", "ddb", "C", "copy", "PutItem", ""),
    # Event notification: the consumer calls the source back (P202)
    ("notify", 0, 0, -1, "C", "worker", "internal", "", "", "", "poll events"),
    ("notify", 0, 1, 0, "C", "worker", "sqs-recv-ev", "A", "own", "ReceiveMessage", ""),
    ("notify", 0, 2, 0, "C", "worker", "http", "A", "api", "GET", "/items"),
    ("notify", 0, 3, 2, "A", "api", "server", "", "", "GET", "/items/<item_id>"),
    # DynamoDB Streams of the own table (P401) and of another system's (A302)
    ("streams", 0, 0, -1, "A", "worker", "internal", "", "", "", "poll stream"),
    ("streams", 0, 1, 0, "A", "worker", "streams", "A", "main", "GetRecords", ""),
    ("streams", 0, 2, 0, "A", "worker", "ddb", "A", "ledger", "UpdateItem", ""),
    ("xstreams", 0, 0, -1, "A", "worker", "internal", "", "", "", "poll stream"),
    ("xstreams", 0, 1, 0, "A", "worker", "streams", "C", "main", "GetRecords", ""),
    ("xstreams", 0, 2, 0, "A", "worker", "ddb", "A", "copy", "PutItem", ""),
    # SQS, SNS and Kinesis inside one system (P402): producer and consumer traces
    ("msg", 0, 0, -1, "A", "api", "server", "", "", "POST", "/items/<item_id>/ship"),
    ("msg", 0, 1, 0, "A", "api", "sqs-send", "A", "q", "SendMessage", ""),
    ("msg", 0, 2, 0, "A", "api", "sns-pub", "A", "topic", "Publish", ""),
    ("msg", 0, 3, 0, "A", "api", "kinesis-put", "A", "stream", "PutRecord", ""),
    ("msg", 1, 0, -1, "A", "worker", "internal", "", "", "", "poll queue"),
    ("msg", 1, 1, 0, "A", "worker", "sqs-recv", "A", "q", "ReceiveMessage", ""),
    ("msg", 1, 2, 0, "A", "worker", "sqs-recv-sns", "A", "topic", "ReceiveMessage", ""),
    ("msg", 1, 3, 0, "A", "worker", "kinesis-get", "A", "stream", "GetRecords", ""),
    ("msg", 1, 4, 0, "A", "worker", "ddb", "A", "ledger", "UpdateItem", ""),
    # The same across systems (A202)
    ("xmsg", 0, 0, -1, "A", "api", "server", "", "", "POST", "/items/<item_id>/notify"),
    ("xmsg", 0, 1, 0, "A", "api", "sqs-send", "C", "q", "SendMessage", ""),
    ("xmsg", 0, 2, 0, "A", "api", "sns-pub", "C", "topic", "Publish", ""),
    ("xmsg", 1, 0, -1, "C", "worker", "internal", "", "", "", "poll queue"),
    ("xmsg", 1, 1, 0, "C", "worker", "sqs-recv", "C", "q", "ReceiveMessage", ""),
    # A301 cross-system-dynamodb-hit
    ("xddb", 0, 0, -1, "A", "api", "server", "", "", "GET", "/report"),
    ("xddb", 0, 1, 0, "A", "api", "ddb", "C", "main", "GetItem", ""),
    # A303 rest-inside-system (two backends of one system)
    ("inside", 0, 0, -1, "A", "api", "server", "", "", "GET", "/items/<item_id>/price"),
    ("inside", 0, 1, 0, "A", "api", "http", "A", "svc", "GET", "/prices"),
    ("inside", 0, 2, 1, "A", "svc", "server", "", "", "GET", "/prices/<item_id>"),
    ("inside", 0, 3, 2, "A", "svc", "ddb", "A", "ledger", "GetItem", ""),
    # P303 webapp-component-api (a webapp and its own system's API)
    ("ownweb", 0, 0, -1, "A", "web", "server", "", "", "GET", "/"),
    ("ownweb", 0, 1, 0, "A", "web", "http", "A", "api", "GET", "/items"),
    ("ownweb", 0, 2, 1, "A", "api", "server", "", "", "GET", "/items/<item_id>"),
    # P302 third-party-api, and S3
    ("vendor", 0, 0, -1, "A", "svc", "server", "", "", "POST", "/subscribe"),
    ("vendor", 0, 1, 0, "A", "svc", "vendor", "", "", "POST", ""),
    ("vendor", 0, 2, 0, "A", "svc", "s3", "A", "bucket", "PutObject", ""),
    # A401 polling-replication: a recurring job scans another system's table and copies it
    ("job", 0, 0, -1, "A", "job", "internal", "C", "", "", "sync"),
    ("job", 0, 1, 0, "A", "job", "ddb", "C", "main", "Scan", ""),
    ("job", 0, 2, 0, "A", "job", "ddb", "A", "copy", "BatchWriteItem", ""),
)
# Scenario -> share of traces in percent (sums to 100).
WEIGHTS: dict[str, int] = {
    "gql": 19, "rest": 12, "bypass": 3, "portal": 2, "tobff": 2, "put": 8, "relay": 2,
    "state": 6, "stater": 2, "notify": 4, "streams": 5, "xstreams": 1, "msg": 8, "xmsg": 3,
    "xddb": 3, "inside": 6, "ownweb": 4, "vendor": 8, "job": 2,
}  # fmt: skip
assert sum(WEIGHTS.values()) == 100 and set(WEIGHTS) == {s[0] for s in STEPS}
NEEDS_WEBAPP = frozenset({"bypass", "ownweb"})


def _spans_per_trace() -> float:
    per = {name: sum(1 for s in STEPS if s[0] == name) for name in WEIGHTS}
    return sum(per[name] * w for name, w in WEIGHTS.items()) / 100


@dataclass(frozen=True, slots=True)
class Generated:
    spans: int
    traces: int
    next_trace: int
    batches: int
    seconds: float


def system_names(count: int) -> list[str]:
    """The domain systems' names."""
    return [
        WORDS[i % len(WORDS)] + (str(i // len(WORDS)) if i >= len(WORDS) else "")
        for i in range(count)
    ]


def _table(word: str) -> str:
    return word[:1].upper() + word[1:]


def _q(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


def _setup(con: duckdb.DuckDBPyConnection, systems: int) -> None:
    names = system_names(systems)
    rows = ", ".join(f"({i}, {_q(n)}, {_q(_table(n))})" for i, n in enumerate(names))
    con.execute("CREATE OR REPLACE TEMP TABLE gen_systems (i INTEGER, name VARCHAR, cap VARCHAR)")
    con.execute(f"INSERT INTO gen_systems VALUES {rows}")
    steps = ", ".join("(" + ", ".join(_q(v) if isinstance(v, str) else str(v) for v in s) + ")"
                      for s in STEPS)  # fmt: skip
    con.execute(
        "CREATE OR REPLACE TEMP TABLE gen_steps (sc VARCHAR, seg INTEGER, seq INTEGER, "
        "parent INTEGER, who VARCHAR, comp VARCHAR, mech VARCHAR, tgt VARCHAR, tvar VARCHAR, "
        "op VARCHAR, route VARCHAR)"
    )
    con.execute(f"INSERT INTO gen_steps VALUES {steps}")
    # t % 100 -> scenario; k numbers the buckets of one scenario (a job's k-th sync task).
    buckets: list[tuple[str, int]] = []
    for name, weight in WEIGHTS.items():
        buckets += [(name, k) for k in range(weight)]
    con.execute("CREATE OR REPLACE TEMP TABLE gen_buckets (b INTEGER, sc VARCHAR, k INTEGER)")
    con.execute(
        "INSERT INTO gen_buckets VALUES "
        + ", ".join(f"({i}, {_q(s)}, {k})" for i, (s, k) in enumerate(buckets))
    )
    vendors = ", ".join(f"({i}, {_q(h)}, {_q(p)})" for i, (_, h, p) in enumerate(VENDORS))
    con.execute("CREATE OR REPLACE TEMP TABLE gen_vendors (v INTEGER, host VARCHAR, path VARCHAR)")
    con.execute(f"INSERT INTO gen_vendors VALUES {vendors}")


# One row per span: who does it (svc, ns, role), what it targets, and every store column.
_SPANS_SQL = """
WITH tr AS (
    SELECT t, b.sc, b.k,
        CASE WHEN b.sc = 'job' THEN (t // 100) % $systems
             WHEN b.sc IN ('bypass', 'ownweb') THEN (hash(t, 'a') % $systems) // 4 * 4
             ELSE hash(t, 'a') % $systems END::INTEGER AS a,
        -- A job runs in step with the traffic around it: system a's job starts at its block
        -- of 100 traces, every 100 x systems traces (200 s with 40 systems), its k-th task a
        -- second after the first.
        CASE WHEN b.sc = 'job' THEN $base_ns + (t // 100) * 100 * $gap_ns + b.k * 1000000000
             ELSE $base_ns + t * $gap_ns + hash(t, 'j') % $gap_ns END::BIGINT AS t0
    FROM range($first, $last) AS r(t) JOIN gen_buckets AS b ON b.b = t % 100
),
tr2 AS (
    SELECT tr.*,
        CASE WHEN sc = 'job' THEN (a + 1 + k) % $systems
             ELSE (a + 1 + hash(t, 'c') % least($neighbours, $systems - 1)) % $systems
        END::INTEGER AS c
    FROM tr
),
sp AS (
    SELECT tr2.t, tr2.t0, st.*, sa.name AS a_name, sa.cap AS a_cap, sc_.name AS c_name,
        sc_.cap AS c_cap, hash(t, st.seg, st.seq) AS h
    FROM tr2 JOIN gen_steps AS st ON st.sc = tr2.sc
    JOIN gen_systems AS sa ON sa.i = tr2.a JOIN gen_systems AS sc_ ON sc_.i = tr2.c
),
w AS (
    SELECT *,
        CASE who WHEN 'A' THEN a_name || '-' || comp WHEN 'C' THEN c_name || '-' || comp
                 WHEN 'web' THEN 'shop-web' WHEN 'bff' THEN 'web-bff'
                 ELSE 'provider-portal' END AS svc,
        CASE who WHEN 'A' THEN a_name WHEN 'C' THEN c_name WHEN 'portal' THEN 'portal'
                 ELSE 'web' END AS ns,
        CASE WHEN who = 'bff' THEN 'bff' WHEN comp = 'web' THEN 'webapp'
             WHEN comp IN ('api', 'svc') THEN 'backend' ELSE comp END AS role,
        -- the system a resource or callee belongs to
        CASE tgt WHEN 'A' THEN a_name WHEN 'C' THEN c_name END AS t_name,
        CASE tgt WHEN 'A' THEN a_cap WHEN 'C' THEN c_cap END AS t_cap,
        CASE tgt WHEN 'A' THEN a_name || '-' || tvar WHEN 'C' THEN c_name || '-' || tvar
                 WHEN 'bff' THEN 'web-bff' END AS callee,
        (h % 200 = 0) AS failed,
        t0 + seq * 2000000 + CASE WHEN parent < 0 THEN 0 ELSE h % 1000000 END AS s_ns,
        CASE WHEN parent < 0 OR mech = 'server' THEN 20000000 + h % 40000000
             ELSE 800000 + h % 15000000 END AS d_ns,
        -- Lower-case hex, as OTLP JSON and every SDK write ids (DuckDB's to_hex is upper).
        lower(lpad(to_hex(hash(t, seg, 'x')), 16, '0') || lpad(to_hex(hash(t, seg, 'y')), 16, '0'))
            AS trace_id,
        lower(lpad(to_hex(h), 16, '0')) AS span_id,
        CASE WHEN parent >= 0 THEN lower(lpad(to_hex(hash(t, seg, parent)), 16, '0')) END
            AS parent_span_id,
        upper(lpad(to_hex(hash(t, seq, 'r')), 16, '0')) || 'REQ' AS req_id,
        (hash(t, 'v') % 3)::INTEGER AS vendor_i
    FROM sp
),
x AS (
    SELECT w.*,
        -- DynamoDB tables, EventBridge entries, SNS topics, resource names
        CASE tvar WHEN 'main' THEN [t_cap] WHEN 'ledger' THEN [t_cap || 'Ledger']
                  WHEN 'copy' THEN [t_cap || 'Copy']
                  WHEN 'main+ledger' THEN [t_cap, t_cap || 'Ledger'] END AS tables,
        CASE WHEN tvar = 'own' THEN t_cap || 'Changed'
             WHEN tvar = 'relay' THEN c_cap || 'Updated' END AS detail_type,
        'arn:aws:sns:' || '$region' || ':' || '$account' || ':' || t_name || '-topic' AS topic_arn,
        t_name || '-q' AS queue,
        t_name || '-stream' AS stream,
        'arn:aws:dynamodb:$region:$account:table/' || t_cap || '/stream/2025-11-24T00:00:00.000'
            AS stream_arn_v,
        v.host AS vendor_host, v.path AS vendor_path
    FROM w JOIN gen_vendors AS v ON v.v = w.vendor_i
),
y AS (
    SELECT x.*,
        CASE mech
            WHEN 'server' THEN op || ' ' || route
            WHEN 'http' THEN op WHEN 'graphql' THEN 'POST' WHEN 'vendor' THEN 'POST'
            WHEN 'internal' THEN route || ' ' || coalesce(t_name, ns)
            WHEN 'ddb' THEN 'DynamoDB.' || op
            WHEN 'streams' THEN 'DynamoDB Streams.GetRecords'
            WHEN 'sqs-send' THEN 'SQS.SendMessage'
            WHEN 'sns-pub' THEN topic_arn[length('arn:aws:sns:$region:$account:') + 1:] || ' send'
            WHEN 'events-put' THEN 'EventBridge.PutEvents'
            WHEN 'kinesis-put' THEN 'Kinesis.PutRecord' WHEN 'kinesis-get' THEN 'Kinesis.GetRecords'
            WHEN 's3' THEN 'S3.PutObject'
            ELSE 'SQS.ReceiveMessage' END AS span_name,
        CASE WHEN mech IN ('server') THEN 'SERVER' WHEN mech = 'internal' THEN 'INTERNAL'
             WHEN mech = 'sns-pub' THEN 'PRODUCER' ELSE 'CLIENT' END AS span_kind,
        CASE WHEN mech IN ('ddb', 'streams', 'sqs-send', 'sqs-recv', 'sqs-recv-ev',
                           'sqs-recv-sns', 'sns-pub', 'events-put', 'kinesis-put',
                           'kinesis-get', 's3') THEN true ELSE false END AS is_aws,
        CASE mech WHEN 'ddb' THEN 'DynamoDB' WHEN 'streams' THEN 'DynamoDB Streams'
                  WHEN 'sns-pub' THEN 'SNS' WHEN 'events-put' THEN 'EventBridge'
                  WHEN 'kinesis-put' THEN 'Kinesis' WHEN 'kinesis-get' THEN 'Kinesis'
                  WHEN 's3' THEN 'S3' ELSE 'SQS' END AS rpc_svc,
        CASE mech WHEN 'ddb' THEN 'dynamodb' WHEN 'streams' THEN 'streams.dynamodb'
                  WHEN 'sns-pub' THEN 'sns' WHEN 'events-put' THEN 'events'
                  WHEN 'kinesis-put' THEN 'kinesis' WHEN 'kinesis-get' THEN 'kinesis'
                  WHEN 's3' THEN 's3' ELSE 'sqs' END || '.$region.amazonaws.com' AS aws_host,
        CASE mech WHEN 'http' THEN 'http://' || callee || ':8080' || route || '/'
                      || (h % 100000)::VARCHAR
                  WHEN 'graphql' THEN 'http://web-bff:4000/graphql'
                  WHEN 'vendor' THEN 'https://' || vendor_host || vendor_path END AS url,
        CASE mech WHEN 'http' THEN callee WHEN 'graphql' THEN 'web-bff'
                  WHEN 'vendor' THEN vendor_host WHEN 'server' THEN svc END AS host,
        CASE mech WHEN 'http' THEN 8080 WHEN 'graphql' THEN 4000 WHEN 'vendor' THEN 443
                  WHEN 'server' THEN CASE WHEN svc = 'web-bff' THEN 4000 ELSE 8080 END
             END AS port,
        CASE WHEN failed AND mech IN ('http', 'graphql', 'vendor', 'server') THEN 500
             WHEN mech IN ('http', 'graphql', 'vendor', 'server') THEN 200
             WHEN mech <> 'internal' THEN 200 END AS http_status
    FROM x
)
SELECT
    trace_id, span_id, parent_span_id, span_name AS name, span_kind AS kind,
    make_timestamp_ns(s_ns::BIGINT) AS start_time,
    make_timestamp_ns((s_ns + d_ns)::BIGINT) AS end_time,
    d_ns AS duration_ns,
    CASE WHEN failed THEN 'ERROR' ELSE 'UNSET' END AS status_code,
    CASE WHEN failed THEN 'simulated failure' END AS status_message,
    svc AS service_name, ns AS service_namespace, role AS service_role,
    svc || '-' || (hash(t, 'i') % 3)::VARCHAR AS service_instance,
    CASE WHEN is_aws THEN 'opentelemetry.instrumentation.botocore'
         WHEN mech = 'server' THEN 'opentelemetry.instrumentation.flask'
         WHEN mech = 'internal' THEN svc
         ELSE 'opentelemetry.instrumentation.httpx' END AS scope_name,
    CASE WHEN is_aws THEN 'aws-api' END AS rpc_system,
    CASE WHEN is_aws THEN rpc_svc END AS rpc_service,
    CASE WHEN is_aws THEN op END AS rpc_method,
    CASE WHEN is_aws THEN '$region' END AS cloud_region,
    CASE WHEN mech = 'ddb' THEN 'dynamodb' END AS db_system,
    CASE WHEN mech = 'ddb' THEN op END AS db_operation,
    CASE WHEN mech = 'ddb' THEN tables END AS db_tables,
    CASE WHEN mech LIKE 'sqs%' THEN 'aws.sqs' WHEN mech = 'sns-pub' THEN 'aws.sns' END
        AS messaging_system,
    CAST(NULL AS VARCHAR) AS messaging_operation,
    CASE WHEN mech IN ('sqs-send', 'sqs-recv') THEN queue
         WHEN mech = 'sqs-recv-ev' THEN ns || '-events-q'
         WHEN mech = 'sqs-recv-sns' THEN ns || '-fanout-q'
         WHEN mech = 'sns-pub' THEN topic_arn
         WHEN mech IN ('kinesis-put', 'kinesis-get') THEN stream END AS messaging_destination,
    CASE WHEN mech = 'server' THEN op WHEN url IS NOT NULL THEN op END AS http_method,
    url AS http_url,
    CASE WHEN mech = 'server' THEN route END AS http_route,
    http_status AS http_status_code,
    CASE WHEN is_aws THEN aws_host ELSE host END AS server_address,
    CASE WHEN is_aws THEN 443 ELSE port END AS server_port,
    CASE WHEN mech = 'graphql' THEN route END AS graphql_operation_name,
    CASE WHEN mech = 'graphql' THEN 'query' END AS graphql_operation_type,
    CASE WHEN mech IN ('events-put', 'sqs-recv-ev')
         THEN [{'bus': 'default', 'source': t_name, 'detail_type': detail_type}] END AS events,
    CASE WHEN mech IN ('sns-pub', 'sqs-recv-sns') THEN [topic_arn] END AS sns_topics,
    CASE WHEN mech IN ('kinesis-put', 'kinesis-get') THEN stream
         WHEN mech = 'streams' THEN t_cap END AS stream_name,
    CASE WHEN mech = 'streams' THEN stream_arn_v END AS stream_arn,
    CASE WHEN mech = 's3' THEN t_name || '-archive' END AS s3_bucket,
    CAST(NULL AS VARCHAR) AS faas_invoked_name,
    CASE
        WHEN mech = 'server' THEN
            '{"http.request.method":"' || op || '","url.scheme":"http","url.path":"'
            || replace(route, '<item_id>', (h % 100000)::VARCHAR) || '","http.route":"' || route
            || '","server.address":"' || svc || ':' || port::VARCHAR || '","server.port":'
            || port::VARCHAR || ',"network.peer.address":"127.0.0.1","client.address":'
            || '"127.0.0.1","user_agent.original":"python-httpx/0.28.1",'
            || '"network.protocol.version":"1.1","http.response.status_code":'
            || http_status::VARCHAR || '}'
        WHEN url IS NOT NULL THEN
            '{"http.request.method":"' || op || '","url.full":"' || url
            || '","server.address":"' || host || '","server.port":' || port::VARCHAR
            || ',"network.peer.address":"127.0.0.1","network.peer.port":' || port::VARCHAR
            || ',"http.response.status_code":' || http_status::VARCHAR
            || CASE WHEN mech = 'graphql' THEN ',"graphql.operation.name":"' || route
                    || '","graphql.operation.type":"query"' ELSE '' END || '}'
        WHEN is_aws THEN
            '{"rpc.system":"aws-api","rpc.service":"' || rpc_svc || '","rpc.method":"' || op
            || '","cloud.region":"$region","server.address":"' || aws_host
            || '","server.port":443,"aws.request_id":"' || req_id
            || '","retry_attempts":0,"http.status_code":200'
            || CASE mech
                WHEN 'ddb' THEN ',"aws.dynamodb.table_names":' || to_json(tables)::VARCHAR
                    || ',"db.system":"dynamodb","db.operation":"' || op
                    || '","net.peer.name":"' || aws_host || ':443"'
                WHEN 'streams' THEN ',"seamscope.dynamodb.stream_arn":"' || stream_arn_v
                    || '","seamscope.dynamodb.stream_table":"' || t_cap || '"'
                WHEN 'sqs-send' THEN ',"aws.queue_url":"https://sqs.$region.amazonaws.com/'
                    || '$account/' || queue || '","messaging.system":"aws.sqs",'
                    || '"messaging.destination":"' || queue || '"'
                WHEN 'sqs-recv' THEN ',"aws.queue_url":"https://sqs.$region.amazonaws.com/'
                    || '$account/' || queue || '","messaging.system":"aws.sqs",'
                    || '"messaging.destination":"' || queue || '"'
                WHEN 'sqs-recv-ev' THEN ',"messaging.system":"aws.sqs",'
                    || '"messaging.destination":"' || ns || '-events-q",'
                    || '"seamscope.eventbridge.bus_names":["default"],'
                    || '"seamscope.eventbridge.sources":["' || t_name || '"],'
                    || '"seamscope.eventbridge.detail_types":["' || detail_type || '"]'
                WHEN 'sqs-recv-sns' THEN ',"messaging.system":"aws.sqs",'
                    || '"messaging.destination":"' || ns || '-fanout-q",'
                    || '"seamscope.sns.topic_arns":["' || topic_arn || '"]'
                WHEN 'sns-pub' THEN ',"messaging.system":"aws.sns","messaging.destination":"'
                    || topic_arn || '","messaging.destination.name":"' || topic_arn
                    || '","aws.sns.topic.arn":"' || topic_arn || '"'
                WHEN 'events-put' THEN ',"seamscope.eventbridge.bus_names":["default"],'
                    || '"seamscope.eventbridge.sources":["' || t_name || '"],'
                    || '"seamscope.eventbridge.detail_types":["' || detail_type || '"]'
                WHEN 's3' THEN ',"aws.s3.bucket":"' || t_name || '-archive"'
                ELSE ',"aws.kinesis.stream_name":"' || stream || '"' END
            || '}'
        ELSE '{"code.function":"' || replace(route, ' ', '_') || '"}'
    END AS attributes,
    '{"telemetry.sdk.language":"python","telemetry.sdk.name":"opentelemetry",'
        || '"telemetry.sdk.version":"1.45.1","service.name":"' || svc
        || '","service.namespace":"' || ns || '","seamscope.role":"' || role
        || '","service.instance.id":"' || svc || '-' || (hash(t, 'i') % 3)::VARCHAR
        || '","telemetry.auto.version":"0.66b1"}' AS resource,
    CASE WHEN failed THEN '[{"name":"exception","time_unix_nano":' || (s_ns + d_ns)::VARCHAR
        || ',"attributes":{"exception.type":"RuntimeError",'
        || '"exception.message":"simulated failure"}}]' END AS span_events,
    CAST(NULL AS VARCHAR) AS links,
    $first_batch + (t - $first) // $traces_per_batch AS batch_id
FROM y
"""


def spans_sql(
    *, systems: int, first: int, last: int, first_batch: int, traces_per_batch: int
) -> str:
    """The SELECT that makes the spans of traces [first, last), in the store's column names."""
    values = {
        "$systems": str(systems),
        "$neighbours": str(NEIGHBOURS),
        "$base_ns": str(BASE_TIME_S * 1_000_000_000),
        "$gap_ns": str(TRACE_GAP_MS * 1_000_000),
        "$first_batch": str(first_batch),
        "$traces_per_batch": str(traces_per_batch),
        "$first": str(first),
        "$last": str(last),
        "$region": REGION,
        "$account": ACCOUNT,
    }
    sql = _SPANS_SQL
    for key in sorted(values, key=len, reverse=True):
        sql = sql.replace(key, values[key])
    return sql


def generate(
    con: duckdb.DuckDBPyConnection,
    spans: int,
    *,
    systems: int = 40,
    first_trace: int = 0,
    batch_spans: int = 10_000,
    chunk_spans: int = 2_000_000,
    log: object = None,
) -> Generated:
    """Adds about `spans` spans (whole traces) to the store behind con, in batches.

    first_trace continues an earlier call (pass its next_trace): the new traces come later in
    time and get new batch ids, as an incremental ingest would.
    """
    if systems < 3:
        raise ValueError("at least 3 domain systems")
    started = time.perf_counter()
    _setup(con, systems)
    per_trace = _spans_per_trace()
    traces = max(1, round(spans / per_trace))
    traces_per_batch = max(1, round(batch_spans / per_trace))
    batches = -(-traces // traces_per_batch)
    first_batch = _reserve_batch_ids(con, batches)
    chunk_traces = max(traces_per_batch, chunk_spans // int(per_trace) // traces_per_batch
                       * traces_per_batch)  # fmt: skip
    stored = 0
    last = first_trace + traces
    for begin in range(first_trace, last, chunk_traces):
        end = min(begin + chunk_traces, last)
        sql = spans_sql(
            systems=systems,
            first=begin,
            last=end,
            first_batch=first_batch + (begin - first_trace) // traces_per_batch,
            traces_per_batch=traces_per_batch,
        )
        con.execute("BEGIN")
        row = con.execute(f"INSERT INTO spans BY NAME {keys_sql(sql)}").fetchone()
        con.execute("COMMIT")
        stored += int(row[0]) if row else 0
        if callable(log):
            log(f"  {stored:,} spans ({time.perf_counter() - started:.1f} s)")
    con.execute(
        "INSERT INTO batches (batch_id, batch_key, source, span_count, ingested_at) "
        "SELECT batch_id, 'generated-' || batch_id::VARCHAR, 'generator', "
        "count(*), now() FROM spans WHERE batch_id BETWEEN ? AND ? GROUP BY batch_id",
        [first_batch, first_batch + batches - 1],
    )
    return Generated(stored, traces, last, batches, time.perf_counter() - started)


def _reserve_batch_ids(con: duckdb.DuckDBPyConnection, count: int) -> int:
    """Takes count consecutive ids from batch_seq, so later appends continue after them."""
    row = con.execute(
        "SELECT min(v), max(v) FROM (SELECT nextval('batch_seq') AS v FROM range(?))", [count]
    ).fetchone()
    assert row is not None
    first, last = int(row[0]), int(row[1])
    if last - first != count - 1:
        raise RuntimeError("batch ids are not consecutive: is another writer appending?")
    return first


def landscape_toml(systems: int) -> str:
    """A landscape file for the generated fleet: vendors, data leaders, the portal exception."""
    lines = [
        "# Written by python -m benchmarks.generate: the declared side of the generated fleet.",
        "[exceptions]",
        'rest_allowed_webapps = ["provider-portal"]',
        "",
    ]
    for name, host, _ in VENDORS:
        lines += [f"[vendors.{name}]", f'hosts = ["{host}"]', ""]
    for name in system_names(systems):
        cap = _table(name)
        lines += [
            f'[data_leaders."{name}"]',
            f'entities = ["{cap}"]',
            f'tables = ["{cap}", "{cap}Ledger"]',
            f'event_sources = ["{name}"]',
            "",
        ]
    return "\n".join(lines)


def generate_store(
    path: Path, spans: int, *, systems: int = 40, log: object = None, force: bool = False
) -> Generated:
    """A new store file at path with about `spans` spans, and its landscape file beside it."""
    if path.exists():
        if not force:
            raise FileExistsError(f"{path} exists (pass --force to replace it)")
        path.unlink()
        wal = path.with_name(path.name + ".wal")
        if wal.exists():
            wal.unlink()
    with Store.open(path, config={"checkpoint_threshold": "4GB"}) as store:
        result = generate(store.con, spans, systems=systems, log=log)
        store.con.execute("CHECKPOINT")
    landscape_path(path).write_text(landscape_toml(systems))
    return result


def generate_classified_store(path: Path, spans: int, *, log: object = None) -> None:
    """generate_store (replacing what is at path), then a full classification of it."""
    from seamscope.classifiers.engine import classify
    from seamscope.classifiers.landscape import load_landscape

    generate_store(path, spans, force=True, log=log)
    con = duckdb.connect(str(path))
    try:
        classify(con, load_landscape(landscape_path(path)), full=True)
    finally:
        con.close()


def landscape_path(store: Path) -> Path:
    return store.with_name(store.stem + ".landscape.toml")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m benchmarks.generate", description=__doc__.splitlines()[0]
    )
    parser.add_argument("--spans", type=lambda s: int(s.replace("_", "")), default=1_000_000)
    parser.add_argument("--systems", type=int, default=40, help="domain systems (default 40)")
    parser.add_argument("--out", type=Path, required=True, help="the store file to create")
    parser.add_argument("--force", action="store_true", help="replace an existing file")
    args = parser.parse_args(argv)
    try:
        result = generate_store(
            args.out,
            args.spans,
            systems=args.systems,
            force=args.force,
            log=lambda m: print(m, file=sys.stderr),
        )
    except (FileExistsError, ValueError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    print(
        f"{args.out}: {result.spans:,} spans in {result.traces:,} traces, {result.batches:,} "
        f"batches, {args.systems} domain systems and the web and portal systems (the TUI counts "
        f"{args.systems + 2}), in {result.seconds:.1f} s; landscape file "
        f"{landscape_path(args.out)}"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
