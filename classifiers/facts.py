"""SQL that turns spans into integration facts: one row per (span, target) an integration has.

A fact keeps what the span itself says (component, mechanism, raw target, operation) plus what
its own trace says (the traced callee of an HTTP call, whether an HTTP span is only the
transport of an AWS call). Resolving a raw target to a node (host -> component, table -> owner)
happens later over small aggregates, so a landscape change never needs the spans again.

Raw mechanisms (``kind`` of a fact): http, graphql, dynamodb, stream-read, sqs-send, sqs-recv,
sns-pub, sns-recv, events-put, events-recv, kinesis-put, kinesis-read, s3, lambda.
Composite targets use SEP: events-put ``bus SEP source SEP detail-type``; events-recv the same
plus ``SEP queue``; sns-recv ``topic SEP queue``.
"""

from __future__ import annotations

# Separator inside composite targets (EventBridge: bus, source, detail-type).
SEP = "\x1f"

DYNAMODB_DATA_OPS = (
    "GetItem",
    "PutItem",
    "UpdateItem",
    "DeleteItem",
    "Query",
    "Scan",
    "BatchGetItem",
    "BatchWriteItem",
    "TransactGetItems",
    "TransactWriteItems",
    "ExecuteStatement",
    "BatchExecuteStatement",
    "ExecuteTransaction",
)
DYNAMODB_WRITE_OPS = (
    "PutItem",
    "UpdateItem",
    "DeleteItem",
    "BatchWriteItem",
    "TransactWriteItems",
    "BatchExecuteStatement",
    "ExecuteTransaction",
)
SCAN_OPS = ("Scan", "Query")
S3_WRITE_PREFIXES = ("Put", "Delete", "Copy", "Upload", "CreateMultipart", "CompleteMultipart")
READ_METHODS = ("GET", "HEAD", "OPTIONS")


def _in(values: tuple[str, ...]) -> str:
    return "(" + ", ".join(f"'{v}'" for v in values) + ")"


# The span columns the facts read; `src` must provide them.
SPAN_COLUMNS = (
    "trace_id, span_id, parent_span_id, kind, service_name, service_namespace, service_role, "
    "service_instance, start_time, duration_ns, status_code, rpc_system, rpc_service, rpc_method, "
    "db_system, db_operation, db_tables, messaging_system, messaging_operation, "
    "messaging_destination, http_method, http_url, http_route, http_status_code, server_address, "
    "server_port, graphql_operation_name, graphql_operation_type, events, sns_topics, "
    "stream_name, stream_arn, s3_bucket, faas_invoked_name, name"
)

# `s`: every span of the source with its category (aws, server, http or NULL).
_CLASSIFIED = """
s AS (
    SELECT
        trace_id, span_id, parent_span_id, kind, name,
        service_name AS svc, service_namespace AS ns, service_role AS role,
        service_instance AS inst, start_time, duration_ns,
        (status_code = 'ERROR' OR coalesce(http_status_code, 0) >= 500) AS err,
        CASE
            WHEN rpc_system = 'aws-api' OR db_system IN ('dynamodb', 'aws.dynamodb')
                 OR messaging_system LIKE 'aws%' THEN 'aws'
            WHEN kind = 'SERVER' THEN 'server'
            WHEN kind IN ('CLIENT', 'PRODUCER') AND http_method IS NOT NULL THEN 'http'
        END AS cat,
        CASE
            WHEN lower(replace(replace(coalesce(rpc_service, ''), ' ', ''), '-', ''))
                 IN ('dynamodbstreams', 'dynamodbstreamsservice') THEN 'dynamodbstreams'
            WHEN lower(coalesce(rpc_service, '')) IN ('dynamodb')
                 OR (rpc_service IS NULL AND db_system IN ('dynamodb', 'aws.dynamodb'))
                 THEN 'dynamodb'
            WHEN lower(coalesce(rpc_service, '')) = 'sqs'
                 OR (rpc_service IS NULL AND messaging_system IN ('aws.sqs', 'aws_sqs')) THEN 'sqs'
            WHEN lower(coalesce(rpc_service, '')) = 'sns'
                 OR (rpc_service IS NULL AND messaging_system IN ('aws.sns', 'aws_sns')) THEN 'sns'
            WHEN lower(replace(coalesce(rpc_service, ''), ' ', ''))
                 IN ('eventbridge', 'events', 'cloudwatchevents') THEN 'events'
            WHEN lower(coalesce(rpc_service, '')) = 'kinesis' THEN 'kinesis'
            WHEN lower(coalesce(rpc_service, '')) = 's3' THEN 's3'
            WHEN lower(coalesce(rpc_service, '')) = 'lambda' THEN 'lambda'
        END AS aws,
        coalesce(rpc_method, db_operation) AS op,
        messaging_operation AS mop,
        db_tables, messaging_destination AS dest, events, sns_topics, stream_name, stream_arn,
        s3_bucket, faas_invoked_name AS fn,
        upper(http_method) AS method, http_url, http_route, server_address AS host,
        server_port AS port, graphql_operation_name AS gql_name,
        lower(graphql_operation_type) AS gql_type
    FROM src
)"""

