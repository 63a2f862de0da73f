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
    for folder in ("tracer", "classifiers", "tui", "cli", "demo"):
        for init in (ROOT / folder).rglob("__init__.py"):
            rel = init.parent.relative_to(ROOT)
            found.add("seamscope." + ".".join(rel.parts))
    assert found == listed


# Imports every module of the traced side, as a service (or the classifier) would.
_IMPORT_ALL = """
import importlib, pkgutil, sys
import seamscope.tracer, seamscope.classifiers
for package in (seamscope.tracer, seamscope.classifiers):
    for info in pkgutil.walk_packages(package.__path__, package.__name__ + "."):
        importlib.import_module(info.name)
loaded = [m for m in sys.modules if m.split(".")[0] == "textual" or m.startswith("seamscope.tui")]
print(loaded)
sys.exit(1 if loaded else 0)
"""


def test_tracing_and_classifying_never_load_the_tui() -> None:
    done = subprocess.run([sys.executable, "-c", _IMPORT_ALL], capture_output=True, text=True)
    assert done.returncode == 0, done.stdout + done.stderr
