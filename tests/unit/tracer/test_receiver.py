"""The receiver in this process, spoken to over real loopback HTTP."""

from __future__ import annotations

import gzip
import http.client
import json
import threading
import zlib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import duckdb
import pyarrow as pa
import pyarrow.ipc
import pytest
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceResponse

from seamscope.tracer.access import SqlRejected
from seamscope.tracer.errors import SeamscopeError
from seamscope.tracer.otlp import protobuf_to_json
from seamscope.tracer.otlp.common import zstd
from seamscope.tracer.owner import BATCH_KEY_HEADER, find_owner
from seamscope.tracer.receiver import PortInUse, Receiver
from seamscope.tracer.receiver.server import bind
from seamscope.tracer.spool import spooled_files, write_spool
from seamscope.tracer.store import StoreLocked, open_read_only
from tests.otlp_sample import sample_request

PB = {"Content-Type": "application/x-protobuf"}
JS = {"Content-Type": "application/json"}


def post(
    receiver: Receiver, body: bytes, headers: dict[str, str], path: str = "/v1/traces"
) -> tuple[int, bytes, http.client.HTTPResponse]:
    conn = http.client.HTTPConnection("127.0.0.1", receiver.port, timeout=30)
    try:
        conn.request("POST", path, body=body, headers=headers)
        response = conn.getresponse()
        return response.status, response.read(), response
    finally:
        conn.close()


def count(db: Path) -> int:
    con = open_read_only(db)
    try:
        row = con.execute("SELECT count(*) FROM spans").fetchall()[0]
        return int(row[0])
    finally:
        con.close()


@pytest.fixture
def receiver(db_path: Path) -> Iterator[Receiver]:
    r = Receiver(db_path, port=0, max_body_bytes=1024 * 1024).start()
    try:
        yield r
    finally:
        r.stop()


def test_protobuf_json_gzip_deflate_and_zstd_bodies_are_stored_once(
    receiver: Receiver, db_path: Path
) -> None:
    body = sample_request(40, seed=1).SerializeToString()
    assert post(receiver, body, PB)[0] == 200
    assert post(receiver, body, PB)[0] == 200  # a retry: stored once
    gz = gzip.compress(sample_request(10, seed=2).SerializeToString())
    assert post(receiver, gz, {**PB, "Content-Encoding": "gzip"})[0] == 200
    deflated = zlib.compress(sample_request(5, seed=3).SerializeToString())
    assert post(receiver, deflated, {**PB, "Content-Encoding": "deflate"})[0] == 200
    line = protobuf_to_json(sample_request(7, seed=4).SerializeToString()).encode()
    status, data, response = post(receiver, line, JS)
    assert status == 200 and json.loads(data) == {}
    assert response.getheader("Content-Type", "").startswith("application/json")
    # zstd, as the Collector's otlphttp exporter sends with `compression: zstd`; the same
    # request once more in gzip is the same batch (the key is the body's, decompressed).
    packed = zstd.compress(sample_request(6, seed=5).SerializeToString())
    assert post(receiver, packed, {**PB, "Content-Encoding": "zstd"})[0] == 200
    again = gzip.compress(sample_request(6, seed=5).SerializeToString())
    assert post(receiver, again, {**PB, "Content-Encoding": "gzip"})[0] == 200
    assert receiver.stats.stored == 68 and receiver.stats.duplicate == 46
    rows = receiver.query("SELECT count(*), count(DISTINCT batch_id) FROM spans").to_pylist()
    assert rows == [{"count_star()": 68, "count(DISTINCT batch_id)": 5}]
    assert receiver.watermark == 5


def test_batch_key_header_makes_different_bodies_one_batch(receiver: Receiver) -> None:
    first = sample_request(3, seed=10).SerializeToString()
    second = sample_request(3, seed=11).SerializeToString()
    key = {BATCH_KEY_HEADER: "exporter-batch-1"}
    _, _, r1 = post(receiver, first, {**PB, **key})
    _, _, r2 = post(receiver, second, {**PB, **key})
    assert r1.getheader("X-Seamscope-Stored") == "3" and r2.getheader("X-Seamscope-Stored") == "0"
    assert receiver.query("SELECT count(*) AS n FROM spans").to_pylist() == [{"n": 3}]


