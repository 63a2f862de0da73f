"""The classifier on one long trace: a worker whose one root span loops over N receive and call
cycles (a worker script or a batch job), the worst case of the consumers' handling, whose
receives and calls of one trace and service are paired (issue asof17; not part of the default
run).

`python -m benchmarks.long_trace --cycles N [--batches K] [--out STORE]`

The spans are made with the unit tests' fleet (tests/unit/classifiers/fleet.py), stored in a
new store and classified: in full (`--batches 0`), or stored in K batches in the order an
exporter delivers them (as they end: the root last) and classified after each. Printed: the
wall and CPU time (the process's, DuckDB's threads included) of the classifications, the
process's peak resident memory before the first classification and at the end, and the rows of
classifier_handling. Run it with another checkout first on PYTHONPATH to time that code.
"""

from __future__ import annotations

import argparse
import resource
import tempfile
import time
from pathlib import Path

from seamscope.classifiers.engine import classify
from seamscope.tracer.store import Store
from tests.unit.classifiers.fleet import Fleet, Service

WORKER = Service("orders-worker", "orders", "worker")


def _fleet(cycles: int) -> Fleet:
    f = Fleet()
    root = f.root(WORKER, "loop")
    for i in range(cycles):
        f.receive(WORKER, f"q{i % 7}", parent=root)
        f.dynamodb(WORKER, "PutItem", f"T{i % 11}", parent=root)
    root.end_ns = f.tick(1.0)
    return f


def _peak_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--cycles", type=int, required=True)
    parser.add_argument("--batches", type=int, default=0, help="0: one full classification")
    parser.add_argument("--out", type=Path, default=None)
    args = parser.parse_args()
    fleet = _fleet(args.cycles)
    spans = fleet.in_end_order()
    with tempfile.TemporaryDirectory() as tmp:
        path = args.out or Path(tmp) / "long.duckdb"
        with Store.open(path) as store:
            con = store.con
            size = -(-len(spans) // max(args.batches, 1))
            parts = [spans[i : i + size] for i in range(0, len(spans), size)]
            wall = cpu = 0.0
            before = 0.0
            for i, part in enumerate(parts):
                store.append(fleet.table(part), batch_key=f"b{i}", source="bench")
                if i == 0:
                    before = _peak_mb()
                w, c = time.perf_counter(), time.process_time()
                classify(con, full=args.batches == 0)
                wall += time.perf_counter() - w
                cpu += time.process_time() - c
            ((handled,),) = con.execute("SELECT count(*) FROM classifier_handling").fetchall()
    print(
        f"cycles={args.cycles} batches={args.batches} wall_s={wall:.3f} cpu_s={cpu:.3f} "
        f"peak_mb_before={before:.0f} peak_mb_end={_peak_mb():.0f} handling_rows={handled}"
    )


if __name__ == "__main__":
    main()
