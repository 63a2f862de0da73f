"""The owner process: an OTLP/HTTP receiver that holds the store and serves read-only SQL.

aiohttp serves ``POST /v1/traces`` (protobuf or JSON, gzip or deflate, chunked or not) and
``POST /seamscope/v1/sql`` on a background thread with its own event loop. Bodies are decoded
on a small thread pool; one writer thread owns the store, coalesces queued requests into one
transaction (one batches row per request, so each stays idempotent by its batch key) and
answers a request only after its spans are committed: nothing acknowledged is ever lost.
Embeddable: ``seamscope collect`` runs it alone, ``seamscope tui --collect`` inside the TUI.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import errno
import json
import logging
import multiprocessing
import queue
import signal
import socket
import threading
import time
import zlib
from collections.abc import Callable, Sequence
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TextIO

import duckdb
import pyarrow as pa
import pyarrow.ipc
from aiohttp import web

from seamscope.tracer.access import SqlRejected, check_read_only, table_to_json
from seamscope.tracer.errors import SeamscopeError
from seamscope.tracer.ingest import STORED_HEADER, Batch, append_many, batch_key
from seamscope.tracer.otlp import (
    DecodeResult,
    OtlpError,
    decode_json,
    decode_protobuf,
    protobuf_to_json,
    redact_json_request,
    response_body,
)
from seamscope.tracer.owner import (
    BATCH_KEY_HEADER,
    SQL_PATH,
    TRACES_PATH,
    OwnerInfo,
    publish,
    withdraw,
)
from seamscope.tracer.rows import SpanBatchBuilder
from seamscope.tracer.store import HARDENED_CONFIG, Store, StoreLocked

_log = logging.getLogger(__name__)

SOURCE = "otlp-http"
DEFAULT_MAX_BODY = 32 * 1024 * 1024
SQL_ROW_LIMIT = 100_000
SQL_TIMEOUT_S = 30.0
_COALESCE_SPANS = 100_000
_IDLE_CHECKPOINT_S = 2.0
# DuckDB's buffer pool may take 80% of RAM by default. With 2 GB, a live TUI on a 10M-span store
# peaked at 0.92 GB instead of 2.8 GB in side runs (other runs still peaked near 3 GB, cause not
# found), and a full classification of 10M spans took no longer (1 GB made it spill: 1.25x).
# See docs/performance.md, TUI.
OWNER_MEMORY_LIMIT = "2GB"
# Exporters append under a lock held for milliseconds: taking ownership waits that long.
_OPEN_WAIT_S = 3.0
_HOOK_IDLE_S = 0.2
MAX_INFLIGHT = 64
_MAX_KEY_LEN = 200
ARROW_STREAM = "application/vnd.apache.arrow.stream"
AfterCommit = Callable[[duckdb.DuckDBPyConnection], None]


class PortInUse(SeamscopeError):
    pass


class _TooLarge(Exception):
    pass


@dataclass(slots=True)
class ReceiverStats:
    """Counters since start (spans, unless named otherwise)."""

    requests: int = 0
    received: int = 0
    stored: int = 0
    duplicate: int = 0
    rejected: int = 0
    bad_requests: int = 0
    drained: int = 0


@dataclass(slots=True)
class _Work:
    batch: Batch
    done: Callable[[int | BaseException], None]
    tee_line: str | None


_STOP = object()


def _inflate(data: bytes, encoding: str, limit: int) -> bytes:
    """Decompresses gzip/deflate without ever holding more than limit bytes (gzip bombs)."""
    wbits = 16 + zlib.MAX_WBITS if encoding == "gzip" else zlib.MAX_WBITS
    out = bytearray()
    try:
        while data:
            inflater = zlib.decompressobj(wbits)
            out += inflater.decompress(data, limit + 1 - len(out))
            if len(out) > limit or inflater.unconsumed_tail:
                raise _TooLarge(f"the {encoding} body inflates past {limit} bytes")
            if not inflater.eof:
                raise OtlpError(f"the {encoding} body is truncated")
            data = inflater.unused_data if encoding == "gzip" else b""
    except zlib.error as exc:
        raise OtlpError(f"the body is not valid {encoding} ({exc})") from None
    return bytes(out)


def decode_request(
    body: bytes, encoding: str, json_format: bool, key: str | None, limit: int, tee: bool
) -> tuple[DecodeResult, pa.Table, str, str | None]:
    """Body -> (result, spans table, batch key, tee line); runs in a decode thread or process."""
    if encoding in ("gzip", "deflate", "x-gzip"):
        body = _inflate(body, "deflate" if encoding == "deflate" else "gzip", limit)
    builder = SpanBatchBuilder()
    result = decode_json(body, builder) if json_format else decode_protobuf(body, builder)
    table = builder.build()
    if key is None:
        key = batch_key(body)
    tee_line = None
    if tee and result.accepted:
        if json_format:
            obj = redact_json_request(json.loads(body))
            tee_line = json.dumps(obj, separators=(",", ":"), ensure_ascii=False)
        else:
            tee_line = protobuf_to_json(body, redact=True)
    return result, table, key, tee_line


def _decoder_init() -> None:
    """In a decoder process: Ctrl-C is for the owner (it stops the pool itself); warm up."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    decode_request(b"", "identity", False, "warm-up", 1, False)


