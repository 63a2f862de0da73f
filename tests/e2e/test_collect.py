"""`seamscope collect` as a real process: the stock OTLP exporter, plain HTTP posts, signals."""

from __future__ import annotations

import gzip
import http.client
import json
import os
import signal
import subprocess
import sys
import textwrap
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from seamscope.demo.processes import ManagedProcess, free_port, wait_for_http
from seamscope.tracer.errors import SeamscopeError
from seamscope.tracer.otlp import protobuf_to_json
from seamscope.tracer.owner import find_owner
from seamscope.tracer.store import open_read_only
from tests.otlp_sample import sample_request

pytestmark = pytest.mark.e2e

_SCRIPT = Path(sys.executable).with_name("seamscope")
SEAMSCOPE = [str(_SCRIPT)] if _SCRIPT.exists() else [sys.executable, "-m", "seamscope.cli"]
PYTHON = Path(os.path.realpath(sys.executable)).name
"""The program a Python process that holds a store runs, as DuckDB's lock message names it."""


class Collector:
    def __init__(self, process: ManagedProcess, port: int, log: Path) -> None:
        self.process = process
        self.port = port
        self.url = f"http://127.0.0.1:{port}"
        self.log = log

    def post(
        self, body: bytes, headers: dict[str, str], chunked: bool = False
    ) -> tuple[int, bytes]:
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=30)
        try:
            if chunked:
                parts = [body[i : i + 64] for i in range(0, len(body), 64)]
                conn.request(
                    "POST", "/v1/traces", body=iter(parts), headers=headers, encode_chunked=True
                )
            else:
                conn.request("POST", "/v1/traces", body=body, headers=headers)
            response = conn.getresponse()
            return response.status, response.read()
        finally:
            conn.close()

    def stop(self, sig: signal.Signals) -> int:
        """Sends sig to the collector alone and waits for it to exit."""
        popen = self.process.popen
        assert popen is not None
        popen.send_signal(sig)
        return popen.wait(timeout=60)


def start_collector(db: Path, tmp_path: Path, *extra: str, port: int | None = None) -> Collector:
    port = port or free_port()
    log = tmp_path / f"collect-{port}.log"
    proc = ManagedProcess(
        "collect",
        [*SEAMSCOPE, "collect", "--db", str(db), "--port", str(port), *extra],
        log_path=log,
    ).start()
    try:
        wait_for_http(f"http://127.0.0.1:{port}/", process=proc.popen, timeout_s=30)
    except BaseException:
        proc.stop()
        raise
    return Collector(proc, port, log)


@pytest.fixture
def collector(db_path: Path, tmp_path: Path) -> Iterator[Collector]:
    """The receiver alone (the live classification has a test of its own)."""
    c = start_collector(db_path, tmp_path, "--no-classify")
    try:
        yield c
    finally:
        c.process.stop()


def span_count(db: Path) -> int:
    con = open_read_only(db)
    try:
        return int(con.execute("SELECT count(*) FROM spans").fetchall()[0][0])
    finally:
        con.close()


STOCK_EXPORTER = textwrap.dedent(
    """
    import sys
    from opentelemetry import trace
    from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
    from opentelemetry.sdk.resources import Resource
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import BatchSpanProcessor

    endpoint, n, compression = sys.argv[1], int(sys.argv[2]), sys.argv[3]
    from opentelemetry.exporter.otlp.proto.http import Compression
    provider = TracerProvider(
        resource=Resource.create({"service.name": "node-like", "service.namespace": "billing"})
    )
    exporter = OTLPSpanExporter(endpoint=endpoint, compression=Compression(compression))
    provider.add_span_processor(BatchSpanProcessor(exporter, max_export_batch_size=100))
    tracer = provider.get_tracer("stock")
    for i in range(n):
        with tracer.start_as_current_span("orders send", kind=trace.SpanKind.PRODUCER) as span:
            span.set_attribute("messaging.system", "aws_sqs")
            span.set_attribute("messaging.destination.name", "orders-q")
            span.set_attribute("http.request.header.authorization", "Bearer abc")
    provider.shutdown()
    """
)


