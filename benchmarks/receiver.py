"""The OTLP/HTTP receiver (`seamscope collect`, a real process) under 1, 2 and 4 senders, against
the first design's receiver (benchmarks/first_receiver.py) measured in the same run.

Each sender posts serialized OTLP protobuf ExportTraceServiceRequests of 512 spans (what the
stock OTLP/HTTP exporter sends) one after another over a keep-alive connection; the receiver
answers only after the spans are committed. Every body is distinct (the receiver keys batches by
a hash of the body), and afterwards each store must hold every span sent to it: nothing lost.
Both receivers run side by side, each with a store of its own, and take their rounds in turn,
so that both see the same load. Goals (issue 15): 100k spans/s with 2 and 4 senders on this
2-core machine, and 3x the first design in the same run.
"""

from __future__ import annotations

import http.client
import os
import sys
import threading
import time
from pathlib import Path
from typing import Any

import duckdb

from benchmarks import mix
from benchmarks.common import Context, Result, fmt, median_of

NAME = "receiver"
PER_REQUEST = 512


def bodies(count: int, distinct_spans: int) -> list[bytes]:
    """count distinct request bodies, made from distinct_spans real SDK spans."""
    from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import (
        ExportTraceServiceRequest,
    )

    if distinct_spans % PER_REQUEST:
        raise ValueError(f"distinct_spans must be a multiple of {PER_REQUEST}")
    base = mix.otlp_requests(mix.sdk_spans(distinct_spans), PER_REQUEST)
    parsed = []
    for body in base:
        request = ExportTraceServiceRequest()
        request.ParseFromString(body)
        parsed.append(request)
    out = []
    for i in range(count):
        request = parsed[i % len(parsed)]
        first = request.resource_spans[0].scope_spans[0].spans[0]
        first.span_id = (i + 1).to_bytes(8, "big")  # a new body, so a new batch key
        out.append(request.SerializeToString())
    return out


def _sender(url: tuple[str, int], work: list[bytes], errors: list[str]) -> None:
    con = http.client.HTTPConnection(*url, timeout=120)
    try:
        for body in work:
            con.request("POST", "/v1/traces", body, {"Content-Type": "application/x-protobuf"})
            response = con.getresponse()
            response.read()
            if response.status != 200:
                errors.append(f"HTTP {response.status}")
    except OSError as exc:
        errors.append(str(exc))
    finally:
        con.close()


def _round(url: tuple[str, int], senders: int, work: list[bytes]) -> float:
    """Seconds for `senders` threads to deliver work between them."""
    errors: list[str] = []
    shares = [work[i::senders] for i in range(senders)]
    threads = [threading.Thread(target=_sender, args=(url, s, errors)) for s in shares]
    begin = time.perf_counter()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    seconds = time.perf_counter() - begin
    if errors:
        raise RuntimeError(f"senders failed: {errors[:3]}")
    return seconds


def _tree(pid: int) -> list[int]:
    """pid and its children (decoder processes)."""
    pids = [pid]
    try:
        for task in Path(f"/proc/{pid}/task").iterdir():
            pids += [int(c) for c in (task / "children").read_text().split()]
    except (OSError, ValueError):
        pass
    return pids


def _cpu_s(pid: int) -> float:
    """CPU seconds (user + system) pid and its children have used so far."""
    tick = os.sysconf("SC_CLK_TCK")
    total = 0
    for one in _tree(pid):
        try:
            fields = Path(f"/proc/{one}/stat").read_text().rsplit(")", 1)[1].split()
            total += int(fields[11]) + int(fields[12])
        except (OSError, ValueError, IndexError):
            continue
    return total / tick


def _rss_kib(pid: int) -> int:
    """VmRSS of pid and of its children (decoder processes), in KiB."""
    total = 0
    for one in _tree(pid):
        try:
            for line in Path(f"/proc/{one}/status").read_text().splitlines():
                if line.startswith("VmRSS:"):
                    total += int(line.split()[1])
        except (OSError, ValueError):
            continue
    return total


def _start(ctx: Context, name: str, argv: list[str]) -> tuple[Any, tuple[str, int]]:
    """Starts a receiver process (argv gets --port) and waits until it answers."""
    from seamscope.demo.processes import ManagedProcess, free_port, wait_for_http

    port = free_port()
    process = ManagedProcess(
        name, [*argv, "--port", str(port)], log_path=ctx.workdir / f"{name}.log"
    ).start()
    try:
        wait_for_http(f"http://127.0.0.1:{port}/", timeout_s=60, process=process.popen)
    except BaseException:
        process.stop()
        raise
    return process, ("127.0.0.1", port)


def _collect_argv(db: Path, extra: list[str]) -> list[str]:
    exe = Path(sys.executable).with_name("seamscope")
    argv = [str(exe)] if exe.exists() else [sys.executable, "-m", "seamscope.cli"]
    return [*argv, "collect", "--db", str(db), "--quiet", *extra]


