"""The DuckDB schema of the store: public, documented in docs/schema.md, versioned.

The typed columns hold what classification and the UI filter and group on; the whole
attribute set, the resource, events and links are kept beside them as JSON, so nothing a
span carried is lost. Changing this file means bumping SCHEMA_VERSION and adding a migration.
"""

from __future__ import annotations

from dataclasses import dataclass

import pyarrow as pa

from seamscope.tracer.keys import KEY_COLUMNS, keys_sql

SCHEMA_VERSION = 5

# Spans table: (column, DuckDB type, Arrow type, description). The order is the table's order.
EVENT_STRUCT = pa.struct(
    [("bus", pa.string()), ("source", pa.string()), ("detail_type", pa.string())]
)


@dataclass(frozen=True, slots=True)
class Column:
    name: str
    sql_type: str
    arrow_type: pa.DataType
    doc: str


SPAN_COLUMNS: tuple[Column, ...] = (
    Column("trace_id", "VARCHAR NOT NULL", pa.string(), "trace id, 32 lowercase hex digits"),
    Column("span_id", "VARCHAR NOT NULL", pa.string(), "span id, 16 lowercase hex digits"),
    Column("parent_span_id", "VARCHAR", pa.string(), "parent span id (hex), NULL for a root"),
    Column("name", "VARCHAR NOT NULL", pa.string(), "span name"),
    Column(
        "kind",
        "VARCHAR NOT NULL",
        pa.string(),
        "INTERNAL, SERVER, CLIENT, PRODUCER, CONSUMER or UNSPECIFIED",
    ),
    Column("start_time", "TIMESTAMPTZ NOT NULL", pa.timestamp("ns", tz="UTC"), "start (UTC)"),
    Column("end_time", "TIMESTAMPTZ NOT NULL", pa.timestamp("ns", tz="UTC"), "end (UTC)"),
    Column("duration_ns", "BIGINT NOT NULL", pa.int64(), "end - start in nanoseconds, exact"),
    Column("status_code", "VARCHAR NOT NULL", pa.string(), "UNSET, OK or ERROR"),
    Column("status_message", "VARCHAR", pa.string(), "status description"),
    Column("service_name", "VARCHAR", pa.string(), "resource service.name: the component"),
    Column("service_namespace", "VARCHAR", pa.string(), "resource service.namespace: the system"),
    Column("service_role", "VARCHAR", pa.string(), "resource seamscope.role"),
    Column(
        "service_instance",
        "VARCHAR",
        pa.string(),
        "service.instance.id, else host.name:process.pid",
    ),
    Column("scope_name", "VARCHAR", pa.string(), "instrumentation scope that made the span"),
    # AWS SDK / RPC
    Column(
        "rpc_system",
        "VARCHAR",
        pa.string(),
        "rpc.system / rpc.system.name (aws-api for AWS SDK calls)",
    ),
    Column(
        "rpc_service",
        "VARCHAR",
        pa.string(),
        (
            "rpc.service (DynamoDB, SQS, EventBridge, ...), or the service of an rpc.method "
            "written as `Service/Op` (rpc.method, semconv 1.39 and later)"
        ),
    ),
    Column(
        "rpc_method",
        "VARCHAR",
        pa.string(),
        "rpc.method (PutItem, SendMessage, ...; the `Op` of `Service/Op`)",
    ),
    Column("cloud_region", "VARCHAR", pa.string(), "cloud.region"),
    # Databases
    Column("db_system", "VARCHAR", pa.string(), "db.system / db.system.name"),
    Column("db_operation", "VARCHAR", pa.string(), "db.operation / db.operation.name"),
    Column(
        "db_tables",
        "VARCHAR[]",
        pa.list_(pa.string()),
        "tables touched: aws.dynamodb.table_names / db.namespace / hook-recovered",
    ),
    # Messaging
    Column("messaging_system", "VARCHAR", pa.string(), "messaging.system (aws.sqs, aws.sns, ...)"),
    Column(
        "messaging_operation",
        "VARCHAR",
        pa.string(),
        "messaging.operation.type / messaging.operation",
    ),
    Column(
        "messaging_destination",
        "VARCHAR",
        pa.string(),
        (
            "queue name, topic ARN or stream name the span sends to or receives from: "
            "messaging.destination.name / messaging.destination / aws.sns.topic.arn / "
            "aws.kinesis.stream_name / aws.kinesis.stream.name, else the queue of a QueueUrl in "
            "aws.sqs.queue.url / aws.queue_url / messaging.url, or (AWS calls) in "
            "server.address / url.full"
        ),
    ),
    # HTTP
    Column("http_method", "VARCHAR", pa.string(), "http.request.method / http.method"),
    Column(
        "http_url", "VARCHAR", pa.string(), "url.full / http.url, secrets in the query redacted"
    ),
    Column("http_route", "VARCHAR", pa.string(), "http.route (server spans)"),
    Column(
        "http_status_code",
        "INTEGER",
        pa.int32(),
        "http.response.status_code / http.status_code",
    ),
    Column(
        "server_address",
        "VARCHAR",
        pa.string(),
        (
            "server.address / net.host.name / http.host / net.peer.name / host of the URL, "
            "without port (the host when server.address holds a URL); on a server span the host "
            "it was called at: its URL's host first (old conventions), and a captured Host "
            "header (http.request.header.host) before a server.address that is an IP address. "
            "An IPv6 address is stored without brackets, in lower case (::1, fd00::5)"
        ),
    ),
    Column(
        "server_port",
        "INTEGER",
        pa.int32(),
        (
            "server.port / net.host.port / net.peer.port / port of the URL; on a server span "
            "the port it was called at where its URL or Host header names one (else its "
            "socket's, as WSGI servers record it)"
        ),
    ),
    # GraphQL
    Column("graphql_operation_name", "VARCHAR", pa.string(), "graphql.operation.name"),
    Column(
        "graphql_operation_type",
        "VARCHAR",
        pa.string(),
        "graphql.operation.type: query, mutation, subscription",
    ),
    # Events (EventBridge entries sent, or envelopes received through SQS)
    Column(
        "events",
        "STRUCT(bus VARCHAR, source VARCHAR, detail_type VARCHAR)[]",
        pa.list_(EVENT_STRUCT),
        "EventBridge entries a PutEvents sent, or EventBridge envelopes an SQS receive got",
    ),
    Column(
        "sns_topics",
        "VARCHAR[]",
        pa.list_(pa.string()),
        "SNS topic ARNs published to, or of SNS envelopes an SQS receive got",
    ),
    # Streams, storage, functions
    Column(
        "stream_name",
        "VARCHAR",
        pa.string(),
        (
            "Kinesis stream name (aws.kinesis.stream_name / aws.kinesis.stream.name), or the "
            "table a DynamoDB stream belongs to (seamscope.dynamodb.stream_table)"
        ),
    ),
    Column(
        "stream_arn",
        "VARCHAR",
        pa.string(),
        (
            "DynamoDB Streams / Kinesis stream ARN (seamscope.dynamodb.stream_arn / "
            "aws.kinesis.stream_arn)"
        ),
    ),
    Column("s3_bucket", "VARCHAR", pa.string(), "aws.s3.bucket"),
    Column(
        "faas_invoked_name",
        "VARCHAR",
        pa.string(),
        "faas.invoked_name, or aws.lambda.function.name (the Java agent's; Lambda Invoke)",
    ),
    # Whole records. SpanBatchBuilder hands them over as Arrow's JSON extension type (text its
    # own encoder made), which DuckDB stores as JSON without parsing it again; a producer's
    # plain strings are parsed and checked on insert (store.input_table).
    Column("attributes", "JSON", pa.json_(), "every span attribute (secrets redacted)"),
    Column("resource", "JSON", pa.json_(), "every resource attribute"),
    Column("span_events", "JSON", pa.json_(), "span events: [{name, time_unix_nano, attributes}]"),
    Column("links", "JSON", pa.json_(), "links: [{trace_id, span_id, attributes}]"),
    # Bookkeeping
    Column(
        "batch_id",
        "BIGINT NOT NULL",
        pa.int64(),
        "the batch that stored the span (batches.batch_id); a watermark",
    ),
    # Integer keys (tracer/keys.py), computed when the span is stored: joins inside a trace
    # compare these instead of the hex ids.
    Column(
        "trace_key",
        "UBIGINT",
        pa.uint64(),
        "64-bit key of trace_id (a mix of its 128 bits); NULL when the id is not 32 hex digits",
    ),
    Column(
        "span_key",
        "UBIGINT",
        pa.uint64(),
        "64-bit key of the span: span_id as a number XOR trace_key; joins on it need no trace_id",
    ),
    Column(
        "parent_key",
        "UBIGINT",
        pa.uint64(),
        "the parent's span_key (parent_span_id XOR trace_key), NULL for a root: "
        "`JOIN spans p ON p.span_key = c.parent_key`",
    ),
)