def test_stock_otlp_exporter_of_another_process(
    collector: Collector, db_path: Path, tmp_path: Path
) -> None:
    script = tmp_path / "stock.py"
    script.write_text(STOCK_EXPORTER)
    for compression in ("none", "gzip"):
        done = subprocess.run(
            [sys.executable, str(script), f"{collector.url}/v1/traces", "250", compression],
            capture_output=True,
            timeout=60,
            env={**os.environ, "OTEL_SDK_DISABLED": "false"},
        )
        assert done.returncode == 0, done.stderr.decode()
        assert b"Failed to export" not in done.stderr, done.stderr.decode()
    assert collector.stop(signal.SIGTERM) == 0
    con = open_read_only(db_path)
    rows = con.execute(
        "SELECT service_name, service_namespace, kind, messaging_destination, count(*), "
        "count(DISTINCT batch_id) > 1, "
        "bool_and(attributes->>'http.request.header.authorization' = 'REDACTED') "
        "FROM spans GROUP BY ALL"
    ).fetchall()
    con.close()
    assert rows == [("node-like", "billing", "PRODUCER", "orders-q", 500, True, True)]


def test_plain_posts_protobuf_json_gzip_chunked(collector: Collector, db_path: Path) -> None:
    pb = {"Content-Type": "application/x-protobuf"}
    js = {"Content-Type": "application/json"}
    assert collector.post(sample_request(10, seed=1).SerializeToString(), pb)[0] == 200
    line = protobuf_to_json(sample_request(10, seed=2).SerializeToString()).encode()
    status, body = collector.post(line, js)
    assert status == 200 and json.loads(body) == {}
    gz = gzip.compress(sample_request(10, seed=3).SerializeToString())
    assert collector.post(gz, {**pb, "Content-Encoding": "gzip"})[0] == 200
    assert (
        collector.post(sample_request(10, seed=4).SerializeToString(), pb, chunked=True)[0] == 200
    )
    gz_json = gzip.compress(
        protobuf_to_json(sample_request(10, seed=5).SerializeToString()).encode()
    )
    assert collector.post(gz_json, {**js, "Content-Encoding": "gzip"}, chunked=True)[0] == 200
    status, body = collector.post(b"\x0a\x05abc", pb)
    assert status == 400 and b"not an OTLP protobuf" in body
    assert collector.stop(signal.SIGINT) == 0
    assert span_count(db_path) == 50
    out = collector.log.read_text()
    assert "stored 50 spans" in out and "Traceback" not in out


@pytest.mark.parametrize(
    "sig", [signal.SIGTERM, signal.SIGINT, signal.SIGHUP], ids=lambda s: s.name
)
def test_signals_flush_everything_acknowledged(
    db_path: Path, tmp_path: Path, sig: signal.Signals
) -> None:
    c = start_collector(db_path, tmp_path)
    try:
        assert find_owner(db_path) is not None
        bodies = [sample_request(200, seed=s).SerializeToString() for s in range(10)]
        acked = sum(
            200 for b in bodies if c.post(b, {"Content-Type": "application/x-protobuf"})[0] == 200
        )
        assert c.stop(sig) == 0
    finally:
        c.process.stop()
    assert find_owner(db_path) is None
    assert not Path(str(db_path) + ".owner.json").exists()
    assert span_count(db_path) == acked == 2000


