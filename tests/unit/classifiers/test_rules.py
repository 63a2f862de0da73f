"""Every rule of the catalog: a sample that fires it and a near miss that must not."""

from __future__ import annotations

from dataclasses import replace

import pytest

from seamscope.classifiers.catalog import (
    RULES,
    RULES_BY_ID,
    UNCLASSIFIED_RULE,
    Label,
    evaluate,
    rule_for,
)
from seamscope.classifiers.model import EdgeFacts, Handling
from seamscope.classifiers.results import Node, Verdict
from tests.unit.classifiers.conftest import ClassifyFn
from tests.unit.classifiers.fleet import Fleet, Service

WEB = Service("shortlist-web", "shortlist", "webapp")
BFF = Service("webapp-bff", "shortlist", "bff")
PORTAL = Service("provider-portal", "providers", "webapp")
COMMS = Service("comms-api", "comms", "backend")
ORDERS = Service("orders-api", "orders", "backend")
ORDERS_WORKER = Service("orders-worker", "orders", "worker")
BILLING = Service("billing-api", "billing", "backend")
REPORTING = Service("reporting-job", "reporting", "job")
INVENTORY = Service("inventory-api", "inventory", "backend")
INDEXER = Service("inventory-indexer", "inventory", "worker")
SEARCH = Service("search-sync", "search", "worker")
IDP = Service("idp", "identity", "backend")
SIGNUP = Service("signup-consumer", "marketing", "worker")

PORTAL_EXCEPTION = """
[exceptions]
rest_allowed_webapps = ["provider-portal"]
"""
VENDORS = """
[vendors.mailchimp]
hosts = ["*.mailchimp.com"]

[vendors.algolia]
hosts = ["*.algolia.net"]
"""


def test_every_rule_has_a_test_here() -> None:
    names = set(globals())
    for rule in RULES:
        assert f"test_{rule.id.lower()}_fires" in names, rule.id
        assert f"test_{rule.id.lower()}_near_miss" in names, rule.id


# --- System calling ------------------------------------------------------------------------


def test_p101_fires(classified: ClassifyFn) -> None:
    f = Fleet()
    f.http(
        WEB,
        "http://127.0.0.1:4000/graphql",
        method="POST",
        server=BFF,
        graphql=("query", "Shortlist"),
    )
    assert classified(f).rule("shortlist-web", "webapp-bff") == "P101"


def test_p101_near_miss(classified: ClassifyFn) -> None:
    # A component named like a BFF but not declared one is not assumed to be the BFF: it is
    # another component of the webapp's system.
    f = Fleet()
    undeclared = Service("webapp-bff", "shortlist", None)
    f.http(
        WEB,
        "http://127.0.0.1:4000/graphql",
        method="POST",
        server=undeclared,
        graphql=("query", "Shortlist"),
    )
    assert classified(f).rule("shortlist-web", "webapp-bff") == "P303"


def test_a102_fires(classified: ClassifyFn) -> None:
    f = Fleet()
    f.http(
        REPORTING,
        "http://127.0.0.1:4000/graphql",
        method="POST",
        server=BFF,
        graphql=("query", "AllShortlists"),
    )
    c = classified(f)
    assert c.rule("reporting-job", "webapp-bff") == "A102"
    assert c.edge("reporting-job", "webapp-bff")["reason"] == (
        "job reporting/reporting-job uses the webapp BFF's GraphQL (shortlist/webapp-bff), which "
        "only webapps may use"
    )
    assert c.edge("reporting-job", "webapp-bff")["verdict"] == "anti-pattern"


def test_a102_near_miss(classified: ClassifyFn) -> None:
    f = Fleet()
    f.http(REPORTING, "http://127.0.0.1:5001/orders", server=ORDERS)
    assert classified(f).rule("reporting-job", "orders-api") == "P102"


def test_p102_fires(classified: ClassifyFn) -> None:
    f = Fleet()
    f.http(BFF, "http://127.0.0.1:5001/orders/42", server=ORDERS, route="/orders/<oid>")
    f.http(BILLING, "http://127.0.0.1:5001/orders/43", server=ORDERS, route="/orders/<oid>")
    c = classified(f)
    bff = c.edge("webapp-bff", "orders-api")
    assert (bff["rule_id"], bff["reason"]) == (
        "P102",
        "the BFF shortlist/webapp-bff aggregates the REST API of orders/orders-api",
    )
    edge = c.edge("billing-api", "orders-api")
    assert edge["rule_id"] == "P102"
    assert edge["level"] == "system"
    assert edge["operations"] == ["GET /orders/<oid>"]
    assert edge["reason"] == "backend billing/billing-api calls orders/orders-api's REST API"


def test_p102_near_miss(classified: ClassifyFn) -> None:
    f = Fleet()
    f.http(ORDERS_WORKER, "http://127.0.0.1:5001/orders/42", server=ORDERS)
    # The same REST call inside one system is no integration between backends.
    assert classified(f).rule("orders-worker", "orders-api") == "A303"


def test_p103_fires(classified: ClassifyFn) -> None:
    f = Fleet()
    f.http(PORTAL, "http://127.0.0.1:5002/messages", method="POST", server=COMMS)
    assert classified(f, PORTAL_EXCEPTION).rule("provider-portal", "comms-api") == "P103"


def test_p103_near_miss(classified: ClassifyFn) -> None:
    f = Fleet()
    f.http(PORTAL, "http://127.0.0.1:5002/messages", method="POST", server=COMMS)
    assert classified(f).rule("provider-portal", "comms-api") == "A101"


def test_p103_is_only_for_rest_to_another_system(classified: ClassifyFn) -> None:
    # Inside its own system the excepted webapp's REST calls are P303, like any webapp's.
    f = Fleet()
    portal_api = Service("portal-api", "providers", "backend")
    f.http(PORTAL, "http://127.0.0.1:5006/drafts", server=portal_api)
    assert classified(f, PORTAL_EXCEPTION).rule("provider-portal", "portal-api") == "P303"