SPAN_COLUMN_NAMES: tuple[str, ...] = tuple(c.name for c in SPAN_COLUMNS)

# The columns a producer fills; batch_id is set by the store when it appends. The keys are
# computed from the ids (tracer/keys.py add_keys) by the builder, or by the store when missing.
INPUT_COLUMNS: tuple[Column, ...] = tuple(c for c in SPAN_COLUMNS if c.name != "batch_id")
INPUT_SCHEMA: pa.Schema = pa.schema([(c.name, c.arrow_type) for c in INPUT_COLUMNS])
# What a span itself says: the input columns without the keys.
SPAN_FIELDS: tuple[Column, ...] = tuple(c for c in INPUT_COLUMNS if c.name not in KEY_COLUMNS)


# The account's wiring (`seamscope discover aws`, or declared in the landscape file): how an
# event gets from the resource it leaves to where it goes. Node ids as classifiers/schema.py
# names them: resource names, never endpoint addresses.
AWS_ROUTE_COLUMNS: tuple[Column, ...] = (
    Column(
        "route_id",
        "VARCHAR PRIMARY KEY",
        pa.string(),
        "`<rule ARN>#<target id>`, the subscription ARN or the event-source mapping ARN",
    ),
    Column(
        "kind",
        "VARCHAR NOT NULL",
        pa.string(),
        "`eventbridge-rule`, `sns-subscription`, `lambda-event-source` (from a queue), "
        "`dynamodb-stream-consumer`, `kinesis-consumer`",
    ),
    Column(
        "source",
        "VARCHAR NOT NULL",
        pa.string(),
        "node id of the resource the event leaves: `events:bus/<bus>`, `sns:topic/<name>`, "
        "`sqs:queue/<name>`, `dynamodb:stream/<table>`, `kinesis:stream/<name>`",
    ),
    Column(
        "target",
        "VARCHAR NOT NULL",
        pa.string(),
        "node id of where it goes: `sqs:queue/<name>`, `lambda:function/<name>`, "
        "`sns:topic/<name>`, `kinesis:stream/<name>`, `events:bus/<name>`",
    ),
    Column(
        "event_sources",
        "VARCHAR[]",
        pa.list_(pa.string()),
        "the exact values of the rule's pattern `source`; NULL when it does not constrain it",
    ),
    Column(
        "detail_types",
        "VARCHAR[]",
        pa.list_(pa.string()),
        "the exact values of its `detail-type`; NULL when it does not constrain it",
    ),
    Column(
        "name",
        "VARCHAR",
        pa.string(),
        "rule name, subscription ARN or event-source mapping UUID",
    ),
    Column(
        "pattern",
        "JSON",
        pa.string(),
        "the rule's event pattern, the subscription's filter policy or the mapping's filter "
        "criteria (content filters such as `prefix` are only here)",
    ),
    Column("origin", "VARCHAR NOT NULL", pa.string(), "`discovered` or `declared`"),
    Column("account", "VARCHAR", pa.string(), "AWS account id"),
    Column("region", "VARCHAR", pa.string(), "AWS region"),
    Column(
        "discovered_at",
        "TIMESTAMPTZ",
        pa.timestamp("us", tz="UTC"),
        "when `seamscope discover aws` read it (the same for every row of one run)",
    ),
)


