"""The landscape file: what it declares, the errors it gets (key and line), and inference."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from seamscope.classifiers.landscape import (
    LandscapeError,
    load_landscape,
    parse_landscape,
    resolve_landscape,
)
from seamscope.tracer.errors import SeamscopeError
from tests.unit.classifiers.conftest import ClassifyFn
from tests.unit.classifiers.fleet import Fleet, Service

GOOD = """
[systems.shortlist]
components = { shortlist-web = "webapp", webapp-bff = "bff" }

[systems.providers.components]
provider-portal = "webapp"

[owners.tables]
Orders = "orders"

[vendors.algolia]
hosts = ["*.algolia.net", "127.0.0.1:18081"]

[data_leaders.orders]
entities = ["order"]
event_sources = ["orders"]

[exceptions]
rest_allowed_webapps = ["provider-portal"]

[[edges]]
from = "shortlist-web"
to = "webapp-bff"
mechanism = "graphql"
"""


def test_a_good_file_declares_everything(tmp_path: Path) -> None:
    path = tmp_path / "seamscope.toml"
    path.write_text(GOOD)
    land = load_landscape(path)
    assert land.components["webapp-bff"] == ("shortlist", "bff")
    assert land.components["provider-portal"] == ("providers", "webapp")
    assert land.owner("tables", "Orders") == "orders"
    vendor = land.vendor_for_host("127.0.0.1", 18081)
    assert vendor is not None and vendor.name == "algolia"
    assert land.vendor_for_host("127.0.0.1", 18082) is None
    assert land.rest_allowed_webapps == {"provider-portal"}
    assert land.declared_edges[0].line == 21
    assert land.fingerprint() != parse_landscape("", path).fingerprint()


@pytest.mark.parametrize(
    ("text", "where", "says"),
    [
        ('[systems.a]\ncomponents = { x = "frontend" }\n', ":2: systems.a.components.x", "role"),
        ("[systems.a]\nmembers = []\n", ":2: systems.a.members", "unknown key"),
        ('[owners]\nbuckets = { b = "a" }\nwidgets = {}\n', ":3: owners.widgets", "unknown key"),
        ('[vendors.x]\nhosts = "a.com"\nfoo = 1\n', ":3: vendors.x.foo", "unknown key"),
        ("[vendors.x]\n", ":1: vendors.x", "needs hosts"),
        (
            "\n\n[exceptions]\nrest_allowed_webapps = [1]\n",
            ":4: exceptions.rest_allowed_webapps",
            "string",
        ),
        (
            '[[edges]]\nfrom = "a"\nto = "d"\n\n[[edges]]\nfrom = "b"\nto = "c"\n'
            'mechanism = "carrier-pigeon"\n',
            ":8: edges[1].mechanism",
            "unknown mechanism",
        ),
        ('[[edges]]\nfrom = "a"\n', ":1: edges[0]", "needs 'from' and 'to'"),
        (
            '[systems.a]\ncomponents = ["x"]\n[systems.b]\ncomponents = ["x"]\n',
            ":4: systems.b.components",
            "already in system",
        ),
        ("[systems.a\n", ":1:", "not valid TOML"),
        # Keys given twice: tomllib's "Cannot declare ('systems', 'a') twice" before.
        ('[systems.a]\ncomponents = ["x"]\n[systems.a]\n', ":3: systems.a", "merge the two"),
        ('[owners.tables]\nA = "a"\n"A" = "b"\n', ":3: owners.tables.A", "set twice"),
        (
            '[systems.a]\ncomponents = { x = "job", x = "job" }\n',
            ":2: systems.a.components.x",
            "set twice",
        ),  # fmt: skip
        ('[[edges]]\nfrom = "a"\nto = "b"\n[edges]\n', ":4: edges", "write [[edges]] for each"),
        ('owners = "everyone"\n', ":1: owners", "expected a table"),
        # "?" is the group of components of no known system: no system may take its name.
        ('[systems."?"]\ncomponents = ["x"]\n', ":1: systems.?", "no known system"),
        ('[owners.tables]\nOrders = "?"\n', ":2: owners.tables.Orders", "no known system"),
        ('\n[data_leaders."?"]\nentities = ["order"]\n', ":2: data_leaders.?", "no known system"),
    ],
)
def test_errors_name_the_key_and_the_line(tmp_path: Path, text: str, where: str, says: str) -> None:
    path = tmp_path / "land.toml"
    path.write_text(text)
    with pytest.raises(LandscapeError) as err:
        load_landscape(path)
    message = str(err.value)
    assert message.startswith(f"{path}{where}"), message
    assert says in message
    assert "\n" not in message
    assert isinstance(err.value, SeamscopeError)


def test_a_file_nested_past_the_parser_is_a_clear_error(tmp_path: Path) -> None:
    """tomllib recurses per level: a RecursionError traceback before."""
    path = tmp_path / "land.toml"
    path.write_text("a = " + "[" * 2000 + "]" * 2000 + "\n")
    with pytest.raises(LandscapeError) as err:
        load_landscape(path)
    assert str(err.value) == f"{path}: not valid TOML: nested too deeply"


def test_a_byte_order_mark_and_crlf_line_ends_are_read(tmp_path: Path) -> None:
    path = tmp_path / "land.toml"
    path.write_bytes(b"\xef\xbb\xbf" + GOOD.encode().replace(b"\n", b"\r\n"))
    assert load_landscape(path).fingerprint() == parse_landscape(GOOD, path).fingerprint()


@pytest.mark.parametrize(
    ("data", "says"),
    [
        (
            '[systems.a]\ndescription = "caf\u00e9"\n'.encode("latin-1"),
            ":2: not UTF-8 (byte 0xe9, as Latin-1 or Windows-1252 write an accented letter); "
            "a TOML file is UTF-8: save it as UTF-8",
        ),
        (
            '[systems.a]\ncomponents = ["x"]\n'.encode("utf-16"),
            ": the file is UTF-16 (as Windows PowerShell's > writes it); a TOML file is UTF-8: "
            "save it as UTF-8",
        ),
    ],
    ids=["latin-1", "utf-16"],
)
def test_a_file_in_another_encoding_says_which_line_and_what_to_do(
    tmp_path: Path, data: bytes, says: str
) -> None:
    """Both said "cannot read the landscape file ('utf-8' codec can't decode byte 0xe9 in
    position 26: invalid continuation byte)": no line, and no way out."""
    path = tmp_path / "land.toml"
    path.write_bytes(data)
    with pytest.raises(LandscapeError) as err:
        load_landscape(path)
    assert str(err.value) == f"{path}{says}"


