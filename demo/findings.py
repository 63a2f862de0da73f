"""The table `seamscope demo --headless` prints: every edge of the run with the rule it got.

Components and vendors go by name, AWS resources by their node id (``dynamodb:table/Inventory``).
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from pathlib import Path

from rich.console import Console
from rich.table import Table
from rich.text import Text

from seamscope.classifiers.catalog import UNCLASSIFIED
from seamscope.classifiers.engine import refresh_store
from seamscope.classifiers.landscape import load_landscape
from seamscope.classifiers.read import Snapshot, snapshot
from seamscope.classifiers.results import Finding
from seamscope.tracer.access import open_reader


def classified_edges(db_path: Path, landscape_path: Path | None) -> list[Finding]:
    """Classifies the store (once no process owns it) and reads its edges, findings first."""
    landscape = load_landscape(landscape_path) if landscape_path is not None else None
    refresh_store(db_path, landscape)
    snap = open_reader(db_path).run(snapshot)
    rows = [snap.finding(e, name=_name_in(snap)) for e in snap.edges]
    return sorted(rows, key=lambda f: (f.edge.verdict.rank, f.edge.rule_id, f.source))


def _name_in(snap: Snapshot) -> Callable[[str], str]:
    def name(node_id: str) -> str:
        node = snap.nodes.get(node_id)
        return node_id if node is None or node.node_type == "resource" else node.name

    return name


def print_findings(
    db_path: Path, landscape_path: Path | None, console_type: type[Console] = Console
) -> list[Finding]:
    """The table on stdout, through a console of console_type (the command line's handles a
    reader that went away)."""
    edges = classified_edges(db_path, landscape_path)
    table = Table(title="Integrations of the demo fleet, findings first", title_justify="left")
    for column in ("rule", "verdict", "level", "from", "to", "mechanism", "via", "spans"):
        table.add_column(column, justify="right" if column == "spans" else "left")
    for f in edges:
        e = f.edge
        cells = (e.rule_id, e.verdict.value, e.level, f.source, f.target, e.mechanism, e.via or "")
        table.add_row(*(Text(c) for c in cells), str(e.span_count), style=e.verdict.style)
    console = console_type(width=None if sys.stdout.isatty() else 160)
    console.print(table)
    fired = sorted({f.edge.rule_id for f in edges if f.edge.rule_id != UNCLASSIFIED})
    findings = sum(1 for f in edges if f.edge.verdict.is_finding)
    console.print(
        f"{len(edges)} edges, {findings} findings; rules seen: {' '.join(fired) or 'none'}"
    )
    return edges
