"""OTLP files -> the store, and appends of many batches in one transaction.

Files are what the OpenTelemetry Collector's file exporter writes: one ExportTraceServiceRequest
per line of OTLP JSON (pretty-printed requests one after the other work too), or in the exporter's
other forms (framed JSON or protobuf, zstd; see tracer.framing), and any of these gzipped. Each
request is its own batch, keyed by a hash of its bytes, so loading a file twice adds nothing.
While an owner process holds the store, the requests go to it over HTTP instead.
"""

from __future__ import annotations

import concurrent.futures
import contextlib
import http.client
import itertools
import json
import multiprocessing
import os
import queue
import re
import sys
import threading
import time
from collections import deque
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import BinaryIO
from urllib.parse import urlsplit

import duckdb
import pyarrow as pa
from google.protobuf.message import DecodeError  # type: ignore[import-untyped]
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceResponse

from seamscope.tracer import handoff
from seamscope.tracer.access import open_reader
from seamscope.tracer.decoding import batch_key
from seamscope.tracer.errors import SeamscopeError
from seamscope.tracer.framing import (
    DECOMPRESSION_ERRORS,
    MAX_REQUEST_BYTES,
    Form,
    decompressing,
    decompression_problem,
    form_of,
    is_compressed,
    iter_framed,
    peekable,
    read_at_most,
)

# The decoder side lives in ingest_worker; these stay part of this module's API.
from seamscope.tracer.ingest_worker import Decoded as Decoded
from seamscope.tracer.ingest_worker import Lines as Lines
from seamscope.tracer.ingest_worker import Part, decode_part, decoder_init
from seamscope.tracer.ingest_worker import Request as Request
from seamscope.tracer.ingest_worker import decode_one as decode_one
from seamscope.tracer.keys import spans_digest
from seamscope.tracer.otlp import one_line
from seamscope.tracer.owner import BATCH_KEY_HEADER, OwnerInfo
from seamscope.tracer.rows import SpanBatchBuilder
from seamscope.tracer.schema import LEDGER_COLUMNS
from seamscope.tracer.store import Store, input_table, insert_arrow, refuse_planted

SOURCE = "ingest"
STORED_HEADER = "X-Seamscope-Stored"
REPAIRED_HEADER = "X-Seamscope-Repaired"
"""Spans of the request kept with invalid UTF-8 replaced (the partial success says where)."""
"""Response header of the receiver: spans of the request newly stored (0 for a repeat)."""
_FLUSH_SPANS = 50_000
_FLUSH_REQUESTS = 2_000
_PART_SPANS = 8_192
"""Spans the writer inserts at a time into the transaction it commits every _FLUSH_SPANS."""
MAX_ERRORS_SHOWN = 20
PROCESSES_FROM_BYTES = 16 * 1024 * 1024
"""Inputs at least this large are decoded in processes by default (starting them costs about
a second; smaller inputs are done by then)."""


def cores() -> int:
    """The cores this process may run on."""
    try:
        return len(os.sched_getaffinity(0))
    except (AttributeError, OSError):
        return os.cpu_count() or 1


def default_workers(total_bytes: int | None) -> int:
    """Decoder processes for an input of total_bytes (None: unknown, as stdin): one per core
    for a large one, none (this process) on a single core or for a small one."""
    if cores() < 2 or total_bytes is None or total_bytes < PROCESSES_FROM_BYTES:
        return 0
    return cores()


@dataclass(frozen=True, slots=True)
class Batch:
    """One request's spans, appended under its own batch key."""

    table: pa.Table
    key: str | None
    source: str


def append_many(store: Store, batches: Sequence[Batch]) -> list[int]:
    """Appends batches in one transaction, one batches row each; returns spans stored per batch.

    A batch whose key is already stored (or repeats an earlier one in the same call) stores 0,
    so coalescing many requests into one commit keeps every request idempotent.
    """
    return append_many_at(store, batches)[0]


_LEDGER_ROWS = 200
"""Batches per statement of the ledger's INSERT (a literal VALUES list of parameters)."""


def append_many_at(store: Store, batches: Sequence[Batch]) -> tuple[list[int], int | None]:
    """append_many, and the highest batch_id it gave (None when every batch was a repeat): the
    receiver's watermark without a query after each commit."""
    con = store.con
    # A link planted where the WAL goes since the last commit (a checkpoint removes the WAL,
    # and DuckDB opens it again by its name at the next write): refused, not written through.
    refuse_planted(store.path)
    con.execute("BEGIN")
    try:
        counts, last = insert_batches(con, batches, set())
        con.execute("COMMIT")
    except BaseException:
        # A COMMIT that failed (the disk full, the folder not writable for the WAL) has ended
        # the transaction already: the error that ended it is the one to raise.
        with contextlib.suppress(duckdb.Error):
            con.execute("ROLLBACK")
        raise
    return counts, last


