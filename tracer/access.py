"""Reading the store, whoever holds it: one decision, three readers.

DuckDB lets one process hold a file read-write and then refuses every other process, even
read-only. So where a read goes depends on who holds the store, and `open_reader` is the one
place that decides:

- `EmbeddedReader`: this process owns the store through its own receiver; queries run on the
  receiver's cursors.
- `OwnerReader`: another process owns it (the owner file beside the store names it); queries go
  to its read-only SQL endpoint.
- `LocalReader`: nobody owns it; each batch of queries opens a hardened read-only connection
  and closes it again, so a starting owner or an exporter's short append is never shut out for
  long.

The holder can change while a reader lives: a local reader that finds the store locked by an
owner that started since reads through that owner, and an owner reader whose owner went away
reads locally. Every path accepts only queries (`check_read_only`, one error: `SqlRejected`)
and none can write, attach, copy, load extensions or read files.
"""

from __future__ import annotations

import http.client
import json
import socket
import time
import urllib.error
import urllib.request
import uuid
from abc import ABC, abstractmethod
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, Protocol, TypeVar

import duckdb
import pyarrow as pa
import pyarrow.ipc

from seamscope.tracer.errors import SeamscopeError
from seamscope.tracer.owner import CLIENT_HEADER, OwnerInfo, find_owner, refusal, unanswered
from seamscope.tracer.store import StoreLocked, open_read_only
from seamscope.tracer.usersql import (
    QueryStop,
    SqlLimits,
    SqlRejected,
    SqlStopped,
    check_read_only,
    mark_truncated,
    run_bounded,
    table_to_json,
    truncated,
)

__all__ = [
    "EmbeddedOwner",
    "EmbeddedReader",
    "LocalReader",
    "OwnerReader",
    "Query",
    "QueryStop",
    "Reader",
    "SqlLimits",
    "SqlRejected",
    "SqlStopped",
    "check_read_only",
    "connection_query",
    "open_reader",
    "table_to_json",
    "truncated",
]

T = TypeVar("T")
Params = Sequence[Any] | None
Query = Callable[[str, Params], pa.Table]
"""Runs one statement (with its parameters) and returns the whole result."""

LOCK_ATTEMPTS = 8
"""Tries to open a store that an exporter holds for a short append, backing off in between."""
_HANDOVERS = 8
"""How often one read may follow the store to a new holder (or retry an owner going away)."""
_OWNER_TIMEOUT_S = 60.0
_CLIENT_ID = uuid.uuid4().hex
"""Names this process to the owner, which runs one of a client's queries at a time."""
_USER_CLIENT_ID = _CLIENT_ID + "-sql"
"""A person's queries are a client of their own: seamscope's small reads (the TUI's polls) do
not wait behind a long one, and a person's queries still run one at a time."""


class Reader(Protocol):
    """Read-only access to one store, wherever it is held."""

    @property
    def owner(self) -> OwnerInfo | None:
        """The process that held the store when this reader was chosen (it keeps the
        store's classification fresh); None when nobody did."""
        ...

    def run(self, work: Callable[[Query], T]) -> T:
        """Calls work with a query function valid for the duration of the call.

        The statements are trusted (seamscope's own); a user's go through user_sql.
        """
        ...

    def query(self, sql: str, params: Params = None) -> pa.Table:
        """One trusted statement."""
        ...

    def user_sql(
        self,
        sql: str,
        params: Params = None,
        *,
        timeout_s: float | None = None,
        stop: QueryStop | None = None,
    ) -> pa.Table:
        """A user's statement: refused unless it only reads, within `SqlLimits` (a result cut
        at the row limit says so: `truncated`; timeout_s: a shorter time limit); failures
        raise SqlRejected. stop: stops it on request (SqlStopped): the local cursor is
        interrupted, the request to an owner closed."""
        ...


class EmbeddedOwner(Protocol):
    """The receiver of this very process, as a reader sees it."""

    owner: OwnerInfo | None

    def query(self, sql: str, params: Params = None) -> pa.Table:
        """Runs one read-only query on a cursor of the owning connection (checked there)."""
        ...

    def user_sql(
        self, sql: str, params: Params = None, *, timeout_s: float | None = None
    ) -> pa.Table:
        """Runs a user's query there, within the owner's limits."""
        ...


def connection_query(con: duckdb.DuckDBPyConnection) -> Query:
    """The query function of a connection (or cursor) this process holds."""

    def query(sql: str, params: Params = None) -> pa.Table:
        return con.sql(sql, params=list(params) if params else None).to_arrow_table()

    return query


