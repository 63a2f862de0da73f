"""Edge revisions: each classification that changes edges names exactly those (new, changed or
gone), so a live reader can fetch only them."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import duckdb

from seamscope.classifiers.engine import classify
from seamscope.classifiers.landscape import parse_landscape
from seamscope.tracer.store import Store
from tests.unit.classifiers.test_incremental import _fleet


def _edges(con: duckdb.DuckDBPyConnection) -> dict[str, tuple[Any, ...]]:
    return {str(r[0]): tuple(r) for r in con.execute("SELECT * FROM edges").fetchall()}


def _revision(con: duckdb.DuckDBPyConnection) -> int:
    row = con.execute("SELECT value FROM classifier_state WHERE key = 'revision'").fetchone()
    return int(row[0]) if row else 0


def _stamped(con: duckdb.DuckDBPyConnection, revision: int) -> dict[str, bool]:
    """The edges stamped with revision: id -> whether it is still there (False: a tombstone)."""
    return {
        str(edge_id): digest is not None
        for edge_id, digest in con.execute(
            "SELECT edge_id, digest FROM classifier_edge_revisions WHERE revision = ?", [revision]
        ).fetchall()
    }


def _diff(before: dict[str, tuple[Any, ...]], after: dict[str, tuple[Any, ...]]) -> set[str]:
    return {k for k in before.keys() | after.keys() if before.get(k) != after.get(k)}


def test_each_batch_stamps_exactly_the_edges_it_changed(tmp_path: Path) -> None:
    fleet = _fleet(by_instance=True)
    spans = fleet.in_end_order()
    size = -(-len(spans) // 6)
    seen_change = seen_same = 0
    with Store.open(tmp_path / "s.duckdb") as store:
        con = store.con
        before: dict[str, tuple[Any, ...]] = {}
        revision = 0
        for i in range(0, len(spans), size):
            store.append(fleet.table(spans[i : i + size]), batch_key=f"b{i}", source="test")
            classify(con)
            after = _edges(con)
            changed = _diff(before, after)
            now = _revision(con)
            if changed:
                seen_change += 1
                assert now == revision + 1
                assert _stamped(con, now) == {k: k in after for k in changed}
            else:
                seen_same += 1
                assert now == revision
            before, revision = after, now
        # Nothing new: nothing stamped.
        classify(con)
        assert _revision(con) == revision
        assert _edges(con) == before
    assert seen_change >= 3


def test_edges_that_go_leave_tombstones_and_a_rebuild_stamps_every_edge(tmp_path: Path) -> None:
    fleet = _fleet(by_instance=False)
    path = fleet.store(tmp_path / "s.duckdb")
    con = duckdb.connect(str(path))
    try:
        classify(con)
        first = _edges(con)
        one = _revision(con)
        assert _stamped(con, one) == dict.fromkeys(first, True)
        # A vendor declared for its host: the job's call goes to another node, another edge id.
        vendor = '[vendors.algolia]\nhosts = ["*.algolia.net"]\n'
        moved = parse_landscape(vendor, tmp_path / "l.toml")
        classify(con, moved)
        second = _edges(con)
        gone = first.keys() - second.keys()
        assert gone and second.keys() - first.keys()
        stamped = _stamped(con, one + 1)
        assert stamped == {k: k in second for k in _diff(first, second)}
        assert {k for k, there in stamped.items() if not there} == gone
        # Back again: a tombstone's edge comes back with the next revision.
        classify(con)
        assert _edges(con) == first
        assert _stamped(con, one + 2) == {k: k in first for k in _diff(second, first)}
        classify(con, full=True)
        assert _stamped(con, one + 3) == dict.fromkeys(first, True)
    finally:
        con.close()