def test_chunked_body(receiver: Receiver) -> None:
    body = sample_request(20, seed=5).SerializeToString()
    conn = http.client.HTTPConnection("127.0.0.1", receiver.port, timeout=30)
    chunks = [body[i : i + 100] for i in range(0, len(body), 100)]
    conn.request("POST", "/v1/traces", body=iter(chunks), headers=PB, encode_chunked=True)
    response = conn.getresponse()
    assert response.status == 200, response.read()
    conn.close()
    assert receiver.stats.stored == 20


def test_partial_success_and_errors(receiver: Receiver) -> None:
    request = sample_request(4, seed=6, services=1)
    request.resource_spans[0].scope_spans[0].spans[2].trace_id = b"\x01" * 3
    status, data, _ = post(receiver, request.SerializeToString(), PB)
    assert status == 200
    partial = ExportTraceServiceResponse.FromString(data).partial_success
    assert (
        partial.rejected_spans == 1
        and "spans[2].traceId: 3 bytes, want 16" in partial.error_message
    )
    status, data, _ = post(receiver, b"\x0a\xff\xff", PB)
    assert status == 400 and b"not an OTLP protobuf" in data
    status, data, _ = post(receiver, b'{"resourceSpans": 3}', JS)
    assert status == 400 and "resourceSpans: a number" in json.loads(data)["message"]
    assert post(receiver, b"x", {"Content-Type": "text/plain"})[0] == 415
    assert post(receiver, b"x", {**PB, "Content-Encoding": "br"})[0] == 415
    status, data, _ = post(receiver, b"not gzip", {**PB, "Content-Encoding": "gzip"})
    assert status == 400 and b"not valid gzip" in data
    assert receiver.stats.stored == 3 and receiver.stats.rejected == 1
    assert receiver.stats.bad_requests == 5  # the two 415s too: refused whole, as a 400 is


def test_size_limits_on_the_wire_and_after_inflating(receiver: Receiver) -> None:
    status, data, _ = post(receiver, b"\0" * (2 * 1024 * 1024), PB)
    assert status == 413 and b"over the limit" in data
    bomb = gzip.compress(b"\0" * (64 * 1024 * 1024), compresslevel=9)
    assert len(bomb) < 1024 * 1024
    status, data, _ = post(receiver, bomb, {**PB, "Content-Encoding": "gzip"})
    assert status == 413 and b"inflates past" in data
    assert post(receiver, sample_request(2, seed=8).SerializeToString(), PB)[0] == 200
    assert receiver.stats.bad_requests == 2  # collect's count of requests refused whole


def sql_headers(receiver: Receiver) -> dict[str, str]:
    assert receiver.owner is not None
    return {**JS, **receiver.owner.headers()}


def test_sql_endpoint_is_read_only(receiver: Receiver) -> None:
    post(receiver, sample_request(6, seed=9).SerializeToString(), PB)
    sql = sql_headers(receiver)
    q0 = {"sql": "SELECT service_name, count(*) AS n FROM spans GROUP BY ALL ORDER BY 1"}
    status, data, _ = post(receiver, json.dumps(q0).encode(), sql, "/seamscope/v1/sql")
    assert status == 200
    table = pa.ipc.open_stream(data).read_all()
    assert table.to_pylist() == [{"service_name": f"svc-{i}", "n": 2} for i in range(3)]
    q: dict[str, object] = {"sql": "SELECT * FROM range(10)", "format": "json", "limit": 4}
    status, data, response = post(receiver, json.dumps(q).encode(), sql, "/seamscope/v1/sql")
    assert json.loads(data)["rows"] == [[0], [1], [2], [3]]
    assert response.getheader("X-Seamscope-Truncated") == "true"
    for bad in (
        "DELETE FROM spans",
        "SELECT 1; DROP TABLE spans",
        "ATTACH 'x.db'",
        "COPY spans TO 'x.csv'",
        "INSTALL httpfs",
        "LOAD json",
        "SET threads = 1",
        "SELECT * FROM read_csv('/etc/passwd')",
    ):
        status, data, _ = post(
            receiver, json.dumps({"sql": bad}).encode(), sql, "/seamscope/v1/sql"
        )
        assert status == 400, bad
        assert json.loads(data)["error"]
    with pytest.raises(SqlRejected, match="only SELECT"):
        receiver.query("UPDATE spans SET name = 'x'")
    assert receiver.query("SELECT count(*) AS n FROM spans").to_pylist() == [{"n": 6}]


