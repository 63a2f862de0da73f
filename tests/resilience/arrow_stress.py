"""Stress, in a process of its own: the receiver writer's Arrow-scan INSERT and COMMIT beside the
classifier's refresh on a cursor of its own, a reader's queries on a third cursor (the live
TUI, `seamscope sql`) and a decoder thread that keeps the GIL busy (decode threads).

An Arrow-scan INSERT beside another cursor's query is a known deadlock class of duckdb-python
(duckdb#18225, duckdb-python#182). A hang here is caught by faulthandler: when any worker makes
no progress for --hang-s seconds, the timer (a C thread, so it fires even if the GIL is never
released) dumps every thread's stack and exits 1. Exit 0 prints one line of counts.

    python -m tests.resilience.arrow_stress STORE --seconds 60
"""

from __future__ import annotations

import argparse
import faulthandler
import itertools
import os
import queue
import sys
import threading
import time
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from pathlib import Path

import duckdb
import pyarrow as pa

from seamscope.classifiers.engine import classify
from seamscope.tracer.ingest import Batch, append_many_at
from seamscope.tracer.receiver.decode import decode_request
from seamscope.tracer.receiver.sql import SqlEndpoint
from seamscope.tracer.store import HARDENED_CONFIG, Store, input_table
from seamscope.tracer.usersql import SqlLimits, SqlRejected
from tests.otlp_sample import sample_request

WORKERS = ("decoder", "writer", "hook", "reader")


def append_relation_query(store: Store, batches: Sequence[Batch]) -> list[int]:
    """append_many_at's transaction with its span INSERT in the form duckdb#18225 reports to
    deadlock (a relation over the Arrow table, queried by an alias): a check that this stress
    can see that class of hang at all."""
    con = store.con
    con.execute("BEGIN")
    try:
        ids = sorted(
            int(r[0])
            for r in con.execute(
                "SELECT nextval('batch_seq') FROM range(?)", [len(batches)]
            ).fetchall()
        )
        now = datetime.now(UTC)
        parts = []
        for batch_id, batch in zip(ids, batches, strict=True):
            rows = batch.table.num_rows
            con.execute(
                "INSERT INTO batches (batch_id, batch_key, source, span_count, ingested_at) "
                "VALUES (?, ?, ?, ?, ?)",
                [batch_id, batch.key, batch.source, rows, now],
            )
            table = input_table(batch.table)
            parts.append(table.append_column("batch_id", pa.array([batch_id] * rows, pa.int64())))
        con.from_arrow(pa.concat_tables(parts)).query(
            "_stress_many", "INSERT INTO spans BY NAME SELECT * FROM _stress_many"
        )
        con.execute("COMMIT")
    except BaseException:
        con.execute("ROLLBACK")
        raise
    return [b.table.num_rows for b in batches]


