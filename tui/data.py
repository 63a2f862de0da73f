"""The TUI's data sources: where the store is read from.

Screens never touch DuckDB themselves. From thread workers they run the read API's queries
(`seamscope.classifiers.read`) on a `DataSource`, and get its records. Every source reads through
the reader `seamscope.tracer.access.open_reader` picks, and adds what the TUI needs on top:

- `LocalStore`: a store file, read through whoever holds it. While `seamscope collect` owns it
  (started before the TUI or since), reads go to that owner, which classifies what it receives,
  and every poll asks it what changed; while nobody does, `refresh()` classifies new spans under
  a short read-write lock. `holder()` says which, for the header: so `seamscope tui --db STORE`
  in a second terminal watches a running collector live, with no flag.
- `OwnerSource`: reads through the owner only (the demo's watched receiver, and the `seamscope
  collect` that `seamscope tui --collect` starts as its child).
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from pathlib import Path
from typing import NamedTuple, Protocol, TypeVar

import duckdb
import pyarrow as pa

from seamscope.classifiers.catalog import CATALOG_VERSION
from seamscope.classifiers.engine import CLASSIFIER_VERSION, classify
from seamscope.classifiers.landscape import Landscape, LandscapeError, load_landscape
from seamscope.classifiers.read import ClassifierMark, classifier_mark
from seamscope.tracer.access import (
    LocalReader,
    Query,
    QueryStop,
    Reader,
    connection_query,
    open_reader,
)
from seamscope.tracer.errors import SeamscopeError
from seamscope.tracer.owner import find_owner
from seamscope.tracer.store import StoreError, StoreLocked, short_lock

T = TypeVar("T")


class SourceGone(SeamscopeError):
    """What the TUI read from is no more (the receiver it started stopped)."""


class Holder(NamedTuple):
    """The process that owns the store and receives OTLP, as the header names it."""

    pid: int
    url: str  # where it listens, http://HOST:PORT
    classifies: bool = True  # False: `seamscope collect --no-classify`

    @property
    def name(self) -> str:
        """`the receiver on 127.0.0.1:4318 (pid 123)`: where to send, and which process."""
        address = self.url.removeprefix("http://")
        quiet = "" if self.classifies else ", not classifying"
        return f"the receiver on {address} (pid {self.pid}{quiet})"


class DataSource(Protocol):
    """Somewhere the TUI reads the store from."""

    description: str
    landscape: Landscape | None
    """The landscape this TUI was given (--landscape, ./seamscope.toml, the folder's), if any."""

    def run(self, work: Callable[[Query], T]) -> T:
        """Calls work with a query function valid for the duration of the call."""
        ...

    def refresh(self) -> None:
        """Brings the derived tables (edges, labels) up to date with the spans, if it can."""
        ...

    def may_have_changed(self) -> bool:
        """Cheap check before a poll: False when the store surely has not changed since."""
        ...

    def user_sql(self, sql: str, *, stop: QueryStop | None = None) -> pa.Table:
        """Runs a user's statement read-only; raises SqlRejected when it is refused or fails,
        SqlStopped when stop was asked for while it ran."""
        ...

    def waiting(self) -> str | None:
        """Why the views cannot be brought up to date now (a person's query holds the store
        read-only, so the classifier cannot take it), None when nothing keeps them waiting."""
        ...

    def holder(self) -> Holder | None:
        """The owner reads go through (it receives and classifies), None when this process
        reads the file itself. Cheap: asked after every poll."""
        ...

    def close(self) -> None: ...


class LocalStore:
    """A store file: through its owner while one runs, else brief connections of its own, never
    held between refreshes."""

    def __init__(self, path: Path, landscape: Path | None = None, *, classify: bool = True) -> None:
        self.path = path
        self.description = str(path)
        self.landscape_path = landscape
        self._landscape_stamp = _stamp(landscape)
        self.landscape: Landscape | None = (
            load_landscape(landscape) if landscape is not None else None
        )
        self._classifies = classify
        # DuckDB refuses a read-only and a read-write connection to one file in one process at
        # the same time; workers take turns. A person's query holds its read-only connection
        # without the lock (up to its time limit): the screens' reads run on cursors of that
        # connection meanwhile (a second connection is refused: its settings are locked), and
        # the classifier's read-write turn waits until it has ended.
        self._lock = threading.RLock()
        self._user_queries = 0
        self._user_lock = threading.Lock()
        self._lent: duckdb.DuckDBPyConnection | None = None  # a person's query's, while it runs
        self._deferred = False  # a refresh gave way to a person's query: the next one is due
        self._classified_watermark: int | None = None
        self._file_state: tuple[tuple[int, int], ...] | None = None
        self._holder: Holder | None = None

    def holder(self) -> Holder | None:
        return self._holder

    def _find_holder(self) -> Holder | None:
        """Looks for the store's owner again (its owner file; no query): one may have started or
        stopped since the last poll."""
        owner = find_owner(self.path)
        self._holder = None if owner is None else Holder(owner.pid, owner.url, owner.classifies)
        return self._holder

    def _reader(self) -> Reader:
        # Chosen again for every read: an owner may start or stop between two refreshes. One
        # try at a locked file: the next tick tries again.
        return open_reader(self.path, lock_attempts=1)

    def may_have_changed(self) -> bool:
        """Compares the file's and its WAL's size and mtime with the last poll, so an idle TUI
        does not open the file every second (each open would shut a starting owner out). While
        an owner runs, always: its watermark is one small query away, and its writes to the
        file say nothing of when it has classified them."""
        owned = self._find_holder() is not None
        files = [self.path, self.path.with_name(self.path.name + ".wal")]
        if self.landscape_path is not None:
            files.append(self.landscape_path)  # an edited landscape labels the edges again
        current = tuple(_stamp(f) for f in files)
        changed = current != self._file_state
        self._file_state = current
        return owned or changed or self._deferred

    def run(self, work: Callable[[Query], T]) -> T:
        with self._lock:
            lent = self._lent
            if lent is None:
                return self._reader().run(work)
            # A person's query holds the file read-only: read on a cursor of its connection.
            cursor = lent.cursor()
            try:
                return work(connection_query(cursor))
            finally:
                cursor.close()

    def refresh(self) -> None:
        if self._find_holder() is not None:
            return  # the owner classifies what it receives
        if not self._classifies:
            return
        stamp = _stamp(self.landscape_path)
        if self.landscape_path is not None and stamp != self._landscape_stamp:
            self.landscape = load_landscape(self.landscape_path)  # LandscapeError: shown
            self._landscape_stamp = stamp
            self._classified_watermark = None
        mark = self.run(classifier_mark)
        watermark = mark.spans
        if watermark == self._classified_watermark:
            return
        if mark.classified == watermark and classified_with(mark, self.landscape):
            # The classifier already reflects every batch, with this landscape (its own state
            # says so): no need to take the file read-write.
            self._classified_watermark = watermark
            return
        with self._lock:
            with self._user_lock:
                if self._user_queries:
                    self._deferred = True  # the first tick after the query classifies
                    return
                self._deferred = False
            if self._reader().owner is not None:
                return  # the owner classifies what it receives
            try:
                with short_lock(self.path, attempts=3) as store:
                    classify(store.con, self.landscape)
            except StoreLocked:
                return  # someone is appending; the next tick tries again
        self._classified_watermark = watermark

    def user_sql(self, sql: str, *, stop: QueryStop | None = None) -> pa.Table:
        with self._lock:
            # Counted under the lock: the classifier's turn either ended before or sees it.
            with self._user_lock:
                self._user_queries += 1
        # The query's connection is opened under the lock, which it gives up once the
        # connection is lent: DuckDB refuses a connection to a file this process has open
        # with its configuration locked, so a refresh opening its own at the same moment
        # failed the query ("Cannot change configuration option ... locked").
        self._lock.acquire()
        held = True

        def lend(connection: duckdb.DuckDBPyConnection | None) -> None:
            # Called in this thread, where the reader runs the query.
            nonlocal held
            if connection is not None and not held:
                return
            if connection is not None:
                self._lent = connection
                held = False
                self._lock.release()
            elif not held:
                # Taken back once no read uses it, and the lock kept until the reader has
                # closed the connection (below): a read must not open one beside it.
                self._lock.acquire()
                held = True
                self._lent = None

        try:
            reader = self._reader()
            if isinstance(reader, LocalReader):
                return reader.user_sql(sql, stop=stop, lend=lend)
            if held:  # an owner answers it: nothing of this process's is open
                held = False
                self._lock.release()
            return reader.user_sql(sql, stop=stop)
        finally:
            if held:
                self._lock.release()
            with self._user_lock:
                self._user_queries -= 1

    def waiting(self) -> str | None:
        with self._user_lock:
            if self._user_queries and self._deferred:
                return "labels wait for the SQL query to end"
        return None

    def close(self) -> None:
        pass


def _stamp(path: Path | None) -> tuple[int, int]:
    """A file's mtime and size, (-1, -1) when it is not there."""
    if path is None:
        return (-1, -1)
    try:
        st = path.stat()
    except OSError:
        return (-1, -1)
    return (st.st_mtime_ns, st.st_size)


def classified_with(mark: ClassifierMark, landscape: Landscape | None) -> bool:
    """Whether the stored labels were made by this classifier, catalog and landscape (none: the
    empty landscape, everything inferred)."""
    return (
        mark.version == CLASSIFIER_VERSION
        and mark.catalog == CATALOG_VERSION
        and mark.landscape == (landscape or Landscape()).fingerprint()
    )


class OwnerSource:
    """Another process owns the store: every query goes to its SQL endpoint."""

    def __init__(self, path: Path, landscape: Path | None = None) -> None:
        self.path = path
        self.description = f"{path} (live, through its owner)"
        self.landscape = load_landscape(landscape) if landscape is not None else None

    def run(self, work: Callable[[Query], T]) -> T:
        # Chosen again for every read: should the owner stop, the reader reads locally.
        return open_reader(self.path).run(work)

    def refresh(self) -> None:
        pass

    def may_have_changed(self) -> bool:
        return True  # the owner's watermark is one small query away

    def user_sql(self, sql: str, *, stop: QueryStop | None = None) -> pa.Table:
        return open_reader(self.path).user_sql(sql, stop=stop)

    def waiting(self) -> str | None:
        return None  # the owner classifies beside a person's query

    def holder(self) -> Holder | None:
        owner = find_owner(self.path)
        return None if owner is None else Holder(owner.pid, owner.url, owner.classifies)

    def close(self) -> None:
        pass


def open_source(path: Path, landscape: Path | None = None) -> DataSource:
    """A store file, read through its owner while one runs and on its own while none does: the
    TUI follows the store from one to the other."""
    return LocalStore(path, landscape)


def describe_error(exc: BaseException) -> tuple[str, str]:
    """(title, what to do) for a store problem, for the problem screen."""
    from seamscope.tracer.store import NotAStore, StoreMissing, StoreTooNew

    if isinstance(exc, LandscapeError):
        return (
            "The landscape file has an error",
            "Fix the line named above (docs/landscape.md describes the file), then press r. "
            "Run with --landscape FILE to use another file.",
        )
    if isinstance(exc, StoreMissing):
        return (
            "No store here",
            "Run services under opentelemetry-instrument, or `seamscope collect`, or "
            "`seamscope ingest FILES`, then open it with `seamscope tui --db PATH`.",
        )
    if isinstance(exc, StoreLocked):
        return (
            "The store is locked",
            "Another process holds it read-write. If that is `seamscope collect`, it publishes "
            "an owner file and the TUI reads through it; otherwise stop that process or run "
            "`seamscope tui --collect` instead. Press r to retry.",
        )
    if isinstance(exc, SourceGone):
        return (
            "The receiver stopped",
            "What it stored stays in the store: `seamscope tui --db PATH` opens it. q quits.",
        )
    if isinstance(exc, StoreTooNew):
        return ("The store is from a newer seamscope", "Upgrade seamscope to read it.")
    if isinstance(exc, NotAStore):
        return ("Not a seamscope store", "Point --db at a store seamscope wrote.")
    if isinstance(exc, StoreError | SeamscopeError):
        return ("The store cannot be read", "Check the path and permissions, then press r.")
    return ("Something went wrong reading the store", "Press r to retry.")
