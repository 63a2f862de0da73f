"""The CLI's printed tables on a big store: `seamscope edges` and `seamscope sql` with many rows.

The store is one of its own, 1M spans over 40 systems, classified: about 1,170 edges, as many as
on 10M spans. (Until 2026-12-05 a full run reused the classify benchmark's 10M store, which the
TUI benchmark's live ingest had grown to about 9,900 edges by then, so a full run and an
`--only cli` run printed tables of different lengths.) Each table is printed in process, in turn
with its peer, the printing before (a Rich table of one row per record, as cli/edges.py and
cli/sql.py built it), piped (the old edges table at 240 columns, the old sql table at Rich's 80)
and as into a terminal of 160 columns (Rich's FORCE_COLOR and COLUMNS: colours on). The whole
command, `seamscope edges` piped, runs as a process of its own.
"""

from __future__ import annotations

import contextlib
import io
import os
import subprocess
import sys
import time
from collections.abc import Callable, Sequence
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING

from benchmarks.common import Context, Result, median_of
from benchmarks.generate import generate_classified_store, landscape_path

if TYPE_CHECKING:
    from rich.text import Text

NAME = "cli"
TERMINAL = {"FORCE_COLOR": "1", "TTY_COMPATIBLE": "1", "COLUMNS": "160"}
SQL = (
    "SELECT trace_id, service_name, name, kind, start_time FROM spans ORDER BY start_time LIMIT {n}"
)


def _store(ctx: Context) -> Path:
    path = ctx.workdir / "cli.duckdb"
    generate_classified_store(path, ctx.size(1_000_000, 3_000), log=ctx.log)
    return path


def _old(
    headers: Sequence[str | Text],
    rows: Sequence[Sequence[str | Text]],
    right: set[int],
    wrap: set[int],
    piped_width: int | None,
) -> None:
    """The table as the CLI printed it before: one Rich row per record, every cell a Text."""
    from rich.console import Console
    from rich.table import Table
    from rich.text import Text

    table = Table(title_justify="left")
    for i, header in enumerate(headers):
        table.add_column(header, no_wrap=i not in wrap, justify="right" if i in right else "left")
    for row in rows:
        table.add_row(*(Text(cell) if isinstance(cell, str) else cell for cell in row))
    console = Console()
    if not console.is_terminal and piped_width:
        console = Console(width=piped_width)
    console.print(table)


def _printed(fn: Callable[[], object], *, terminal: bool) -> Callable[[], None]:
    """fn run with its output into a buffer: piped, or as into a terminal of 160 columns."""

    def go() -> None:
        saved = {k: os.environ.get(k) for k in TERMINAL}
        if terminal:
            os.environ.update(TERMINAL)
        try:
            with contextlib.redirect_stdout(io.StringIO()):
                fn()
        finally:
            for key, value in saved.items():
                if value is None:
                    os.environ.pop(key, None)
                else:
                    os.environ[key] = value

    return go


def _paired(
    ours: Callable[[], None], theirs: Callable[[], None], repeats: int
) -> tuple[list[float], list[float]]:
    """Milliseconds of ours and theirs, run in turn (bounded: the old rendering takes seconds)."""
    mine: list[float] = []
    peer: list[float] = []
    spent = 0.0
    while len(mine) < repeats and (not mine or spent < 60):
        for fn, runs in ((ours, mine), (theirs, peer)):
            begin = time.perf_counter()
            fn()
            runs.append((time.perf_counter() - begin) * 1000)
            spent += runs[-1] / 1000
    return mine, peer


def run(ctx: Context) -> list[Result]:
    import duckdb

    from seamscope.cli.edges import edge_cells, load
    from seamscope.cli.sql import table_cells
    from seamscope.cli.table import print_table

    path = _store(ctx)
    snapshot, _ = load(path, landscape_path(path))
    edge_columns, edges = edge_cells(snapshot, list(snapshot.edges))
    con = duckdb.connect(str(path), read_only=True)
    try:
        result = con.sql(SQL.format(n=ctx.size(5_000, 200))).to_arrow_table()
    finally:
        con.close()
    sql_columns, sql_rows = table_cells(result)

    results: list[Result] = []
    cases = (
        ("seamscope edges", edge_columns, edges, "integration edges", 240, {0, 1}),
        (
            f"seamscope sql ({result.num_columns} columns)",
            sql_columns,
            sql_rows,
            None,
            None,
            set(range(result.num_columns)),
        ),
    )
    # wrap: the columns the old tables let Rich wrap (edges' from and to, every sql column).
    for what, columns, rows, title, piped_width, wrap in cases:
        headers = [c.header for c in columns]
        right = {i for i, c in enumerate(columns) if c.right}
        for terminal in (False, True):
            ours, theirs = _paired(
                _printed(partial(print_table, columns, rows, title=title), terminal=terminal),
                _printed(partial(_old, headers, rows, right, wrap, piped_width), terminal=terminal),
                ctx.repeats,
            )
            mine, peer = median_of(ours), median_of(theirs)
            where = "a 160-column terminal" if terminal else "a pipe"
            results.append(
                Result(
                    NAME,
                    f"{what} table printed into {where}, {len(rows):,} rows",
                    mine,
                    "ms",
                    ours,
                    ratio=f"{mine / peer:.2f}x one Rich row per record ({peer:,.0f} ms)",
                    note=f"in process, in turn with the peer, {len(ours)} runs each",
                )
            )
    wall: list[float] = []
    for _ in range(max(1, ctx.repeats)):
        begin = time.perf_counter()
        subprocess.run(
            [
                sys.executable,
                "-m",
                "seamscope.cli",
                "edges",
                "--db",
                str(path),
                "--landscape",
                str(landscape_path(path)),
            ],
            check=True,
            stdout=subprocess.DEVNULL,
        )
        wall.append((time.perf_counter() - begin) * 1000)
    results.append(
        Result(
            NAME,
            f"seamscope edges piped, whole command, {len(edges):,} edges",
            median_of(wall),
            "ms",
            wall,
            note="a process of its own: imports, reading the classification, the table",
        )
    )
    return results
