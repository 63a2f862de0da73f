"""Service and system names that would drive a terminal come out escaped: on every TUI screen
(the focus view, the matrix, a system's screen and its titles, an edge, a trace) and in what the
commands print (diagrams, findings as text, JUnit, SARIF). A name is whatever a traced service
puts in its resource (`service.name`, `service.namespace`), so it is input from outside like a
span name. The screens draw through the real app over a store the real classifier labelled;
every visible widget's lines and the window's titles are searched for raw control characters.
The commands run as a user runs them."""

from __future__ import annotations

import json
import subprocess
import xml.etree.ElementTree as ET
from pathlib import Path

import duckdb
import pytest
from textual.pilot import Pilot
from textual.widget import Widget

from seamscope.tui.app import SeamscopeApp
from seamscope.tui.data import LocalStore
from tests.e2e.test_collect import SEAMSCOPE
from tests.functional import sample
from tests.functional.conftest import settle

pytestmark = pytest.mark.anyio

HOSTILE = "\x1b[2J\x1b]0;owned\x07\x9b31m\u202e"
RAW = ("\x1b", "\x07", "\x9b", "\u202e")


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


@pytest.fixture
def hostile_store(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    for key, resource in sample.RESOURCES.items():
        hostile = dict(resource)
        hostile["service.name"] = resource["service.name"] + HOSTILE
        hostile["service.namespace"] = resource["service.namespace"] + HOSTILE
        monkeypatch.setitem(sample.RESOURCES, key, hostile)
    return sample.build_store(tmp_path / "hostile.duckdb", manual=False)


def _raw_on_screen(app: SeamscopeApp) -> dict[str, str]:
    found: dict[str, str] = {}
    for widget in app.screen.walk_children(Widget, with_self=True):
        if not widget.display or not widget.size.area:
            continue
        for strip in widget.render_lines(widget.size.region):
            text = strip.text
            if any(c in text for c in RAW):
                found.setdefault(f"{type(widget).__name__}#{widget.id}", repr(text.strip()))
    for title in (app.title, app.sub_title, app.screen.title, app.screen.sub_title):
        if title and any(c in title for c in RAW):
            found["title"] = repr(title)
    return found


async def _look(pilot: Pilot[None], where: str, seen: dict[str, dict[str, str]]) -> None:
    await settle(pilot)
    leaks = _raw_on_screen(pilot.app)  # type: ignore[arg-type]
    if leaks:
        seen[where] = leaks


async def test_hostile_names_are_escaped_on_every_screen(hostile_store: Path) -> None:
    with duckdb.connect(str(hostile_store), read_only=True) as con:
        system, edge_id, trace_id = con.execute(
            "SELECT e.from_system, e.edge_id, l.trace_id FROM edges e "
            "JOIN span_labels l USING (edge_id) WHERE e.from_system LIKE 'orders%' "
            "ORDER BY e.edge_id LIMIT 1"
        ).fetchone() or (None, None, None)
    assert system is not None and "\x1b" in system, "the classifier kept the hostile name"
    app = SeamscopeApp(lambda: LocalStore(hostile_store, classify=False), refresh_interval=0)
    seen: dict[str, dict[str, str]] = {}
    async with app.run_test(size=(160, 45)) as pilot:
        await _look(pilot, "landscape", seen)
        await pilot.press("m")
        await _look(pilot, "matrix", seen)
        await pilot.press("m")
        app.open_system(system)
        await _look(pilot, "system", seen)
        app.open_edge(edge_id)
        await _look(pilot, "edge", seen)
        app.open_trace(trace_id, edge_id=edge_id, span_id=None)
        await _look(pilot, "trace", seen)
        await pilot.press("n")
        await _look(pilot, "findings", seen)
    assert {k: sorted(v) for k, v in seen.items()} == {}


@pytest.mark.parametrize(
    "args",
    [
        ["export"],
        ["export", "--level", "component"],
        ["export", "--format", "structurizr"],
        ["export", "--format", "structurizr", "--level", "component"],
        ["check"],
        ["check", "--format", "junit"],
        ["check", "--format", "sarif"],
        ["edges"],
    ],
    ids=" ".join,
)
def test_commands_print_hostile_names_escaped(hostile_store: Path, args: list[str]) -> None:
    done = subprocess.run(
        [*SEAMSCOPE, *args, "--db", str(hostile_store)],
        capture_output=True,
        timeout=120,
        stdin=subprocess.DEVNULL,
    )
    assert done.returncode in (0, 1), done.stderr
    out = done.stdout.decode()
    assert "orders" in out
    assert [c for c in RAW if c in out] == []
    assert "\\u001b" in out if "sarif" in args else "\\u001b]0;owned\\u0007" in out
    if "junit" in args:
        ET.fromstring(out)  # XML 1.0 has no place for a raw control character
    if "sarif" in args:
        json.loads(out)


def test_drift_prints_hostile_names_escaped(hostile_store: Path, tmp_path: Path) -> None:
    landscape = tmp_path / "seamscope.toml"
    landscape.write_text('[[edges]]\nfrom = "nobody"\nto = "nothing"\n')
    done = subprocess.run(
        [*SEAMSCOPE, "drift", "--db", str(hostile_store), "--landscape", str(landscape)],
        capture_output=True,
        timeout=120,
        stdin=subprocess.DEVNULL,
    )
    assert done.returncode == 1, done.stderr
    out = done.stdout.decode()
    assert "Seen but never declared" in out and "orders" in out
    assert [c for c in RAW if c in out] == []
    assert "\\u001b]0;owned\\u0007" in out
