"""The fleet stops its services while the receiver still runs, so their last spans land."""

from __future__ import annotations

import sys
import time
from pathlib import Path

import pytest

from seamscope.demo import run
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


class _Recorded(ManagedProcess):
    """A real process whose signals and waits go into a shared record, in order."""

    record: list[str]

    def terminate(self) -> None:
        if self.alive() and not self.terminated:
            self.record.append(f"signal {self.name}")
        super().terminate()

    def stop(self, timeout_s: float = 5.0, linger_s: float = 3.0) -> int | None:
        self.record.append(f"wait {self.name}")
        return super().stop(timeout_s, linger_s)


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc")
def test_stop_signals_every_process_of_a_round_before_it_waits_for_any(tmp_path: Path) -> None:
    """The services are signalled together, then waited for; then the receiver, moto and the
    vendors, together: waiting for each in turn before signalling the next would add up their
    stops."""
    record: list[str] = []
    fleet = Fleet(run_dir=tmp_path, db_path=tmp_path / "store.duckdb")
    names = ["moto", "vendors", "collector", FLEET[0].name, FLEET[1].name, FLEET[2].name]
    for name in names:
        recorded = _Recorded(name, [sys.executable, "-c", "import time; time.sleep(600)"])
        recorded.record = record
        fleet.add(recorded.start())
    try:
        fleet.stop()
    finally:
        for process in fleet.processes:
            ManagedProcess.stop(process, timeout_s=1, linger_s=0)
    services, rest = names[3:], names[:3]
    first_round = record[: 2 * len(services)]
    assert sorted(first_round[: len(services)]) == sorted(f"signal {n}" for n in services)
    assert sorted(first_round[len(services) :]) == sorted(f"wait {n}" for n in services)
    second_round = [e for e in record[2 * len(services) :] if e.split()[1] in rest]
    assert sorted(second_round[: len(rest)]) == sorted(f"signal {n}" for n in rest)
    assert all(e.startswith("wait ") for e in second_round[len(rest) :])
    assert not any(p.alive() for p in fleet.processes)


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc")
def test_a_process_the_stop_had_to_kill_is_named(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A process that ignores SIGTERM loses its spans: the stop says which one it killed."""
    monkeypatch.setattr(run, "STOP_TIMEOUT_S", 1.0)
    fleet = Fleet(run_dir=tmp_path, db_path=tmp_path / "unused.duckdb")
    log = tmp_path / "stubborn.log"
    stubborn = ManagedProcess(
        "stubborn",
        [
            sys.executable,
            "-c",
            "import signal, time\n"
            "signal.signal(signal.SIGTERM, signal.SIG_IGN)\n"
            "print('ignoring SIGTERM', flush=True)\n"
            "time.sleep(600)\n",
        ],
        log_path=log,
    )
    fleet.add(stubborn.start())
    deadline = time.monotonic() + 60
    while "ignoring SIGTERM" not in log.read_text():
        assert stubborn.alive() and time.monotonic() < deadline
        time.sleep(0.05)
    said: list[str] = []
    fleet.stop(say=said.append)
    assert said == [
        "demo: stopping stubborn ...",
        f"demo: stubborn did not stop within 1 s of SIGTERM: killed; its log: {log}",
    ]
    assert not stubborn.alive()
