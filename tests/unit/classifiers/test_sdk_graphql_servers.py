"""GraphQL servers of other stacks (tests/fixtures/sdks/graphql_servers.py: strawberry,
HotChocolate 15 and 16, gqlgen with otelgqlgen, graphql-go), through the real classifier on a
DuckDB store.

Each stack serves the webapp's BFF and the orders system's own GraphQL API at `/api`, a path
that says nothing of GraphQL: a call is GraphQL only by what the server's spans record. The
clients are the stack's own SDK's HTTP clients, which record no operation.
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
from seamscope.tracer.store import Store
from tests.fixtures.sdks import SDKS
from tests.fixtures.sdks.expected import records
from tests.fixtures.sdks.graphql_servers import STACKS, Stack
from tests.fixtures.sdks.scenario import BFF, BILLING_API, LANDSCAPE, ORDERS_API, WEB
from tests.unit.classifiers.fleet import Fleet, Service

BFF_URL = "http://127.0.0.1:4000"
ORDERS_URL = "http://127.0.0.1:5001"

WEB_BFF = ("storefront/storefront-web", "storefront/storefront-bff")
API_BFF = ("orders/orders-api", "storefront/storefront-bff")
BILLING_ORDERS = ("billing/billing-api", "orders/orders-api")


def _call(
    f: Fleet,
    stack: Stack,
    client: Service,
    server: Service,
    url: str,
    op: tuple[str, str],
) -> None:
    sdk = SDKS[stack.http]
    span = sdk.emit(f, client, sdk.http_client(url, "POST"))
    parts = url.split("/")
    host, port = parts[2].split(":")
    path = "/" + "/".join(parts[3:])
    served = sdk.emit(f, server, sdk.http_server(path, path, "POST", int(port), host=host), span)
    stack.execute(f, server, served, *op)


def _fleet(stack: Stack, path: str = "/api", anonymous: str = "") -> Fleet:
    """The webapp queries the BFF; orders-api runs a mutation on it; billing-api queries
    orders-api's own GraphQL API (an anonymous query, or one named `anonymous`)."""
    f = Fleet()
    f.at(1)
    _call(f, stack, WEB, BFF, f"{BFF_URL}{path}", ("query", "Cart"))
    f.at(2)
    _call(f, stack, ORDERS_API, BFF, f"{BFF_URL}{path}", ("mutation", "Checkout"))
    f.at(3)
    _call(f, stack, BILLING_API, ORDERS_API, f"{ORDERS_URL}{path}", ("query", anonymous))
    return f


def _edges(f: Fleet, folder: Path) -> dict[tuple[str, str], dict[str, Any]]:
    folder.mkdir(exist_ok=True)
    path = f.store(folder / "store.duckdb")
    con = duckdb.connect(str(path))
    try:
        classify(con, parse_landscape(LANDSCAPE, folder / "seamscope.toml"))
        with con.cursor() as cursor:
            found = records(snapshot(connection_query(cursor)))
    finally:
        con.close()
    calls = [e for e in found if e["mechanism"] in ("graphql", "rest")]
    ends = [(e["from"], e["to"]) for e in calls]
    assert len(ends) == len(set(ends)), calls
    return {(e["from"], e["to"]): e for e in calls}


RECORDING = sorted(k for k, s in STACKS.items() if s.records)


@pytest.mark.parametrize("key", RECORDING)
def test_a_stacks_graphql_server_is_told_by_its_spans_at_any_path(key: str, tmp_path: Path) -> None:
    stack = STACKS[key]
    edges = _edges(_fleet(stack, anonymous="" if stack.anonymous else "Invoices"), tmp_path)
    got = {ends: (e["mechanism"], e["rule_id"]) for ends, e in edges.items()}
    assert got == {
        WEB_BFF: ("graphql", "P101"),
        API_BFF: ("graphql", "A102"),
        # GraphQL between backends to an API that is not the BFF: no rule covers it.
        BILLING_ORDERS: ("graphql", "unclassified"),
    }
    for e in edges.values():
        assert "inferred from the path" not in (e["reason"] or "")
    assert "Cart" in " ".join(edges[WEB_BFF]["operations"])
    assert "Checkout" in " ".join(edges[API_BFF]["operations"])


