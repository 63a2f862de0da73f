from __future__ import annotations

import json
import logging
import os
import subprocess
import sys
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import (
    BatchSpanProcessor,
    SimpleSpanProcessor,
    SpanExportResult,
)
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from seamscope.tracer import owner
from seamscope.tracer.exporter import SeamscopeSpanExporter
from seamscope.tracer.sdk_spans import repaired_spans
from seamscope.tracer.spool import spool_dir, spooled_files
from seamscope.tracer.store import Store, open_read_only

_HOLD = """
import sys
from pathlib import Path
from seamscope.tracer.store import Store
store = Store.open(Path(sys.argv[1]))
print("locked", flush=True)
sys.stdin.read()
store.close()
"""


def _spans(n: int, name: str = "op") -> list[ReadableSpan]:
    memory = InMemorySpanExporter()
    provider = TracerProvider(resource=Resource.create({"service.name": "unit-svc"}))
    provider.add_span_processor(SimpleSpanProcessor(memory))
    tracer = provider.get_tracer("unit")
    for i in range(n):
        with tracer.start_as_current_span(f"{name}-{i}", attributes={"aws.s3.bucket": "b"}):
            pass
    return list(memory.get_finished_spans())


def _counts(db_path: Path) -> tuple[int, int]:
    con = open_read_only(db_path)
    try:
        row = con.execute("select count(*), count(distinct span_id) from spans").fetchone()
    finally:
        con.close()
    assert row is not None
    return int(row[0]), int(row[1])


class LockHolder:
    """Another process that holds the store read-write until released."""

    def __init__(self, db_path: Path) -> None:
        self.proc = subprocess.Popen(
            [sys.executable, "-c", _HOLD, str(db_path)],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
        )
        assert self.proc.stdout is not None
        assert self.proc.stdout.readline().strip() == b"locked"

    def release(self) -> None:
        if self.proc.poll() is None:
            assert self.proc.stdin is not None
            self.proc.stdin.close()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()


@pytest.fixture
def lock_holder(db_path: Path) -> Iterator[LockHolder]:
    holder = LockHolder(db_path)
    try:
        yield holder
    finally:
        holder.release()


def test_export_appends_to_the_store_under_a_short_lock(db_path: Path) -> None:
    exporter = SeamscopeSpanExporter(db_path)
    assert exporter.export(_spans(5)) is SpanExportResult.SUCCESS
    assert exporter.export(_spans(3)) is SpanExportResult.SUCCESS
    assert _counts(db_path) == (8, 8)
    con = open_read_only(db_path)
    sources = con.execute("select source, span_count from batches order by batch_id").fetchall()
    con.close()
    assert sources == [("exporter", 5), ("exporter", 3)]
    assert exporter.delivered_store == 8


