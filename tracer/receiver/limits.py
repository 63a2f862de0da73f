"""What a connection or a request may cost the receiver, so that no client, slow or hostile, can
stall intake for the others.

- `Connections`: at most a number of open connections (past it a new one gets ``503`` with
  ``Retry-After`` and is closed), and a connection that is not inside a request (still sending
  its headers, or idle between requests) for longer than the idle timeout is closed.
- `read_body`: a body is read with a timeout between chunks and one for the whole body, within
  the size limit, and within a budget of bytes that all bodies being read may hold at once. A
  body the HTTP parser gives up on half-way (a malformed chunk or trailer) is refused at once,
  and so is one whose sender hangs up.

Only a body read whole takes one of the receiver's request slots (see `server`), so connections
that send headers and then nothing hold no slot.
"""

from __future__ import annotations

import asyncio
import contextlib
import resource
import time

from aiohttp import web
from aiohttp.http_exceptions import HttpProcessingError
from aiohttp.typedefs import Handler, Middleware

from seamscope.tracer.receiver.refused import Refusals

IDLE_TIMEOUT_S = 15.0
"""Longest a connection may take to send a request's headers, or stay idle between requests."""
READ_GAP_S = 10.0
"""Longest wait for the next piece of a body."""
BODY_TIMEOUT_S = 60.0
"""Longest time to receive one whole body."""
RETRY_AFTER_S = 1
MAX_HEADERS = 32
"""Header fields a request may have (aiohttp allows 128): an OTLP sender sends about ten. Each
may be 8 KB (aiohttp's max_field_size), and a connection may hold them unfinished until the
idle timeout, so this bounds what headers alone can take: 450 connections holding 120 fields
of 8 KB each took the receiver from 178 MB to 1,051 MB."""
_BUSY_LINGER_S = 1.0
_MAX_LINGERING = 64


