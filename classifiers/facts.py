"""SQL that turns spans into integration facts: one row per (span, target) an integration has.

A fact keeps what the span itself says (component, mechanism, raw target, operation) plus what
its own trace says (the traced callee of an HTTP call, whether an HTTP span is only the
transport of an AWS call). Resolving a raw target to a node (host -> component, table -> owner)
happens later over small aggregates, so a landscape change never needs the spans again.

The kinds of facts (``fkind``) are those of mechanisms.FACT_KINDS.
Composite targets use SEP: events-put ``bus SEP source SEP detail-type``; events-recv the same
plus ``SEP queue``; sns-recv ``topic SEP queue``. A name no span carries is UNNAMED (``?``): such
a target is never joined by its name (derive.py).
"""

from __future__ import annotations

from typing import NamedTuple

from seamscope.classifiers.mechanisms import SEP, UNNAMED
from seamscope.classifiers.results import sql_list
from seamscope.tracer.rows import KINDS

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


# The span columns the facts read; the source given to classified_sql must provide them.
SPAN_COLUMNS = (
    "trace_id, span_id, parent_span_id, kind, service_name, service_namespace, service_role, "
    "service_instance, start_time, duration_ns, status_code, batch_id, rpc_system, rpc_service, "
    "rpc_method, "
    "db_system, db_operation, db_tables, messaging_system, messaging_operation, "
    "messaging_destination, http_method, http_url, http_route, http_status_code, server_address, "
    "server_port, graphql_operation_name, graphql_operation_type, events, sns_topics, "
    "stream_name, stream_arn, s3_bucket, faas_invoked_name, name, links, attributes, resource, "
    "trace_key, span_key, parent_key"
)

# What joins a span to its parent, callee or child inside a trace, and names it in the
# classifier's state: tk (the trace), sk (the span) and pk (its parent, NULL for a root),
# compared as integers. They are the stored keys (tracer/keys.py); where an id is not hex its key
# is NULL, and the key is then a hash of the ids themselves, so that such spans join by their ids
# as before. The reference (BY_IDS) takes every key as that hash of the ids: tests compare the
# two.
KEYS = """
    coalesce(trace_key, hash(trace_id)) AS tk,
    coalesce(span_key, hash(trace_id, span_id)) AS sk,
    CASE WHEN parent_span_id IS NOT NULL
         THEN coalesce(parent_key, hash(trace_id, parent_span_id)) END AS pk"""


class JoinKeys(NamedTuple):
    """The join keys of a span (tk, sk, pk), of its trace alone (tk), and what makes it a root,
    as SQL over spans."""

    spans: str
    trace: str
    root: str = "parent_span_id IS NULL"


BY_KEYS = JoinKeys(KEYS, "coalesce(trace_key, hash(trace_id))")
BY_IDS = JoinKeys(
    """hash(trace_id) AS tk, hash(trace_id, span_id) AS sk,
    CASE WHEN parent_span_id IS NOT NULL THEN hash(trace_id, parent_span_id) END AS pk""",
    "hash(trace_id)",
)
# BY_KEYS where no span read lacks a key (MISSING_KEYS finds none: ids from intake always have
# them): the stored keys alone, so that the scans of the facts read no hex id but the trace's.
STORED_KEYS = JoinKeys(
    "trace_key AS tk, span_key AS sk, parent_key AS pk", "trace_key", "parent_key IS NULL"
)
MISSING_KEYS = (
    "trace_key IS NULL OR span_key IS NULL OR (parent_key IS NULL AND parent_span_id IS NOT NULL)"
)
KINESIS_PUT_OPS = ("PutRecord", "PutRecords")
# The reads of a Kinesis consumer: GetRecords names only a shard iterator, GetShardIterator
# (and SubscribeToShard) the stream.
KINESIS_READ_OPS = ("GetRecords", "GetShardIterator", "SubscribeToShard")

_AWS_SPAN = (
    "(rpc_system = 'aws-api' OR db_system IN ('dynamodb', 'aws.dynamodb') "
    "OR messaging_system LIKE 'aws%')"
)


def _service_key(name: str) -> str:
    """A service's name as a key: lower case, without spaces and hyphens, and without the
    prefix "amazon" or "aws" that the Java SDK v1's client names carry ("AmazonDynamoDBv2" ->
    dynamodbv2)."""
    return (
        f"regexp_replace(lower(replace(replace(coalesce({name}, ''), ' ', ''), '-', '')), "
        "'^(amazon|aws)(.)', '\\2')"
    )


# The AWS services seamscope knows by the key (_service_key) of their names, written the way
# each SDK names them: the Java agent's SDK v1 spans give the client's name (AmazonDynamoDBv2,
# AmazonSQS, "Amazon S3", AWSLambda), the others the service's id in any case and spacing.
_SERVICE_KEYS = {
    "dynamodb": "dynamodb",
    "dynamodbv2": "dynamodb",
    "dynamodbstreams": "dynamodbstreams",
    "dynamodbstreamsservice": "dynamodbstreams",
    "sqs": "sqs",
    "sns": "sns",
    "eventbridge": "events",
    "events": "events",
    "cloudwatchevents": "events",
    "kinesis": "kinesis",
    "s3": "s3",
    "lambda": "lambda",
}


def _service_of_key(key: str) -> str:
    """The AWS service seamscope knows by the key (_service_key) of its name, else NULL.

    A lookup in a map literal, so the key's expression (a regular expression) is written once:
    DuckDB makes `CASE key WHEN ...` one comparison per branch with a copy of the key in each,
    each bound and planned (about 10 ms of every statement that read the service before)."""
    entries = ", ".join(f"'{k}': '{v}'" for k, v in _SERVICE_KEYS.items())
    return f"MAP {{{entries}}}[{key}]"


