"""`seamscope demo` checks its receiver's port before it starts the fleet: taken means another
process listens there, as the receiver's own bind sees it."""

from __future__ import annotations

import socket

import pytest

from seamscope.demo.processes import free_port
from seamscope.demo.run import ensure_port_free
from seamscope.tracer.errors import SeamscopeError


def test_a_port_another_process_listens_on_is_refused() -> None:
    with socket.create_server(("127.0.0.1", 0)) as server:
        port = server.getsockname()[1]
        with pytest.raises(SeamscopeError, match=f"port {port} on 127.0.0.1 .* is in use"):
            ensure_port_free(port, "the demo's receiver")


def test_a_port_left_in_time_wait_by_a_stopped_demo_is_free() -> None:
    """The receiver closed its connections first (it stopped), so they wait out TIME_WAIT on
    its port; a new demo's receiver binds there at once (SO_REUSEADDR), and the check agrees."""
    port = free_port()
    with socket.create_server(("127.0.0.1", port)) as server:
        client = socket.create_connection(("127.0.0.1", port))
        conn, _ = server.accept()
        conn.close()  # the server's side closes first: its end goes to TIME_WAIT
        client.recv(1)
        client.close()
    with socket.socket() as probe:  # the plain bind the check made before fails here
        with pytest.raises(OSError):
            probe.bind(("127.0.0.1", port))
    ensure_port_free(port, "the demo's receiver")
    socket.create_server(("127.0.0.1", port)).close()  # as the receiver binds
