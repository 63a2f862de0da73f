"""Every HTTP client calls every HTTP server, in the span shapes of the stock instrumentations
(tests/fixtures/sdks/http.py and the scenario's rows), through the real classifier.

Each call crosses systems between two backends: the guideline's label is P102. With the trace
context (the server's span is the client's child) every call gets it. Without (a proxy that
drops the headers) a call finds its server by the host and port the server's span says it was
called at; where that span does not say (a server that records its socket's address, not the
Host header), the call stays unresolved and its reason says so. No call gets a wrong label.
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


def _row_server(sdk: Sdk) -> Callable[[Call], Shape]:
    return lambda c: sdk.http_server(c.route, c.path, c.method, c.port, host=c.host)


CLIENT_SHAPES: dict[str, Callable[[str, str], Shape]] = {
    **{c.key: c.shape for c in CLIENTS},
    **{f"{key} row": sdk.http_client for key, sdk in SDKS.items()},
}
SERVER_SHAPES: dict[str, Callable[[Call], Shape]] = {
    **{s.key: s.shape for s in SERVERS},
    **{f"{key} row": _row_server(sdk) for key, sdk in SDKS.items()},
}
CLIENT_KEYS = list(CLIENT_SHAPES)
SERVER_KEYS = list(SERVER_SHAPES)

# Servers whose span names the socket it answered on instead of the host the client called
# (python-contrib's ASGI under the stable conventions: server.address is scope["server"]).
SOCKET_ONLY = {"python-fastapi http"}
MISSING = "no server span names it as the host it was called at"


def _landscape() -> str:
    clients = "\n".join(f'client-{i} = "backend"' for i in range(len(CLIENT_KEYS)))
    servers = "\n".join(f'server-{j} = "backend"' for j in range(len(SERVER_KEYS)))
    return f"[systems.billing.components]\n{clients}\n\n[systems.orders.components]\n{servers}\n"


def _address(j: int, default_port: bool) -> tuple[str, int, str]:
    """Where server j is called (a service name, as in a cluster), on which port, and the
    address of its own socket."""
    return f"orders-{j}", 80 if default_port else 5000 + j, f"10.0.0.{j + 1}"


@pytest.fixture(scope="module")
def calls(tmp_path_factory: pytest.TempPathFactory) -> Callable[[bool, bool], dict[Any, Any]]:
    cache: dict[tuple[bool, bool], dict[Any, Any]] = {}

    def get(context: bool, default_port: bool) -> dict[Any, Any]:
        if (context, default_port) in cache:
            return cache[(context, default_port)]
        f = Fleet()
        f.at(0)
        for i, client_key in enumerate(CLIENT_KEYS):
            client = Service(f"client-{i}", "billing")
            for j, server_key in enumerate(SERVER_KEYS):
                server = Service(f"server-{j}", "orders")
                host, port, local = _address(j, default_port)
                url = f"http://{host}{'' if default_port else f':{port}'}/orders/7"
                shape = CLIENT_SHAPES[client_key](url, "GET")
                span = f.span(client, shape.name, shape.kind, shape.attributes())
                served = SERVER_SHAPES[server_key](
                    Call("/orders/{id}", "/orders/7", "GET", host, port, local)
                )
                f.span(
                    server,
                    served.name,
                    served.kind,
                    served.attributes(),
                    parent=span if context else None,
                )
        folder: Path = tmp_path_factory.mktemp(f"http-{context}-{default_port}")
        path = f.store(folder / "store.duckdb")
        con = duckdb.connect(str(path))
        try:
            classify(con, parse_landscape(_landscape(), folder / "seamscope.toml"))
            with con.cursor() as cursor:
                found = records(snapshot(connection_query(cursor)))
        finally:
            con.close()
        cache[(context, default_port)] = {(e["from"], e["to"]): e for e in found}
        return cache[(context, default_port)]

    return get


PORTS = [pytest.param(False, id="port"), pytest.param(True, id="default-port")]


@pytest.mark.parametrize("default_port", PORTS)
@pytest.mark.parametrize("server_key", SERVER_KEYS)
def test_with_the_trace_context_every_call_gets_the_label(
    server_key: str, default_port: bool, calls: Callable[[bool, bool], dict[Any, Any]]
) -> None:
    edges = calls(True, default_port)
    j = SERVER_KEYS.index(server_key)
    wrong: dict[str, Any] = {}
    for i, client_key in enumerate(CLIENT_KEYS):
        e = edges.get((f"billing/client-{i}", f"orders/server-{j}"))
        if e is None or (e["rule_id"], e["evidence"]) != ("P102", "trace"):
            wrong[client_key] = e and (e["rule_id"], e["evidence"], e["reason"])
    assert wrong == {}


@pytest.mark.parametrize("default_port", PORTS)
@pytest.mark.parametrize("server_key", SERVER_KEYS)
def test_without_the_trace_context_a_call_finds_its_server_by_the_host_it_called(
    server_key: str, default_port: bool, calls: Callable[[bool, bool], dict[Any, Any]]
) -> None:
    edges = calls(False, default_port)
    j = SERVER_KEYS.index(server_key)
    host, _port, _local = _address(j, default_port)
    wrong: dict[str, Any] = {}
    for i, client_key in enumerate(CLIENT_KEYS):
        source = f"billing/client-{i}"
        if server_key in SOCKET_ONLY:
            # Not wrongly labelled: unresolved, to the host it called, saying what is missing.
            e = edges.get((source, f"external:{host}"))
            got = e and (e["verdict"], e["reason"])
            if got is None or got[0] != "unresolved" or MISSING not in got[1]:
                wrong[client_key] = got
            continue
        e = edges.get((source, f"orders/server-{j}"))
        if e is None or (e["rule_id"], e["evidence"]) != ("P102", "host"):
            wrong[client_key] = e and (e["rule_id"], e["evidence"], e["reason"])
    assert wrong == {}