def insert_batches(
    con: duckdb.DuckDBPyConnection, batches: Sequence[Batch], seen: set[str]
) -> tuple[list[int], int | None]:
    """Inserts batches, one batches row each, in the transaction open on con; returns the spans
    inserted per batch and the highest batch_id given (None when every batch was a repeat).

    A batch whose key is stored, or is in seen (the keys inserted before in the same
    transaction, which this adds to), inserts 0. So does a keyed batch whose spans were stored
    before in other bytes (the same request as JSON, pretty-printed, a tee's copy of it): their
    digest (keys.spans_digest) is stored beside the key. A batch without a key is never taken
    for a repeat."""
    keys = [b.key for b in batches if b.key is not None]
    digests = [spans_digest(b.table) if b.key is not None else None for b in batches]
    last: int | None = None
    for column, values in (("batch_key", keys), ("spans_digest", [d for d in digests if d])):
        for i in range(0, len(values), 200):
            chunk = values[i : i + 200]
            # A literal IN list of parameters: about 3x quicker than unnest(?) on a large
            # ledger; both columns are indexed.
            marks = ",".join("?" * len(chunk))
            rows = con.execute(
                f"SELECT {column} FROM batches WHERE {column} IN ({marks})", chunk
            ).fetchall()
            seen.update(r[0] for r in rows)
    counts: list[int] = []
    new: list[tuple[Batch, str | None]] = []
    for batch, digest in zip(batches, digests, strict=True):
        if batch.key is not None and (batch.key in seen or digest in seen):
            counts.append(0)
            continue
        if batch.key is not None:
            seen.add(batch.key)
        if digest is not None:
            seen.add(digest)
        new.append((batch, digest))
        counts.append(batch.table.num_rows)
    if not new:
        return counts, last
    ids_rows = con.execute("SELECT nextval('batch_seq') FROM range(?)", [len(new)]).fetchall()
    ids = sorted(int(r[0]) for r in ids_rows)
    last = ids[-1]
    now = datetime.now(UTC)
    # The ledger's rows as parameters: registering an Arrow table for a few rows cost more
    # than the rows themselves (about 1 ms a commit).
    for i in range(0, len(new), _LEDGER_ROWS):
        rows_of = [
            (batch_id, batch.key, batch.source, batch.table.num_rows, now, digest)
            for batch_id, (batch, digest) in zip(
                ids[i : i + _LEDGER_ROWS], new[i : i + _LEDGER_ROWS], strict=True
            )
        ]
        con.execute(
            f"INSERT INTO batches ({LEDGER_COLUMNS}) VALUES "
            f"{','.join(['(?, ?, ?, ?, ?, ?)'] * len(rows_of))}",
            [value for row in rows_of for value in row],
        )
    parts = []
    for batch_id, (batch, _digest) in zip(ids, new, strict=True):
        table = batch.table
        if table.num_rows == 0:
            continue
        table = input_table(table)
        parts.append(
            table.append_column("batch_id", pa.array([batch_id] * table.num_rows, pa.int64()))
        )
    if parts:
        incoming = pa.concat_tables(parts)
        insert_arrow(
            con,
            "_seamscope_many",
            incoming,
            "INSERT INTO spans BY NAME SELECT * FROM _seamscope_many",
        )
    return counts, last


# ---------------------------------------------------------------------------------------------
# Reading files


MAX_BLANK_LINES = 1_000_000
"""Blank lines in a row, at most, before or between the requests of a compressed file of one
request per line (the Collector's file exporter writes none). With MAX_REQUEST_BYTES of blank
space in a row, this bounds the reading of a file that inflates to endless blank lines: each is
short, so no request bound stops it, and each costs about 200 ns to read (20 KB of gzip inflate
to 20 million, 4 s; a megabyte to about a billion). A file as it is on disk is read to its end,
as long as it is."""


class _TooBlank(Exception):
    """A run of blank lines past the bounds, from line `start`."""

    def __init__(self, start: int) -> None:
        super().__init__(start)
        self.start = start


class _BlankRun:
    """The run of blank lines read last: raises _TooBlank once it is past the bounds."""

    __slots__ = ("bounded", "bytes", "lines", "start")

    def __init__(self, bounded: bool) -> None:
        self.bounded = bounded
        self.lines = self.bytes = self.start = 0

    def blank(self, number: int, raw: bytes) -> None:
        if not self.bounded:
            return
        if not self.lines:
            self.start = number
        self.lines += 1
        self.bytes += len(raw)
        if self.lines > MAX_BLANK_LINES or self.bytes > MAX_REQUEST_BYTES:
            raise _TooBlank(self.start)

    def end(self) -> None:
        self.lines = self.bytes = 0


def _lines(stream: BinaryIO) -> Iterator[bytes]:
    """The lines of stream, each read with at most MAX_REQUEST_BYTES + 1 bytes (a longer one is
    cut there, and then longer than any request may be)."""
    return iter(lambda: stream.readline(MAX_REQUEST_BYTES + 1), b"")


def _parses(line: bytes) -> bool:
    try:
        json.loads(line)
    except (ValueError, RecursionError):
        return False
    return True


