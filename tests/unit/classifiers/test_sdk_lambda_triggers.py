"""A Lambda function triggered by a DynamoDB stream and one by an EventBridge rule, in the
invocation spans of the stock Lambda instrumentations (tests/fixtures/sdks/lambda_triggers.py),
through the real classifier on a DuckDB store.

Those spans name no trigger and link to no producer, so the invocation cannot be labelled: it
must show as an unresolved edge that says why, never vanish and never be a pattern. What the
function does once invoked (its table writes) is labelled as any call is.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import duckdb
import pytest

from seamscope.classifiers.engine import classify
from seamscope.classifiers.landscape import parse_landscape
from seamscope.classifiers.read import snapshot
from seamscope.tracer.access import connection_query
from tests.fixtures.sdks import SDKS
from tests.fixtures.sdks.expected import records
from tests.fixtures.sdks.lambda_triggers import SHAPES
from tests.fixtures.sdks.scenario import (
    INVOICES_TABLE,
    LANDSCAPE,
    LEDGER,
    ORDERS_API,
    ORDERS_TABLE,
    PROJECTOR,
    VIEWS_TABLE,
)
from tests.unit.classifiers.fleet import Fleet

# The account's wiring the two functions are triggered through (as `seamscope discover aws`
# finds it, or the landscape file declares it).
ROUTES = f"""
[[routes]]
kind = "dynamodb-stream-consumer"
source = "dynamodb:stream/{ORDERS_TABLE}"
target = "lambda:function/orders-projector"

[[routes]]
kind = "eventbridge-rule"
source = "events:bus/commerce"
target = "lambda:function/billing-ledger"
event_sources = ["orders"]
detail_types = ["OrderShipped"]
name = "shipped-to-ledger"
"""


def _fleet(lang: str) -> Fleet:
    """orders-api writes its table (whose stream triggers orders-projector) and puts an
    OrderShipped event (a rule triggers billing-ledger); each function writes a table."""
    shape = SHAPES[lang]
    aws = SDKS["node-0.76" if lang == "node" else "python"]
    f = Fleet()
    f.at(1)
    aws.aws(f, ORDERS_API, aws.dynamodb("PutItem", ORDERS_TABLE))
    run = aws.emit(f, PROJECTOR, shape("orders-projector", "dynamodb-stream"))
    aws.aws(f, PROJECTOR, aws.dynamodb("PutItem", VIEWS_TABLE), run)
    f.at(5)
    aws.aws(f, ORDERS_API, aws.put_events("commerce", "orders", "OrderShipped"))
    run = aws.emit(f, LEDGER, shape("billing-ledger", "eventbridge"))
    aws.aws(f, LEDGER, aws.dynamodb("UpdateItem", INVOICES_TABLE), run)
    return f


def _classified(f: Fleet, folder: Path, routes: str = "") -> list[dict[str, Any]]:
    path = f.store(folder / "store.duckdb")
    con = duckdb.connect(str(path))
    try:
        classify(con, parse_landscape(LANDSCAPE + routes, folder / "seamscope.toml"))
        with con.cursor() as cursor:
            return records(snapshot(connection_query(cursor)))
    finally:
        con.close()


@pytest.mark.parametrize("lang", sorted(SHAPES))
def test_a_lambda_whose_invocation_names_no_trigger_is_unresolved(
    lang: str, tmp_path: Path
) -> None:
    f = _fleet(lang)
    found = _classified(f, tmp_path)
    runs = {
        (e["from"], e["to"], e["rule_id"]): e["reason"] for e in found if e["mechanism"] == "lambda"
    }
    assert set(runs) == {
        ("lambda:function/orders-projector", "orders/orders-projector", "unresolved"),
        ("lambda:function/billing-ledger", "billing/billing-ledger", "unresolved"),
    }
    for reason in runs.values():
        assert "name no trigger" in reason
        assert "seamscope discover aws" in reason
    writes = {(e["from"], e["to"], e["rule_id"]) for e in found if e["mechanism"] == "dynamodb"}
    assert ("orders/orders-projector", "dynamodb:table/orders-order-views", "P301") in writes
    assert ("billing/billing-ledger", "dynamodb:table/prod-billing-invoices", "P301") in writes


@pytest.mark.parametrize("lang", sorted(SHAPES))
def test_with_the_wiring_the_stream_and_the_rule_listeners_get_their_labels(
    lang: str, tmp_path: Path
) -> None:
    """With the event-source mapping and the rule known, the invocations join their producers:
    the projector listens to its own system's table stream (P401), the ledger takes the
    leader's event as state without asking (A201, the rule's source matched to the system,
    as no PutEvents span names one). No invocation is left unresolved."""
    found = _classified(_fleet(lang), tmp_path, ROUTES)
    listening = {
        (e["from"], e["to"], e["mechanism"], e["rule_id"], e["evidence"])
        for e in found
        if e["to"] in ("orders/orders-projector", "billing/billing-ledger")
    }
    assert listening == {
        (
            f"dynamodb:table/{ORDERS_TABLE}",
            "orders/orders-projector",
            "dynamodb-streams",
            "P401",
            "declared",
        ),
        ("orders/orders-api", "billing/billing-ledger", "eventbridge", "A201", "declared"),
    }