def test_a101_fires(classified: ClassifyFn) -> None:
    f = Fleet()
    f.http(WEB, "http://127.0.0.1:5003/items/7", server=INVENTORY, route="/items/<id>")
    c = classified(f)
    assert c.rule("shortlist-web", "inventory-api") == "A101"
    assert "BFF" in c.edge("shortlist-web", "inventory-api")["reason"]


def test_a101_webapp_calls_a_bff_over_rest(classified: ClassifyFn) -> None:
    f = Fleet()
    partner_bff = Service("partner-bff", "partners", "bff")
    f.http(WEB, "http://127.0.0.1:4100/offers", server=partner_bff)
    edge = classified(f).edge("shortlist-web", "partner-bff")
    assert (edge["rule_id"], edge["reason"]) == (
        "A101",
        "webapp shortlist/shortlist-web calls the BFF partners/partner-bff over REST, not GraphQL",
    )


def test_a101_webapp_calls_another_systems_graphql(classified: ClassifyFn) -> None:
    f = Fleet()
    f.http(
        WEB,
        "http://127.0.0.1:5003/graphql",
        method="POST",
        server=INVENTORY,
        graphql=("query", "Items"),
    )
    # The REST exception of the landscape covers REST only.
    land = '[exceptions]\nrest_allowed_webapps = ["shortlist-web"]\n'
    edge = classified(f, land).edge("shortlist-web", "inventory-api")
    assert (edge["rule_id"], edge["reason"]) == (
        "A101",
        "webapp shortlist/shortlist-web calls inventory/inventory-api of another system over "
        "GraphQL instead of going through the BFF",
    )


def test_graphql_between_backends_is_unclassified_and_says_why(classified: ClassifyFn) -> None:
    f = Fleet()
    f.http(
        ORDERS,
        "http://127.0.0.1:5005/graphql",
        method="POST",
        server=BILLING,
        graphql=("query", "Invoices"),
    )
    edge = classified(f).edge("orders-api", "billing-api")
    assert (edge["rule_id"], edge["reason"]) == (
        "unclassified",
        "GraphQL between backends to an API that is not the webapp BFF",
    )


def test_a101_near_miss(classified: ClassifyFn) -> None:
    f = Fleet()
    f.http(
        WEB, "http://127.0.0.1:4000/graphql", method="POST", server=BFF, graphql=("query", "Items")
    )
    assert classified(f).rule("shortlist-web", "webapp-bff") == "P101"


# --- Component calling --------------------------------------------------------------------


def test_p303_fires(classified: ClassifyFn) -> None:
    f = Fleet()
    api = Service("shortlist-api", "shortlist", "backend")
    f.http(WEB, "http://127.0.0.1:5004/lists", server=api)
    f.http(BFF, "http://127.0.0.1:5004/lists/1", server=api)
    c = classified(f)
    assert c.rule("shortlist-web", "shortlist-api") == "P303"
    # The BFF aggregating its own system's REST API serves the webapp: not smell A303.
    assert c.rule("webapp-bff", "shortlist-api") == "P303"


def test_p303_names_the_end_that_serves_the_webapp(classified: ClassifyFn) -> None:
    f = Fleet()
    f.http(WEB, "http://127.0.0.1:4000/session", server=BFF)
    edge = classified(f).edge("shortlist-web", "webapp-bff")
    assert (edge["rule_id"], edge["reason"]) == (
        "P303",
        "REST inside system shortlist, one end (shortlist-web) serves the webapp",
    )


def test_p303_near_miss(classified: ClassifyFn) -> None:
    f = Fleet()
    f.http(ORDERS_WORKER, "http://127.0.0.1:5001/orders", server=ORDERS)
    assert classified(f).rule("orders-worker", "orders-api") == "A303"


def test_a303_fires(classified: ClassifyFn) -> None:
    f = Fleet()
    f.http(ORDERS_WORKER, "http://127.0.0.1:5001/orders/1", server=ORDERS)
    edge = classified(f).edge("orders-worker", "orders-api")
    assert (edge["rule_id"], edge["verdict"], edge["level"]) == ("A303", "smell", "component")
    assert edge["reason"] == (
        "orders/orders-worker calls orders/orders-api over REST inside one system, "
        "where a direct hit or a listener would do"
    )


def test_a303_near_miss(classified: ClassifyFn) -> None:
    f = Fleet()
    f.http(ORDERS_WORKER, "http://127.0.0.1:5005/invoices", server=BILLING)
    assert classified(f).rule("orders-worker", "billing-api") == "P102"


def test_p302_fires(classified: ClassifyFn) -> None:
    f = Fleet()
    f.http(SIGNUP, "https://us1.api.mailchimp.com/3.0/lists/1/members", method="POST")
    c = classified(f, VENDORS)
    edge = c.edge("signup-consumer", "external:mailchimp")
    assert (edge["rule_id"], edge["mechanism"], edge["level"]) == (
        "P302",
        "http-external",
        "external",
    )
    assert c.node("external:mailchimp")["inferred"] is False
    assert edge["reason"] == (
        "marketing/signup-consumer calls mailchimp (declared vendor) over HTTP"
    )
    # A host nobody declared is an inferred vendor, and the reason says so.
    inferred = classified(f, name="inferred.duckdb").edge("signup-consumer", "mailchimp.com")
    assert inferred["rule_id"] == "P302"
    assert inferred["reason"].endswith("(host outside the traced fleet) over HTTP")


def test_p302_near_miss(classified: ClassifyFn) -> None:
    # The host is served by a traced component: that is no vendor.
    f = Fleet()
    f.http(BILLING, "http://127.0.0.1:5001/orders", server=ORDERS)
    f.http(REPORTING, "http://127.0.0.1:5001/orders")  # same host, callee span not in trace
    c = classified(f)
    assert c.rule("reporting-job", "orders-api") == "P102"
    assert not [e for e in c.edges() if e["to_node"].startswith("external:")]


