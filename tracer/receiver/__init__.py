"""The owner process: an OTLP/HTTP receiver that holds the store and serves read-only SQL.

The parts, each in a module of its own: `server` (HTTP on a background thread with its own
event loop), `decode` (bodies to span tables, on threads or processes), `writer` (the one thread
that commits, answers a request only once its spans are committed, and keeps the store up),
`sql` (read-only queries on the owner's connection). `Receiver` opens the store, binds,
publishes itself as the store's owner and starts and stops the parts in order. Embeddable:
``seamscope collect`` runs it alone, ``seamscope tui --collect`` inside the TUI.
"""

from __future__ import annotations

import os
import sys
import threading
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any, TextIO

import pyarrow as pa

from seamscope.tracer.errors import SeamscopeError
from seamscope.tracer.owner import OwnerInfo, publish, renew_if_exposed, withdraw
from seamscope.tracer.private import open_private
from seamscope.tracer.receiver.decode import Decoders, default_decoders
from seamscope.tracer.receiver.guard import Guard
from seamscope.tracer.receiver.limits import BODY_TIMEOUT_S, IDLE_TIMEOUT_S
from seamscope.tracer.receiver.server import MAX_INFLIGHT, PortInUse, Server, bind
from seamscope.tracer.receiver.sql import SQL_MAX_BYTES, SQL_ROW_LIMIT, SQL_TIMEOUT_S, SqlEndpoint
from seamscope.tracer.receiver.stats import ReceiverStats
from seamscope.tracer.receiver.writer import GROUP_WAIT_S, AfterCommit, Writer
from seamscope.tracer.store import (
    HARDENED_CONFIG,
    MEMORY_LIMIT,
    TEMP_LIMIT,
    Store,
    StoreLocked,
    query_limits,
)
from seamscope.tracer.usersql import SqlLimits

__all__ = [
    "DEFAULT_MAX_BODY",
    "MAX_INFLIGHT",
    "MEMORY_LIMIT",
    "SQL_MAX_BYTES",
    "SQL_ROW_LIMIT",
    "SQL_TIMEOUT_S",
    "TEMP_LIMIT",
    "AfterCommit",
    "PortInUse",
    "Receiver",
    "ReceiverStats",
    "default_decoders",
    "owner_process",
]

DEFAULT_MAX_BODY = 32 * 1024 * 1024
# Exporters append under a lock held for milliseconds: taking ownership waits that long.
_OPEN_WAIT_S = 3.0

OWNER_SWITCH_INTERVAL_S = 0.0005
"""How long one thread of an owning process may hold the interpreter while another waits for it
(Python's default: 5 ms). The owner's classifier derives the landscape in Python for a second or
more at a time when new systems come; at 5 ms a turn, a query of the SQL endpoint, which passes
between the event loop, the query pool and back a dozen times, waited 200-380 ms behind it (a
live TUI's poll, docs/performance.md). At 0.5 ms it waits tens of milliseconds."""


def owner_process() -> None:
    """Tunes this process to own a store: its threads take the interpreter in short turns, so
    the SQL endpoint and the receiver answer while the classifier runs (OWNER_SWITCH_INTERVAL_S).
    For a process that exists to own the store (`seamscope collect`); a program that embeds a
    Receiver keeps its interpreter as it set it."""
    sys.setswitchinterval(min(sys.getswitchinterval(), OWNER_SWITCH_INTERVAL_S))


