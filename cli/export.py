"""`seamscope export`: the observed landscape as a Mermaid or Structurizr diagram."""

from __future__ import annotations

from pathlib import Path

import click

from seamscope.classifiers.render import mermaid, structurizr
from seamscope.cli.edges import load, store_options


@click.command()
@store_options
@click.option(
    "--format",
    "fmt",
    type=click.Choice(("mermaid", "structurizr")),
    default="mermaid",
    show_default=True,
    help="mermaid: a flowchart (Markdown on GitHub and GitLab renders it); structurizr: "
    "Structurizr DSL (a workspace).",
)
@click.option(
    "--level",
    type=click.Choice(("system", "component")),
    default="system",
    show_default=True,
    help="system: the systems, vendors and the edges between them; component: the components "
    "and resources inside each system, and the edges between them.",
)
def export(db_path: Path | None, landscape_path: Path | None, fmt: str, level: str) -> None:
    """Export the observed landscape (systems, or components inside them) as a diagram, on
    stdout: redirect it to a file (seamscope export > landscape.mmd)."""
    snapshot, _ = load(db_path, landscape_path)
    click.echo(
        mermaid(snapshot, level) if fmt == "mermaid" else structurizr(snapshot, level), nl=False
    )