def test_a_host_that_several_components_serve_leaves_an_untraced_call_unresolved(
    classified: ClassifyFn,
) -> None:
    # Two components answer on one host and port (an ingress in front of them): a call whose
    # server span is not in its trace reached one of them, which one the spans do not say.
    f = Fleet()
    f.http(BILLING, "http://127.0.0.1:5001/orders/1", server=ORDERS)
    f.http(BILLING, "http://127.0.0.1:5001/orders/2", server=ORDERS)
    f.http(BILLING, "http://127.0.0.1:5001/items/7", server=INVENTORY)
    f.http(REPORTING, "http://127.0.0.1:5001/items/7")  # no server span in its trace
    c = classified(f)
    edge = c.edge("reporting-job", "external:127.0.0.1:5001")
    assert (edge["rule_id"], edge["mechanism"], edge["level"]) == ("unresolved", "rest", "unknown")
    assert (
        "served by several traced components (inventory/inventory-api, orders/orders-api)"
        in (edge["reason"])
    )
    assert "inventory-api" in c.node("external:127.0.0.1:5001")["inference"]
    # The calls their servers answered are labelled as ever.
    assert c.rule("billing-api", "orders-api") == "P102"
    assert c.rule("billing-api", "inventory-api") == "P102"


@pytest.mark.parametrize(
    ("url", "node", "why"),
    [
        ("http://inventory-api:8080/items", "external:inventory-api", "a name without a domain"),
        (
            "http://inventory.shop.svc.cluster.local/items",
            "external:inventory.shop.svc.cluster.local",
            "an internal name",
        ),
        ("http://10.0.3.7:8080/items", "external:10.0.3.7", "a private address"),
        ("http://127.0.0.1:18081/items", "external:127.0.0.1:18081", "a loopback address"),
        ("http://[fd00::7]:8080/items", "external:fd00::7", "a private address"),
    ],
)
def test_p302_near_miss_a_private_host_is_no_vendor_unless_declared(
    classified: ClassifyFn, url: str, node: str, why: str
) -> None:
    # No traced server answered, but the host is one of a private network: as likely a service
    # of the fleet without tracing as a vendor. Not a confident "pattern": unresolved, saying why.
    f = Fleet()
    f.http(ORDERS, url)
    c = classified(f)
    edge = c.edge("orders-api", node)
    assert (edge["rule_id"], edge["verdict"], edge["level"]) == (
        "unresolved",
        "unresolved",
        "external",  # drawn where vendors are, so that the call is seen, unresolved
    )
    assert f"over HTTP, {why} that no traced server answered" in edge["reason"]
    assert "under [vendors.NAME]" in edge["reason"]
    assert why in c.node(node)["inference"]
    # Declared a vendor, it is one, with the pattern's label.
    host = node.removeprefix("external:")
    declared = classified(f, f'[vendors.stock]\nhosts = ["{host}"]\n', name="declared.duckdb")
    assert declared.edge("orders-api", "external:stock")["rule_id"] == "P302"


def test_p301_fires(classified: ClassifyFn) -> None:
    f = Fleet()
    f.dynamodb(ORDERS, "PutItem", "Orders")
    f.dynamodb(ORDERS_WORKER, "Query", "Orders")
    c = classified(f)
    assert c.rule("orders-api", "dynamodb:table/Orders") == "P301"
    assert c.rule("orders-worker", "dynamodb:table/Orders") == "P301"
    # A webapp hitting its own system's table is a direct hit too, not a webapp API call.
    web = Fleet()
    web.dynamodb(WEB, "PutItem", "Shortlists")
    assert classified(web, name="web.duckdb").rule("shortlist-web", "Shortlists") == "P301"


def test_p301_near_miss(classified: ClassifyFn) -> None:
    f = Fleet()
    f.dynamodb(ORDERS, "PutItem", "Orders")
    f.dynamodb(BILLING, "GetItem", "Orders")
    assert classified(f).rule("billing-api", "dynamodb:table/Orders") == "A301"


def test_a301_fires(classified: ClassifyFn) -> None:
    f = Fleet()
    f.dynamodb(ORDERS, "PutItem", "Orders")
    f.dynamodb(BILLING, "Query", "Orders")
    edge = classified(f).edge("billing-api", "dynamodb:table/Orders")
    assert (edge["rule_id"], edge["level"]) == ("A301", "system")
    assert edge["reason"] == (
        "billing/billing-api (system billing) hits table Orders, owned by system orders"
    )


def test_a301_near_miss(classified: ClassifyFn) -> None:
    # Declared ownership wins over what the spans suggest.
    f = Fleet()
    f.dynamodb(BILLING, "PutItem", "Orders")
    land = '[owners.tables]\nOrders = "billing"\n'
    assert classified(f, land).rule("billing-api", "dynamodb:table/Orders") == "P301"


# --- Listening ------------------------------------------------------------------------------


def test_p401_fires(classified: ClassifyFn) -> None:
    f = Fleet()
    f.dynamodb(INVENTORY, "PutItem", "Inventory")
    f.stream_read(INDEXER, "Inventory")
    c = classified(f)
    edge = c.edge("dynamodb:table/Inventory", "inventory-indexer")
    assert (edge["rule_id"], edge["mechanism"], edge["direction"]) == (
        "P401",
        "dynamodb-streams",
        "listen",
    )
    assert edge["via"] == "dynamodb:stream/Inventory"


def test_p401_near_miss(classified: ClassifyFn) -> None:
    f = Fleet()
    f.dynamodb(INVENTORY, "PutItem", "Inventory")
    f.stream_read(SEARCH, "Inventory")
    assert classified(f).rule("dynamodb:table/Inventory", "search-sync") == "A302"


def test_a302_fires(classified: ClassifyFn) -> None:
    f = Fleet()
    f.dynamodb(INVENTORY, "UpdateItem", "Inventory")
    f.stream_read(SEARCH, "Inventory")
    edge = classified(f).edge("dynamodb:table/Inventory", "search-sync")
    assert (edge["rule_id"], edge["level"]) == ("A302", "system")
    assert edge["reason"] == (
        "search/search-sync (system search) reads the stream of a table owned by system inventory"
    )


def test_a302_near_miss(classified: ClassifyFn) -> None:
    f = Fleet()
    f.dynamodb(INVENTORY, "UpdateItem", "Inventory")
    f.stream_read(INDEXER, "Inventory")
    assert classified(f).rule("dynamodb:table/Inventory", "inventory-indexer") == "P401"


