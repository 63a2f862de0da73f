"""The owner's read-only SQL endpoint: queries on cursors of the owning connection, for this
process (`query`, `user_sql`) and for other processes (``POST /seamscope/v1/sql``, Arrow IPC
or JSON).

Every user statement runs through `usersql.run_bounded` (read-only check, time limit, rows cut
at a limit, refused past a size; a JSON answer is refused past that size as text too) in a
read-only transaction that is rolled back. Queries run on a small pool of threads, one at a
time per client (the ``X-Seamscope-Client`` header our readers send, else the connection), and
the answer is streamed from pieces built in the pool, so the event loop, and with it intake,
never waits on SQL.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import json
import threading
from collections.abc import Iterator, Sequence
from typing import Any, TypeVar

import duckdb
import pyarrow as pa
from aiohttp import web

from seamscope.tracer.owner import CLIENT_HEADER
from seamscope.tracer.receiver.limits import BodyBudget, BodyError, read_body
from seamscope.tracer.store import Store
from seamscope.tracer.usersql import (
    SQL_MAX_BYTES,
    SQL_ROW_LIMIT,
    SQL_TIMEOUT_S,
    QueryStop,
    Result,
    SqlLimits,
    SqlRejected,
    SqlStopped,
    arrow_chunks,
    json_chunks,
    rejection,
    run_bounded,
    too_large,
)

__all__ = ["ARROW_STREAM", "SQL_MAX_BYTES", "SQL_ROW_LIMIT", "SQL_TIMEOUT_S", "SqlEndpoint"]

ARROW_STREAM = "application/vnd.apache.arrow.stream"
MAX_QUERY_BYTES = 1024 * 1024
"""Largest request body (the query and its parameters)."""
WORKERS = 2
T = TypeVar("T")


class SqlEndpoint:
    """Read-only queries over the store the receiver holds."""

    def __init__(self, store: Store, limits: SqlLimits) -> None:
        self.store = store
        self.limits = limits
        self._cursor_lock = threading.Lock()
        self._pool = concurrent.futures.ThreadPoolExecutor(
            WORKERS, thread_name_prefix="seamscope-sql"
        )
        self._budget = BodyBudget(4 * MAX_QUERY_BYTES)
        self._clients: dict[str, tuple[asyncio.Lock, int]] = {}

    def close(self) -> None:
        """Stops answering: queued queries are cancelled, running ones finish."""
        self._pool.shutdown(wait=True, cancel_futures=True)

    def query(self, sql: str, params: Sequence[Any] | None = None) -> pa.Table:
        """Runs one of seamscope's own read-only queries; any thread, no row or size limit."""
        limits = SqlLimits(timeout_s=self.limits.timeout_s, row_limit=None, max_bytes=2**62)
        return self.run(sql, params, limits).table()

    def user_sql(
        self, sql: str, params: Sequence[Any] | None = None, *, timeout_s: float | None = None
    ) -> pa.Table:
        """Runs a user's query within the limits; any thread."""
        return self.run(sql, params, self.limits.shorter(timeout_s)).table()

    def run(
        self,
        sql: str,
        params: Sequence[Any] | None,
        limits: SqlLimits,
        stop: QueryStop | None = None,
    ) -> Result:
        """The result, read within limits; raises SqlRejected (SqlStopped once stop was asked
        for)."""
        with self._cursor_lock:
            cursor = self.store.con.cursor()
        try:
            cursor.execute("BEGIN TRANSACTION READ ONLY")
            try:
                return run_bounded(cursor, sql, params, limits, stop=stop)
            finally:
                with contextlib.suppress(duckdb.Error):
                    cursor.execute("ROLLBACK")
        except duckdb.Error as exc:
            # The transaction itself refused (the store at its memory limit): said as a query.
            raise rejection(exc) from None
        finally:
            cursor.close()

    def _answer(
        self,
        sql: str,
        params: Sequence[Any] | None,
        limits: SqlLimits,
        want_json: bool,
        stop: QueryStop,
    ) -> tuple[list[bytes], bool]:
        """The answer's body in pieces, built in the pool; and whether it was cut."""
        result = self.run(sql, params, limits, stop)
        if not want_json:
            return arrow_chunks(result), result.truncated
        # The size bound is on the result's Arrow bytes; its JSON text can be several times
        # that (a control character is six bytes, \u0001), so the JSON answer is bounded too,
        # and refused with the same message the moment it grows past it. Each batch is let go
        # once it is text, as `arrow_chunks` does: the answer is not held twice.
        chunks: list[bytes] = []
        size = 0
        for chunk in json_chunks(result.schema, _taken(result.batches), truncated=result.truncated):
            size += len(chunk)
            if size > limits.max_bytes:
                raise too_large(limits)
            chunks.append(chunk)
        return chunks, result.truncated

    async def handle(self, request: web.Request) -> web.StreamResponse:
        """POST {"sql", "params"?, "limit"?, "format"?}: the result as Arrow IPC (or JSON)."""
        try:
            raw = await read_body(request, MAX_QUERY_BYTES, self._budget)
        except BodyError as exc:
            message = "the query is too large" if exc.status == 413 else str(exc)
            return web.json_response({"error": message}, status=exc.status)
        try:
            payload = json.loads(raw)
        except (ValueError, UnicodeDecodeError):
            return web.json_response({"error": 'the body must be JSON: {"sql": "..."}'}, status=400)
        finally:
            self._budget.release(raw)
        if not isinstance(payload, dict) or not isinstance(payload.get("sql"), str):
            return web.json_response({"error": 'the body must be JSON: {"sql": "..."}'}, status=400)
        params = payload.get("params")
        if params is not None and not isinstance(params, list):
            return web.json_response({"error": "params must be a list"}, status=400)
        limit = payload.get("limit", self.limits.row_limit)
        row_limit = self.limits.row_limit
        if isinstance(limit, int) and not isinstance(limit, bool) and limit > 0:
            row_limit = limit if row_limit is None else min(limit, row_limit)
        timeout = payload.get("timeout")
        limits = SqlLimits(self.limits.timeout_s, row_limit, self.limits.max_bytes).shorter(
            float(timeout) if isinstance(timeout, (int, float)) else None
        )
        want_json = payload.get("format") == "json" or "application/json" in request.headers.get(
            "Accept", ""
        )
        loop = asyncio.get_running_loop()
        stop = QueryStop()
        try:
            async with self._client(request):
                answer = loop.run_in_executor(
                    self._pool, self._answer, payload["sql"], params, limits, want_json, stop
                )
                chunks, cut = await _unless_gone(request, answer, stop)
        except SqlStopped:
            return web.Response(status=499)  # no one is left to read it
        except SqlRejected as exc:
            return web.json_response({"error": str(exc)}, status=400)
        response = web.StreamResponse(
            headers={
                "Content-Type": "application/json" if want_json else ARROW_STREAM,
                "X-Seamscope-Truncated": "true" if cut else "false",
            }
        )
        response.content_length = sum(len(c) for c in chunks)
        try:
            await response.prepare(request)
            while chunks:
                await response.write(chunks.pop(0))
            await response.write_eof()
        except ConnectionError:
            # The client hung up before the whole answer (a Ctrl-C, a reader that read only the
            # status): nothing more to send it, and nothing wrong with the owner.
            pass
        return response

    @contextlib.asynccontextmanager
    async def _client(self, request: web.Request) -> Any:
        """Holds the client's turn: its queries run one at a time, in order."""
        name = request.headers.get(CLIENT_HEADER, "")[:64]
        if not name:
            peer = request.transport.get_extra_info("peername") if request.transport else None
            name = f"peer:{peer}"
        lock, users = self._clients.get(name) or (asyncio.Lock(), 0)
        self._clients[name] = (lock, users + 1)
        try:
            async with lock:
                yield
        finally:
            lock, users = self._clients[name]
            if users <= 1:
                del self._clients[name]
            else:
                self._clients[name] = (lock, users - 1)


def _taken(batches: list[pa.RecordBatch]) -> Iterator[pa.RecordBatch]:
    """The batches in order, each removed from the list as it is given."""
    while batches:
        yield batches.pop(0)


GONE_POLL_S = 0.25
"""How often a running query's client is looked at: one that hung up (a Ctrl-C in the TUI's
console or on `seamscope sql`) has its query stopped, not run on to the time limit while the
next query of the same client waits."""


async def _unless_gone(request: web.Request, answer: asyncio.Future[T], stop: QueryStop) -> T:
    """answer's result; its query stopped (SqlStopped) once the client's connection is closed."""
    while True:
        done, _ = await asyncio.wait({answer}, timeout=GONE_POLL_S)
        if done:
            return answer.result()
        transport = request.transport
        if transport is None or transport.is_closing():
            stop.stop()
