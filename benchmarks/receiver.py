"""The OTLP/HTTP receiver (`seamscope collect`, a real process) under 1, 2 and 4 senders.

Each sender posts serialized OTLP protobuf ExportTraceServiceRequests of 512 spans (what the
stock OTLP/HTTP exporter sends) one after another over a keep-alive connection; the receiver
answers only after the spans are committed. Every body is distinct (the receiver keys batches by
a hash of the body), and afterwards the store must hold every span sent: nothing lost.
Goal (issue 6): 100k spans/s on this 2-core machine.
"""

from __future__ import annotations

import http.client
import sys
import threading
import time
from pathlib import Path

import duckdb

from benchmarks import mix
from benchmarks.common import Context, Result, median_of

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


def _rss_kib(pid: int) -> int:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    except (OSError, ValueError):
        pass
    return 0


def _collect(ctx: Context, db: Path, extra: list[str]) -> tuple[object, tuple[str, int]]:
    from seamscope.demo.processes import ManagedProcess, free_port, wait_for_http

    port = free_port()
    exe = Path(sys.executable).with_name("seamscope")
    argv = [str(exe)] if exe.exists() else [sys.executable, "-m", "seamscope.cli"]
    process = ManagedProcess(
        "collect",
        [*argv, "collect", "--db", str(db), "--port", str(port), "--quiet", *extra],
        log_path=ctx.workdir / "collect.log",
    ).start()
    try:
        wait_for_http(f"http://127.0.0.1:{port}/", timeout_s=30, process=process.popen)
    except BaseException:
        process.stop()
        raise
    return process, ("127.0.0.1", port)


def _stored(db: Path) -> int:
    con = duckdb.connect(str(db), read_only=True)
    try:
        row = con.execute("SELECT count(*) FROM spans").fetchone()
    finally:
        con.close()
    return int(row[0]) if row else 0


def _series(
    ctx: Context,
    db: Path,
    extra: list[str],
    work: list[bytes],
    index: int,
    counts: tuple[int, ...],
    repeats: int,
    per_round: int,
) -> tuple[dict[int, list[float]], int, int, int, int]:
    """One receiver process, rounds of 1, 2 and 4 senders: (spans/s per sender count, spans
    sent, the next unused body, RSS KiB at the end, peak RSS KiB)."""
    from seamscope.demo.processes import ManagedProcess

    process, url = _collect(ctx, db, extra)
    assert isinstance(process, ManagedProcess)
    rss_peak = 0
    rates: dict[int, list[float]] = {n: [] for n in counts}
    try:
        _round(url, 1, work[index : index + 2])  # warm up: imports, first checkpoint
        sent = 2 * PER_REQUEST
        index += 2
        for _ in range(repeats):
            for n in counts:
                chunk = work[index : index + per_round]
                index += per_round
                seconds = _round(url, n, chunk)
                sent += len(chunk) * PER_REQUEST
                rates[n].append(len(chunk) * PER_REQUEST / seconds)
                rss_peak = max(rss_peak, _rss_kib(process.pid))
        rss_end = _rss_kib(process.pid)
    finally:
        process.stop(timeout_s=120)
    stored = _stored(db)
    if stored != sent:
        log = (ctx.workdir / "collect.log").read_text(errors="replace")
        raise RuntimeError(f"receiver stored {stored} of {sent} spans; log:\n{log[-2000:]}")
    return rates, sent, index, rss_end, rss_peak


def run(ctx: Context) -> list[Result]:
    from seamscope.demo.processes import ManagedProcess

    requests_per_round = ctx.size(100, 4)  # 51k spans per round in a full run
    counts = (1, 2, 4)
    repeats = ctx.repeats if ctx.quick else max(2, ctx.repeats - 2)
    # A multiple of PER_REQUEST: every body then carries exactly PER_REQUEST spans.
    work = bodies(requests_per_round * (2 * len(counts) * repeats + 1) + 6, ctx.size(20_480, 1_024))
    results: list[Result] = []
    # Storing only (--no-classify): the receiver's own throughput, the goal's figure; then the
    # same with the decoding in two processes of its own (--decoders 2).
    index = 0
    threads: dict[int, list[float]] = {}
    for decoders in (0, 2):
        extra = ["--no-classify"] + (["--decoders", str(decoders)] if decoders else [])
        flag = "`collect --no-classify" + (f" --decoders {decoders}`" if decoders else "`")
        db = ctx.workdir / f"receiver-{decoders}.duckdb"
        rates, sent, index, rss_end, rss_peak = _series(
            ctx, db, extra, work, index, counts, repeats, requests_per_round
        )
        for n in counts:
            value = median_of(rates[n])
            if decoders:
                ratio = f"{value / median_of(threads[n]):.2f}x decoder threads"
            else:
                ratio = f"{value / median_of(rates[1]):.2f}x 1 sender" if n > 1 else ""
            results.append(
                Result(
                    NAME,
                    f"{flag}, {n} sender{'s' if n > 1 else ''} of OTLP protobuf",
                    value,
                    "spans/s",
                    rates[n],
                    goal="≥ 100k spans/s",
                    met=value >= 100_000,
                    ratio=ratio,
                    note=f"{requests_per_round * PER_REQUEST:,} spans per run, 512 per "
                    f"request; all {sent:,} stored",
                )
            )
        results.append(
            Result(
                NAME,
                f"{flag} memory (RSS) at steady state",
                rss_end / 1024,
                "MiB",
                [rss_end / 1024],
                note=f"after {sent:,} spans; peak seen between runs {rss_peak / 1024:.0f} MiB"
                + ("; the receiver's process only, not its decoder processes" if decoders else ""),
            )
        )
        if not decoders:
            threads = rates
    # The default: classification refreshed as spans arrive (what `seamscope collect` does).
    db = ctx.workdir / "receiver-live.duckdb"
    process, url = _collect(ctx, db, [])
    assert isinstance(process, ManagedProcess)
    try:
        _round(url, 1, work[index : index + 2])
        chunk = work[index + 2 : index + 2 + requests_per_round]
        seconds = _round(url, 2, chunk)
    finally:
        process.stop(timeout_s=120)
    live = len(chunk) * PER_REQUEST / seconds
    if _stored(db) != (len(chunk) + 2) * PER_REQUEST:
        raise RuntimeError("the receiver with live classification lost spans")
    results.append(
        Result(
            NAME,
            "`collect` (live classification on), 2 senders",
            live,
            "spans/s",
            [live],
            ratio=f"{live / median_of(threads[2]):.2f}x --no-classify",
            note=f"{len(chunk) * PER_REQUEST:,} spans into a new store",
        )
    )
    return results