# The Java agent's AWS SDK spans under `otel.semconv-stability.opt-in=rpc` carry rpc.system.name
# and neither rpc.service nor rpc.method (its getter has no stable method; rpc/dup keeps
# rpc.service only): the service and operation are then only in the span's name,
# `Service.Operation` (`DynamoDb.PutItem`; SDK v1: `DynamoDBv2.PutItem`). Its messaging spans
# (`send <queue>`, `process <queue>`) are named otherwise and known by messaging.system.
_NAMED_CALL = (
    "rpc_system = 'aws-api' AND rpc_method IS NULL "
    "AND regexp_full_match(name, '[A-Za-z][A-Za-z0-9]*\\.[A-Za-z][A-Za-z0-9]*')"
)
_SERVICE_OF_NAME = f"""CASE WHEN {_NAMED_CALL} THEN {
    _service_of_key(_service_key("split_part(name, '.', 1)"))
} END"""
# An SQS or SNS span that names no AWS operation (the Java agent's `receive <queue>` span under
# `rpc`, a CLIENT under the stable messaging conventions; a library's or an abstraction's own
# messaging span) is the operation its messaging operation type says, whatever its kind: the
# newest conventions make a receive a CLIENT, a batch's send a CLIENT where each message has a
# PRODUCER `create` span (its creation, which consumers link to: a send of it), and a settle
# (SQS DeleteMessage: an acknowledgement) a CLIENT. A settle is neither a send nor a receive,
# of any kind. A `process` span stays unnamed: as a CONSUMER it is its messages' receive.
_SQS_SYSTEMS = "('aws.sqs', 'aws_sqs')"
_OPERATION_OF_NAME = f"""CASE
    WHEN {_NAMED_CALL} THEN split_part(name, '.', 2)
    WHEN messaging_operation IS NULL OR messaging_operation = 'process' THEN NULL
    WHEN messaging_operation = 'settle' THEN 'settle'
    WHEN messaging_system IN {_SQS_SYSTEMS} THEN CASE
        WHEN messaging_operation = 'receive' THEN 'ReceiveMessage'
        WHEN messaging_operation IN ('send', 'publish', 'create') THEN 'SendMessage'
    END
    WHEN messaging_system IN ('aws.sns', 'aws_sns')
         AND messaging_operation IN ('send', 'publish', 'create') THEN 'Publish'
END"""


# The AWS service of a span whose rpc.service names none seamscope knows, by its database or
# messaging attributes, else by its name (_SERVICE_OF_NAME).
_SERVICE_OF_ATTRIBUTES = f"""CASE
                    WHEN db_system IN ('dynamodb', 'aws.dynamodb') THEN 'dynamodb'
                    WHEN messaging_system IN ('aws.sqs', 'aws_sqs') THEN 'sqs'
                    WHEN messaging_system IN ('aws.sns', 'aws_sns') THEN 'sns'
                    ELSE {_SERVICE_OF_NAME}
                END"""


# The host of an AWS service's API (the request an SDK call sends), as opposed to what is
# served from amazonaws.com names but is an application's own HTTP API: API Gateway
# (execute-api), load balancers (elb), AppSync (appsync-api) and EC2 instances' public names.
_AWS_API_HOST = " AND ".join(
    (
        "(c.host ILIKE '%.amazonaws.com' OR c.host ILIKE '%.amazonaws.com.cn')",
        *(
            f"c.host NOT ILIKE '{pattern}'"
            for pattern in (
                "%.execute-api.%",
                "%.elb.%",
                "%.appsync-api.%",
                "%.compute.amazonaws.com%",
                "%.compute-1.amazonaws.com",
            )
        ),
    )
)


# The function an Invoke names, as the function's own invocation span names it
# (invocations_sql): the name of an ARN or a partial ARN (`123456789012:function:resize`) or of
# `name:qualifier`. Node's instrumentation records FunctionName as the caller wrote it.
_FUNCTION_NAME = """CASE
    WHEN fn LIKE '%:function:%' THEN nullif(regexp_extract(fn, ':function:([^:]+)', 1), '')
    WHEN fn LIKE '%:%' THEN nullif(split_part(fn, ':', 1), '')
    ELSE fn
END"""


# The topic a Publish names: a topic's name or ARN, not what an SDK writes where a Publish has
# none (python-contrib's botocore: "unknown" and "phone_number:**" for an SMS; Node's
# instrumentation-aws-sdk: the phone number itself) or where it goes to a device (a platform
# endpoint's ARN, `...:endpoint/APNS/app/id`): those name no topic (UNNAMED).
# A name is 1 to 256 letters, digits, '-' and '_'. The length is checked apart, on the part
# after the last ':' (the name, with '.fifo' after it or not): in the pattern, `{1,256}` made
# RE2 compile 256 copies of the class, and DuckDB compiles a constant pattern when it plans
# the statement and again when it runs it (about 3 ms of every batch's facts statement).
_TOPIC = """CASE
    WHEN dest <> 'unknown'
         AND regexp_full_match(dest, '(arn:[^:]+:sns:[^:]*:[^:]*:)?[A-Za-z0-9_-]+(\\.fifo)?')
         AND length(string_split(dest, ':')[-1]) <= CASE WHEN suffix(dest, '.fifo') THEN 261
                                                         ELSE 256 END
        THEN dest
END"""


