"""What both OTLP decoders share: the result of one request, its limits, and its errors.

Validation is strict and located: a span with a bad id, a missing field or a value of the
wrong type is rejected and counted (OTLP partial success) with a message such as
``resourceSpans[0].scopeSpans[1].spans[7].traceId: 30 hex digits, want 32``; the valid spans of
the same request are kept. A body that does not parse at all raises OtlpError.

Text that is not valid UTF-8 (raw bytes in protobuf or JSON, or a lone surrogate escape in
JSON) costs neither the request nor the span: each invalid sequence (as Python's
``errors="replace"`` reads it, in both forms alike; or a lone surrogate escape) becomes U+FFFD,
the span is kept with the attribute ``seamscope.invalid_utf8 = true``, and it is counted and
located as `DecodeResult.repaired` (a partial success with no span rejected: a warning).
"""

from __future__ import annotations

import sys
import zlib
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Protocol

from seamscope.tracer.errors import SeamscopeError
from seamscope.tracer.terminal import safe

if TYPE_CHECKING:
    from seamscope.tracer.rows import Piece

# zstd, re-exported for the rest of the package and the tests: the standard library's from
# Python 3.14, its backport before.
if sys.version_info >= (3, 14):
    from compression import zstd as zstd
else:
    from backports import zstd as zstd

MAX_DEPTH = 16
"""How deeply array/kvlist attribute values may nest before the span is rejected."""
MAX_MESSAGES = 10
"""Located messages kept per request; the rest are only counted."""
MAX_VALUE_CHARS = 1_000_000
"""Longest string value (attribute, name) a span may carry; longer ones reject the span."""
MAX_NS = 2**63 - 1
"""The latest time a span may carry (int64 nanoseconds)."""


def one_line(text: str) -> str:
    """text with control characters and lone surrogates escaped: messages stay one line."""
    return safe(text)


class OtlpError(SeamscopeError):
    """The body as a whole is no OTLP trace export request."""

    def __init__(self, message: str) -> None:
        super().__init__(one_line(message))


class TooLarge(Exception):
    """The body inflates past the size limit."""


MAX_EMPTY_GROUPS = 1_024
"""resourceSpans and scopeSpans without a single span a request may hold. Each costs a decoder
about a microsecond to walk and two bytes to send: 6 MB of empty resourceSpans took a decoder
2.6 s of CPU (a plain request of the same size, 0.3 s). A sender has no reason to send one
(the Collector's exporters and the SDKs send a group only for the spans in it); past the limit
the request is refused, and the walk stops there."""
MAX_EVENTS_AND_LINKS = 262_144
"""Span events and links one request may carry, all its spans together. Each costs a decoder
about 2 microseconds (parsed, written as JSON; 5 before each was no longer redacted on its own)
and as little as two bytes to send: one span of 6 MB of empty events took 15 s. An SDK keeps
at most 128 events and 128 links a span and exports at most 512 spans a request by default,
so its largest request carries 131,072, half the limit; a Collector batch of 8,192 spans (its
default) may carry 32 a span on average. Past the limit the request is refused, and the walk
stops there: the events of a request at the limit hold a decoder for 0.5-0.7 s."""


MAX_EMPTY_VALUES = 262_144
"""Attributes without a key or without a value (and values left empty in arrays and maps)
one request may carry, all its spans, resources, events and links together. Each is two bytes
to send and costs a decoder a third of a microsecond or more to walk: 6 MB of them held a
decoder for 1 s (protobuf; as JSON, 6 MB of empty array values 0.6 s), four times what a
plain request of that size costs. The SDKs drop an attribute without a key or a value before
they export it (the specification makes both invalid), so a real request carries none but the
empty values of arrays such as [1, null]: the limit is 32 a span of a gateway's full batch of
8,192. Past it the request is refused, and the walk stops there."""
MAX_REJECTED_SPANS = 65_536
"""Spans of one request that may be rejected one by one (each told where and why). A span
missing everything is two bytes and costs about a microsecond to reject: 6 MB of them held a
decoder for 2.7 s. A sender whose request has this many invalid spans has a bug to fix, not
spans to keep; past the limit the request is refused whole, its walk cut short there."""


