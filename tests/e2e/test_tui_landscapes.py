"""The real `seamscope tui` in a real terminal (tmux) at 100x30, 160x45 and 220x60, over the
demo's captured traces and over generated stores of 12 and 42 systems: what a person looks for.

The generated stores are small (a few thousand spans) so the tests stay quick; their systems and
integrations are those of `python -m benchmarks.generate --systems N`.
"""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from tests.ci import require_tool
from tests.e2e.terminal import (
    capture_styled,
    kill_terminal,
    seamscope_line,
    send_keys,
    send_text,
    start_terminal,
    wait_exit,
    wait_for,
    wait_until,
)

pytestmark = [pytest.mark.e2e]

ROOT = Path(__file__).resolve().parents[2]
SAMPLES = ROOT / "sample_traces"
SIZES = {"100x30": (100, 30), "160x45": (160, 45), "220x60": (220, 60)}
SGR = re.compile(r"\x1b\[[0-9;]*m")


@pytest.fixture(scope="module")
def generated(tmp_path_factory: pytest.TempPathFactory) -> dict[int, tuple[Path, Path]]:
    """Stores of 12 and 42 systems with their landscape files."""
    require_tool("tmux")  # before minutes of generating: skips, or fails under CI=true
    folder = tmp_path_factory.mktemp("generated")
    stores: dict[int, tuple[Path, Path]] = {}
    for systems in (12, 42):
        out = folder / f"g{systems}.duckdb"
        done = subprocess.run(
            [
                sys.executable,
                "-m",
                "benchmarks.generate",
                "--systems",
                str(systems),
                "--spans",
                str(systems * 150),
                "--out",
                str(out),
            ],
            capture_output=True,
            text=True,
            timeout=300,
            cwd=ROOT,
        )
        assert done.returncode == 0, done.stderr
        stores[systems] = (out, folder / f"g{systems}.landscape.toml")
    return stores


class Terminal:
    def __init__(self, session: str, exit_file: Path) -> None:
        self.session = session
        self.exit_file = exit_file

    def keys(self, *names: str) -> None:
        send_keys(self.session, *names)

    def wait(self, *texts: str) -> str:
        return wait_for(self.session, *texts)

    def quit(self) -> None:
        self.keys("q")
        assert wait_exit(self.exit_file) == "0"


OpenTerminal = Callable[[list[str], tuple[int, int], Path], Terminal]


@pytest.fixture
def terminal(tmp_path: Path) -> Iterator[OpenTerminal]:
    sessions: list[str] = []

    def open_terminal(args: list[str], size: tuple[int, int], cwd: Path) -> Terminal:
        session = f"seamscope-tui-{uuid.uuid4().hex[:8]}"
        exit_file = tmp_path / f"{session}.exit"
        command = seamscope_line("tui", *args, exit_file=exit_file, cwd=cwd)
        start_terminal(session, *size, command)
        sessions.append(session)
        return Terminal(session, exit_file)

    yield open_terminal
    for session in sessions:
        kill_terminal(session)


def _highlighted(session: str) -> list[str]:
    """The plain text of the lines drawn with the highlight's background (the cursor row)."""
    lines = capture_styled(session).splitlines()
    backgrounds: dict[str, int] = {}
    firsts: list[str | None] = []
    for line in lines:
        match = re.search(r"48;5;(\d+)m", line)
        first = match.group(1) if match else None
        firsts.append(first)
        if first:
            backgrounds[first] = backgrounds.get(first, 0) + 1
    rare = {bg for bg, n in backgrounds.items() if n <= 2}
    return [SGR.sub("", line) for line, first in zip(lines, firsts, strict=True) if first in rare]


def _centre(screen: str) -> str:
    """The name in the middle box of the focus view (the one with a double border)."""
    for line in screen.splitlines():
        match = re.search(r"║\s+([\w.-]+)\s+║", line)
        if match:
            return match.group(1)
    raise AssertionError(f"no centre box on screen:\n{screen}")


def _stores(generated: dict[int, tuple[Path, Path]]) -> dict[str, tuple[list[str], Path]]:
    return {
        "samples": ([str(SAMPLES)], ROOT),
        "12-systems": (["--db", str(generated[12][0]), "--landscape", str(generated[12][1])], ROOT),
        "42-systems": (["--db", str(generated[42][0]), "--landscape", str(generated[42][1])], ROOT),
    }