# Where a span says its server was called: a SERVER span's URL (http.url, old HTTP conventions)
# is built from the Host header the client sent, and names that host and port (none: the
# scheme's default) even where server.address names the socket the server answered on
# (python-contrib's ASGI under `http/dup`); any other span's server.address / net.*.
# The host is a name, an IPv4 address or a bracketed IPv6 literal (stored without its brackets,
# as server.address holds one). User info (`user:pass@`, `REDACTED@`) is cut off first, up to its
# last "@", and only where the URL has one: read by the pattern, it made every URL's read about
# six times slower. tracer/rows.py _AUTHORITY and _USER_INFO read the same.
_AUTHORITY = "'^[a-zA-Z]+://([^/?#:@\\[\\]]+|\\[[0-9A-Fa-f:.]+\\])(:([0-9]*))?([/?#]|$)'"
# A URL with user info, without it (its "@" is rare: every other URL is read as it is).
_NO_USER_INFO = "regexp_replace(http_url, '^([a-zA-Z]+://)[^/?#]*@', '\\1')"


def _url_part(url: str, group: int) -> str:
    return f"nullif(regexp_extract({url}, {_AUTHORITY}, {group}), '')"


# The brackets go by replace(): trim(host, '[]') doubled the time of the whole read.
_PLAIN_HOST = f"replace(replace({_url_part('http_url', 1)}, '[', ''), ']', '')"
_URL_HOST = (
    f"coalesce({_PLAIN_HOST}, CASE WHEN contains(http_url, '@') "
    f"THEN replace(replace({_url_part(_NO_USER_INFO, 1)}, '[', ''), ']', '') END)"
)
URL_SERVER = "kind = 'SERVER' AND http_url IS NOT NULL"
_HOST = f"CASE WHEN {URL_SERVER} THEN coalesce({_URL_HOST}, server_address) ELSE server_address END"
_PORT = (
    f"CASE WHEN {URL_SERVER} AND {_PLAIN_HOST} IS NOT NULL "
    f"THEN TRY_CAST({_url_part('http_url', 3)} AS INTEGER) "
    f"WHEN {URL_SERVER} AND {_URL_HOST} IS NOT NULL "
    f"THEN TRY_CAST({_url_part(_NO_USER_INFO, 3)} AS INTEGER) "
    "ELSE server_port END"
)


def _host_port(urls: bool) -> str:
    """The host and port columns of classified_sql: read from a server span's URL (urls), or,
    where no span read has one, its columns as they are."""
    if urls:
        return f"{_HOST} AS host, {_PORT} AS port"
    return "server_address AS host, server_port AS port"


# A span's category, as classified_sql gives it.
_CATEGORY = f"""CASE
            WHEN {_AWS_SPAN} THEN 'aws'
            WHEN kind = 'SERVER' THEN 'server'
            WHEN kind IN ('CLIENT', 'PRODUCER') AND http_method IS NOT NULL THEN 'http'
            ELSE 'root'
        END"""


def classified_sql(source: str, keys: JoinKeys = BY_KEYS, urls: bool = True) -> str:
    """The spans of `source` (a relation with SPAN_COLUMNS) that can matter, with their category
    (aws, server, http, root) and join keys (KEYS): what facts_sql, hosts_sql and roots_sql
    read. urls=False where no span of source is a server span with a URL (URL_SERVER): the
    same rows, without the expression that reads its host from it."""
    return f"""
    SELECT
        trace_id, span_id, parent_span_id, {keys.spans}, kind, name, batch_id,
        service_name AS svc, service_namespace AS ns, service_role AS role,
        service_instance AS inst, start_time, duration_ns,
        (status_code = 'ERROR' OR coalesce(http_status_code, 0) >= 500) AS err,
        {_CATEGORY} AS cat,
        coalesce(CASE
            -- The spellings botocore emits, compared as they are: the general rules below
            -- give the same answer for them but cost string functions on every AWS span.
            WHEN rpc_service = 'DynamoDB' THEN 'dynamodb'
            WHEN rpc_service = 'SQS' THEN 'sqs'
            WHEN rpc_service = 'SNS' THEN 'sns'
            WHEN rpc_service = 'EventBridge' THEN 'events'
            WHEN rpc_service = 'Kinesis' THEN 'kinesis'
            WHEN rpc_service = 'S3' THEN 's3'
            WHEN rpc_service = 'Lambda' THEN 'lambda'
            -- Every other spelling (_service_of_key).
            WHEN rpc_service IS NOT NULL THEN {_service_of_key(_service_key("rpc_service"))}
        END,
        -- No rpc.service (most spans: servers, HTTP calls, roots), or none that seamscope
        -- knows by its name: what the span's own database or messaging attributes say.
        {_SERVICE_OF_ATTRIBUTES}) AS aws,
        coalesce(rpc_method, db_operation, {_OPERATION_OF_NAME}) AS op,
        coalesce(messaging_operation = 'process', false) AS processing,
        db_tables, messaging_destination AS dest, events, sns_topics, stream_name, stream_arn,
        s3_bucket, faas_invoked_name AS fn, links,
        upper(http_method) AS method, http_url, http_route, {_host_port(urls)},
        graphql_operation_name AS gql_name,
        lower(graphql_operation_type) AS gql_type
    FROM {source}
    WHERE {classified(keys)}
"""


def classified(keys: JoinKeys = BY_KEYS) -> str:
    """The condition on a span (SPAN_COLUMNS) that classified_sql keeps it by."""
    return (
        f"({_AWS_SPAN} OR kind = 'SERVER' OR {keys.root} "
        "OR (kind IN ('CLIENT', 'PRODUCER') AND http_method IS NOT NULL))"
    )


