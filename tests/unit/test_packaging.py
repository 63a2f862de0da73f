"""The distribution ships seamscope.* only, every subpackage is listed, the TUI stays optional."""

from __future__ import annotations

import subprocess
import sys
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_every_subpackage_is_listed_in_pyproject() -> None:
    config = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]
    listed = set(config["packages"])
    found = set()
    for folder in ("tracer", "classifiers", "tui"):
        for init in (ROOT / folder).rglob("__init__.py"):
            rel = init.parent.relative_to(ROOT)
            found.add("seamscope." + ".".join(rel.parts))
    assert found == listed


def test_tracing_does_not_load_the_tui() -> None:
    code = (
        "import sys, seamscope.tracer.store, seamscope.tracer.rows\n"
        "import importlib.util\n"
        "for m in ('seamscope.tracer.distro', 'seamscope.tracer.exporter', 'seamscope.classifiers'):\n"
        "    if importlib.util.find_spec(m): importlib.import_module(m)\n"
        "import importlib\n"
        "bad = [m for m in sys.modules if m == 'textual' or m.startswith(('textual.', 'seamscope.tui'))]\n"
        "print(bad); sys.exit(1 if bad else 0)\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert done.returncode == 0, done.stdout + done.stderr