def _first_line(
    stream: BinaryIO, bounded: bool = False
) -> tuple[bytes, int, bool, list[tuple[int, bytes]]]:
    """The first line that is not blank (b"" for none), its number, whether it is a request of
    its own (a file of one request per line) rather than the start of one pretty-printed, and
    the lines read after it to tell (numbered; blank ones among them).

    A first line that is no JSON document of its own (cut short, damaged) starts a file of
    lines when the next line that is not blank is one: the file's other requests are then read,
    the first reported. The second line of a pretty-printed request never is.
    bounded: _TooBlank past MAX_BLANK_LINES (a stream inflated from a compressed file)."""
    first = b""
    first_no = 0
    run = _BlankRun(bounded)
    for first_no, raw in enumerate(_lines(stream), 1):  # noqa: B007
        first = raw
        if raw.strip():
            break
        run.blank(first_no, raw)
    if not first.strip():
        return b"", first_no, False, []
    if _parses(first):
        return first, first_no, True, []
    after: list[tuple[int, bytes]] = []
    run.end()
    for number, raw in enumerate(_lines(stream), first_no + 1):
        after.append((number, raw))
        if raw.strip():
            return first, first_no, raw.lstrip()[:1] == b"{" and _parses(raw), after
        run.blank(number, raw)
    return first, first_no, False, after


def iter_stream(name: str, stream: BinaryIO, origin: str = "") -> Iterator[Request]:
    """Yields the requests of one file, in any form tracer.framing names: OTLP JSON one request
    per line or pretty-printed, framed requests, and these compressed with gzip or zstd.

    What ends the reading early (a file cut short or damaged, a request past MAX_REQUEST_BYTES)
    comes last, as a Request that carries the problem, after every request read before it.
    """
    stream = peekable(stream)
    form = form_of(stream)
    if form not in ("gzip", "zstd"):
        yield from _iter_form(name, stream, form, origin, inflated=False)
        return
    inner = peekable(decompressing(stream, form))
    try:
        inner_form = form_of(inner)
        if inner_form in ("gzip", "zstd"):
            yield _problem(name, f"the file is {form} of {inner_form}: decompress it once", origin)
            return
        yield from _iter_form(name, inner, inner_form, origin, inflated=True)
    except DECOMPRESSION_ERRORS as exc:
        yield _problem(name, decompression_problem(form, exc), origin)


def _problem(where: str, problem: str, origin: str) -> Request:
    return Request(where, b"", origin=origin, problem=problem)


def _iter_form(
    name: str, stream: BinaryIO, form: Form, origin: str, *, inflated: bool
) -> Iterator[Request]:
    """The requests of an uncompressed stream of the given form (inflated: decompressed from
    the file, its runs of blank lines bounded)."""
    if form == "framed":
        for framed in iter_framed(stream):
            where = f"{name}:request {framed.number} at byte {framed.offset}"
            if framed.problem is not None:
                yield _problem(where, framed.problem, origin)
            else:
                yield Request(where, framed.data, json_format=framed.json_format, origin=origin)
        return
    if form == "empty":
        return
    if form == "raw":
        data = read_at_most(stream, MAX_REQUEST_BYTES + 1)
        if len(data) > MAX_REQUEST_BYTES:
            yield _problem(name, _too_long("the protobuf request", 1), origin)
            return
        yield Request(name, data, json_format=False, origin=origin)
        return
    try:
        first, first_no, lines_mode, after = _first_line(stream, inflated)
    except _TooBlank as blank:
        yield _problem(f"{name}:{blank.start}", _too_blank(blank.start), origin)
        return
    if not first:
        return
    if not lines_mode:
        head = first + b"".join(raw for _, raw in after)
        data = head + read_at_most(stream, MAX_REQUEST_BYTES + 1 - len(head))
        if len(data) > MAX_REQUEST_BYTES:
            yield _problem(f"{name}:{first_no}", _too_long("the request", first_no), origin)
            return
        yield from _documents(name, first_no, data, origin)
        return
    yield Request(f"{name}:{first_no}", first.strip(), origin=origin)
    run = _BlankRun(inflated)
    rest = enumerate(_lines(stream), (after[-1][0] if after else first_no) + 1)
    for number, raw in itertools.chain(after, rest):
        if len(raw) > MAX_REQUEST_BYTES:
            yield _problem(f"{name}:{number}", _too_long("the line", number), origin)
            return
        line = raw.strip()
        if line:
            run.end()
            yield Request(f"{name}:{number}", line, origin=origin)
            continue
        try:
            run.blank(number, raw)
        except _TooBlank as blank:
            yield _problem(f"{name}:{blank.start}", _too_blank(blank.start), origin)
            return


_BETWEEN_DOCUMENTS = re.compile(rb"\}[ \t\r]*\n[ \t\r\n]*(?=\{)")
"""The end of one JSON object and the start of the next on a later line: in one JSON document
a '}' is followed by ',', '}', ']' or the end, and no string holds a line break, so this is only
ever found between two documents."""


def _documents(name: str, first_no: int, data: bytes, origin: str) -> Iterator[Request]:
    """The requests of a file of pretty-printed ones (data, from its line first_no): one, or
    several one after the other (`jq . traces.jsonl`), each with the line it starts on. Several
    were one request that was no JSON, and all their spans were lost."""
    start, line = 0, first_no
    for between in _BETWEEN_DOCUMENTS.finditer(data):
        yield Request(f"{name}:{line}", data[start : between.start() + 1], origin=origin)
        line += data.count(b"\n", start, between.end())
        start = between.end()
    yield Request(f"{name}:{line}", data[start:], origin=origin)


