"""The tables `seamscope edges` and `seamscope sql` print, as a user runs them: real processes over
a generated store of some hundred edges, piped and in a terminal (Rich's FORCE_COLOR and COLUMNS
stand for one: colours on, that many columns)."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from benchmarks.generate import generate_classified_store, landscape_path

pytestmark = pytest.mark.e2e

ANSI = re.compile(r"\x1b\[[0-9;]*m")
VERTICAL = re.compile("[│┃]")
TERMINAL = {"FORCE_COLOR": "1", "TTY_COMPATIBLE": "1"}
NUMBERS = ["spans", "errors", "p50 ms", "p95 ms"]


def seamscope(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    environ = {k: v for k, v in os.environ.items() if k not in (*TERMINAL, "COLUMNS", "NO_COLOR")}
    return subprocess.run(
        [sys.executable, "-m", "seamscope.cli", *args],
        capture_output=True,
        text=True,
        timeout=120,
        env={**environ, **(env or {})},
        stdin=subprocess.DEVNULL,
    )


@pytest.fixture(scope="module")
def store(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("tables") / "big.duckdb"
    generate_classified_store(path, 3_000)
    return path


def _body(out: str) -> list[list[str]]:
    """The cells of each body line of a printed table (between the header rule and the bottom)."""
    lines = out.splitlines()
    start = next(i for i, line in enumerate(lines) if line.startswith("┡"))
    end = next(i for i, line in enumerate(lines) if line.startswith("└"))
    return [[c.strip() for c in VERTICAL.split(line)[1:-1]] for line in lines[start + 1 : end]]


def _header(out: str) -> list[str]:
    line = next(line for line in out.splitlines() if line.startswith("┃"))
    return [c.strip() for c in VERTICAL.split(line)[1:-1]]


def _header_lines(out: str) -> list[str]:
    """Each column's header, its lines (a header wrapped in a narrow column) put together."""
    lines = [line for line in out.splitlines() if line.startswith("┃")]
    return [" ".join(parts) for parts in zip(*(_header(line) for line in lines), strict=True)]


def _edges_json(store: Path) -> list[dict[str, object]]:
    done = seamscope(
        "edges", "--db", str(store), "--landscape", str(landscape_path(store)), "--format", "json"
    )
    assert done.returncode == 0, done.stderr
    edges: list[dict[str, object]] = json.loads(done.stdout)
    return edges


def _cells(edge: dict[str, object]) -> list[str]:
    """An edge's cells as the table shows them, from its JSON (the verdict without its glyph)."""

    def ms(v: object) -> str:
        return "" if v is None else f"{v:.1f}"

    return [
        str(edge["from"]),
        str(edge["to"]),
        str(edge["mechanism"]),
        str(edge["direction"]),
        str(edge["level"]),
        str(edge["rule_id"]),
        str(edge["verdict"]),
        str(edge["span_count"]),
        str(edge["error_count"]),
        ms(edge["p50_ms"]),
        ms(edge["p95_ms"]),
        str(edge["first_seen"] or "")[:19],
        str(edge["last_seen"] or "")[:19],
    ]


def test_edges_piped_prints_every_edge_on_one_plain_line(store: Path) -> None:
    done = seamscope("edges", "--db", str(store), "--landscape", str(landscape_path(store)))
    assert done.returncode == 0, done.stderr
    edges = _edges_json(store)
    assert len(edges) > 300
    assert done.stdout.splitlines()[0].strip() == f"{len(edges)} integration edges"
    assert _header(done.stdout) == [
        "from", "to", "mechanism", "dir", "level", "rule", "verdict", "spans", "errors",
        "p50 ms", "p95 ms", "first seen", "last seen",
    ]  # fmt: skip
    assert "\x1b" not in done.stdout
    rows = _body(done.stdout)
    assert len(rows) == len(edges)
    for row, edge in zip(rows, edges, strict=True):
        expected = _cells(edge)
        assert row[6].split(" ", 1)[1] == expected[6]  # the verdict after its glyph
        assert row[:6] + row[7:] == expected[:6] + expected[7:]
    widths = {len(line) for line in done.stdout.splitlines()[1:]}
    assert len(widths) == 1  # every line of the table as wide as the table, no wider


