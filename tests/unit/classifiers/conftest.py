"""Classify a fleet's spans in a real DuckDB file and look edges up by their ends."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import duckdb
import pytest

from seamscope.classifiers.engine import classify
from seamscope.classifiers.landscape import Landscape, parse_landscape
from tests.unit.classifiers.fleet import Fleet


@dataclass
class Classified:
    con: duckdb.DuckDBPyConnection

    def edges(self) -> list[dict[str, Any]]:
        cur = self.con.execute("SELECT * FROM edges ORDER BY edge_id")
        names = [d[0] for d in cur.description]
        return [dict(zip(names, row, strict=True)) for row in cur.fetchall()]

    def edge(self, source: str, target: str, mechanism: str | None = None) -> dict[str, Any]:
        """The one edge whose from/to node ids end with these names."""
        found = [
            e
            for e in self.edges()
            if e["from_node"].endswith(source)
            and e["to_node"].endswith(target)
            and (mechanism is None or e["mechanism"] == mechanism)
        ]
        assert len(found) == 1, (
            source,
            target,
            [(e["from_node"], e["to_node"]) for e in self.edges()],
        )
        return found[0]

    def rule(self, source: str, target: str, mechanism: str | None = None) -> str:
        return str(self.edge(source, target, mechanism)["rule_id"])

    def node(self, node_id: str) -> dict[str, Any]:
        cur = self.con.execute("SELECT * FROM nodes WHERE node_id = ?", [node_id])
        names = [d[0] for d in cur.description]
        row = cur.fetchone()
        assert row is not None, node_id
        return dict(zip(names, row, strict=True))

    def labels(self) -> list[tuple[Any, ...]]:
        return self.con.execute(
            "SELECT trace_id, span_id, edge_id, rule_id, verdict FROM span_labels ORDER BY ALL"
        ).fetchall()


ClassifyFn = Callable[..., Classified]


@pytest.fixture
def classified(tmp_path: Path) -> Iterator[ClassifyFn]:
    opened: list[duckdb.DuckDBPyConnection] = []

    def run(fleet: Fleet, landscape: str | None = None, name: str = "store.duckdb") -> Classified:
        path = fleet.store(tmp_path / name)
        con = duckdb.connect(str(path))
        opened.append(con)
        land = parse_landscape(landscape, tmp_path / "seamscope.toml") if landscape else None
        classify(con, land or Landscape())
        return Classified(con)

    yield run
    for con in opened:
        con.close()
