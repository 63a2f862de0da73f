"""Ingest of OTLP JSON files (tracer/ingest.py, `seamscope ingest`), spans/s.

The file is what the Collector's file exporter writes: one ExportTraceServiceRequest per line,
here 512 spans each, made from real SDK spans. Measured in-process (ingest() into a new store),
runs in turn with the first design's path (`FIRST_DESIGN`: one process, the general decoder) as
the peer, and once the way a user runs it, the `seamscope ingest` command, which adds the
start-up. Goal (issue 15): 50k spans/s.
"""

from __future__ import annotations

import importlib.util
import subprocess
import sys
import time
from pathlib import Path

from benchmarks import mix
from benchmarks.common import Context, Result, fmt, median_of

NAME = "ingest"
FIRST_DESIGN: dict[str, object] = {"workers": 0, "flat": False}
"""ingest()'s arguments for the path before issue 15."""


def write_jsonl(path: Path, spans: int) -> int:
    """An OTLP JSON lines file of about `spans` spans; returns the span count."""
    from seamscope.tracer.otlp import protobuf_to_json

    sdk = mix.sdk_spans(spans)
    with path.open("w") as out:
        for body in mix.otlp_requests(sdk, 512):
            out.write(protobuf_to_json(body) + "\n")
    return len(sdk)


def _rate(ctx: Context, source: Path, count: int, name: str, **options: object) -> float:
    from seamscope.tracer.ingest import ingest

    db = ctx.workdir / f"ingest-{name}.duckdb"
    begin = time.perf_counter()
    report = ingest(db, [str(source)], use_owner=False, **options)  # type: ignore[arg-type]
    seconds = time.perf_counter() - begin
    db.unlink()
    if report.spans_stored != count:
        raise RuntimeError(f"ingest ({name}) stored {report.spans_stored} of {count} spans")
    return count / seconds


def run(ctx: Context) -> list[Result]:
    spans = ctx.size(100_000, 1_024)
    source = ctx.workdir / "traces.jsonl"
    count = write_jsonl(source, spans)
    size_mb = source.stat().st_size / 1e6
    runs: list[float] = []
    first: list[float] = []
    for i in range(ctx.repeats):
        # Turn about, so that neither always runs right after the other.
        if i % 2:
            first.append(_rate(ctx, source, count, "first", **FIRST_DESIGN))
        runs.append(_rate(ctx, source, count, "now"))
        if not i % 2:
            first.append(_rate(ctx, source, count, "first", **FIRST_DESIGN))
    value = median_of(runs)
    peer = median_of(first)
    results = [
        Result(
            NAME,
            "ingest() of an OTLP JSON lines file",
            value,
            "spans/s",
            runs,
            goal="≥ 50k spans/s",
            met=value >= 50_000,
            ratio=f"{value / peer:.2f}x the first design ({fmt(peer, 'spans/s')})",
            note=f"{count:,} spans, {size_mb:.0f} MB, 512 spans per line, new store",
        ),
        Result(
            NAME,
            "ingest() of the same file, the first design (one process, general decoder)",
            peer,
            "spans/s",
            first,
            note="the peer, in turn with the row above",
        ),
    ]
    exe = Path(sys.executable).with_name("seamscope")
    if importlib.util.find_spec("seamscope.cli.ingest") is None or not exe.exists():
        ctx.log("   `seamscope ingest` is not there yet: only the in-process figure")
    else:
        cli_runs = []
        for i in range(max(1, ctx.repeats // 2)):
            db = ctx.workdir / f"cli-{i}.duckdb"
            argv = [str(exe), "ingest", "--db", str(db), str(source)]
            begin = time.perf_counter()
            subprocess.run(argv, check=True, capture_output=True)
            seconds = time.perf_counter() - begin
            cli_runs.append(count / seconds)
            db.unlink()
        cli = median_of(cli_runs)
        results.append(
            Result(
                NAME,
                "`seamscope ingest FILE` (a new process, start-up included)",
                cli,
                "spans/s",
                cli_runs,
                ratio=f"{cli / value:.2f}x in-process",
                note=f"{count:,} spans",
            )
        )
    return results
