"""read.unknown_hosts: which external nodes are no vendor, from what the classifier stored."""

from __future__ import annotations

from typing import Any

import pyarrow as pa

from seamscope.classifiers import read
from tests.unit.classifiers.conftest import Classified, ClassifyFn
from tests.unit.classifiers.fleet import Fleet, Service

ORDERS = Service("orders-api", "orders", "backend")
BILLING = Service("billing-api", "billing", "backend")
REPORTING = Service("reporting-job", "reporting", "job")
INVENTORY = Service("inventory-api", "inventory", "backend")


def _query(c: Classified) -> Any:
    def q(sql: str, params: Any = None) -> pa.Table:
        return c.con.sql(sql, params=list(params) if params else None).to_arrow_table()

    return q


def test_a_private_or_shared_host_is_no_vendor_and_a_public_or_declared_one_is(
    classified: ClassifyFn,
) -> None:
    f = Fleet()
    f.http(ORDERS, "https://api.mailchimp.com/3.0/lists")  # a public host: a vendor, inferred
    f.http(ORDERS, "http://inventory-api:8080/items")  # a name without a domain
    f.http(ORDERS, "http://127.0.0.1:18081/items")  # loopback, named with its port
    f.http(ORDERS, "http://10.0.3.7:8080/items")  # a private address
    f.http(ORDERS, "http://[2606:4700::1111]:8080/items")  # a public IPv6 address
    f.http(ORDERS, "http://[fd00::7]:8080/items")  # a private one
    f.http(ORDERS, "https://search.example.net/1/indexes")  # declared below
    # Two components answer on one host and port; a call with no server span in its trace.
    f.http(BILLING, "http://127.0.0.1:5001/orders/1", server=ORDERS)
    f.http(BILLING, "http://127.0.0.1:5001/items/7", server=INVENTORY)
    f.http(REPORTING, "http://127.0.0.1:5001/items/7")
    c = classified(f, '[vendors.algolia]\nhosts = ["search.example.net"]\n')
    externals = {
        str(r[0])
        for r in c.con.execute("SELECT node_id FROM nodes WHERE node_type = 'external'").fetchall()
    }
    hosts = read.unknown_hosts(_query(c))
    assert hosts == {
        "external:inventory-api": read.UNKNOWN_HOST,
        "external:127.0.0.1:18081": read.UNKNOWN_HOST,
        "external:10.0.3.7": read.UNKNOWN_HOST,
        "external:fd00::7": read.UNKNOWN_HOST,
        "external:127.0.0.1:5001": read.SHARED_HOST,
    }
    vendors = externals - set(hosts)
    assert vendors == {"external:api.mailchimp.com", "external:2606:4700::1111", "external:algolia"}
    # The landscape's overview carries them too, read with the rest.
    assert read.overview(_query(c), read.Filters()).hosts == hosts
    # A host whose calls a rule labels was taken for a vendor (a store labelled by hand, as
    # the TUI's sample is), whatever its name.
    c.con.execute(
        "UPDATE edges SET verdict = 'pattern', rule_id = 'P302' WHERE to_node = 'external:10.0.3.7'"
    )
    assert "external:10.0.3.7" not in read.unknown_hosts(_query(c))


def test_a_public_host_a_traced_server_names_at_another_port_is_no_vendor(
    classified: ClassifyFn,
) -> None:
    """A call through a proxy port to a host whose server spans name it at their socket's port
    stays unresolved (derive's other_port): the host is ours, whatever its name."""
    f = Fleet()
    server = {
        "http.request.method": "GET",
        "http.route": "/orders/{id}",
        "server.address": "orders.shop.example.com",
        "server.port": 8000,
    }
    f._span(ORDERS, None, None, "GET /orders/{id}", "SERVER", server)
    f.http(BILLING, "http://orders.shop.example.com:9000/orders/1")
    f.http(BILLING, "https://api.mailchimp.com/3.0/lists")
    c = classified(f)
    inference = c.con.execute(
        "SELECT inference FROM nodes WHERE node_id = 'external:orders.shop.example.com'"
    ).fetchall()
    assert inference and "taken as a vendor" not in inference[0][0]
    assert "orders-api" in inference[0][0]
    hosts = read.unknown_hosts(_query(c))
    assert hosts == {"external:orders.shop.example.com": read.UNKNOWN_HOST}
    assert read.overview(_query(c), read.Filters()).hosts == hosts
    # A store classified before the classifier kept its hosts: the name alone decides.
    c.con.execute("DROP TABLE classifier_hosts")
    assert read.unknown_hosts(_query(c)) == {}
    assert read.overview(_query(c), read.Filters()).hosts == {}


def test_a_store_without_the_classifiers_tables_has_none(classified: ClassifyFn) -> None:
    c = classified(Fleet())
    c.con.execute("DROP TABLE IF EXISTS edges CASCADE")
    assert read.unknown_hosts(_query(c)) == {}
