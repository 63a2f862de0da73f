"""A component that calls itself over HTTP (a server calling its own API route over loopback)
integrates with nothing: no edge and no label, like a server span or internal work. A call
between two components stays an edge, however alike their names.

Components are told apart as DESIGN.md's landscape model says: component = service.name,
system = service.namespace (node id ``component:<system>/<service.name>``); instances and roles
do not make two components of one.
"""

from __future__ import annotations

import pytest

from tests.fixtures.sdks import SDKS
from tests.unit.classifiers.conftest import ClassifyFn
from tests.unit.classifiers.fleet import Fleet, Service

CHECKOUT = Service("checkout", "orders", "backend", instance="checkout-1")
URL = "http://localhost:3000/api/cart/7"


def _client(f: Fleet) -> str:
    (span,) = [s for s in f.spans if s.kind == "CLIENT"]
    return span.span_id


@pytest.mark.parametrize("sdk", sorted(SDKS))
def test_a_component_calling_its_own_endpoint_is_no_edge(sdk: str, classified: ClassifyFn) -> None:
    """The stock instrumentations' shapes: the CLIENT span and, under it (context propagated),
    the SERVER span of the same service.name, namespace and instance. No A303 ('checkout calls
    checkout'): no edge at all, and the client's span carries no label."""
    f = Fleet()
    SDKS[sdk].call(f, CHECKOUT, URL, server=CHECKOUT, route="/api/cart/:id")
    c = classified(f)
    assert c.edges() == []
    assert _client(f) not in {row[1] for row in c.labels()}


def test_a_self_call_whose_context_was_lost_is_no_edge_either(classified: ClassifyFn) -> None:
    """Without the trace headers the callee is found by the host and port its server listens
    on: the component's own, so still no integration (not a vendor at localhost:3000 either)."""
    s = SDKS["node-0.76"]
    f = Fleet()
    f.at(0)
    s.call(f, CHECKOUT, URL)
    f.at(0.01)
    s.emit(f, CHECKOUT, s.http_server("/api/cart/:id", "/api/cart/7", "GET", 3000))
    assert classified(f).edges() == []


@pytest.mark.parametrize("role", ["backend", "worker"])
def test_another_instance_of_the_component_is_the_component(
    role: str, classified: ClassifyFn
) -> None:
    """Two instances of one service (same service.name and namespace) are one component, even
    where one declares another seamscope.role (a role is a component's, not a component): a
    call from one to the other is the component calling itself."""
    f = Fleet()
    other = Service("checkout", "orders", role, instance="checkout-2")
    SDKS["node-0.76"].call(f, CHECKOUT, URL, server=other)
    assert classified(f).edges() == []


def test_the_same_name_in_another_system_is_another_component(classified: ClassifyFn) -> None:
    """service.name checkout in system billing is not orders' checkout: the call between them
    is an integration between two systems, labelled as one."""
    f = Fleet()
    theirs = Service("checkout", "billing", "backend")
    SDKS["node-0.76"].call(f, CHECKOUT, "http://localhost:5005/invoices", server=theirs)
    (edge,) = classified(f).edges()
    assert (edge["from_node"], edge["to_node"]) == (
        "component:orders/checkout",
        "component:billing/checkout",
    )
    assert (edge["rule_id"], edge["level"]) == ("P102", "system")


def test_a_call_to_another_component_of_the_system_is_still_a303(classified: ClassifyFn) -> None:
    f = Fleet()
    api = Service("orders-api", "orders", "backend")
    SDKS["node-0.76"].call(f, CHECKOUT, "http://localhost:5001/orders/7", server=api)
    (edge,) = classified(f).edges()
    assert (edge["rule_id"], edge["reason"]) == (
        "A303",
        "orders/checkout calls orders/orders-api over REST inside one system, "
        "where a direct hit or a listener would do",
    )


@pytest.mark.parametrize("name", ["unknown_service:node", "unknown_service"])
def test_unnamed_services_calling_each_other_are_not_taken_for_a_self_call(
    name: str, classified: ClassifyFn
) -> None:
    """Services that set no service.name get the SDK's default (`unknown_service:` and the
    executable's name, or `unknown_service`), so two of them share a name and a node: a call
    between them looks like a self-call. It may be an integration, so it stays an edge,
    unresolved, saying what to set (neither dropped nor labelled A303)."""
    f = Fleet()
    caller = Service(name, "orders", "backend", instance="a")
    callee = Service(name, "orders", "backend", instance="b")
    SDKS["node-0.76"].call(f, caller, "http://localhost:5001/orders/7", server=callee)
    c = classified(f)
    (edge,) = c.edges()
    assert edge["rule_id"] == "unresolved"
    assert edge["reason"] == (
        f"orders/{name} calls orders/{name}: these spans name no service (service.name is "
        "unset or the SDK's default), so whether a service calls itself or another unnamed one "
        "is unknown (set OTEL_SERVICE_NAME)"
    )
    assert _client(f) in {row[1] for row in c.labels()}
