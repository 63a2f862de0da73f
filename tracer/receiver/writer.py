"""The one thread that writes the store while the receiver owns it.

It coalesces queued requests into one transaction (one batches row per request, so each stays
idempotent by its batch key) and answers a request only after its spans are committed: nothing
acknowledged is ever lost. A commit is triggered by size or time: the requests that arrived
while the last commit ran are taken together, and while more are still being decoded (the
server says so with `expect`), the writer waits for them, up to COALESCE_SPANS spans or
`group_wait_s`, so that requests posted at once share one INSERT and one COMMIT.

Between commits it owes the store some upkeep, in a fixed order (the `Owed` states): the
after-commit hook (a classifier refresh) is asked for at most once per interval under load and
as soon as the queue is quiet, then a checkpoint follows, and an idle writer drains what
exporters spooled while nobody owned the store. The hook runs in a thread of its own on a
cursor of its own (`HookRunner`), so that commits go on while it works.
"""

from __future__ import annotations

import contextlib
import enum
import logging
import queue
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from typing import TextIO

import duckdb

from seamscope.tracer.ingest import Batch, append_many_at
from seamscope.tracer.receiver.stats import ReceiverStats
from seamscope.tracer.spool import drain_spool
from seamscope.tracer.store import Store

_log = logging.getLogger(__name__)

AfterCommit = Callable[[duckdb.DuckDBPyConnection], None]
COALESCE_SPANS = 100_000
"""Spans taken from the queue into one transaction, at most (one request may exceed it)."""
GROUP_WAIT_S = 0.05
"""Longest a commit waits for requests still being decoded."""
SHORT_OF_MEMORY = "classifying the new spans needs more memory than the store may use"
"""How the log says the after-commit hook ran out of the store's memory_limit (`tui --collect`
looks for it in its receiver's log)."""


class Owed(enum.Enum):
    """What the writer owes the store once the queue goes quiet. Each state also owes what the
    next one does: a commit the hook has not seen is not checkpointed yet either."""

    HOOK = "hook"
    """Commits the after-commit hook has not seen: ask for a run (then a checkpoint is owed)."""
    CHECKPOINT = "checkpoint"
    """Commits not checkpointed yet."""
    NOTHING = "nothing"
    """Idle: drain the spool when its interval has passed."""


_QUIET_S = {Owed.HOOK: 0.2, Owed.CHECKPOINT: 2.0, Owed.NOTHING: 1.0}
"""How long the queue must stay empty before the writer does what it owes."""


@dataclass(slots=True)
class Work:
    """One request's spans, the callback that answers it, and its tee line."""

    batch: Batch
    done: Callable[[int | BaseException], None]
    tee_line: str | None


@dataclass(slots=True)
class Task:
    """Other writes than spans (routes, the S3 ledger): run on the store after the spans queued
    with them are committed; done gets what run returned, or the exception it raised."""

    run: Callable[[Store], int]
    done: Callable[[int | BaseException], None]