def test_p402_fires(classified: ClassifyFn) -> None:
    f = Fleet()
    f.send(ORDERS, "orders-q")
    f.receive(ORDERS_WORKER, "orders-q")
    edge = classified(f).edge("orders-api", "orders-worker")
    assert (edge["rule_id"], edge["mechanism"], edge["via"]) == (
        "P402",
        "sqs",
        "sqs:queue/orders-q",
    )
    assert edge["span_count"] == 2
    assert edge["reason"] == "SQS between components of system orders"


def test_p402_near_miss(classified: ClassifyFn) -> None:
    f = Fleet()
    f.send(ORDERS, "orders-q")
    f.receive(BILLING, "orders-q")
    assert classified(f).rule("orders-api", "billing-api") == "A202"


def test_a202_fires(classified: ClassifyFn) -> None:
    f = Fleet()
    f.publish(ORDERS, "order-events")
    f.receive_sns(BILLING, "billing-q", "order-events")
    edge = classified(f).edge("orders-api", "billing-api")
    assert (edge["rule_id"], edge["mechanism"], edge["via"]) == (
        "A202",
        "sns",
        "sns:topic/order-events",
    )
    assert edge["reason"] == "SNS carries events from system orders to system billing"


def test_queues_between_components_of_unknown_systems_are_unresolved(
    classified: ClassifyFn,
) -> None:
    # A service without service.namespace and not in the landscape file has no known system.
    # Whether a queue between it and another component stays inside one system (P402) or
    # crosses two (A202) is what decides the rule: the edge is unresolved and says which
    # component to place, where it was labelled as if "?" were a system of its own (P402
    # between two such components, A202 from a known system to one).
    f = Fleet()
    sender, consumer = Service("sender", None, "backend"), Service("consumer", None, "worker")
    f.send(sender, "q1")
    f.receive(consumer, "q1")
    f.send(ORDERS, "q2")
    f.receive(consumer, "q2")
    f.send(ORDERS, "q3")
    f.receive(ORDERS_WORKER, "q3")
    c = classified(f)
    edge = c.edge("sender", "consumer")
    assert (edge["rule_id"], edge["reason"]) == (
        "unresolved",
        "the systems of consumer and sender are unknown (set service.namespace or declare the "
        "component in the landscape file): whether the edge stays inside one system or crosses "
        "two decides its rule",
    )
    edge = c.edge("orders-api", "consumer")
    assert edge["rule_id"] == "unresolved"
    assert edge["reason"].startswith("the system of consumer is unknown (set service.namespace")
    # Both ends placed: labelled as before.
    assert c.edge("orders-api", "orders-worker")["rule_id"] == "P402"


def test_a_component_of_no_system_listening_to_itself_shares_its_own_system(
    classified: ClassifyFn,
) -> None:
    f = Fleet()
    worker = Service("worker", None, "worker")
    f.send(worker, "retry-q")
    f.receive(worker, "retry-q")
    edge = classified(f).edge("worker", "worker")
    assert (edge["rule_id"], edge["reason"]) == ("P402", "SQS between components of system ?")
    assert edge["level"] == "component"  # inside one component, whatever its system


def test_a_call_to_a_vendor_or_to_s3_needs_no_system(classified: ClassifyFn) -> None:
    # A vendor is outside every system, and no rule covers S3: their edges need no system.
    f = Fleet()
    mailer = Service("mailer", None, "backend")
    f.http(mailer, "https://api.mailchimp.com/3.0/lists")
    f.aws(mailer, "S3", "PutObject", {"aws.s3.bucket": "archive"})
    c = classified(f)
    assert c.edge("mailer", "external:api.mailchimp.com")["verdict"] != "unresolved"
    assert c.edge("mailer", "s3:bucket/archive")["reason"] == "the guideline has no rule for s3"
    assert c.edge("mailer", "s3:bucket/archive")["level"] == "unknown"


def test_a202_near_miss(classified: ClassifyFn) -> None:
    f = Fleet()
    f.publish(ORDERS, "order-events")
    f.receive_sns(ORDERS_WORKER, "orders-q", "order-events")
    assert classified(f).rule("orders-api", "orders-worker") == "P402"


def _order_event(f: Fleet) -> None:
    f.dynamodb(ORDERS, "PutItem", "Orders")
    f.put_events(ORDERS, "orders", "OrderUpdated")


def test_p202_fires(classified: ClassifyFn) -> None:
    f = Fleet()
    _order_event(f)
    recv = f.root(BILLING, "handle-order-event")
    f.receive_events(BILLING, "billing-q", "orders", "OrderUpdated", parent=recv)
    f.http(BILLING, "http://127.0.0.1:5001/orders/9", server=ORDERS, parent=recv)
    f.dynamodb(BILLING, "PutItem", "Invoices", parent=recv)
    edge = classified(f).edge("orders-api", "billing-api", "eventbridge")
    assert edge["rule_id"] == "P202"
    assert edge["via"] == "events:bus/default"
    assert edge["operations"] == ["OrderUpdated"]


def test_p202_names_at_most_three_calls_back(classified: ClassifyFn) -> None:
    f = Fleet()
    _order_event(f)
    recv = f.root(BILLING, "handle-order-event")
    f.receive_events(BILLING, "billing-q", "orders", "OrderUpdated", parent=recv)
    for port, name in enumerate(("orders-d", "orders-c", "orders-b", "orders-a")):
        callee = Service(name, "orders", "backend")
        f.http(BILLING, f"http://127.0.0.1:{5101 + port}/o/9", server=callee, parent=recv)
    edge = classified(f).edge("orders-api", "billing-api", "eventbridge")
    assert (edge["rule_id"], edge["reason"]) == (
        "P202",
        "billing/billing-api calls the source back (orders-a, orders-b, orders-c) "
        "while handling the event",
    )


def test_p202_near_miss(classified: ClassifyFn) -> None:
    f = Fleet()
    _order_event(f)
    recv = f.root(BILLING, "handle-order-event")
    f.receive_events(BILLING, "billing-q", "orders", "OrderUpdated", parent=recv)
    f.dynamodb(BILLING, "PutItem", "Invoices", parent=recv)
    assert classified(f).rule("orders-api", "billing-api", "eventbridge") == "A201"