# Objects `seamscope ingest s3://...` loaded, so that a rerun takes only new ones.
S3_OBJECT_COLUMNS: tuple[Column, ...] = (
    Column("url", "VARCHAR PRIMARY KEY", pa.string(), "`s3://<bucket>/<key>`"),
    Column("bucket", "VARCHAR NOT NULL", pa.string(), "the bucket"),
    Column("key", "VARCHAR NOT NULL", pa.string(), "the object's key"),
    Column(
        "etag",
        "VARCHAR NOT NULL",
        pa.string(),
        "its ETag when loaded; an object written again under the same key is loaded again",
    ),
    Column("size", "BIGINT NOT NULL", pa.int64(), "its size in bytes, as stored"),
    Column(
        "loaded_at",
        "TIMESTAMPTZ NOT NULL",
        pa.timestamp("us", tz="UTC"),
        "when its spans were stored",
    ),
)


def table_ddl(table: str, columns: tuple[Column, ...]) -> str:
    cols = ",\n    ".join(f"{c.name} {c.sql_type}" for c in columns)
    return f"CREATE TABLE IF NOT EXISTS {table} (\n    {cols}\n)"


def arrow_schema(columns: tuple[Column, ...]) -> pa.Schema:
    return pa.schema([(c.name, c.arrow_type) for c in columns])