class KnownPieces:
    """The attribute pieces a flat decoder remembers by their wire text (protobuf bytes or OTLP
    JSON), so that an attribute seen before costs one lookup: at most MAX pieces, none longer
    than MAX_BYTES (longer ones are rarely seen twice). Pieces that hold empty values
    (Tally.empty_values) are kept apart in `blank`, with how many, never in `known`: each one a
    request carries is counted. The decoders read both dicts directly on their hot path."""

    MAX = 65_536
    MAX_BYTES = 512

    __slots__ = ("known", "blank")

    def __init__(self) -> None:
        self.known: dict[bytes, Piece] = {}
        self.blank: dict[bytes, tuple[Piece, int]] = {}

    def remember(self, raw: bytes, piece: Piece, blanks: int) -> None:
        """Remembers piece as what raw decodes to; blanks: the empty values it holds."""
        if len(raw) > self.MAX_BYTES:
            return
        if blanks:
            if len(self.blank) >= self.MAX:
                self.blank.clear()
            self.blank[raw] = piece, blanks
        else:
            if len(self.known) >= self.MAX:
                self.known.clear()
            self.known[raw] = piece


class Tally:
    """What a request made its decoder walk besides valid spans, counted as the walk goes: past
    a limit, OtlpError (the request is refused as a whole: its sender is told, and splits it
    or mends it)."""

    __slots__ = ("blank", "empty", "records", "rejected")

    def __init__(self) -> None:
        self.blank = 0
        self.empty = 0
        self.records = 0
        self.rejected = 0

    def span_rejected(self, result: DecodeResult) -> None:
        self.rejected += 1
        if self.rejected > MAX_REJECTED_SPANS:
            first = result.messages[0] if result.messages else ""
            raise OtlpError(
                f"more than {MAX_REJECTED_SPANS:,} spans of the request are invalid (the first: "
                f"{first[:200]}): refused whole, the rest unread"
            )

    def empty_group(self) -> None:
        self.empty += 1
        if self.empty > MAX_EMPTY_GROUPS:
            raise OtlpError(
                f"the request holds more than {MAX_EMPTY_GROUPS:,} resourceSpans or scopeSpans "
                "without a span: refused, its spans unread"
            )

    def empty_values(self, count: int = 1) -> None:
        """count attributes without a key or a value, or empty values in arrays and maps."""
        self.blank += count
        if self.blank > MAX_EMPTY_VALUES:
            raise OtlpError(
                f"the request holds more than {MAX_EMPTY_VALUES:,} attributes without a key or "
                "a value (or empty values in arrays and maps): refused, its spans unread"
            )

    def add_records(self, count: int) -> None:
        self.records += count
        if self.records > MAX_EVENTS_AND_LINKS:
            raise OtlpError(
                f"the request holds more than {MAX_EVENTS_AND_LINKS:,} span events and links: "
                "refused, its spans unread; send fewer spans a request"
            )


MAX_GZIP_MEMBERS = 64
"""Members a gzip body may have (senders write one): each costs a new inflater."""
MAX_ZSTD_FRAMES = 64
"""Frames a zstd body may have (senders write one): each costs a new decompressor."""
_FEED = 64 * 1024


def inflate(data: bytes, encoding: str, limit: int, *, keep: bool = True) -> bytes:
    """Decompresses gzip/deflate in time linear in the body, never holding more than limit
    bytes (gzip bombs) and reading at most MAX_GZIP_MEMBERS gzip members (deflate: one
    stream, what follows it ignored). keep=False: only checks that it would (what it inflates
    to is dropped as it comes, and b"" returned), holding no more than a piece of it."""
    wbits = 16 + zlib.MAX_WBITS if encoding == "gzip" else zlib.MAX_WBITS
    streams = MAX_GZIP_MEMBERS if encoding == "gzip" else 1
    return _decompress(
        data, limit, lambda: zlib.decompressobj(wbits), zlib.error, encoding, "body", streams,
        keep,
    )  # fmt: skip


def unzstd(data: bytes, limit: int, what: str = "body") -> bytes:
    """Decompresses zstd frames one after another as inflate does gzip members: in time linear
    in the data, never holding more than limit bytes, at most MAX_ZSTD_FRAMES frames. what:
    the body or the request, for the messages."""
    return _decompress(
        data, limit, zstd.ZstdDecompressor, zstd.ZstdError, "zstd", what, MAX_ZSTD_FRAMES
    )