@pytest.mark.parametrize("key", sorted(k for k, s in STACKS.items() if s.types))
def test_the_operations_type_is_read_where_the_spans_name_it(key: str, tmp_path: Path) -> None:
    """A mutation is named a mutation (a write), a query a query, anonymous or not."""
    stack = STACKS[key]
    edges = _edges(_fleet(stack, anonymous="" if stack.anonymous else "Invoices"), tmp_path)
    assert edges[WEB_BFF]["operations"] == ["query Cart"]
    assert edges[API_BFF]["operations"] == ["mutation Checkout"]
    anonymous = "query (anonymous)" if stack.anonymous else "query Invoices"
    assert edges[BILLING_ORDERS]["operations"] == [anonymous]


def test_hotchocolate_15s_anonymous_operation_is_told_only_by_its_path(tmp_path: Path) -> None:
    """HotChocolate 15 records an anonymous operation's type in graphql.operation.kind alone:
    at its default path the call is GraphQL, and the reason says it was inferred from it."""
    edges = _edges(_fleet(STACKS["hotchocolate-15"], "/graphql"), tmp_path)
    assert edges[BILLING_ORDERS]["mechanism"] == "graphql"
    assert "inferred from the path" in edges[BILLING_ORDERS]["reason"]
    assert edges[WEB_BFF]["operations"] == ["query Cart"]
    assert "inferred from the path" not in (edges[WEB_BFF]["reason"] or "")


def test_a_stack_that_records_nothing_of_graphql_is_not_taken_for_it(tmp_path: Path) -> None:
    """graphql-go (or gqlgen without an extension): at a path named graphql the call is taken
    for GraphQL and the reason says it was inferred from the path; elsewhere nothing in the
    spans says GraphQL, and the call is what its spans show, an HTTP call."""
    stack = STACKS["graphql-go"]
    at_graphql = _edges(_fleet(stack, "/graphql"), tmp_path / "graphql")
    assert {k: e["mechanism"] for k, e in at_graphql.items()} == {
        WEB_BFF: "graphql",
        API_BFF: "graphql",
        BILLING_ORDERS: "graphql",
    }
    for e in at_graphql.values():
        assert "inferred from the path" in e["reason"]
    elsewhere = _edges(_fleet(stack, "/query"), tmp_path / "query")
    assert {k: e["mechanism"] for k, e in elsewhere.items()} == {
        WEB_BFF: "rest",
        API_BFF: "rest",
        BILLING_ORDERS: "rest",
    }


@pytest.mark.parametrize("key", ["strawberry", "otelgqlgen"])
@pytest.mark.parametrize("late", ["operations", "requests"])
def test_a_server_span_operation_in_a_batch_of_its_own_labels_as_in_one(
    key: str, late: str, tmp_path: Path
) -> None:
    """Classified batch by batch, with the operations' SERVER spans stored after the requests
    (or the requests after them), the calls get the labels one classification of all gives:
    each batch reads such spans only where it holds one or a stored span of its traces."""
    f = _fleet(STACKS[key])
    whole = _edges(f, tmp_path / "whole")
    ops = {s.span_id for s in f.spans if s.kind == "SERVER" and "http.method" not in s.attributes}
    first = [s for s in f.in_end_order() if (s.span_id in ops) == (late == "requests")]
    second = [s for s in f.in_end_order() if (s.span_id in ops) != (late == "requests")]
    folder = tmp_path / "batches"
    folder.mkdir()
    path = folder / "store.duckdb"
    landscape = parse_landscape(LANDSCAPE, folder / "seamscope.toml")
    for i, batch in enumerate((first, second)):
        with Store.open(path) as store:
            store.append(f.table(batch), batch_key=f"b{i}", source="test")
        con = duckdb.connect(str(path))
        try:
            classify(con, landscape)
            with con.cursor() as cursor:
                found = records(snapshot(connection_query(cursor)))
        finally:
            con.close()
    got = {(e["from"], e["to"]): (e["mechanism"], e["rule_id"], e["operations"]) for e in found}
    want = {k: (e["mechanism"], e["rule_id"], e["operations"]) for k, e in whole.items()}
    assert {k: v for k, v in got.items() if v[0] in ("graphql", "rest")} == want
