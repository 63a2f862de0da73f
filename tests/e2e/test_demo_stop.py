"""Stopping `seamscope demo` while its fleet is still starting, as a user or a service manager does.

The startup is held at a known step by a stand-in that never becomes ready (a moto server, the
Node.js BFF), so the signal is sure to come while the demo waits, whatever the machine's speed.
"""

from __future__ import annotations

import os
import shlex
import signal
import subprocess
import sys
import time
import uuid
from pathlib import Path

import pytest

from seamscope.demo.run import FLEET, NODE_DIR, NODE_REGISTER
from tests.ci import cannot_run
from tests.e2e.terminal import (
    capture,
    kill_terminal,
    seamscope_line,
    send_keys,
    start_terminal,
    wait_exit,
    wait_for,
)
from tests.e2e.test_demo import MARKER, demo_env, marked_processes

pytestmark = [
    pytest.mark.e2e,
    pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc"),
]


EACH_STOP = pytest.mark.parametrize(
    ("sig", "status"),
    [(signal.SIGTERM, 0), (signal.SIGINT, 128 + signal.SIGINT), (signal.SIGHUP, 128 + 1)],
    ids=["SIGTERM", "SIGINT", "SIGHUP"],
)
"""Each stop signal, with the exit status the README promises for it."""


def start_headless(env: dict[str, str], *args: str) -> subprocess.Popen[str]:
    """`seamscope demo --headless` on any free port, its output read by the test."""
    return subprocess.Popen(
        [sys.executable, "-m", "seamscope.cli", "demo", "--headless", "--port", "0", *args],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def wait_for_lines(path: Path, text: str, demo: subprocess.Popen[str]) -> None:
    """Until the log at path holds text; fails when the demo ended first."""
    deadline = time.monotonic() + 120
    while not (path.exists() and text in path.read_text(errors="replace")):
        assert demo.poll() is None, demo.communicate()[1]
        assert time.monotonic() < deadline, f"{path.name} never said {text!r}"
        time.sleep(0.1)


def stop_demo(demo: subprocess.Popen[str], sig: signal.Signals) -> str:
    """Sends sig; returns the demo's stderr once it ended."""
    try:
        demo.send_signal(sig)
        _, err = demo.communicate(timeout=120)
    finally:
        if demo.poll() is None:
            demo.kill()
            demo.wait()
    return err


def wait_until_gone(run_id: str) -> list[int]:
    """The processes of the run still there after a while: a process that is exiting drops its
    marker a moment before it is gone."""
    deadline = time.monotonic() + 15
    while (left := marked_processes(run_id)) and time.monotonic() < deadline:
        time.sleep(0.2)
    return left


def node_that_never_listens(tmp_path: Path) -> Path:
    """A folder for PATH whose `node` says it is Node.js 20 and then never listens: the demo and
    the services that call the BFF wait for it."""
    if not (NODE_DIR / "node_modules" / NODE_REGISTER.rsplit("/", 1)[0]).is_dir():
        cannot_run("the demo's Node.js packages are not installed (make setup)")
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    (bin_dir / "node").write_text(
        '#!/bin/sh\nif [ "$1" = --version ]; then echo v20.0.0; exit 0; fi\nexec sleep 600\n'
    )
    (bin_dir / "node").chmod(0o755)
    return bin_dir


def wait_until_the_services_wait(logs: Path, demo: subprocess.Popen[str] | None = None) -> None:
    """Every Python service has started: it serves HTTP only (ready), or waits for the BFF."""
    for spec in FLEET:
        if spec.node is None:
            wait_for_any(logs / f"{spec.name}.log", ("ready", "waiting for webapp-bff"), demo)


@EACH_STOP
def test_a_signal_while_moto_starts_stops_what_runs_already(
    tmp_path: Path, sig: signal.Signals, status: int
) -> None:
    """Before, a signal that came before the receiver started escaped the demo's handling:
    click printed "Aborted!" and the demo exited 130 on SIGTERM too, without its first line."""
    fake = tmp_path / "fake"
    (fake / "moto").mkdir(parents=True)
    (fake / "moto" / "__init__.py").write_text("")
    # A moto server that never listens: the demo waits for it (up to a minute).
    (fake / "moto" / "server.py").write_text(
        "import time\nprint('fake moto: up', flush=True)\ntime.sleep(600)\n"
    )
    run_id, tmp = uuid.uuid4().hex, tmp_path / "tmp"
    tmp.mkdir()
    env = demo_env(run_id) | {"TMPDIR": str(tmp), "PYTHONPATH": str(fake)}
    demo = start_headless(env)
    deadline = time.monotonic() + 60
    while not list(tmp.glob("seamscope-demo-*/moto.log")):
        assert demo.poll() is None, demo.communicate()[1]
        assert time.monotonic() < deadline, "the demo never started moto"
        time.sleep(0.05)
    (run_dir,) = tmp.glob("seamscope-demo-*")
    wait_for_lines(run_dir / "moto.log", "fake moto: up", demo)
    err = stop_demo(demo, sig)
    assert err.strip().splitlines() == [
        "demo: stopping every process it started",
        "demo: stopping the vendors and moto ...",
    ]
    assert demo.returncode == status
    assert wait_until_gone(run_id) == []
    assert not run_dir.exists()


HELD_IMPORT = """
import os, sys, time
from pathlib import Path

# Holds the process that imports duckdb first (the demo, as it imports its parts) until the
# test says go, then hands it the real duckdb.
hold = Path(os.environ["SEAMSCOPE_TEST_HOLD"])
(hold / "held").write_text(str(os.getpid()))
while not (hold / "go").exists():
    time.sleep(0.01)
here = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path[:] = [p for p in sys.path if os.path.abspath(p or ".") != here]
del sys.modules["duckdb"]
import duckdb
"""


@EACH_STOP
def test_a_signal_while_the_demo_imports_its_parts_stops_it_as_later(
    tmp_path: Path, sig: signal.Signals, status: int
) -> None:
    """The demo took the stop signals over once it had imported its parts (duckdb, pyarrow, its
    fleet: 0.3 s and more) and checked its options: a signal before that took its default
    action. SIGTERM killed it (-15, no stop said), Ctrl-C said "Aborted." or a traceback. The
    demo is held inside those imports (a duckdb that waits for the test), and signalled there."""
    fake = tmp_path / "fake"
    (fake / "duckdb").mkdir(parents=True)
    (fake / "duckdb" / "__init__.py").write_text(HELD_IMPORT)
    run_id, tmp = uuid.uuid4().hex, tmp_path / "tmp"
    tmp.mkdir()
    env = demo_env(run_id) | {
        "TMPDIR": str(tmp),
        "PYTHONPATH": str(fake),
        "SEAMSCOPE_TEST_HOLD": str(tmp_path),
    }
    demo = start_headless(env)
    try:
        deadline = time.monotonic() + 60
        while not (tmp_path / "held").exists():
            assert demo.poll() is None, demo.communicate()[1]
            assert time.monotonic() < deadline, "the demo never imported duckdb"
            time.sleep(0.01)
        # Pending once kill() returns: the demo takes it before it runs any more of its code.
        demo.send_signal(sig)
        (tmp_path / "go").touch()
        _, err = demo.communicate(timeout=120)
    finally:
        if demo.poll() is None:
            demo.kill()
            demo.wait()
    assert (demo.returncode, err) == (status, "demo: stopping every process it started\n")
    assert wait_until_gone(run_id) == []
    assert list(tmp.iterdir()) == []  # the run's folder removed: nothing of it kept


def test_sigterm_while_the_services_wait_for_a_peer_stops_each_by_itself(tmp_path: Path) -> None:
    """A Python service waits for its HTTP peers before its loops start. Before, that wait did
    not look at the signal: stopped with the rest, a peer that had not listened yet never would,
    and the demo killed the service after its 8 s (the stop took 8-9 s, its spans were lost)."""
    bin_dir = node_that_never_listens(tmp_path)
    run_id, logs = uuid.uuid4().hex, tmp_path / "logs"
    env = demo_env(run_id) | {"PATH": f"{bin_dir}{os.pathsep}{os.environ.get('PATH', '')}"}
    demo = start_headless(env, "--logs", str(logs))
    wait_until_the_services_wait(logs, demo)
    assert not (logs / "demo.json").exists()  # still starting
    err = stop_demo(demo, signal.SIGTERM)
    lines = err.strip().splitlines()
    assert lines[:3] == [
        "demo: stopping every process it started",
        f"demo: stopping {len(FLEET)} services (they send their last spans) ...",
        "demo: stopping the receiver, the vendors and moto"
        " (it stores and classifies the last spans) ...",
    ]
    # Each ended by itself: the stop had to kill none.
    assert [line for line in lines if "killed" in line] == []
    assert lines[-1].startswith("seamscope: stopped; stored ")
    assert "Traceback" not in err
    assert demo.returncode == 0
    assert wait_until_gone(run_id) == []


def wait_for_any(
    path: Path, texts: tuple[str, ...], demo: subprocess.Popen[str] | None = None
) -> None:
    deadline = time.monotonic() + 120
    while not (path.exists() and any(t in path.read_text(errors="replace") for t in texts)):
        assert demo is None or demo.poll() is None, demo.communicate()[1]
        assert time.monotonic() < deadline, f"{path.name} never said any of {texts}"
        time.sleep(0.1)


def test_quitting_the_tui_while_the_services_start_stops_the_demo_at_once(tmp_path: Path) -> None:
    """The demo looked at its TUI only once every service listened: quit before, it went on
    starting them (here, a minute for a BFF that never listens, then an error)."""
    bin_dir = node_that_never_listens(tmp_path)
    run_id, logs, session = uuid.uuid4().hex, tmp_path / "logs", f"demo-{uuid.uuid4().hex[:8]}"
    done = tmp_path / "exit-code"
    path = shlex.quote(f"{bin_dir}{os.pathsep}{os.environ.get('PATH', '')}")
    command = seamscope_line(
        "demo", "--port", "0", "--logs", logs, exit_file=done, env=f"{MARKER}={run_id} PATH={path}"
    )
    start_terminal(session, 160, 45, f"{command}; sleep 600")  # the pane stays to be read
    try:
        wait_for(session, "The store is empty", limit_s=120)
        wait_until_the_services_wait(logs)
        send_keys(session, "C-q")  # quits at once
        status = wait_exit(done)
        screen = capture(session)
    finally:
        kill_terminal(session)
    assert status == "0", screen
    assert f"demo: stopping {len(FLEET)} services (they send their last spans) ..." in screen
    assert "killed" not in screen and "Traceback" not in screen
    assert wait_until_gone(run_id) == []