class HookRunner:
    """Runs the after-commit hook in a thread of its own, on a cursor of its own, whenever asked
    (asks while it runs make one more run): a classifier refresh takes hundreds of milliseconds,
    and the writer commits meanwhile. DuckDB's optimistic concurrency keeps both apart (the
    hook writes only its own tables and reads a snapshot); tests/resilience/arrow_stress.py
    runs exactly this next to the writer's Arrow-scan INSERTs (duckdb#18225)."""

    def __init__(self, hook: AfterCommit, con: duckdb.DuckDBPyConnection) -> None:
        self._hook = hook
        self._cursor = con.cursor()
        self._cond = threading.Condition()
        self._asked = False
        self._running = False
        self._held = False
        self._closing = False
        self._ended_at = float("-inf")
        self._short_of_memory = False  # an out-of-memory failure told, until a run works
        self._thread = threading.Thread(target=self._loop, name="seamscope-hook", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def ask(self) -> None:
        """A run soon: now if idle, else right after the one under way."""
        with self._cond:
            self._asked = True
            self._cond.notify_all()

    def idle_for(self) -> float:
        """Seconds since the last run ended; 0 while one runs or is asked for."""
        with self._cond:
            if self._running or self._asked:
                return 0.0
            return time.monotonic() - self._ended_at

    @contextlib.contextmanager
    def held(self) -> Iterator[None]:
        """No run meanwhile (a CHECKPOINT cannot run beside the hook's writes): waits for the
        run under way and one asked for, and starts none until the block ends."""
        with self._cond:
            while (self._running or self._asked) and self._thread.is_alive():
                self._cond.wait()
            self._held = True
        try:
            yield
        finally:
            with self._cond:
                self._held = False
                self._cond.notify_all()

    def stop(self) -> None:
        """Runs the hook a last time if it was asked for, ends the thread, closes the cursor."""
        with self._cond:
            self._closing = True
            self._cond.notify_all()
        if self._thread.is_alive():
            self._thread.join()
        with contextlib.suppress(duckdb.Error):
            self._cursor.close()

    def _loop(self) -> None:
        while True:
            with self._cond:
                while self._held or not (self._asked or self._closing):
                    self._cond.wait()
                if not self._asked:
                    return
                self._asked = False
                self._running = True
            try:
                self._hook(self._cursor)
                self._short_of_memory = False
            except duckdb.OutOfMemoryException as exc:
                # The store's memory limit (a setting, not a bug): one line, not again until a
                # run has succeeded; the next commit tries again.
                if not self._short_of_memory:
                    said = str(exc).strip().splitlines()[0] if str(exc).strip() else "no detail"
                    _log.warning(
                        "%s (%s); they are stored and will be classified once it fits: raise "
                        "--memory-limit",
                        SHORT_OF_MEMORY,
                        said,
                    )
                    self._short_of_memory = True
            except Exception:  # noqa: BLE001 - a hook must not stop the receiver
                _log.exception("after_commit hook failed")
            finally:
                with self._cond:
                    self._running = False
                    self._ended_at = time.monotonic()
                    self._cond.notify_all()


_STOP = object()
_NUDGE = object()


class Writer:
    """Owns the store's connection for writing; every write goes through its queue."""

    def __init__(
        self,
        store: Store,
        stats: ReceiverStats,
        *,
        after_commit: AfterCommit | None,
        after_commit_interval_s: float,
        drain_interval_s: float,
        tee: TextIO | None,
        group_wait_s: float = GROUP_WAIT_S,
    ) -> None:
        self.store = store
        self.group_wait_s = group_wait_s
        self.stats = stats
        self.after_commit = after_commit
        self.after_commit_interval_s = after_commit_interval_s
        self.drain_interval_s = drain_interval_s
        self.tee = tee
        self._queue: queue.Queue[Work | Task | object] = queue.Queue()
        # Requests announced by `expect` and not submitted (or given up) yet.
        self._coming = 0
        self._coming_lock = threading.Lock()
        self._thread: threading.Thread | None = None
        self._hook = None if after_commit is None else HookRunner(after_commit, store.con)
        self._closed = False
        self._watermark = 0
        self._watermark = self._stored_watermark()

    @property
    def watermark(self) -> int:
        """The latest committed batch_id (0 for an empty store)."""
        return self._watermark

    def _stored_watermark(self) -> int:
        row = self.store.con.execute("SELECT coalesce(max(batch_id), 0) FROM batches").fetchall()
        return int(row[0][0]) if row else self._watermark

    def start(self) -> None:
        if self._hook is not None:
            # Spans stored before this run (or drained from the spool) get classified too.
            self._hook.ask()
            self._hook.start()
        self._thread = threading.Thread(target=self._loop, name="seamscope-writer", daemon=True)
        self._thread.start()

    def submit(self, work: Work | Task, *, expected: bool = False) -> None:
        """Queues work; work.done is called from the writer thread once it is committed.
        expected: the work was announced by `expect`."""
        if expected:
            self.unexpect()
        self._queue.put(work)

    def expect(self) -> None:
        """A request is being decoded: a commit may wait for it (see GROUP_WAIT_S). Every call
        is settled by submit(expected=True) or `unexpect`."""
        with self._coming_lock:
            self._coming += 1

    def unexpect(self, *, nudge: bool = False) -> None:
        """An announced request was queued, or (nudge) will not come: a commit waiting for
        it is told to look again."""
        with self._coming_lock:
            self._coming -= 1
        if nudge:
            self._queue.put(_NUDGE)

    def stop(self) -> None:
        """Commits what is queued, runs the hook a last time if it owes it, and ends the
        threads."""
        if self._thread is not None:
            self._queue.put(_STOP)
            self._thread.join()
            self._thread = None
        if self._hook is not None:
            self._hook.stop()

    def close(self) -> None:
        """Checkpoints and closes the store (after stop)."""
        if self._closed:
            return
        self._closed = True
        with contextlib.suppress(duckdb.Error):
            self.store.con.execute("CHECKPOINT")
        self.store.close()

    # -- the loop ----------------------------------------------------------------------------

    def _loop(self) -> None:
        owed = Owed.NOTHING
        last_drain = time.monotonic()
        while True:
            try:
                first = self._queue.get(timeout=_QUIET_S[owed])
            except queue.Empty:
                if owed is Owed.HOOK:
                    self._ask_hook()
                    owed = Owed.CHECKPOINT
                    continue
                if owed is Owed.CHECKPOINT:
                    self._checkpoint()
                    owed = Owed.NOTHING
                if time.monotonic() - last_drain >= self.drain_interval_s:
                    if self.drain():
                        owed = Owed.CHECKPOINT
                    last_drain = time.monotonic()
                continue
            work, tasks, stopping = self._take(first)
            if work and self._commit(work):
                owed = Owed.HOOK if self._hook is not None else Owed.CHECKPOINT
            if tasks and self._run_tasks(tasks):
                owed = Owed.HOOK if self._hook is not None else Owed.CHECKPOINT
            if (
                owed is Owed.HOOK
                and self._hook is not None
                and self._hook.idle_for() >= self.after_commit_interval_s
            ):
                self._ask_hook()
                owed = Owed.CHECKPOINT
            if stopping and self._queue.empty():
                if owed is Owed.HOOK:
                    self._ask_hook()
                return

    def _take(self, first: object) -> tuple[list[Work], list[Task], bool]:
        """first and what else is queued, up to COALESCE_SPANS, waiting up to group_wait_s for
        requests still being decoded; and whether stop was asked."""
        work: list[Work] = []
        tasks: list[Task] = []
        spans = 0
        stopping = False
        item = first
        deadline = time.monotonic() + self.group_wait_s
        while True:
            if item is _STOP:
                stopping = True
            elif item is _NUDGE:
                pass
            elif isinstance(item, Task):
                tasks.append(item)
            else:
                assert isinstance(item, Work)
                work.append(item)
                spans += item.batch.table.num_rows
            if spans >= COALESCE_SPANS:
                break
            try:
                item = self._queue.get_nowait()
            except queue.Empty:
                left = deadline - time.monotonic()
                if stopping or self._coming <= 0 or left <= 0:
                    break
                try:
                    item = self._queue.get(timeout=left)
                except queue.Empty:
                    break
        return work, tasks, stopping

    def _run_tasks(self, tasks: Sequence[Task]) -> bool:
        """Runs each task in turn and answers it; returns whether any changed the store."""
        changed = False
        for task in tasks:
            outcome: int | BaseException
            try:
                outcome = task.run(self.store)
                changed = True
            except Exception as exc:  # noqa: BLE001 - answered to the task's sender
                _log.warning("a write failed: %s", exc)
                outcome = exc
            task.done(outcome)
        return changed

    def _ask_hook(self) -> None:
        if self._hook is not None:
            self._hook.ask()

    def _commit(self, work: Sequence[Work]) -> int:
        """Commits work in one transaction, then answers each request; returns spans stored."""
        store = self.store
        # The highest batch_id given: the new watermark, with no query after each commit.
        last: int | None = None
        try:
            stored_counts, last = append_many_at(store, [w.batch for w in work])
            counts: list[int | BaseException] = list(stored_counts)
        except Exception as exc:  # noqa: BLE001 - answered as 503; the writer must go on
            if len(work) == 1:
                counts = [exc]
            else:
                # One bad request must not fail the others it was coalesced with.
                counts = []
                for w in work:
                    try:
                        one, at = append_many_at(store, [w.batch])
                        counts.extend(one)
                        if at is not None:
                            last = at
                    except Exception as single:  # noqa: BLE001
                        counts.append(single)
            _log.warning("a write failed: %s", exc)
        stored = 0
        duplicate = 0
        tee_lines: list[str] = []
        for w, count in zip(work, counts, strict=True):
            if isinstance(count, int):
                stored += count
                if not count:
                    duplicate += w.batch.table.num_rows
                elif w.tee_line is not None and self.tee is not None:
                    tee_lines.append(w.tee_line)
        if tee_lines and self.tee is not None:
            try:
                self.tee.write("\n".join(tee_lines) + "\n")
                self.tee.flush()
            except OSError as exc:
                _log.warning("cannot write the tee file: %s", exc)
        if last is not None:
            self._watermark = max(self._watermark, last)
        self.stats.add(stored=stored, duplicate=duplicate)
        for w, count in zip(work, counts, strict=True):
            w.done(count)
        return stored

    def _checkpoint(self) -> None:
        with self._hook.held() if self._hook is not None else contextlib.nullcontext():
            try:
                self.store.con.execute("CHECKPOINT")
            except duckdb.Error as exc:
                _log.warning("checkpoint failed: %s", exc)

    def drain(self) -> int:
        """Appends what exporters spooled while nobody owned the store; returns spans drained."""
        try:
            drained = drain_spool(self.store)
        except Exception as exc:  # noqa: BLE001 - the spool waits for the next try
            _log.warning("draining the spool failed: %s", exc)
            return 0
        if drained:
            # The watermark first: whoever sees the count sees the batches too.
            self._watermark = self._stored_watermark()
            self.stats.add(drained=drained)
            self._ask_hook()
        return drained
