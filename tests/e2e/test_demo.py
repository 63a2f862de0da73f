"""`seamscope demo --headless` run as a user runs it: every rule fires, nothing is left behind.

The labels each demo edge must get are read from sample_traces/README.md, so the README and the
demo cannot drift apart.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
import uuid
from pathlib import Path

import duckdb
import pytest

from seamscope.demo.run import FLEET, node_runtime
from tests.ci import cannot_run

pytestmark = [pytest.mark.e2e, pytest.mark.slow]

ROOT = Path(__file__).resolve().parents[2]
SAMPLE_README = ROOT / "sample_traces" / "README.md"
MARKER = "SEAMSCOPE_DEMO_TEST_RUN"
CATALOG = (
    "P101 P102 P103 P201 P202 P301 P302 P303 P401 P402 A101 A102 A201 A202 A301 A302 A303 A401"
).split()


def expected_labels() -> list[tuple[str, str, str, str]]:
    """(from, to, mechanism, rule id) rows of the table between the expected-labels markers."""
    text = SAMPLE_README.read_text()
    table = text.split("<!-- expected-labels -->")[1].split("<!-- /expected-labels -->")[0]
    rows = []
    for line in table.splitlines():
        cells = [c.strip().strip("`") for c in line.strip().strip("|").split("|")]
        if len(cells) >= 4 and cells[3][:1] in ("P", "A") and cells[3][1:].isdigit():
            rows.append((cells[0], cells[1], cells[2], cells[3]))
    return rows


def observed_edges(db: Path) -> list[tuple[str, str, str, str, str]]:
    """(from name, to name, mechanism, rule id, via) of every edge the classifier stored."""
    con = duckdb.connect(str(db), read_only=True)
    try:
        return [
            (str(a), str(b), str(m), str(r), str(v or ""))
            for a, b, m, r, v in con.execute(
                """
                SELECT
                  CASE WHEN f.node_type = 'resource' OR f.name IS NULL THEN e.from_node
                       ELSE f.name END,
                  CASE WHEN t.node_type = 'resource' OR t.name IS NULL THEN e.to_node
                       ELSE t.name END,
                  e.mechanism, e.rule_id, e.via
                FROM edges e
                LEFT JOIN nodes f ON f.node_id = e.from_node
                LEFT JOIN nodes t ON t.node_id = e.to_node
                """
            ).fetchall()
        ]
    finally:
        con.close()


def languages(db: Path) -> dict[str, str]:
    """service.name -> the telemetry.sdk.language of its spans' resource."""
    con = duckdb.connect(str(db), read_only=True)
    try:
        rows = con.execute(
            "SELECT DISTINCT service_name, resource->>'telemetry.sdk.language' FROM spans"
        ).fetchall()
    finally:
        con.close()
    return {str(name): str(language) for name, language in rows}


def matches(row: tuple[str, str, str, str], edge: tuple[str, str, str, str, str]) -> bool:
    return row[0] == edge[0] and row[1] == edge[1] and row[2] == edge[2]


def demo_env(run_id: str) -> dict[str, str]:
    env = dict(os.environ)
    env[MARKER] = run_id
    return env


def marked_processes(run_id: str) -> list[int]:
    """Pids of live processes that inherited this run's marker: whatever the demo left behind."""
    needle = f"{MARKER}={run_id}".encode()
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit() or int(entry.name) == os.getpid():
            continue
        try:
            environ = (entry / "environ").read_bytes()
            state = (entry / "stat").read_text().rsplit(")", 1)[1].split()[0]
        except OSError:
            continue
        if needle in environ.split(b"\0") and state != "Z":
            found.append(int(entry.name))
    return found


def listening_ports() -> set[int]:
    """Local ports with a socket in LISTEN state, from /proc/net/tcp and tcp6.

    Only a listener shows a server left behind. Binding the port to test it would also fail on
    any other process's outgoing connection that the kernel happened to give the same ephemeral
    port, which is what once made this check flaky."""
    ports = set()
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        try:
            lines = Path(table).read_text().splitlines()[1:]
        except OSError:
            continue
        for line in lines:
            local, state = line.split()[1], line.split()[3]
            if state == "0A":  # TCP_LISTEN
                ports.add(int(local.rsplit(":", 1)[1], 16))
    return ports


