"""Files seamscope creates are the user's alone (0600, folders 0700), even under umask 000 (and
022, the usual one): the store and its WAL, the owner file and the tee of a real `seamscope
collect`, the spool of a real traced service, and a store a traced service makes itself."""

from __future__ import annotations

import gzip
import signal
import stat
import subprocess
from pathlib import Path

import pytest

from seamscope.demo.processes import ManagedProcess, free_port, wait_for_http
from seamscope.tracer.owner import owner_file
from seamscope.tracer.spool import spool_dir
from tests.e2e.services.harness import (
    drain_leftover_spool,
    holding_lock,
    instrumented,
    query,
    service_env,
)
from tests.e2e.test_collect import SEAMSCOPE, Collector
from tests.otlp_sample import sample_request

pytestmark = pytest.mark.e2e

# argv prefix: what follows runs with umask 000, so only the modes seamscope asks for count.
OPEN_UMASK = ["sh", "-c", 'umask 000 && exec "$0" "$@"']


def with_umask(umask: str) -> list[str]:
    return ["sh", "-c", f'umask {umask} && exec "$0" "$@"']


def mode(path: Path) -> str:
    return oct(stat.S_IMODE(path.stat().st_mode))


def _service(db_path: Path, spans: int) -> None:
    done = subprocess.run(
        [*OPEN_UMASK, *instrumented("span_producer.py", "private", str(spans), "1000")],
        env=service_env(db_path, "private"),
        capture_output=True,
        text=True,
        timeout=120,
        start_new_session=True,
    )
    assert done.returncode == 0 and "Traceback" not in done.stderr, done.stderr


@pytest.mark.parametrize("umask", ["000", "022"])
def test_collect_makes_its_files_private(tmp_path: Path, umask: str) -> None:
    db = tmp_path / "open" / "seamscope.duckdb"
    db.parent.mkdir()
    tee = tmp_path / "open" / "tee.jsonl"
    port = free_port()
    log = tmp_path / "collect.log"
    argv = [*SEAMSCOPE, "collect", "--db", str(db), "--port", str(port), "--tee", str(tee)]
    proc = ManagedProcess("collect", [*with_umask(umask), *argv], log_path=log).start()
    c = Collector(proc, port, log)
    try:
        wait_for_http(f"http://127.0.0.1:{port}/", process=proc.popen, timeout_s=30)
        body = sample_request(5, services=1).SerializeToString()
        assert c.post(body, {"Content-Type": "application/x-protobuf"})[0] == 200
        wal = db.with_name(db.name + ".wal")
        modes = {p.name: mode(p) for p in (db, wal, owner_file(db), tee)}
        assert modes == dict.fromkeys(modes, "0o600")
        assert c.stop(signal.SIGTERM) == 0
    finally:
        proc.stop()
    assert mode(db) == "0o600"
    assert query(db, "select count(*) from spans") == [(5,)]


def test_a_traced_service_spools_and_stores_privately(db_path: Path) -> None:
    with holding_lock(db_path):
        _service(db_path, 30)
        folder = spool_dir(db_path)
        files = [p for p in folder.iterdir() if p.is_file()]
        assert files
        assert mode(folder) == "0o700"
        assert {mode(p) for p in files} == {"0o600"}
    assert drain_leftover_spool(db_path) == 30


def test_a_traced_service_makes_a_private_store(tmp_path: Path) -> None:
    db = tmp_path / "new.duckdb"
    _service(db, 10)
    assert mode(db) == "0o600"
    assert query(db, "select count(*) from spans") == [(10,)]


