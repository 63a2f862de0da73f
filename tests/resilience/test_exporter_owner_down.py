"""The owner named in ``<db>.owner.json`` is gone or does not answer: spans still land."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path

import pytest

from seamscope.demo.processes import free_port
from seamscope.tracer.owner import owner_file
from tests.e2e.services.harness import drain_leftover_spool, query, run_service, service_env

pytestmark = pytest.mark.e2e

SPANS = 300


def _owner_record(db_path: Path, pid: int, port: int) -> None:
    owner_file(db_path).write_text(
        json.dumps(
            {
                "pid": pid,
                "host": "127.0.0.1",
                "port": port,
                "url": f"http://127.0.0.1:{port}",
                "db": str(db_path),
                "started": time.time(),
            }
        )
    )
    owner_file(db_path).chmod(0o600)  # one others could read is not followed at all


def _produce_and_count(db_path: Path) -> int:
    env = service_env(db_path, "worker", "load")
    run_service("span_producer.py", ["w", str(SPANS), "5000"], env)
    assert drain_leftover_spool(db_path) == 0
    rows = query(db_path, "select count(*), count(distinct span_id) from spans")
    assert rows[0][0] == rows[0][1]
    return int(rows[0][0])


def test_owner_process_alive_but_its_port_closed(db_path: Path) -> None:
    # A live process that is no receiver: the exporter's POST is refused, it appends itself.
    bystander = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(120)"])
    try:
        _owner_record(db_path, bystander.pid, free_port())
        assert _produce_and_count(db_path) == SPANS
    finally:
        bystander.kill()
        bystander.wait()


def test_owner_process_gone(db_path: Path) -> None:
    gone = subprocess.Popen([sys.executable, "-c", "pass"])
    gone.wait()
    _owner_record(db_path, gone.pid, free_port())
    assert _produce_and_count(db_path) == SPANS