def counted_sql(
    source: str, keys: JoinKeys = BY_KEYS, where: str = "true", *, urls: bool = True
) -> str:
    """classified_sql's spans of `source` (those `where` keeps) counted by what the host map and
    the components read (host, port, cat, svc, ns, role; n), reading only those columns; urls
    as for classified_sql."""
    return f"""
    SELECT {_host_port(urls)}, {_CATEGORY} AS cat,
           service_name AS svc, service_namespace AS ns, service_role AS role, count(*) AS n
    FROM {source}
    WHERE {classified(keys)} AND {where}
    GROUP BY ALL
"""


def roots_of_sql(source: str, keys: JoinKeys = BY_KEYS) -> str:
    """roots_sql's rows straight from `source` (SPAN_COLUMNS), reading only their columns."""
    return roots_sql(
        f"""(SELECT trace_id, span_id, {keys.spans}, kind, service_name AS svc,
                    service_namespace AS ns, service_instance AS inst, name, start_time
             FROM {source})"""
    )


def _f(kind: str, target: str, op: str, is_write: str) -> str:
    return f"{{'k': {kind}, 't': {target}, 'op': {op}, 'w': {is_write}}}"


def _each(items: str, kind: str, op: str, is_write: str) -> str:
    return f"list_transform({items}, lambda x: {_f(kind, 'x', op, is_write)})"


def _event(e: str, bus: str, tail: str = "") -> str:
    """The composite target of EventBridge event `e`: bus, source and detail-type."""
    return (
        f"coalesce({e}.bus, {bus}) || '{SEP}' || coalesce({e}.source, '?') || '{SEP}' "
        f"|| coalesce({e}.detail_type, '?'){tail}"
    )


def _lone(items: str) -> str:
    """A list that yields exactly what its first item says: no more than one item, not NULL
    (list_distinct drops NULL items)."""
    return f"(coalesce(len({items}), 0) = 0 OR (len({items}) = 1 AND {items}[1] IS NOT NULL))"


_DYNAMODB_WRITE = f"op IN {sql_list(DYNAMODB_WRITE_OPS)}"
_S3_WRITE = " OR ".join(f"starts_with(coalesce(op, ''), '{p}')" for p in S3_WRITE_PREFIXES)


def _aws_facts(lone: bool) -> str:
    """The facts of one AWS span, as {k: kind, t: target, op, w: is_write}.

    A list of them, NULL when the span has none. With lone=True, only for a span whose target
    lists hold at most one item each (LONE_TARGETS): the same list, built from those first items
    without the list functions and lambdas that the general case runs for every item (with
    every AWS span of a 10M store going through them, about a fifth of the facts statement's
    thread time).
    """

    def one(kind: str, target: str, op: str, is_write: str) -> str:
        return f"[{_f(kind, target, op, is_write)}]"

    def each(items: str, item: str, kind: str, op: str, is_write: str) -> str:
        """One fact per distinct item of `items`; a lone span's item is `item`."""
        if lone:
            return one(kind, item, op, is_write)
        return _each(f"list_distinct({items})", kind, op, is_write)

    topic_tail = f" || '{SEP}' || coalesce(dest, '?')"
    default_bus, no_bus = "'default'", "''"
    put_events = f"list_transform(events, lambda e: {_event('e', default_bus)})"
    recv_events = (
        f"list_transform(coalesce(events, []), lambda e: {_event('e', no_bus, topic_tail)})"
    )
    recv_topics = f"list_transform(coalesce(sns_topics, []), lambda t: t{topic_tail})"
    if lone:
        sqs_events = f"""CASE WHEN len(events) = 1 THEN {
            one(
                "'events-recv'",
                _event("events[1]", no_bus, topic_tail),
                "coalesce(op, 'ReceiveMessage')",
                "false",
            )
        } ELSE {
            one(
                "'sns-recv'",
                f"sns_topics[1]{topic_tail}",
                "coalesce(op, 'ReceiveMessage')",
                "false",
            )
        } END"""
    else:
        sqs_events = f"""list_concat({
            _each(
                f"list_distinct({recv_events})",
                "'events-recv'",
                "coalesce(op, 'ReceiveMessage')",
                "false",
            )
        }, {
            _each(
                f"list_distinct({recv_topics})",
                "'sns-recv'",
                "coalesce(op, 'ReceiveMessage')",
                "false",
            )
        })"""
    return f"""CASE
    WHEN aws = 'dynamodb' AND op IN {sql_list(DYNAMODB_DATA_OPS)} THEN
        CASE WHEN len(db_tables) > 0 THEN {
        each("db_tables", "db_tables[1]", "'dynamodb'", "op", _DYNAMODB_WRITE)
    } ELSE {one("'dynamodb'", "'?'", "op", _DYNAMODB_WRITE)} END
    WHEN aws = 'dynamodbstreams' AND op = 'GetRecords' THEN {
        one(
            "'stream-read'",
            "coalesce(stream_name, nullif(regexp_extract(stream_arn, 'table/([^/]+)/stream', 1), "
            "''), '?')",
            "op",
            "false",
        )
    }
    WHEN aws = 'sqs' AND (op IN ('SendMessage', 'SendMessageBatch')
                          OR (op IS NULL AND kind = 'PRODUCER')) THEN {
        one("'sqs-send'", "coalesce(dest, '?')", "coalesce(op, 'SendMessage')", "true")
    }
    WHEN aws = 'sqs' AND (op = 'ReceiveMessage' OR (op IS NULL AND kind = 'CONSUMER')) THEN
        CASE WHEN coalesce(len(events), 0) = 0 AND coalesce(len(sns_topics), 0) = 0
             THEN {
        one("'sqs-recv'", "coalesce(dest, '?')", "coalesce(op, 'ReceiveMessage')", "false")
    }
             ELSE {sqs_events}
        END
    WHEN aws = 'sns' AND (op IN ('Publish', 'PublishBatch') OR (op IS NULL AND kind = 'PRODUCER'))
        THEN CASE WHEN len(sns_topics) > 0 THEN {
        each("sns_topics", "sns_topics[1]", "'sns-pub'", "coalesce(op, 'Publish')", "true")
    } ELSE {one("'sns-pub'", f"coalesce({_TOPIC}, '?')", "coalesce(op, 'Publish')", "true")} END
    WHEN aws = 'events' AND op = 'PutEvents' THEN
        CASE WHEN len(events) > 0 THEN {
        each(put_events, _event("events[1]", default_bus), "'events-put'", "op", "true")
    } ELSE {one("'events-put'", f"'{UNNAMED}{SEP}{UNNAMED}{SEP}{UNNAMED}'", "op", "true")} END
    WHEN aws = 'kinesis' AND op IN {sql_list(KINESIS_PUT_OPS + KINESIS_READ_OPS)}
        THEN {
        one(
            f"CASE WHEN op IN {sql_list(KINESIS_PUT_OPS)} THEN 'kinesis-put' "
            "ELSE 'kinesis-read' END",
            "coalesce(stream_name, nullif(regexp_extract(stream_arn, 'stream/([^/]+)', 1), "
            "''), dest, '?')",
            "op",
            f"op IN {sql_list(KINESIS_PUT_OPS)}",
        )
    }
    WHEN aws = 's3' AND coalesce(op, '') NOT IN ('CreateBucket', 'DeleteBucket', 'ListBuckets',
                                                 'HeadBucket') THEN {
        one("'s3'", "coalesce(s3_bucket, '?')", "op", _S3_WRITE)
    }
    WHEN aws = 'lambda' AND coalesce(op, 'Invoke') IN ('Invoke', 'InvokeAsync',
                                                       'InvokeWithResponseStream') THEN {
        one("'lambda'", f"coalesce({_FUNCTION_NAME}, '?')", "coalesce(op, 'Invoke')", "true")
    }
END"""