def _nothing() -> None:
    return None


def _status_body(message: str, json_format: bool) -> tuple[bytes, str]:
    """An OTLP error body: google.rpc.Status (JSON or protobuf), plain text as a fallback."""
    if json_format:
        return json.dumps({"code": 3, "message": message}).encode(), "application/json"
    try:
        from google.rpc.status_pb2 import Status  # type: ignore[import-untyped]
    except ImportError:
        return message.encode(), "text/plain"
    return Status(code=3, message=message).SerializeToString(), "application/x-protobuf"


class Receiver:
    """Owns the store at db_path and receives OTLP/HTTP on host:port (port 0: any free port)."""

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
        sql_row_limit: int = SQL_ROW_LIMIT,
        sql_timeout_s: float = SQL_TIMEOUT_S,
        drain_interval_s: float = 5.0,
        after_commit_interval_s: float = 1.0,
    ) -> None:
        self.db_path = Path(db_path)
        self.host = host
        self.port = port
        self.max_body_bytes = max_body_bytes
        self.after_commit = after_commit
        self.tee_path = tee_path
        self.sql_row_limit = sql_row_limit
        self.sql_timeout_s = sql_timeout_s
        self.drain_interval_s = drain_interval_s
        self.after_commit_interval_s = after_commit_interval_s
        self.stats = ReceiverStats()
        self.url = ""
        self.owner: OwnerInfo | None = None
        self._decode_threads = decode_threads
        self._decode_processes = decode_processes
        self._store: Store | None = None
        self._queue: queue.Queue[_Work | object] = queue.Queue()
        self._writer: threading.Thread | None = None
        self._server_thread: threading.Thread | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._runner: web.AppRunner | None = None
        self._inflight: asyncio.Semaphore | None = None
        self._decoders: concurrent.futures.Executor | None = None
        self._sql_pool: concurrent.futures.ThreadPoolExecutor | None = None
        self._cursor_lock = threading.Lock()
        self._stats_lock = threading.Lock()
        self._watermark = 0
        self._tee: TextIO | None = None
        self._stopped = threading.Event()
        self._stopping = False

    # -- lifecycle -------------------------------------------------------------------------

    @property
    def watermark(self) -> int:
        """The latest committed batch_id (0 for an empty store)."""
        return self._watermark

    def start(self) -> Receiver:
        """Opens the store, binds, starts serving; raises StoreLocked / PortInUse (one line)."""
        config: dict[str, str | bool | int] = {
            "checkpoint_threshold": "1GB",
            "memory_limit": OWNER_MEMORY_LIMIT,
        }
        config.update(HARDENED_CONFIG)
        store = self._open_store(config)
        try:
            sock = self._bind()
        except BaseException:
            store.close()
            raise
        self._store = store
        try:
            row = store.con.execute("SELECT coalesce(max(batch_id), 0) FROM batches").fetchall()[0]
            self._watermark = int(row[0]) if row else 0
            if self.tee_path is not None:
                try:
                    self._tee = open(self.tee_path, "a", encoding="utf-8")  # noqa: SIM115
                except OSError as exc:
                    raise SeamscopeError(
                        f"{self.tee_path}: cannot write the tee file ({exc.strerror or exc})"
                    ) from None
            self._drain()
            self._decoders = self._make_decoders()
            self._sql_pool = concurrent.futures.ThreadPoolExecutor(
                2, thread_name_prefix="seamscope-sql"
            )
            self._writer = threading.Thread(
                target=self._write_loop, name="seamscope-writer", daemon=True
            )
            self._writer.start()
            # The socket listens already: clients that connect now wait in its backlog.
            self.owner = publish(self.db_path, self.host, self.port)
            ready = threading.Event()
            failure: list[BaseException] = []
            self._server_thread = threading.Thread(
                target=self._serve,
                args=(sock, ready, failure),
                name="seamscope-receiver",
                daemon=True,
            )
            self._server_thread.start()
            ready.wait()
            if failure:
                raise failure[0]
        except BaseException:
            sock.close()
            withdraw(self.db_path)
            self.owner = None
            self._server_thread = None
            self._shutdown_writer()
            raise
        return self

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

    def _make_decoders(self) -> concurrent.futures.Executor:
        """Decoder processes spread the CPU-bound decoding over cores; threads when 0."""
        if self._decode_processes > 0:
            pool = concurrent.futures.ProcessPoolExecutor(
                self._decode_processes,
                mp_context=multiprocessing.get_context("spawn"),
                initializer=_decoder_init,
            )
            for _ in range(self._decode_processes):
                pool.submit(_nothing)
            return pool
        return concurrent.futures.ThreadPoolExecutor(
            max(1, self._decode_threads), thread_name_prefix="seamscope-decode"
        )

    def _replace_broken_pool(self) -> None:
        broken = self._decoders
        if isinstance(broken, concurrent.futures.ProcessPoolExecutor) and broken._broken:
            self._decoders = self._make_decoders()
            broken.shutdown(wait=False)

    def _bind(self) -> socket.socket:
        try:
            infos = socket.getaddrinfo(self.host, self.port, type=socket.SOCK_STREAM)
            family = infos[0][0]
            sock = socket.create_server((self.host, self.port), family=family)
        except OSError as exc:
            if exc.errno == errno.EADDRINUSE:
                raise PortInUse(
                    f"{self.host}:{self.port}: the port is in use by another process "
                    "(pick another with --port)"
                ) from None
            raise SeamscopeError(
                f"{self.host}:{self.port}: cannot listen ({exc.strerror or exc})"
            ) from None
        self.port = int(sock.getsockname()[1])
        host = f"[{self.host}]" if ":" in self.host else self.host
        self.url = f"http://{host}:{self.port}"
        return sock

    def _serve(
        self, sock: socket.socket, ready: threading.Event, failure: list[BaseException]
    ) -> None:
        loop = asyncio.new_event_loop()
        self._loop = loop
        asyncio.set_event_loop(loop)
        self._inflight = asyncio.Semaphore(MAX_INFLIGHT)
        app = web.Application(client_max_size=self.max_body_bytes)
        app.router.add_post(TRACES_PATH, self._handle_traces)
        app.router.add_post(SQL_PATH, self._handle_sql)
        app.router.add_get("/", self._handle_root)
        runner = web.AppRunner(
            app, access_log=None, handle_signals=False, auto_decompress=False, shutdown_timeout=10.0
        )
        self._runner = runner
        try:
            loop.run_until_complete(runner.setup())
            loop.run_until_complete(web.SockSite(runner, sock).start())
        except BaseException as exc:  # noqa: BLE001 - handed to start()
            failure.append(exc)
            ready.set()
            loop.close()
            return
        ready.set()
        try:
            loop.run_forever()
        finally:
            loop.run_until_complete(runner.cleanup())
            loop.close()

    def stop(self) -> None:
        """Stops accepting, answers what is in flight, commits the queue, checkpoints, withdraws."""
        if self._stopping:
            self._stopped.wait()
            return
        self._stopping = True
        try:
            loop = self._loop
            if loop is not None and self._server_thread is not None:
                loop.call_soon_threadsafe(loop.stop)
                self._server_thread.join()
            self._shutdown_writer()
        finally:
            withdraw(self.db_path)
            self.owner = None
            self._stopped.set()

    def _shutdown_writer(self) -> None:
        if self._decoders is not None:
            self._decoders.shutdown(wait=True)
        if self._sql_pool is not None:
            self._sql_pool.shutdown(wait=True, cancel_futures=True)
        if self._writer is not None:
            self._queue.put(_STOP)
            self._writer.join()
        store = self._store
        if store is not None:
            with contextlib.suppress(duckdb.Error):
                store.con.execute("CHECKPOINT")
            store.close()
            self._store = None
        if self._tee is not None:
            self._tee.close()
            self._tee = None

    def __enter__(self) -> Receiver:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # -- writer thread ---------------------------------------------------------------------

    def _run_hook(self) -> None:
        if self.after_commit is None or self._store is None:
            return
        try:
            self.after_commit(self._store.con)
        except Exception:  # noqa: BLE001 - a hook must not stop the writer
            _log.exception("seamscope: after_commit hook failed")

    def _write_loop(self) -> None:
        # Spans stored before this run (or drained from the spool) get classified too.
        self._run_hook()
        hook_pending = False
        last_hook = time.monotonic()
        dirty = False
        last_drain = time.monotonic()
        stopping = False
        while True:
            if hook_pending:
                timeout = _HOOK_IDLE_S
            else:
                timeout = _IDLE_CHECKPOINT_S if dirty else 1.0
            try:
                first = self._queue.get(timeout=timeout)
            except queue.Empty:
                if hook_pending:
                    self._run_hook()
                    hook_pending = False
                    last_hook = time.monotonic()
                    continue
                if dirty:
                    self._checkpoint()
                    dirty = False
                if time.monotonic() - last_drain >= self.drain_interval_s:
                    self._drain()
                    last_drain = time.monotonic()
                continue
            work: list[_Work] = []
            spans = 0
            item = first
            while True:
                if item is _STOP:
                    stopping = True
                else:
                    assert isinstance(item, _Work)
                    work.append(item)
                    spans += item.batch.table.num_rows
                if spans >= _COALESCE_SPANS:
                    break
                try:
                    item = self._queue.get_nowait()
                except queue.Empty:
                    break
            if work and self._commit(work):
                dirty = True
                hook_pending = self.after_commit is not None
            # The hook (a classifier refresh) runs at most once per interval under load,
            # and as soon as the queue is quiet.
            if hook_pending and time.monotonic() - last_hook >= self.after_commit_interval_s:
                self._run_hook()
                hook_pending = False
                last_hook = time.monotonic()
            if stopping and self._queue.empty():
                if hook_pending:
                    self._run_hook()
                return

    def _commit(self, work: Sequence[_Work]) -> int:
        """Commits work in one transaction, then answers each request; returns spans stored."""
        store = self._store
        assert store is not None
        try:
            counts: list[int | BaseException] = list(append_many(store, [w.batch for w in work]))
        except Exception as exc:  # noqa: BLE001 - answered as 503; the writer must go on
            if len(work) == 1:
                counts = [exc]
            else:
                # One bad request must not fail the others it was coalesced with.
                counts = []
                for w in work:
                    try:
                        counts.extend(append_many(store, [w.batch]))
                    except Exception as single:  # noqa: BLE001
                        counts.append(single)
            _log.warning("seamscope: a write failed: %s", exc)
        stored = 0
        duplicate = 0
        tee_lines: list[str] = []
        for w, count in zip(work, counts, strict=True):
            if isinstance(count, int):
                stored += count
                if not count:
                    duplicate += w.batch.table.num_rows
                elif w.tee_line is not None and self._tee is not None:
                    tee_lines.append(w.tee_line)
        if tee_lines and self._tee is not None:
            try:
                self._tee.write("\n".join(tee_lines) + "\n")
                self._tee.flush()
            except OSError as exc:
                _log.warning("seamscope: cannot write the tee file: %s", exc)
        if stored:
            row = store.con.execute("SELECT coalesce(max(batch_id), 0) FROM batches").fetchall()
            self._watermark = int(row[0][0]) if row else self._watermark
        with self._stats_lock:
            self.stats.stored += stored
            self.stats.duplicate += duplicate
        for w, count in zip(work, counts, strict=True):
            w.done(count)
        return stored

    def _checkpoint(self) -> None:
        if self._store is not None:
            try:
                self._store.con.execute("CHECKPOINT")
            except duckdb.Error as exc:
                _log.warning("seamscope: checkpoint failed: %s", exc)

    def _drain(self) -> None:
        """Appends what exporters spooled while nobody owned the store."""
        store = self._store
        if store is None:
            return
        try:
            from seamscope.tracer.spool import drain_spool
        except ImportError:
            return
        try:
            drained = drain_spool(store)
        except Exception as exc:  # noqa: BLE001 - the spool waits for the next try
            _log.warning("seamscope: draining the spool failed: %s", exc)
            return
        if drained:
            with self._stats_lock:
                self.stats.drained += drained
            row = store.con.execute("SELECT coalesce(max(batch_id), 0) FROM batches").fetchall()[0]
            self._watermark = int(row[0]) if row else self._watermark
            if threading.current_thread() is self._writer:
                self._run_hook()

    # -- HTTP ------------------------------------------------------------------------------

    async def _handle_root(self, request: web.Request) -> web.Response:
        return web.Response(
            text=f"seamscope receiver for {self.db_path}: POST OTLP to {TRACES_PATH}\n"
        )

    def _error(self, status: int, message: str, json_format: bool) -> web.Response:
        body, ctype = _status_body(message, json_format)
        return web.Response(status=status, body=body, content_type=ctype)

    async def _handle_traces(self, request: web.Request) -> web.Response:
        # Backpressure: past MAX_INFLIGHT requests being read, decoded or committed, new ones
        # wait here (and their senders in TCP) instead of piling up in memory.
        assert self._inflight is not None
        async with self._inflight:
            return await self._receive_traces(request)

    async def _receive_traces(self, request: web.Request) -> web.Response:
        ctype = request.content_type
        if ctype == "application/json":
            json_format = True
        elif ctype in ("application/x-protobuf", "application/protobuf"):
            json_format = False
        else:
            return web.Response(
                status=415,
                text=f"content type {ctype!r} is not OTLP: send application/x-protobuf "
                "or application/json\n",
            )
        encoding = request.headers.get("Content-Encoding", "identity").strip().lower()
        if encoding not in ("identity", "", "gzip", "x-gzip", "deflate"):
            return self._error(
                415, f"content encoding {encoding!r} is not supported (gzip, deflate)", json_format
            )
        length = request.content_length
        if length is not None and length > self.max_body_bytes:
            return self._error(
                413,
                f"the body is {length} bytes, over the limit of {self.max_body_bytes}",
                json_format,
            )
        try:
            body = await request.read()
        except web.HTTPRequestEntityTooLarge:
            return self._error(
                413, f"the body is over the limit of {self.max_body_bytes} bytes", json_format
            )
        header_key = request.headers.get(BATCH_KEY_HEADER)
        if header_key is not None:
            header_key = header_key.strip()
            if not header_key or len(header_key) > _MAX_KEY_LEN or not header_key.isprintable():
                header_key = batch_key(header_key.encode("utf-8", "replace"), "header")
        loop = asyncio.get_running_loop()
        assert self._decoders is not None
        with self._stats_lock:
            self.stats.requests += 1
        try:
            result, table, key, tee_line = await loop.run_in_executor(
                self._decoders,
                decode_request,
                body,
                encoding,
                json_format,
                header_key,
                self.max_body_bytes,
                self._tee is not None,
            )
        except BrokenProcessPool:
            self._replace_broken_pool()
            with self._stats_lock:
                self.stats.bad_requests += 1
            response = self._error(503, "a decoder process stopped; send again", json_format)
            response.headers["Retry-After"] = "1"
            return response
        except _TooLarge as exc:
            with self._stats_lock:
                self.stats.bad_requests += 1
            return self._error(413, str(exc), json_format)
        except OtlpError as exc:
            with self._stats_lock:
                self.stats.bad_requests += 1
            return self._error(400, str(exc), json_format)
        with self._stats_lock:
            self.stats.received += result.accepted
            self.stats.rejected += result.rejected
        if result.rejected and not result.accepted:
            return self._error(400, f"no span could be stored: {result.error_message}", json_format)
        stored = 0
        if result.accepted:
            future: asyncio.Future[int | BaseException] = loop.create_future()

            def settle(outcome: int | BaseException) -> None:
                if not future.done():  # cancelled when shutdown ran out of patience
                    future.set_result(outcome)

            def done(outcome: int | BaseException) -> None:
                # Runs in the writer thread; a closed loop must not stop the writer.
                with contextlib.suppress(RuntimeError):
                    loop.call_soon_threadsafe(settle, outcome)

            self._queue.put(_Work(Batch(table, key, SOURCE), done, tee_line))
            outcome = await future
            if isinstance(outcome, BaseException):
                text = str(outcome).splitlines()[0] if str(outcome) else type(outcome).__name__
                response = self._error(
                    503, f"the store could not take the spans: {text}", json_format
                )
                response.headers["Retry-After"] = "1"
                return response
            stored = outcome
        response = web.Response(
            status=200,
            body=response_body(result, json_format=json_format),
            content_type="application/json" if json_format else "application/x-protobuf",
        )
        response.headers[STORED_HEADER] = str(stored)
        response.headers["X-Seamscope-Accepted"] = str(result.accepted)
        return response

    # -- SQL -------------------------------------------------------------------------------

    def query(self, sql: str, params: Sequence[Any] | None = None) -> pa.Table:
        """Runs one read-only query on a cursor of the owner's connection; any thread."""
        table, _ = self._run_sql(sql, params, None)
        return table

    def _run_sql(
        self, sql: str, params: Sequence[Any] | None, limit: int | None
    ) -> tuple[pa.Table, bool]:
        store = self._store
        if store is None:
            raise SeamscopeError(f"{self.db_path}: the receiver is not running")
        with self._cursor_lock:
            cursor = store.con.cursor()
        timer = threading.Timer(self.sql_timeout_s, cursor.interrupt)
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
                f"the query ran longer than {self.sql_timeout_s:.0f} s and was stopped"
            ) from None
        except duckdb.Error as exc:
            raise SqlRejected(str(exc).splitlines()[0]) from None
        finally:
            timer.cancel()
            cursor.close()
        return table, truncated

    async def _handle_sql(self, request: web.Request) -> web.Response:
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
        limit = payload.get("limit", self.sql_row_limit)
        if not isinstance(limit, int) or limit <= 0:
            limit = self.sql_row_limit
        limit = min(limit, self.sql_row_limit)
        want_json = payload.get("format") == "json" or "application/json" in request.headers.get(
            "Accept", ""
        )
        loop = asyncio.get_running_loop()
        assert self._sql_pool is not None
        try:
            table, truncated = await loop.run_in_executor(
                self._sql_pool, self._run_sql, payload["sql"], params, limit
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
