"""Fresh classification results for commands: every node and edge (read.Snapshot).

Without an owner process the store is opened under a short lock and classified (incremental,
so cheap). While an owner holds the store (it keeps the aggregates fresh), the small aggregate
tables are read through the owner's read-only SQL endpoint and the upper layer is derived in
memory with the caller's landscape, so `--landscape` always means what it says.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import duckdb

from seamscope.classifiers.derive import derive
from seamscope.classifiers.engine import classify, discovered_routes, ensure_classifier_tables
from seamscope.classifiers.landscape import Landscape
from seamscope.classifiers.read import Snapshot, snapshot
from seamscope.classifiers.results import Finding
from seamscope.tracer.access import Reader, connection_query, open_reader
from seamscope.tracer.discover import Route
from seamscope.tracer.errors import SeamscopeError
from seamscope.tracer.owner import OwnerUnreachable
from seamscope.tracer.store import quiet, short_lock

# Aggregates the upper layer reads (classifier_spans only for jobs without traces of their own).
_AGGREGATES = (
    "classifier_groups",
    "classifier_hist",
    "classifier_hosts",
    "classifier_components",
    "classifier_handling",
    "classifier_runs",
    "classifier_jobs",
)


def read_classification(db_path: Path, landscape: Landscape | None) -> Snapshot:
    """Nodes and edges of the store at db_path, classified up to its newest spans."""
    reader = open_reader(db_path)
    if reader.owner is None:
        with short_lock(db_path, create=False) as store:
            classify(store.con, landscape)
            # A cursor of its own: the classifier may leave a result open on the connection.
            with store.con.cursor() as cursor:
                return snapshot(connection_query(cursor))
    return _derive_from_owner(db_path, reader, landscape or Landscape())


OWNER_WAIT_S = 300.0
"""How long a command waits for the store's owner to classify the spans it held when asked (a
full classification of 10M spans takes about 10 s; an owner just started on a large store
classifies it first)."""
_POLL_S = 0.2


def _classified_to(reader: Reader) -> tuple[int, int] | None:
    """(the owner's classification watermark, the newest batch it holds), None before its
    first classification has made the state."""
    try:
        table = reader.query(
            "SELECT (SELECT max(value)::BIGINT FROM classifier_state WHERE key = 'watermark'), "
            "(SELECT coalesce(max(batch_id), 0) FROM spans)"
        )
    except OwnerUnreachable:
        raise  # no answer will come: the message says which file and what to do
    except (SeamscopeError, duckdb.Error):
        return None
    row = table.to_pylist()[0] if table.num_rows else {}
    watermark, top = list(row.values()) if row else (None, None)
    if watermark is None or top is None:
        return None
    return int(watermark), int(top)


def _await_owner(db_path: Path, reader: Reader, wait_s: float) -> None:
    """Returns once the owner has classified every span it held when asked: an owner just
    started (or behind a burst) answered with what it had classified so far, which read as
    fewer edges, or none, with nothing to say so."""
    if reader.owner is not None and not reader.owner.classifies:
        raise SeamscopeError(
            f"{db_path}: the store's owner does not classify (seamscope collect --no-classify): "
            "stop it and run the command again, or start it without --no-classify"
        )
    deadline = time.monotonic() + wait_s
    state = _classified_to(reader)
    target = state[1] if state is not None else None
    while state is None or target is None or state[0] < target:
        if time.monotonic() >= deadline:
            done = f"up to batch {state[0]:,} of {target:,}" if state and target else "none yet"
            raise SeamscopeError(
                f"{db_path}: the store's owner has not classified the spans it holds "
                f"({done}) after {wait_s:g} s; try again when it has"
            )
        time.sleep(_POLL_S)
        state = _classified_to(reader)
        if target is None and state is not None:
            target = state[1]


def _derive_from_owner(
    db_path: Path, reader: Reader, landscape: Landscape, wait_s: float = OWNER_WAIT_S
) -> Snapshot:
    _await_owner(db_path, reader, wait_s)
    con = quiet(duckdb.connect(":memory:"))
    try:
        ensure_classifier_tables(con)
        for table in _AGGREGATES:
            try:
                data = reader.query(f"SELECT * FROM {table}")
            except OwnerUnreachable:
                raise  # it names the owner file and what to do; nothing says what is classified
            except (SeamscopeError, duckdb.Error) as exc:
                raise SeamscopeError(
                    f"{db_path}: the store's owner has not classified it yet ({exc})"
                ) from None
            con.register("_incoming", data)
            con.execute(f"INSERT INTO {table} SELECT * FROM _incoming")
            con.unregister("_incoming")
        # The account's wiring, as the classifier takes it: the landscape's routes and those
        # `seamscope discover aws` stored (none were taken here before, so a Lambda joined to
        # its queue by an event-source mapping was unresolved through an owner, and only there).
        routes = [*landscape.routes, *_owner_routes(reader, con)]
        derive(con, landscape, routes)
        with con.cursor() as cursor:
            return snapshot(connection_query(cursor))
    finally:
        con.close()


def _owner_routes(reader: Reader, con: duckdb.DuckDBPyConnection) -> list[Route]:
    """The routes `seamscope discover aws` stored in the owner's store, through the owner."""
    try:
        held = reader.query(
            "SELECT count(*) AS n FROM information_schema.tables WHERE table_name = 'aws_routes'"
        )
        if not held.num_rows or not held.column(0)[0].as_py():
            return []
        data = reader.query("SELECT * FROM aws_routes")
    except OwnerUnreachable:
        raise
    except (SeamscopeError, duckdb.Error) as exc:
        raise SeamscopeError(
            f"the store's owner did not give the stored AWS routes ({exc})"
        ) from None
    con.register("_incoming", data)
    con.execute("CREATE TABLE aws_routes AS SELECT * FROM _incoming")
    con.unregister("_incoming")
    return discovered_routes(con)


def _matches(snap: Snapshot, declared: str, node_id: str, system: str | None) -> bool:
    node = snap.nodes.get(node_id)
    return declared in (node_id, node.name if node else None, snap.name(node_id), system)


def drift(snap: Snapshot, landscape: Landscape) -> tuple[list[dict[str, Any]], list[Finding]]:
    """(declared edges never seen, observed edges never declared)."""
    missing: list[dict[str, Any]] = []
    seen: set[str] = set()
    for d in landscape.declared_edges:
        hits = [
            e
            for e in snap.edges
            if (d.mechanism is None or d.mechanism == e.mechanism)
            and (
                (
                    _matches(snap, d.source, e.from_node, e.from_system)
                    and _matches(snap, d.target, e.to_node, e.to_system)
                )
                # "consumer -> what it listens to" reads as naturally as the edge's direction.
                or (
                    e.direction == "listen"
                    and _matches(snap, d.source, e.to_node, e.to_system)
                    and _matches(snap, d.target, e.from_node, e.from_system)
                )
            )
        ]
        seen.update(e.edge_id for e in hits)
        if not hits:
            missing.append(
                {"from": d.source, "to": d.target, "mechanism": d.mechanism, "line": d.line}
            )
    undeclared = [snap.finding(e) for e in snap.edges if e.edge_id not in seen]
    return missing, undeclared
