"""The ``seamscope`` traces exporter: spans of a Python service into the store.

It runs in the BatchSpanProcessor's thread. Each batch gets a key (a uuid kept across
retries, so whoever stores it stores it once). Delivery, in order of preference:

1. a live owner of the store (``<db>.owner.json``): POST the batch as OTLP protobuf;
2. no owner, or it does not answer: open the store under a short lock (bounded retries), drain
   the spool, append;
3. neither: keep the batch in memory (up to ``memory_spans``) and retry on the next export;
   past the bound, the oldest batches go to the spool beside the store (``<db>.spool/``).

An owner that does not answer is skipped for a few seconds, so a stalled owner costs one
timeout, not one per batch (the span processor's queue would fill behind it). On shutdown
everything still undelivered is spooled (bounded wait).

Spans are lost when the span processor's queue is full or it gave up at shutdown
(`SeamscopeSpanProcessor` tells the exporter how many spans it was given), or when memory is
full and the spool cannot be written. Every lost span is counted in
``seamscope_meta.dropped_spans`` (directly, or through a spool file the next writer drains) and
said once in the service's log. It never raises into the service.
"""

from __future__ import annotations

import http.client
import logging
import os
import threading
import time
import uuid
import weakref
from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TypeVar
from urllib.parse import urlsplit

import duckdb
import pyarrow as pa
from opentelemetry.exporter.otlp.proto.common.trace_encoder import encode_spans
from opentelemetry.sdk.environment_variables import (
    OTEL_BSP_MAX_EXPORT_BATCH_SIZE,
    OTEL_BSP_MAX_QUEUE_SIZE,
)
from opentelemetry.sdk.trace import ReadableSpan, SpanProcessor
from opentelemetry.sdk.trace.export import BatchSpanProcessor, SpanExporter, SpanExportResult

from seamscope.tracer.otlp.common import INVALID_UTF8_ATTRIBUTE
from seamscope.tracer.owner import BATCH_KEY_HEADER, OwnerInfo, find_owner
from seamscope.tracer.rows import SpanBatchBuilder
from seamscope.tracer.sdk_spans import add_sdk_spans, redacted_spans, repaired_spans
from seamscope.tracer.spool import drain_spool, record_dropped, spool_bytes, write_spool
from seamscope.tracer.store import Store, StoreError, StoreLocked, default_db_path, short_lock

_log = logging.getLogger(__name__)
_T = TypeVar("_T")

SOURCE = "exporter"
ENV_MEMORY_SPANS = "SEAMSCOPE_EXPORTER_MEMORY_SPANS"
DEFAULT_MEMORY_SPANS = 20_000
ENV_SPOOL_MB = "SEAMSCOPE_SPOOL_MAX_MB"
DEFAULT_SPOOL_MB = 1024
HTTP_TIMEOUT_S = 3.0
OWNER_RETRY_S = 5.0
"""How long an owner that did not answer is skipped before it is tried again."""
DEFAULT_QUEUE_SIZE = 2048
DEFAULT_EXPORT_BATCH = 512
SHUTDOWN_WAIT_S = 4.0
SHUTDOWN_RETRY_S = 0.1


@dataclass
class _Batch:
    key: str
    spans: Sequence[ReadableSpan]
    table: pa.Table | None = None
    body: bytes | None = None
    attempts: int = field(default=0)
    repaired: int | None = None
    """How many spans held text that is not valid Unicode (repaired_spans); None: not looked."""
    told: bool = False

    def __len__(self) -> int:
        return len(self.spans)

    def arrow(self) -> pa.Table:
        if self.table is None:
            self.table = self._repairing(self._arrow)
        return self.table

    def _arrow(self) -> pa.Table:
        builder = SpanBatchBuilder()
        add_sdk_spans(builder, self.spans)
        return builder.build()

    def protobuf(self) -> bytes:
        """OTLP, with secrets redacted as the store would: nothing leaves the process in
        clear, whoever listens."""
        if self.body is None:
            self.body = self._repairing(
                lambda: encode_spans(redacted_spans(self.spans)).SerializeToString()
            )
        return self.body

    def _repairing(self, make: Callable[[], _T]) -> _T:
        """make(), and once more with the spans' lone surrogates repaired if it failed on them
        (neither Arrow nor OTLP takes them: one such span lost its whole batch)."""
        try:
            return make()
        except UnicodeEncodeError:
            if self.repaired is not None:
                raise
            self.spans, self.repaired = repaired_spans(self.spans)
            if not self.repaired:
                raise
            return make()


# Errors that belong to one batch's data rather than to the store.
_BATCH_ERRORS = (
    pa.ArrowException,
    ValueError,
    TypeError,
    OverflowError,
    duckdb.ConstraintException,
    duckdb.ConversionException,
)