def test_a201_fires(classified: ClassifyFn) -> None:
    # A worker that leaves every call in a trace of its own: handling is what the same
    # instance does after the receive, until its next receive.
    f = Fleet()
    _order_event(f)
    f.receive_events(BILLING, "billing-q", "orders", "OrderUpdated")
    f.dynamodb(BILLING, "PutItem", "Invoices")
    edge = classified(f).edge("orders-api", "billing-api", "eventbridge")
    assert (edge["rule_id"], edge["verdict"]) == ("A201", "anti-pattern")
    assert "Orders" in edge["reason"]


def test_a201_near_miss(classified: ClassifyFn) -> None:
    f = Fleet()
    _order_event(f)
    f.receive_events(BILLING, "billing-q", "orders", "OrderUpdated")
    f.http(BILLING, "http://127.0.0.1:5001/orders/9", server=ORDERS)
    f.dynamodb(BILLING, "PutItem", "Invoices")
    assert classified(f).rule("orders-api", "billing-api", "eventbridge") == "P202"


def test_p201_fires(classified: ClassifyFn) -> None:
    f = Fleet()
    f.put_events(IDP, "idp", "UserCreated")
    recv = f.root(SIGNUP, "poll")
    f.receive_events(SIGNUP, "signup-q", "idp", "UserCreated", parent=recv)
    f.http(SIGNUP, "https://us1.api.mailchimp.com/3.0/lists/1/members", method="POST", parent=recv)
    c = classified(f, VENDORS)
    edge = c.edge("idp", "signup-consumer", "eventbridge")
    assert edge["rule_id"] == "P201"
    assert c.rule("signup-consumer", "external:mailchimp") == "P302"


def test_p201_near_miss(classified: ClassifyFn) -> None:
    # The same events, but the landscape names the producer the users' data leader.
    f = Fleet()
    f.put_events(IDP, "idp", "UserCreated")
    recv = f.root(SIGNUP, "poll")
    f.receive_events(SIGNUP, "signup-q", "idp", "UserCreated", parent=recv)
    f.http(SIGNUP, "https://us1.api.mailchimp.com/3.0/lists/1/members", method="POST", parent=recv)
    land = VENDORS + '[data_leaders.identity]\nentities = ["user"]\n'
    assert classified(f, land).rule("idp", "signup-consumer", "eventbridge") == "A201"


def test_p201_from_a_vendor_event_source(classified: ClassifyFn) -> None:
    # The guideline's own example: Auth0 -> EventBridge -> consumer -> Mailchimp.
    f = Fleet()
    recv = f.root(SIGNUP, "poll")
    f.receive_events(
        SIGNUP, "signup-q", "aws.partner/auth0.com/tenant/users", "UserCreated", parent=recv
    )
    f.http(SIGNUP, "https://us1.api.mailchimp.com/3.0/lists/1/members", method="POST", parent=recv)
    land = VENDORS + '[vendors.auth0]\nevent_sources = ["aws.partner/auth0.com/*"]\n'
    edge = classified(f, land).edge("external:auth0", "signup-consumer")
    assert (edge["rule_id"], edge["level"]) == ("P201", "external")


def _job_run(f: Fleet, at: float, job: Service = REPORTING) -> None:
    f.at(at)
    run = f.root(job, "sync-inventory")
    f.dynamodb(job, "Scan", "Inventory", parent=run)
    f.http(job, "https://xyz-dsn.algolia.net/1/indexes/items/batch", method="POST", parent=run)


def test_a401_fires(classified: ClassifyFn) -> None:
    f = Fleet()
    f.dynamodb(INVENTORY, "PutItem", "Inventory")
    for i in range(4):
        _job_run(f, 5.0 * i)
    c = classified(f, VENDORS)
    edge = c.edge("reporting-job", "external:algolia")
    assert (edge["rule_id"], edge["verdict"]) == ("A401", "anti-pattern")
    assert "4 runs" in edge["reason"] and "Inventory" in edge["reason"]


def test_a401_near_miss(classified: ClassifyFn) -> None:
    f = Fleet()
    f.dynamodb(INVENTORY, "PutItem", "Inventory")
    for at in (0.0, 1.0, 30.0, 31.0):  # irregular: no steady period
        _job_run(f, at)
    c = classified(f, VENDORS)
    assert c.rule("reporting-job", "external:algolia") == "P302"


def test_a401_needs_three_runs(classified: ClassifyFn) -> None:
    f = Fleet()
    for i in range(2):
        _job_run(f, 5.0 * i)
    assert classified(f, VENDORS).rule("reporting-job", "external:algolia") == "P302"


def test_a401_not_for_a_stream_listener_that_polls(classified: ClassifyFn) -> None:
    f = Fleet()
    f.dynamodb(INVENTORY, "PutItem", "Inventory")
    for i in range(4):
        f.at(1.0 * i)
        run = f.root(INDEXER, "poll-stream")
        f.stream_read(INDEXER, "Inventory", parent=run)
        f.dynamodb(INDEXER, "Query", "Inventory", parent=run)
        f.http(INDEXER, "https://xyz-dsn.algolia.net/1/indexes/items", method="POST", parent=run)
    c = classified(f, VENDORS)
    assert c.rule("inventory-indexer", "external:algolia") == "P302"
    assert c.rule("dynamodb:table/Inventory", "inventory-indexer") == "P401"


def test_a401_when_every_call_is_its_own_trace(classified: ClassifyFn) -> None:
    f = Fleet()
    f.dynamodb(INVENTORY, "PutItem", "Inventory")
    for i in range(3):
        f.at(5.0 * i)
        f.dynamodb(REPORTING, "Scan", "Inventory")
        f.http(REPORTING, "https://xyz-dsn.algolia.net/1/indexes/items", method="POST")
    assert classified(f, VENDORS).rule("reporting-job", "external:algolia") == "A401"


# --- Unclassified and no label --------------------------------------------------------------


def test_an_integration_no_rule_covers_is_unclassified(classified: ClassifyFn) -> None:
    f = Fleet()
    f.aws(ORDERS, "Lambda", "Invoke", {"faas.invoked_name": "resize"})
    edge = classified(f).edge("orders-api", "lambda:function/resize")
    assert (edge["rule_id"], edge["verdict"]) == ("unclassified", "unclassified")
    assert edge["reason"]