def open_reader(
    path: Path, *, embedded: EmbeddedOwner | None = None, lock_attempts: int = LOCK_ATTEMPTS
) -> Reader:
    """The reader for the store at path: this process's receiver if given, else the live owner
    process if there is one, else local read-only connections.

    lock_attempts: tries to open a store an exporter holds for a moment (1: fail at once with
    StoreLocked, for a caller that polls again anyway).
    """
    if embedded is not None:
        return EmbeddedReader(embedded)
    owner = find_owner(path)
    if owner is not None:
        return OwnerReader(path, owner, lock_attempts=lock_attempts)
    return LocalReader(path, lock_attempts=lock_attempts)


class EmbeddedReader:
    """This process owns the store: queries run on cursors of its receiver's connection."""

    def __init__(self, receiver: EmbeddedOwner) -> None:
        self.receiver = receiver

    @property
    def owner(self) -> OwnerInfo | None:
        return self.receiver.owner

    def run(self, work: Callable[[Query], T]) -> T:
        return work(self.receiver.query)

    def query(self, sql: str, params: Params = None) -> pa.Table:
        return self.receiver.query(sql, params)

    def user_sql(
        self,
        sql: str,
        params: Params = None,
        *,
        timeout_s: float | None = None,
        stop: QueryStop | None = None,
    ) -> pa.Table:
        # The receiver's own limits apply; a stop only drops the answer here.
        table = self.receiver.user_sql(sql, params, timeout_s=timeout_s)
        if stop is not None and stop.stopped:
            raise SqlStopped()
        return table


class _FileReader(ABC):
    """What the local and the owner reader share: the three calls, and following the store
    when another process takes it over or lets it go."""

    def __init__(self, path: Path, *, lock_attempts: int, handovers: int) -> None:
        self.path = path
        self.lock_attempts = max(1, lock_attempts)
        self._handovers = handovers

    @property
    @abstractmethod
    def owner(self) -> OwnerInfo | None: ...

    @abstractmethod
    def _read(
        self,
        local: Callable[[duckdb.DuckDBPyConnection], T],
        remote: Callable[[OwnerInfo], T],
    ) -> T:
        """local(cursor) on a connection of this process, or remote(owner) through the owner."""

    def _hand_over(self, owner: OwnerInfo | None) -> _FileReader:
        """The reader for the store's holder now, counting against this read's budget."""
        if self._handovers <= 0:
            if owner is not None:
                raise unanswered(self.path, owner)
            raise SeamscopeError(f"{self.path}: the store's owner does not answer")
        if owner is None:
            return LocalReader(
                self.path, lock_attempts=self.lock_attempts, handovers=self._handovers - 1
            )
        return OwnerReader(
            self.path, owner, lock_attempts=self.lock_attempts, handovers=self._handovers - 1
        )

    def run(self, work: Callable[[Query], T]) -> T:
        def local(cursor: duckdb.DuckDBPyConnection) -> T:
            return work(connection_query(cursor))

        def remote(owner: OwnerInfo) -> T:
            def query(sql: str, params: Params = None) -> pa.Table:
                return _post_sql(owner, sql, params)

            return work(query)

        return self._read(local, remote)

    def query(self, sql: str, params: Params = None) -> pa.Table:
        return self.run(lambda q: q(sql, params))

    def user_sql(
        self,
        sql: str,
        params: Params = None,
        *,
        timeout_s: float | None = None,
        stop: QueryStop | None = None,
        lend: Callable[[duckdb.DuckDBPyConnection | None], object] | None = None,
    ) -> pa.Table:
        """As `Reader.user_sql`; lend: given the connection the query runs on while it runs
        locally (then None, before it closes), so that this process's other reads run on
        cursors of it meanwhile: DuckDB refuses a second connection to the file in one
        process while the first one's configuration is locked."""
        limits = SqlLimits().shorter(timeout_s)

        def local(cursor: duckdb.DuckDBPyConnection) -> pa.Table:
            # Read whole before the connection closes: the lock is held only this long.
            if lend is None:
                return run_bounded(cursor, sql, params, limits, stop=stop).table()
            lend(cursor)
            try:
                return run_bounded(cursor, sql, params, limits, stop=stop).table()
            finally:
                lend(None)

        def remote(owner: OwnerInfo) -> pa.Table:
            # The owner's endpoint runs the same check before anything else.
            return _post_sql(owner, sql, params, timeout_s, stop=stop, client=_USER_CLIENT_ID)

        return self._read(local, remote)