# An AWS span whose target lists give it at most one fact: most of them.
LONE_TARGETS = (
    f"({_lone('db_tables')} AND {_lone('sns_topics')} AND coalesce(len(events), 0) <= 1 "
    "AND NOT (coalesce(len(events), 0) = 1 AND coalesce(len(sns_topics), 0) = 1))"
)

# The facts of one AWS span: a list of {k: kind, t: target, op, w: is_write}, NULL if none.
# GENERAL_AWS_FACTS gives the same for every span (a unit test pins the two) and is about half
# the SQL: the statement that evaluates it is planned in a few milliseconds less, which is worth
# more than the lone spans' shortcut on an incremental batch of a few thousand spans.
GENERAL_AWS_FACTS = _aws_facts(lone=False)
AWS_FACTS = f"CASE WHEN {LONE_TARGETS} THEN {_aws_facts(lone=True)} ELSE {GENERAL_AWS_FACTS} END"

_PATH = (
    "regexp_replace(coalesce(nullif(regexp_extract(http_url, '^[a-zA-Z]+://[^/?#]*([^?#]*)', 1), "
    "''), '/'), '/([0-9]+|[0-9a-fA-F-]{16,})(/|$)', '/{id}\\2', 'g')"
)


# GraphQL is served at a path named graphql (`/graphql`, `/api/graphql`); no stock HTTP
# instrumentation records the operation: seamscope's hooks do on the client's span
# (graphql.operation.*), a server's GraphQL instrumentation on a span of its own (graphql_sql).
_GRAPHQL_PATH = (
    "contains(lower(coalesce(callee_route, http_url)), 'graphql') "
    f"AND regexp_matches(coalesce(callee_route, {_PATH}), '(^|/)graphql/?$', 'i')"
)


def _json(column: str, key: str) -> str:
    return f"json_extract_string({column}, '$.\"{key}\"')"


# A Lambda function's own invocation span (not an HTTP one): what identifies it.
_INVOCATION_KEYS = (
    "faas.invocation_id",
    "faas.execution",
    "faas.trigger",
    "aws.lambda.invoked_arn",
)
_FUNCTION_ARN = (
    f"coalesce({_json('attributes', 'aws.lambda.invoked_arn')}, "
    f"{_json('attributes', 'cloud.resource_id')}, {_json('attributes', 'faas.id')}, "
    f"{_json('resource', 'cloud.resource_id')}, {_json('resource', 'faas.id')})"
)


def invocations_sql(source: str, keys: JoinKeys = BY_KEYS) -> str:
    """The invocation spans of Lambda functions that are not HTTP requests (SQS, stream and
    event triggers), with the function's name, from `source` (a relation with SPAN_COLUMNS).

    A separate relation: its filter is on typed columns only, so the JSON attributes are read
    for the few spans that pass it, not for every span of the store.
    """
    present = " OR ".join(f"{_json('attributes', k)} IS NOT NULL" for k in _INVOCATION_KEYS)
    return f"""
SELECT trace_id, span_id, parent_span_id, {keys.spans}, batch_id, service_name AS svc,
       service_namespace AS ns, service_role AS role, service_instance AS inst, start_time,
       duration_ns, status_code = 'ERROR' AS err, links,
       coalesce(nullif(regexp_extract({_FUNCTION_ARN}, ':function:([^:]+)', 1), ''),
                {_json("attributes", "faas.name")}, {_json("resource", "faas.name")}, name)
           AS fn
FROM {source}
WHERE {INVOCATION_CANDIDATE} AND ({present})
"""


