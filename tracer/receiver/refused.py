"""What the receiver refused, said in its log: one line per refused request (who sent it, what
it asked for, the status and the reason its sender was given), escaped, and past a burst of
lines at most one a second, so that a flood of hostile requests can neither fill the log nor
drive the terminal it goes to. A request the HTTP parser cannot read (no Host header, a header
too long, a length that lies, bytes that are no HTTP) is said the same way, in one line, where
aiohttp logged a traceback of its parser for each.
"""

from __future__ import annotations

import logging
import time
import weakref

from aiohttp import web
from aiohttp.http_exceptions import HttpProcessingError
from aiohttp.typedefs import Handler, Middleware

from seamscope.tracer.terminal import plural, safe

_log = logging.getLogger("seamscope.tracer.receiver")
BURST = 50
"""Lines said at once; past them, one a second (the refusals in between are counted in the next
line)."""
LINES_PER_S = 1.0
_REASONS: weakref.WeakKeyDictionary[web.StreamResponse, str] = weakref.WeakKeyDictionary()


def with_reason(response: web.Response, reason: str) -> web.Response:
    """response, remembered as refused for reason (what its body tells the sender)."""
    _REASONS[response] = reason
    return response


def _clip(text: str, limit: int) -> str:
    text = safe(text)
    return text if len(text) <= limit else text[: limit - 3] + "..."


class Refusals:
    """The receiver's refusals, said in its log (the event loop's thread only)."""

    def __init__(self, burst: int = BURST, lines_per_s: float = LINES_PER_S) -> None:
        self.burst = burst
        self.lines_per_s = lines_per_s
        self.count = 0
        self._held = 0
        self._tokens = float(burst)
        self._last = time.monotonic()

    def say(self, peer: str | None, what: str, status: int, reason: str) -> None:
        """One refusal: a line now, or counted in the next line when one was said just now."""
        self.count += 1
        now = time.monotonic()
        self._tokens = min(self.burst, self._tokens + (now - self._last) * self.lines_per_s)
        self._last = now
        if self._tokens < 1:
            self._held += 1
            return
        self._tokens -= 1
        held = self._held
        self._held = 0
        more = f" ({plural(held, 'other refusal')} since the last line)" if held else ""
        _log.warning(
            "refused %s from %s: %d %s%s",
            _clip(what, 120),
            _clip(peer or "?", 60),
            status,
            _clip(reason, 240),
            more,
        )

    def flush(self) -> None:
        """Says the refusals still counted and not said (when the receiver stops)."""
        if self._held:
            _log.warning("%s since the last line", plural(self._held, "other refusal"))
            self._held = 0

    def middleware(self) -> Middleware:
        """Says the refusals the guard and the handlers made (`with_reason`), and the routes
        that do not exist. A query's own error, answered to the store's user, is no refusal."""

        @web.middleware
        async def said(request: web.Request, handler: Handler) -> web.StreamResponse:
            what = f"{request.method} {request.raw_path}"
            try:
                response = await handler(request)
            except web.HTTPException as exc:
                if exc.status >= 400:
                    self.say(request.remote, what, exc.status, exc.reason)
                raise
            reason = _REASONS.get(response)
            if reason is not None:
                self.say(request.remote, what, response.status, reason)
            return response

        return said

    def http_logger(self) -> logging.Logger:
        """A logger for aiohttp's server: a request its parser refused is said as a refusal,
        in one line; anything else (a handler's failure) goes on to the log with its traceback."""
        logger = logging.Logger("seamscope.tracer.receiver.http", logging.DEBUG)
        logger.parent = _log
        logger.addFilter(_Malformed(self))
        return logger


class _Malformed(logging.Filter):
    def __init__(self, refusals: Refusals) -> None:
        super().__init__()
        self.refusals = refusals

    def filter(self, record: logging.LogRecord) -> bool:
        exc = record.exc_info[1] if record.exc_info else None
        if isinstance(exc, HttpProcessingError):
            args = record.args if isinstance(record.args, tuple) else ()
            peer = str(args[0]) if args else None
            lines = [line.strip() for line in (exc.message or "").splitlines() if line.strip()]
            reason = lines[0].rstrip(":") if lines else type(exc).__name__
            self.refusals.say(peer, "a request that is no valid HTTP", exc.code, reason)
            return False
        return record.levelno >= logging.WARNING