def default_max_connections() -> int:
    """Open connections allowed: half the file descriptors this process may open, at most 512
    (the rest are for the store, the decoders, the log and the tee)."""
    soft, _ = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft == resource.RLIM_INFINITY:
        return 512
    return max(8, min(512, (soft - 64) // 2))


class BodyError(Exception):
    """The body could not be read; status is the answer (408, 413, 503)."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status


class BodyBudget:
    """Bytes held at once by the bodies of requests not answered yet (the event loop's thread
    only): read, waiting for a slot, or being decoded."""

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self.held = 0

    def release(self, body: bytes) -> None:
        """Gives back what a body read by `read_body` held."""
        self.held -= len(body)


def _first_line(exc: Exception) -> str:
    """What the parser said, in one line: aiohttp's messages start with "400, message:"."""
    text = exc.message if isinstance(exc, HttpProcessingError) else str(exc)
    lines = [line.strip() for line in (text or "").splitlines() if line.strip()]
    if len(lines) > 1 and lines[0].endswith("message:"):
        lines = lines[1:]
    return lines[0].rstrip(":") if lines else type(exc).__name__


async def read_body(
    request: web.Request,
    max_bytes: int,
    budget: BodyBudget,
    *,
    timeout_s: float = BODY_TIMEOUT_S,
) -> bytes:
    """The whole body of request, charged to budget until `BodyBudget.release`; raises
    BodyError when it is too slow (more than timeout_s in all, or READ_GAP_S without a byte),
    too large, would take more than the budget has left, is no valid HTTP past some point (a
    chunk or a trailer), or its sender hung up."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout_s
    too_slow = f"the body took longer than {timeout_s:g} s to arrive"
    chunks: list[bytes] = []
    size = 0
    try:
        while True:
            left = deadline - loop.time()
            if left <= 0:
                raise BodyError(408, too_slow)
            try:
                async with asyncio.timeout(min(READ_GAP_S, left)):
                    chunk = await request.content.readany()
            except TimeoutError:
                if left < READ_GAP_S:  # the whole body's time ran out, not a gap's
                    raise BodyError(408, too_slow) from None
                raise BodyError(
                    408, f"no part of the body arrived for {READ_GAP_S:.0f} s"
                ) from None
            except (HttpProcessingError, web.RequestPayloadError) as exc:
                # The C parser's error (told by _Intake), or the pure-Python parser's.
                raise BodyError(400, f"the body is no valid HTTP: {_first_line(exc)}") from None
            except ConnectionError:
                raise BodyError(
                    400, "the sender closed the connection before the body ended"
                ) from None
            if not chunk:
                return b"".join(chunks)
            if size + len(chunk) > max_bytes:
                raise BodyError(413, f"the body is over the limit of {max_bytes} bytes")
            if budget.held + len(chunk) > budget.limit:
                raise BodyError(503, "the receiver holds too many bodies at once")
            budget.held += len(chunk)
            size += len(chunk)
            chunks.append(chunk)
    except BaseException:
        budget.held -= size
        raise


async def drain_refused(request: web.Request, cap: int) -> None:
    """Reads and drops what is left of a refused request's body when it is at most cap bytes
    (a Content-Length that says so, or a body without one that ends within cap), within one
    read gap in all: its sender, still sending, then reads its answer where it would get a
    reset connection (http.client, and senders like it, never read an answer once a write
    failed). A longer body is left unread, and its connection closed with the answer."""
    body = request.content
    length = request.content_length
    if body.is_eof() or (length is not None and length > cap):
        return
    taken = 0
    try:
        async with asyncio.timeout(READ_GAP_S):
            while taken <= cap:
                chunk = await body.readany()
                if not chunk:
                    return
                taken += len(chunk)
    except (TimeoutError, HttpProcessingError, web.RequestPayloadError, ConnectionError):
        return


class _Busy(asyncio.Protocol):
    """Answers a connection over the limit with 503 and closes it."""

    def __init__(self, owner: Connections) -> None:
        self.owner = owner

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        if self.owner.refusals is not None:
            peer = transport.get_extra_info("peername")
            self.owner.refusals.say(
                str(peer[0]) if isinstance(peer, tuple) and peer else None,
                "a connection",
                503,
                f"too many open connections (the limit is {self.owner.limit})",
            )
        body = b'{"error": "too many open connections; retry in a moment"}'
        transport.write(
            b"HTTP/1.1 503 Service Unavailable\r\n"
            b"Content-Type: application/json\r\n"
            + f"Retry-After: {RETRY_AFTER_S}\r\nContent-Length: {len(body)}\r\n".encode()
            + b"Connection: close\r\n\r\n"
            + body
        )
        # Closing at once, with the request unread, could reset the connection before the
        # client reads the answer; a moment's grace, for a bounded number of them.
        owner = self.owner
        if owner.lingering >= _MAX_LINGERING:
            transport.close()
            return
        owner.lingering += 1

        def close() -> None:
            owner.lingering -= 1
            transport.close()

        asyncio.get_running_loop().call_later(_BUSY_LINGER_S, close)

    def data_received(self, data: bytes) -> None:
        return None


class _Intake(asyncio.Protocol):
    """aiohttp's protocol for one connection, which also tells the request whose body is being
    read when the HTTP parser gives up on the rest of it (a malformed chunk size, a trailer
    past the limits or without a colon). aiohttp's C parser queues that error as the next
    request's and leaves the body waiting for bytes it will never hand over: the sender got a
    408 once read_body's gap ran out instead of a 400 at once. Reaches into aiohttp's
    RequestHandler (its queue of parsed messages and the request being handled); where those
    are not found, the 408 is what remains."""

    def __init__(self, inner: web.RequestHandler, refusals: Refusals | None = None) -> None:
        self.inner = inner
        self.refusals = refusals

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.inner.connection_made(transport)

    def connection_lost(self, exc: Exception | None) -> None:
        self.inner.connection_lost(exc)

    def pause_writing(self) -> None:
        self.inner.pause_writing()

    def resume_writing(self) -> None:
        self.inner.resume_writing()

    def eof_received(self) -> bool | None:
        return self.inner.eof_received()  # type: ignore[func-returns-value]

    def data_received(self, data: bytes) -> None:
        inner = self.inner
        try:
            inner.data_received(data)
        except ValueError:
            # aiohttp's pure-Python parser converts a Content-Length with int(): past 4,300
            # digits Python refuses, and the error escaped to the event loop (a traceback, the
            # connection dropped unanswered).
            self._refuse("a number in its headers is too long")
            return
        messages = getattr(inner, "_messages", None)
        if not messages:
            return
        failure = getattr(messages[-1][0], "exc", None)
        request = getattr(inner, "_current_request", None)
        if not isinstance(failure, HttpProcessingError) or request is None:
            return
        body = request.content
        if not body.is_eof() and body.exception() is None:
            body.set_exception(failure)

    def _refuse(self, reason: str) -> None:
        transport = self.inner.transport
        if transport is None:
            return
        if self.refusals is not None:
            peer = transport.get_extra_info("peername")
            self.refusals.say(
                str(peer[0]) if isinstance(peer, tuple) and peer else None,
                "a request that is no valid HTTP",
                400,
                reason,
            )
        body = f'{{"error": "{reason}"}}'.encode()
        transport.write(
            b"HTTP/1.1 400 Bad Request\r\nContent-Type: application/json\r\n"
            + f"Content-Length: {len(body)}\r\nConnection: close\r\n\r\n".encode()
            + body
        )
        self.inner.force_close()


class Connections:
    """The connection limit and the idle timeout of one aiohttp server."""

    def __init__(
        self,
        *,
        limit: int,
        idle_timeout_s: float,
        refusals: Refusals | None = None,
        drain_bytes: int = 0,
    ) -> None:
        self.server: web.Server | None = None
        self.refusals = refusals
        self.drain_bytes = drain_bytes
        """A refused request's body is read on (and dropped) when it is at most this long:
        drain_refused."""
        self.limit = limit
        self.idle_timeout_s = idle_timeout_s
        self.refused = 0
        self.closed_idle = 0
        self.lingering = 0
        self._busy: set[asyncio.BaseTransport] = set()
        self._since: dict[asyncio.BaseTransport, float] = {}

    def attach(self, server: web.Server) -> None:
        """The server whose connections these are (once its runner is set up)."""
        self.server = server

    def factory(self) -> asyncio.BaseProtocol:
        """The protocol for a new connection: aiohttp's, or a refusal past the limit."""
        assert self.server is not None
        if len(self.server.connections) >= self.limit:
            self.refused += 1
            return _Busy(self)
        return _Intake(self.server(), self.refusals)

    def middleware(self) -> Middleware:
        """Marks a connection busy while one of its requests is being handled; reads on what
        is left of a refused body, within drain_bytes (drain_refused)."""

        @web.middleware
        async def track(request: web.Request, handler: Handler) -> web.StreamResponse:
            transport = request.transport
            if transport is None:
                return await handler(request)
            self._busy.add(transport)
            try:
                response = await handler(request)
                if response.status >= 400 and response.status != 408 and self.drain_bytes:
                    await drain_refused(request, self.drain_bytes)
                return response
            finally:
                self._busy.discard(transport)
                self._since[transport] = time.monotonic()

        return track

    async def watch(self) -> None:
        """Closes connections idle (or still sending headers) past the timeout; runs forever."""
        period = max(0.05, min(1.0, self.idle_timeout_s / 4))
        while True:
            await asyncio.sleep(period)
            self.sweep()

    def sweep(self) -> None:
        if self.server is None:
            return
        now = time.monotonic()
        live: set[asyncio.BaseTransport] = set()
        for handler in self.server.connections:
            transport = handler.transport
            if transport is None or transport.is_closing():
                continue
            live.add(transport)
            if transport in self._busy:
                continue
            since = self._since.setdefault(transport, now)
            if now - since > self.idle_timeout_s:
                self.closed_idle += 1
                with contextlib.suppress(Exception):
                    transport.close()
        for gone in set(self._since) - live:
            del self._since[gone]
        self._busy &= live