class LocalReader(_FileReader):
    """Nobody owns the store: a hardened read-only connection per batch of queries, closed
    right after it, so nobody else is shut out for longer than that."""

    def __init__(
        self, path: Path, *, lock_attempts: int = LOCK_ATTEMPTS, handovers: int = _HANDOVERS
    ) -> None:
        super().__init__(path, lock_attempts=lock_attempts, handovers=handovers)

    @property
    def owner(self) -> OwnerInfo | None:
        return None

    def _read(
        self,
        local: Callable[[duckdb.DuckDBPyConnection], T],
        remote: Callable[[OwnerInfo], T],
    ) -> T:
        attempt = 0
        while True:
            try:
                con = open_read_only(self.path)
                break
            except StoreLocked:
                # An owner (seamscope collect) may have started since: read through it.
                owner = find_owner(self.path)
                if owner is not None:
                    return self._hand_over(owner)._read(local, remote)
                attempt += 1
                if attempt >= self.lock_attempts:
                    raise
                time.sleep(min(0.05 * 2 ** (attempt - 1), 0.5))
        try:
            # A fresh cursor: the version check may leave a result open on con itself.
            cursor = con.cursor()
            try:
                return local(cursor)
            finally:
                cursor.close()
        finally:
            con.close()


class OwnerReader(_FileReader):
    """Another process owns the store: every query goes to its read-only SQL endpoint."""

    def __init__(
        self,
        path: Path,
        owner: OwnerInfo,
        *,
        lock_attempts: int = LOCK_ATTEMPTS,
        handovers: int = _HANDOVERS,
    ) -> None:
        super().__init__(path, lock_attempts=lock_attempts, handovers=handovers)
        self._owner = owner

    @property
    def owner(self) -> OwnerInfo | None:
        return self._owner

    def _read(
        self,
        local: Callable[[duckdb.DuckDBPyConnection], T],
        remote: Callable[[OwnerInfo], T],
    ) -> T:
        try:
            return remote(self._owner)
        except urllib.error.URLError:
            # The owner is going away; its file goes with it, and the local path takes over.
            time.sleep(0.1)
        return self._hand_over(find_owner(self.path))._read(local, remote)


def _post_sql(
    owner: OwnerInfo,
    sql: str,
    params: Params,
    timeout_s: float | None = None,
    *,
    stop: QueryStop | None = None,
    client: str = _CLIENT_ID,
) -> pa.Table:
    """One statement through the owner's SQL endpoint; URLError when the owner is unreachable.
    stop: closes the request when asked (SqlStopped)."""
    payload: dict[str, Any] = {"sql": sql, "params": list(params) if params else None}
    if timeout_s is not None:
        payload["timeout"] = timeout_s
    body = json.dumps(payload, default=str)
    request = urllib.request.Request(
        owner.sql_url,
        data=body.encode(),
        headers={
            "Content-Type": "application/json",
            CLIENT_HEADER: client,
            **owner.headers(),
        },
        method="POST",
    )
    opener = urllib.request.build_opener(_StoppableHandler(stop)) if stop else None
    try:
        if opener is None:
            with urllib.request.urlopen(request, timeout=_OWNER_TIMEOUT_S) as response:
                data = response.read()
                cut = response.headers.get("X-Seamscope-Truncated") == "true"
        else:
            with opener.open(request, timeout=_OWNER_TIMEOUT_S) as response:
                data = response.read()
                cut = response.headers.get("X-Seamscope-Truncated") == "true"
    except urllib.error.HTTPError as exc:
        raise SqlRejected(refusal(exc)) from None
    except (OSError, http.client.HTTPException):
        if stop is not None and stop.stopped:
            raise _hung_up(owner) from None
        raise
    if stop is not None and stop.stopped:
        raise _hung_up(owner)
    with pa.ipc.open_stream(data) as reader:
        table = reader.read_all()
    return mark_truncated(table) if cut else table


def _hung_up(owner: OwnerInfo) -> SqlStopped:
    # The owner's endpoint looks at a running query's client a few times a second, and stops
    # the query of one that left (tracer/receiver/sql.py _unless_gone).
    return SqlStopped(
        f"the request to the store's owner (pid {owner.pid}) was closed, and the owner stops "
        "the query when it sees that"
    )


class _StoppableHandler(urllib.request.HTTPHandler):
    """Plain HTTP whose connection a `QueryStop` closes: the owner sees its client gone."""

    def __init__(self, stop: QueryStop) -> None:
        super().__init__()
        self._stop = stop

    def http_open(self, req: urllib.request.Request) -> http.client.HTTPResponse:
        stop = self._stop

        class Connection(http.client.HTTPConnection):
            def connect(self) -> None:
                super().connect()
                stop.on_stop(self.hang_up)

            def hang_up(self) -> None:
                sock = self.sock
                if sock is not None:
                    try:
                        sock.shutdown(socket.SHUT_RDWR)
                    except OSError:
                        pass  # already closed

        return self.do_open(Connection, req)