def _too_long(what: str, line: int) -> str:
    return (
        f"{what} starting on line {line} is longer than a request may be "
        f"({MAX_REQUEST_BYTES:,} bytes); the requests before it were read"
    )


def _too_blank(line: int) -> str:
    return (
        f"more than {MAX_BLANK_LINES:,} blank lines, or {MAX_REQUEST_BYTES:,} bytes of blank "
        f"space, in a row from line {line}: not a file of OTLP requests; the requests before "
        "it were read"
    )


def expand_paths(paths: Sequence[str], others: list[Path] | None = None) -> list[Path | None]:
    """Files to read, in order; None stands for stdin. A named pipe is read as a stream (a
    shell's `<(zcat traces.gz)`). Raises SeamscopeError for a path that is missing or cannot be
    read. others, if given, gets the files found in folders that are not read (by their
    names: TRACE_FILE_NAMES), for the report to name."""
    out: list[Path | None] = []
    for text in paths:
        if text == "-":
            out.append(None)
            continue
        path = Path(text)
        if path.is_dir():
            if not os.access(path, os.R_OK | os.X_OK):
                raise SeamscopeError(f"{path}: cannot read this folder (permission denied)")
            files = sorted(p for p in path.rglob("*") if p.is_file())
            found = [p for p in files if is_trace_file(p)]
            if others is not None:
                others.extend(p for p in files if not is_trace_file(p))
            if not found:
                raise SeamscopeError(f"{path}: no trace files in this folder ({TRACE_FILE_NAMES})")
            out.extend(found)
        elif path.is_file() or path.is_fifo():
            out.append(path)
        elif path.exists():
            raise SeamscopeError(f"{path}: not a file, a folder or a named pipe")
        else:
            raise SeamscopeError(f"{path}: no such file or folder")
    return out


TRACE_FILE_NAMES = (
    "*.json, *.jsonl, *.ndjson, *.binpb, *.pb or *.zst, in any case, each also gzipped (.gz)"
)
"""What a folder given to ingest is searched for (a file named on its own is read whatever
its name)."""
_TRACE_SUFFIXES = frozenset({".json", ".jsonl", ".ndjson", ".binpb", ".pb", ".zst"})


def is_trace_file(path: Path) -> bool:
    """Whether a file found in a folder is read as one of trace requests (by its name)."""
    suffixes = [suffix.lower() for suffix in path.suffixes]
    if suffixes and suffixes[-1] == ".gz":
        suffixes = suffixes[:-1]
    return bool(suffixes) and suffixes[-1] in _TRACE_SUFFIXES


def iter_requests(
    files: Iterable[Path | None], progress: Callable[[int], None] | None = None
) -> Iterator[Request]:
    """The requests of every file (None = stdin); progress gets the bytes read so far."""
    for path in files:
        if path is None:
            yield from iter_stream("<stdin>", sys.stdin.buffer)
            continue
        try:
            with path.open("rb") as stream:
                done = 0
                for request in iter_stream(str(path), stream):
                    yield request
                    if progress is not None:
                        # The file's own bytes read so far (a compressed file's requests are
                        # larger than the file).
                        at = stream.tell()
                        progress(at - done)
                        done = at
        except OSError as exc:
            raise SeamscopeError(f"{path}: cannot read ({exc.strerror or exc})") from None


def iter_parts(
    files: Iterable[Path | None], progress: Callable[[int], None] | None = None
) -> Iterator[Part]:
    """The requests of every file, as iter_requests gives them, in parts for worker processes:
    a file of one request per line as Lines of about _CHUNK_BYTES that the workers read
    themselves (its bytes pass through this process only to find where lines end), the rest
    (stdin, a pretty-printed request) as chunks of requests."""
    for path in files:
        if path is None:
            yield from _chunks(iter_stream("<stdin>", sys.stdin.buffer))
            continue
        if path.is_fifo():
            # A pipe is read once, in order, as stdin is.
            try:
                with path.open("rb") as stream:
                    yield from _chunks(iter_stream(str(path), stream))
            except OSError as exc:
                raise SeamscopeError(f"{path}: cannot read ({exc.strerror or exc})") from None
            continue
        try:
            with path.open("rb") as stream:
                # Only a file of JSON lines is cut into ranges the workers read themselves.
                lines_mode = form_of(stream) == "json" and _first_line(stream)[2]
                stream.seek(0)
                if not lines_mode:
                    done = 0
                    for chunk in _chunks(iter_stream(str(path), stream)):
                        yield chunk
                        if progress is not None:
                            at = stream.tell()
                            progress(at - done)
                            done = at
                    continue
                status = os.fstat(stream.fileno())
                identity = (status.st_dev, status.st_ino)
                for offset, length, first_line in _line_ranges(stream):
                    yield Lines(str(path), offset, length, first_line, identity)
                    if progress is not None:
                        progress(length)
        except OSError as exc:
            raise SeamscopeError(f"{path}: cannot read ({exc.strerror or exc})") from None