# One row per (span, target). Column order: see FACT_COLUMNS.
FACTS_SQL = f"""
WITH {_CLASSIFIED},
aws_spans AS (SELECT trace_id, span_id FROM s WHERE cat = 'aws'),
callees AS (
    SELECT trace_id, parent_span_id, min(svc) AS callee_svc, min(ns) AS callee_ns,
           min(http_route) AS callee_route
    FROM s WHERE cat = 'server' AND parent_span_id IS NOT NULL
    GROUP BY ALL
),
http AS (
    SELECT c.*, callees.callee_svc, callees.callee_ns, callees.callee_route
    FROM s AS c
    LEFT JOIN callees ON callees.trace_id = c.trace_id AND callees.parent_span_id = c.span_id
    WHERE c.cat = 'http'
      AND NOT EXISTS (
          SELECT 1 FROM aws_spans AS a
          WHERE a.trace_id = c.trace_id AND a.span_id = c.parent_span_id
      )
      AND coalesce(c.host, '') NOT LIKE '%.amazonaws.com'
      AND coalesce(c.host, '') NOT LIKE '%.amazonaws.com.cn'
),
a AS (SELECT * FROM s WHERE cat = 'aws'),
facts AS (
    SELECT trace_id, span_id, parent_span_id, svc, ns, role, inst, start_time, duration_ns, err,
        CASE WHEN gql_name IS NOT NULL OR gql_type IS NOT NULL THEN 'graphql' ELSE 'http' END
            AS fkind,
        coalesce(lower(host), '?') || ':' || coalesce(CAST(port AS VARCHAR), '') AS target,
        callee_svc, callee_ns,
        CASE
            WHEN gql_name IS NOT NULL OR gql_type IS NOT NULL
                THEN coalesce(gql_type, 'query') || ' ' || coalesce(gql_name, '(anonymous)')
            ELSE coalesce(method, '?') || ' ' || coalesce(
                callee_route,
                regexp_replace(
                    coalesce(nullif(regexp_extract(
                        http_url, '^[a-zA-Z]+://[^/?#]*([^?#]*)', 1), ''), '/'),
                    '/([0-9]+|[0-9a-fA-F-]{{16,}})(/|$)', '/{{id}}\\2', 'g')
            )
        END AS op,
        CASE WHEN gql_type IS NOT NULL THEN gql_type = 'mutation'
             ELSE coalesce(method, 'GET') NOT IN {_in(READ_METHODS)} END AS is_write
    FROM http
    UNION ALL
    SELECT trace_id, span_id, parent_span_id, svc, ns, role, inst, start_time, duration_ns, err,
        'dynamodb', unnest(CASE WHEN len(db_tables) > 0 THEN list_distinct(db_tables)
                                ELSE ['?'] END),
        NULL, NULL, op, op IN {_in(DYNAMODB_WRITE_OPS)}
    FROM a WHERE aws = 'dynamodb' AND op IN {_in(DYNAMODB_DATA_OPS)}
    UNION ALL
    SELECT trace_id, span_id, parent_span_id, svc, ns, role, inst, start_time, duration_ns, err,
        'stream-read',
        coalesce(stream_name, nullif(regexp_extract(stream_arn, 'table/([^/]+)/stream', 1), ''),
                 '?'),
        NULL, NULL, op, false
    FROM a WHERE aws = 'dynamodbstreams' AND op = 'GetRecords'
    UNION ALL
    SELECT trace_id, span_id, parent_span_id, svc, ns, role, inst, start_time, duration_ns, err,
        'sqs-send', coalesce(dest, '?'), NULL, NULL, op, true
    FROM a WHERE aws = 'sqs' AND (op IN ('SendMessage', 'SendMessageBatch')
                                  OR (op IS NULL AND kind = 'PRODUCER'))
    UNION ALL
    SELECT trace_id, span_id, parent_span_id, svc, ns, role, inst, start_time, duration_ns, err,
        'sqs-recv', coalesce(dest, '?'), NULL, NULL, coalesce(op, 'ReceiveMessage'), false
    FROM a WHERE aws = 'sqs' AND (op = 'ReceiveMessage' OR (op IS NULL AND kind = 'CONSUMER'))
      AND coalesce(len(events), 0) = 0 AND coalesce(len(sns_topics), 0) = 0
    UNION ALL
    SELECT trace_id, span_id, parent_span_id, svc, ns, role, inst, start_time, duration_ns, err,
        'events-recv', unnest(list_distinct(list_transform(events,
            lambda e: coalesce(e.bus, '') || '{SEP}' || coalesce(e.source, '?') || '{SEP}'
                 || coalesce(e.detail_type, '?') || '{SEP}' || coalesce(dest, '?')))),
        NULL, NULL, coalesce(op, 'ReceiveMessage'), false
    FROM a WHERE aws = 'sqs' AND len(events) > 0
    UNION ALL
    SELECT trace_id, span_id, parent_span_id, svc, ns, role, inst, start_time, duration_ns, err,
        'sns-recv', unnest(list_transform(list_distinct(sns_topics),
            lambda t: t || '{SEP}' || coalesce(dest, '?'))),
        NULL, NULL, coalesce(op, 'ReceiveMessage'), false
    FROM a WHERE aws = 'sqs' AND len(sns_topics) > 0
    UNION ALL
    SELECT trace_id, span_id, parent_span_id, svc, ns, role, inst, start_time, duration_ns, err,
        'sns-pub', unnest(CASE WHEN len(sns_topics) > 0 THEN list_distinct(sns_topics)
                               ELSE [coalesce(dest, '?')] END),
        NULL, NULL, coalesce(op, 'Publish'), true
    FROM a WHERE aws = 'sns' AND (op IN ('Publish', 'PublishBatch')
                                  OR (op IS NULL AND kind = 'PRODUCER'))
    UNION ALL
    SELECT trace_id, span_id, parent_span_id, svc, ns, role, inst, start_time, duration_ns, err,
        'events-put', unnest(CASE WHEN len(events) > 0 THEN list_distinct(list_transform(events,
            lambda e: coalesce(e.bus, 'default') || '{SEP}' || coalesce(e.source, '?') || '{SEP}'
                 || coalesce(e.detail_type, '?')))
            ELSE ['default{SEP}?{SEP}?'] END),
        NULL, NULL, op, true
    FROM a WHERE aws = 'events' AND op = 'PutEvents'
    UNION ALL
    SELECT trace_id, span_id, parent_span_id, svc, ns, role, inst, start_time, duration_ns, err,
        CASE WHEN op IN ('PutRecord', 'PutRecords') THEN 'kinesis-put' ELSE 'kinesis-read' END,
        coalesce(stream_name, nullif(regexp_extract(stream_arn, 'stream/([^/]+)', 1), ''), dest,
                 '?'),
        NULL, NULL, op, op IN ('PutRecord', 'PutRecords')
    FROM a WHERE aws = 'kinesis' AND op IN ('PutRecord', 'PutRecords', 'GetRecords',
                                            'SubscribeToShard')
    UNION ALL
    SELECT trace_id, span_id, parent_span_id, svc, ns, role, inst, start_time, duration_ns, err,
        's3', coalesce(s3_bucket, '?'), NULL, NULL, op,
        {" OR ".join(f"starts_with(coalesce(op, ''), '{p}')" for p in S3_WRITE_PREFIXES)}
    FROM a WHERE aws = 's3' AND coalesce(op, '') NOT IN ('CreateBucket', 'DeleteBucket',
                                                          'ListBuckets', 'HeadBucket')
    UNION ALL
    SELECT trace_id, span_id, parent_span_id, svc, ns, role, inst, start_time, duration_ns, err,
        'lambda', coalesce(fn, '?'), NULL, NULL, coalesce(op, 'Invoke'), true
    FROM a WHERE aws = 'lambda' AND coalesce(op, 'Invoke') IN ('Invoke', 'InvokeAsync',
                                                                'InvokeWithResponseStream')
)
SELECT
    trace_id, span_id, parent_span_id, svc, ns, role, inst, start_time, duration_ns, err,
    fkind, target, callee_svc, callee_ns, op, is_write,
    hash(coalesce(svc, '~'), coalesce(ns, '~'), fkind, target, coalesce(callee_svc, '~'),
         coalesce(callee_ns, '~'), coalesce(op, '~'), is_write) AS gkey
FROM facts
"""

# Where servers listen (host map) and where AWS answers (transport detection).
HOSTS_SQL = """
SELECT lower(server_address) AS host, coalesce(server_port, -1) AS port,
       CASE WHEN rpc_system = 'aws-api' OR db_system IN ('dynamodb', 'aws.dynamodb')
                 OR messaging_system LIKE 'aws%' THEN 'aws' ELSE 'server' END AS hkind,
       CASE WHEN kind = 'SERVER' THEN service_name END AS svc,
       CASE WHEN kind = 'SERVER' THEN service_namespace END AS ns,
       count(*) AS n
FROM src
WHERE server_address IS NOT NULL
  AND (kind = 'SERVER' OR rpc_system = 'aws-api' OR db_system IN ('dynamodb', 'aws.dynamodb')
       OR messaging_system LIKE 'aws%')
GROUP BY ALL
"""

# Roots of self-started work (no SERVER or CONSUMER root): candidate runs of a recurring job.
ROOTS_SQL = """
SELECT trace_id, span_id, service_name AS svc, service_namespace AS ns,
       service_instance AS inst, name, start_time
FROM src
WHERE parent_span_id IS NULL AND kind NOT IN ('SERVER', 'CONSUMER')
"""
