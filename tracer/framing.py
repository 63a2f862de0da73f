"""The forms in which the OpenTelemetry Collector's file exporter writes export requests, read
back: what `seamscope ingest FILE` takes besides OTLP JSON, one request per line.

The exporter (opentelemetry-collector-contrib, `exporter/fileexporter`: `file_writer.go`,
`marshaller.go`, `compression_writer.go`) writes

- with `format: json` and no compression, one request per line (tracer.ingest reads those);
- otherwise every request framed: 4 bytes, its length as an unsigned 32-bit big-endian integer,
  then the request, protobuf for `format: proto` and JSON for `format: json`; with
  `compression: zstd` each request is a zstd frame of its own;
- with `compression: zstd` behind its `exporter.file.nativeCompression` feature gate, the whole
  file as zstd frames one after another (`zstd -d` reads it), holding requests one per line for
  JSON and framed for protobuf.

A file compressed afterwards (a rotated file gzipped, or run through `zstd`) is read through
its compression as well, and so is one protobuf request as it is (what the awss3 exporter
writes with `marshaler: otlp_proto`, or an OTLP/HTTP body saved). Which form a file has is
read from its first bytes, never from its name. Everything is read as a stream, and no single
request may be larger than
MAX_REQUEST_BYTES (a damaged length, or a compressed file that inflates without end, stops
there with a message rather than taking the memory).
"""

from __future__ import annotations

import gzip
import io
import zlib
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any, BinaryIO, Literal, cast

from seamscope.tracer.otlp.common import OtlpError, TooLarge, unzstd, zstd

GZIP_MAGIC = b"\x1f\x8b"
ZSTD_MAGIC = b"\x28\xb5\x2f\xfd"
MAX_REQUEST_BYTES = 256 * 1024 * 1024
"""The largest request read from a file: a line, a framed request or a whole pretty-printed
file, after decompression (the Collector's receivers refuse far smaller ones by default)."""
_JSON_START = frozenset(b"{[ \t\r\n\xef")  # \xef: a UTF-8 byte order mark
_PIECE = 1024 * 1024
_HEAD = 64
_BLANK = b" \t\r\n"
_DOCUMENT_START = (b"{", b"[", b"\xef", b"")  # b"": only blank space within the head
_PROTOBUF_START = 0x0A
_LARGEST_FRAME_START = MAX_REQUEST_BYTES >> 24

Form = Literal["empty", "json", "framed", "raw", "gzip", "zstd"]


def peekable(stream: BinaryIO) -> BinaryIO:
    """stream, or a buffered reader over it when it cannot peek (io.BytesIO)."""
    if hasattr(stream, "peek"):
        return stream
    return cast("BinaryIO", io.BufferedReader(cast("Any", stream)))


def form_of(stream: BinaryIO) -> Form:
    """The form of what stream holds, from its first bytes (read without consuming them;
    stream must be peekable)."""
    head = stream.peek(_HEAD)[:_HEAD]  # type: ignore[attr-defined]
    if not head:
        return "empty"
    if head.startswith(GZIP_MAGIC):
        return "gzip"
    if head.startswith(ZSTD_MAGIC):
        return "zstd"
    if head[0] == _PROTOBUF_START and head.lstrip(_BLANK)[:1] not in _DOCUMENT_START:
        # One protobuf request as it is (the awss3 exporter's `.binpb` objects, an OTLP/HTTP
        # body saved): its first field, resource_spans, starts with 0x0a, a newline to a
        # text reader; blank space before JSON is followed by "{" or "[".
        return "raw"
    if head[0] in _JSON_START or head[0] > _LARGEST_FRAME_START:
        # JSON, or text that is no frame (a file cut at its start, a stray line): read as
        # lines, each reported where it is no request.
        return "json"
    # A frame's length: a request under 16 MiB starts with a zero byte, and none may be longer
    # than MAX_REQUEST_BYTES (256 MiB: a first byte of at most 0x10).
    return "framed"


