"""`seamscope edges`: every integration edge with its rule, counts and latency."""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from seamscope.classifiers.landscape import Landscape, resolve_landscape
from seamscope.classifiers.read import Snapshot
from seamscope.classifiers.report import read_classification
from seamscope.cli.words import plural
from seamscope.tracer.store import default_db_path
from seamscope.tracer.terminal import safe

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


def load(db_path: Path | None, landscape_path: Path | None) -> tuple[Snapshot, Landscape | None]:
    landscape = resolve_landscape(landscape_path)
    return read_classification(db_path or default_db_path(), landscape), landscape


def _ms(value: float | None) -> str:
    return "" if value is None else f"{value:.1f}"


def _time(value: datetime | None) -> str:
    return value.isoformat()[:19] if value else ""


@click.command()
@store_options
@click.option("--level", type=click.Choice(LEVELS), default=None, help="Only edges of this level.")
@click.option("--format", "fmt", type=click.Choice(("table", "json")), default="table")
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
