"""Running services the way a user does: under the real ``opentelemetry-instrument``.

Shared by tests/e2e and tests/resilience. Only the service name, the resource attributes,
the store path and (for boto3) the moto endpoint and dummy credentials are set: every other
``OTEL_*`` variable is removed, so the seamscope distro's defaults are what is tested.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import duckdb

from seamscope.demo.processes import ManagedProcess
from seamscope.tracer.spool import drain_spool, spooled_files
from seamscope.tracer.store import StoreLocked, open_read_only, short_lock

SERVICES = Path(__file__).parent
BIN = Path(sys.executable).parent


def service_env(
    db_path: Path,
    service_name: str,
    namespace: str | None = None,
    *,
    aws_endpoint: str | None = None,
    extra: Mapping[str, str] | None = None,
) -> dict[str, str]:
    """The environment of a service: the venv's bin first on PATH, no inherited OTEL_*."""
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("OTEL_", "SEAMSCOPE_", "AWS_", "PYTEST_"))
    }
    env["PATH"] = f"{BIN}{os.pathsep}{env.get('PATH', '')}"
    env["OTEL_SERVICE_NAME"] = service_name
    if namespace:
        env["OTEL_RESOURCE_ATTRIBUTES"] = f"service.namespace={namespace}"
    env["SEAMSCOPE_DB"] = str(db_path)
    if aws_endpoint:
        env.update(
            AWS_ENDPOINT_URL=aws_endpoint,
            AWS_DEFAULT_REGION="eu-west-1",
            AWS_ACCESS_KEY_ID="testing",
            AWS_SECRET_ACCESS_KEY="testing",
        )
    env.update(extra or {})
    return env


def instrumented(script: str, *args: str) -> list[str]:
    """argv of ``opentelemetry-instrument python <service script> args``."""
    return [str(BIN / "opentelemetry-instrument"), "python", str(SERVICES / script), *args]


def run_service(
    script: str, args: Sequence[str], env: Mapping[str, str], *, timeout_s: float = 120
) -> subprocess.CompletedProcess[str]:
    """Runs a service to its end; fails with its output when it exits non-zero."""
    proc = subprocess.run(
        instrumented(script, *args),
        env=dict(env),
        capture_output=True,
        text=True,
        timeout=timeout_s,
        start_new_session=True,
    )
    if proc.returncode != 0 or "Traceback" in proc.stderr:
        raise AssertionError(
            f"{script} exited with {proc.returncode}\n"
            f"--- stdout\n{proc.stdout}\n--- stderr\n{proc.stderr}"
        )
    return proc


def start_service(
    name: str, script: str, args: Sequence[str], env: Mapping[str, str], log_path: Path
) -> ManagedProcess:
    """Starts a long-running instrumented service (its own process group)."""
    proc = ManagedProcess(name, instrumented(script, *args), log_path=log_path)
    # ManagedProcess.start() merges into os.environ; a service gets exactly env.
    with open(log_path, "ab") as out:
        proc.popen = subprocess.Popen(
            list(proc.argv),
            env=dict(env),
            stdout=out,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            start_new_session=True,
        )
    return proc


def query(
    db_path: Path, sql: str, params: Sequence[Any] = (), *, timeout_s: float = 30
) -> list[Any]:
    """Runs read-only SQL, waiting while a writer holds the store."""
    deadline = time.monotonic() + timeout_s
    while True:
        try:
            con = open_read_only(db_path)
        except StoreLocked:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.05)
            continue
        try:
            return con.execute(sql, list(params)).fetchall()
        finally:
            con.close()


def drain_leftover_spool(db_path: Path) -> int:
    """What the next writer would do: append anything still spooled. Returns spans drained."""
    if not spooled_files(db_path):
        return 0
    with short_lock(db_path, attempts=50) as store:
        return drain_spool(store)


def rows_as_dicts(db_path: Path, sql: str, params: Sequence[Any] = ()) -> list[dict[str, Any]]:
    con: duckdb.DuckDBPyConnection | None = None
    deadline = time.monotonic() + 30
    while con is None:
        try:
            con = open_read_only(db_path)
        except StoreLocked:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.05)
    try:
        cur = con.execute(sql, list(params))
        names = [d[0] for d in cur.description or ()]
        return [dict(zip(names, row, strict=True)) for row in cur.fetchall()]
    finally:
        con.close()


@contextmanager
def holding_lock(db_path: Path, seconds: str = "600") -> Iterator[subprocess.Popen[str]]:
    """Another process holds the store's write lock meanwhile (lock_holder.py), as a busy
    writer would: it has the lock once this yields, and is killed afterwards."""
    holder = subprocess.Popen(
        [sys.executable, str(SERVICES / "lock_holder.py"), str(db_path), seconds],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert holder.stdout is not None and holder.stdout.readline().startswith("locked")
        yield holder
    finally:
        holder.kill()
        holder.wait()
        if holder.stdout is not None:
            holder.stdout.close()  # else a ResourceWarning when collected, wherever that is
