"""A traced service whose store cannot grow: the disk full, as the process sees it.

The service runs under the real `opentelemetry-instrument` with a file-size limit
(RLIMIT_FSIZE; Python ignores SIGXFSZ, so a write past the limit fails with EFBIG, as one on a
full disk fails with ENOSPC): the store's WAL cannot be written, nor the spool beside it. The
service must run to its end as if nothing happened, and its log must say what failed and what
was lost, in words that name the cause.
"""

from __future__ import annotations

import resource
import subprocess
from pathlib import Path

import duckdb
import pytest

from seamscope.tracer.store import Store
from tests.e2e.services.harness import instrumented, service_env

pytestmark = pytest.mark.e2e

LIMIT = 4096  # bytes: below any WAL or spool file the spans need


def _limited() -> None:
    resource.setrlimit(resource.RLIMIT_FSIZE, (LIMIT, LIMIT))


def test_a_store_that_cannot_grow_costs_the_service_nothing_and_is_said_plainly(
    db_path: Path,
) -> None:
    with Store.open(db_path):
        pass  # the store exists; it cannot grow from here on
    done = subprocess.run(
        instrumented("span_producer.py", "full", "300", "100000"),
        env=service_env(db_path, "full-disk"),
        capture_output=True,
        text=True,
        timeout=120,
        preexec_fn=_limited,  # noqa: PLW1509 - one thread here; the limit is the test
        start_new_session=True,
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "300"
    assert "Traceback" not in done.stderr, done.stderr
    log = done.stderr
    # The cause, not the ROLLBACK after it ("cannot rollback - no transaction is active").
    assert f"cannot append to {db_path}" in log and "File too large" in log, log
    assert "no transaction is active" not in log, log
    assert f"cannot spool next to {db_path}" in log, log
    # The count of lost spans could be written nowhere: the log says so, and how many.
    assert "300 spans were dropped in all; 300 of them could not be counted" in log, log
    con = duckdb.connect(str(db_path), read_only=True)
    try:
        assert con.execute("select count(*) from spans").fetchone() == (0,)
    finally:
        con.close()