def _line_ranges(stream: BinaryIO) -> Iterator[tuple[int, int, int]]:
    """(offset, length, number of the first line) of runs of whole lines of about _CHUNK_BYTES
    (a longer line is a run of its own)."""
    start = end = 0
    line = 1
    while block := stream.read(_CHUNK_BYTES):
        cut = block.rfind(b"\n") + 1
        if cut:
            yield start, end + cut - start, line
            line += block.count(b"\n", 0, cut)
            start = end + cut
        end += len(block)
    if end > start:
        yield start, end - start, line


# ---------------------------------------------------------------------------------------------
# Ingesting


@dataclass(slots=True)
class IngestReport:
    """What an ingest did; errors are located (file:line: what is wrong)."""

    requests: int = 0
    spans_stored: int = 0
    spans_present: int = 0
    spans_rejected: int = 0
    spans_repaired: int = 0
    """Spans stored with invalid UTF-8 replaced by U+FFFD (a warning in errors says where)."""
    requests_present: int = 0
    bad_requests: int = 0
    errors: list[str] = field(default_factory=list)
    via_owner: str | None = None
    failed_origins: set[str] = field(default_factory=set)
    """Origins (files, objects) with a bad request or a rejected span."""
    others: list[str] = field(default_factory=list)
    """Files in the folders given that were not read (their names are no trace files')."""

    def error(self, message: str, origin: str = "") -> None:
        if origin:
            self.failed_origins.add(origin)
        if len(self.errors) < MAX_ERRORS_SHOWN:
            self.errors.append(message)

    @property
    def ok(self) -> bool:
        return not self.bad_requests and not self.spans_rejected


class _LocalSink:
    """Decodes requests and appends them to an open store in large transactions.

    The appends run in a writer thread, in input order, so that decoding (here or in the worker
    processes, which this thread keeps fed) goes on while DuckDB inserts and commits without
    the GIL. The writer inserts the requests as they come, in parts of about _PART_SPANS spans,
    into a transaction that it commits every _FLUSH_SPANS spans or so: what remains after the
    last request is decoded is its part and the commit, not the INSERT of a whole group. `close`
    waits for the appends and raises what the writer raised."""

    def __init__(self, store: Store, report: IngestReport, flat: bool = True) -> None:
        self.store = store
        self.report = report
        self.flat = flat
        self.builder = SpanBatchBuilder()
        self.pending: list[Batch] = []
        self.pending_spans = 0
        self.group_spans = 0  # handed to the writer since the last commit was asked for
        self.group_requests = 0
        # (a part, whether to commit after it); None: stop. Bounded: at most a group waits.
        self.parts: queue.Queue[tuple[list[Batch], bool] | None] = queue.Queue(
            maxsize=_FLUSH_SPANS // _PART_SPANS + 1
        )
        self.failure: BaseException | None = None
        self.stopping = False
        self.writer = threading.Thread(target=self._write, name="ingest-writer", daemon=True)
        self.writer.start()

    def add(self, request: Request) -> None:
        self.accept(decode_one(request, self.builder, self.flat))

    def accept(self, decoded: Decoded) -> None:
        """Takes one decoded request (decoded here or in a worker process)."""
        report = self.report
        if decoded.error is not None:
            report.bad_requests += 1
            report.error(f"{decoded.where}: {decoded.error}", decoded.origin)
            return
        if decoded.rejected:
            report.spans_rejected += decoded.rejected
            report.error(f"{decoded.where}: {decoded.message}", decoded.origin)
        if decoded.repaired:
            # Not a failure of its origin: reading it again would give the same.
            report.spans_repaired += decoded.repaired
            report.error(f"{decoded.where}: {decoded.warning}")
        if decoded.table is not None and decoded.table.num_rows:
            self.pending.append(Batch(decoded.table, decoded.key, SOURCE))
            self.pending_spans += decoded.table.num_rows
            if self.pending_spans >= _PART_SPANS or len(self.pending) >= _FLUSH_REQUESTS:
                self._hand(commit=False)

    def flush(self) -> None:
        """Hands what is pending to the writer and asks for a commit (waiting while it is a
        group behind)."""
        if self.pending or self.group_spans or self.group_requests:
            self._hand(commit=True)

    def _hand(self, *, commit: bool) -> None:
        part, self.pending, spans, self.pending_spans = self.pending, [], self.pending_spans, 0
        self.group_spans += spans
        self.group_requests += len(part)
        commit = (
            commit or self.group_spans >= _FLUSH_SPANS or self.group_requests >= _FLUSH_REQUESTS
        )
        if commit:
            self.group_spans = self.group_requests = 0
        self._raise_failure()
        self._put((part, commit))
        self._raise_failure()

    def close(self, *, interrupt: bool = False, raise_failure: bool = True) -> None:
        """Waits until the groups handed over are stored (as a flush in this thread did).
        interrupt (Ctrl-C): the statement under way is interrupted and the parts waiting are
        dropped, all uncommitted, so a rerun takes them again."""
        try:
            if interrupt:
                self._stop()
            self._put(None)
            self.writer.join()
        except BaseException:
            self._stop()
            self.writer.join()
            raise
        if raise_failure:
            self._raise_failure()

    def _put(self, item: tuple[list[Batch], bool] | None) -> None:
        while self.writer.is_alive():
            try:
                self.parts.put(item, timeout=0.1)
                return
            except queue.Full:
                continue

    def _stop(self) -> None:
        self.stopping = True
        while True:
            try:
                self.parts.get_nowait()
            except queue.Empty:
                break
        if self.writer.is_alive():
            self.store.con.interrupt()
        try:
            self.parts.put_nowait(None)
        except queue.Full:
            pass

    def _raise_failure(self) -> None:
        if self.failure is not None:
            failure, self.failure = self.failure, None
            if isinstance(failure, duckdb.Error):
                stored = self.report.spans_stored
                # Writing the store failed (its disk full, no permission for its WAL): what
                # the user can act on, with what was stored before it.
                raise SeamscopeError(
                    f"{self.store.path}: cannot write the store: {one_line(str(failure))} "
                    f"({stored:,} span{'' if stored == 1 else 's'} stored before it; the rest "
                    "were not)"
                ) from None
            raise failure

    def _write(self) -> None:
        con = self.store.con
        open_: list[tuple[Batch, int]] = []  # inserted in the open transaction, uncommitted
        seen: set[str] = set()
        in_transaction = False
        try:
            while True:
                item = self.parts.get()
                if item is None or self.stopping:
                    return
                part, commit = item
                if not in_transaction:
                    con.execute("BEGIN")
                    in_transaction = True
                    seen.clear()
                counts = insert_batches(con, part, seen)[0]
                open_.extend(zip(part, counts, strict=True))
                if commit:
                    con.execute("COMMIT")
                    in_transaction = False
                    for batch, stored in open_:
                        if stored:
                            self.report.spans_stored += stored
                        else:
                            self.report.spans_present += batch.table.num_rows
                            self.report.requests_present += 1
                    open_.clear()
        except BaseException as exc:  # noqa: BLE001 - raised again in the caller's thread
            self.failure = exc
        finally:
            if in_transaction:
                # Stopped, or a statement failed; a COMMIT that failed (the disk full, the
                # folder not writable for the WAL) has ended the transaction already.
                with contextlib.suppress(duckdb.Error):
                    con.execute("ROLLBACK")