def test_a_stream_of_signals_still_stops_it_cleanly(db_path: Path, tmp_path: Path) -> None:
    """Ctrl-C pressed again and again, or a supervisor that repeats its SIGTERM: signals that
    arrive while the handler of the one before still runs. A handler that took a lock
    (threading.Event.set) deadlocked about 3 runs in 10 here; eight runs, each must exit 0
    with what it acknowledged stored and its owner file withdrawn."""
    signals = [signal.SIGTERM, signal.SIGINT, signal.SIGHUP]
    for run in range(8):
        db = tmp_path / f"storm-{run}.duckdb"
        c = start_collector(db, tmp_path, "--no-classify")
        try:
            body = sample_request(50, seed=run).SerializeToString()
            assert c.post(body, {"Content-Type": "application/x-protobuf"})[0] == 200
            popen = c.process.popen
            assert popen is not None
            end = time.monotonic() + 0.5
            sent = 0
            while time.monotonic() < end and popen.poll() is None:
                popen.send_signal(signals[sent % 3])
                sent += 1
                time.sleep(0.00005)
            try:
                code = popen.wait(timeout=30)
            except subprocess.TimeoutExpired:
                pytest.fail(f"run {run}: still running 30 s after {sent} signals")
        finally:
            c.process.stop()
        assert code == 0, c.log.read_text()
        assert find_owner(db) is None
        assert span_count(db) == 50
        assert "Traceback" not in c.log.read_text()


def run_seamscope(*args: str, timeout: float = 60) -> subprocess.CompletedProcess[str]:
    return subprocess.run([*SEAMSCOPE, *args], capture_output=True, text=True, timeout=timeout)


def test_port_in_use_is_one_line(collector: Collector, tmp_path: Path) -> None:
    done = run_seamscope(
        "collect", "--db", str(tmp_path / "other.duckdb"), "--port", str(collector.port)
    )
    assert done.returncode == 2
    assert done.stderr.strip().splitlines() == [
        f"seamscope: 127.0.0.1:{collector.port}: the port is in use by another process "
        "(pick another with --port)"
    ]
    assert not (tmp_path / "other.duckdb.owner.json").exists()


def test_listening_beyond_loopback_is_said(db_path: Path, tmp_path: Path) -> None:
    """`--host 0.0.0.0` is allowed (a Collector on another machine may send to it), but it is
    said once on stderr: the default, loopback, says nothing of the kind."""
    wide = start_collector(db_path, tmp_path, "--no-classify", "--host", "0.0.0.0")
    assert wide.stop(signal.SIGTERM) == 0
    log = wide.log.read_text()
    assert "seamscope: note: listening on 0.0.0.0, which other machines can reach" in log
    assert log.count("other machines can reach") == 1

    narrow = start_collector(tmp_path / "other.duckdb", tmp_path, "--no-classify")
    assert narrow.stop(signal.SIGTERM) == 0
    assert "other machines" not in narrow.log.read_text()


def test_store_locked_by_another_process_names_it(db_path: Path) -> None:
    with subprocess.Popen(  # closes its pipes on the way out
        [
            sys.executable,
            "-c",
            "import duckdb, sys; c = duckdb.connect(sys.argv[1]); print('ok', flush=True); "
            "sys.stdin.read()",
            str(db_path),
        ],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
    ) as holder:
        try:
            assert holder.stdout is not None and holder.stdout.readline().strip() == b"ok"
            done = run_seamscope("collect", "--db", str(db_path), "--port", str(free_port()))
        finally:
            holder.kill()
    assert done.returncode == 2
    lines = done.stderr.strip().splitlines()
    assert lines == [
        f"seamscope: {db_path}: the store is locked by process {holder.pid} ({PYTHON}), which "
        "has it open for writing: DuckDB lets no other process open it then, not even to read; "
        "run this again once it has closed it"
    ]
    assert "Traceback" not in done.stdout


def test_tee_writes_what_it_stored(db_path: Path, tmp_path: Path) -> None:
    tee = tmp_path / "captured.jsonl"
    c = start_collector(db_path, tmp_path, "--tee", str(tee))
    try:
        body = sample_request(6, seed=9).SerializeToString()
        assert c.post(body, {"Content-Type": "application/x-protobuf"})[0] == 200
        assert c.stop(signal.SIGTERM) == 0
    finally:
        c.process.stop()
    assert tee.read_text().splitlines() == [protobuf_to_json(body)]
    # The tee file loads into another store with the same spans.
    other = tmp_path / "other.duckdb"
    done = run_seamscope("ingest", "--db", str(other), str(tee))
    assert done.returncode == 0, done.stderr
    assert span_count(other) == 6
    # Into the store that has them already: the same spans, stored once whatever their bytes.
    again = run_seamscope("ingest", "--db", str(db_path), str(tee))
    assert again.returncode == 0, again.stderr
    assert "0 spans stored, 6 already present" in again.stdout
    assert span_count(db_path) == 6