class OwnerRefused(Exception):
    """The owner answered with a 4xx other than 429: this batch will never be taken as is."""


def _post(owner: OwnerInfo, body: bytes, batch_key: str, timeout_s: float) -> None:
    """POSTs one OTLP protobuf batch to the owner; raises OSError/HTTPException/OwnerRefused."""
    url = urlsplit(owner.traces_url)
    conn = http.client.HTTPConnection(
        url.hostname or owner.host, url.port or owner.port, timeout=timeout_s
    )
    try:
        conn.request(
            "POST",
            url.path or "/v1/traces",
            body=body,
            headers={
                "Content-Type": "application/x-protobuf",
                BATCH_KEY_HEADER: batch_key,
                **owner.headers(),
            },
        )
        response = conn.getresponse()
        response.read()
        if 200 <= response.status < 300:
            return
        if 400 <= response.status < 500 and response.status not in (408, 429):
            raise OwnerRefused(f"{owner.traces_url} answered {response.status}")
        raise http.client.HTTPException(f"{owner.traces_url} answered {response.status}")
    finally:
        conn.close()


_live: weakref.WeakSet[SeamscopeSpanExporter] = weakref.WeakSet()


def _reinit_after_fork() -> None:
    for exporter in list(_live):
        exporter._after_fork()


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_reinit_after_fork)


def _env_int(name: str, default: int) -> int:
    try:
        return max(1, int(os.environ.get(name, default)))
    except ValueError:
        return default