# What a span needs, in typed columns, to be an invocation (invocations_sql): a batch without
# such a span has no invocations, and its facts need no statement to look for them. SERVER, or
# CONSUMER: python-contrib's instrumentation-aws-lambda makes the invocation span a CONSUMER for
# an event of SQS, SNS, S3 or DynamoDB Streams records (with no messaging attribute).
# The kinds are written as those it is not: DuckDB (2.0.1) makes `kind IN (...)` only an
# optional filter of the scan (row groups skipped by their min and max), and the scan then read
# the attributes of every INTERNAL span for invocations_sql's JSON test (7 -> 61-84 ms on a 1M
# store, 6% of a full classification); `NOT IN` filters the rows in the scan itself.
_NOT_INVOKED = sql_list(k for k in KINDS if k not in ("SERVER", "CONSUMER"))
INVOCATION_CANDIDATE = (
    f"kind NOT IN {_NOT_INVOKED} AND http_method IS NULL AND rpc_system IS NULL "
    "AND messaging_system IS NULL"
)


# What a span needs to be a call made outside any handling (merge_handling's lone calls: a call
# fact, of an AWS span or an HTTP client's, with no parent, of a known instance): a batch
# without such a span, and no stored span in its traces, has none to look for. Wider than
# the AWS spans (any system's attribute), which costs less to test.
LONE_CANDIDATE = (
    "parent_span_id IS NULL AND service_instance IS NOT NULL "
    "AND (rpc_system IS NOT NULL OR db_system IS NOT NULL OR messaging_system IS NOT NULL "
    "OR (kind IN ('CLIENT', 'PRODUCER') AND http_method IS NOT NULL))"
)


# A span that may record a GraphQL operation a server executed, by its typed columns:
# - one with graphql.operation.type or .name that is no client's: js-contrib's
#   instrumentation-graphql (`graphql.execute`, INTERNAL), the Java agent's graphql-java,
#   HotChocolate 16 (`GraphQL Operation`, INTERNAL or SERVER) and 15 (`ExecuteRequest`, with
#   the name but the type in graphql.operation.kind), each under the span active when it ran;
#   a server span may carry it itself;
# - a SERVER span that is no request's (no HTTP method, no RPC or messaging system) under
#   another span: strawberry's OpenTelemetryExtension (`GraphQL Query: <name>`, component=graphql,
#   the document in `query`) and gqlgen's otelgqlgen (named by the operation, the document in
#   gql.request.query) start their operation's span as SERVER under the HTTP server's.
#   Which of them records an operation is read from its attributes (graphql_sql), for these
#   few spans only.
_GRAPHQL_TYPED = (
    "(graphql_operation_type IS NOT NULL OR graphql_operation_name IS NOT NULL) "
    "AND kind NOT IN ('CLIENT', 'PRODUCER')"
)
GRAPHQL_SERVER_SPAN = (
    "kind = 'SERVER' AND http_method IS NULL AND rpc_system IS NULL "
    "AND messaging_system IS NULL AND parent_span_id IS NOT NULL"
)
GRAPHQL_CANDIDATE = f"(({_GRAPHQL_TYPED}) OR ({GRAPHQL_SERVER_SPAN}))"
# How many spans up from such a span its server's span is looked for (a framework's spans
# between them: express's request handler, a router's middleware).
GRAPHQL_DEPTH = 8

# The attributes other GraphQL servers record their operation by (GRAPHQL_CANDIDATE).
_GQL_KEYS = ("graphql.operation.kind", "component", "query", "gql.request.query")
_GQL_NAME = "[_A-Za-z][_0-9A-Za-z]*"


def _document_type(doc: str, name: str) -> str:
    """The type of the operation a GraphQL document (`doc`) defines by `name` (NULL: the
    anonymous one), as the document says it; NULL where it does not (a name it has no
    operation of). An anonymous operation is the document's only one: its keyword, or `{`
    (a query's shorthand)."""
    return f"""CASE
        WHEN {name} IS NULL THEN coalesce(
            nullif(regexp_extract({doc}, '^\\s*(query|mutation|subscription)\\b', 1), ''),
            CASE WHEN regexp_matches({doc}, '^\\s*\\{{') THEN 'query' END)
        WHEN regexp_full_match({name}, '{_GQL_NAME}') THEN nullif(regexp_extract(
            {doc}, '\\b(query|mutation|subscription)\\s+' || {name} || '\\b', 1), '')
    END"""