def test_spans_that_are_no_integration_get_no_label(classified: ClassifyFn) -> None:
    f = Fleet()
    root = f.root(ORDERS, "work")
    f.http(BILLING, "http://127.0.0.1:5001/orders", server=ORDERS)
    f.aws(
        ORDERS,
        "DynamoDB",
        "DescribeTable",
        {"db.system": "dynamodb", "aws.dynamodb.table_names": ["Orders"]},
    )
    c = classified(f)
    labelled = {row[1] for row in c.labels()}
    server_ids = {s.span_id for s in f.spans if s.kind == "SERVER"}
    assert not labelled & server_ids
    assert root.span_id not in labelled
    describe = [s for s in f.spans if s.name == "DynamoDB.DescribeTable"][0]
    assert describe.span_id not in labelled
    client = [s for s in f.spans if s.kind == "CLIENT" and s.name == "GET"][0]
    assert client.span_id in labelled


@pytest.mark.parametrize("sdk", ["js", "python-old-http"])
def test_other_conventions_are_labelled_like_python(classified: ClassifyFn, sdk: str) -> None:
    def scenario(kind: str) -> Fleet:
        f = Fleet()
        web = Service("shortlist-web", "shortlist", "webapp", sdk=kind)
        orders = Service("orders-api", "orders", "backend", sdk=kind)
        billing = Service("billing-api", "billing", "backend", sdk=kind)
        worker = Service("orders-worker", "orders", "worker", sdk=kind)
        f.http(
            web,
            "http://127.0.0.1:4000/graphql",
            method="POST",
            server=BFF,
            graphql=("query", "Shortlist"),
        )
        f.http(billing, "http://127.0.0.1:5001/orders/1", server=orders)
        f.dynamodb(orders, "PutItem", "Orders")
        f.dynamodb(billing, "Query", "Orders")
        f.send(orders, "orders-q")
        f.receive(worker, "orders-q")
        return f

    def summary(kind: str, name: str) -> set[tuple[str, str, str, str]]:
        c = classified(scenario(kind), name=name)
        return {(e["from_node"], e["to_node"], e["mechanism"], e["rule_id"]) for e in c.edges()}

    python = summary("python", "python.duckdb")
    other = summary(sdk, f"{sdk}.duckdb")
    assert other == python
    assert {r[3] for r in python} >= {"P101", "P102", "P301", "A301", "P402"}


def test_js_transport_spans_are_part_of_the_aws_call(classified: ClassifyFn) -> None:
    f = Fleet()
    js = Service("orders-api", "orders", "backend", sdk="js")
    f.dynamodb(js, "PutItem", "Orders")
    c = classified(f)
    assert [e["to_node"] for e in c.edges()] == ["dynamodb:table/Orders"]
    transport = [s for s in f.spans if s.name == "POST"][0]
    assert transport.span_id not in {row[1] for row in c.labels()}


def test_calls_a_lambda_handler_makes_under_its_process_span_are_integrations(
    classified: ClassifyFn,
) -> None:
    """The SQS-triggered Lambda of opentelemetry-python-contrib's aws_lambda instrumentation
    (`_sqs.py`, `_run_sqs_handler`): the handler runs under a CONSUMER span `process <queue>`
    with messaging.system, messaging.destination.name and messaging.operation.type = process.
    That span is no SDK call, so an HTTP call under it is the handler's own, traced server or
    not (it was dropped as the SDK's request)."""
    f = Fleet()
    fn = Service("charge-fn", "billing", "worker")
    invocation = f.span(fn, "charge-fn", "SERVER", {"faas.invocation_id": "1-22-333"})
    process = f.span(
        fn,
        "process orders-q",
        "CONSUMER",
        {
            "messaging.system": "aws_sqs",
            "messaging.destination.name": "orders-q",
            "messaging.operation.type": "process",
        },
        parent=invocation,
    )
    f.http(fn, "https://api.stripe.com/v1/charges", method="POST", parent=process)
    f.http(fn, "http://127.0.0.1:5001/orders/1", server=ORDERS, parent=process)
    # An SDK call under the same span keeps its own request out.
    table = f.dynamodb(fn, "PutItem", "Invoices", parent=process)
    f.http(fn, "https://dynamodb.eu-west-1.amazonaws.com/", method="POST", parent=table)
    c = classified(f)
    assert c.edge("charge-fn", "api.stripe.com")["mechanism"] == "http-external"
    assert c.edge("charge-fn", "orders-api")["mechanism"] == "rest"
    assert not [e for e in c.edges() if "amazonaws" in e["to_node"]]
    assert c.edge("orders-q", "charge-fn")["mechanism"] == "sqs"


@pytest.mark.parametrize(
    "host",
    [
        "a1b2c3d4e5.execute-api.eu-west-1.amazonaws.com",
        "internal-orders-123456.eu-west-1.elb.amazonaws.com",
        "orders-0123456789abcdef.elb.eu-west-1.amazonaws.com",
        "abcdefghij.appsync-api.eu-west-1.amazonaws.com",
    ],
)
def test_an_application_api_served_under_amazonaws_com_is_a_call(
    classified: ClassifyFn, host: str
) -> None:
    """API Gateway, load balancer and AppSync names end in amazonaws.com like the AWS services'
    own APIs, but a request to them is an application's HTTP call (it was dropped as an SDK
    call's request, even with a traced server answering it)."""
    f = Fleet()
    f.http(BILLING, f"https://{host}/orders/1", server=ORDERS, route="/orders/{id}")
    f.http(BILLING, f"https://{host}/untraced")
    # An AWS service's API host, with no AWS span above it, stays out.
    f.http(BILLING, "https://sqs.eu-west-1.amazonaws.com/123456789012/orders-q", method="POST")
    c = classified(f)
    assert c.rule("billing-api", "orders-api", "rest") == "P102"
    assert {e["to_node"] for e in c.edges() if e["from_node"].endswith("billing-api")} == {
        "component:orders/orders-api",
        f"external:{host}",
    }