class SeamscopeSpanExporter(SpanExporter):
    """``opentelemetry_traces_exporter`` entry point ``seamscope``; created with no arguments."""

    def __init__(
        self,
        db_path: Path | None = None,
        *,
        memory_spans: int | None = None,
        spool_max_bytes: int | None = None,
        lock_attempts: int = 3,
        http_timeout_s: float = HTTP_TIMEOUT_S,
    ) -> None:
        self.db_path = (db_path or default_db_path()).absolute()
        self.memory_spans = (
            memory_spans
            if memory_spans is not None
            else _env_int(ENV_MEMORY_SPANS, DEFAULT_MEMORY_SPANS)
        )
        self.spool_max_bytes = (
            spool_max_bytes
            if spool_max_bytes is not None
            else _env_int(ENV_SPOOL_MB, DEFAULT_SPOOL_MB) * 1024 * 1024
        )
        self.lock_attempts = max(1, lock_attempts)
        self.http_timeout_s = http_timeout_s
        self._pending: deque[_Batch] = deque()
        self._pending_spans = 0
        self._lock = threading.RLock()
        self._shut_down = False
        # Counters, readable by tests and benchmarks.
        self.delivered_owner = 0
        self.delivered_store = 0
        self.spooled = 0
        self.dropped = 0
        self.repaired = 0
        """Spans kept with text that was not valid Unicode repaired (_Batch.repaired)."""
        self.received = 0
        """Spans export() was given."""
        self.offered = 0
        """Spans the span processor was given (when it is a SeamscopeSpanProcessor)."""
        self._offered_lock = threading.Lock()
        self._dropped_unrecorded = 0
        self._owner_down_until = 0.0
        self._warned: set[str] = set()
        _live.add(self)

    def _after_fork(self) -> None:
        # A lock held by another thread at fork time would never be released in the child.
        # Batches pending at fork may be delivered by parent and child: their keys store them once.
        self._lock = threading.RLock()

    # --- SpanExporter ---------------------------------------------------------------------

    def export(self, spans: Sequence[ReadableSpan]) -> SpanExportResult:
        try:
            self.received += len(spans)
            with self._lock:
                if spans:
                    self._pending.append(_Batch(uuid.uuid4().hex, list(spans)))
                    self._pending_spans += len(spans)
                dropped_before = self.dropped
                self._deliver(self.lock_attempts)
                self._enforce_bound()
                if self._shut_down:
                    # Nobody will call again: what is left goes to the spool now.
                    while self._pending:
                        self._spool_oldest()
                return (
                    SpanExportResult.FAILURE
                    if self.dropped > dropped_before
                    else SpanExportResult.SUCCESS
                )
        except Exception:  # noqa: BLE001 - never raise into the service
            _log.debug("seamscope exporter: export failed", exc_info=True)
            return SpanExportResult.FAILURE

    def force_flush(self, timeout_millis: int = 30000) -> bool:
        try:
            with self._lock:
                self._deliver(self.lock_attempts)
                return not self._pending
        except Exception:  # noqa: BLE001
            _log.debug("seamscope exporter: flush failed", exc_info=True)
            return False

    def shutdown(self, timeout_millis: float = SHUTDOWN_WAIT_S * 1000) -> None:
        """Delivers what it can within a few seconds, spools the rest, reports any loss."""
        try:
            deadline = time.monotonic() + min(timeout_millis / 1000, SHUTDOWN_WAIT_S)
            with self._lock:
                self._shut_down = True
                with self._offered_lock:
                    lost = self.offered - self.received
                if lost > 0:
                    # The span processor never handed these over: its queue was full, or it
                    # gave up waiting at shutdown.
                    self._lose(lost)
                    self._warn_once(
                        "queue",
                        "seamscope exporter: %d spans were dropped before reaching the "
                        "exporter (the span queue was full or shutdown ran out of time)",
                        lost,
                    )
                while True:
                    self._deliver(self.lock_attempts)
                    if not self._pending:
                        break
                    if time.monotonic() + SHUTDOWN_RETRY_S >= deadline:
                        break
                    time.sleep(SHUTDOWN_RETRY_S)
                while self._pending:
                    self._spool_oldest()
                if self._dropped_unrecorded:
                    self._spool_dropped()
                if self.dropped and self._dropped_unrecorded:
                    # Neither the store nor its spool could be written (a full disk): the
                    # count is nowhere but here.
                    _log.warning(
                        "seamscope exporter: %d spans were dropped in all; %d of them could "
                        "not be counted in seamscope_meta.dropped_spans of %s either",
                        self.dropped,
                        self._dropped_unrecorded,
                        self.db_path,
                    )
                elif self.dropped:
                    _log.warning(
                        "seamscope exporter: %d spans were dropped in all (counted in "
                        "seamscope_meta.dropped_spans of %s)",
                        self.dropped,
                        self.db_path,
                    )
        except Exception:  # noqa: BLE001
            _log.debug("seamscope exporter: shutdown failed", exc_info=True)

    # --- delivery ---------------------------------------------------------------------------

    def note_offered(self) -> None:
        """One more span given to the span processor (any thread)."""
        with self._offered_lock:
            self.offered += 1

    def _lose(self, count: int) -> None:
        self.dropped += count
        self._dropped_unrecorded += count

    def _deliver(self, lock_attempts: int) -> None:
        if not self._pending and not self._dropped_unrecorded:
            return
        owner = None if time.monotonic() < self._owner_down_until else find_owner(self.db_path)
        if owner is not None and self._send_to_owner(owner):
            if self._dropped_unrecorded:
                # The owner holds the store; it drains the spool and counts them.
                self._spool_dropped()
            return
        self._append_direct(lock_attempts)

    def _pop(self) -> _Batch:
        batch = self._pending.popleft()
        self._pending_spans -= len(batch)
        return batch

    def _send_to_owner(self, owner: OwnerInfo) -> bool:
        """True when the owner took everything pending."""
        while self._pending:
            batch = self._pending[0]
            try:
                body = batch.protobuf()
            except Exception as exc:  # noqa: BLE001 - a span the OTLP encoder cannot take
                self._warn_once("encode", "seamscope exporter: cannot encode a batch (%s)", exc)
                self._spool_oldest()
                continue
            self._tell_repairs(batch)
            try:
                _post(owner, body, batch.key, self.http_timeout_s)
            except OwnerRefused as exc:
                self._warn_once(
                    "refused",
                    "seamscope exporter: the owner refused a batch (%s); spooling it",
                    exc,
                )
                self._spool_oldest()
                continue
            except (OSError, http.client.HTTPException) as exc:
                _log.debug("seamscope exporter: owner %s unreachable: %s", owner.url, exc)
                if isinstance(exc, OSError):  # no answer (a busy owner's 503 is one)
                    self._owner_down_until = time.monotonic() + OWNER_RETRY_S
                return False
            self.delivered_owner += len(self._pop())
        return True

    def _append_direct(self, attempts: int) -> None:
        try:
            with short_lock(self.db_path, attempts=attempts) as store:
                self._drain(store)
                while self._pending:
                    batch = self._pending[0]
                    try:
                        table = batch.arrow()
                        self._tell_repairs(batch)
                        store.append(table, batch_key=batch.key, source=SOURCE)
                    except _BATCH_ERRORS as exc:
                        # This batch, not the store, is the problem: set it aside, go on.
                        self._warn_once("batch", "seamscope exporter: a batch failed (%s)", exc)
                        self._spool_oldest()
                        continue
                    self.delivered_store += len(self._pop())
        except StoreLocked:
            return
        except StoreError as exc:
            self._warn_once(type(exc).__name__, "seamscope exporter: %s", exc)
        except Exception as exc:  # noqa: BLE001 - e.g. a duckdb error: keep the spans
            self._warn_once(
                type(exc).__name__, "seamscope exporter: cannot append to %s: %s", self.db_path, exc
            )

    def _drain(self, store: Store) -> None:
        try:
            drain_spool(store)
        except Exception as exc:  # noqa: BLE001 - draining must not stop our own append
            self._warn_once("drain", "seamscope exporter: draining the spool failed: %s", exc)
        if self._dropped_unrecorded:
            record_dropped(store, self._dropped_unrecorded)
            self._dropped_unrecorded = 0

    # --- bounds -----------------------------------------------------------------------------

    def _enforce_bound(self) -> None:
        while self._pending and self._pending_spans > self.memory_spans:
            self._spool_oldest()

    def _spool_oldest(self) -> None:
        batch = self._pop()
        try:
            table = batch.arrow()
            self._tell_repairs(batch)
            if spool_bytes(self.db_path) + table.nbytes > self.spool_max_bytes:
                raise OSError(f"the spool is full ({self.spool_max_bytes // (1024 * 1024)} MB)")
            write_spool(self.db_path, table, batch.key)
        except Exception as exc:  # noqa: BLE001 - OSError, a full disk, a broken span...
            self._lose(len(batch))
            self._warn_once(
                "spool",
                "seamscope exporter: cannot spool next to %s (%s); dropping spans",
                self.db_path,
                exc,
            )
            return
        self.spooled += len(batch)

    def _spool_dropped(self) -> None:
        """Leaves the count of lost spans in the spool, for whoever next writes the store."""
        try:
            write_spool(
                self.db_path,
                SpanBatchBuilder().build(),
                f"dropped-{uuid.uuid4().hex}",
                dropped=self._dropped_unrecorded,
            )
        except Exception as exc:  # noqa: BLE001 - the count stays for the next try
            self._warn_once(
                "spool", "seamscope exporter: cannot spool next to %s (%s)", self.db_path, exc
            )
            return
        self._dropped_unrecorded = 0

    def _tell_repairs(self, batch: _Batch) -> None:
        """Counts a batch's spans kept with text repaired (once a batch) and says so once."""
        if not batch.repaired or batch.told:
            return
        batch.told = True
        self.repaired += batch.repaired
        self._warn_once(
            "unicode",
            "seamscope exporter: %d span(s) held text that is not valid Unicode (lone "
            "surrogates); kept with U+FFFD in its place and the attribute %s = true",
            batch.repaired,
            INVALID_UTF8_ATTRIBUTE,
        )

    def _warn_once(self, key: str, message: str, *args: object) -> None:
        if key in self._warned:
            _log.debug(message, *args)
            return
        self._warned.add(key)
        _log.warning(message, *args)

    def warn_queue_full(self, size: int) -> None:
        self._warn_once(
            "queue",
            "seamscope exporter: the span queue is full (%d spans); spans are being dropped "
            "and counted in seamscope_meta.dropped_spans",
            size,
        )

    @property
    def pending_spans(self) -> int:
        """Spans held in memory, waiting for the store or the owner."""
        return self._pending_spans


