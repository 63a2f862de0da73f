"""The fleet stops its services while the receiver still runs, so their last spans land."""

from __future__ import annotations

import sys
import time
from pathlib import Path

import pytest

from seamscope.demo.processes import ManagedProcess
from seamscope.demo.run import FLEET, Fleet

RECEIVER = "import time\nwhile True: time.sleep(1)\n"
SERVICE = """
import signal, sys, time
receiver, out = int(sys.argv[1]), sys.argv[2]
def flush(signum, frame):
    time.sleep(0.5)  # its last export, as the SDK's shutdown does
    try:  # a process that has ended but is not reaped yet is a zombie: gone
        state = open(f"/proc/{receiver}/stat").read().rsplit(")", 1)[1].split()[0]
        alive = "receiver gone" if state == "Z" else "receiver alive"
    except FileNotFoundError:
        alive = "receiver gone"
    open(out, "w").write(alive)
    sys.exit(0)
signal.signal(signal.SIGTERM, flush)
open(out + ".ready", "w").close()
while True: time.sleep(1)
"""


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc")
def test_stop_ends_the_services_before_the_receiver(tmp_path: Path) -> None:
    fleet = Fleet(run_dir=tmp_path, db_path=tmp_path / "store.duckdb")
    receiver = fleet.add(ManagedProcess("collector", [sys.executable, "-c", RECEIVER]).start())
    out = tmp_path / "service.out"
    fleet.add(
        ManagedProcess(
            FLEET[0].name, [sys.executable, "-c", SERVICE, str(receiver.pid), str(out)]
        ).start()
    )
    deadline = time.monotonic() + 60
    while not Path(f"{out}.ready").exists():
        assert time.monotonic() < deadline, "the service never started"
        time.sleep(0.05)
    try:
        fleet.stop()
    finally:
        for process in fleet.processes:
            process.stop(timeout_s=5)
    assert out.read_text() == "receiver alive"
    assert not receiver.alive()
