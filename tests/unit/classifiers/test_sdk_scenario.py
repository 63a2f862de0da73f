"""Issue 11's scenario in every SDK's span shapes, through the real classifier in-process.

One store per SDK (tests/fixtures/sdks/scenario.py), classified with the scenario's landscape:
from the spans alone, with the account's wiring as `seamscope discover aws` stores it, and with
the same wiring declared in the landscape file. Each integration is compared with the label
tests/fixtures/sdks/expected.py gives it.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import duckdb
import pytest

from seamscope.classifiers.engine import classify
from seamscope.classifiers.landscape import parse_landscape
from seamscope.classifiers.read import snapshot
from seamscope.tracer.access import connection_query
from seamscope.tracer.discover import replace_routes
from seamscope.tracer.store import Store
from tests.fixtures.sdks import SDKS
from tests.fixtures.sdks.expected import (
    CASES,
    Case,
    params,
    problems,
    records,
    unnamed_joins,
    unnamed_params,
)
from tests.fixtures.sdks.scenario import (
    BFF,
    BFF_URL,
    BILLING_API,
    LANDSCAPE,
    ORDERS_API,
    ORDERS_URL,
    WEB,
    build,
    declared_routes,
    discovered_routes,
)
from tests.unit.classifiers.fleet import Fleet

WIRINGS = ("none", "discovered", "declared")
Edges = Callable[[str, str], list[dict[str, Any]]]


@pytest.fixture(scope="module")
def edges_of(tmp_path_factory: pytest.TempPathFactory) -> Edges:
    cache: dict[tuple[str, str], list[dict[str, Any]]] = {}

    def get(sdk: str, wiring: str) -> list[dict[str, Any]]:
        if (sdk, wiring) not in cache:
            folder: Path = tmp_path_factory.mktemp(f"{sdk}-{wiring}")
            path = build(SDKS[sdk]).store(folder / "store.duckdb")
            if wiring == "discovered":
                with Store.open(path) as store:
                    kinds = sorted({r.kind for r in discovered_routes()})
                    replace_routes(
                        store.con,
                        discovered_routes(),
                        account="123456789012",
                        region="eu-west-1",
                        kinds=kinds,
                    )
            text = LANDSCAPE + (declared_routes() if wiring == "declared" else "")
            con = duckdb.connect(str(path))
            try:
                classify(con, parse_landscape(text, folder / "seamscope.toml"))
                with con.cursor() as cursor:
                    cache[(sdk, wiring)] = records(snapshot(connection_query(cursor)))
            finally:
                con.close()
        return cache[(sdk, wiring)]

    return get


@pytest.mark.parametrize("wiring", WIRINGS)
@pytest.mark.parametrize(("case", "sdk"), params())
def test_integration_gets_the_guideline_label(
    case: Case, sdk: str, wiring: str, edges_of: Edges
) -> None:
    assert problems(case, sdk, edges_of(sdk, wiring), wired=wiring != "none") == []


@pytest.mark.parametrize("wiring", WIRINGS)
@pytest.mark.parametrize("sdk", unnamed_params())
def test_no_edge_rests_on_an_unnamed_resource(sdk: str, wiring: str, edges_of: Edges) -> None:
    assert unnamed_joins(edges_of(sdk, wiring)) == []


@pytest.mark.parametrize("sdk", sorted(SDKS))
def test_wired_edges_say_where_the_join_came_from(sdk: str, edges_of: Edges) -> None:
    """An edge the wiring joined says so (discovered or declared), one the spans joined says
    what in them did; no edge rests on nothing but is labelled."""
    for wiring in ("discovered", "declared"):
        for e in edges_of(sdk, wiring):
            if e["verdict"] == "unresolved":
                continue
            assert e["evidence"] != "none", e
        evidence = {
            (e["from"], e["to"]): e["evidence"]
            for e in edges_of(sdk, wiring)
            if e["mechanism"] == "eventbridge"
        }
        want = "hook" if sdk == "python-hooks" else wiring
        assert evidence[("orders/orders-api", "billing/billing-ledger")] == want


def test_every_sdk_and_case_has_an_expectation() -> None:
    for case in CASES:
        assert set(case.expected) == set(SDKS), case.key
        assert set(case.wired) <= set(SDKS), case.key


@pytest.mark.parametrize("sdk", sorted(SDKS))
def test_a_call_whose_context_was_lost_finds_the_server_by_its_host(
    sdk: str, tmp_path: Path
) -> None:
    """A proxy that drops the trace headers leaves the client's and the server's spans in
    traces of their own. The server's span says where it listens (server.address or
    net.host.name and its port, from the Host header the client sent), so the REST call joins
    orders-api by that host and port: it is no vendor's API."""
    s = SDKS[sdk]
    f = Fleet()
    f.at(0)
    s.call(f, BILLING_API, f"{ORDERS_URL}/orders/7")
    f.at(0.01)
    shape = s.http_server("/orders/{id}", "/orders/7", "GET", 5001, host="127.0.0.1")
    s.emit(f, ORDERS_API, shape)
    path = f.store(tmp_path / "store.duckdb")
    con = duckdb.connect(str(path))
    try:
        classify(con, parse_landscape(LANDSCAPE, tmp_path / "seamscope.toml"))
        with con.cursor() as cursor:
            found = records(snapshot(connection_query(cursor)))
    finally:
        con.close()
    calls = [(e["from"], e["to"], e["rule_id"], e["evidence"]) for e in found]
    assert calls == [("billing/billing-api", "orders/orders-api", "P102", "host")]


