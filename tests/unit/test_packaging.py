"""The distribution ships seamscope.* only, every module and data file; the TUI stays optional."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tarfile
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
# Top-level packages that are not part of the distribution.
NOT_SHIPPED = {"tests", "benchmarks"}
DATA = ("py.typed", "*.tcss", "*.toml", "*.sql")


def _shipped_folders() -> list[str]:
    return sorted(
        p.name
        for p in ROOT.iterdir()
        if p.is_dir() and not p.is_symlink() and (p / "__init__.py").is_file()
        if p.name not in NOT_SHIPPED
    )


def _expected_files() -> set[str]:
    """seamscope/<folder>/<path> for every module and data file of the shipped folders."""
    found = set()
    for folder in _shipped_folders():
        for path in (ROOT / folder).rglob("*"):
            if "__pycache__" in path.parts or not path.is_file():
                continue
            if path.suffix == ".py" or any(path.match(pattern) for pattern in DATA):
                found.add("seamscope/" + path.relative_to(ROOT).as_posix())
    return found


def test_seamscope_links_every_top_level_package() -> None:
    """Every package folder at the top is installed as seamscope.<folder> through its link."""
    seamscope = ROOT / "seamscope"
    entries = {p.name for p in seamscope.iterdir()}
    assert entries == set(_shipped_folders())
    for name in entries:
        link = seamscope / name
        assert link.is_symlink(), (
            f"{link} is not a link: check the repository out with symlinks "
            "(git config core.symlinks true)"
        )
        assert os.readlink(link) == f"../{name}"


def test_every_package_has_py_typed() -> None:
    missing = [
        init.parent.relative_to(ROOT).as_posix()
        for folder in _shipped_folders()
        for init in (ROOT / folder).rglob("__init__.py")
        if not (init.parent / "py.typed").is_file()
    ]
    assert missing == []


@pytest.mark.slow
def test_sdist_and_wheel_ship_seamscope_only(tmp_path: Path) -> None:
    """Builds as a release does (the sdist, then the wheel from it) from a copy of the sources."""
    src = tmp_path / "src"
    src.mkdir()
    skip = shutil.ignore_patterns("__pycache__", "*.egg-info")
    for name in ("pyproject.toml", "README.md"):
        shutil.copy2(ROOT / name, src / name)
    for name in ("seamscope", *_shipped_folders()):
        shutil.copytree(ROOT / name, src / name, symlinks=True, ignore=skip)
    out = tmp_path / "dist"
    done = subprocess.run(
        [sys.executable, "-m", "build", "--no-isolation", "--outdir", str(out), str(src)],
        capture_output=True,
        text=True,
    )
    assert done.returncode == 0, done.stdout + done.stderr

    (sdist,) = out.glob("*.tar.gz")
    with tarfile.open(sdist) as tar:
        members = tar.getmembers()
    links = [m.name for m in members if m.issym() or m.islnk()]
    assert links == [], "the sdist must hold files, not links"
    top = members[0].name.split("/")[0]
    in_sdist = {m.name.removeprefix(top + "/") for m in members if m.isfile()}
    assert _expected_files() <= in_sdist

    (wheel,) = out.glob("*.whl")
    with zipfile.ZipFile(wheel) as whl:
        names = set(whl.namelist())
        (dist_info,) = {n.split("/")[0] for n in names if ".dist-info/" in n}
        top_level = whl.read(f"{dist_info}/top_level.txt").decode().split()
    assert top_level == ["seamscope"]
    assert {n for n in names if not n.startswith(dist_info + "/")} == _expected_files()


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