@dataclass(frozen=True, slots=True)
class _Answer:
    status: int
    body: bytes
    stored: int
    accepted: int
    repaired: int = 0


class _OwnerSink:
    """Sends requests to the owner's /v1/traces from a few threads (each on its own keep-alive
    connection), so the owner can coalesce them into larger commits; answers are taken in order.
    """

    def __init__(self, owner: OwnerInfo, report: IngestReport, senders: int = 4) -> None:
        self.owner = owner
        self.report = report
        parts = urlsplit(owner.traces_url)
        self.host = parts.hostname or "127.0.0.1"
        self.port = parts.port
        self.path = parts.path
        self.senders = senders
        self.local = threading.local()
        self.pool = concurrent.futures.ThreadPoolExecutor(senders, thread_name_prefix="ingest")
        self.pending: deque[tuple[Request, concurrent.futures.Future[_Answer]]] = deque()
        self.conns: list[http.client.HTTPConnection] = []

    def _send(self, request: Request) -> _Answer:
        conn = getattr(self.local, "conn", None)
        if conn is None:
            conn = http.client.HTTPConnection(self.host, self.port, timeout=120)
            self.local.conn = conn
            self.conns.append(conn)
        headers = {
            "Content-Type": "application/json" if request.json_format else "application/x-protobuf",
            BATCH_KEY_HEADER: batch_key(request.data),
        }
        reconnected = False
        busy = 0
        while True:
            try:
                conn.request("POST", self.path, body=request.data, headers=headers)
                response = conn.getresponse()
                body = response.read()
            except (OSError, http.client.HTTPException) as exc:
                conn.close()
                if not reconnected:
                    # The owner closes connections idle for a while: connect again, once
                    # (the batch key keeps a repeated request from being stored twice).
                    reconnected = True
                    continue
                raise SeamscopeError(
                    f"{request.where}: the owner at {self.owner.url} (pid {self.owner.pid}) "
                    f"stopped answering ({exc})"
                ) from None
            if response.status == 503 and busy < 4:
                busy += 1
                time.sleep(0.5 * busy)
                continue
            stored = int(response.getheader(STORED_HEADER) or 0)
            accepted = int(response.getheader("X-Seamscope-Accepted") or stored)
            repaired = int(response.getheader(REPAIRED_HEADER) or 0)
            return _Answer(response.status, body, stored, accepted, repaired)

    def add(self, request: Request) -> None:
        if request.problem is not None:
            self.report.bad_requests += 1
            self.report.error(f"{request.where}: {request.problem}", request.origin)
            return
        self.pending.append((request, self.pool.submit(self._send, request)))
        while len(self.pending) > 2 * self.senders:
            self._take()

    def _take(self) -> None:
        request, future = self.pending.popleft()
        answer = future.result()
        report = self.report
        if answer.status in (400, 413):
            report.bad_requests += 1
            report.error(f"{request.where}: {_reason(answer.body)}", request.origin)
            return
        if answer.status != 200:
            raise SeamscopeError(
                f"{request.where}: the owner at {self.owner.url} answered "
                f"{answer.status}: {_reason(answer.body)}"
            )
        rejected, message = _partial(answer.body, request.json_format)
        if rejected:
            report.spans_rejected += rejected
            report.error(f"{request.where}: {message}", request.origin)
        elif answer.repaired:  # the message is the warning alone
            report.error(f"{request.where}: {message}")
        report.spans_repaired += answer.repaired
        report.spans_stored += answer.stored
        if answer.accepted and not answer.stored:
            report.spans_present += answer.accepted
            report.requests_present += 1

    def flush(self) -> None:
        while self.pending:
            self._take()

    def close(self) -> None:
        for _, future in self.pending:
            future.cancel()
        self.pool.shutdown(wait=True)
        for conn in self.conns:
            conn.close()


