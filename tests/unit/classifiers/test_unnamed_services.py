"""Spans whose resource names no service: no service.name at all (a Collector's processor dropped
it, an exporter that sets none) or the SDK's default (`unknown_service`,
`unknown_service:<executable>`), which every unnamed service shares.

Such a service is still traced: a call its server span answered is a call to a component, never
to a vendor at its host. Which component it is, the spans do not say, and the REST and GraphQL
rules turn on that (a webapp, the BFF): those calls are unresolved, saying that the spans carry
no service.name. What turns on the system alone (a table of its own system) keeps its label.
"""

from __future__ import annotations

import pytest

from tests.fixtures.sdks import SDKS
from tests.unit.classifiers.conftest import ClassifyFn
from tests.unit.classifiers.fleet import Fleet, Service

BILLING = Service("billing-api", "billing", "backend")
ORDERS = Service("orders-api", "orders", "backend")
URL = "http://localhost:5001/orders/7"
NO_NAME = "carry no service.name"


def _unnamed(name: str, system: str | None = "orders") -> Service:
    return Service(name, system, None, instance="x-1")


@pytest.mark.parametrize("sdk", sorted(SDKS))
def test_a_server_span_without_service_name_is_a_traced_callee(
    sdk: str, classified: ClassifyFn
) -> None:
    """Every SDK's shapes: the callee's SERVER span answered in the trace, its resource has no
    service.name. Not a vendor at localhost:5001 (P302): an unresolved call to the system's
    unnamed component, saying why."""
    f = Fleet()
    SDKS[sdk].call(f, BILLING, URL, server=_unnamed(""), route="/orders/:id")
    c = classified(f)
    (edge,) = c.edges()
    assert (edge["from_node"], edge["to_node"]) == (
        "component:billing/billing-api",
        "component:orders/unknown-service",
    )
    assert (edge["rule_id"], edge["verdict"], edge["mechanism"]) == (
        "unresolved",
        "unresolved",
        "rest",
    )
    assert edge["reason"] == (
        "the spans of orders/unknown-service carry no service.name (unset, or the SDK's default "
        "unknown_service, which every service without a name shares): which service answers, "
        "and with it the rule, is unknown (set OTEL_SERVICE_NAME)"
    )
    assert edge["evidence"] == "trace"
    assert not [
        n for (n,) in c.con.execute("SELECT node_id FROM nodes").fetchall() if "external" in n
    ]


@pytest.mark.parametrize("system", ["orders", None])
@pytest.mark.parametrize("name", ["", "unknown_service", "unknown_service:java"])
def test_no_service_name_and_the_sdk_default_come_out_alike(
    name: str, system: str | None, classified: ClassifyFn
) -> None:
    """The callee and the caller, with a namespace or without: unresolved, because the spans
    carry no service.name (with a namespace the SDK's default got P102 and A303 before: labels
    on a node that every unnamed service of the system shares)."""
    f = Fleet()
    s = SDKS["node-0.76"]
    s.call(f, BILLING, URL, server=_unnamed(name, system))
    s.call(f, _unnamed(name, system), "http://localhost:5002/orders/7", server=ORDERS)
    edges = classified(f).edges()
    assert len(edges) == 2
    for edge in edges:
        assert edge["rule_id"] == "unresolved", edge
        assert NO_NAME in edge["reason"]
    verbs = sorted(e["reason"].split("which service ")[1].split(",")[0] for e in edges)
    assert verbs == ["answers", "calls"]


def test_a_callee_found_by_its_host_without_service_name_is_no_vendor(
    classified: ClassifyFn,
) -> None:
    """The trace headers were lost: the callee is found by the host and port its server spans
    say it listens on, and those spans name no service. Still the unnamed component."""
    s = SDKS["node-0.76"]
    f = Fleet()
    f.at(0)
    s.call(f, BILLING, URL)
    f.at(0.01)
    s.emit(f, _unnamed(""), s.http_server("/orders/:id", "/orders/7", "GET", 5001))
    (edge,) = classified(f).edges()
    assert edge["to_node"] == "component:orders/unknown-service"
    assert edge["evidence"] == "host"
    assert edge["rule_id"] == "unresolved" and NO_NAME in edge["reason"]


def test_a_table_of_its_own_system_keeps_its_label(classified: ClassifyFn) -> None:
    """The direct-hit rules turn on the system (service.namespace), which the spans do say."""
    f = Fleet()
    f.dynamodb(_unnamed(""), "PutItem", "orders")
    c = classified(f, "[owners.tables]\norders = 'orders'\n")
    assert c.rule("orders/unknown-service", "dynamodb:table/orders") == "P301"
