"""Fresh classification results for commands: nodes, edges and findings as plain data.

Without an owner process the store is opened under a short lock and classified (incremental,
so cheap). While an owner holds the store (it keeps the aggregates fresh), the small aggregate
tables are read through the owner's read-only SQL endpoint and the upper layer is derived in
memory with the caller's landscape, so `--landscape` always means what it says.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import duckdb

from seamscope.classifiers.catalog import RULES_BY_ID
from seamscope.classifiers.derive import derive
from seamscope.classifiers.engine import classify, ensure_classifier_tables
from seamscope.classifiers.landscape import Landscape
from seamscope.classifiers.results import FINDINGS, Verdict, verdict_rank_sql
from seamscope.tracer.access import Reader, open_reader
from seamscope.tracer.errors import SeamscopeError
from seamscope.tracer.store import short_lock

# Aggregates the upper layer reads (classifier_spans only for jobs without traces of their own).
_AGGREGATES = (
    "classifier_groups",
    "classifier_hist",
    "classifier_hosts",
    "classifier_components",
    "classifier_handling",
    "classifier_runs",
)


@dataclass(frozen=True, slots=True)
class Snapshot:
    nodes: dict[str, dict[str, Any]]
    edges: list[dict[str, Any]]

    def name(self, node_id: str) -> str:
        node = self.nodes.get(node_id)
        if node is None:
            return node_id
        if node["node_type"] == "component":
            return f"{node['system'] or '?'}/{node['name']}"
        return node_id

    def findings(self, *, strict: bool = True) -> list[dict[str, Any]]:
        verdicts = FINDINGS if strict else (Verdict.ANTI_PATTERN,)
        found = [finding(self, e) for e in self.edges if e["verdict"] in verdicts]
        return sorted(
            found, key=lambda f: (Verdict(f["verdict"]).rank, f["rule_id"], f["from"], f["to"])
        )


def finding(snapshot: Snapshot, edge: dict[str, Any]) -> dict[str, Any]:
    """The JSON shape of a finding (also used for baselines)."""
    rule = RULES_BY_ID.get(edge["rule_id"])
    return {
        "rule_id": edge["rule_id"],
        "name": rule.name if rule else edge["rule_id"],
        "verdict": edge["verdict"],
        "level": edge["level"],
        "from": snapshot.name(edge["from_node"]),
        "to": snapshot.name(edge["to_node"]),
        "from_system": edge["from_system"],
        "to_system": edge["to_system"],
        "mechanism": edge["mechanism"],
        "direction": edge["direction"],
        "via": edge["via"],
        "span_count": edge["span_count"],
        "error_count": edge["error_count"],
        "sample_trace_id": edge["sample_trace_id"],
        "reason": edge["reason"],
        "fix": rule.fix if rule else None,
        "edge_id": edge["edge_id"],
    }


def _rows(con: duckdb.DuckDBPyConnection, sql: str) -> list[dict[str, Any]]:
    cur = con.execute(sql)
    names = [d[0] for d in cur.description or ()]
    return [dict(zip(names, row, strict=True)) for row in cur.fetchall()]


def snapshot_of(con: duckdb.DuckDBPyConnection) -> Snapshot:
    nodes = {r["node_id"]: r for r in _rows(con, "SELECT * FROM nodes")}
    edges = _rows(
        con,
        f"SELECT * FROM edges ORDER BY {verdict_rank_sql()}, level, from_node, to_node, mechanism",
    )
    return Snapshot(nodes, edges)


def read_classification(db_path: Path, landscape: Landscape | None) -> Snapshot:
    """Nodes and edges of the store at db_path, classified up to its newest spans."""
    reader = open_reader(db_path)
    if reader.owner is None:
        with short_lock(db_path, create=False) as store:
            classify(store.con, landscape)
            return snapshot_of(store.con)
    return _derive_from_owner(db_path, reader, landscape or Landscape())


def _derive_from_owner(db_path: Path, reader: Reader, landscape: Landscape) -> Snapshot:
    con = duckdb.connect(":memory:")
    try:
        ensure_classifier_tables(con)
        for table in _AGGREGATES:
            try:
                data = reader.query(f"SELECT * FROM {table}")
            except (SeamscopeError, duckdb.Error) as exc:
                raise SeamscopeError(
                    f"{db_path}: the store's owner has not classified it yet ({exc})"
                ) from None
            con.register("_incoming", data)
            con.execute(f"INSERT INTO {table} SELECT * FROM _incoming")
            con.unregister("_incoming")
        derive(con, landscape)
        return snapshot_of(con)
    finally:
        con.close()


def _matches(snapshot: Snapshot, declared: str, node_id: str, system: str | None) -> bool:
    node = snapshot.nodes.get(node_id, {})
    return declared in (node_id, node.get("name"), snapshot.name(node_id), system)


def drift(
    snapshot: Snapshot, landscape: Landscape
) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """(declared edges never seen, observed edges never declared)."""
    missing: list[dict[str, Any]] = []
    seen: set[str] = set()
    for d in landscape.declared_edges:
        hits = [
            e
            for e in snapshot.edges
            if (d.mechanism is None or d.mechanism == e["mechanism"])
            and (
                (
                    _matches(snapshot, d.source, e["from_node"], e["from_system"])
                    and _matches(snapshot, d.target, e["to_node"], e["to_system"])
                )
                # "consumer -> what it listens to" reads as naturally as the edge's direction.
                or (
                    e["direction"] == "listen"
                    and _matches(snapshot, d.source, e["to_node"], e["to_system"])
                    and _matches(snapshot, d.target, e["from_node"], e["from_system"])
                )
            )
        ]
        seen.update(e["edge_id"] for e in hits)
        if not hits:
            missing.append(
                {"from": d.source, "to": d.target, "mechanism": d.mechanism, "line": d.line}
            )
    undeclared = [finding(snapshot, e) for e in snapshot.edges if e["edge_id"] not in seen]
    return missing, undeclared
