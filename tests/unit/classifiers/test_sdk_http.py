"""Every HTTP client calls every HTTP server, in the span shapes of the stock instrumentations
(tests/fixtures/sdks/http.py and the scenario's rows), through the real classifier.

Each call crosses systems between two backends: the guideline's label is P102. With the trace
context (the server's span is the client's child) every call gets it. Without (a proxy that
drops the headers) a call finds its server by the host and port the server's span says it was
called at; where that span does not say (a server that records its socket's address, not the
Host header, or its socket's port behind a proxy on another port), the call stays unresolved and
its reason says so. No call gets a wrong label. The servers are called at a port of their own,
at the default port, through a service port (80 in front of the socket's port) and through a
proxy's port.
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
from tests.fixtures.sdks import SDKS
from tests.fixtures.sdks.base import Sdk, Shape
from tests.fixtures.sdks.expected import records
from tests.fixtures.sdks.http import CLIENTS, SERVERS, Call
from tests.unit.classifiers.fleet import Fleet, Service


def _row_server(key: str, sdk: Sdk) -> Callable[[Call], Shape]:
    if key in WSGI_ROWS:  # net.host.port / server.port: SERVER_PORT, the socket's
        return lambda c: sdk.http_server(c.route, c.path, c.method, c.local_port, host=c.host)
    return lambda c: sdk.http_server(c.route, c.path, c.method, c.port, host=c.host)


# The rows whose server is flask (WSGI); every other row's server records the Host header's port.
WSGI_ROWS = {"python", "python-hooks"}


CLIENT_SHAPES: dict[str, Callable[[str, str], Shape]] = {
    **{c.key: c.shape for c in CLIENTS},
    **{f"{key} row": sdk.http_client for key, sdk in SDKS.items()},
}
SERVER_SHAPES: dict[str, Callable[[Call], Shape]] = {
    **{s.key: s.shape for s in SERVERS},
    **{f"{key} row": _row_server(key, sdk) for key, sdk in SDKS.items()},
}
CLIENT_KEYS = list(CLIENT_SHAPES)
SERVER_KEYS = list(SERVER_SHAPES)

# Servers whose span names the socket it answered on instead of the host the client called
# (python-contrib's ASGI under the stable conventions: server.address is scope["server"]).
SOCKET_ONLY = {"python-fastapi http"}
MISSING = "no server span names it as the host it was called at"
# ... and says which attribute would: a captured Host header is the one such a server can add.
MISSING_FACT = "Host header captured as http.request.header.host"
# Servers whose span names the Host header's host but the socket's port, and no URL: behind a
# proxy on another port (9000+j in front of the socket's 8000+j), a call that records the port
# finds no server at it. (Behind a service port, 80, a call to the default port finds the one
# server that names the host, at any port, as a call that records no port does.)
SOCKET_PORT = {f"{key} row" for key in WSGI_ROWS}
OTHER_PORT = "at another port"


def _landscape() -> str:
    clients = "\n".join(f'client-{i} = "backend"' for i in range(len(CLIENT_KEYS)))
    servers = "\n".join(f'server-{j} = "backend"' for j in range(len(SERVER_KEYS)))
    return f"[systems.billing.components]\n{clients}\n\n[systems.orders.components]\n{servers}\n"


def _address(j: int, deployment: str) -> tuple[str, int, str, int]:
    """Where server j is called (a service name, as in a cluster), on which port, and the
    address and port of its own socket."""
    port = {"port": 5000 + j, "proxy-port": 9000 + j}.get(deployment, 80)
    local_port = 8000 + j if deployment in ("service-port", "proxy-port") else port
    return f"orders-{j}", port, f"10.0.0.{j + 1}", local_port


@pytest.fixture(scope="module")
def calls(tmp_path_factory: pytest.TempPathFactory) -> Callable[[bool, str], dict[Any, Any]]:
    cache: dict[tuple[bool, str], dict[Any, Any]] = {}

    def get(context: bool, deployment: str) -> dict[Any, Any]:
        if (context, deployment) in cache:
            return cache[(context, deployment)]
        f = Fleet()
        f.at(0)
        for i, client_key in enumerate(CLIENT_KEYS):
            client = Service(f"client-{i}", "billing")
            for j, server_key in enumerate(SERVER_KEYS):
                server = Service(f"server-{j}", "orders")
                host, port, local, local_port = _address(j, deployment)
                url = f"http://{host}{'' if port == 80 else f':{port}'}/orders/7"
                shape = CLIENT_SHAPES[client_key](url, "GET")
                span = f.span(client, shape.name, shape.kind, shape.attributes())
                served = SERVER_SHAPES[server_key](
                    Call("/orders/{id}", "/orders/7", "GET", host, port, local, local_port)
                )
                f.span(
                    server,
                    served.name,
                    served.kind,
                    served.attributes(),
                    parent=span if context else None,
                )
        folder: Path = tmp_path_factory.mktemp(f"http-{context}-{deployment}")
        path = f.store(folder / "store.duckdb")
        con = duckdb.connect(str(path))
        try:
            classify(con, parse_landscape(_landscape(), folder / "seamscope.toml"))
            with con.cursor() as cursor:
                found = records(snapshot(connection_query(cursor)))
        finally:
            con.close()
        cache[(context, deployment)] = {(e["from"], e["to"]): e for e in found}
        return cache[(context, deployment)]

    return get


# Called at a port of its own, at the default port, at the default port of a service in front
# of the socket's port, at a proxy's port in front of the socket's.
DEPLOYMENTS = ["port", "default-port", "service-port", "proxy-port"]


@pytest.mark.parametrize("deployment", DEPLOYMENTS)
@pytest.mark.parametrize("server_key", SERVER_KEYS)
def test_with_the_trace_context_every_call_gets_the_label(
    server_key: str, deployment: str, calls: Callable[[bool, str], dict[Any, Any]]
) -> None:
    edges = calls(True, deployment)
    j = SERVER_KEYS.index(server_key)
    wrong: dict[str, Any] = {}
    for i, client_key in enumerate(CLIENT_KEYS):
        e = edges.get((f"billing/client-{i}", f"orders/server-{j}"))
        if e is None or (e["rule_id"], e["evidence"]) != ("P102", "trace"):
            wrong[client_key] = e and (e["rule_id"], e["evidence"], e["reason"])
    assert wrong == {}


@pytest.mark.parametrize("deployment", DEPLOYMENTS)
@pytest.mark.parametrize("server_key", SERVER_KEYS)
def test_without_the_trace_context_a_call_finds_its_server_by_the_host_it_called(
    server_key: str, deployment: str, calls: Callable[[bool, str], dict[Any, Any]]
) -> None:
    edges = calls(False, deployment)
    j = SERVER_KEYS.index(server_key)
    host, _port, _local, _local_port = _address(j, deployment)
    wrong: dict[str, Any] = {}
    for i, client_key in enumerate(CLIENT_KEYS):
        source = f"billing/client-{i}"
        missing = (
            MISSING
            if server_key in SOCKET_ONLY
            else OTHER_PORT
            if server_key in SOCKET_PORT and deployment == "proxy-port"
            else None
        )
        if missing is not None:
            # Not wrongly labelled: unresolved, to the host it called, saying what is missing.
            e = edges.get((source, f"external:{host}"))
            got = e and (e["verdict"], e["reason"])
            if got is None or got[0] != "unresolved" or missing not in got[1]:
                wrong[client_key] = got
            elif missing == MISSING and MISSING_FACT not in got[1]:
                wrong[client_key] = got
            continue
        e = edges.get((source, f"orders/server-{j}"))
        if e is None or (e["rule_id"], e["evidence"]) != ("P102", "host"):
            wrong[client_key] = e and (e["rule_id"], e["evidence"], e["reason"])
    assert wrong == {}
