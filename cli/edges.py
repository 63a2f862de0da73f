"""`seamscope edges`: every integration edge with its rule, counts and latency."""

from __future__ import annotations

import json
import os
import stat
from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click
import duckdb

from seamscope.classifiers.landscape import (
    DEFAULT_LANDSCAPE,
    Landscape,
    parse_landscape,
    resolve_landscape,
)
from seamscope.classifiers.read import Snapshot
from seamscope.classifiers.report import read_classification
from seamscope.tracer.access import open_reader
from seamscope.tracer.errors import SeamscopeError
from seamscope.tracer.store import default_db_path
from seamscope.tracer.terminal import plural, safe

if TYPE_CHECKING:
    from seamscope.classifiers.results import Edge
    from seamscope.cli.table import Cell, Column

LEVELS = ("system", "component", "external", "unknown")
_COLUMNS = (
    "from",
    "to",
    "mechanism",
    "dir",
    "level",
    "rule",
    "verdict",
    "spans",
    "errors",
    "p50 ms",
    "p95 ms",
    "first seen",
    "last seen",
)
_NUMBERS = ("spans", "errors", "p50 ms", "p95 ms")
# In a narrow terminal these go first, in this order: what the edge is (from, to, mechanism,
# rule, verdict) and how much and how slow it is (spans, p95, last seen) stay.
_HIDE_ORDER = {"first seen": 1, "level": 2, "dir": 3, "p50 ms": 4, "errors": 5, "last seen": 6}


def store_options(command: Callable[..., Any]) -> Callable[..., Any]:
    """--db and --landscape, shared by the classification commands."""
    command = click.option(
        "--landscape",
        "landscape_path",
        type=click.Path(path_type=Path, dir_okay=False),
        default=None,
        help="Landscape file (default: ./seamscope.toml when it exists).",
    )(command)
    return click.option(
        "--db",
        "db_path",
        type=click.Path(path_type=Path, dir_okay=False),
        default=None,
        help="The store (default: $SEAMSCOPE_DB or ./seamscope.duckdb).",
    )(command)


NO_LANDSCAPE = (
    "seamscope: no landscape file (--landscape FILE or ./seamscope.toml): systems, roles and "
    "vendors are inferred from the spans"
)


def load(
    db_path: Path | None, landscape_path: Path | None, *, say_inferred: bool = True
) -> tuple[Snapshot, Landscape | None]:
    """The store classified with the landscape named, else ./seamscope.toml, else none; with
    none, one line on stderr says so (say_inferred; see tell_inferred)."""
    if landscape_path is None:
        check_found_landscape(Path.cwd() / DEFAULT_LANDSCAPE)
    landscape = resolve_landscape(landscape_path)
    snapshot = read_classification(db_path or default_db_path(), landscape)
    if say_inferred:
        tell_inferred(db_path, landscape)
    return snapshot, landscape


def check_found_landscape(found: Path) -> None:
    """A landscape file taken without being named (./seamscope.toml) must be the user's own:
    one that another user planted in a folder both may write in (/tmp, a shared checkout),
    or a link to another user's file, would decide systems, owners and exceptions, and with
    them what `check` lets pass. SeamscopeError names it; --landscape takes it knowingly."""
    try:
        link = found.lstat()
        target = found.stat()
    except OSError:
        return  # none here (or a dangling link: no file, as before)
    me = os.geteuid()
    for what, st in (("it", link), ("the file it links to", target)):
        if st.st_uid not in (me, 0):
            problem = f"{what} belongs to another user (uid {st.st_uid})"
        elif stat.S_ISREG(st.st_mode) and st.st_mode & stat.S_IWOTH:
            problem = f"{what} may be written by every user"
        else:
            continue
        raise SeamscopeError(
            safe(
                f"{found}: {problem}, so it is not taken as the landscape without being "
                f"named: pass --landscape {found.name} to use it, or remove it"
            )
        )