LEDGER_COLUMNS = "batch_id, batch_key, source, span_count, ingested_at, spans_digest"
"""The columns of batches, in the order of its INSERTs' values."""
BATCH_DIGEST_INDEX = "CREATE INDEX IF NOT EXISTS batches_spans_digest ON batches (spans_digest)"

DDL: tuple[str, ...] = (
    "CREATE TABLE IF NOT EXISTS seamscope_meta (key VARCHAR PRIMARY KEY, value VARCHAR)",
    "CREATE SEQUENCE IF NOT EXISTS batch_seq START 1",
    # One row per stored batch. batch_key makes appends idempotent: the same export request,
    # file line or spool file delivered twice is stored once; spans_digest does for the same
    # spans in other bytes (keys.spans_digest).
    """CREATE TABLE IF NOT EXISTS batches (
    batch_id BIGINT PRIMARY KEY,
    batch_key VARCHAR UNIQUE,
    source VARCHAR,
    span_count INTEGER,
    ingested_at TIMESTAMPTZ,
    spans_digest VARCHAR
)""",
    BATCH_DIGEST_INDEX,
    table_ddl("spans", SPAN_COLUMNS),
    table_ddl("aws_routes", AWS_ROUTE_COLUMNS),
    table_ddl("s3_objects", S3_OBJECT_COLUMNS),
)

# Span columns that a migration added, with the first version whose stores have them; a store
# of an older version lacks them until it is migrated (store.check_store reads this: a migration
# that adds a span column adds it here too).
SPAN_COLUMNS_SINCE: dict[str, int] = dict.fromkeys(KEY_COLUMNS, 4)


def span_column_names(version: int) -> tuple[str, ...]:
    """The columns of spans in a store of this schema version."""
    return tuple(n for n in SPAN_COLUMN_NAMES if SPAN_COLUMNS_SINCE.get(n, 1) <= version)


# Schema migrations: MIGRATIONS[n] upgrades a store at version n to n + 1.
MIGRATIONS: dict[int, tuple[str, ...]] = {
    1: (table_ddl("aws_routes", AWS_ROUTE_COLUMNS),),
    2: (table_ddl("s3_objects", S3_OBJECT_COLUMNS),),
    3: (
        "ALTER TABLE spans ADD COLUMN IF NOT EXISTS trace_key UBIGINT",
        "ALTER TABLE spans ADD COLUMN IF NOT EXISTS span_key UBIGINT",
        "ALTER TABLE spans ADD COLUMN IF NOT EXISTS parent_key UBIGINT",
        f"""UPDATE spans SET trace_key = k.trace_key, span_key = k.span_key,
            parent_key = k.parent_key
        FROM ({keys_sql("SELECT rowid AS r, trace_id, span_id, parent_span_id FROM spans")}) AS k
        WHERE spans.rowid = k.r""",
    ),
    4: ("ALTER TABLE batches ADD COLUMN IF NOT EXISTS spans_digest VARCHAR", BATCH_DIGEST_INDEX),
}
