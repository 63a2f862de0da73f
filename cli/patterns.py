"""`seamscope patterns [ID]`: the catalog of integration patterns and anti-patterns."""

from __future__ import annotations

import click

from seamscope.classifiers.catalog import RULES, RULES_BY_ID
from seamscope.tracer.errors import SeamscopeError


@click.command()
@click.argument("rule_id", required=False)
def patterns(rule_id: str | None) -> None:
    """Print the pattern catalog, or one rule in full."""
    if rule_id is None:
        for rule in RULES:
            click.echo(
                f"{rule.id}  {rule.name:<32} {rule.level:<9} {rule.verdict:<12} {rule.summary}"
            )
        return
    found = RULES_BY_ID.get(rule_id.upper())
    if found is None:
        raise SeamscopeError(f"no rule {rule_id!r} (known: {', '.join(RULES_BY_ID)})")
    rule = found
    click.echo(f"{rule.id} {rule.name} ({rule.verdict}, {rule.level} level)\n")
    click.echo(f"What it detects: {rule.summary}\n")
    click.echo(f"Why: {rule.rationale} (guideline: {rule.section})\n")
    click.echo(f"Example: {rule.example}\n")
    click.echo(f"Do instead: {rule.fix}")
    if rule.note:
        click.echo(f"\nReading of the guideline: {rule.note}")