def test_collect_classifies_what_it_receives(db_path: Path, tmp_path: Path) -> None:

    collector = start_collector(db_path, tmp_path)
    try:
        _classifies(collector, db_path)
    finally:
        collector.process.stop()


def _classifies(collector: Collector, db_path: Path) -> None:
    from seamscope.tracer.access import open_reader

    assert (
        collector.post(
            sample_request(30, seed=21).SerializeToString(),
            {"Content-Type": "application/x-protobuf"},
        )[0]
        == 200
    )
    sql = "SELECT count(*) AS n FROM edges WHERE to_node = 'dynamodb:table/Orders'"
    deadline = time.monotonic() + 60
    while True:
        try:
            if open_reader(db_path).user_sql(sql).to_pylist() == [{"n": 3}]:
                break
        except SeamscopeError:
            pass  # the classifier has not created its tables yet
        assert time.monotonic() < deadline, "no edges after 60 s"
        time.sleep(0.2)
    assert collector.stop(signal.SIGTERM) == 0
    assert open_reader(db_path).user_sql(sql).to_pylist() == [{"n": 3}]


def test_live_labels_equal_a_full_run_afterwards(db_path: Path, tmp_path: Path) -> None:
    """Four senders at once while the classifier refreshes beside the commits: once stopped,
    nodes, edges and span labels are what a full classification of the same spans gives
    (EXCEPT ALL both ways)."""
    import shutil
    import threading

    from benchmarks.receiver import bodies
    from seamscope.classifiers.engine import classify
    from seamscope.tracer.store import Store

    work = bodies(48, 512 * 8)
    c = start_collector(db_path, tmp_path)
    statuses: list[int] = []
    try:

        def send(share: list[bytes]) -> None:
            for body in share:
                statuses.append(c.post(body, {"Content-Type": "application/x-protobuf"})[0])

        senders = [threading.Thread(target=send, args=(work[i::4],)) for i in range(4)]
        for t in senders:
            t.start()
        for t in senders:
            t.join()
        assert c.stop(signal.SIGTERM) == 0
    finally:
        c.process.stop()
    assert statuses == [200] * len(work)
    assert span_count(db_path) == 512 * len(work)
    full = tmp_path / "full.duckdb"
    shutil.copy(db_path, full)
    with Store.open(full) as store:
        classify(store.con, full=True)
        con = store.con
        con.execute(f"ATTACH '{db_path}' AS live (READ_ONLY)")
        for table in ("nodes", "edges", "span_labels"):
            counts = con.execute(f"SELECT count(*) FROM live.{table}").fetchall()[0][0]
            assert counts > 0, table
            for a, b in (("live", "main"), ("main", "live")):
                extra = con.execute(
                    f"SELECT count(*) FROM (SELECT * FROM {a}.{table} "
                    f"EXCEPT ALL SELECT * FROM {b}.{table})"
                ).fetchall()[0][0]
                assert extra == 0, f"{table}: {extra} rows in {a} only"


def test_a_memory_limit_too_small_for_the_classifier_loses_nothing_and_says_so_once(
    db_path: Path, tmp_path: Path
) -> None:
    """`--memory-limit` below what the classifier needs: every request is still answered and
    stored, and the log says what ran short in one line, once (not a traceback per refresh),
    naming the option to raise."""
    from benchmarks.receiver import bodies
    from seamscope.tracer.receiver.writer import SHORT_OF_MEMORY

    collector = start_collector(db_path, tmp_path, "--memory-limit", "16MB")
    try:
        requests = bodies(4, 1_024)
        for body in requests:
            assert collector.post(body, {"Content-Type": "application/x-protobuf"})[0] == 200
            time.sleep(1.2)  # pacing, not a bound: the classifier runs after each commit
        deadline = time.monotonic() + 60
        while SHORT_OF_MEMORY not in collector.log.read_text(errors="replace"):
            assert time.monotonic() < deadline, collector.log.read_text(errors="replace")
            time.sleep(0.2)
        assert collector.stop(signal.SIGTERM) == 0
    finally:
        collector.process.stop()
    log = collector.log.read_text(errors="replace")
    assert log.count(SHORT_OF_MEMORY) == 1, log
    assert "--memory-limit" in log and "Traceback" not in log, log
    assert "seamscope: seamscope:" not in log, log
    assert span_count(db_path) == 512 * len(requests)


