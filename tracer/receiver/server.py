"""The HTTP side of the receiver: aiohttp on a background thread with its own event loop.

``POST /v1/traces`` takes OTLP (protobuf or JSON, gzip or deflate, chunked or not): the handler
checks the request, hands the body to the decoders, queues the spans for the writer and answers
once they are committed. ``POST /seamscope/v1/sql`` is the SQL endpoint's. The record endpoints
(``POST /seamscope/v1/aws-routes`` from `seamscope discover aws`, ``POST
/seamscope/v1/s3-objects`` from `seamscope ingest s3://...`) take JSON that their module
checks and turns into work for the writer. What a request may cost (body size, requests in
flight) is bounded here.
"""

from __future__ import annotations

import asyncio
import contextlib
import errno
import functools
import json
import socket
import threading
from collections.abc import Callable
from concurrent.futures.process import BrokenProcessPool
from pathlib import Path
from typing import Any

from aiohttp import web

from seamscope.tracer.decoding import batch_key
from seamscope.tracer.discover import routes_writer
from seamscope.tracer.errors import SeamscopeError
from seamscope.tracer.ingest import REPAIRED_HEADER, STORED_HEADER, Batch
from seamscope.tracer.otlp import OtlpError, TooLarge, response_body
from seamscope.tracer.owner import (
    BATCH_KEY_HEADER,
    OBJECTS_PATH,
    ROUTES_PATH,
    SQL_PATH,
    TRACES_PATH,
)
from seamscope.tracer.receiver.decode import Decoders
from seamscope.tracer.receiver.guard import Guard
from seamscope.tracer.receiver.limits import (
    BODY_TIMEOUT_S,
    IDLE_TIMEOUT_S,
    MAX_HEADERS,
    RETRY_AFTER_S,
    BodyBudget,
    BodyError,
    Connections,
    default_max_connections,
    read_body,
)
from seamscope.tracer.receiver.refused import Refusals, with_reason
from seamscope.tracer.receiver.sql import SqlEndpoint
from seamscope.tracer.receiver.stats import ReceiverStats
from seamscope.tracer.receiver.writer import Task, Work, Writer
from seamscope.tracer.s3_ingest import objects_writer
from seamscope.tracer.store import Store

RecordsWriter = Callable[[object], Callable[[Store], int]]
"""Checks a record endpoint's JSON (ValueError says what is wrong) and returns the write."""

RECORD_ENDPOINTS: dict[str, RecordsWriter] = {
    ROUTES_PATH: routes_writer,
    OBJECTS_PATH: objects_writer,
}

SOURCE = "otlp-http"
MAX_INFLIGHT = 64
OWNER_CHECK_S = 1.0
"""How often the server looks whether its owner file became readable by others or changed
(Guard.refresh), besides before each request that needs the secret."""
_MAX_KEY_LEN = 200


class PortInUse(SeamscopeError):
    pass


def bind(host: str, port: int) -> socket.socket:
    """A listening socket on host:port (0: any free port); one-line errors."""
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
        family = infos[0][0]
        return socket.create_server((host, port), family=family)
    except OSError as exc:
        if exc.errno == errno.EADDRINUSE:
            raise PortInUse(
                f"{host}:{port}: the port is in use by another process (pick another with --port)"
            ) from None
        raise SeamscopeError(f"{host}:{port}: cannot listen ({exc.strerror or exc})") from None


def _status_body(message: str, json_format: bool) -> tuple[bytes, str]:
    """An OTLP error body: google.rpc.Status (JSON or protobuf), plain text as a fallback."""
    if json_format:
        return json.dumps({"code": 3, "message": message}).encode(), "application/json"
    try:
        from google.rpc.status_pb2 import Status  # type: ignore[import-untyped]
    except ImportError:
        return message.encode(), "text/plain"
    return Status(code=3, message=message).SerializeToString(), "application/x-protobuf"


def content_encoding(request: web.Request) -> str:
    """The body's encodings as one list, lowercased: HTTP reads several Content-Encoding fields
    as one comma-separated list (RFC 9110, 5.3), so two fields stack two encodings, as
    "gzip, deflate" does. Only the first was read: the body was inflated once, and refused
    for what that gave, not for what it was."""
    fields = request.headers.getall("Content-Encoding", ())
    return ", ".join(field.strip() for field in fields).lower() or "identity"