def assert_nothing_left(run_id: str, logs: Path, wait_s: float = 15.0) -> None:
    """No process of the run is left and none of its ports has a listener, within wait_s.

    A process that is exiting drops its memory (so its environ reads empty and it no longer
    looks like one of ours) before it closes its files: its sockets can outlive its marker by a
    moment, longer on a loaded machine. A server really left behind keeps listening.
    """
    ports = json.loads((logs / "demo.json").read_text())["ports"]
    deadline = time.monotonic() + wait_s
    while True:
        left = marked_processes(run_id)
        listening = listening_ports()
        busy = [name for name, port in ports.items() if int(port) in listening]
        if (not left and not busy) or time.monotonic() > deadline:
            break
        time.sleep(0.2)
    assert left == []
    assert busy == []


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc")
def test_headless_demo_fires_every_rule_with_the_labels_the_readme_promises(
    tmp_path: Path,
) -> None:
    run_id, db, logs = uuid.uuid4().hex, tmp_path / "demo.duckdb", tmp_path / "logs"
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "seamscope.cli",
            "demo",
            "--headless",
            "--duration",
            "20",
            "--port",
            "0",
            "--db",
            str(db),
            "--logs",
            str(logs),
        ],  # fmt: skip
        env=demo_env(run_id),
        capture_output=True,
        text=True,
        timeout=240,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    assert "A401" in done.stdout and "P101" in done.stdout  # the findings table was printed
    assert_nothing_left(run_id, logs)

    edges = observed_edges(db)
    fired = {edge[3] for edge in edges}
    assert sorted(set(CATALOG) - fired) == []
    wrong = []
    for row in expected_labels():
        got = sorted({e[3] for e in edges if matches(row, e)})
        if got != [row[3]]:
            wrong.append(f"{row[0]} -> {row[1]} ({row[2]}): expected {row[3]}, got {got}")
    assert wrong == []
    unlisted = [e for e in edges if not any(matches(row, e) for row in expected_labels())]
    assert unlisted == []
    assert {row[3] for row in expected_labels()} == set(CATALOG)

    # A mixed fleet: the webapp BFF is a Node.js service under the stock auto-instrumentation.
    node, why = node_runtime()
    assert languages(db) == {s.name: "nodejs" if s.node and node else "python" for s in FLEET}
    if node is None:
        assert f"demo: {why}: webapp-bff runs in Python, not Node.js" in done.stderr
        cannot_run(f"the demo ran in Python only: {why}")


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc")
def test_a_service_that_crashes_mid_run_is_reported_and_nothing_is_left_behind(
    tmp_path: Path,
) -> None:
    """Run where node is not installed: the demo says so in one line and runs in Python."""
    run_id, logs = uuid.uuid4().hex, tmp_path / "logs"
    env = demo_env(run_id)
    env["PATH"] = str(Path(sys.executable).parent)  # the venv's tools, no node
    demo = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "seamscope.cli",
            "demo",
            "--headless",
            "--duration",
            "10",
            "--port",
            "0",
            "--logs",
            str(logs),
        ],  # fmt: skip
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        deadline = time.monotonic() + 120
        while not (logs / "demo.json").exists():
            assert demo.poll() is None, demo.communicate()[1]
            assert time.monotonic() < deadline, "the fleet never started"
            time.sleep(0.2)
        state = json.loads((logs / "demo.json").read_text())
        os.kill(state["processes"]["analytics-streamer"], signal.SIGKILL)
        _, err = demo.communicate(timeout=120)
    finally:
        if demo.poll() is None:
            demo.kill()
            demo.wait()
    assert demo.returncode == 2
    assert "analytics-streamer exited with code -9" in err
    assert err.strip().splitlines()[-1].startswith("seamscope: 1 service(s) of the fleet exited")
    assert "Traceback" not in err
    assert "demo: node is not installed: webapp-bff runs in Python, not Node.js" in err.splitlines()
    assert_nothing_left(run_id, logs)
    assert set(languages(logs / "seamscope.duckdb").values()) == {"python"}


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc")
def test_killing_the_demo_itself_takes_the_whole_fleet_down(tmp_path: Path) -> None:
    """Even SIGKILL, which runs no clean-up: the children die with their parent."""
    run_id, logs = uuid.uuid4().hex, tmp_path / "logs"
    demo = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "seamscope.cli",
            "demo",
            "--headless",
            "--duration",
            "60",
            "--port",
            "0",
            "--logs",
            str(logs),
        ],  # fmt: skip
        env=demo_env(run_id),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 120
        while not (logs / "demo.json").exists():
            assert demo.poll() is None
            assert time.monotonic() < deadline, "the fleet never started"
            time.sleep(0.2)
    finally:
        demo.kill()
        demo.wait()
    deadline = time.monotonic() + 30
    while marked_processes(run_id) and time.monotonic() < deadline:
        time.sleep(0.2)
    assert_nothing_left(run_id, logs)


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc")
def test_ctrl_c_stops_every_process_the_headless_demo_started(tmp_path: Path) -> None:
    run_id, logs = uuid.uuid4().hex, tmp_path / "logs"
    demo = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "seamscope.cli",
            "demo",
            "--headless",
            "--duration",
            "120",
            "--port",
            "0",
            "--logs",
            str(logs),
        ],  # fmt: skip
        env=demo_env(run_id),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        # Started as a shell script's background job is: SIGINT ignored on arrival. Ctrl-C
        # must stop the demo all the same (a terminal's foreground run is the easier case).
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_IGN),
    )
    try:
        deadline = time.monotonic() + 120
        while not (logs / "demo.json").exists():
            assert demo.poll() is None, demo.communicate()[1]
            assert time.monotonic() < deadline, "the fleet never started"
            time.sleep(0.2)
        demo.send_signal(signal.SIGINT)  # what a terminal sends on Ctrl-C
        _, err = demo.communicate(timeout=120)
    finally:
        if demo.poll() is None:
            demo.kill()
            demo.wait()
    assert demo.returncode == 130
    assert "demo: stopping every process it started" in err
    # Each wait of the stop says what it waits for, and the receiver what it stored.
    assert f"demo: stopping {len(FLEET)} services (they send their last spans) ..." in err
    assert "demo: stopping the receiver, the vendors and moto" in err
    assert err.strip().splitlines()[-1].startswith("seamscope: stopped; stored ")
    assert "Traceback" not in err
    assert_nothing_left(run_id, logs)


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc")
@pytest.mark.parametrize(
    ("sig", "status"),
    [(signal.SIGHUP, 128 + signal.SIGHUP), (signal.SIGTERM, 0)],
    ids=["SIGHUP", "SIGTERM"],
)
def test_a_signal_stops_the_demo_and_removes_its_folder(
    tmp_path: Path, sig: signal.Signals, status: int
) -> None:
    """SIGHUP, what a terminal window sends when it closes, and SIGTERM, how a service manager
    or a script stops a process: the demo stops as on Ctrl-C and removes its temporary folder
    (the store, every log); before, SIGHUP killed it on the spot and left the folder behind.
    SIGTERM ends it with 0, as `seamscope collect` (a service manager counts 143 a failure);
    before, it gave 130, Ctrl-C's status."""
    run_id, tmp = uuid.uuid4().hex, tmp_path / "tmp"
    tmp.mkdir()
    env = demo_env(run_id) | {"TMPDIR": str(tmp)}
    command = [sys.executable, "-m", "seamscope.cli", "demo", "--headless", "--duration", "120"]
    demo = subprocess.Popen(
        [*command, "--port", "0"],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    seen = tmp_path / "seen"
    seen.mkdir()
    try:
        deadline = time.monotonic() + 120
        while not list(tmp.glob("seamscope-demo-*/demo.json")):
            assert demo.poll() is None, demo.communicate()[1]
            assert time.monotonic() < deadline, "the fleet never started"
            time.sleep(0.2)
        (run_dir,) = tmp.glob("seamscope-demo-*")
        shutil.copy(run_dir / "demo.json", seen / "demo.json")  # its ports, for the check below
        demo.send_signal(sig)
        _, err = demo.communicate(timeout=120)
    finally:
        if demo.poll() is None:
            demo.kill()
            demo.wait()
    assert "Traceback" not in err
    assert "demo: stopping every process it started" in err
    assert demo.returncode == status, err
    assert_nothing_left(run_id, seen)
    assert not run_dir.exists(), err
