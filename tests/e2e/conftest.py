"""Real processes for the capture tests: moto's standalone server and an instrumented HTTP API."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from seamscope.demo.processes import ManagedProcess, free_port, start_moto_server, wait_for_http
from tests.e2e.services.harness import service_env, start_service
from tests.e2e.terminal import stop_server


@pytest.fixture(scope="session", autouse=True)
def _tmux_server_stopped() -> Iterator[None]:
    """The tests' own tmux server ends with the session (also at exit: see terminal.py)."""
    yield
    stop_server()


@pytest.fixture(scope="session")
def moto_endpoint(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """One moto server per test session (per xdist worker); tests use unique resource names."""
    log = tmp_path_factory.mktemp("moto") / "moto.log"
    proc, endpoint = start_moto_server(log_path=log)
    try:
        yield endpoint
    finally:
        proc.stop()


class HttpApi:
    def __init__(self, process: ManagedProcess, url: str) -> None:
        self.process = process
        self.url = url


@pytest.fixture
def http_api(tmp_path: Path, db_path: Path) -> Iterator[HttpApi]:
    """The Flask API of tests/e2e/services/http_api.py, instrumented, on a free loopback port."""
    port = free_port()
    env = service_env(db_path, "orders-bff", "orders")
    proc = start_service("http-api", "http_api.py", [str(port)], env, tmp_path / "http_api.log")
    try:
        wait_for_http(f"http://127.0.0.1:{port}/health", process=proc.popen, timeout_s=30)
        yield HttpApi(proc, f"http://127.0.0.1:{port}")
    finally:
        proc.stop()
