"""Which edges a classification changed: a revision per edge, so a live reader fetches only those.

Each classification that changes any edge row (new, gone, relabelled, or new numbers) takes the
next revision (`classifier_state.revision`); `classifier_edge_revisions` holds, per edge id, a
digest of its row and the revision that last changed it. An edge that went keeps its row as a
tombstone (digest NULL), so a reader learns that it went. A rebuild empties the table, so every
edge comes again with the new revision (and a reader that misses a tombstone that way sees the
edge count disagree and reads everything).
"""

from __future__ import annotations

import duckdb

from seamscope.classifiers.results import Edge, columns

# Every column but the id: the digest changes whenever anything a reader shows may change.
_DIGEST = "hash({})".format(", ".join(c.name for c in columns(Edge)[1:]))


def stamp_revisions(
    con: duckdb.DuckDBPyConnection, revision: int, *, new_edges: bool = True
) -> bool:
    """Gives the edges that are new, changed or gone since the last call this revision (inside
    the classification's transaction); returns whether there were any. Two statements, the
    digests of every edge joined to the stored ones (a few ms for thousands of edges); the
    second, for edges without a revision, only where new_edges says edges may have come (the
    edges were derived again: else every edge has had its revision since the last call)."""
    changed = _count(
        con,
        f"""UPDATE classifier_edge_revisions AS r SET digest = d.digest, revision = $1
        FROM (
            SELECT o.edge_id, e.digest FROM classifier_edge_revisions AS o
            LEFT JOIN (SELECT edge_id, {_DIGEST} AS digest FROM edges) AS e USING (edge_id)
        ) AS d
        WHERE d.edge_id = r.edge_id AND r.digest IS DISTINCT FROM d.digest""",
        revision,
    )
    if not new_edges:
        return changed > 0
    changed += _count(
        con,
        f"""INSERT INTO classifier_edge_revisions
        SELECT edge_id, {_DIGEST}, $1 FROM edges AS e
        WHERE NOT EXISTS (
            SELECT 1 FROM classifier_edge_revisions AS r WHERE r.edge_id = e.edge_id
        )""",
        revision,
    )
    return changed > 0


def _count(con: duckdb.DuckDBPyConnection, sql: str, revision: int) -> int:
    """Runs a statement that writes rows; how many it wrote."""
    row = con.execute(sql, [revision]).fetchone()
    return int(row[0]) if row else 0
