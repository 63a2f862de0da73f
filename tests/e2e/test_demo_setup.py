"""The demo's landscape file and its one-line answers to bad situations (no fleet is started)."""

from __future__ import annotations

import socket
import subprocess
import sys
from pathlib import Path

import pytest

from seamscope.classifiers.landscape import parse_landscape
from seamscope.demo import run
from seamscope.demo.run import FLEET, VENDORS, node_runtime, render_landscape

pytestmark = pytest.mark.e2e


def seamscope(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "seamscope.cli", *args],
        capture_output=True,
        text=True,
        timeout=60,
        env=env,
    )


def test_the_shipped_landscape_declares_every_service_as_the_fleet_runs_it() -> None:
    ports = {vendor: 40000 + i for i, vendor in enumerate(VENDORS)}
    landscape = parse_landscape(render_landscape(ports), Path("landscape.toml"))
    assert landscape.components == {s.name: (s.system, s.role) for s in FLEET}
    hosts = {v.name: v.hosts for v in landscape.vendors}
    assert hosts == {vendor: (f"127.0.0.1:{port}",) for vendor, port in ports.items()}
    assert landscape.rest_allowed_webapps == {"provider-portal"}


def test_a_receiver_port_in_use_is_one_line_and_starts_nothing(tmp_path: Path) -> None:
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        done = seamscope("demo", "--headless", "--port", str(port), "--logs", str(tmp_path / "l"))
    assert done.returncode == 2
    assert done.stderr.strip() == (
        f"seamscope: port {port} on 127.0.0.1 (the demo's receiver) is in use:"
        " choose another with --port"
    )
    assert not (tmp_path / "l").exists()


def test_without_moto_the_demo_says_what_to_install() -> None:
    code = (
        "import sys; sys.modules['moto'] = None; "
        "from seamscope.cli.main import main; main(['demo', '--headless', '--port', '0'])"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert done.returncode == 2
    assert (
        done.stderr.strip() == "seamscope: the demo needs moto: pip install './seamscope[demo]' "
        "(the path of your seamscope clone)"
    )


def test_duration_without_headless_is_a_usage_error() -> None:
    done = seamscope("demo", "--duration", "5")
    assert done.returncode == 2
    assert "--duration goes with --headless" in done.stderr
    assert "Traceback" not in done.stderr


def test_a_store_in_a_missing_folder_is_one_line(tmp_path: Path) -> None:
    db = tmp_path / "nowhere" / "demo.duckdb"
    done = seamscope("demo", "--headless", "--port", "0", "--db", str(db))
    assert done.returncode == 2
    assert done.stderr.strip() == f"seamscope: {db}: the folder {db.parent} does not exist"


def test_the_node_services_run_in_python_unless_node_and_its_packages_are_there(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PATH", str(tmp_path))
    assert node_runtime() == (None, "node is not installed")
    old = tmp_path / "node"
    old.write_text("#!/bin/sh\necho v16.20.2\n")
    old.chmod(0o755)
    assert node_runtime() == (None, f"{old} is not Node.js >= 18")
    old.write_text("#!/bin/sh\necho v20.1.0\n")
    monkeypatch.setattr(run, "NODE_DIR", tmp_path / "fleet-node")
    assert node_runtime() == (
        None,
        "the demo's Node.js packages are not installed (make setup, in a clone of seamscope)",
    )
    packages = tmp_path / "fleet-node" / "node_modules" / "@opentelemetry"
    (packages / "auto-instrumentations-node").mkdir(parents=True)
    assert node_runtime() == (str(old), "")