@pytest.mark.parametrize(("scheme", "port"), [("http", 80), ("https", 443)])
def test_a_client_recording_the_default_port_finds_a_server_recording_none(
    classified: ClassifyFn, scheme: str, port: int
) -> None:
    """Go's otelhttp leaves the default port out of server.port on both sides
    (open-telemetry/opentelemetry-go-contrib, instrumentation/net/http/otelhttp/internal/semconv,
    requiredHTTPPort); Node's instrumentation-http (opentelemetry-js, utils.ts,
    extractHostnameAndPort) and .NET's HttpClient record 80 or 443. Two traces, no context
    between them: only the host tells who serves the call (it was taken for a vendor's)."""
    f = Fleet()
    go = Service("orders-go", "orders", "backend")
    f.span(
        go,
        "GET /orders/{id}",
        "SERVER",
        {
            "http.request.method": "GET",
            "url.scheme": scheme,
            "url.path": "/orders/42",
            "http.route": "/orders/{id}",
            "server.address": "orders.internal",
            "http.response.status_code": 200,
        },
    )
    node = Service("billing-node", "billing", "backend")
    f.span(
        node,
        "GET",
        "CLIENT",
        {
            "http.request.method": "GET",
            "url.full": f"{scheme}://orders.internal/orders/42",
            "server.address": "orders.internal",
            "server.port": port,
            "http.response.status_code": 200,
        },
    )
    c = classified(f)
    assert c.edge("billing-node", "orders-go")["mechanism"] == "rest"
    assert not [e for e in c.edges() if e["to_node"].startswith("external:")]


_RESIZE_ARN = "arn:aws:lambda:eu-west-1:123456789012:function:resize"


@pytest.mark.parametrize(
    "attrs",
    [
        # Node's instrumentation-aws-sdk (opentelemetry-js-contrib, src/services/lambda.ts,
        # extractFunctionName) records FunctionName as the caller wrote it: a name, an ARN, a
        # partial ARN or a name with its qualifier, as the Invoke API takes them.
        {"faas.invoked_name": _RESIZE_ARN},
        {"faas.invoked_name": f"{_RESIZE_ARN}:live"},
        {"faas.invoked_name": "123456789012:function:resize"},
        {"faas.invoked_name": "resize:live"},
        # The Java agent (aws-sdk-2.2 AwsSdkRequestType: LAMBDA, requestExperimental(
        # AWS_LAMBDA_NAME, "FunctionName")), with its experimental span attributes on.
        {"aws.lambda.function.name": "resize"},
    ],
    ids=["arn", "arn-qualifier", "partial-arn", "name-qualifier", "java-experimental"],
)
def test_an_invoke_names_the_function_its_invocation_names(
    classified: ClassifyFn, attrs: dict[str, str]
) -> None:
    """The function of an Invoke is named as the function's own invocation span names it
    (invocations_sql: the name in aws.lambda.invoked_arn). An ARN was a node of its own, and
    Java's attribute was not read (the edge went to the unnamed function)."""
    f = Fleet()
    f.aws(ORDERS, "Lambda", "Invoke", attrs)
    c = classified(f)
    assert [(e["from_node"], e["to_node"]) for e in c.edges()] == [
        ("component:orders/orders-api", "lambda:function/resize")
    ]


@pytest.mark.parametrize(
    "destination",
    [
        # opentelemetry-python-contrib, botocore/extensions/sns.py, _extract_destination_name:
        # an SMS (PhoneNumber) and a Publish with no ARN.
        "phone_number:**",
        "unknown",
        # opentelemetry-js-contrib, instrumentation-aws-sdk src/services/sns.ts: TopicArn ||
        # TargetArn || PhoneNumber, the number as the caller gave it, and a TargetArn that is a
        # platform endpoint (a device).
        "+15555550100",
        "arn:aws:sns:eu-west-1:123456789012:endpoint/APNS/app/0a1b2c",
    ],
)
def test_a_publish_to_no_topic_names_none(classified: ClassifyFn, destination: str) -> None:
    """What an SDK writes where a Publish has no topic is no topic's name: two systems that
    send SMS do not share a topic `phone_number:**` (they did)."""
    f = Fleet()
    for svc in (ORDERS, BILLING):
        f.aws(
            svc,
            "SNS",
            "Publish",
            {
                "messaging.system": "aws.sns",
                "messaging.destination.kind": "topic",
                "messaging.destination": destination,
                "messaging.destination.name": destination,
            },
            kind="PRODUCER",
        )
    f.publish(ORDERS, "order-events")
    c = classified(f)
    assert {(e["from_node"], e["to_node"], e["verdict"]) for e in c.edges()} == {
        ("component:orders/orders-api", "sns:topic/?/orders/orders-api", "unresolved"),
        ("component:billing/billing-api", "sns:topic/?/billing/billing-api", "unresolved"),
        ("component:orders/orders-api", "sns:topic/order-events", "unresolved"),
    }


def test_reading_the_sources_table_while_handling_is_calling_back(classified: ClassifyFn) -> None:
    f = Fleet()
    _order_event(f)
    recv = f.root(BILLING, "handle-order-event")
    f.receive_events(BILLING, "billing-q", "orders", "OrderUpdated", parent=recv)
    f.dynamodb(BILLING, "GetItem", "Orders", parent=recv)
    f.dynamodb(BILLING, "PutItem", "Invoices", parent=recv)
    c = classified(f)
    assert c.rule("orders-api", "billing-api", "eventbridge") == "P202"
    assert c.rule("billing-api", "dynamodb:table/Orders") == "A301"


def test_a_consumer_that_does_nothing_observable_is_unclassified(classified: ClassifyFn) -> None:
    f = Fleet()
    _order_event(f)
    f.receive_events(BILLING, "billing-q", "orders", "OrderUpdated")
    edge = classified(f).edge("orders-api", "billing-api", "eventbridge")
    assert edge["rule_id"] == "unclassified"
    assert "no observable work" in edge["reason"]


def test_rule_for_gives_every_edge_a_rule() -> None:
    assert rule_for("A101", "anti-pattern") is RULES_BY_ID["A101"]
    assert rule_for("unclassified", "unclassified") is UNCLASSIFIED_RULE
    # A store labelled by another catalog version: a bare record under the id it names.
    other = rule_for("Z999", "anti-pattern")
    assert (other.id, other.name, other.verdict) == ("Z999", "Z999", "anti-pattern")