def test_after_commit_runs_beside_the_writer_and_tee_writes_json_lines(
    db_path: Path, tmp_path: Path
) -> None:
    seen: list[tuple[str, int]] = []

    def hook(con: duckdb.DuckDBPyConnection) -> None:
        row = con.execute("SELECT count(*) FROM spans").fetchall()[0]
        seen.append((threading.current_thread().name, int(row[0])))

    tee = tmp_path / "tee.jsonl"
    with Receiver(db_path, port=0, after_commit=hook, tee_path=tee) as r:
        body = sample_request(5, seed=12).SerializeToString()
        post(r, body, PB)
        post(r, body, PB)
        post(r, protobuf_to_json(sample_request(2, seed=13).SerializeToString()).encode(), JS)
    # Its own thread (commits go on while it runs), once at start and after the last commit.
    assert seen[0] == ("seamscope-hook", 0)
    assert seen[-1] == ("seamscope-hook", 7)
    lines = tee.read_text().splitlines()
    assert len(lines) == 2
    assert lines[0] == protobuf_to_json(body)


def test_commits_go_on_while_the_hook_runs(db_path: Path) -> None:
    """A request posted while the hook runs is committed and answered before the run ends: a
    writer that waited for the hook would never commit it, and the run would give up."""
    import time

    entered = threading.Event()
    saw_commit = threading.Event()
    calls: list[int] = []

    def stored(con: duckdb.DuckDBPyConnection) -> int:
        return int(con.execute("SELECT count(*) FROM spans").fetchall()[0][0])

    def hook(con: duckdb.DuckDBPyConnection) -> None:
        calls.append(stored(con))
        if len(calls) > 1:
            return
        entered.set()
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            if stored(con) == 5:
                saw_commit.set()
                return
            time.sleep(0.02)

    with Receiver(db_path, port=0, after_commit=hook, after_commit_interval_s=0) as r:
        assert entered.wait(60)
        status, _, _ = post(r, sample_request(5, seed=21).SerializeToString(), PB)
        assert status == 200
        assert saw_commit.wait(60)
    assert calls[0] == 0
    assert calls[-1] == 5  # and it ran again for what was committed meanwhile


def test_the_owner_bounds_duckdbs_memory(db_path: Path) -> None:
    with Receiver(db_path, port=0) as r:
        setting = r.query("SELECT current_setting('memory_limit') AS m").to_pylist()[0]["m"]
    assert setting == "1.8 GiB"  # DuckDB's spelling of 2 GB


def test_owner_file_while_running_and_refusals(db_path: Path) -> None:
    r = Receiver(db_path, port=0).start()
    try:
        owner = find_owner(db_path)
        assert owner is not None and owner.port == r.port
        with pytest.raises(PortInUse, match="port is in use"):
            Receiver(db_path.with_name("other.duckdb"), port=r.port).start()
        assert not db_path.with_name("other.duckdb.owner.json").exists()
    finally:
        r.stop()
    assert find_owner(db_path) is None
    assert count(db_path) == 0


