"""Calls to IPv6 peers, in the span shapes the instrumentations record for them
(tests/fixtures/sdks/ipv6.py: with brackets or without, a Host header with its port, Java's
server.address cut at the first colon), join and resolve as IPv4 ones do: every client calls
every server, at the loopback `::1` and at private `fd00::` addresses, without the trace
context, and finds it by the host and port it called. The store's host columns (tracer/rows.py)
and the classifier's read of a server's URL (classifiers/facts.py) agree on every span."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import duckdb
import pyarrow as pa
import pytest

from seamscope.classifiers import read
from seamscope.classifiers.facts import classified_sql
from tests.fixtures.sdks.ipv6 import CLIENTS, NO_HOST, SERVERS, Peer
from tests.unit.classifiers.conftest import Classified, ClassifyFn
from tests.unit.classifiers.fleet import Fleet, Service

CLIENT_KEYS = list(CLIENTS)
SERVER_KEYS = list(SERVERS)
MISSING = "no server span names it as the host it was called at"


def _peer(j: int, deployment: str) -> Peer:
    """Where server j is called: at the loopback address on a port of its own, or at a private
    address of its own (its socket's port behind a service port: 9000 in front of 8000)."""
    if deployment == "loopback":
        return Peer("::1", 5000 + j, "::1", 5000 + j)
    return Peer(f"fd00::{j + 1:x}", 9000, f"fd00::{j + 1:x}", 8000)


def _landscape() -> str:
    clients = "\n".join(f'client-{i} = "backend"' for i in range(len(CLIENT_KEYS)))
    servers = "\n".join(f'server-{j} = "backend"' for j in range(len(SERVER_KEYS)))
    return f"[systems.billing.components]\n{clients}\n\n[systems.orders.components]\n{servers}\n"


def _fleet(deployment: str) -> Fleet:
    f = Fleet()
    f.at(0)
    for i, client_key in enumerate(CLIENT_KEYS):
        client = Service(f"client-{i}", "billing")
        for j, server_key in enumerate(SERVER_KEYS):
            peer = _peer(j, deployment)
            called = CLIENTS[client_key](peer.url)
            f.span(client, called.name, called.kind, called.attributes())
            served = SERVERS[server_key](peer)
            f.span(Service(f"server-{j}", "orders"), served.name, served.kind, served.attributes())
    return f


@pytest.mark.parametrize("deployment", ["loopback", "private"])
def test_without_the_trace_context_a_call_finds_its_ipv6_server_by_the_host_it_called(
    deployment: str, classified: ClassifyFn
) -> None:
    c = classified(_fleet(deployment), _landscape())
    edges = {(e["from_node"], e["to_node"]): e for e in c.edges()}
    wrong: dict[str, Any] = {}
    for i, client_key in enumerate(CLIENT_KEYS):
        for j, server_key in enumerate(SERVER_KEYS):
            found = [e for (a, _b), e in edges.items() if a == f"component:billing/client-{i}"]
            to_server = [e for e in found if e["to_node"].endswith(f"/server-{j}")]
            if server_key in NO_HOST:
                # Named by no server span: unresolved, to the address called, saying why.
                host = _peer(j, deployment).host
                label = f"[{host}]:{_peer(j, deployment).port}" if host == "::1" else host
                e = edges.get((f"component:billing/client-{i}", f"external:{label}"))
                got = None if e is None else (e["verdict"], e["reason"])
                if to_server or got is None or got[0] != "unresolved" or MISSING not in got[1]:
                    wrong[f"{client_key} -> {server_key}"] = got or [x["to_node"] for x in found]
                continue
            if len(to_server) != 1 or (to_server[0]["rule_id"], to_server[0]["evidence"]) != (
                "P102",
                "host",
            ):
                wrong[f"{client_key} -> {server_key}"] = [
                    (e["to_node"], e["rule_id"], e["reason"]) for e in found
                ]
    assert wrong == {}


def _columns(path: Path) -> dict[str, tuple[Any, ...]]:
    """Per span: the host and port the store holds (tracer/rows.py) and the ones the classifier
    reads (classifiers/facts.py, a server's from its URL where it has one)."""
    con = duckdb.connect(str(path))
    try:
        stored = con.execute(
            "SELECT span_id, lower(server_address), server_port FROM spans"
        ).fetchall()
        read_ = con.execute(
            f"SELECT span_id, lower(host), port FROM ({classified_sql('spans')})"
        ).fetchall()
    finally:
        con.close()
    return {
        "stored": tuple(sorted(stored, key=str)),
        "read": tuple(sorted(read_, key=str)),
    }


# Server spans with a URL the classifier reads the host from: IPv6 literals and user info.
_URL_SERVERS = [
    "http://[::1]:8080/x",
    "http://[FD00::5]/x",
    "http://[fd00::5]:9000/x?page=1",
    "https://user:pass@orders-1:9443/x",
    "https://REDACTED:REDACTED@orders-1/x",
    "https://user:p@ss@orders-1:9443/x",
    "http://orders-1:9000",
]


def test_the_store_and_the_classifier_read_the_same_host_of_every_span(tmp_path: Path) -> None:
    f = _fleet("loopback")
    for deployment in ("private",):
        for j, server_key in enumerate(SERVER_KEYS):
            served = SERVERS[server_key](_peer(j, deployment))
            f.span(Service(f"server-{j}", "orders"), served.name, served.kind, served.attributes())
    socket = {"server.address": "10.0.0.2", "server.port": 8000}
    for url in _URL_SERVERS:
        attrs = {"http.method": "GET", "http.url": url, "http.route": "/x", **socket}
        f.span(Service("orders-api", "orders"), "GET /x", "SERVER", attrs)
    columns = _columns(f.store(tmp_path / "store.duckdb"))
    assert columns["read"] == columns["stored"]
    hosts = {(h, p) for _s, h, p in columns["stored"]}
    assert {("::1", 8080), ("fd00::5", None), ("fd00::5", 9000), ("orders-1", 9443)} <= hosts
    assert ("orders-1", None) in hosts and not {h for h, _p in hosts if h and "[" in h}


def _query(c: Classified) -> Any:
    def q(sql: str, params: Any = None) -> pa.Table:
        return c.con.sql(sql, params=list(params) if params else None).to_arrow_table()

    return q


def test_an_ipv6_peer_no_span_serves_is_no_vendor(classified: ClassifyFn) -> None:
    """A private or loopback IPv6 address that no traced server answered, written with
    brackets (.NET, Node, Java) or without (Python, Go), is a host of ours or a vendor's,
    unknown: never taken as a vendor."""
    f = Fleet()
    orders = Service("orders-api", "orders", "backend")
    for client in CLIENTS.values():
        for url in ("http://[fd00::99]:9000/items", "http://[::1]:5999/items"):
            called = client(url)
            f.span(orders, called.name, called.kind, called.attributes())
    c = classified(f)
    externals = {
        str(r[0])
        for r in c.con.execute("SELECT node_id FROM nodes WHERE node_type = 'external'").fetchall()
    }
    hosts = read.unknown_hosts(_query(c))
    assert hosts == {
        "external:fd00::99": read.UNKNOWN_HOST,
        "external:[::1]:5999": read.UNKNOWN_HOST,
    }
    assert externals == set(hosts)
    reasons = {e["reason"] for e in c.edges()}
    assert all("vendor" not in r or "unknown" in r for r in reasons), reasons
