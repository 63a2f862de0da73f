"""Two codes of the classifier on the same incremental batches, in one process (issue 15; not
part of the default run).

`python -m benchmarks.ab_batches --db STORE --next-trace N --base PACKAGE [--batches 20]
[--spans 10000] [--late] [--full RUNS] [--compare]`

PACKAGE is another checkout's package importable under its own name (a copy of its folders
with `seamscope.` rewritten to `PACKAGE.`), the code before. STORE is a classified generated
store (`python -m benchmarks.generate`, then a full classification) and N the trace its
generation stopped at. The store is copied twice; each code brings its copy up to date (a
rebuild where its CLASSIFIER_VERSION differs) and classifies one untimed batch; then the same
generated batches are stored in both copies and classified by each code in turn, the order
alternating batch by batch. Printed: the medians of wall and CPU time (the process's, DuckDB's
threads included) of each code and of the per-batch ratios (this code / the code before).
With --late, each batch's server spans are stored and classified one classification after its
clients' (as benchmarks.classify's late batches; the two classifications timed together).
With --full RUNS, no batch is stored: each code classifies its copy in full RUNS times, in turn
(the order alternating run by run), and the ratios are per run.
With --compare, the copies' edges, nodes, span_labels, label_changes (but their time) and
every classifier table present in both are compared (EXCEPT ALL both ways) at the end.
"""

from __future__ import annotations

import argparse
import importlib
import shutil
import statistics
import tempfile
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import duckdb

from benchmarks.generate import generate, landscape_path
from seamscope.classifiers.engine import classify
from seamscope.classifiers.landscape import load_landscape
from seamscope.tracer.store import Store

# Compared apart from the classifier's own tables (classifier_* present in both copies).
_COMPARED = ("edges", "nodes", "span_labels")


def _late_batch(con: duckdb.DuckDBPyConnection, scratch: duckdb.DuckDBPyConnection) -> list[Any]:
    """The scratch store's spans as two parts, clients first, servers after."""
    return [
        scratch.sql(f"SELECT * FROM spans WHERE (kind = 'SERVER') = {servers}").to_arrow_table()
        for servers in (False, True)
    ]


def _store_part(con: duckdb.DuckDBPyConnection, part: Any) -> None:
    ((batch,),) = con.execute("SELECT nextval('batch_seq')").fetchall()
    con.register("_ab_part", part)
    con.execute("INSERT INTO spans BY NAME SELECT * REPLACE (? AS batch_id) FROM _ab_part", [batch])
    con.unregister("_ab_part")
    con.execute(
        "INSERT INTO batches (batch_id, batch_key, source, span_count, ingested_at) "
        "VALUES (?, ?, 'generator', ?, now())",
        [batch, f"generated-late-{batch}", part.num_rows],
    )


def _clocked(fn: Callable[[], object]) -> tuple[float, float]:
    wall, cpu = time.perf_counter(), time.process_time()
    fn()
    return (time.perf_counter() - wall) * 1000, (time.process_time() - cpu) * 1000


