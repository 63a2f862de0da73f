"""A component whose spans disagree on seamscope.role (one instance deployed with another value)
takes the role most of its spans say, and says so: on its node (inferred, with each role's
count) and in the reason of each REST or GraphQL edge, the rules that turn on roles."""

from __future__ import annotations

from tests.fixtures.sdks import SDKS
from tests.unit.classifiers.conftest import ClassifyFn
from tests.unit.classifiers.fleet import Fleet, Service

API = Service("orders-api", "orders", "backend")
URL = "http://localhost:5001/orders/7"


def _portal(role: str, instance: str) -> Service:
    return Service("portal", "orders", role, instance=instance)


def test_a_disputed_role_is_said_on_the_node_and_the_edge(classified: ClassifyFn) -> None:
    f = Fleet()
    s = SDKS["node-0.76"]
    for _ in range(3):
        s.call(f, _portal("webapp", "p-1"), URL, server=API)
    s.call(f, _portal("backend", "p-2"), URL, server=API)
    f.dynamodb(_portal("backend", "p-2"), "GetItem", "orders")
    c = classified(f, "[owners.tables]\norders = 'orders'\n")
    node = c.node("component:orders/portal")
    assert (node["role"], node["inferred"]) == ("webapp", True)
    assert node["inference"] == (
        "its spans disagree on seamscope.role (webapp (3 spans), backend (2 spans)): taken as "
        "webapp (set one seamscope.role on every instance, or declare the role in the landscape "
        "file and drop the attribute)"
    )
    rest = c.edge("orders/portal", "orders/orders-api", "rest")
    assert rest["rule_id"] == "P303"
    assert rest["reason"] == (
        "REST inside system orders, one end (portal) serves the webapp; orders/portal: its spans "
        "disagree on seamscope.role (webapp, backend): taken as webapp"
    )
    # A direct hit turns on the system, not the role: no note there.
    table = c.edge("orders/portal", "dynamodb:table/orders")
    assert table["rule_id"] == "P301" and "seamscope.role" not in table["reason"]


def test_roles_that_agree_say_nothing(classified: ClassifyFn) -> None:
    f = Fleet()
    s = SDKS["node-0.76"]
    s.call(f, _portal("webapp", "p-1"), URL, server=API)
    s.call(f, _portal("webapp", "p-2"), URL, server=API)
    c = classified(f)
    node = c.node("component:orders/portal")
    assert (node["role"], node["inferred"], node["inference"]) == ("webapp", False, None)
    assert "seamscope.role" not in c.edge("orders/portal", "orders/orders-api")["reason"]


def test_a_role_that_is_none_of_the_roles_is_said(classified: ClassifyFn) -> None:
    """A seamscope.role none of the roles ("frontend", "BFF") was passed over in silence: the
    component was a backend, and its node said it had no seamscope.role."""
    f = Fleet()
    s = SDKS["node-0.76"]
    s.call(f, _portal("frontend", "p-1"), URL, server=API)
    c = classified(f)
    node = c.node("component:orders/portal")
    assert (node["role"], node["inferred"]) == ("backend", True)
    assert node["inference"] == (
        "seamscope.role 'frontend' is none of webapp, bff, backend, worker, job: ignored (set "
        "one of those, or declare the role in the landscape file); no other seamscope.role and "
        "not in the landscape file: assumed backend"
    )
    # Beside a role that is one: that one decides, and the other is still said.
    s.call(f, _portal("webapp", "p-2"), URL, server=API)
    node = classified(f, name="two.duckdb").node("component:orders/portal")
    assert (node["role"], node["inferred"]) == ("webapp", True)
    assert node["inference"].startswith("seamscope.role 'frontend' is none of")
    assert "assumed" not in node["inference"]
