"""The shared hot path: spans -> Arrow (SpanBatchBuilder) and Arrow -> DuckDB (Store.append).

Baselines are the figures DESIGN.md measured on this kind of machine: SDK spans -> Arrow 145k
spans/s, OTLP protobuf -> Arrow 78-81k, owner appends 77-111k with a large checkpoint_threshold
(53-62k with the default), short-lock appends 22-24k.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pyarrow as pa

from benchmarks import mix
from benchmarks.common import Context, Result, median_of, rate_runs, timed
from seamscope.tracer.rows import SpanBatchBuilder
from seamscope.tracer.store import Store, short_lock

NAME = "hot_path"
BATCH = 512  # the BatchSpanProcessor's max_export_batch_size: one export, one append


def _builder_inputs(count: int) -> list[tuple[mix.SpanInput, dict[str, Any]]]:
    resources = mix.resources()
    return [(s, resources[s.resource_index]) for s in mix.span_inputs(count)]


def build_table(inputs: list[tuple[mix.SpanInput, dict[str, Any]]]) -> pa.Table:
    """What an adapter does: one add() per span, one build() per batch."""
    builder = SpanBatchBuilder()
    add = builder.add
    for s, resource in inputs:
        add(
            trace_id=s.trace_id,
            span_id=s.span_id,
            parent_span_id=s.parent_span_id,
            name=s.name,
            kind=s.kind,
            start_ns=s.start_ns,
            end_ns=s.end_ns,
            status_code=s.status_code,
            status_message=None,
            attributes=s.attributes,
            resource=resource,
            scope_name=s.scope_name,
        )
    return builder.build()


def _builder(ctx: Context) -> list[Result]:
    count = ctx.size(100_000, 2_000)
    inputs = _builder_inputs(count)
    build_table(inputs[:1000])  # warm caches and imports
    runs = rate_runs(lambda: build_table(inputs), count, ctx.repeats)
    value = median_of(runs)
    results = [
        Result(
            NAME,
            "SpanBatchBuilder: plain values -> Arrow, realistic mix",
            value,
            "spans/s",
            runs,
            note=f"{count:,} spans, {len(mix.TEMPLATES)} span shapes, 12 resources",
        )
    ]
    try:
        from seamscope.tracer.sdk_spans import add_sdk_spans
    except ImportError:
        ctx.log("hot_path: tracer/sdk_spans.py not there, skipping the SDK conversion")
        return results
    spans = mix.sdk_spans(count)

    def sdk() -> pa.Table:
        builder = SpanBatchBuilder()
        for i in range(0, len(spans), BATCH):
            add_sdk_spans(builder, spans[i : i + BATCH])
        return builder.build()

    sdk()
    runs = rate_runs(sdk, count, ctx.repeats)
    sdk_value = median_of(runs)
    results.append(
        Result(
            NAME,
            "SDK ReadableSpans -> Arrow (add_sdk_spans + build)",
            sdk_value,
            "spans/s",
            runs,
            goal="≥ 145k spans/s (DESIGN.md)",
            met=sdk_value >= 145_000,
            note=f"{count:,} real SDK spans",
        )
    )
    return results


def _append_owner(
    ctx: Context, tables: list[pa.Table], path: Path, config: dict[str, str | bool | int]
) -> float:
    with Store.open(path, config=config) as store:
        seconds = timed(lambda: [store.append(t, batch_key=None, source="bench") for t in tables])
    path.unlink()
    return float(sum(t.num_rows for t in tables)) / seconds


def _append_short_lock(tables: list[pa.Table], path: Path) -> float:
    Store.open(path).close()

    def go() -> None:
        for i, t in enumerate(tables):
            with short_lock(path) as store:
                store.append(t, batch_key=f"b{i}", source="bench")

    seconds = timed(go)
    path.unlink()
    return float(sum(t.num_rows for t in tables)) / seconds


def _appends(ctx: Context) -> list[Result]:
    count = ctx.size(200_000, 2_048)
    table = build_table(_builder_inputs(count))
    tables = [table.slice(i, BATCH) for i in range(0, count, BATCH)]
    short = tables[: ctx.size(60, 4)]
    results = []
    cases: list[tuple[str, dict[str, str | bool | int], str, float]] = [
        (
            "owner: one connection, checkpoint_threshold 1GB",
            {"checkpoint_threshold": "1GB"},
            "77-111k spans/s (DESIGN.md)",
            77_000,
        ),
        ("owner: one connection, default checkpoints", {}, "53-62k spans/s (DESIGN.md)", 53_000),
    ]
    for label, config, baseline, low in cases:
        runs = [
            _append_owner(ctx, tables, ctx.workdir / f"append-{i}.duckdb", config)
            for i in range(ctx.repeats)
        ]
        value = median_of(runs)
        results.append(
            Result(
                NAME,
                f"Store.append, {label}",
                value,
                "spans/s",
                runs,
                goal=f"baseline {baseline}",
                met=value >= low,
                note=f"{count:,} spans in batches of {BATCH}",
            )
        )
    runs = [
        _append_short_lock(short, ctx.workdir / f"short-{i}.duckdb") for i in range(ctx.repeats)
    ]
    value = median_of(runs)
    results.append(
        Result(
            NAME,
            "Store.append, short lock: open/append/close per batch",
            value,
            "spans/s",
            runs,
            goal="baseline 22-24k spans/s (DESIGN.md)",
            met=value >= 22_000,
            note=f"{len(short) * BATCH:,} spans in batches of {BATCH}, one writer",
        )
    )
    return results


def run(ctx: Context) -> list[Result]:
    return _builder(ctx) + _appends(ctx)