def graphql_sql(source: str, keys: JoinKeys = BY_KEYS, *, server_spans: bool = True) -> str:
    """The GraphQL operations servers executed: (tk, sk) of a SERVER span, with the name and
    type of each operation a span beneath it in the same service records (GRAPHQL_CANDIDATE),
    from `source` (a relation with SPAN_COLUMNS).

    The HTTP instrumentations record no operation, and a client records it only with
    seamscope's hooks; the callee's GraphQL instrumentation does. Each operation goes up its
    span's parents to the nearest SERVER span, through spans of the same service only (a
    framework's spans between them; an operation's own span may be a SERVER span, as
    strawberry's and otelgqlgen's are), at most GRAPHQL_DEPTH of them: a span whose server is
    not found so is no server's, and says nothing of a call. Only the traces that hold such a
    span are read past their candidates.

    Where the span has no graphql.operation.* the operation is read from what it has:
    HotChocolate 15's type from graphql.operation.kind (`Mutation`); strawberry's name from its
    span name, otelgqlgen's span name is the operation's (`nameless-operation` is none), and
    their type from the document they record (the named operation's keyword). A SERVER
    candidate with neither strawberry's nor otelgqlgen's attributes is no operation.
    server_spans=False where no span of `source` is such a SERVER span (GRAPHQL_SERVER_SPAN):
    the same rows, from a statement that costs half as much to plan.
    """
    kind_of = _json("attributes", "graphql.operation.kind")
    ops = f"""
    SELECT {keys.spans}, service_name AS svc, service_namespace AS ns, kind,
           graphql_operation_name AS gql_name,
           coalesce(lower(graphql_operation_type),
                    CASE WHEN graphql_operation_name IS NOT NULL THEN lower({kind_of}) END)
               AS gql_type
    FROM {source}
    WHERE {_GRAPHQL_TYPED}"""
    if server_spans:
        paths = ", ".join(f"'$.\"{k}\"'" for k in _GQL_KEYS[1:])
        ops += f"""
    UNION ALL
    SELECT tk, sk, pk, svc, ns, kind, gql_name, {_document_type("doc", "gql_name")} AS gql_type
    FROM (
        SELECT tk, sk, pk, svc, ns, kind,
               CASE WHEN j[1] = 'graphql' THEN
                        nullif(regexp_extract(name, '^GraphQL Query: (.+)$', 1), '')
                    ELSE nullif(name, 'nameless-operation') END AS gql_name,
               CASE WHEN j[1] = 'graphql' THEN j[2] ELSE j[3] END AS doc
        FROM (
            SELECT {keys.spans}, service_name AS svc, service_namespace AS ns, kind, name,
                   json_extract_string(attributes, [{paths}]) AS j
            FROM {source}
            WHERE {GRAPHQL_SERVER_SPAN}
        )
        WHERE (j[1] = 'graphql' AND starts_with(name, 'GraphQL Query')) OR j[3] IS NOT NULL
    )"""
    return f"""
WITH RECURSIVE ops AS ({ops}
),
trace_spans AS (
    SELECT * FROM (
        SELECT {keys.spans}, kind, service_name AS svc, service_namespace AS ns FROM {source}
    )
    WHERE tk IN (SELECT tk FROM ops)
),
up(tk, op_sk, above, depth) AS (
    SELECT tk, sk, pk, 1 FROM ops WHERE pk IS NOT NULL
    UNION ALL
    SELECT up.tk, up.op_sk, t.pk, up.depth + 1
    FROM up
    JOIN trace_spans AS t ON t.tk = up.tk AND t.sk = up.above
    JOIN ops AS o ON o.tk = up.tk AND o.sk = up.op_sk
    WHERE t.kind <> 'SERVER' AND t.pk IS NOT NULL AND up.depth < {GRAPHQL_DEPTH}
      AND t.svc IS NOT DISTINCT FROM o.svc AND t.ns IS NOT DISTINCT FROM o.ns
)
SELECT up.tk, t.sk, o.gql_name, o.gql_type
FROM up
JOIN trace_spans AS t ON t.tk = up.tk AND t.sk = up.above
JOIN ops AS o ON o.tk = up.tk AND o.sk = up.op_sk
WHERE t.kind = 'SERVER' AND t.svc IS NOT DISTINCT FROM o.svc AND t.ns IS NOT DISTINCT FROM o.ns
UNION ALL
SELECT tk, sk, gql_name, gql_type FROM ops WHERE kind = 'SERVER'
"""


# The service of the server span that answered a call: '' where its resource names none (no
# service.name), so that a traced callee without a name is not taken for no callee (then a
# vendor by its host).
_CALLEE_SVC = "coalesce(min({s}svc), '')"