def test_a_table_nobody_owns_is_unclassified_and_says_why(classified: ClassifyFn) -> None:
    f = Fleet()
    f.dynamodb(ORDERS, "GetItem", "Mystery")
    edge = classified(f).edge("orders-api", "dynamodb:table/Mystery")
    assert (edge["rule_id"], edge["reason"]) == (
        "unclassified",
        "owner of Mystery unknown: declare it under [owners]",
    )


_PLACE = "set service.namespace or declare the component in the landscape file"


@pytest.mark.parametrize(
    ("writers", "how"),
    [
        (
            (ORDERS, Service("order-sync", "", "job")),
            f"written by system orders and by order-sync, whose system is unknown ({_PLACE})",
        ),
        (
            (ORDERS, BILLING, Service("sync", "", "job")),
            f"written by systems billing, orders and by sync, whose system is unknown ({_PLACE})",
        ),
        (
            (ORDERS, Service("", "", "backend")),
            "written by system orders and by unknown-service, whose system is unknown "
            "(set OTEL_SERVICE_NAME and service.namespace)",
        ),
    ],
)
def test_a_table_also_written_by_a_component_of_no_system_says_which_to_place(
    classified: ClassifyFn, writers: tuple[Service, ...], how: str
) -> None:
    # A writer of no known system may be the owner's or another's: the owner stays unknown, and
    # the edge says which component to give a system (and how), where it said only "declare it".
    f = Fleet()
    for writer in writers:
        f.dynamodb(writer, "PutItem", "Orders")
    c = classified(f)
    edge = c.edge("orders-api", "dynamodb:table/Orders")
    assert (edge["rule_id"], edge["reason"]) == (
        "unclassified",
        f"owner of Orders unknown, {how}: declare it under [owners]",
    )
    node = c.node("dynamodb:table/Orders")
    assert (node["system"], node["inference"]) == (None, how)


def test_a_table_written_only_by_components_of_no_system_names_them(
    classified: ClassifyFn,
) -> None:
    f = Fleet()
    f.dynamodb(Service("order-sync", "", "job"), "PutItem", "Orders")
    f.dynamodb(Service("order-api", "", "backend"), "UpdateItem", "Orders")
    c = classified(f)
    assert c.node("dynamodb:table/Orders")["inference"].startswith(
        "written only by order-api, order-sync, whose systems are unknown (set service.namespace"
    )
    # The edge waits first for its own end's system.
    edge = c.edge("order-api", "dynamodb:table/Orders")
    assert edge["rule_id"] == "unresolved"
    assert edge["reason"].startswith("the system of order-api is unknown")


def test_a_table_written_by_two_systems_says_so_on_its_edges(classified: ClassifyFn) -> None:
    f = Fleet()
    f.dynamodb(ORDERS, "PutItem", "Shared")
    f.dynamodb(BILLING, "PutItem", "Shared")
    edge = classified(f).edge("billing-api", "dynamodb:table/Shared")
    assert (edge["rule_id"], edge["reason"]) == (
        "unclassified",
        "owner of Shared unknown, written by several systems (billing, orders): "
        "declare it under [owners]",
    )


def _component(name: str, system: str) -> Node:
    return Node(f"component:{system}/{name}", "component", name, system, role="backend")


def test_the_catalog_names_no_system_it_does_not_know() -> None:
    # The classifier marks such edges unresolved today (the spans name no sender or consumer);
    # given the facts alone, the catalog still labels only what they support.
    queue = Node("sqs:queue/q", "resource", "q", None)
    read = EdgeFacts(queue, _component("billing-api", "billing"), "sqs", "listen", "system")
    read = replace(read, via="sqs:queue/q")
    assert evaluate(read) == Label(
        "unclassified",
        Verdict.UNCLASSIFIED,
        "owner of sqs:queue/q unknown: declare it under [owners]",
    )
    owned = replace(read, owner="orders", owner_known=True)
    assert evaluate(owned) == Label(
        "A202", Verdict.ANTI_PATTERN, "SQS carries events from system orders to system billing"
    )
    bus = Node("events:bus/default", "resource", "default", None)
    put = EdgeFacts(_component("orders-api", "orders"), bus, "eventbridge", "listen", "system")
    put = replace(put, handling=Handling(observed=True), source_is_leader=False)
    assert evaluate(put) == Label(
        "unclassified", Verdict.UNCLASSIFIED, "no consumer of these events was seen"
    )


def test_s3_is_unclassified_and_says_why(classified: ClassifyFn) -> None:
    # S3 is no DynamoDB: neither the own system's bucket (P301) nor another's (A301) has a rule.
    own = Fleet()
    own.aws(BILLING, "S3", "PutObject", {"aws.s3.bucket": "invoices"})
    edge = classified(own, name="own.duckdb").edge("billing-api", "s3:bucket/invoices")
    assert (edge["rule_id"], edge["reason"]) == ("unclassified", "the guideline has no rule for s3")
    f = Fleet()
    f.aws(BILLING, "S3", "PutObject", {"aws.s3.bucket": "order-archive"})
    edge = classified(f, '[owners.buckets]\norder-archive = "orders"\n[systems.orders]\n').edge(
        "billing-api", "s3:bucket/order-archive"
    )
    assert (edge["rule_id"], edge["reason"]) == (
        "unclassified",
        "the guideline has no rule for s3",
    )


def test_a_call_under_an_aws_span_counts_only_where_a_traced_server_answered_it(
    classified: ClassifyFn,
) -> None:
    f = Fleet()
    recv = f.receive(BILLING, "billing-q")
    answered = f.http(BILLING, "http://127.0.0.1:5001/orders/42", server=ORDERS, parent=recv)
    alone = f.http(BILLING, "http://127.0.0.1:4566/", method="POST", parent=recv)
    c = classified(f)
    assert c.edge("billing-api", "orders-api")
    labelled = {row[1] for row in c.labels()}
    assert answered.span_id in labelled
    assert alone.span_id not in labelled