def _partial(body: bytes, json_format: bool) -> tuple[int, str]:
    """The rejected spans and the message of an OTLP response's partial success."""
    if not json_format:
        response = ExportTraceServiceResponse()
        try:
            response.ParseFromString(body)
        except DecodeError:
            return 0, ""
        partial_pb = response.partial_success
        return int(partial_pb.rejected_spans), str(partial_pb.error_message)
    try:
        partial = json.loads(body or b"{}").get("partialSuccess") or {}
        return int(partial.get("rejectedSpans") or 0), str(partial.get("errorMessage") or "")
    except (ValueError, AttributeError):
        return 0, ""


def _reason(body: bytes) -> str:
    try:
        data = json.loads(body)
        if isinstance(data, dict) and "message" in data:
            return str(data["message"])
    except ValueError:
        try:  # the google.rpc.Status an OTLP/protobuf error carries
            from google.rpc.status_pb2 import Status  # type: ignore[import-untyped]

            status = Status()
            status.ParseFromString(body)
            if status.message:
                return str(status.message)
        except (ImportError, DecodeError):
            pass
    return body.decode("utf-8", "replace").strip()[:300]


def ingest(
    db_path: Path,
    paths: Sequence[str],
    *,
    progress: Callable[[int], None] | None = None,
    use_owner: bool = True,
    workers: int | None = None,
    flat: bool = True,
    report: IngestReport | None = None,
) -> IngestReport:
    """Loads OTLP JSON from files, folders or stdin ("-") into the store at db_path.

    Bad requests are reported with file:line and skipped; the good ones are still stored.
    workers > 0 decodes in that many processes (the caller's main module must be import-safe,
    as multiprocessing's spawn requires); None: `default_workers` for the input's size.
    flat=False decodes with the general walk (the first design; the same rows, slower).
    Raises SeamscopeError for a missing path or a store that cannot be opened. report, if
    given, is filled as it goes: after a KeyboardInterrupt it says what was done.
    """
    others: list[Path] = []
    files = expand_paths(paths, others)
    if workers is None:
        workers = default_workers(input_bytes(files, inflated=True))
    report = load(
        db_path,
        iter_requests(files, progress),
        use_owner=use_owner,
        workers=workers,
        flat=flat,
        parts=iter_parts(files, progress),
        report=report,
    )
    report.others = [str(p) for p in others]
    return report


COMPRESSION_RATIO = 8
"""What a compressed file of spans (gzip, zstd, or framed zstd requests) is taken to hold per
byte, when choosing the decoder
processes: OTLP compresses 10-20x (the benchmark's 100k spans as zstd requests: 49 MB of
protobuf in 5.3 MB), so a few megabytes hold work enough for both cores."""


def input_bytes(files: Sequence[Path | None], *, inflated: bool = False) -> int | None:
    """The size of the files, None when one is stdin or cannot be read. inflated: a compressed
    file (is_compressed) counts COMPRESSION_RATIO times its size (the work it holds)."""
    total = 0
    for path in files:
        if path is None or path.is_fifo():
            return None
        try:
            size = path.stat().st_size
            if inflated:
                with path.open("rb") as stream:
                    if is_compressed(peekable(stream)):
                        size *= COMPRESSION_RATIO
            total += size
        except OSError:
            return None
    return total


def load(
    db_path: Path,
    requests: Iterator[Request],
    *,
    use_owner: bool = True,
    workers: int = 0,
    report: IngestReport | None = None,
    flat: bool = True,
    parts: Iterator[Part] | None = None,
) -> IngestReport:
    """Stores the spans of requests, through the store's owner if one runs, else in the store
    itself; as `ingest` does for files. parts: the same requests as parts for the worker
    processes, when workers > 0 (None: chunks of requests)."""
    report = report if report is not None else IngestReport()
    owner = open_reader(db_path).owner if use_owner else None
    if owner is not None:
        report.via_owner = owner.url
        sink = _OwnerSink(owner, report)
        try:
            for request in requests:
                report.requests += 1
                sink.add(request)
            sink.flush()
        finally:
            sink.close()
        return report
    with contextlib.ExitStack() as stack:
        # The decoder processes start before the store opens: see _decoder_pool. Their
        # folder goes after them.
        pool = None
        if workers > 0:
            folder = stack.enter_context(handoff.folder())
            pool = stack.enter_context(_decoder_pool(workers, folder))
        store = stack.enter_context(Store.open(db_path))
        if pool is not None:
            # The workers take the cores. DuckDB inserting on the threads they leave (one on two
            # cores) spends half the CPU on the INSERT that it spends on two contended threads.
            store.con.execute(f"SET threads = {max(1, cores() - workers)}")
        local = _LocalSink(store, report, flat)
        try:
            if pool is not None:
                _decode_in_processes(
                    parts if parts is not None else _chunks(requests), local, pool, workers
                )
            else:
                for request in requests:
                    report.requests += 1
                    local.add(request)
            local.flush()
        except KeyboardInterrupt:
            local.close(interrupt=True, raise_failure=False)
            raise
        except BaseException:
            local.close(raise_failure=False)
            raise
        local.close()
    return report