def test_ingest_makes_a_private_store(tmp_path: Path) -> None:
    """`seamscope ingest` into a new store, as a user loads the Collector's files."""
    traces = tmp_path / "traces.binpb.gz"
    body = sample_request(6, services=1).SerializeToString()
    traces.write_bytes(gzip.compress(len(body).to_bytes(4, "big") + body))
    db = tmp_path / "open" / "loaded.duckdb"
    db.parent.mkdir()
    done = subprocess.run(
        [*OPEN_UMASK, *SEAMSCOPE, "ingest", str(traces), "--db", str(db)],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    assert mode(db) == "0o600"
    assert query(db, "select count(*) from spans") == [(6,)]


_HANDOFF_SPY = """
import json, os, stat, sys
from pathlib import Path
from seamscope.tracer import handoff
from seamscope.tracer.ingest import ingest

seen = set()
folders = set()
real = handoff.take

def take(path):
    folders.add(os.path.dirname(path))
    modes = (os.stat(os.path.dirname(path)).st_mode, os.stat(path).st_mode)
    seen.add(tuple(oct(stat.S_IMODE(m)) for m in modes))
    return real(path)

handoff.take = take
report = ingest(Path(sys.argv[1]), [sys.argv[2]], workers=2, use_owner=False)
left = [f for f in folders if os.path.exists(f)]
print(json.dumps([report.spans_stored, sorted(seen), left]))
"""


def test_ingest_hands_its_decoded_spans_over_privately(tmp_path: Path) -> None:
    """ingest() with two decoder processes, called by a program whose umask is 000: the tables
    the processes hand back wait in files of the user's alone (tracer.handoff), and their
    folder is gone once the ingest returns."""
    import json
    import sys

    from seamscope.tracer.otlp import protobuf_to_json

    traces = tmp_path / "traces.jsonl"
    lines = [
        protobuf_to_json(sample_request(8, seed=seed).SerializeToString()) for seed in range(40)
    ]
    traces.write_text("\n".join(lines) + "\n")
    db = tmp_path / "loaded.duckdb"
    done = subprocess.run(
        [*OPEN_UMASK, sys.executable, "-c", _HANDOFF_SPY, str(db), str(traces)],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    stored, modes, left = json.loads(done.stdout.strip().splitlines()[-1])
    assert (stored, modes, left) == (320, [["0o700", "0o600"]], []), done.stderr


_INGEST_INTO = """
import sys
from pathlib import Path
from seamscope.tracer import handoff
from seamscope.tracer.ingest import ingest

handoff.MEMORY_ROOT = sys.argv[3]
print(ingest(Path(sys.argv[1]), [sys.argv[2]], workers=2, use_owner=False).spans_stored)
"""


def _children(parent: int) -> list[int]:
    """The processes whose parent is parent (from /proc/PID/stat)."""
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                stat = (entry / "stat").read_text()
            except OSError:
                continue  # gone meanwhile
            if int(stat.rpartition(")")[2].split()[1]) == parent:
                found.append(int(entry.name))
    return found


def _processes_with(marker: bytes) -> list[int]:
    """The processes whose command line holds marker (read from /proc)."""
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                if marker in (entry / "cmdline").read_bytes():
                    found.append(int(entry.name))
            except OSError:
                continue  # gone meanwhile
    return found


def test_a_killed_ingests_handoff_folder_goes_at_the_next_ingest(tmp_path: Path) -> None:
    """SIGKILL leaves an ingest no time to remove its handoff folder (on tmpfs, memory held
    until the next boot): the next ingest sweeps it, and stores every span."""
    import sys
    import time

    from seamscope.tracer.otlp import protobuf_to_json

    traces = tmp_path / "traces.jsonl"
    body = "\n".join(
        protobuf_to_json(sample_request(50, seed=seed).SerializeToString()) for seed in range(300)
    )
    traces.write_text(body + "\n")
    root = tmp_path / "shm"
    root.mkdir()
    script = [sys.executable, "-c", _INGEST_INTO]
    killed = subprocess.Popen([*script, str(tmp_path / "a.duckdb"), str(traces), str(root)])
    deadline = time.monotonic() + 60
    # Killed once its folder is made and its two decoder processes run.
    while (
        not (list(root.iterdir()) and len(_children(killed.pid)) >= 2)
        and killed.poll() is None
        and time.monotonic() < deadline
    ):
        time.sleep(0.005)
    assert len(_children(killed.pid)) >= 2
    killed.send_signal(signal.SIGKILL)
    killed.wait(timeout=30)
    assert killed.returncode == -signal.SIGKILL
    left = list(root.iterdir())
    assert len(left) == 1 and left[0].name.startswith(f"seamscope-handoff-{killed.pid}-")
    # Its decoder processes (forks, the same command line) leave with it: they wait on a pipe
    # they hold both ends of, and would wait forever.
    marker = str(tmp_path / "a.duckdb").encode()
    deadline = time.monotonic() + 30
    while _processes_with(marker) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert not _processes_with(marker)
    done = subprocess.run(
        [*script, str(tmp_path / "b.duckdb"), str(traces), str(root)],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.split() == ["15000"]
    assert list(root.iterdir()) == []