def test_missing_file_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(LandscapeError, match="no landscape file"):
        load_landscape(tmp_path / "nope.toml")


def test_default_file_is_found_in_the_directory(tmp_path: Path) -> None:
    assert resolve_landscape(None, default_dir=tmp_path) is None
    (tmp_path / "seamscope.toml").write_text(GOOD)
    land = resolve_landscape(None, default_dir=tmp_path)
    assert land is not None and land.declared


def test_declared_roles_and_systems_fill_what_spans_lack(classified: ClassifyFn) -> None:
    f = Fleet()
    web = Service("shortlist-web", None, None)
    bff = Service("webapp-bff", None, None)
    f.http(
        web,
        "http://127.0.0.1:4000/graphql",
        method="POST",
        server=bff,
        graphql=("query", "Shortlist"),
    )
    c = classified(f, GOOD)
    assert c.rule("shortlist-web", "webapp-bff") == "P101"
    node = c.node("component:shortlist/webapp-bff")
    assert (node["role"], node["inferred"]) == ("bff", False)


def test_span_role_wins_over_the_file(classified: ClassifyFn) -> None:
    f = Fleet()
    f.http(
        Service("webapp-bff", "shortlist", "backend"),
        "http://127.0.0.1:5001/x",
        server=Service("orders-api", "orders", "backend"),
    )
    c = classified(f, GOOD)
    assert c.node("component:shortlist/webapp-bff")["role"] == "backend"


# --- Inference without a file -----------------------------------------------------------


def test_a_table_written_by_one_system_belongs_to_it(classified: ClassifyFn) -> None:
    f = Fleet()
    f.dynamodb(Service("orders-api", "orders", "backend"), "PutItem", "Orders")
    f.dynamodb(Service("billing-api", "billing", "backend"), "GetItem", "Orders")
    node = classified(f).node("dynamodb:table/Orders")
    assert (node["system"], node["inferred"]) == ("orders", True)
    assert "written only by system orders" in node["inference"]


def test_spans_without_a_service_name_are_an_unknown_component(classified: ClassifyFn) -> None:
    f = Fleet()
    f.dynamodb(Service("", "orders", "backend"), "PutItem", "Orders")
    node = classified(f).node("component:orders/unknown-service")
    assert (node["system"], node["inferred"]) == ("orders", True)
    assert "no service.name" in node["inference"]


