"""`seamscope export`: the observed landscape as a Mermaid or Structurizr diagram."""

from __future__ import annotations

from pathlib import Path

import click

from seamscope.classifiers.render import mermaid, structurizr
from seamscope.cli.edges import load, store_options


@click.command()
@store_options
@click.option("--format", "fmt", type=click.Choice(("mermaid", "structurizr")), default="mermaid")
@click.option("--level", type=click.Choice(("system", "component")), default="system")
def export(db_path: Path | None, landscape_path: Path | None, fmt: str, level: str) -> None:
    """Export the observed landscape (systems, or components inside them) as a diagram."""
    snapshot, _ = load(db_path, landscape_path)
    click.echo(
        mermaid(snapshot, level) if fmt == "mermaid" else structurizr(snapshot, level), nl=False
    )