class SeamscopeSpanProcessor(BatchSpanProcessor):
    """The stock batch processor, telling the seamscope exporter how many spans it was given,
    so that spans lost to a full queue (or to a shutdown that ran out of time) are counted."""

    def __init__(
        self, exporter: SeamscopeSpanExporter, max_queue_size: int, max_export_batch_size: int
    ) -> None:
        super().__init__(
            exporter, max_queue_size=max_queue_size, max_export_batch_size=max_export_batch_size
        )
        self._seamscope = exporter
        self._queue_size = max_queue_size
        self._batch_size = max_export_batch_size

    def on_end(self, span: ReadableSpan) -> None:
        context = span.context
        if context is not None and context.trace_flags.sampled:
            exporter = self._seamscope
            exporter.note_offered()
            # Spans given but not exported yet beyond what the queue (and the batch being
            # exported) can hold have been dropped.
            if exporter.offered - exporter.received > self._queue_size + self._batch_size:
                exporter.warn_queue_full(self._queue_size)
        super().on_end(span)


def export_processor(exporter: SpanExporter) -> SpanProcessor:
    """The span processor for an exporter, as the SDK's configurator asks for it."""
    if isinstance(exporter, SeamscopeSpanExporter):
        queue = _env_int(OTEL_BSP_MAX_QUEUE_SIZE, DEFAULT_QUEUE_SIZE)
        batch = min(queue, _env_int(OTEL_BSP_MAX_EXPORT_BATCH_SIZE, DEFAULT_EXPORT_BATCH))
        return SeamscopeSpanProcessor(exporter, queue, batch)
    return BatchSpanProcessor(exporter)