class Receiver:
    """Owns the store at db_path and receives OTLP/HTTP on host:port (port 0: any free port).

    decode_processes > 0 decodes in that many processes of its own (`default_decoders` is what
    `seamscope collect` takes), else in decode_threads threads of this process; group_wait_s is
    how long a commit may wait for requests still being decoded (0: commit what is queued);
    flat_decode=False decodes protobuf with the general walk (the first design) instead of
    otlp.flat, which gives the same rows.
    """

    def __init__(
        self,
        db_path: Path,
        host: str = "127.0.0.1",
        port: int = 4318,
        *,
        max_body_bytes: int = DEFAULT_MAX_BODY,
        after_commit: AfterCommit | None = None,
        tee_path: Path | None = None,
        decode_threads: int = 2,
        decode_processes: int = 0,
        group_wait_s: float = GROUP_WAIT_S,
        flat_decode: bool = True,
        sql_row_limit: int = SQL_ROW_LIMIT,
        sql_timeout_s: float = SQL_TIMEOUT_S,
        sql_max_bytes: int = SQL_MAX_BYTES,
        memory_limit: str = MEMORY_LIMIT,
        temp_limit: str = TEMP_LIMIT,
        drain_interval_s: float = 5.0,
        after_commit_interval_s: float = 1.0,
        allowed_hosts: Sequence[str] = (),
        max_connections: int | None = None,
        idle_timeout_s: float = IDLE_TIMEOUT_S,
        body_timeout_s: float = BODY_TIMEOUT_S,
    ) -> None:
        self.db_path = Path(db_path)
        self.host = host
        self.port = port
        self.max_body_bytes = max_body_bytes
        self.after_commit = after_commit
        self.tee_path = tee_path
        self.sql_limits = SqlLimits(sql_timeout_s, sql_row_limit, sql_max_bytes)
        self.memory_limit = memory_limit
        self.temp_limit = temp_limit
        self.drain_interval_s = drain_interval_s
        self.after_commit_interval_s = after_commit_interval_s
        self.allowed_hosts = tuple(allowed_hosts)
        self.max_connections = max_connections
        self.idle_timeout_s = idle_timeout_s
        self.body_timeout_s = body_timeout_s
        self.stats = ReceiverStats()
        self.url = ""
        self.owner: OwnerInfo | None = None
        self._decode_threads = decode_threads
        self._decode_processes = decode_processes
        self.group_wait_s = group_wait_s
        self.flat_decode = flat_decode
        self._writer: Writer | None = None
        self._decoders: Decoders | None = None
        self._sql: SqlEndpoint | None = None
        self._server: Server | None = None
        self._tee: TextIO | None = None
        self._stopped = threading.Event()
        self._stopping = False

    @property
    def watermark(self) -> int:
        """The latest committed batch_id (0 for an empty store)."""
        return self._writer.watermark if self._writer is not None else 0

    def start(self) -> Receiver:
        """Opens the store, binds, starts serving; raises StoreLocked / PortInUse (one line)."""
        config: dict[str, str | bool | int] = {"checkpoint_threshold": "1GB"}
        config.update(query_limits(self.memory_limit, self.temp_limit))
        config.update(HARDENED_CONFIG)
        store = self._open_store(config)
        try:
            sock = bind(self.host, self.port)
        except BaseException:
            store.close()
            raise
        self.port = int(sock.getsockname()[1])
        host = f"[{self.host}]" if ":" in self.host else self.host
        self.url = f"http://{host}:{self.port}"
        try:
            if self.tee_path is not None:
                try:
                    fd = open_private(self.tee_path, os.O_WRONLY | os.O_APPEND)
                    self._tee = open(fd, "a", encoding="utf-8")  # noqa: SIM115
                except OSError as exc:
                    raise SeamscopeError(
                        f"{self.tee_path}: cannot write the tee file ({exc.strerror or exc})"
                    ) from None
            self._writer = Writer(
                store,
                self.stats,
                after_commit=self.after_commit,
                after_commit_interval_s=self.after_commit_interval_s,
                drain_interval_s=self.drain_interval_s,
                tee=self._tee,
                group_wait_s=self.group_wait_s,
            )
            self._writer.drain()
            self._decoders = Decoders(
                self._decode_threads, self._decode_processes, flat=self.flat_decode
            )
            self._sql = SqlEndpoint(store, self.sql_limits)
            self._writer.start()
            # The socket listens already: clients that connect now wait in its backlog.
            self.owner = publish(
                self.db_path, self.host, self.port, classifies=self.after_commit is not None
            )
            self._server = Server(
                self.db_path,
                max_body_bytes=self.max_body_bytes,
                decoders=self._decoders,
                writer=self._writer,
                sql=self._sql,
                stats=self.stats,
                tee=self._tee is not None,
                guard=Guard(
                    self.host,
                    self.port,
                    self.owner.secret,
                    self.allowed_hosts,
                    renew=self._current_secret,
                ),
                max_connections=self.max_connections,
                idle_timeout_s=self.idle_timeout_s,
                body_timeout_s=self.body_timeout_s,
            )
            self._server.start(sock)
        except BaseException:
            sock.close()
            withdraw(self.db_path)
            self.owner = None
            self._server = None
            self._shut_down(store)
            raise
        return self

    def _current_secret(self) -> str | None:
        """The owner's secret, renewed first if its file became readable by other users."""
        owner = self.owner
        if owner is None:
            return None
        renewed = renew_if_exposed(self.db_path, owner)
        if renewed is not owner:
            self.owner = renewed
        return renewed.secret

    def _open_store(self, config: dict[str, str | bool | int]) -> Store:
        """Opens the store, retrying for a moment while a traced service holds its short lock."""
        deadline = time.monotonic() + _OPEN_WAIT_S
        while True:
            try:
                return Store.open(self.db_path, config=config)
            except StoreLocked:
                if time.monotonic() >= deadline:
                    raise
                time.sleep(0.02)

    def stop(self) -> None:
        """Stops accepting, answers what is in flight, commits the queue, checkpoints, withdraws."""
        if self._stopping:
            self._stopped.wait()
            return
        self._stopping = True
        try:
            if self._server is not None:
                self._server.stop()
            if self._writer is not None:
                self._shut_down(self._writer.store)
        finally:
            withdraw(self.db_path)
            self.owner = None
            self._stopped.set()

    def _shut_down(self, store: Store) -> None:
        """Decoders, SQL, then the writer (it commits what is queued), then the store."""
        if self._decoders is not None:
            self._decoders.shutdown()
            self._decoders = None
        if self._sql is not None:
            self._sql.close()
            self._sql = None
        if self._writer is not None:
            self._writer.stop()
            self._writer.close()
        else:
            store.close()
        if self._tee is not None:
            self._tee.close()
            self._tee = None

    def __enter__(self) -> Receiver:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def query(self, sql: str, params: Sequence[Any] | None = None) -> pa.Table:
        """Runs one read-only query on a cursor of the owner's connection; any thread."""
        return self._endpoint().query(sql, params)

    def user_sql(
        self, sql: str, params: Sequence[Any] | None = None, *, timeout_s: float | None = None
    ) -> pa.Table:
        """Runs a user's query there, within the SQL endpoint's limits; any thread."""
        return self._endpoint().user_sql(sql, params, timeout_s=timeout_s)

    def _endpoint(self) -> SqlEndpoint:
        endpoint = self._sql
        if endpoint is None:
            raise SeamscopeError(f"{self.db_path}: the receiver is not running")
        return endpoint