def _error(status: int, message: str, json_format: bool) -> web.Response:
    body, ctype = _status_body(message, json_format)
    return with_reason(web.Response(status=status, body=body, content_type=ctype), message)


def _json_error(status: int, message: str, **kwargs: Any) -> web.Response:
    return with_reason(web.json_response({"error": message}, status=status, **kwargs), message)


class Server:
    """Serves the receiver's routes on a socket that already listens."""

    def __init__(
        self,
        db_path: Path,
        *,
        max_body_bytes: int,
        decoders: Decoders,
        writer: Writer,
        sql: SqlEndpoint,
        stats: ReceiverStats,
        tee: bool,
        guard: Guard,
        max_connections: int | None = None,
        idle_timeout_s: float = IDLE_TIMEOUT_S,
        body_timeout_s: float = BODY_TIMEOUT_S,
    ) -> None:
        self.db_path = db_path
        self.body_timeout_s = body_timeout_s
        self.guard = guard
        self.refusals = Refusals()
        self.connections = Connections(
            limit=max_connections or default_max_connections(),
            idle_timeout_s=idle_timeout_s,
            refusals=self.refusals,
            # A body refused unread costs at most what one at the limit costs, read on.
            drain_bytes=2 * max_body_bytes,
        )
        self.body_budget = BodyBudget(max(256 * 1024 * 1024, 4 * max_body_bytes))
        self.max_body_bytes = max_body_bytes
        self.decoders = decoders
        self.writer = writer
        self.sql = sql
        self.stats = stats
        self.tee = tee
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._inflight: asyncio.Semaphore | None = None

    def start(self, sock: socket.socket) -> None:
        """Serves sock on a thread of its own; returns once it serves, raises if it cannot."""
        ready = threading.Event()
        failure: list[BaseException] = []
        self._thread = threading.Thread(
            target=self._serve, args=(sock, ready, failure), name="seamscope-receiver", daemon=True
        )
        self._thread.start()
        ready.wait()
        if failure:
            self._thread = None
            raise failure[0]

    def stop(self) -> None:
        """Stops accepting and answers what is in flight (the writer still commits)."""
        loop = self._loop
        if loop is not None and self._thread is not None:
            loop.call_soon_threadsafe(loop.stop)
            self._thread.join()
            self._thread = None

    def _serve(
        self, sock: socket.socket, ready: threading.Event, failure: list[BaseException]
    ) -> None:
        loop = asyncio.new_event_loop()
        self._loop = loop
        asyncio.set_event_loop(loop)
        self._inflight = asyncio.Semaphore(MAX_INFLIGHT)
        app = web.Application(
            client_max_size=self.max_body_bytes,
            middlewares=[
                self.refusals.middleware(),
                self.connections.middleware(),
                self.guard.middleware(),
            ],
        )
        app.router.add_post(TRACES_PATH, self._handle_traces, expect_handler=self._expect_traces)
        app.router.add_post(SQL_PATH, self.sql.handle, expect_handler=self._expect_guarded)
        for path, parse in RECORD_ENDPOINTS.items():
            app.router.add_post(
                path,
                functools.partial(self._handle_records, parse),
                expect_handler=self._expect_guarded,
            )
        app.router.add_get("/", self._handle_root)
        runner = web.AppRunner(
            app,
            access_log=None,
            logger=self.refusals.http_logger(),
            handle_signals=False,
            auto_decompress=False,
            shutdown_timeout=10.0,
            keepalive_timeout=self.connections.idle_timeout_s,
            # A body refused before it was read whole is not read on past
            # Connections.drain_bytes (aiohttp read and dropped whatever followed for up to
            # 10 s): the answer goes out, the connection is closed.
            lingering_time=0,
            max_headers=MAX_HEADERS,
        )
        try:
            loop.run_until_complete(runner.setup())
            assert runner.server is not None
            self.connections.attach(runner.server)
            # Our own listener instead of an aiohttp site: its factory enforces the limit.
            listener = loop.run_until_complete(
                loop.create_server(self.connections.factory, sock=sock)
            )
        except BaseException as exc:  # noqa: BLE001 - handed to start()
            failure.append(exc)
            ready.set()
            loop.close()
            return
        watch = loop.create_task(self.connections.watch())
        owner_watch = loop.create_task(self._watch_owner_file())
        ready.set()
        try:
            loop.run_forever()
        finally:
            listener.close()
            watch.cancel()
            owner_watch.cancel()
            loop.run_until_complete(runner.cleanup())
            self.refusals.flush()
            loop.close()

    async def _watch_owner_file(self) -> None:
        while True:
            await asyncio.sleep(OWNER_CHECK_S)
            self.guard.refresh()

    async def _handle_root(self, request: web.Request) -> web.Response:
        return web.Response(
            text=f"seamscope receiver for {self.db_path}: POST OTLP to {TRACES_PATH}\n"
        )

    def _refused_unread(self, request: web.Request) -> web.Response | None:
        """The answer that refuses an OTLP request by its headers alone (its type, its
        encoding, a length past the limit), or None when its body is to be read."""
        ctype = request.content_type
        if ctype == "application/json":
            json_format = True
        elif ctype in ("application/x-protobuf", "application/protobuf"):
            json_format = False
        else:
            message = (
                f"content type {ctype!r} is not OTLP: send application/x-protobuf "
                "or application/json"
            )
            return with_reason(web.Response(status=415, text=message + "\n"), message)
        encoding = content_encoding(request)
        if encoding not in ("identity", "", "gzip", "x-gzip", "deflate", "zstd"):
            return _error(
                415,
                f"content encoding {encoding!r} is not supported (gzip, deflate, zstd)",
                json_format,
            )
        length = request.content_length
        if length is not None and length > self.max_body_bytes:
            return _error(
                413,
                f"the body is {length} bytes, over the limit of {self.max_body_bytes}",
                json_format,
            )
        return None

    async def _expect_traces(self, request: web.Request) -> None:
        """``Expect: 100-continue`` (curl sends it for bodies over 1 MB): "100 Continue" only
        for a request whose body will be read. aiohttp's own handler said it to every request,
        before the guard and the checks ran, so a sender told to go on sent a body of any size
        only to be refused."""
        await self._expect_guarded(request, check=self._refused_unread)

    async def _expect_guarded(
        self,
        request: web.Request,
        check: Callable[[web.Request], web.Response | None] | None = None,
    ) -> None:
        """``Expect: 100-continue`` on the other routes: "100 Continue" only for a request the
        guard lets through (one without the secret is refused before it sends its body)."""
        expect = request.headers.get("Expect", "")
        if tuple(request.version) != (1, 1):
            return
        if expect.lower() != "100-continue":
            raise web.HTTPExpectationFailed(text=f"Unknown Expect: {expect[:80]}")
        if self.guard.refusal(request) is None and (check is None or check(request) is None):
            await request.writer.write(b"HTTP/1.1 100 Continue\r\n\r\n")
            request.writer.output_size = 0  # as aiohttp's own: the answer has not begun

    async def _handle_traces(self, request: web.Request) -> web.Response:
        refused = self._refused_unread(request)
        if refused is not None:
            self.stats.add(bad_requests=1)
            return refused
        json_format = request.content_type == "application/json"
        encoding = content_encoding(request)
        try:
            body = await read_body(
                request, self.max_body_bytes, self.body_budget, timeout_s=self.body_timeout_s
            )
        except BodyError as exc:
            response = _error(exc.status, str(exc), json_format)
            if exc.status == 503:  # the receiver's memory is busy: the sender retries
                response.headers["Retry-After"] = str(RETRY_AFTER_S)
            else:  # too large, or too slow: refused whole, its spans never seen
                self.stats.add(bad_requests=1)
            response.force_close()
            return response
        # Backpressure: past MAX_INFLIGHT requests being decoded or committed, new ones wait
        # here (and their senders in TCP) instead of piling up in memory. Only a body read
        # whole takes a slot: a sender that stalls holds none.
        assert self._inflight is not None
        try:
            async with self._inflight:
                return await self._store(request, body, encoding, json_format)
        finally:
            self.body_budget.release(body)

    async def _store(
        self, request: web.Request, body: bytes, encoding: str, json_format: bool
    ) -> web.Response:
        header_key = request.headers.get(BATCH_KEY_HEADER)
        if header_key is not None:
            header_key = header_key.strip()
            if not header_key or len(header_key) > _MAX_KEY_LEN or not header_key.isprintable():
                header_key = batch_key(header_key.encode("utf-8", "replace"), "header")
        self.stats.add(requests=1)
        # The writer may hold a commit back for this request while it is decoded; every path
        # below settles the announcement (queued, or given up).
        self.writer.expect()
        queued = False
        try:
            try:
                result, table, key, tee_line = await self.decoders.decode(
                    body, encoding, json_format, header_key, self.max_body_bytes, self.tee
                )
            except BrokenProcessPool:
                self.stats.add(bad_requests=1)
                response = _error(503, "a decoder process stopped; send again", json_format)
                response.headers["Retry-After"] = "1"
                return response
            except TooLarge as exc:
                self.stats.add(bad_requests=1)
                return _error(413, str(exc), json_format)
            except OtlpError as exc:
                self.stats.add(bad_requests=1)
                return _error(400, str(exc), json_format)
            self.stats.add(
                received=result.accepted, rejected=result.rejected, repaired=result.repaired
            )
            if result.rejected and not result.accepted:
                return _error(400, f"no span could be stored: {result.error_message}", json_format)
            stored = 0
            if result.accepted:
                queued = True
                outcome = await self._written(
                    lambda done: Work(Batch(table, key, SOURCE), done, tee_line), expected=True
                )
                if isinstance(outcome, BaseException):
                    text = str(outcome).splitlines()[0] if str(outcome) else type(outcome).__name__
                    response = _error(
                        503, f"the store could not take the spans: {text}", json_format
                    )
                    response.headers["Retry-After"] = "1"
                    return response
                stored = outcome
        finally:
            if not queued:
                self.writer.unexpect(nudge=True)
        response = web.Response(
            status=200,
            body=response_body(result, json_format=json_format),
            content_type="application/json" if json_format else "application/x-protobuf",
        )
        response.headers[STORED_HEADER] = str(stored)
        response.headers["X-Seamscope-Accepted"] = str(result.accepted)
        response.headers[REPAIRED_HEADER] = str(result.repaired)
        return response

    async def _written(
        self,
        make: Callable[[Callable[[int | BaseException], None]], Work | Task],
        *,
        expected: bool = False,
    ) -> int | BaseException:
        """Queues what make builds for the writer and waits until it is committed (or failed)."""
        loop = asyncio.get_running_loop()
        future: asyncio.Future[int | BaseException] = loop.create_future()

        def settle(outcome: int | BaseException) -> None:
            if not future.done():  # cancelled when shutdown ran out of patience
                future.set_result(outcome)

        def done(outcome: int | BaseException) -> None:
            # Runs in the writer thread; a closed loop must not stop the writer.
            with contextlib.suppress(RuntimeError):
                loop.call_soon_threadsafe(settle, outcome)

        self.writer.submit(make(done), expected=expected)
        return await future

    async def _handle_records(self, parse: RecordsWriter, request: web.Request) -> web.Response:
        """POST JSON records (routes, the S3 ledger): checked, written by the writer, answered
        {"stored": n} once committed."""
        try:
            payload = await request.json()
        except (ValueError, UnicodeDecodeError):
            return _json_error(400, "the body must be JSON")
        except web.HTTPRequestEntityTooLarge:
            return _json_error(413, "the body is too large")
        try:
            write = parse(payload)
        except ValueError as exc:
            return _json_error(400, str(exc))
        # As for spans: only a request read whole takes a slot.
        assert self._inflight is not None
        async with self._inflight:
            outcome = await self._written(lambda done: Task(write, done))
        if isinstance(outcome, BaseException):
            text = str(outcome).splitlines()[0] if str(outcome) else type(outcome).__name__
            return _json_error(
                503,
                f"the store could not take them: {text}",
                headers={"Retry-After": str(RETRY_AFTER_S)},
            )
        return web.json_response({"stored": outcome})
