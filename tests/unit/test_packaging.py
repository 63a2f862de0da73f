"""The distribution ships seamscope.* only, every module and data file; the TUI stays optional."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tarfile
import zipfile
from importlib import metadata
from pathlib import Path

import click
import pytest
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

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
            # node_modules: the demo's Node.js packages (make setup), never shipped.
            if {"__pycache__", "node_modules"} & set(path.parts) or not path.is_file():
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


def _pins() -> dict[str, str]:
    """constraints.txt's pins that apply to this interpreter and platform."""
    pins: dict[str, str] = {}
    for line in (ROOT / "constraints.txt").read_text().splitlines():
        if not line or line.startswith((" ", "#")):
            continue
        req = Requirement(line)
        if req.marker is None or req.marker.evaluate():
            (spec,) = req.specifier
            assert spec.operator == "==", line
            pins[canonicalize_name(req.name)] = spec.version
    return pins


def _dev_install() -> dict[str, str]:
    """Every distribution `pip install -e '.[dev]'` pulls in here, with its installed version."""
    found: dict[str, str] = {}
    seen = set()
    todo = [("seamscope", frozenset({"dev"}))]
    while todo:
        name, extras = todo.pop()
        if (name, extras) in seen:
            continue
        seen.add((name, extras))
        dist = metadata.distribution(name)
        found[name] = dist.version
        for text in dist.requires or []:
            req = Requirement(text)
            wanted = req.marker is None or any(
                req.marker.evaluate({"extra": extra}) for extra in extras | {""}
            )
            if wanted:
                todo.append((canonicalize_name(req.name), frozenset(req.extras)))
    del found["seamscope"]
    return found


def test_the_lock_pins_the_whole_dev_install() -> None:
    """A dependency added to pyproject.toml without `make lock` would install unpinned."""
    pins = _pins()
    unpinned = sorted(set(_dev_install()) - set(pins))
    assert unpinned == [], "run `make lock`: constraints.txt does not pin these"
    other = {n: (v, pins[n]) for n, v in _dev_install().items() if v != pins[n]}
    assert other == {}, "installed (left) is not the pinned version (right): run `make setup`"


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


# Runs the command line in-process, then says whether Textual was loaded.
_RUN_CLI = """
import sys
from seamscope.cli.main import main
try:
    main(sys.argv[1:])
except SystemExit:
    pass
print("textual loaded" if "textual" in sys.modules else "textual not loaded")
"""


@pytest.mark.parametrize("args", [["--help"], ["collect", "--help"], ["tui", "--help"]])
def test_help_never_loads_textual(args: list[str]) -> None:
    done = subprocess.run(
        [sys.executable, "-c", _RUN_CLI, *args], capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 0, done.stderr
    assert "Usage: seamscope" in done.stdout
    assert done.stdout.rstrip().endswith("textual not loaded"), done.stdout


def test_every_command_loads() -> None:
    from seamscope.cli.main import COMMANDS

    for name, (load, _) in COMMANDS.items():
        command = load()
        assert isinstance(command, click.Command) and command.name == name


def test_a_command_missing_its_extra_says_what_to_install(tmp_path: Path) -> None:
    code = (
        "import sys; sys.modules['textual'] = None\n"
        "from seamscope.cli.main import main\nmain(sys.argv[1:])"
    )
    done = subprocess.run(
        [sys.executable, "-c", code, "tui", "--db", str(tmp_path / "s.duckdb")],
        capture_output=True,
        text=True,
        timeout=60,
    )
    # One line, as every user error and the other extras' (`seamscope: the demo needs moto`).
    assert done.returncode == 2
    assert done.stderr.strip() == (
        "seamscope: tui needs textual, which the tui extra installs: "
        "pip install './seamscope[tui]' (the path of your seamscope clone)"
    )
