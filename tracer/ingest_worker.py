"""What an ingest's decoder processes run: a part of the input (requests, or a range of a
file's lines to read) -> its span tables.

A module of its own, apart from tracer.ingest, for the same reason as tracer.decoding: a
process started with `spawn` (macOS, Windows, or a caller with threads of its own) imports the
module of the function it runs, and tracer.ingest loads DuckDB and the store, which a decoder
never uses. The import contract "A decoder process loads neither the store nor the server"
(pyproject.toml) keeps it so.
"""

from __future__ import annotations

import os
import signal
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pyarrow as pa

from seamscope.tracer import handoff, orphans
from seamscope.tracer.decoding import batch_key, fewer_collections
from seamscope.tracer.errors import SeamscopeError
from seamscope.tracer.otlp import OtlpError, decode_flat, decode_json, decode_protobuf
from seamscope.tracer.otlp.flat_json import decode_json_flat
from seamscope.tracer.rows import SpanBatchBuilder


@dataclass(frozen=True, slots=True)
class Request:
    """One export request read from a file or object: where it came from and its bytes (OTLP
    JSON, or protobuf when json_format is false). origin names the file or object it is part
    of, for callers that track them. problem: why the request could not be read from the file
    (its bytes are then empty), which the ingest reports as a bad request."""

    where: str
    data: bytes
    json_format: bool = True
    origin: str = ""
    problem: str | None = None


@dataclass(frozen=True, slots=True)
class Decoded:
    """One request after decoding: its spans, or why it could not be used."""

    where: str
    key: str
    table: pa.Table | None
    rejected: int = 0
    message: str = ""
    error: str | None = None
    origin: str = ""
    repaired: int = 0
    """Spans kept with invalid UTF-8 replaced; warning says where."""
    warning: str = ""

    def __reduce__(self) -> tuple[Callable[..., Decoded], tuple[object, ...]]:
        """Pickled (from a worker process) with the table in a file of the pool's handoff
        folder, or else as an Arrow IPC stream: about half the CPU of pickling the table on
        each side, and read without a copy."""
        data = None
        if self.table is not None:
            path = handoff.put(self.table)
            if path is not None:
                spooled = (
                    self.where,
                    self.key,
                    path,
                    self.rejected,
                    self.message,
                    self.origin,
                    self.repaired,
                    self.warning,
                )
                return _decoded_from_file, spooled
            data = handoff.to_ipc(self.table)
        fields = (
            self.where,
            self.key,
            data,
            self.rejected,
            self.message,
            self.error,
            self.origin,
            self.repaired,
            self.warning,
        )
        return _decoded_from_ipc, fields


def _decoded_from_ipc(where: str, key: str, data: pa.Buffer | None, *rest: Any) -> Decoded:
    table = handoff.from_ipc(data) if data is not None else None
    return Decoded(where, key, table, *rest)


def _decoded_from_file(
    where: str,
    key: str,
    path: str,
    rejected: int,
    message: str,
    origin: str,
    repaired: int = 0,
    warning: str = "",
) -> Decoded:
    try:
        table = handoff.take(path)
    except (OSError, pa.ArrowException) as exc:
        problem = f"its decoded spans were lost on the way from the decoder process ({exc})"
        return Decoded(where, key, None, error=problem, origin=origin)
    return Decoded(
        where, key, table, rejected, message, origin=origin, repaired=repaired, warning=warning
    )


def decode_one(
    request: Request, builder: SpanBatchBuilder | None = None, flat: bool = True
) -> Decoded:
    """One request's spans. flat: the quicker decoders (otlp.flat, otlp.flat_json), which
    give the same rows as the general walk (flat=False, the first design)."""
    if request.problem is not None:
        return Decoded(request.where, "", None, error=request.problem, origin=request.origin)
    builder = builder or SpanBatchBuilder()
    key = batch_key(request.data)
    if flat:
        decode = decode_json_flat if request.json_format else decode_flat
    else:
        decode = decode_json if request.json_format else decode_protobuf
    try:
        result = decode(request.data, builder)
    except OtlpError as exc:
        builder.build()
        return Decoded(request.where, key, None, error=str(exc), origin=request.origin)
    table = builder.build() if result.accepted else None
    return Decoded(
        request.where,
        key,
        table,
        result.rejected,
        result.error_message,
        origin=request.origin,
        repaired=result.repaired,
        warning=result.warning,
    )


def decode_chunk(requests: list[Request], flat: bool = True) -> list[Decoded]:
    """Decodes requests in a worker process."""
    builder = SpanBatchBuilder()
    return [decode_one(r, builder, flat) for r in requests]


@dataclass(frozen=True, slots=True)
class Lines:
    """Whole lines of a file of one request per line, which a worker process reads itself:
    length bytes from offset, the first of them line number first_line. identity (device,
    inode) is the file's when the range was cut, so a file replaced since is not read."""

    path: str
    offset: int
    length: int
    first_line: int
    identity: tuple[int, int]

    def requests(self) -> list[Request]:
        """The requests of these lines, as iter_stream gives them."""
        try:
            with open(self.path, "rb") as stream:
                status = os.fstat(stream.fileno())
                data = b""
                if (status.st_dev, status.st_ino) == self.identity:
                    stream.seek(self.offset)
                    data = stream.read(self.length)
        except OSError as exc:
            raise SeamscopeError(f"{self.path}: cannot read ({exc.strerror or exc})") from None
        if len(data) != self.length:
            raise SeamscopeError(f"{self.path}: changed while it was read")
        return [
            Request(f"{self.path}:{number}", line)
            for number, raw in enumerate(data.split(b"\n"), self.first_line)
            if (line := raw.strip())
        ]


Part = list[Request] | Lines
"""What one worker process decodes at a time."""


def decode_part(part: Part, flat: bool = True) -> list[Decoded]:
    """Decodes a part in a worker process (reading its lines there)."""
    return decode_chunk(part.requests() if isinstance(part, Lines) else part, flat)


def decoder_init(folder: str | None, ingest: int) -> None:
    """In a decoder process: tables handed back through folder; gone once the ingest is (a
    killed ingest's processes would otherwise wait forever: tracer.orphans). Ctrl-C reaches the
    whole process group, and is the ingest's to handle (it stops the pool): here it printed a
    KeyboardInterrupt traceback per process."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    fewer_collections()
    handoff.use(folder)
    orphans.leave_with(ingest)