def _classified(f: Fleet, folder: Path) -> list[dict[str, Any]]:
    path = f.store(folder / "store.duckdb")
    con = duckdb.connect(str(path))
    try:
        classify(con, parse_landscape(LANDSCAPE, folder / "seamscope.toml"))
        with con.cursor() as cursor:
            return records(snapshot(connection_query(cursor)))
    finally:
        con.close()


GRAPHQL_SDKS = sorted(k for k, s in SDKS.items() if s.graphql_execute("query", "Cart"))


@pytest.mark.parametrize("sdk", GRAPHQL_SDKS)
def test_the_operation_the_bff_executed_makes_a_call_graphql(sdk: str, tmp_path: Path) -> None:
    """No HTTP span records a GraphQL operation (seamscope's Python hooks put it on the
    client's); Node's instrumentation-graphql records the one the BFF executed, on a span of its
    own under the request's (here under express's request handler). Served at a path not named
    graphql (gqlgen's /query), a backend's call into the BFF's GraphQL was REST between
    backends, a pattern (P102); it is the anti-pattern A102, and the webapp's mutation P101,
    each named by its operation."""
    s = SDKS[sdk]
    f = Fleet()
    for client, (op_type, name) in ((BILLING_API, ("query", "Cart")), (WEB, ("mutation", "Pay"))):
        f.at(1)
        call = s.emit(f, client, s.http_client(f"{BFF_URL}/query", "POST"))
        served = s.emit(
            f, BFF, s.http_server("/query", "/query", "POST", 4000, host="127.0.0.1"), call
        )
        handler = f.span(BFF, "request handler - /query", "INTERNAL", {}, parent=served)
        executed = s.graphql_execute(op_type, name)
        assert executed is not None
        s.emit(f, BFF, executed, handler)
    calls = {
        (e["from"], e["mechanism"], e["rule_id"], tuple(e["operations"]))
        for e in _classified(f, tmp_path)
    }
    assert calls == {
        ("billing/billing-api", "graphql", "A102", ("query Cart",)),
        ("storefront/storefront-web", "graphql", "P101", ("mutation Pay",)),
    }


@pytest.mark.parametrize("sdk", GRAPHQL_SDKS)
def test_an_operation_under_no_server_of_its_own_service_names_no_call(
    sdk: str, tmp_path: Path
) -> None:
    """An operation is the call's only under a server span of the service that executed it:
    one the BFF runs from a job of its own (a root span), or whose spans up reach another
    service first, says nothing of the REST call the BFF answers."""
    s = SDKS[sdk]
    f = Fleet()
    f.at(1)
    call = s.emit(f, BILLING_API, s.http_client(f"{BFF_URL}/query", "POST"))
    s.emit(f, BFF, s.http_server("/query", "/query", "POST", 4000, host="127.0.0.1"), call)
    executed = s.graphql_execute("query", "Cart")
    assert executed is not None
    s.emit(f, BFF, executed)
    s.emit(f, ORDERS_API, executed, call)
    calls = {(e["from"], e["mechanism"], e["rule_id"]) for e in _classified(f, tmp_path)}
    assert calls == {("billing/billing-api", "rest", "P102")}