def test_stop_commits_what_was_acknowledged(db_path: Path) -> None:
    r = Receiver(db_path, port=0).start()
    statuses = []

    def send(seed: int) -> None:
        statuses.append(post(r, sample_request(50, seed=seed).SerializeToString(), PB)[0])

    threads = [threading.Thread(target=send, args=(100 + i,)) for i in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    r.stop()
    assert statuses == [200] * 8
    assert count(db_path) == 400


def test_a_locked_store_names_the_process(db_path: Path) -> None:
    import subprocess
    import sys

    holder = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "import duckdb, sys; c = duckdb.connect(sys.argv[1]); print('ok', flush=True); "
            "sys.stdin.read()",
            str(db_path),
        ],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
    )
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == b"ok"
        with pytest.raises(StoreLocked, match=f"locked by process {holder.pid}"):
            Receiver(db_path, port=0).start()
    finally:
        holder.kill()
        holder.wait()


def test_spool_is_drained_at_start(db_path: Path) -> None:
    from seamscope.tracer.otlp import decode_protobuf
    from seamscope.tracer.rows import SpanBatchBuilder

    builder = SpanBatchBuilder()
    decode_protobuf(sample_request(9, seed=14).SerializeToString(), builder)
    write_spool(db_path, builder.build(), "spooled-1")
    with Receiver(db_path, port=0) as r:
        assert r.stats.drained == 9
        assert r.query("SELECT count(*) AS n FROM spans").to_pylist() == [{"n": 9}]


def test_bad_host_is_one_line() -> None:
    with pytest.raises(SeamscopeError, match="cannot listen"):
        bind("203.0.113.1", 0)


def test_spool_written_while_running_is_drained_when_idle(db_path: Path) -> None:
    import time

    from seamscope.tracer.otlp import decode_protobuf
    from seamscope.tracer.rows import SpanBatchBuilder

    builder = SpanBatchBuilder()
    decode_protobuf(sample_request(4, seed=15).SerializeToString(), builder)
    with Receiver(db_path, port=0, drain_interval_s=0.1) as r:
        write_spool(db_path, builder.build(), "spooled-later")
        deadline = time.monotonic() + 60
        while r.stats.drained < 4:
            assert time.monotonic() < deadline, "the spool was not drained within 60 s"
            time.sleep(0.05)
        assert r.query("SELECT count(*) AS n FROM spans").to_pylist() == [{"n": 4}]
        assert r.watermark == 1
    assert not spooled_files(db_path)


def test_a_quiet_writer_runs_the_hook_it_owes_then_checkpoints(db_path: Path) -> None:
    """Under an interval that never passes, only a quiet queue runs the hook; the checkpoint it
    owes next empties the WAL."""
    import time

    from seamscope.tracer.ingest import Batch
    from seamscope.tracer.otlp import decode_protobuf
    from seamscope.tracer.receiver.stats import ReceiverStats
    from seamscope.tracer.receiver.writer import Work, Writer
    from seamscope.tracer.rows import SpanBatchBuilder
    from seamscope.tracer.store import Store

    wal = db_path.with_name(db_path.name + ".wal")

    def wal_size() -> int:
        return wal.stat().st_size if wal.exists() else 0

    hooked: list[int] = []
    writer = Writer(
        Store.open(db_path, config={"checkpoint_threshold": "1GB"}),
        ReceiverStats(),
        after_commit=lambda con: hooked.append(wal_size()),
        after_commit_interval_s=3600.0,
        drain_interval_s=3600.0,
        tee=None,
    )
    builder = SpanBatchBuilder()
    decode_protobuf(sample_request(5, seed=16).SerializeToString(), builder)
    answered = threading.Event()
    outcomes: list[int | BaseException] = []

    def done(outcome: int | BaseException) -> None:
        outcomes.append(outcome)
        answered.set()

    writer.start()
    try:
        writer.submit(Work(Batch(builder.build(), "quiet", "test"), done, None))
        assert answered.wait(60)
        assert outcomes == [5] and writer.watermark == 1
        deadline = time.monotonic() + 60
        while len(hooked) < 2 or wal_size():
            assert time.monotonic() < deadline, f"hook runs {hooked}, WAL {wal_size()} bytes"
            time.sleep(0.05)
        assert hooked[1] > 0  # once quiet, before the checkpoint
    finally:
        writer.stop()
        writer.close()
    assert len(hooked) == 2