def facts_sql(
    spans: str,
    invocations: str | None,
    aws_facts: str = AWS_FACTS,
    graphql: str | None = None,
) -> str:
    """One row per (span, target) an integration has, from `spans` (classified_sql's rows) and
    `invocations` (invocations_sql's; None where there are none: the statement is then shorter
    to plan). Consumers keep their span links (JSON), which join them to the producer's span.
    aws_facts: AWS_FACTS (fastest on many spans) or GENERAL_AWS_FACTS (the same facts, cheapest
    to plan). graphql: graphql_sql's rows (None where there are none): a call whose span names
    no GraphQL operation takes the one its callee's server executed."""
    lambda_runs = (
        ""
        if invocations is None
        else f"""UNION ALL
    SELECT trace_id, span_id, parent_span_id, tk, sk, pk, batch_id, svc, ns, role, inst,
           start_time, duration_ns, err, 'lambda-run', fn, NULL, NULL, 'Invoke', false, links
    FROM {invocations}"""
    )
    if graphql is None:
        callees = f"""
    SELECT tk, pk, {_CALLEE_SVC.format(s="")} AS callee_svc, min(ns) AS callee_ns,
           min(http_route) AS callee_route, NULL::VARCHAR AS callee_gql_name,
           NULL::VARCHAR AS callee_gql_type
    FROM {spans} WHERE cat = 'server' AND pk IS NOT NULL
    GROUP BY ALL"""
    else:
        # A request that executed several operations (a batch) names them all; it writes when
        # one of them is a mutation.
        callees = f"""
    SELECT s.tk, s.pk, {_CALLEE_SVC.format(s="s.")} AS callee_svc, min(s.ns) AS callee_ns,
           min(s.http_route) AS callee_route,
           string_agg(DISTINCT g.gql_name, ', ' ORDER BY g.gql_name) AS callee_gql_name,
           CASE WHEN bool_or(g.gql_type = 'mutation') THEN 'mutation'
                ELSE min(g.gql_type) END AS callee_gql_type
    FROM {spans} AS s
    LEFT JOIN {graphql} AS g ON g.tk = s.tk AND g.sk = s.sk
    WHERE s.cat = 'server' AND s.pk IS NOT NULL
    GROUP BY s.tk, s.pk"""
    return f"""
WITH callees AS ({callees}
),
-- The AWS spans that are an HTTP span's parent, each once. A plain semi-join: the NOT EXISTS
-- it replaces, under an OR, made DuckDB copy every HTTP span's row to join them.
aws_parents AS (
    SELECT DISTINCT a.tk, a.sk, true AS under_aws
    FROM {spans} AS a
    -- A message's processing span (messaging operation `process`: the Java agent's
    -- `<queue> process`, a Lambda's `process <queue>`) is not a call: what its handler calls
    -- under it are integrations of their own.
    WHERE a.cat = 'aws' AND NOT a.processing AND EXISTS (
        SELECT 1 FROM {spans} AS h WHERE h.cat = 'http' AND h.tk = a.tk AND h.pk = a.sk
    )
),
http AS (
    SELECT c.* REPLACE (
               CASE WHEN c.gql_name IS NULL AND c.gql_type IS NULL
                    THEN callees.callee_gql_name ELSE c.gql_name END AS gql_name,
               CASE WHEN c.gql_name IS NULL AND c.gql_type IS NULL
                    THEN callees.callee_gql_type ELSE c.gql_type END AS gql_type
           ),
           callees.callee_svc, callees.callee_ns, callees.callee_route
    FROM {spans} AS c
    LEFT JOIN callees ON callees.tk = c.tk AND callees.pk = c.sk
    LEFT JOIN aws_parents AS a ON a.tk = c.tk AND a.sk = c.pk
    WHERE c.cat = 'http'
      -- A request to an AWS service's API is an SDK call's own (which its AWS span stands
      -- for), unless a traced server answered it.
      AND (callees.callee_svc IS NOT NULL OR NOT coalesce({_AWS_API_HOST}, false))
      -- Under an AWS call's span, an HTTP span is that call's own request, unless a traced
      -- server answered it.
      AND (callees.callee_svc IS NOT NULL OR a.under_aws IS NULL)
),
facts AS (
    SELECT trace_id, span_id, parent_span_id, tk, sk, pk, batch_id, svc, ns, role, inst,
        start_time, duration_ns, err,
        CASE WHEN gql_name IS NOT NULL OR gql_type IS NOT NULL THEN 'graphql'
             WHEN method IN ('POST', 'GET') AND {_GRAPHQL_PATH} THEN 'graphql-path'
             ELSE 'http' END AS fkind,
        coalesce(lower(host), '?') || ':' || coalesce(CAST(port AS VARCHAR), '') AS target,
        callee_svc, callee_ns,
        CASE
            WHEN gql_name IS NOT NULL OR gql_type IS NOT NULL
                THEN coalesce(gql_type, 'query') || ' ' || coalesce(gql_name, '(anonymous)')
            ELSE coalesce(method, '?') || ' ' || coalesce(callee_route, {_PATH})
        END AS op,
        CASE WHEN gql_type IS NOT NULL THEN gql_type = 'mutation'
             ELSE coalesce(method, 'GET') NOT IN {sql_list(READ_METHODS)} END AS is_write,
        NULL AS links
    FROM http
    UNION ALL
    SELECT trace_id, span_id, parent_span_id, tk, sk, pk, batch_id, svc, ns, role, inst,
           start_time, duration_ns, err, f.k, f.t, NULL, NULL, f.op, f.w, links
    FROM (
        SELECT *, unnest({aws_facts}) AS f FROM {spans} WHERE cat = 'aws'
    )
    {lambda_runs}
)
SELECT
    trace_id, span_id, parent_span_id, tk, sk, pk, batch_id, svc, ns, role, inst, start_time,
    duration_ns, err, fkind, target, callee_svc, callee_ns, op, is_write,
    hash(coalesce(svc, '~'), coalesce(ns, '~'), fkind, target, coalesce(callee_svc, '~'),
         coalesce(callee_ns, '~'), coalesce(op, '~'), is_write) AS gkey,
    links
FROM facts
"""


def hosts_sql(spans: str, count: str = "count(*)") -> str:
    """Where servers listen (host map) and where AWS answers (transport detection); `count`
    counts the rows of `spans` (sum(n) over rows already counted)."""
    return f"""
SELECT lower(host) AS host, coalesce(port, -1) AS port,
       CASE WHEN cat = 'aws' THEN 'aws' ELSE 'server' END AS hkind,
       CASE WHEN cat = 'server' THEN svc END AS svc,
       CASE WHEN cat = 'server' THEN ns END AS ns,
       {count} AS n
FROM {spans}
WHERE host IS NOT NULL AND cat IN ('aws', 'server')
GROUP BY ALL
"""


def roots_sql(spans: str) -> str:
    """Roots of self-started work (no SERVER or CONSUMER root): candidate runs of a recurring
    job."""
    return f"""
SELECT trace_id, span_id, tk, svc, ns, inst, name, start_time
FROM {spans}
WHERE pk IS NULL AND kind NOT IN ('SERVER', 'CONSUMER')
"""