class Stress:
    def __init__(self, store: Store, *, form: str, checkpoint_every: int) -> None:
        self.store = store
        self.form = form
        self.checkpoint_every = checkpoint_every
        self.stop = threading.Event()
        self.tables: queue.Queue[pa.Table] = queue.Queue(maxsize=16)
        self.progress = dict.fromkeys(WORKERS, time.monotonic())
        self.counts = dict.fromkeys(WORKERS, 0)
        self.stored = 0
        self.refused_checkpoints = 0
        self.failures: list[str] = []
        # The writer's CHECKPOINT waits for the refresh, as the receiver's does.
        self.hook_lock = threading.Lock()

    def tick(self, who: str) -> None:
        self.counts[who] += 1
        self.progress[who] = time.monotonic()

    def guarded(self, who: str, body: Callable[[], None]) -> None:
        try:
            body()
        except BaseException as exc:  # noqa: BLE001 - reported by the main thread
            self.failures.append(f"{who}: {type(exc).__name__}: {exc}")
            self.stop.set()

    def decoder(self) -> None:
        """Decodes OTLP protobuf in Python, as the receiver's decode threads do."""
        for seed in itertools.count(1):
            if self.stop.is_set():
                return
            body = sample_request(512, services=4, seed=seed).SerializeToString()
            _, table, _, _ = decode_request(body, "", False, None, 1 << 30, False)
            while not self.stop.is_set():
                try:
                    self.tables.put(table, timeout=0.1)
                    break
                except queue.Full:
                    continue
            self.tick("decoder")

    def writer(self) -> None:
        """The writer's pattern: several requests in one append_many_at (register, INSERT BY
        NAME, COMMIT), a CHECKPOINT now and then."""
        for n in itertools.count(1):
            if self.stop.is_set():
                return
            batches = []
            for i in range(1 + n % 4):
                try:
                    table = self.tables.get(timeout=0.5)
                except queue.Empty:
                    break
                batches.append(Batch(table, f"stress:{n}:{i}", "stress"))
            if not batches:
                continue
            if self.form == "register":
                counts, _ = append_many_at(self.store, batches)
            else:
                counts = append_relation_query(self.store, batches)
            self.stored += sum(counts)
            if n % self.checkpoint_every == 0:
                with self.hook_lock:
                    try:
                        self.store.con.execute("CHECKPOINT")
                    except duckdb.TransactionException:
                        # Another cursor's transaction (the reader's): the writer logs it
                        # and tries again later.
                        self.refused_checkpoints += 1
            self.tick("writer")

    def hook(self) -> None:
        """The classifier's refresh on a cursor of its own, again and again."""
        cursor = self.store.con.cursor()
        try:
            while not self.stop.is_set():
                with self.hook_lock:
                    classify(cursor)
                self.tick("hook")
        finally:
            cursor.close()

    def reader(self) -> None:
        """The live TUI's and `seamscope sql`'s reads, through the owner's SQL endpoint: a
        fresh cursor, a read-only transaction, an Arrow stream read in batches."""
        statements = [
            "SELECT count(*) AS n FROM spans",
            "SELECT service_name, count(*) AS n FROM spans GROUP BY ALL ORDER BY n DESC",
            "SELECT * FROM edges ORDER BY edge_id LIMIT 50",
            "SELECT * FROM span_labels LIMIT 200",
        ]
        endpoint = SqlEndpoint(self.store, SqlLimits(60.0, None, 2**62))
        try:
            for n in itertools.count():
                if self.stop.is_set():
                    return
                try:
                    endpoint.query(statements[n % len(statements)])
                except SqlRejected as exc:
                    if "does not exist" not in str(exc):
                        raise  # else before the classifier's first run made its tables
                self.tick("reader")
        finally:
            endpoint.close()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("store", type=Path)
    parser.add_argument("--seconds", type=float, default=60.0)
    parser.add_argument(
        "--commits",
        type=int,
        default=0,
        help="stop once this many commits, refreshes and reads are done (else after --seconds)",
    )
    parser.add_argument("--hang-s", type=float, default=60.0)
    parser.add_argument("--checkpoint-every", type=int, default=25)
    parser.add_argument(
        "--checkpoint-threshold", default="1GB", help="DuckDB's automatic checkpoint on commit"
    )
    parser.add_argument(
        "--form",
        choices=("register", "relation-query"),
        default="register",
        help="the span INSERT: the writer's (register, INSERT BY NAME) or duckdb#18225's",
    )
    args = parser.parse_args(argv)

    config: dict[str, str | bool | int] = {"checkpoint_threshold": args.checkpoint_threshold}
    config.update(HARDENED_CONFIG)
    store = Store.open(args.store, config=config)
    stress = Stress(store, form=args.form, checkpoint_every=args.checkpoint_every)
    threads = [
        threading.Thread(
            target=stress.guarded, args=(who, getattr(stress, who)), name=who, daemon=True
        )
        for who in WORKERS
    ]
    for t in threads:
        t.start()
    end = time.monotonic() + args.seconds
    while not stress.stop.is_set() and time.monotonic() < end:
        if args.commits and min(stress.counts[w] for w in ("writer", "hook", "reader")) >= (
            args.commits
        ):
            break
        # Re-armed while every worker moves: a worker stuck for hang_s lets the timer fire.
        stalest = min(stress.progress.values())
        faulthandler.dump_traceback_later(
            max(0.1, stalest + args.hang_s - time.monotonic()), exit=True
        )
        time.sleep(0.2)
    stress.stop.set()
    faulthandler.dump_traceback_later(args.hang_s, exit=True)
    for t in threads:
        t.join()
    faulthandler.cancel_dump_traceback_later()
    if stress.failures:
        print("\n".join(stress.failures), file=sys.stderr)
        return 2
    stored = store.con.execute("SELECT count(*) FROM spans").fetchall()[0][0]
    store.close()
    if stored != stress.stored:
        print(f"stored {stored} spans, committed {stress.stored}", file=sys.stderr)
        return 3
    counts = " ".join(f"{who}={stress.counts[who]}" for who in WORKERS)
    print(
        f"ok {counts} spans={stored} checkpoints_refused={stress.refused_checkpoints} "
        f"pid={os.getpid()}"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
