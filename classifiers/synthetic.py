"""A synthetic store of a realistic span mix, generated in SQL, to measure classification.

    python -m seamscope.classifiers.synthetic STORE --spans 10000000 [--measure]

Every trace has ten spans: a webapp's GraphQL call to its BFF and the BFF's server span, the
BFF's REST call to a backend and its server span, the backend's GetItem and PutItem, its
PutEvents, a worker's SQS receive (of that event in even traces; in odd ones, of what its own
system's workers send), the worker's POST to a vendor and its SQS send.
Forty systems; 10k spans per batch, 10k spans per second of simulated time.
"""

from __future__ import annotations

import argparse
import os
import time
from pathlib import Path

import duckdb

from seamscope.tracer.keys import keys_sql
from seamscope.tracer.schema import SPAN_COLUMN_NAMES
from seamscope.tracer.store import Store

BATCH = 10_000
SYSTEMS = 40

_VALUES = """
    lpad(to_hex(i // 10), 32, '0') AS trace_id,
    lpad(to_hex(i), 16, '0') AS span_id,
    CASE p WHEN 1 THEN lpad(to_hex(i - 1), 16, '0') WHEN 3 THEN lpad(to_hex(i - 1), 16, '0')
           WHEN 4 THEN lpad(to_hex(i - 1), 16, '0') WHEN 5 THEN lpad(to_hex(i - 2), 16, '0')
           WHEN 6 THEN lpad(to_hex(i - 3), 16, '0') END AS parent_span_id,
    CASE p WHEN 0 THEN 'POST' WHEN 1 THEN 'POST /graphql' WHEN 2 THEN 'GET'
           WHEN 3 THEN 'GET /items/<id>' WHEN 4 THEN 'DynamoDB.GetItem'
           WHEN 5 THEN 'DynamoDB.PutItem' WHEN 6 THEN 'EventBridge.PutEvents'
           WHEN 7 THEN 'SQS.ReceiveMessage' WHEN 8 THEN 'POST' ELSE 'SQS.SendMessage' END AS name,
    CASE WHEN p IN (1, 3) THEN 'SERVER' ELSE 'CLIENT' END AS kind,
    make_timestamp(1700000000000000 + i * 100) AS start_time,
    make_timestamp(1700000000000000 + i * 100 + 2000 + (i * 7919) % 50000) AS end_time,
    (2000 + (i * 7919) % 50000) * 1000 AS duration_ns,
    CASE WHEN i % 997 = 0 THEN 'ERROR' ELSE 'UNSET' END AS status_code,
    NULL AS status_message,
    CASE WHEN p = 0 THEN 'web-' || k WHEN p IN (1, 2) THEN 'bff-' || k
         WHEN p IN (3, 4, 5, 6) THEN 'api-' || k ELSE 'worker-' || k END AS service_name,
    CASE WHEN p IN (7, 8, 9) THEN 'sys' || ((k + 1) % {systems}) ELSE 'sys' || k END
        AS service_namespace,
    CASE WHEN p = 0 THEN 'webapp' WHEN p IN (1, 2) THEN 'bff' WHEN p IN (3, 4, 5, 6) THEN 'backend'
         ELSE 'worker' END AS service_role,
    'inst-' || k || '-' || p AS service_instance,
    'synthetic' AS scope_name,
    CASE WHEN p IN (4, 5, 6, 7, 9) THEN 'aws-api' END AS rpc_system,
    CASE p WHEN 4 THEN 'DynamoDB' WHEN 5 THEN 'DynamoDB' WHEN 6 THEN 'EventBridge'
           WHEN 7 THEN 'SQS' WHEN 9 THEN 'SQS' END AS rpc_service,
    CASE p WHEN 4 THEN 'GetItem' WHEN 5 THEN 'PutItem' WHEN 6 THEN 'PutEvents'
           WHEN 7 THEN 'ReceiveMessage' WHEN 9 THEN 'SendMessage' END AS rpc_method,
    CASE WHEN p IN (4, 5, 6, 7, 9) THEN 'eu-west-1' END AS cloud_region,
    CASE WHEN p IN (4, 5) THEN 'dynamodb' END AS db_system,
    CASE p WHEN 4 THEN 'GetItem' WHEN 5 THEN 'PutItem' END AS db_operation,
    CASE WHEN p IN (4, 5) THEN ['Table' || k] END AS db_tables,
    CASE WHEN p IN (7, 9) THEN 'aws.sqs' END AS messaging_system,
    NULL AS messaging_operation,
    CASE WHEN p = 7 AND (i // 10) % 2 = 0 THEN 'events-q-' || k
         WHEN p IN (7, 9) THEN 'jobs-q-' || k END AS messaging_destination,
    CASE WHEN p IN (0, 1) THEN 'POST' WHEN p IN (2, 3) THEN 'GET' WHEN p = 8 THEN 'POST' END
        AS http_method,
    CASE p WHEN 0 THEN 'http://bff-' || k || ':4000/graphql'
           WHEN 2 THEN 'http://api-' || k || ':5000/items/' || (i % 1000)
           WHEN 8 THEN 'https://api.vendor' || (k % 5) || '.com/v1/contacts' END AS http_url,
    CASE p WHEN 1 THEN '/graphql' WHEN 3 THEN '/items/<id>' END AS http_route,
    CASE WHEN p IN (0, 1, 2, 3, 8) THEN 200 END AS http_status_code,
    CASE p WHEN 0 THEN 'bff-' || k WHEN 1 THEN 'bff-' || k WHEN 2 THEN 'api-' || k
           WHEN 3 THEN 'api-' || k WHEN 8 THEN 'api.vendor' || (k % 5) || '.com'
           WHEN 4 THEN 'dynamodb.eu-west-1.amazonaws.com'
           WHEN 5 THEN 'dynamodb.eu-west-1.amazonaws.com'
           WHEN 6 THEN 'events.eu-west-1.amazonaws.com'
           ELSE 'sqs.eu-west-1.amazonaws.com' END AS server_address,
    CASE WHEN p IN (0, 1) THEN 4000 WHEN p IN (2, 3) THEN 5000 ELSE 443 END AS server_port,
    CASE WHEN p = 0 THEN 'Shortlist' END AS graphql_operation_name,
    CASE WHEN p = 0 THEN 'query' END AS graphql_operation_type,
    CASE WHEN p = 6 OR (p = 7 AND (i // 10) % 2 = 0)
         THEN [{{'bus': CASE WHEN p = 6 THEN 'default' END,
                                 'source': 'sys' || k, 'detail_type': 'ItemChanged'}}] END
        AS events,
    NULL AS sns_topics, NULL AS stream_name, NULL AS stream_arn, NULL AS s3_bucket,
    NULL AS faas_invoked_name,
    '{{}}' AS attributes, '{{}}' AS resource, NULL AS span_events, NULL AS links,
    i // {batch} + 1 AS batch_id
"""