def is_compressed(stream: BinaryIO) -> bool:
    """Whether stream (peekable) is gzip or zstd, or framed with its first request in zstd."""
    form = form_of(stream)
    head = stream.peek(8)[:8]  # type: ignore[attr-defined]
    return form in ("gzip", "zstd") or (form == "framed" and head[4:8] == ZSTD_MAGIC)


def decompressing(stream: BinaryIO, form: Form) -> BinaryIO:
    """A stream of what the gzip or zstd stream holds (members or frames one after another)."""
    if form == "gzip":
        return cast("BinaryIO", gzip.GzipFile(fileobj=stream, mode="rb"))
    return cast("BinaryIO", zstd.ZstdFile(stream, "rb"))


DECOMPRESSION_ERRORS: tuple[type[BaseException], ...] = (
    EOFError,  # the stream ends before its end mark: a file still being written, or cut short
    gzip.BadGzipFile,
    zlib.error,
    zstd.ZstdError,
)
"""What reading a damaged or truncated compressed stream raises."""


def decompression_problem(form: str, exc: BaseException) -> str:
    """What went wrong reading a compressed stream, for an ingest's report."""
    if isinstance(exc, EOFError):
        return (
            f"the {form} stream ends before its end mark (the file is cut short, or still being "
            "written); the requests before this point were read"
        )
    return f"the {form} stream is damaged ({exc}); the requests before this point were read"


def read_at_most(stream: BinaryIO, size: int) -> bytes:
    """Up to size bytes, fewer only at the end of the stream; read in pieces, so a length that
    promises more than the stream holds allocates only what it does hold."""
    pieces: list[bytes] = []
    left = size
    while left > 0:
        piece = stream.read(min(left, _PIECE))
        if not piece:
            break
        pieces.append(piece)
        left -= len(piece)
    return b"".join(pieces)


@dataclass(frozen=True, slots=True)
class Framed:
    """One framed request read from a file: its bytes and whether they are JSON, or why it could
    not be read (problem; last: the framing is lost there, so nothing after it can be read)."""

    number: int
    offset: int
    data: bytes = b""
    json_format: bool = False
    problem: str | None = None
    last: bool = False


def iter_framed(stream: BinaryIO) -> Iterator[Framed]:
    """The framed requests of stream, in order. A request that cannot be decompressed is
    named and skipped; a length past MAX_REQUEST_BYTES or a stream that ends inside a frame is
    named and ends the reading (nothing after it can be found)."""
    number = offset = 0
    while True:
        header = read_at_most(stream, 4)
        if not header:
            return
        number += 1
        if len(header) < 4:
            yield Framed(
                number,
                offset,
                problem=f"the file ends inside this request's 4-byte length (at byte {offset}): "
                "it is cut short, or still being written",
                last=True,
            )
            return
        size = int.from_bytes(header, "big")
        if size > MAX_REQUEST_BYTES:
            yield Framed(
                number,
                offset,
                problem=f"its length says {size:,} bytes, more than a request may have "
                f"({MAX_REQUEST_BYTES:,}): the file is not in the file exporter's framed form, "
                f"or is damaged at byte {offset}",
                last=True,
            )
            return
        data = read_at_most(stream, size)
        if len(data) < size:
            yield Framed(
                number,
                offset,
                problem=f"the file ends {len(data):,} bytes into this request of {size:,} "
                "(it is cut short, or still being written)",
                last=True,
            )
            return
        at = offset
        offset += 4 + size
        if data.startswith(ZSTD_MAGIC):
            try:
                data = unzstd(data, MAX_REQUEST_BYTES, "request")
            except (OtlpError, TooLarge) as exc:
                yield Framed(number, at, problem=str(exc))
                continue
        # The JSON marshaler's output starts with "{"; a protobuf request never does (that
        # byte would open a group, which OTLP does not use).
        yield Framed(number, at, data, json_format=data[:1] == b"{")