@pytest.mark.parametrize("size", sorted(SIZES))
@pytest.mark.parametrize("store", ["samples", "12-systems", "42-systems"])
def test_the_selected_system_is_visible_highlighted_and_enter_opens_it(
    terminal: OpenTerminal,
    generated: dict[int, tuple[Path, Path]],
    store: str,
    size: str,
) -> None:
    args, cwd = _stores(generated)[store]
    term = terminal(args, SIZES[size], cwd)
    screen = term.wait("System landscape", "╔", "╝")
    centre = _centre(screen)
    if SIZES[size][0] >= 120:  # the systems list is shown: its highlighted row is the centre
        assert any(
            re.search(rf"\b{re.escape(centre)}\b", line) for line in _highlighted(term.session)
        )
    # Both ends of an edge carry its rule: a row of the focus view names it twice.
    rows = [line for line in screen.splitlines() if "─▶" in line]
    assert rows, screen
    assert any(len(re.findall(r"[AP]\d{3}", row)) >= 2 for row in rows), screen
    term.keys("Enter")  # opens exactly the highlighted system
    term.wait(f"System {centre}")
    term.keys("Escape")
    term.wait("System landscape")
    term.keys("m")
    # The matrix and the line naming the pair under the cursor, and what Enter does there:
    # lists the pair's edges, or on the diagonal (the cursor starts on the centre's first cell
    # with edges, which may be its own) opens the system.
    screen = term.wait("edge", "· Enter ")
    more = re.search(r"cols 1-(\d+)/(\d+)▸", screen)
    if store == "42-systems" and SIZES[size][0] <= 100:
        assert more, screen  # not every column fits: the header says which are in view
    if more:  # the cursor walks to the last column, and the view follows it
        total = int(more.group(2))
        term.keys(*["l"] * total)
        term.wait(f"-{total}/{total}", "◂cols")
    term.quit()


def test_a_second_sql_query_succeeds(
    terminal: OpenTerminal, generated: dict[int, tuple[Path, Path]]
) -> None:
    args, cwd = _stores(generated)["12-systems"]
    term = terminal(args, (160, 45), cwd)
    term.wait("System landscape")
    term.keys("s")
    term.wait("Schema", "History", "runs the text")
    for query in ("select count(*) as edge_count from edges", "select 41 + 1 as answer"):
        term.keys("C-n")  # a new query in an empty editor
        wait_until(
            term.session, lambda screen: re.search(r"│ 1 +│", screen) is not None, "empty editor"
        )
        send_text(term.session, query)
        term.wait(query)
        term.keys("C-j")
        screen = term.wait("1 row · Ctrl+S", query.rsplit(" as ", 1)[1].split()[0])
    assert "answer" in screen and "42" in screen and "Error" not in screen
    term.keys("Escape")
    term.wait("System landscape")
    term.quit()


def test_a_changed_landscape_file_changes_the_label_on_screen(
    terminal: OpenTerminal, tmp_path: Path
) -> None:
    """./seamscope.toml is read like the other commands read it, and watched: saved with another
    owner for a table, the edge's label changes on the screen that is open."""
    work = tmp_path / "work"
    work.mkdir()
    shutil.copy(SAMPLES / "seamscope.toml", work / "seamscope.toml")
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "seamscope.cli",
            "ingest",
            str(SAMPLES / "demo-fleet.jsonl"),
            "--db",
            "s.duckdb",
        ],
        capture_output=True,
        text=True,
        cwd=work,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    term = terminal(["--db", "s.duckdb"], (160, 45), work)
    term.wait("System landscape", "landscape seamscope.toml")
    term.keys("p")
    screen = term.wait("Pattern catalog")
    before = _count(screen, "A301")
    text = (work / "seamscope.toml").read_text()
    # Inventory's table now belongs to billing: inventory's own writes become cross-system.
    (work / "seamscope.toml").write_text(
        text.replace('Inventory = "inventory"', 'Inventory = "billing"', 1)
    )
    wait_until(
        term.session, lambda screen: _count(screen, "A301") > before, f"more than {before} A301"
    )
    term.quit()


def _count(screen: str, rule: str) -> int:
    """The Edges figure of a rule's row in the patterns table."""
    for line in screen.splitlines():
        cells = line.split()
        if cells and cells[0] == rule:
            numbers = [c for c in cells if c.replace(",", "").isdigit()]
            return int(numbers[0].replace(",", "")) if numbers else 0
    raise AssertionError(f"no row for {rule}:\n{screen}")