def _writer_and_tables(db_path: Path, group_wait_s: float, count: int) -> tuple[Any, list[Any]]:
    from seamscope.tracer.otlp import decode_protobuf
    from seamscope.tracer.receiver.stats import ReceiverStats
    from seamscope.tracer.receiver.writer import Writer
    from seamscope.tracer.rows import SpanBatchBuilder
    from seamscope.tracer.store import Store

    writer = Writer(
        Store.open(db_path),
        ReceiverStats(),
        after_commit=None,
        after_commit_interval_s=3600.0,
        drain_interval_s=3600.0,
        tee=None,
        group_wait_s=group_wait_s,
    )
    tables = []
    for seed in range(count):
        builder = SpanBatchBuilder()
        decode_protobuf(sample_request(3, seed=40 + seed).SerializeToString(), builder)
        tables.append(builder.build())
    return writer, tables


def _commits(db_path: Path) -> list[list[str]]:
    """The batch keys of each transaction (the ledger rows of one commit share ingested_at)."""
    con = open_read_only(db_path)
    try:
        rows = con.execute(
            "SELECT list(batch_key ORDER BY batch_key) FROM batches GROUP BY ingested_at "
            "ORDER BY min(batch_id)"
        ).fetchall()
    finally:
        con.close()
    return [list(r[0]) for r in rows]


def test_a_commit_waits_for_requests_still_being_decoded(db_path: Path) -> None:
    """Three requests announced at once share one commit, however long their decoding takes
    (the wait is an hour here: only the announcements decide); without announcements each
    request queued alone is committed alone."""
    from seamscope.tracer.ingest import Batch
    from seamscope.tracer.receiver.writer import Work

    writer, tables = _writer_and_tables(db_path, 3600.0, 5)
    answered: list[threading.Event] = []

    def work(i: int) -> Any:
        event = threading.Event()
        answered.append(event)
        return Work(Batch(tables[i], f"k{i}", "test"), lambda outcome: event.set(), None)

    writer.start()
    try:
        for _ in range(3):
            writer.expect()
        writer.submit(work(0), expected=True)
        writer.submit(work(1), expected=True)
        assert not answered[0].wait(0.2)  # held back for the third
        writer.submit(work(2), expected=True)
        assert all(e.wait(60) for e in answered)
        for i in (3, 4):
            writer.submit(work(i))
            assert answered[i].wait(60)
    finally:
        writer.stop()
        writer.close()
    assert _commits(db_path) == [["k0", "k1", "k2"], ["k3"], ["k4"]]


def test_a_request_that_will_not_come_releases_the_commit_waiting_for_it(
    db_path: Path,
) -> None:
    from seamscope.tracer.ingest import Batch
    from seamscope.tracer.receiver.writer import Work

    writer, tables = _writer_and_tables(db_path, 3600.0, 1)
    answered = threading.Event()
    writer.start()
    try:
        writer.expect()
        writer.expect()
        writer.submit(
            Work(Batch(tables[0], "k0", "test"), lambda o: answered.set(), None), expected=True
        )
        writer.unexpect(nudge=True)  # its body did not decode
        assert answered.wait(60)  # not the hour the writer would wait otherwise
    finally:
        writer.stop()
        writer.close()
    assert _commits(db_path) == [["k0"]]


def test_bad_requests_leave_no_commit_waiting(receiver: Receiver, db_path: Path) -> None:
    """Every way a request can end settles its announcement: a later commit does not wait."""
    assert post(receiver, b"\xff\xff not protobuf", PB)[0] == 400
    assert post(receiver, b"[1]", JS)[0] == 400
    no_span = {"resourceSpans": [{"resource": {}, "scopeSpans": [{"spans": [{"traceId": "x"}]}]}]}
    assert post(receiver, json.dumps(no_span).encode(), JS)[0] == 400
    assert post(receiver, b"{}", JS)[0] == 200  # nothing to store
    assert post(receiver, sample_request(2, seed=3).SerializeToString(), PB)[0] == 200
    writer = receiver._writer
    assert writer is not None and writer._coming == 0


