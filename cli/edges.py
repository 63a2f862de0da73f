"""`seamscope edges`: every integration edge with its rule, counts and latency."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import click

from seamscope.classifiers.landscape import Landscape, resolve_landscape
from seamscope.classifiers.report import Snapshot, read_classification
from seamscope.classifiers.results import Verdict
from seamscope.tracer.store import default_db_path

LEVELS = ("system", "component", "external")


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


def edge_record(snapshot: Snapshot, e: dict[str, Any]) -> dict[str, Any]:
    return {
        "edge_id": e["edge_id"],
        "from": snapshot.name(e["from_node"]),
        "to": snapshot.name(e["to_node"]),
        "from_node": e["from_node"],
        "to_node": e["to_node"],
        "from_system": e["from_system"],
        "to_system": e["to_system"],
        "mechanism": e["mechanism"],
        "direction": e["direction"],
        "via": e["via"],
        "level": e["level"],
        "rule_id": e["rule_id"],
        "verdict": e["verdict"],
        "reason": e["reason"],
        "operations": e["operations"],
        "span_count": e["span_count"],
        "error_count": e["error_count"],
        "p50_ms": e["p50_ms"],
        "p95_ms": e["p95_ms"],
        "first_seen": e["first_seen"].isoformat() if e["first_seen"] else None,
        "last_seen": e["last_seen"].isoformat() if e["last_seen"] else None,
        "sample_trace_id": e["sample_trace_id"],
    }


@click.command()
@store_options
@click.option("--level", type=click.Choice(LEVELS), default=None, help="Only edges of this level.")
@click.option("--format", "fmt", type=click.Choice(("table", "json")), default="table")
def edges(db_path: Path | None, landscape_path: Path | None, level: str | None, fmt: str) -> None:
    """List integration edges with the rule each keeps or breaks."""
    snapshot, _ = load(db_path, landscape_path)
    rows = [edge_record(snapshot, e) for e in snapshot.edges if level in (None, e["level"])]
    if fmt == "json":
        click.echo(json.dumps(rows, indent=2))
        return
    from rich.console import Console
    from rich.table import Table
    from rich.text import Text

    table = Table(title=f"{len(rows)} integration edges", title_justify="left")
    for name in (
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
    ):
        table.add_column(
            name,
            no_wrap=name not in ("from", "to"),
            justify="right" if name in ("spans", "errors", "p50 ms", "p95 ms") else "left",
        )
    for r in rows:
        # Text, not str: names come from the spans and rich would read them as markup.
        table.add_row(
            Text(r["from"]),
            Text(r["to"]),
            Text(r["mechanism"]),
            r["direction"],
            r["level"],
            r["rule_id"],
            Text(r["verdict"], style=Verdict(r["verdict"]).style),
            str(r["span_count"]),
            str(r["error_count"]),
            _ms(r["p50_ms"]),
            _ms(r["p95_ms"]),
            (r["first_seen"] or "")[:19],
            (r["last_seen"] or "")[:19],
        )
    console = Console()
    if not console.is_terminal:
        console = Console(width=240)
    console.print(table)
