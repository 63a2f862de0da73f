"""Another local user writes ``<db>.owner.json`` in a shared folder, pointing at a listener of
theirs. A traced service and `seamscope sql` must not follow it: the spans land in the store,
the query runs locally, and the listener hears nothing."""

from __future__ import annotations

import json
import os
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from seamscope.tracer.owner import owner_file
from tests.e2e.services.harness import drain_leftover_spool, query, run_service, service_env
from tests.e2e.test_collect import SEAMSCOPE
from tests.resilience.listener import RecordingListener

pytestmark = pytest.mark.e2e

SPANS = 200


@pytest.fixture
def listener() -> Iterator[RecordingListener]:
    server = RecordingListener()
    try:
        yield server
    finally:
        server.close()


def forge(db_path: Path, pid: int, port: int, *, foreign: bool) -> None:
    path = owner_file(db_path)
    record = {
        "pid": pid,
        "host": "127.0.0.1",
        "port": port,
        "url": f"http://127.0.0.1:{port}",
        "db": str(db_path),
        "started": time.time(),
        "secret": "theirs",
    }
    path.write_text(json.dumps(record))
    if foreign:
        os.chown(path, 65534, 65534)  # nobody
        path.chmod(0o644)
    else:
        path.chmod(0o666)  # ours, but anyone could have rewritten it


@pytest.mark.parametrize(
    "foreign",
    [
        pytest.param(
            True,
            marks=pytest.mark.skipif(
                os.geteuid() != 0, reason="needs root to give a file to another user"
            ),
            id="another-users-file",
        ),
        pytest.param(False, id="world-writable-file"),
    ],
)
def test_a_forged_owner_file_is_not_followed(
    db_path: Path, listener: RecordingListener, bystander: int, foreign: bool
) -> None:
    forge(db_path, bystander, listener.port, foreign=foreign)
    env = service_env(db_path, "worker", "load")
    done = run_service("span_producer.py", ["w", str(SPANS), "5000"], env)
    assert "ignoring" in done.stderr and "owner.json" in done.stderr  # said, once
    assert done.stderr.count("ignoring") == 1
    drain_leftover_spool(db_path)
    assert query(db_path, "select count(*) from spans") == [(SPANS,)]

    sql = subprocess.run(
        [*SEAMSCOPE, "sql", "--db", str(db_path), "--csv", "select count(*) as n from spans"],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert sql.returncode == 0, sql.stderr
    assert sql.stdout.splitlines() == ["n", str(SPANS)]
    assert "Traceback" not in sql.stderr
    assert listener.requests == []