def test_a_namespace_named_like_the_group_of_no_known_system_is_no_system(
    classified: ClassifyFn,
) -> None:
    """`?` is the group the landscape shows components of no known system in (read.UNPLACED).
    A service whose service.namespace is literally `?` was taken for a system of that name: it
    was shown in that group, as of no known system, while its edges got the labels of a known
    system's, and a service of the same name with no namespace was the same node. Its
    namespace is taken as none, and its node says why."""
    f = Fleet()
    orders = Service("orders-api", "orders", "backend")
    f.http(Service("api", "?", "backend"), "http://127.0.0.1:5001/orders/7", server=orders)
    c = classified(f)
    edge = c.edge("/api", "orders/orders-api")
    assert (edge["rule_id"], edge["level"]) == ("unresolved", "unknown")
    assert "the system of api is unknown" in edge["reason"]
    node = c.node("component:?/api")
    assert node["system"] is None
    assert "service.namespace is '?'" in node["inference"]
    assert c.con.execute("SELECT count(*) FROM nodes WHERE system = '?'").fetchone() == (0,)


def test_a_function_is_not_owned_by_the_system_that_invokes_it(classified: ClassifyFn) -> None:
    # An invocation is a write by the facts' reckoning, but only what `Ownership` names makes an
    # owner: a function's callers say nothing of whose it is.
    f = Fleet()
    f.aws(Service("orders-api", "orders", "backend"), "Lambda", "Invoke", _invoked("resize"))
    node = classified(f).node("lambda:function/resize")
    assert node["system"] is None and "owner unknown" in node["inference"]


def _invoked(name: str) -> dict[str, str]:
    return {"faas.invoked_name": name, "faas.invoked_provider": "aws"}


def _vendor_writes(f: Fleet) -> None:
    f.dynamodb(Service("fake-mailer", "mail", "backend"), "PutItem", "Outbox")


def _unnamed_write(f: Fleet) -> None:
    f.aws(Service("blind-api", "blind", "backend"), "DynamoDB", "PutItem", {})


@pytest.mark.parametrize(
    ("first", "landscape"),
    [
        # A traced service that stands for a vendor is no system's component.
        (_vendor_writes, '[vendors.mailer]\ncomponents = ["fake-mailer"]\n'),
        # A write whose span names no table has nothing to own.
        (_unnamed_write, None),
    ],
)
def test_a_write_that_makes_no_owner_leaves_the_other_tables_owners(
    classified: ClassifyFn, first: Callable[[Fleet], None], landscape: str | None
) -> None:
    # Such a write makes no owner, and every table after it is still owned by the system that
    # writes it (the loop over the writes went on, not out).
    f = Fleet()
    first(f)
    names = [f"t{i}" for i in range(12)]
    for name in names:
        f.dynamodb(Service(f"{name}-api", name, "backend"), "PutItem", name.upper())
    c = classified(f, landscape)
    assert [c.node(f"dynamodb:table/{n.upper()}")["system"] for n in names] == names
    if landscape:
        assert c.node("dynamodb:table/Outbox")["system"] is None


def test_a_declared_owner_is_not_inferred(classified: ClassifyFn) -> None:
    f = Fleet()
    f.dynamodb(Service("orders-api", "orders", "backend"), "PutItem", "Orders")
    f.dynamodb(Service("billing-api", "billing", "backend"), "PutItem", "Ledger")
    c = classified(f, '[owners.tables]\nOrders = "orders"\n')
    declared, found = c.node("dynamodb:table/Orders"), c.node("dynamodb:table/Ledger")
    assert (declared["system"], declared["inferred"], declared["inference"]) == (
        "orders",
        False,
        None,
    )
    assert (found["system"], found["inferred"]) == ("billing", True)


@pytest.mark.parametrize("server_system", ["orders", None])
def test_an_edge_whose_ends_are_not_both_placed_has_an_unknown_level(
    classified: ClassifyFn, server_system: str | None
) -> None:
    # Whether it crosses systems is unknown (the edge is unresolved), whether the other end is
    # in a system or not: its level says so, rather than `component`.
    f = Fleet()
    api = Service("orders-api", server_system, "backend")
    f.http(Service("web", None, "webapp"), "http://127.0.0.1:5001/orders", server=api)
    edge = classified(f).edge("web", "orders-api")
    assert (edge["verdict"], edge["level"]) == ("unresolved", "unknown")


def test_a_table_written_by_two_systems_has_no_owner(classified: ClassifyFn) -> None:
    f = Fleet()
    f.dynamodb(Service("orders-api", "orders", "backend"), "PutItem", "Shared")
    f.dynamodb(Service("billing-api", "billing", "backend"), "PutItem", "Shared")
    c = classified(f)
    node = c.node("dynamodb:table/Shared")
    assert node["system"] is None and "several systems" in node["inference"]
    edge = c.edge("billing-api", "dynamodb:table/Shared")
    assert edge["rule_id"] == "unclassified" and "declare" in edge["reason"]
    # Whether billing's calls to it cross systems is as unknown as its owner.
    assert edge["level"] == "unknown"