def compare(a: duckdb.DuckDBPyConnection, path_b: Path) -> list[str]:
    """What differs between the store behind `a` and the one at path_b (attached to `a`)."""
    a.execute(f"ATTACH '{path_b}' AS other (READ_ONLY)")
    try:
        tables = {
            r[0]
            for r in a.execute(
                "SELECT table_name FROM duckdb_tables() WHERE database_name = current_database() "
                "AND table_name LIKE 'classifier%' AND NOT temporary"
            ).fetchall()
        } & {
            r[0]
            for r in a.execute(
                "SELECT table_name FROM duckdb_tables() WHERE database_name = 'other' "
                "AND table_name LIKE 'classifier%'"
            ).fetchall()
        }
        out = []
        for table in [*_COMPARED, "label_changes", *sorted(tables)]:
            columns = "* EXCLUDE (changed_at)" if table == "label_changes" else "*"
            if table == "classifier_state":
                columns = "* "
            here = f"SELECT {columns} FROM {table}"
            there = f"SELECT {columns} FROM other.{table}"
            if table == "classifier_state":
                here += " WHERE key NOT IN ('version', 'catalog', 'shape', 'counts')"
                there += " WHERE key NOT IN ('version', 'catalog', 'shape', 'counts')"
            row = a.execute(
                f"SELECT (SELECT count(*) FROM ({here} EXCEPT ALL {there})), "
                f"(SELECT count(*) FROM ({there} EXCEPT ALL {here})), "
                f"(SELECT count(*) FROM ({here}))"
            ).fetchone()
            assert row is not None
            out.append(f"{table}: {row[2]} rows, {row[0]} only before, {row[1]} only after")
        return out
    finally:
        a.execute("DETACH other")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.ab_batches")
    parser.add_argument("--db", type=Path, required=True)
    parser.add_argument("--next-trace", type=int, required=True)
    parser.add_argument("--base", required=True, help="the code before, as a package name")
    parser.add_argument("--batches", type=int, default=20)
    parser.add_argument("--spans", type=int, default=10_000)
    parser.add_argument("--late", action="store_true")
    parser.add_argument("--full", type=int, default=0, metavar="RUNS")
    parser.add_argument("--compare", action="store_true")
    args = parser.parse_args(argv)
    before = importlib.import_module(f"{args.base}.classifiers.engine").classify
    before_land = importlib.import_module(f"{args.base}.classifiers.landscape").load_landscape
    codes: dict[str, tuple[Callable[..., object], Any]] = {
        "before": (before, before_land(landscape_path(args.db))),
        "after": (classify, load_landscape(landscape_path(args.db))),
    }
    with tempfile.TemporaryDirectory(dir=args.db.parent) as scratch_dir:
        paths = {name: Path(scratch_dir) / f"{name}.duckdb" for name in codes}
        for path in paths.values():
            shutil.copy(args.db, path)
        cons = {name: duckdb.connect(str(path)) for name, path in paths.items()}
        store = Store.open(Path(scratch_dir) / "scratch.duckdb")
        scratch = store.con
        times: dict[str, list[tuple[float, float]]] = {name: [] for name in codes}
        print(f"start {datetime.now(UTC):%H:%M:%S} UTC, load {_load()}")
        try:
            for name, con in cons.items():
                fn, land = codes[name]
                fn(con, land)
            for i in range(args.full):
                for name in list(codes) if i % 2 == 0 else list(reversed(codes)):
                    con = cons[name]
                    fn, land = codes[name]
                    times[name].append(_clocked(lambda: fn(con, land, full=True)))  # noqa: B023
            next_trace = args.next_trace
            for i in range(0 if args.full else args.batches + 1):
                order = list(codes) if i % 2 == 0 else list(reversed(codes))
                if args.late:
                    scratch.execute("DELETE FROM spans")
                    added = generate(
                        scratch, args.spans, first_trace=next_trace, batch_spans=args.spans
                    )
                    parts = _late_batch(scratch, scratch)
                for name in order:
                    con = cons[name]
                    fn, land = codes[name]
                    if args.late:
                        took = (0.0, 0.0)
                        for part in parts:
                            _store_part(con, part)
                            one = _clocked(lambda: fn(con, land))  # noqa: B023
                            took = (took[0] + one[0], took[1] + one[1])
                    else:
                        added = generate(
                            con, args.spans, first_trace=next_trace, batch_spans=args.spans
                        )
                        took = _clocked(lambda: fn(con, land))  # noqa: B023
                    if i:  # the first batch of each code is not timed
                        times[name].append(took)
                next_trace = added.next_trace
        finally:
            store.close()
            for con in cons.values():
                con.close()
        print(f"end {datetime.now(UTC):%H:%M:%S} UTC, load {_load()}")
        per = "run" if args.full else "batch"
        for k, what in ((0, "wall"), (1, "CPU")):
            a = [t[k] for t in times["before"]]
            b = [t[k] for t in times["after"]]
            ratios = [y / x for x, y in zip(a, b, strict=True)]
            print(
                f"{what}: before {statistics.median(a):.1f} ms, after {statistics.median(b):.1f}"
                f" ms (medians of {len(a)}); per-{per} ratio median {statistics.median(ratios):.3f}"
                f" (quartiles {_quartiles(ratios)})"
            )
        if args.compare:
            con = duckdb.connect(str(paths["before"]))
            try:
                for line in compare(con, paths["after"]):
                    print(line)
            finally:
                con.close()
    return 0


def _quartiles(values: list[float]) -> str:
    q = statistics.quantiles(values, n=4)
    return f"{q[0]:.3f}-{q[2]:.3f}"


def _load() -> str:
    with open("/proc/loadavg") as f:
        return " ".join(f.read().split()[:3])


if __name__ == "__main__":
    raise SystemExit(main())
