"""`seamscope drift`: the landscape file against what the spans show."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import click

from seamscope.classifiers.landscape import LandscapeError
from seamscope.classifiers.report import drift as compare
from seamscope.cli.edges import load, store_options
from seamscope.tracer.terminal import safe


@click.command()
@store_options
@click.option(
    "--format",
    "fmt",
    type=click.Choice(("text", "json")),
    default="text",
    show_default=True,
    help="text for people, json for scripts.",
)
def drift(db_path: Path | None, landscape_path: Path | None, fmt: str) -> None:
    """Declared edges never seen and observed edges never declared; exit 1 when any."""
    snapshot, landscape = load(db_path, landscape_path, say_inferred=False)
    if landscape is None:
        raise LandscapeError(
            "drift compares a landscape file with the store: pass --landscape "
            "or create ./seamscope.toml (see docs/landscape.md)"
        )
    missing, undeclared = compare(snapshot, landscape)
    if fmt == "json":
        click.echo(
            json.dumps(
                {
                    "declared_not_seen": missing,
                    "seen_not_declared": [u.as_json() for u in undeclared],
                },
                indent=2,
                default=str,
            )
        )
    else:
        click.echo(f"Declared but never seen: {len(missing)}")
        for m in missing:
            mech = f" [{m['mechanism']}]" if m["mechanism"] else ""
            click.echo(safe(f"  {landscape.path}:{m['line']}: {m['from']} -> {m['to']}{mech}"))
        click.echo(f"Seen but never declared: {len(undeclared)}")
        for u in undeclared:
            click.echo(safe(f"  {u.source} -> {u.target} [{u.edge.mechanism}, {u.edge.rule_id}]"))
    if missing or undeclared:
        sys.exit(1)