def _first_argv(db: Path) -> list[str]:
    return [sys.executable, "-m", "benchmarks.first_receiver", "--db", str(db)]


def _free_argv(db: Path) -> list[str]:
    return [sys.executable, "-m", "benchmarks.free_receiver", "--db", str(db)]


def _stored(db: Path) -> int:
    con = duckdb.connect(str(db), read_only=True)
    try:
        row = con.execute("SELECT count(*) FROM spans").fetchone()
    finally:
        con.close()
    return int(row[0]) if row else 0


class _Side:
    """One receiver under test: its process, address, store and what was sent to it."""

    def __init__(self, ctx: Context, name: str, db: Path, argv: list[str]) -> None:
        self.name = name
        self.db = db
        self.log = ctx.workdir / f"{name}.log"
        self.process, self.url = _start(ctx, name, argv)
        self.sent = 0
        self.rss_peak = 0
        self.rss_end = 0
        self.cpu_per_span: list[float] = []

    def round(self, senders: int, work: list[bytes]) -> float:
        """Spans per second of one round; counts what was sent and the CPU it took."""
        cpu = _cpu_s(self.process.pid)
        seconds = _round(self.url, senders, work)
        self.cpu_per_span.append((_cpu_s(self.process.pid) - cpu) / (len(work) * PER_REQUEST))
        self.sent += len(work) * PER_REQUEST
        self.rss_peak = max(self.rss_peak, _rss_kib(self.process.pid))
        return len(work) * PER_REQUEST / seconds

    def stop(self) -> None:
        self.rss_end = _rss_kib(self.process.pid)
        self.process.stop(timeout_s=120)

    def check(self) -> None:
        """Nothing lost: the store holds every span sent."""
        stored = _stored(self.db)
        if stored != self.sent:
            log = self.log.read_text(errors="replace")
            raise RuntimeError(
                f"{self.name}: stored {stored} of {self.sent} spans; log:\n{log[-2000:]}"
            )


def commit_bound(ctx: Context, work: list[bytes]) -> list[Result]:
    """The wall time of one commit of k requests (the writer's INSERT and COMMIT, in this
    process, on an owner's store): senders that each wait for their answer before the next
    request (the stock OTLP/HTTP exporter does) can never deliver more than k x 512 spans per
    such commit, whatever decodes them."""
    from benchmarks.free_receiver import made_distinct
    from seamscope.tracer.decoding import batch_key
    from seamscope.tracer.ingest import Batch, append_many_at
    from seamscope.tracer.receiver.decode import decode_request
    from seamscope.tracer.store import Store

    tables = [decode_request(b, "identity", False, None, 1 << 30, False)[1] for b in work[:8]]
    store = Store.open(ctx.workdir / "receiver-commit.duckdb")
    results = []
    made = 0
    try:
        append_many_at(store, [Batch(tables[0], "warm-up", "benchmark")])
        for k in (2, 4):
            runs = []
            for _ in range(max(5, ctx.repeats * 3)):
                batches = []
                for _ in range(k):
                    body = work[made % len(work)]
                    key = f"{batch_key(body)}-{made}"  # distinct even when bodies repeat
                    table = made_distinct(tables[made % len(tables)], made + 1)
                    batches.append(Batch(table, key, "benchmark"))
                    made += 1
                begin = time.perf_counter()
                append_many_at(store, batches)
                runs.append((time.perf_counter() - begin) * 1000)
            value = median_of(runs)
            bound = k * PER_REQUEST / value * 1000
            results.append(
                Result(
                    NAME,
                    f"one commit of {k} requests ({k * PER_REQUEST:,} spans): INSERT and COMMIT",
                    value,
                    "ms",
                    runs,
                    note=f"{k} senders that each wait for their answer get at most "
                    f"{fmt(bound, 'spans/s')} from such commits back to back, before HTTP and "
                    "decoding; in this process, a store of its own",
                )
            )
    finally:
        store.close()
    return results


