"""A traced service whose owner accepts connections and never answers, while the store is
locked: its span queue overflows during the one export that waits for the owner. Every span
is then either stored or counted in ``dropped_spans`` (none vanishes unseen), and the
service's log says so once."""

from __future__ import annotations

import socket
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from seamscope.tracer.owner import publish, withdraw
from tests.e2e.services.harness import (
    drain_leftover_spool,
    holding_lock,
    query,
    run_service,
    service_env,
)

pytestmark = pytest.mark.e2e

SPANS = 3000


@pytest.fixture
def frozen_owner(db_path: Path) -> Iterator[None]:
    """An owner file of ours (this process is alive) naming a port that accepts connections
    into its backlog and never answers."""
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    sock.listen(64)
    publish(db_path, "127.0.0.1", int(sock.getsockname()[1]))
    try:
        yield
    finally:
        withdraw(db_path)
        sock.close()


@pytest.fixture
def locked(db_path: Path) -> Iterator[subprocess.Popen[str]]:
    with holding_lock(db_path) as holder:
        yield holder


def test_every_span_is_stored_or_counted_as_dropped(
    db_path: Path, frozen_owner: None, locked: subprocess.Popen[str]
) -> None:
    env = service_env(db_path, "worker", "load", extra={"OTEL_BSP_MAX_QUEUE_SIZE": "200"})
    done = run_service("span_producer.py", ["w", str(SPANS), "4000"], env)
    locked.kill()
    locked.wait()
    time.sleep(0.2)
    drain_leftover_spool(db_path)
    stored = query(db_path, "select count(*), count(distinct span_id) from spans")[0]
    assert stored[0] == stored[1]
    dropped = query(
        db_path,
        "select coalesce(max(value::BIGINT), 0) from seamscope_meta where key = 'dropped_spans'",
    )[0][0]
    assert dropped > 0, done.stderr  # the queue did overflow: this test tests something
    assert stored[0] + dropped == SPANS
    assert done.stderr.count("the span queue is full") == 1, done.stderr
    assert f"{dropped} spans were dropped in all" in done.stderr
