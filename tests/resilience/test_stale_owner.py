"""An owner file left behind: the process that wrote ``<db>.owner.json`` is gone, and the pid it
names belongs to another, live process that does not answer on the port. Every command that
reads the store says so in terms a user can act on, and none removes the file."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest

from seamscope.demo.processes import free_port
from seamscope.tracer.owner import owner_file, publish
from tests.e2e.test_collect import SEAMSCOPE
from tests.unit.classifiers.fleet import Fleet, Service

pytestmark = pytest.mark.e2e

LANDSCAPE = Path(__file__).resolve().parents[2] / "sample_traces" / "seamscope.toml"
COMMANDS = [
    ["sql", "select count(*) as n from spans"],
    ["edges"],
    ["check"],
    ["export"],
    ["drift", "--landscape", str(LANDSCAPE)],
]


@pytest.fixture
def store(tmp_path: Path) -> Path:
    fleet = Fleet()
    fleet.http(
        Service("shop-web", "shop", "webapp"),
        "http://stock-api:8080/items/1",
        server=Service("stock-api", "stock", "backend"),
    )
    return fleet.store(tmp_path / "s.duckdb")


def _run(command: list[str], db: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*SEAMSCOPE, *command, "--db", str(db)],
        cwd=db.parent,
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=120,
    )


def _left_behind(db: Path, pid: int, **changes: object) -> Path:
    """The owner file an owner on a port now closed wrote, its pid now another process's."""
    publish(db, "127.0.0.1", free_port())
    path = owner_file(db)
    path.write_text(json.dumps({**json.loads(path.read_text()), "pid": pid, **changes}))
    return path


@pytest.mark.parametrize("command", COMMANDS, ids=lambda c: c[0])
def test_a_file_whose_pid_was_taken_is_said_and_read_past(
    store: Path, bystander: int, command: list[str]
) -> None:
    """The file records when its owner started: another process with its pid is not it. The
    command does what it does without the file, and says once that the file is stale."""
    without = _run(command, store)
    assert without.returncode in (0, 1), without.stderr
    path = _left_behind(store, bystander)
    done = _run(command, store)
    assert (done.returncode, done.stdout) == (without.returncode, without.stdout)
    assert done.stderr == (
        f"seamscope: ignoring {path}: its owner (pid {bystander}) is gone and another process "
        f"has that pid now: a stale file, remove it\n{without.stderr}"
    )
    assert path.exists()


@pytest.mark.parametrize("command", COMMANDS, ids=lambda c: c[0])
def test_a_file_that_cannot_be_told_stale_names_itself_and_what_to_do(
    store: Path, bystander: int, command: list[str]
) -> None:
    """A file of an older seamscope (no process start in it): the pid lives, so it may be the
    owner; the command fails in one line naming the file, the process and its port."""
    path = _left_behind(store, bystander, boot_id=None, start_ticks=None)
    port = json.loads(path.read_text())["port"]
    done = _run(command, store)
    assert done.returncode == 2, done.stdout + done.stderr
    assert done.stderr.count("\n") == 1 and "Traceback" not in done.stderr
    says = (
        f"{path}: the process it names as the store's owner (pid {bystander}) does not answer "
        f"on port {port}; if no `seamscope collect` or live TUI runs on this store, remove that "
        "file"
    )
    # Every command says just that (the classifying ones said first that the owner "has not
    # classified it yet", which nothing had shown).
    assert done.stderr == f"seamscope: {says}\n"
    assert path.exists()