def test_an_untraced_host_is_an_inferred_vendor(classified: ClassifyFn) -> None:
    f = Fleet()
    f.http(
        Service("signup", "marketing", "worker"),
        "https://api.example-vendor.io/v2/users",
        method="POST",
    )
    node = classified(f).node("external:api.example-vendor.io")
    assert (node["node_type"], node["inferred"]) == ("external", True)
    assert "not AWS" in node["inference"]


def test_loopback_vendors_are_told_apart_by_port(classified: ClassifyFn) -> None:
    f = Fleet()
    svc = Service("signup", "marketing", "worker")
    f.http(svc, "http://127.0.0.1:18081/1/indexes", method="POST")
    f.http(svc, "http://127.0.0.1:18082/3.0/lists", method="POST")
    c = classified(f)
    targets = sorted(e["to_node"] for e in c.edges())
    assert targets == ["external:127.0.0.1:18081", "external:127.0.0.1:18082"]


def test_a_bff_name_is_not_taken_for_a_role(classified: ClassifyFn) -> None:
    f = Fleet()
    f.http(
        Service("web", "shop", "webapp"),
        "http://127.0.0.1:4000/graphql",
        method="POST",
        server=Service("shop-bff", "shop", None),
        graphql=("query", "Cart"),
    )
    c = classified(f)
    node = c.node("component:shop/shop-bff")
    assert (node["role"], node["inferred"]) == ("backend", True)
    assert "named like a BFF" in node["inference"]
    assert c.rule("web", "shop-bff") == "P303"


_FRAGMENTS = [
    "[systems.a]\n",
    "[systems.b.components]\n",
    "components = ",
    '{ x = "webapp" }',
    '["x", 1]',
    "[owners.tables]\n",
    'Orders = "a"\n',
    "[[edges]]\n",
    'from = "a"\n',
    'to = "b"\n',
    "mechanism = 3\n",
    "[vendors.v]\n",
    'hosts = ["*.x"]\n',
    "[data_leaders.a]\n",
    "entities = [[]]\n",
    "[exceptions]\n",
    "rest_allowed_webapps = {}\n",
    "= \n",
    '"\n',
    "x.y.z = 1\n",
    "[systems]\n",
    "systems = 1\n",
    "\u00e9 = 1\n",
    "[[systems]]\n",
    "edges = [1]\n",
]


@settings(max_examples=200, deadline=None)
@given(st.lists(st.sampled_from(_FRAGMENTS), max_size=12))
def test_any_text_parses_or_fails_with_one_clear_line(parts: list[str]) -> None:
    text = "".join(parts)
    try:
        parse_landscape(text, Path("fuzz.toml"))
    except LandscapeError as exc:
        assert str(exc).startswith("fuzz.toml") and "\n" not in str(exc)


PHANTOM = """
[systems.shop]
components = { web = "webapp" }

[owners.tables]
Orders = "orders"
Carts = "biling"
"""


def test_an_owner_naming_no_known_system_is_an_error_with_its_line(
    classified: ClassifyFn,
) -> None:
    """A typo in an owner would otherwise make a phantom system and a false A301."""
    f = Fleet()
    f.dynamodb(Service("api", "orders", "backend"), "PutItem", "Orders")
    with pytest.raises(
        LandscapeError, match=r"seamscope\.toml:7: owners\.tables\.Carts: .*'biling'"
    ):
        classified(f, PHANTOM)


def test_a_data_leader_naming_no_known_system_is_an_error(classified: ClassifyFn) -> None:
    f = Fleet()
    f.dynamodb(Service("api", "orders", "backend"), "PutItem", "Orders")
    text = '[owners.tables]\nOrders = "orders"\n\n[data_leaders.ordrs]\ntables = ["Orders"]\n'
    with pytest.raises(LandscapeError, match=r"seamscope\.toml:4: data_leaders\.ordrs"):
        classified(f, text)


def test_owners_naming_systems_seen_in_spans_or_declared_pass(classified: ClassifyFn) -> None:
    f = Fleet()
    f.dynamodb(Service("api", "orders", "backend"), "PutItem", "Orders")
    c = classified(f, PHANTOM.replace("biling", "shop"))
    assert c.rule("orders/api", "Orders") == "P301"
