"""Each statement of an incremental batch, timed (issue 15; not part of the default run).

`python -m benchmarks.statements --db STORE [--batches 10] [--spans 10000] [--next-trace N]`
copies STORE (a classified generated store: `python -m benchmarks.generate` and a full
classification), classifies one batch of generated spans on the copy, then `--batches` more,
each through a connection whose `execute` and `sql` are timed (wall, and CPU of the process with
DuckDB's threads), and prints every statement of the usual batch with its median wall and CPU
times, how many of the batches ran it, and the rows it answered (a count for a write, the rows
fetched otherwise: 0 means it ran on nothing). The copy is deleted at the end.
"""

from __future__ import annotations

import argparse
import json
import shutil
import statistics
import tempfile
import time
from collections import defaultdict
from pathlib import Path
from typing import Any

import duckdb

from benchmarks.generate import generate, landscape_path
from seamscope.classifiers.engine import classify
from seamscope.classifiers.landscape import load_landscape


class _Result:
    """A statement's result, its rows fetched once (so the count can be told)."""

    def __init__(self, rows: list[tuple[Any, ...]]) -> None:
        self.rows = rows

    def fetchone(self) -> tuple[Any, ...] | None:
        return self.rows[0] if self.rows else None

    def fetchall(self) -> list[tuple[Any, ...]]:
        return self.rows


class TimedConnection:
    """A connection whose execute() is timed statement by statement (its other methods pass)."""

    def __init__(self, con: duckdb.DuckDBPyConnection, profile: Path | None = None) -> None:
        self._con = con
        self.log: list[tuple[str, float, float, int]] = []
        self.profile = profile

    def execute(self, sql: str, params: Any = None) -> Any:
        if self.profile is not None:
            out = self.profile / f"{len(self.log):03d}.json"
            self._con.execute(f"SET profiling_output = '{out}'")
        started, cpu = time.perf_counter(), time.process_time()
        result = self._con.execute(sql, params or [])
        try:
            rows = result.fetchall()
        except duckdb.InvalidInputException:
            rows = []
        wall = (time.perf_counter() - started) * 1000
        used = (time.process_time() - cpu) * 1000
        answered = int(rows[0][0]) if _is_write(sql) and rows and rows[0] else len(rows)
        self.log.append((sql, wall, used, answered))
        return _Result(rows)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._con, name)


def _is_write(sql: str) -> bool:
    first = sql.split(None, 1)[0].upper()
    return first in ("INSERT", "UPDATE", "DELETE", "CREATE") and "RETURNING" not in sql


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.statements")
    parser.add_argument("--db", type=Path, required=True)
    parser.add_argument("--batches", type=int, default=10)
    parser.add_argument("--spans", type=int, default=10_000)
    parser.add_argument("--next-trace", type=int, required=True, help="the store's next trace")
    parser.add_argument("--width", type=int, default=110)
    parser.add_argument(
        "--profile",
        type=Path,
        help="a folder: the last batch runs with DuckDB's JSON profile of each statement, "
        "summarised (planning, operators) after the times",
    )
    args = parser.parse_args(argv)
    landscape = load_landscape(landscape_path(args.db))
    with tempfile.TemporaryDirectory() as scratch:
        copy = Path(scratch) / args.db.name
        shutil.copy(args.db, copy)
        con = duckdb.connect(str(copy))
        try:
            next_trace = args.next_trace
            runs: dict[int, list[tuple[str, float, float, int]]] = {}
            totals = []
            for i in range(args.batches + 1):
                added = generate(con, args.spans, first_trace=next_trace, batch_spans=args.spans)
                next_trace = added.next_trace
                last = i == args.batches and args.profile is not None
                if last:
                    args.profile.mkdir(parents=True, exist_ok=True)
                    con.execute("PRAGMA enable_profiling = 'json'")
                timed = TimedConnection(con, args.profile if last else None)
                started = time.perf_counter()
                classify(timed, landscape)  # type: ignore[arg-type]
                if i:
                    totals.append((time.perf_counter() - started) * 1000)
                    runs[i] = timed.log
        finally:
            con.close()
    # A statement is known by its first words and how many such came before it in its batch
    # (batches that skip a statement keep the others in line).
    by: dict[tuple[str, int], list[tuple[str, float, float, int]]] = defaultdict(list)
    order: dict[tuple[str, int], float] = {}
    for log in runs.values():
        seen: dict[str, int] = defaultdict(int)
        for position, (sql, wall, cpu, rows) in enumerate(log):
            head = " ".join(sql.split())[:60]
            key = (head, seen[head])
            seen[head] += 1
            by[key].append((sql, wall, cpu, rows))
            order.setdefault(key, position + len(order) / 1000)
    counts = [len(log) for log in runs.values()]
    print(f"{args.batches} batches of {args.spans} spans: statements {counts}")
    print(f"classify() wall, median {statistics.median(totals):.1f} ms")
    print(f"{'#':>3} {'wall':>7} {'cpu':>7} {'runs':>4} {'rows':>13}  statement")
    total = 0.0
    for number, key in enumerate(sorted(by, key=order.__getitem__)):
        items = by[key]
        wall = statistics.median(w for _, w, _, _ in items)
        cpu = statistics.median(c for _, _, c, _ in items)
        found = sorted({r for _, _, _, r in items})
        total += wall
        shown = f"{found[0]}" if len(found) == 1 else f"{found[0]}-{found[-1]}"
        same = "" if all(s == items[0][0] for s, _, _, _ in items) else " (varies)"
        print(
            f"{number:>3} {wall:7.2f} {cpu:7.2f} {len(items):>4} {shown:>13}  "
            f"{' '.join(items[0][0].split())[: args.width]}{same}"
        )
    print(f"sum of medians {total:.1f} ms")
    if args.profile is not None:
        _profiles(args.profile, args.width)
    return 0


def _operators(node: dict[str, Any]) -> list[tuple[str, float]]:
    found = (
        []
        if node.get("type") in (None, "RESULT_COLLECTOR")
        else [(str(node.get("name")), float(node.get("timing") or 0))]
    )
    for child in node.get("children", []):
        found += _operators(child)
    return found


def _profiles(folder: Path, width: int) -> None:
    """The last batch's statements as DuckDB profiled them: bind, optimize, physical plan,
    the operators' time and count, and the whole statement (ms)."""
    print(f"{'#':>3} {'bind':>6} {'optim':>6} {'phys':>6} {'ops':>6} {'n':>3} {'total':>7}  sql")
    for path in sorted(folder.glob("*.json")):
        try:
            data = json.loads(path.read_text())
        except ValueError:
            continue
        ops = []
        for op in data.get("operator", []) if isinstance(data.get("operator"), list) else []:
            ops += _operators(op)
        query = data.get("query", {})
        print(
            f"{path.stem:>3} {data.get('planner', {}).get('binding_time', 0) * 1000:6.2f} "
            f"{data.get('optimizer', {}).get('total_time', 0) * 1000:6.2f} "
            f"{data.get('physical_planner', {}).get('total_time', 0) * 1000:6.2f} "
            f"{sum(t for _, t in ops) * 1000:6.2f} {len(ops):>3} "
            f"{query.get('total_time', 0) * 1000:7.2f}  "
            f"{' '.join(str(query.get('sql', '')).split())[: width - 40]}"
        )


if __name__ == "__main__":
    raise SystemExit(main())
