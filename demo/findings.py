"""The table `seamscope demo --headless` prints: every edge of the run with the rule it got.

Components and vendors go by name, AWS resources by their node id (``dynamodb:table/Inventory``).
"""

from __future__ import annotations

import sys
from dataclasses import dataclass
from pathlib import Path

from rich.console import Console
from rich.table import Table
from rich.text import Text

from seamscope.classifiers.catalog import UNCLASSIFIED
from seamscope.classifiers.engine import refresh_store
from seamscope.classifiers.landscape import load_landscape
from seamscope.classifiers.results import Verdict
from seamscope.tracer.store import open_read_only

EDGES_SQL = """
SELECT e.rule_id, e.verdict, e.level,
       CASE WHEN f.node_type = 'resource' OR f.name IS NULL THEN e.from_node ELSE f.name END,
       CASE WHEN t.node_type = 'resource' OR t.name IS NULL THEN e.to_node ELSE t.name END,
       e.mechanism, coalesce(e.via, ''), e.span_count
FROM edges e
LEFT JOIN nodes f ON f.node_id = e.from_node
LEFT JOIN nodes t ON t.node_id = e.to_node
"""


@dataclass(frozen=True, slots=True)
class EdgeRow:
    rule_id: str
    verdict: Verdict
    level: str
    source: str
    target: str
    mechanism: str
    via: str
    spans: int


def classified_edges(db_path: Path, landscape_path: Path | None) -> list[EdgeRow]:
    """Classifies the store (once no process owns it) and reads its edges, findings first."""
    landscape = load_landscape(landscape_path) if landscape_path is not None else None
    refresh_store(db_path, landscape)
    con = open_read_only(db_path)
    try:
        rows = [
            EdgeRow(str(r), Verdict(v), str(lv), str(a), str(b), str(m), str(via), int(n))
            for r, v, lv, a, b, m, via, n in con.execute(EDGES_SQL).fetchall()
        ]
    finally:
        con.close()
    return sorted(rows, key=lambda e: (e.verdict.rank, e.rule_id, e.source))


def print_findings(db_path: Path, landscape_path: Path | None) -> list[EdgeRow]:
    edges = classified_edges(db_path, landscape_path)
    table = Table(title="Integrations of the demo fleet, findings first", title_justify="left")
    for column in ("rule", "verdict", "level", "from", "to", "mechanism", "via", "spans"):
        table.add_column(column, justify="right" if column == "spans" else "left")
    for e in edges:
        cells = (e.rule_id, e.verdict, e.level, e.source, e.target, e.mechanism, e.via)
        table.add_row(*(Text(c) for c in cells), str(e.spans), style=e.verdict.style)
    console = Console(width=None if sys.stdout.isatty() else 160)
    console.print(table)
    fired = sorted({e.rule_id for e in edges if e.rule_id != UNCLASSIFIED})
    findings = sum(1 for e in edges if e.verdict.is_finding)
    console.print(
        f"{len(edges)} edges, {findings} findings; rules seen: {' '.join(fired) or 'none'}"
    )
    return edges
