"""The demo's run folder under umask 000: a real `seamscope demo --headless` started with umask
000 makes every file and folder it leaves in its --logs folder (the store and its WAL, the
landscape, demo.json, every process's log) the user's alone, 0600 and 0700, in a folder it makes
and in one of the user's that others can read. Checked by hand until now.

The same from Python, through `seamscope.demo.run` (`running_fleet`, `run_headless`) with no
command line to set the umask: the run folder, the folders it makes on the way to it, the logs,
the landscape and demo.json were made as the umask had it (0777 and 0666 under umask 000), so
any local user could read the fleet's logs and rewrite its landscape."""

from __future__ import annotations

import stat
import subprocess
import sys
import uuid
from pathlib import Path

import pytest

from tests.e2e.test_demo import assert_nothing_left, demo_env

pytestmark = pytest.mark.e2e

OPEN_UMASK = ["sh", "-c", 'umask 000 && exec "$0" "$@"']


def modes(folder: Path) -> dict[str, str]:
    """Every path under folder (folder too), relative, with its mode."""
    found = {".": oct(stat.S_IMODE(folder.lstat().st_mode))}
    for path in sorted(folder.rglob("*")):
        found[str(path.relative_to(folder))] = oct(stat.S_IMODE(path.lstat().st_mode))
    return found


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc")
@pytest.mark.parametrize("existing", [False, True], ids=["a new folder", "a folder others read"])
def test_the_demo_under_umask_000_leaves_only_private_files(tmp_path: Path, existing: bool) -> None:
    run_id, logs = uuid.uuid4().hex, tmp_path / "logs"
    if existing:
        logs.mkdir()
        logs.chmod(0o755)  # the user's own, readable by others: allowed as --logs
    done = subprocess.run(
        [
            *OPEN_UMASK,
            sys.executable,
            "-m",
            "seamscope.cli",
            "demo",
            "--headless",
            "--duration",
            "3",
            "--port",
            "0",
            "--logs",
            str(logs),
        ],  # fmt: skip
        env=demo_env(run_id),
        capture_output=True,
        text=True,
        timeout=240,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    assert_nothing_left(run_id, logs)
    found = modes(logs)
    # What the demo makes there: the store, the landscape, its state and a log per process.
    names = set(found)
    assert {"seamscope.duckdb", "landscape.toml", "demo.json", "collector.log", "moto.log"} <= names
    assert sum(name.endswith(".log") for name in names) >= 10, sorted(names)
    folder = "0o755" if existing else "0o700"
    want = {
        name: folder if name == "." else ("0o700" if (logs / name).is_dir() else "0o600")
        for name in found
    }
    assert found == want


FROM_PYTHON = """
import sys
from pathlib import Path

from seamscope.demo.run import run_headless, running_fleet

run_dir = Path(sys.argv[1])
with running_fleet(run_dir, run_dir / "seamscope.duckdb") as fleet:
    dead = run_headless(fleet, 0, 3.0)
sys.exit(1 if dead else 0)
"""


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc")
def test_the_demo_started_from_python_under_umask_000_leaves_only_private_files(
    tmp_path: Path,
) -> None:
    run_id, made, logs = uuid.uuid4().hex, tmp_path / "made", tmp_path / "made" / "run"
    done = subprocess.run(
        [*OPEN_UMASK, sys.executable, "-c", FROM_PYTHON, str(logs)],
        env=demo_env(run_id),
        capture_output=True,
        text=True,
        timeout=240,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    assert_nothing_left(run_id, logs)
    found = modes(logs)
    names = set(found)
    assert {"seamscope.duckdb", "landscape.toml", "demo.json", "collector.log", "moto.log"} <= names
    want = {name: "0o700" if (logs / name).is_dir() else "0o600" for name in found}
    assert found == want
    assert oct(stat.S_IMODE(made.stat().st_mode)) == "0o700"  # a folder it made on the way