def test_the_sdk_creates_it_with_no_arguments(
    db_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SEAMSCOPE_DB", str(db_path))
    provider = TracerProvider(resource=Resource.create({"service.name": "bsp"}))
    provider.add_span_processor(BatchSpanProcessor(SeamscopeSpanExporter()))
    tracer = provider.get_tracer("unit")
    for i in range(700):
        with tracer.start_as_current_span(f"s{i}"):
            pass
    provider.shutdown()
    assert _counts(db_path) == (700, 700)


def test_locked_store_keeps_spans_in_memory_then_delivers(
    db_path: Path, lock_holder: LockHolder
) -> None:
    exporter = SeamscopeSpanExporter(db_path, lock_attempts=1)
    assert exporter.export(_spans(4)) is SpanExportResult.SUCCESS
    assert exporter.pending_spans == 4
    lock_holder.release()
    assert exporter.export(_spans(2)) is SpanExportResult.SUCCESS
    assert exporter.pending_spans == 0
    assert _counts(db_path) == (6, 6)


def test_over_the_memory_bound_batches_go_to_the_spool_and_are_drained(
    db_path: Path, lock_holder: LockHolder
) -> None:
    exporter = SeamscopeSpanExporter(db_path, memory_spans=5, lock_attempts=1)
    for _ in range(4):
        exporter.export(_spans(3))
    assert exporter.pending_spans <= 5
    assert exporter.spooled == 12 - exporter.pending_spans
    assert spooled_files(db_path)
    lock_holder.release()
    exporter.export([])
    assert spooled_files(db_path) == []
    assert _counts(db_path) == (12, 12)


def test_shutdown_spools_what_it_could_not_deliver(db_path: Path, lock_holder: LockHolder) -> None:
    exporter = SeamscopeSpanExporter(db_path, lock_attempts=1)
    exporter.export(_spans(7))
    exporter.shutdown(timeout_millis=200)
    assert exporter.pending_spans == 0
    assert exporter.spooled == 7
    lock_holder.release()
    # The next writer, any writer, drains the spool first.
    SeamscopeSpanExporter(db_path).export(_spans(1))
    assert _counts(db_path) == (8, 8)


def test_drops_only_when_memory_and_spool_fail_and_says_so(
    db_path: Path, lock_holder: LockHolder, caplog: pytest.LogCaptureFixture
) -> None:
    spool_dir(db_path).write_text("a file where the spool folder should be")
    exporter = SeamscopeSpanExporter(db_path, memory_spans=2, lock_attempts=1)
    with caplog.at_level(logging.WARNING):
        assert exporter.export(_spans(3)) is SpanExportResult.FAILURE
        exporter.shutdown(timeout_millis=200)
    assert exporter.dropped == 3
    assert "3 spans" in caplog.text and "dropped" in caplog.text
    lock_holder.release()
    # The loss is counted in the store the next time the exporter can write.
    exporter.export([])
    con = open_read_only(db_path)
    row = con.execute("select value from seamscope_meta where key = 'dropped_spans'").fetchone()
    con.close()
    assert row == ("3",)


def test_a_missing_folder_never_raises_into_the_service(tmp_path: Path) -> None:
    exporter = SeamscopeSpanExporter(tmp_path / "nope" / "s.duckdb", memory_spans=1)
    assert exporter.export(_spans(2)) is SpanExportResult.FAILURE
    exporter.shutdown(timeout_millis=200)
    assert exporter.dropped == 2


class _Owner:
    """A stand-in owner that records what it receives; statuses are answered in order."""

    def __init__(self, statuses: list[int]) -> None:
        self.statuses = statuses
        self.received: list[tuple[str, str | None, bytes]] = []
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers["content-length"]))
                outer.received.append((self.path, self.headers.get(owner.BATCH_KEY_HEADER), body))
                status = outer.statuses.pop(0) if outer.statuses else 200
                self.send_response(status)
                self.send_header("content-length", "0")
                self.end_headers()

            def log_message(self, fmt: str, *args: Any) -> None:
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.port = int(self.httpd.server_address[1])
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self.thread.start()

    def close(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


@pytest.fixture
def fake_owner(db_path: Path) -> Iterator[_Owner]:
    server = _Owner([])
    owner.publish(db_path, "127.0.0.1", server.port)
    try:
        yield server
    finally:
        owner.withdraw(db_path)
        server.close()


def test_a_live_owner_gets_otlp_protobuf_with_a_batch_key(
    db_path: Path, fake_owner: _Owner
) -> None:
    exporter = SeamscopeSpanExporter(db_path)
    assert exporter.export(_spans(4)) is SpanExportResult.SUCCESS
    assert exporter.delivered_owner == 4
    assert not db_path.exists()
    (path, key, body) = fake_owner.received[0]
    assert path == "/v1/traces"
    assert key is not None and len(key) == 32
    request = ExportTraceServiceRequest.FromString(body)
    spans = [s for rs in request.resource_spans for ss in rs.scope_spans for s in ss.spans]
    assert sorted(s.name for s in spans) == [f"op-{i}" for i in range(4)]


def test_a_retry_to_the_owner_keeps_the_batch_key(db_path: Path, fake_owner: _Owner) -> None:
    fake_owner.statuses = [503]
    holder = LockHolder(db_path)  # the owner holds the store, so the exporter must wait for it
    try:
        exporter = SeamscopeSpanExporter(db_path, lock_attempts=1)
        exporter.export(_spans(2))
        assert exporter.pending_spans == 2
        exporter.export(_spans(1))
    finally:
        holder.release()
    keys = [key for _, key, _ in fake_owner.received]
    assert len(keys) == 3 and keys[0] == keys[1] != keys[2]
    assert exporter.pending_spans == 0 and exporter.delivered_owner == 3


def test_a_batch_the_owner_refuses_is_spooled_not_lost(db_path: Path, fake_owner: _Owner) -> None:
    fake_owner.statuses = [400]
    exporter = SeamscopeSpanExporter(db_path)
    exporter.export(_spans(3))
    assert exporter.spooled == 3 and exporter.dropped == 0
    assert len(spooled_files(db_path)) == 1


def test_stale_owner_file_with_closed_port_falls_back_to_the_store(db_path: Path) -> None:
    server = _Owner([])
    port = server.port
    server.close()
    owner.publish(db_path, "127.0.0.1", port)  # our own pid: alive, but nobody listens
    try:
        exporter = SeamscopeSpanExporter(db_path)
        assert exporter.export(_spans(3)) is SpanExportResult.SUCCESS
    finally:
        owner.withdraw(db_path)
    assert _counts(db_path) == (3, 3)


def test_export_into_an_existing_store_with_other_data(db_path: Path) -> None:
    with Store.open(db_path):
        pass
    SeamscopeSpanExporter(db_path).export(_spans(2))
    assert _counts(db_path) == (2, 2)


def test_shutdown_waits_a_little_for_a_lock_that_goes_away(
    db_path: Path, lock_holder: LockHolder
) -> None:
    exporter = SeamscopeSpanExporter(db_path, lock_attempts=1)
    exporter.export(_spans(3))
    timer = threading.Timer(0.5, lock_holder.release)
    timer.start()
    try:
        exporter.shutdown(timeout_millis=10_000)
    finally:
        timer.join()
    assert (exporter.spooled, exporter.delivered_store) == (0, 3)
    assert _counts(db_path) == (3, 3)


def test_a_full_spool_counts_as_a_failed_spool(db_path: Path, lock_holder: LockHolder) -> None:
    exporter = SeamscopeSpanExporter(db_path, memory_spans=2, spool_max_bytes=1, lock_attempts=1)
    assert exporter.export(_spans(3)) is SpanExportResult.FAILURE
    assert (exporter.dropped, exporter.spooled) == (3, 0)
    assert spooled_files(db_path) == []


def test_a_batch_that_cannot_be_converted_does_not_hold_up_the_others(
    db_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import seamscope.tracer.exporter as exporter_module
    from seamscope.tracer.sdk_spans import add_sdk_spans as real

    def picky(builder: Any, spans: Any) -> None:
        if any(s.name.startswith("poison") for s in spans):
            raise ValueError("cannot convert")
        real(builder, spans)

    monkeypatch.setattr(exporter_module, "add_sdk_spans", picky)
    exporter = SeamscopeSpanExporter(db_path)
    assert exporter.export(_spans(2, "poison")) is SpanExportResult.FAILURE
    assert exporter.export(_spans(3)) is SpanExportResult.SUCCESS
    assert (exporter.dropped, exporter.delivered_store, exporter.pending_spans) == (2, 3, 0)
    assert _counts(db_path) == (3, 3)


def test_export_after_shutdown_spools_at_once(db_path: Path, lock_holder: LockHolder) -> None:
    exporter = SeamscopeSpanExporter(db_path, lock_attempts=1)
    exporter.shutdown(timeout_millis=0)
    exporter.export(_spans(2))
    assert (exporter.pending_spans, exporter.spooled) == (0, 2)


def test_spans_the_span_processor_drops_are_counted(db_path: Path) -> None:
    from seamscope.tracer.exporter import SeamscopeSpanProcessor
    from seamscope.tracer.spool import DROPPED_KEY

    release = threading.Event()

    class Stuck(SeamscopeSpanExporter):
        def export(self, spans: Any) -> SpanExportResult:
            release.wait(30)  # an owner that takes its time: the queue fills meanwhile
            return super().export(spans)

    exporter = Stuck(db_path)
    provider = TracerProvider(resource=Resource.create({"service.name": "unit-svc"}))
    provider.add_span_processor(SeamscopeSpanProcessor(exporter, 20, 10))
    tracer = provider.get_tracer("unit")
    for i in range(200):
        with tracer.start_as_current_span(f"op-{i}"):
            pass
    release.set()
    provider.shutdown()
    assert exporter.offered == 200
    assert 0 < exporter.dropped == 200 - exporter.received
    stored, _ = _counts(db_path)
    con = open_read_only(db_path)
    try:
        row = con.execute(
            "select value from seamscope_meta where key = ?", [DROPPED_KEY]
        ).fetchone()
    finally:
        con.close()
    assert row is not None and stored + int(row[0]) == 200


def test_a_spool_file_can_carry_a_count_of_dropped_spans(db_path: Path) -> None:
    from seamscope.tracer.rows import SpanBatchBuilder
    from seamscope.tracer.spool import drain_spool, write_spool

    write_spool(db_path, SpanBatchBuilder().build(), "dropped-1", dropped=7)
    write_spool(db_path, SpanBatchBuilder().build(), "dropped-2", dropped=5)
    with Store.open(db_path) as store:
        assert drain_spool(store) == 0
        row = store.con.execute(
            "select value from seamscope_meta where key = 'dropped_spans'"
        ).fetchone()
        assert row == ("12",)
        assert drain_spool(store) == 0  # drained once only
    assert spooled_files(db_path) == []


def _spans_with_a_surrogate() -> list[ReadableSpan]:
    """Three spans, the middle one named and tagged with a lone surrogate (a file name that is
    not UTF-8, as os.fsdecode gives it), in its resource's attributes too."""
    memory = InMemorySpanExporter()
    provider = TracerProvider(resource=Resource.create({"service.name": "unit-svc"}))
    provider.add_span_processor(SimpleSpanProcessor(memory))
    tracer = provider.get_tracer("unit")
    for name in ("a", "caf\udce9", "z"):
        with tracer.start_as_current_span(f"read {name}", attributes={"file.name": name}) as s:
            s.add_event("opened", {"file.name": name})
    return list(memory.get_finished_spans())


def test_a_lone_surrogate_costs_no_span_in_the_store(
    db_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    exporter = SeamscopeSpanExporter(db_path)
    with caplog.at_level(logging.WARNING):
        assert exporter.export(_spans_with_a_surrogate()) is SpanExportResult.SUCCESS
    assert (exporter.delivered_store, exporter.repaired, exporter.dropped) == (3, 1, 0)
    con = open_read_only(db_path)
    rows = con.execute("select name, attributes, span_events from spans order by name").fetchall()
    con.close()
    assert [r[0] for r in rows] == ["read a", "read caf\ufffd", "read z"]
    assert json.loads(rows[1][1]) == {"file.name": "caf\ufffd", "seamscope.invalid_utf8": True}
    assert "caf\ufffd" in rows[1][2]
    assert "seamscope.invalid_utf8" not in rows[0][1]
    assert sum("not valid Unicode" in r.getMessage() for r in caplog.records) == 1


@pytest.mark.parametrize(
    "raw",
    [b"caf\xe9", b"caf\xe2\x82", b"\xe2\x82\xe2\x82x", b"\xff\xfe", b"ok\xf0\x9f\x98"],
)
def test_a_file_name_that_is_not_utf8_is_repaired_as_the_receiver_reads_its_bytes(
    raw: bytes,
) -> None:
    # What the receiver stores for these bytes (protobuf and JSON alike: one U+FFFD per invalid
    # sequence) is what the traced process sends when os.fsdecode gave it the name.
    memory = InMemorySpanExporter()
    provider = TracerProvider(resource=Resource.create({"service.name": "unit-svc"}))
    provider.add_span_processor(SimpleSpanProcessor(memory))
    tracer = provider.get_tracer("unit")
    name = os.fsdecode(raw)
    with tracer.start_as_current_span(name, attributes={"f": name}):
        pass
    # A surrogate no decoding made (an escape in JSON, say) is one U+FFFD.
    with tracer.start_as_current_span("a\ud800\udce9b"):
        pass
    (span, other), repaired = repaired_spans(memory.get_finished_spans())
    assert repaired == 2
    expected = raw.decode("utf-8", "replace")
    assert span.attributes is not None
    assert (span.name, span.attributes["f"]) == (expected, expected)
    assert other.name == "a\ufffd\ufffdb"


def test_a_lone_surrogate_costs_no_span_at_the_owner(db_path: Path, fake_owner: _Owner) -> None:
    exporter = SeamscopeSpanExporter(db_path)
    assert exporter.export(_spans_with_a_surrogate()) is SpanExportResult.SUCCESS
    assert (exporter.delivered_owner, exporter.repaired, exporter.spooled) == (3, 1, 0)
    request = ExportTraceServiceRequest.FromString(fake_owner.received[0][2])
    spans = {
        s.name: {a.key: a.value for a in s.attributes}
        for rs in request.resource_spans
        for ss in rs.scope_spans
        for s in ss.spans
    }
    assert set(spans) == {"read a", "read caf\ufffd", "read z"}
    assert spans["read caf\ufffd"]["seamscope.invalid_utf8"].bool_value is True
    assert spans["read caf\ufffd"]["file.name"].string_value == "caf\ufffd"
    assert "seamscope.invalid_utf8" not in spans["read a"]
