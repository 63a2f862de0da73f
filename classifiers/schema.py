"""Tables the classifier writes into the store: public, documented in docs/schema.md.

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

CLASSIFIER_DDL: tuple[str, ...] = (
    """CREATE TABLE IF NOT EXISTS nodes (
    node_id VARCHAR PRIMARY KEY,
    node_type VARCHAR NOT NULL,      -- component | resource | external
    name VARCHAR NOT NULL,           -- service.name, resource name, vendor name
    system VARCHAR,                  -- owning system (a resource's owner), NULL when unknown
    role VARCHAR,                    -- components: webapp | bff | backend | worker | job
    resource_kind VARCHAR,           -- resources: dynamodb-table, sqs-queue, events-bus, ...
    inferred BOOLEAN NOT NULL,       -- true when system/role/owner was inferred, not declared
    inference VARCHAR                -- how it was inferred, shown to the user
)""",
    """CREATE TABLE IF NOT EXISTS edges (
    edge_id VARCHAR PRIMARY KEY,     -- stable: hash of from_node, to_node, mechanism, direction
    from_node VARCHAR NOT NULL,
    to_node VARCHAR NOT NULL,
    from_system VARCHAR,
    to_system VARCHAR,
    mechanism VARCHAR NOT NULL,      -- rest | graphql | dynamodb | dynamodb-streams | eventbridge
                                     -- | sqs | sns | kinesis | lambda | s3 | http-external
    direction VARCHAR NOT NULL,      -- call | listen
    via VARCHAR,                     -- listening edges: the resource the event travels through
    level VARCHAR NOT NULL,          -- system | component | external
    rule_id VARCHAR NOT NULL,        -- P101 ... A401, or 'unclassified'
    verdict VARCHAR NOT NULL,        -- pattern | anti-pattern | smell | unclassified
    reason VARCHAR,                  -- why this rule, in terms of the evidence seen
    operations VARCHAR[],            -- GraphQL operations, HTTP routes, detail-types, AWS methods
    span_count BIGINT NOT NULL,
    error_count BIGINT NOT NULL,
    p50_ms DOUBLE,
    p95_ms DOUBLE,
    first_seen TIMESTAMPTZ,
    last_seen TIMESTAMPTZ,
    sample_trace_id VARCHAR
)""",
    """CREATE TABLE IF NOT EXISTS span_labels (
    trace_id VARCHAR NOT NULL,
    span_id VARCHAR NOT NULL,
    edge_id VARCHAR NOT NULL,
    rule_id VARCHAR NOT NULL,
    verdict VARCHAR NOT NULL
)""",
    """CREATE TABLE IF NOT EXISTS classifier_state (
    key VARCHAR PRIMARY KEY,
    value VARCHAR
)""",
    """CREATE OR REPLACE VIEW findings AS
    SELECT * FROM edges WHERE verdict IN ('anti-pattern', 'smell')""",
)