def generate(con: duckdb.DuckDBPyConnection, first: int, count: int) -> None:
    """Appends spans first .. first + count - 1 (and their batches) to the store.

    Batches hold BATCH spans each: start at a multiple of BATCH, or a classified batch grows.
    """
    values = _VALUES.format(systems=SYSTEMS, batch=BATCH)
    rows = f"""SELECT {values} FROM (
        SELECT i, i % 10 AS p, (i // 10) % {SYSTEMS} AS k
        FROM range({first}, {first + count}) AS t(i)
    )"""
    con.execute(
        f"""INSERT INTO spans ({", ".join(SPAN_COLUMN_NAMES)})
        SELECT {", ".join(SPAN_COLUMN_NAMES)} FROM ({keys_sql(rows)})"""
    )
    con.execute(
        f"""INSERT INTO batches (batch_id, batch_key, source, span_count, ingested_at)
        SELECT b, 'synthetic-' || b, 'synthetic', {BATCH}, now()
        FROM range({first} // {BATCH} + 1, ({first + count} - 1) // {BATCH} + 2) AS t(b)
        ON CONFLICT DO NOTHING"""
    )
    con.execute(f"SELECT setval('batch_seq', {(first + count - 1) // BATCH + 1})")


def main() -> None:
    from seamscope.classifiers.engine import classify

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("store", type=Path)
    parser.add_argument("--spans", type=int, default=1_000_000)
    parser.add_argument("--measure", action="store_true", help="time full and incremental runs")
    args = parser.parse_args()
    with Store.open(args.store) as store:
        con = store.con
        have = int(con.execute("SELECT count(*) FROM spans").fetchone()[0])  # type: ignore[index]
        if have < args.spans:
            started = time.perf_counter()
            generate(con, have, args.spans - have)
            print(f"generated {args.spans - have} spans in {time.perf_counter() - started:.1f} s")
        if args.measure:
            con.execute("CHECKPOINT")
            print(f"load average before: {os.getloadavg()[0]:.1f} (cores: {os.cpu_count()})")
            cpu = time.process_time()
            result = classify(con, full=True)
            cpu = time.process_time() - cpu
            print(
                f"full: {result.elapsed_ms:.0f} ms wall, {cpu * 1000:.0f} ms CPU, "
                f"{result.edges} edges"
            )
            for run in range(5):
                total = int(con.execute("SELECT count(*) FROM spans").fetchone()[0])  # type: ignore[index]
                generate(con, total, BATCH)
                cpu = time.process_time()
                result = classify(con)
                cpu = time.process_time() - cpu
                print(
                    f"incremental {run + 1} (+{result.new_spans}): {result.elapsed_ms:.1f} ms "
                    f"wall, {cpu * 1000:.1f} ms CPU"
                )
            result = classify(con)
            print(f"nothing new: {result.elapsed_ms:.1f} ms")
            print(f"load average after: {os.getloadavg()[0]:.1f}")


if __name__ == "__main__":
    main()
