"""The owner's read-only SQL endpoint: queries on cursors of the owning connection, for this
process (`query`) and for other processes (``POST /seamscope/v1/sql``, Arrow IPC or JSON).

Every statement passes the one read-only check, runs in a read-only transaction that is rolled
back, is interrupted after a time limit, and returns at most a row limit over HTTP.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import threading
from collections.abc import Sequence
from typing import Any

import duckdb
import pyarrow as pa
import pyarrow.ipc
from aiohttp import web

from seamscope.tracer.access import SqlRejected, check_read_only, table_to_json
from seamscope.tracer.store import Store

SQL_ROW_LIMIT = 100_000
SQL_TIMEOUT_S = 30.0
ARROW_STREAM = "application/vnd.apache.arrow.stream"


class SqlEndpoint:
    """Read-only queries over the store the receiver holds."""

    def __init__(self, store: Store, *, row_limit: int, timeout_s: float) -> None:
        self.store = store
        self.row_limit = row_limit
        self.timeout_s = timeout_s
        self._cursor_lock = threading.Lock()
        self._pool = concurrent.futures.ThreadPoolExecutor(2, thread_name_prefix="seamscope-sql")

    def close(self) -> None:
        """Stops answering: queued queries are cancelled, running ones finish."""
        self._pool.shutdown(wait=True, cancel_futures=True)

    def query(self, sql: str, params: Sequence[Any] | None = None) -> pa.Table:
        """Runs one read-only query; any thread, no row limit."""
        table, _ = self.run(sql, params, None)
        return table

    def run(
        self, sql: str, params: Sequence[Any] | None, limit: int | None
    ) -> tuple[pa.Table, bool]:
        """(result, whether it was cut at limit rows); raises SqlRejected."""
        with self._cursor_lock:
            cursor = self.store.con.cursor()
        timer = threading.Timer(self.timeout_s, cursor.interrupt)
        try:
            check_read_only(cursor, sql)
            timer.start()
            cursor.execute("BEGIN TRANSACTION READ ONLY")
            try:
                result = cursor.sql(sql, params=list(params) if params else None)
                if limit is None:
                    table = result.to_arrow_table()
                    truncated = False
                else:
                    reader = result.to_arrow_reader(min(limit + 1, 10_000))
                    batches: list[pa.RecordBatch] = []
                    rows = 0
                    for batch in reader:
                        batches.append(batch)
                        rows += batch.num_rows
                        if rows > limit:
                            break
                    table = pa.Table.from_batches(batches, reader.schema)
                    truncated = table.num_rows > limit
                    if truncated:
                        table = table.slice(0, limit)
            finally:
                with contextlib.suppress(duckdb.Error):
                    cursor.execute("ROLLBACK")
        except duckdb.InterruptException:
            raise SqlRejected(
                f"the query ran longer than {self.timeout_s:.0f} s and was stopped"
            ) from None
        except duckdb.Error as exc:
            raise SqlRejected(str(exc).splitlines()[0]) from None
        finally:
            timer.cancel()
            cursor.close()
        return table, truncated

    async def handle(self, request: web.Request) -> web.Response:
        """POST {"sql", "params"?, "limit"?, "format"?}: the result as Arrow IPC (or JSON)."""
        try:
            payload = await request.json()
        except (ValueError, UnicodeDecodeError):
            return web.json_response({"error": 'the body must be JSON: {"sql": "..."}'}, status=400)
        except web.HTTPRequestEntityTooLarge:
            return web.json_response({"error": "the query is too large"}, status=413)
        if not isinstance(payload, dict) or not isinstance(payload.get("sql"), str):
            return web.json_response({"error": 'the body must be JSON: {"sql": "..."}'}, status=400)
        params = payload.get("params")
        if params is not None and not isinstance(params, list):
            return web.json_response({"error": "params must be a list"}, status=400)
        limit = payload.get("limit", self.row_limit)
        if not isinstance(limit, int) or limit <= 0:
            limit = self.row_limit
        limit = min(limit, self.row_limit)
        want_json = payload.get("format") == "json" or "application/json" in request.headers.get(
            "Accept", ""
        )
        loop = asyncio.get_running_loop()
        try:
            table, truncated = await loop.run_in_executor(
                self._pool, self.run, payload["sql"], params, limit
            )
        except SqlRejected as exc:
            return web.json_response({"error": str(exc)}, status=400)
        headers = {"X-Seamscope-Truncated": "true" if truncated else "false"}
        if want_json:
            return web.Response(
                body=table_to_json(table, truncated=truncated),
                content_type="application/json",
                headers=headers,
            )
        sink = pa.BufferOutputStream()
        with pa.ipc.new_stream(sink, table.schema) as writer:
            writer.write_table(table)
        return web.Response(
            body=sink.getvalue().to_pybytes(), content_type=ARROW_STREAM, headers=headers
        )