class _Decompressor(Protocol):
    @property
    def eof(self) -> bool: ...

    @property
    def unused_data(self) -> bytes: ...

    def decompress(self, data: memoryview, max_length: int, /) -> bytes: ...


def _decompress(
    data: bytes,
    limit: int,
    start: Callable[[], _Decompressor],
    errors: type[Exception],
    kind: str,
    what: str,
    streams: int,
    keep: bool = True,
) -> bytes:
    """What the streams of data (gzip members, zstd frames) decompress to, one after another:
    at most `streams` of them (1: what follows the first is ignored, as deflate has it).
    keep=False: the same checks, what they decompress to dropped as it comes."""
    out = bytearray()
    size = 0
    view = memoryview(data)
    pos = count = 0
    try:
        while pos < len(view) and count < streams:
            count += 1
            part = start()
            while not part.eof:
                if pos >= len(view):
                    raise OtlpError(f"the {kind} {what} is truncated")
                # Fed in pieces: what follows a stream's end is copied once per piece, not once
                # per stream (a body of many tiny members would take quadratic time).
                piece = view[pos : pos + _FEED]
                chunk = part.decompress(piece, limit + 1 - size)
                size += len(chunk)
                if keep:
                    out += chunk
                if size > limit:
                    raise TooLarge(f"the {kind} {what} inflates past {limit} bytes")
                pos += len(piece) - len(part.unused_data)
        if streams > 1 and pos < len(view):
            raise OtlpError(
                f"the {kind} {what} has more than {streams} "
                f"{'frames' if kind == 'zstd' else 'members'} (concatenated streams); send one"
            )
    except errors as exc:
        raise OtlpError(f"the {what} is not valid {kind} ({exc})") from None
    return bytes(out)


INVALID_UTF8_ATTRIBUTE = "seamscope.invalid_utf8"
"""The span attribute (true) of a span kept with text repaired: invalid UTF-8 replaced."""


class Reject(Exception):
    """One span (or one resource's spans) cannot be stored; the message is located."""


@dataclass(slots=True)
class DecodeResult:
    """What one request gave: spans added to the builder, spans rejected and why, spans kept
    with invalid UTF-8 repaired and where."""

    accepted: int = 0
    rejected: int = 0
    messages: list[str] = field(default_factory=list)
    repaired: int = 0
    repairs: list[str] = field(default_factory=list)

    def reject(self, count: int, message: str) -> None:
        self.rejected += count
        if len(self.messages) < MAX_MESSAGES:
            self.messages.append(one_line(message))

    def repair(self, where: str) -> None:
        """One span kept with invalid UTF-8 replaced; where: its place and the field."""
        self.repaired += 1
        if len(self.repairs) < MAX_MESSAGES:
            self.repairs.append(one_line(where))

    @property
    def warning(self) -> str:
        """One line naming the first spans kept with repaired text, empty when none was."""
        if not self.repaired:
            return ""
        spans = "1 span" if self.repaired == 1 else f"{self.repaired:,} spans"
        return (
            f"invalid UTF-8 replaced by U+FFFD in {spans}, kept with {INVALID_UTF8_ATTRIBUTE}"
            f" = true: {'; '.join(self.repairs)}"
            + (" ..." if self.repaired > len(self.repairs) else "")
        )

    @property
    def partial_message(self) -> str:
        """The partial success's error_message: the rejections, then the repairs."""
        return "; ".join(text for text in (self.error_message, self.warning) if text)

    @property
    def error_message(self) -> str:
        """One line naming the first problems, empty when nothing was rejected."""
        if not self.rejected:
            return ""
        text = "; ".join(self.messages)
        if self.rejected > len(self.messages):
            text += f" ({self.rejected} spans rejected in all)"
        return text


def bounded(value: str, path: str) -> str:
    """value, unless it is longer than a span may carry."""
    if len(value) > MAX_VALUE_CHARS:
        raise Reject(f"{path}: a value of {len(value):,} characters, over {MAX_VALUE_CHARS:,}")
    return value