def children(pid: int) -> set[int]:
    """The processes pid started that still run (from /proc; none once pid has ended)."""
    found: set[int] = set()
    try:
        for task in Path(f"/proc/{pid}/task").iterdir():
            found.update(int(c) for c in (task / "children").read_text().split())
    except OSError:
        pass
    return found


# What a process that imported them maps: DuckDB's and aiohttp's compiled parts.
_STORE_OR_SERVER = ("_duckdb", "/aiohttp/", "/duckdb/")


@pytest.mark.skipif(not Path("/proc/self/task").exists(), reason="reads /proc (Linux)")
def test_decoder_processes_load_neither_the_store_nor_the_server(
    db_path: Path, tmp_path: Path
) -> None:
    """The real command's decoder processes, after decoding: none maps DuckDB or aiohttp (each
    did while the function it runs was in the receiver's package; about 40 MB of RSS a decoder)."""
    collector = start_collector(db_path, tmp_path, "--no-classify", "--decoders", "2")
    try:
        popen = collector.process.popen
        assert popen is not None
        for seed in range(4):
            body = sample_request(50, seed=seed).SerializeToString()
            assert collector.post(body, {"Content-Type": "application/x-protobuf"})[0] == 200
        decoders = {
            pid
            for pid in children(popen.pid)
            if b"spawn_main" in Path(f"/proc/{pid}/cmdline").read_bytes()
        }
        assert len(decoders) == 2, decoders
        owner_maps = Path(f"/proc/{popen.pid}/maps").read_text()
        assert all(part in owner_maps for part in ("_duckdb", "/aiohttp/")), "the check looks"
        for pid in decoders:
            maps = Path(f"/proc/{pid}/maps").read_text()
            loaded = {part for part in _STORE_OR_SERVER if part in maps}
            assert not loaded, f"decoder {pid} maps {loaded}"
        assert collector.stop(signal.SIGTERM) == 0
    finally:
        collector.process.stop()
    assert span_count(db_path) == 4 * 50


@pytest.mark.parametrize(
    ("args", "said"),
    [
        (("sql", "--timeout", "nan", "SELECT 1"), "'--timeout': 'nan' is not a finite number"),
        (("collect", "--sql-timeout", "nan"), "'--sql-timeout': 'nan' is not a finite number"),
        (("demo", "--headless", "--duration", "nan"), "'--duration': 'nan' is not a finite"),
        (("tui", "--refresh", "-1"), "'--refresh': -1.0 is not in the range x>=0"),
        (("tui", "--collect", "--port", "99999"), "'--port': 99999 is not in the range"),
    ],
    ids=["sql-timeout", "collect-sql-timeout", "demo-duration", "tui-refresh", "tui-port"],
)
def test_option_values_out_of_range_are_refused_before_anything_starts(
    tmp_path: Path, args: tuple[str, ...], said: str
) -> None:
    """nan and infinity pass click's range checks (they compare false with any bound): a
    timeout of nan fell back to the default, a negative refresh started the TUI, and a port
    out of range was refused by the child that --collect started, inside its usage text."""
    done = subprocess.run(
        [*SEAMSCOPE, *args], capture_output=True, text=True, timeout=60, cwd=tmp_path,
        stdin=subprocess.DEVNULL,
    )  # fmt: skip
    assert done.returncode == 2, done.stdout + done.stderr
    assert said in done.stderr
    assert "Traceback" not in done.stderr
    assert not list(tmp_path.iterdir())  # no store made
