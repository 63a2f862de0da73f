"""Two real Node.js services on the IPv6 loopback `::1`, under the stock OpenTelemetry
auto-instrumentation, exporting OTLP/HTTP to a real `seamscope collect`.

orders-api calls billing-api at `http://[::1]:<port>` with node:http and with fetch (undici),
and once through a URL with user info (`http://user:s3cr3t-pw@[::1]:<port>`). Its propagators
are off (`OTEL_PROPAGATORS=none`), as behind a proxy that drops the headers: billing-api's
spans start traces of their own, and each call must find its server by the host and port it
called. instrumentation-http 0.223 writes the client's server.address `::1` and the server's
`[::1]` (from the Host header), instrumentation-undici 0.33 the client's `[::1]`; the URL with
user info goes into url.full as it is. The password must reach neither the store nor
`seamscope edges`.
"""

from __future__ import annotations

import json
import signal
import socket
import subprocess
import sys
import urllib.request
from pathlib import Path
from typing import Any

import duckdb
import pytest

from seamscope.demo.processes import ManagedProcess, free_port, wait_for_http
from tests.e2e.test_collect import start_collector
from tests.e2e.test_node_service import NODE_DIR, _end, _node

pytestmark = pytest.mark.e2e

PASSWORD = "s3cr3t-pw"


def _ipv6_loopback() -> None:
    try:
        with socket.socket(socket.AF_INET6, socket.SOCK_STREAM) as s:
            s.bind(("::1", 0))
    except OSError as error:
        pytest.skip(f"IPv6 loopback ::1 is not available here ({error}): nothing to call over it")


def _service(
    node: str, name: str, system: str, collector: int, logs: Path, env: dict[str, str]
) -> tuple[ManagedProcess, str]:
    port = free_port()
    env = {
        **env,
        "HOST": "::1",
        "PORT": str(port),
        "OTEL_SERVICE_NAME": name,
        "OTEL_RESOURCE_ATTRIBUTES": f"service.namespace={system},seamscope.role=backend",
        "OTEL_TRACES_EXPORTER": "otlp",
        "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT": f"http://127.0.0.1:{collector}/v1/traces",
        "OTEL_EXPORTER_OTLP_PROTOCOL": "http/protobuf",
        "OTEL_METRICS_EXPORTER": "none",
        "OTEL_LOGS_EXPORTER": "none",
        "OTEL_NODE_RESOURCE_DETECTORS": "env",
        "OTEL_BSP_SCHEDULE_DELAY": "200",
    }
    argv = [node, "--require", "@opentelemetry/auto-instrumentations-node/register", "ipv6.js"]
    proc = ManagedProcess(name, argv, env=env, cwd=NODE_DIR, log_path=logs / f"{name}.log")
    proc.start()
    url = f"http://[::1]:{port}"
    try:
        wait_for_http(f"{url}/health", process=proc.popen, timeout_s=60)
    except BaseException:
        proc.stop()
        raise
    return proc, url


def test_calls_over_ipv6_find_their_server_by_the_host_they_called(
    tmp_path_factory: pytest.TempPathFactory,
) -> None:
    _ipv6_loopback()
    node = _node()
    folder = tmp_path_factory.mktemp("node-ipv6")
    db = folder / "store.duckdb"
    collector = start_collector(db, folder)
    started: list[ManagedProcess] = []
    try:
        billing, billing_url = _service(node, "billing-api", "billing", collector.port, folder, {})
        started.append(billing)
        port = billing_url.rpartition(":")[2]
        orders, orders_url = _service(
            node,
            "orders-api",
            "orders",
            collector.port,
            folder,
            {
                "PEER_URL": billing_url,
                "PEER_AUTH_URL": f"http://user:{PASSWORD}@[::1]:{port}",
                "OTEL_PROPAGATORS": "none",
            },
        )
        started.append(orders)
        request = urllib.request.Request(f"{orders_url}/call", data=b"", method="POST")
        with urllib.request.urlopen(request, timeout=60) as response:
            assert json.loads(response.read()) == {"http": 200, "fetch": 200, "auth": 200}
        for proc in (orders, billing):
            assert _end(proc) == 0, (folder / f"{proc.name}.log").read_text()
        assert collector.stop(signal.SIGTERM) == 0, collector.log.read_text()
    finally:
        for proc in started:
            proc.stop()
        collector.process.stop()

    con = duckdb.connect(str(db), read_only=True)
    try:
        rows = con.execute(
            "SELECT service_name, kind, server_address, server_port, http_url, attributes "
            "FROM spans WHERE kind IN ('CLIENT', 'SERVER') AND http_method IS NOT NULL"
        ).fetchall()
        dump = "\n".join(str(r) for r in con.execute("SELECT * FROM spans").fetchall())
    finally:
        con.close()
    calls = [r for r in rows if r[0] == "orders-api" and r[1] == "CLIENT"]
    served = [
        r
        for r in rows
        if r[0] == "billing-api" and r[1] == "SERVER" and '"url.path":"/invoices/' in r[5]
    ]
    # Three calls (http, fetch, http with user info), each served; the host stored without
    # the brackets both instrumentations write, at the port called.
    assert len(calls) == 3 and len(served) == 3, rows
    assert {(r[2], r[3]) for r in calls + served} == {("::1", int(port))}, rows
    assert PASSWORD not in dump

    done = subprocess.run(
        [sys.executable, "-m", "seamscope.cli", "edges", "--db", str(db), "--format", "json"],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=folder,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert PASSWORD not in done.stdout
    edges: list[dict[str, Any]] = json.loads(done.stdout)
    found = [e for e in edges if e["from"] == "orders/orders-api"]
    assert [(e["to"], e["rule_id"], e["evidence"]) for e in found] == [
        ("billing/billing-api", "P102", "host")
    ], found