_FORK_SAFE_THREADS = frozenset({"jemalloc_bg_thd"})
"""Threads that may be alive at a fork: jemalloc's background thread, which pyarrow's library
starts when it loads (idle here: Arrow allocates with mimalloc) and whose locks jemalloc's own
fork handlers take around every fork."""


def start_method() -> str:
    """How decoder processes start: "fork" where that is safe, else "spawn".

    A fork costs milliseconds where spawn starts a new interpreter and its imports (about half a
    second of CPU each, the cores partly idle meanwhile). It is safe only while this thread is
    the process's only one (a lock another thread holds would be copied locked; DuckDB's
    threads are threads too), which Linux's /proc tells; elsewhere (macOS forbids much after a
    fork, Windows has none) spawn.
    """
    if "fork" not in multiprocessing.get_all_start_methods():
        return "spawn"
    # A thread that has just ended (the previous ingest's, joined) stays in /proc for a
    # millisecond or two while the system tears it down: wait that long for it to go.
    deadline = time.monotonic() + _THREAD_END_WAIT_S
    while True:
        alone = _alone()
        if alone is None:
            return "spawn"
        if alone:
            return "fork"
        if time.monotonic() >= deadline:
            return "spawn"
        time.sleep(0.001)


_THREAD_END_WAIT_S = 0.05


def _alone() -> bool | None:
    """Whether this thread is the process's only one (but _FORK_SAFE_THREADS); None: unknown."""
    me = threading.get_native_id()
    try:
        tasks = [int(task) for task in os.listdir("/proc/self/task")]
    except (OSError, ValueError):
        return None
    for task in tasks:
        if task == me:
            continue
        try:
            with open(f"/proc/self/task/{task}/comm") as comm:
                name = comm.read().strip()
        except (FileNotFoundError, ProcessLookupError):
            continue  # ended since the listing
        except OSError:
            return None
        if name not in _FORK_SAFE_THREADS:
            return False
    return True


def _decoder_pool(
    workers: int, folder: str | None = None
) -> concurrent.futures.ProcessPoolExecutor:
    """workers decoder processes, started now (forked where start_method allows it: before the
    store is opened and any thread started, which the caller ensures by calling this first),
    handing their tables over through files in folder (handoff)."""
    method = start_method()
    pool = concurrent.futures.ProcessPoolExecutor(
        workers,
        mp_context=multiprocessing.get_context(method),
        initializer=decoder_init,
        initargs=(folder, os.getpid()),
    )
    if method == "fork":
        # A pool that forks starts all its processes at the first submit, before its own thread.
        pool.submit(int)
    return pool


_CHUNK_BYTES = 4 * 1024 * 1024


def _chunks(requests: Iterator[Request]) -> Iterator[list[Request]]:
    chunk: list[Request] = []
    size = 0
    for request in requests:
        chunk.append(request)
        size += len(request.data)
        if size >= _CHUNK_BYTES or len(chunk) >= 256:
            yield chunk
            chunk, size = [], 0
    if chunk:
        yield chunk


def _decode_in_processes(
    parts: Iterator[Part],
    sink: _LocalSink,
    pool: concurrent.futures.Executor,
    workers: int,
) -> None:
    """Decoding (the CPU-bound part) in worker processes, in order; appends stay here.

    Spawned workers take about a second to start (a new interpreter each, its imports), with
    the cores partly idle: until the first of them answers, this process decodes the parts
    that come after those already queued for them, instead of waiting."""
    # In input order: a worker's answer to come, or what this process decoded itself.
    pending: deque[concurrent.futures.Future[list[Decoded]] | list[Decoded]] = deque()
    submitted = 0
    started = False

    def take() -> None:
        item = pending.popleft()
        decoded = item if isinstance(item, list) else item.result()
        sink.report.requests += len(decoded)
        for one in decoded:
            sink.accept(one)

    for part in parts:
        started = started or any(not isinstance(item, list) and item.done() for item in pending)
        if not started and submitted >= workers:
            pending.append(decode_part(part, sink.flat))
        else:
            pending.append(pool.submit(decode_part, part, sink.flat))
            submitted += 1
        while len(pending) > 2 * workers and (started or isinstance(pending[0], list)):
            take()
    while pending:
        take()