def run(ctx: Context) -> list[Result]:
    requests_per_round = ctx.size(100, 4)  # 51k spans per round in a full run
    counts = (1, 2, 4)
    repeats = ctx.repeats if ctx.quick else max(3, ctx.repeats - 2)
    sides_count = 3
    # A multiple of PER_REQUEST: every body then carries exactly PER_REQUEST spans.
    total = requests_per_round * (sides_count * len(counts) * repeats + 1) + 4 * sides_count
    work = bodies(total, ctx.size(20_480, 1_024))
    taken = 0

    def take(n: int) -> list[bytes]:
        nonlocal taken
        chunk = work[taken : taken + n]
        taken += n
        return chunk

    sides = [
        _Side(
            ctx,
            "first",
            ctx.workdir / "receiver-first.duckdb",
            _first_argv(ctx.workdir / "receiver-first.duckdb"),
        ),
        _Side(
            ctx,
            "now",
            ctx.workdir / "receiver-now.duckdb",
            _collect_argv(ctx.workdir / "receiver-now.duckdb", ["--no-classify"]),
        ),
        _Side(
            ctx,
            "free",
            ctx.workdir / "receiver-free.duckdb",
            _free_argv(ctx.workdir / "receiver-free.duckdb"),
        ),
    ]
    rates: dict[str, dict[int, list[float]]] = {s.name: {n: [] for n in counts} for s in sides}
    try:
        for side in sides:
            side.round(1, take(2))  # warm up: imports, decoder processes, first checkpoint
        for repeat in range(repeats):
            for n in counts:
                # Turn about, so that no side always runs right after another.
                turn = repeat % len(sides)
                for side in sides[turn:] + sides[:turn]:
                    rates[side.name][n].append(side.round(n, take(requests_per_round)))
    finally:
        for side in sides:
            side.stop()
    for side in sides:
        side.check()
    first, now, free = sides
    # The warm-up round is not counted: start-up work.
    cpu_now = median_of(now.cpu_per_span[1:]) * 1e6
    cpu_first = median_of(first.cpu_per_span[1:]) * 1e6
    results: list[Result] = [
        Result(
            NAME,
            "receiver CPU per span (its process and its decoder processes)",
            cpu_now,
            "µs",
            [x * 1e6 for x in now.cpu_per_span[1:]],
            ratio=f"{cpu_now / cpu_first:.2f}x the first design ({cpu_first:.1f} µs)",
            note="user + system time over every round; on a busy machine the steadier figure",
        )
    ]
    for n in counts:
        value = median_of(rates["now"][n])
        peer = median_of(rates["first"][n])
        ratio = value / peer
        goal = n > 1
        results.append(
            Result(
                NAME,
                f"`collect --no-classify`, {n} sender{'s' if n > 1 else ''} of OTLP protobuf",
                value,
                "spans/s",
                rates["now"][n],
                goal="≥ 100k spans/s and ≥ 3x the first design" if goal else "",
                met=(value >= 100_000 and ratio >= 3) if goal else None,
                ratio=f"{ratio:.2f}x the first design ({fmt(peer, 'spans/s')})",
                note=f"{requests_per_round * PER_REQUEST:,} spans per run, 512 per request; "
                f"all {now.sent:,} sent stored",
            )
        )
    for n in counts:
        results.append(
            Result(
                NAME,
                f"first design (decoder threads, commit what is queued), {n} sender"
                f"{'s' if n > 1 else ''}",
                median_of(rates["first"][n]),
                "spans/s",
                rates["first"][n],
                note=f"the peer, in turn with the rows above; all {first.sent:,} sent stored",
            )
        )
    # What a decoder that costs nothing would leave (benchmarks/free_receiver.py): not a goal,
    # the bound on what any decoder alone can give.
    cpu_free = median_of(free.cpu_per_span[1:]) * 1e6
    for n in counts:
        value = median_of(rates["free"][n])
        results.append(
            Result(
                NAME,
                f"decoding for free (each request stores the first one's table), {n} sender"
                f"{'s' if n > 1 else ''}",
                value,
                "spans/s",
                rates["free"][n],
                ratio=f"{value / median_of(rates['now'][n]):.2f}x `collect --no-classify`",
                note=f"the ceiling of HTTP, batch keys, INSERT and COMMIT; {cpu_free:.1f} µs of "
                f"CPU a span (median of its rounds); all {free.sent:,} sent stored",
            )
        )
    for side, label in ((now, "`collect --no-classify`"), (first, "first design")):
        results.append(
            Result(
                NAME,
                f"{label} memory (RSS) at the end",
                side.rss_end / 1024,
                "MiB",
                [side.rss_end / 1024],
                note=f"after {side.sent:,} spans, decoder processes included; peak seen between "
                f"runs {side.rss_peak / 1024:.0f} MiB",
            )
        )
    results += commit_bound(ctx, work)
    # The default: classification refreshed as spans arrive (what `seamscope collect` does).
    db = ctx.workdir / "receiver-live.duckdb"
    live_side = _Side(ctx, "live", db, _collect_argv(db, []))
    try:
        live_side.round(1, take(2))
        live = live_side.round(2, take(requests_per_round))
    finally:
        live_side.stop()
    live_side.check()
    results.append(
        Result(
            NAME,
            "`collect` (live classification on), 2 senders",
            live,
            "spans/s",
            [live],
            ratio=f"{live / median_of(rates['now'][2]):.2f}x --no-classify",
            note=f"{requests_per_round * PER_REQUEST:,} spans into a new store",
        )
    )
    return results