def tell_inferred(db_path: Path | None, landscape: Landscape | None) -> None:
    """With no landscape, one line on stderr says that systems, roles and vendors were inferred,
    as the TUI does: a verdict that a landscape file would change (an excepted webapp's, say)
    must not change without a word, in CI least of all. stdout stays the table's or JSON's."""
    if landscape is None:
        click.echo(_no_landscape(db_path or default_db_path()), err=True)
    elif landscape.path is not None and _declares_nothing(landscape):
        click.echo(
            safe(
                f"seamscope: {landscape.path} declares nothing (empty, or only comments): "
                "systems, roles and vendors are inferred from the spans"
            ),
            err=True,
        )


def _declares_nothing(landscape: Landscape) -> bool:
    """Whether the file said nothing that classification reads: an empty file left to fill
    later reads as declared, and its verdicts then changed without a word."""
    empty = parse_landscape("", Path(landscape.path or DEFAULT_LANDSCAPE))
    return landscape.fingerprint() == empty.fingerprint() and not landscape.declared_edges


def _no_landscape(db_path: Path) -> str:
    """The line that says nothing was read from a landscape file. A store's owner (a running
    `seamscope collect`, a live TUI) may classify with a file of its own; this command derives
    its verdicts from the owner's aggregates with its own landscape (none), so they may differ
    from the owner's, and the line names the owner's file."""
    reader = open_reader(db_path)
    if reader.owner is None:
        return NO_LANDSCAPE
    try:
        table = reader.query(
            "SELECT value FROM classifier_state WHERE key = 'landscape_path' LIMIT 1"
        )
    except (SeamscopeError, duckdb.Error):
        return NO_LANDSCAPE  # the owner's file cannot be told: the line says what is sure
    owners = [str(v) for v in table.column(0).to_pylist() if v] if table.num_rows else []
    if not owners:
        return NO_LANDSCAPE
    return safe(
        f"{NO_LANDSCAPE}; the store's owner classifies with {owners[0]} "
        f"(--landscape {owners[0]} gives its verdicts)"
    )


def _ms(value: float | None) -> str:
    return "" if value is None else f"{value:.1f}"


def _time(value: datetime | None) -> str:
    return value.isoformat()[:19] if value else ""


@click.command()
@store_options
@click.option(
    "--level",
    type=click.Choice(LEVELS),
    default=None,
    help="Only edges of this level (default: all).",
)
@click.option(
    "--format",
    "fmt",
    type=click.Choice(("table", "json")),
    default="table",
    show_default=True,
    help="table for people, json for scripts.",
)
def edges(db_path: Path | None, landscape_path: Path | None, level: str | None, fmt: str) -> None:
    """List integration edges with the rule each keeps or breaks."""
    snapshot, _ = load(db_path, landscape_path)
    rows = [e for e in snapshot.edges if level in (None, e.level)]
    if fmt == "json":
        click.echo(json.dumps([snapshot.edge_json(e) for e in rows], indent=2))
        return
    from seamscope.cli.table import print_table

    print_table(*edge_cells(snapshot, rows), title=plural(len(rows), "integration edge"))


def edge_cells(snapshot: Snapshot, rows: list[Edge]) -> tuple[list[Column], list[list[Cell]]]:
    """The edges' columns and cells as the table shows them."""
    from rich.text import Text

    from seamscope.cli.table import Column

    columns = [
        Column(name, right=name in _NUMBERS, hide_order=_HIDE_ORDER.get(name)) for name in _COLUMNS
    ]
    # Names come from the spans: escaped, and printed as they are (never read as Rich markup).
    cells: list[list[Cell]] = [
        [
            safe(snapshot.name(e.from_node)),
            safe(snapshot.name(e.to_node)),
            safe(e.mechanism),
            safe(e.direction),
            safe(e.level),
            safe(e.rule_id),
            Text(f"{e.verdict.glyph} {e.verdict.value}", style=e.verdict.style),
            str(e.span_count),
            str(e.error_count),
            _ms(e.p50_ms),
            _ms(e.p95_ms),
            _time(e.first_seen),
            _time(e.last_seen),
        ]
        for e in rows
    ]
    return columns, cells
