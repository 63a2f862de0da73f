"""Ingest of OTLP JSON files (tracer/ingest.py, `seamscope ingest`), spans/s.

The file is what the Collector's file exporter writes: one ExportTraceServiceRequest per line,
here 512 spans each, made from real SDK spans. Measured in-process (ingest() into a new store)
and once the way a user runs it, the `seamscope ingest` command, which adds the start-up.
"""

from __future__ import annotations

import importlib.util
import subprocess
import sys
import time
from pathlib import Path

from benchmarks import mix
from benchmarks.common import Context, Result, median_of

NAME = "ingest"


def write_jsonl(path: Path, spans: int) -> int:
    """An OTLP JSON lines file of about `spans` spans; returns the span count."""
    from seamscope.tracer.otlp import protobuf_to_json

    sdk = mix.sdk_spans(spans)
    with path.open("w") as out:
        for body in mix.otlp_requests(sdk, 512):
            out.write(protobuf_to_json(body) + "\n")
    return len(sdk)


def run(ctx: Context) -> list[Result]:
    from seamscope.tracer.ingest import ingest

    spans = ctx.size(100_000, 1_024)
    source = ctx.workdir / "traces.jsonl"
    count = write_jsonl(source, spans)
    size_mb = source.stat().st_size / 1e6
    runs = []
    for i in range(ctx.repeats):
        db = ctx.workdir / f"ingest-{i}.duckdb"
        begin = time.perf_counter()
        report = ingest(db, [str(source)], use_owner=False)
        seconds = time.perf_counter() - begin
        if report.spans_stored != count:
            raise RuntimeError(f"ingest stored {report.spans_stored} of {count} spans")
        runs.append(count / seconds)
        db.unlink()
    results = [
        Result(
            NAME,
            "ingest() of an OTLP JSON lines file",
            median_of(runs),
            "spans/s",
            runs,
            note=f"{count:,} spans, {size_mb:.0f} MB, 512 spans per line, new store",
        )
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
        value = median_of(cli_runs)
        results.append(
            Result(
                NAME,
                "`seamscope ingest FILE` (a new process, start-up included)",
                value,
                "spans/s",
                cli_runs,
                ratio=f"{value / median_of(runs):.2f}x in-process",
                note=f"{count:,} spans",
            )
        )
    return results