def _in_terminal(store: Path, columns: int) -> str:
    """`seamscope edges` as printed into a terminal of that many columns, its colours taken out."""
    done = seamscope(
        "edges", "--db", str(store), "--landscape", str(landscape_path(store)),
        env={**TERMINAL, "COLUMNS": str(columns)},
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert "\x1b[" in done.stdout  # colours: the verdicts
    plain = ANSI.sub("", done.stdout)
    assert max(len(line) for line in plain.splitlines()) <= columns
    return plain


COLUMNS = [
    "from", "to", "mechanism", "dir", "level", "rule", "verdict", "spans", "errors",
    "p50 ms", "p95 ms", "first seen", "last seen",
]  # fmt: skip
HIDE_ORDER = ["first seen", "level", "dir", "p50 ms", "errors", "last seen"]


def _hidden(plain: str) -> list[str]:
    """The columns the note under the table says were hidden (none without a note)."""
    lines = plain.splitlines()
    start = next((i for i, line in enumerate(lines) if line.startswith("Hidden at ")), None)
    if start is None:
        return []
    note = " ".join(line.strip() for line in lines[start:])
    found = re.match(r"Hidden at (\d+) columns: (.*?) \(a wider terminal or piped output", note)
    assert found, note
    return found[2].split(", ")


@pytest.mark.parametrize("columns", [100, 160])
def test_edges_in_a_terminal_fit_its_width_and_lose_nothing(store: Path, columns: int) -> None:
    """Every column shown is folded, nothing cut; a terminal too narrow for all of them at
    ten cells hides the least needed first (first seen, level, dir, ...) and says which."""
    plain = _in_terminal(store, columns)
    rows = _body(plain)
    edges = _edges_json(store)
    assert len(rows) > len(edges)  # names folded over more lines than one
    headers = [" ".join(h.split()) for h in _header_lines(plain)]
    hidden = _hidden(plain)
    assert sorted(headers + hidden, key=COLUMNS.index) == COLUMNS
    assert hidden == [c for c in COLUMNS if c in HIDE_ORDER[: len(hidden)]]
    assert (len(hidden) > 0) == (columns == 100)
    # Column by column, the pieces over all lines put together are the cells put together:
    # folded, nothing cut.
    for shown, name in enumerate(headers):
        i = COLUMNS.index(name)
        pieces = "".join(row[shown] for row in rows).replace(" ", "")
        if name == "verdict":  # the glyphs left out
            pieces = re.sub("[^a-z-]", "", pieces)
        assert pieces == "".join(_cells(e)[i] for e in edges).replace(" ", ""), name


@pytest.mark.parametrize(
    ("columns", "whole"),
    [
        (100, ["rule", "verdict", "spans", "p95 ms"]),
        (160, ["mechanism", "dir", "level", "rule", "verdict", *NUMBERS]),
    ],
)
def test_edges_in_a_narrow_terminal_keep_short_columns_whole_and_give_names_the_rest(
    store: Path, columns: int, whole: list[str]
) -> None:
    """Counts, latencies and labels keep their width (each cell on one line, the header
    wrapped at its space); from and to take the room the other columns leave, so they are
    wider than any other column that folds (not all cut down to one level), or at 100
    columns, where the columns left at ten cells fill the width, as wide."""
    plain = _in_terminal(store, columns)
    rows = _body(plain)
    edges = _edges_json(store)
    headers = [" ".join(h.split()) for h in _header_lines(plain)]
    rule = next(line for line in plain.splitlines() if line.startswith("┡"))
    widths = [len(part) - 2 for part in rule[1:-1].split("╇")]
    for name in whole:
        i = headers.index(name)
        shown = [row[i] for row in rows if row[i]]
        if name == "verdict":
            shown = [piece.split(" ", 1)[1] for piece in shown]  # the glyph left out
        assert shown == [c for c in (_cells(e)[COLUMNS.index(name)] for e in edges) if c], name
    at = headers.index("rule")
    rule_ids = {row[at] for row in rows if re.fullmatch("[AP][0-9]{3}", row[at])}
    assert rule_ids == {
        e["rule_id"] for e in edges if re.fullmatch("[AP][0-9]{3}", str(e["rule_id"]))
    }
    folded = [w for i, w in enumerate(widths) if headers[i] not in ("from", "to", *whole)]
    if columns == 100:
        assert min(widths[0], widths[1]) >= max(folded) >= 10, widths
    else:
        assert min(widths[0], widths[1]) > max(folded), widths


def test_sql_prints_many_rows_values_as_given(store: Path) -> None:
    query = "SELECT span_id, name, duration_ns FROM spans ORDER BY span_id LIMIT 700"
    table = seamscope("sql", "--db", str(store), query)
    csv_out = seamscope("sql", "--db", str(store), "--csv", query)
    assert table.returncode == 0 and csv_out.returncode == 0, table.stderr + csv_out.stderr
    assert _header(table.stdout) == ["span_id", "name", "duration_ns"]
    rows = _body(table.stdout)
    assert [",".join(r) for r in rows] == csv_out.stdout.splitlines()[1:]
    assert table.stdout.splitlines()[-1] == "700 rows"


def test_sql_cells_of_many_lines_columns_of_one_name_and_markup(store: Path) -> None:
    done = seamscope(
        "sql", "--db", str(store),
        "SELECT 'first' || chr(10) || 'second' AS a, 1 AS a, "
        "'[bold]x[/] ' || chr(27) || '[2J' AS m",
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert _header(done.stdout) == ["a", "a", "m"]
    assert _body(done.stdout) == [["first", "1", "[bold]x[/] \\u001b[2J"], ["second", "", ""]]
    assert "\x1b" not in done.stdout


def test_an_empty_result_prints_its_header(store: Path) -> None:
    done = seamscope("sql", "--db", str(store), "SELECT name FROM spans WHERE false")
    assert done.returncode == 0, done.stderr
    assert _header(done.stdout) == ["name"] and _body(done.stdout) == []
    assert done.stdout.splitlines()[-1] == "0 rows"


def test_the_row_count_under_a_narrow_table_stays_on_one_line(store: Path) -> None:
    """Piped, the console is as wide as the table: under `SELECT 1` (five cells) the count
    folded into "1 " and "row", which a script reading the last line missed."""
    done = seamscope("sql", "--db", str(store), "SELECT 1 AS n")
    assert done.returncode == 0, done.stderr
    assert _body(done.stdout) == [["1"]]
    assert done.stdout.splitlines()[-1] == "1 row"


def test_the_row_count_says_rows_from_two(store: Path) -> None:
    done = seamscope("sql", "--db", str(store), "SELECT * FROM range(2)")
    assert done.returncode == 0, done.stderr
    assert done.stdout.splitlines()[-1] == "2 rows"