def test_the_first_design_and_the_default_receiver_store_the_same_rows(tmp_path: Path) -> None:
    """The same requests through the first design (general walk in threads, no commit
    grouping) and through decoder processes with otlp.flat: the spans tables are equal,
    EXCEPT ALL both ways, the JSON columns and redaction included."""
    from opentelemetry.proto.common.v1.common_pb2 import AnyValue

    bodies = []
    for seed in range(6):
        request = sample_request(40, seed=60 + seed)
        span = request.resource_spans[0].scope_spans[0].spans[seed]
        span.attributes.add(key="http.url").value.string_value = f"https://u:pw@h/{seed}?code=x"
        span.attributes.add(key="authorization").value.string_value = "Bearer abc.def"
        span.attributes.add(key="ratio").value.double_value = float("inf")
        nested = span.attributes.add(key="m").value.kvlist_value.values.add(key="k")
        nested.value.CopyFrom(AnyValue(int_value=seed))
        event = span.events.add(name="exception", time_unix_nano=span.start_time_unix_nano)
        event.attributes.add(key="exception.message").value.string_value = "AKIAABCDEFGHIJKLMNOP"
        span.links.add(trace_id=b"\x05" * 16, span_id=b"\x06" * 8)
        bodies.append(request.SerializeToString())
    first_db, now_db = tmp_path / "first.duckdb", tmp_path / "now.duckdb"
    first = Receiver(first_db, port=0, decode_processes=0, group_wait_s=0.0, flat_decode=False)
    now = Receiver(now_db, port=0, decode_processes=2)
    for receiver in (first, now):
        with receiver:
            threads = [threading.Thread(target=post, args=(receiver, body, PB)) for body in bodies]
            for t in threads:
                t.start()
            for t in threads:
                t.join()
    con = duckdb.connect()
    try:
        con.execute(f"ATTACH '{first_db}' AS a (READ_ONLY)")
        con.execute(f"ATTACH '{now_db}' AS b (READ_ONLY)")
        columns = ", ".join(
            r[0] for r in con.execute("DESCRIBE a.spans").fetchall() if r[0] != "batch_id"
        )
        counts = con.execute(
            "SELECT (SELECT count(*) FROM a.spans), (SELECT count(*) FROM b.spans)"
        ).fetchall()
        differ = con.execute(
            f"SELECT count(*) FROM ((SELECT {columns} FROM a.spans EXCEPT ALL "
            f"SELECT {columns} FROM b.spans) UNION ALL (SELECT {columns} FROM b.spans "
            f"EXCEPT ALL SELECT {columns} FROM a.spans))"
        ).fetchall()
        leaked = con.execute(
            "SELECT count(*) FROM b.spans WHERE attributes::VARCHAR LIKE '%pw@%' "
            "OR attributes::VARCHAR LIKE '%abc.def%' OR span_events::VARCHAR LIKE '%AKIA%'"
        ).fetchall()
    finally:
        con.close()
    assert counts == [(240, 240)] and differ == [(0,)] and leaked == [(0,)]


def test_an_owner_process_takes_the_interpreter_in_short_turns() -> None:
    """`seamscope collect` shortens the interpreter's switch interval, so the SQL endpoint's
    threads get their turns while the classifier derives in Python; never lengthens it."""
    import sys

    from seamscope.tracer.receiver import OWNER_SWITCH_INTERVAL_S, owner_process

    before = sys.getswitchinterval()
    try:
        sys.setswitchinterval(0.005)
        owner_process()
        assert sys.getswitchinterval() == pytest.approx(OWNER_SWITCH_INTERVAL_S)
        assert OWNER_SWITCH_INTERVAL_S < 0.005
        sys.setswitchinterval(OWNER_SWITCH_INTERVAL_S / 2)
        owner_process()
        assert sys.getswitchinterval() == pytest.approx(OWNER_SWITCH_INTERVAL_S / 2)
    finally:
        sys.setswitchinterval(before)
