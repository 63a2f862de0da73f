"""The shared hot path: spans -> Arrow (SpanBatchBuilder) and Arrow -> DuckDB (Store.append).

Baselines are the figures DESIGN.md measured on this kind of machine: SDK spans -> Arrow 145k
spans/s, OTLP protobuf -> Arrow 78-81k, owner appends 77-111k with a large checkpoint_threshold
(53-62k with the default), short-lock appends 22-24k.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pyarrow as pa

from benchmarks import baseline_rows, mix
from benchmarks.common import Context, Result, median_of, timed
from seamscope.tracer.rows import SpanBatchBuilder
from seamscope.tracer.store import Store, short_lock

NAME = "hot_path"
BATCH = 512  # the BatchSpanProcessor's max_export_batch_size: one export, one append


def _builder_inputs(count: int) -> list[tuple[mix.SpanInput, dict[str, Any]]]:
    resources = mix.resources()
    return [(s, resources[s.resource_index]) for s in mix.span_inputs(count)]


def build_table(
    inputs: list[tuple[mix.SpanInput, dict[str, Any]]], builder: Any = None
) -> pa.Table:
    """What an adapter does: one add() per span, one build() per batch."""
    builder = builder if builder is not None else SpanBatchBuilder()
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
    table: pa.Table = builder.build()
    return table


def _paired(
    ctx: Context, count: int, work: Callable[[type[Any]], object]
) -> tuple[list[float], list[float]]:
    """Rates (spans per CPU second of this thread) of work with tracer/rows.py and with the
    skeleton's builder, runs interleaved so both see the same load."""
    work(SpanBatchBuilder)
    work(baseline_rows.SpanBatchBuilder)
    now: list[float] = []
    before: list[float] = []
    for _ in range(ctx.repeats):
        now.append(count / timed(lambda: work(SpanBatchBuilder), time.thread_time))
        before.append(count / timed(lambda: work(baseline_rows.SpanBatchBuilder), time.thread_time))
    return now, before


def _builder_result(
    name: str, now: list[float], before: list[float], goal: str, low: float | None, note: str
) -> Result:
    value = median_of(now)
    return Result(
        NAME,
        name,
        value,
        "spans/s",
        now,
        goal=goal,
        met=None if low is None else value >= low,
        ratio=f"{value / median_of(before):.2f}x the skeleton's builder "
        f"({median_of(before) / 1000:.0f}k/s)",
        note=note,
    )


def _builder(ctx: Context) -> list[Result]:
    count = ctx.size(50_000, 2_000)
    inputs = _builder_inputs(count)
    now, before = _paired(ctx, count, lambda cls: build_table(inputs, cls()))
    results = [
        _builder_result(
            "SpanBatchBuilder: plain values -> Arrow, realistic mix",
            now,
            before,
            "",
            None,
            f"{count:,} spans, {len(mix.TEMPLATES)} span shapes, 12 resources",
        )
    ]
    made: list[Any] = []

    def real_spans() -> list[Any]:
        if not made:
            made.extend(mix.sdk_spans(count))
        return made

    try:
        from seamscope.tracer.sdk_spans import add_sdk_spans
    except ImportError:
        ctx.log("   tracer/sdk_spans.py not there: no SDK figure")
    else:
        spans = real_spans()

        def sdk(cls: type[Any]) -> object:
            builder = cls()
            for i in range(0, len(spans), BATCH):
                add_sdk_spans(builder, spans[i : i + BATCH])
            return builder.build()

        now, before = _paired(ctx, count, sdk)
        results.append(
            _builder_result(
                "SDK ReadableSpans -> Arrow (sdk_spans.add_sdk_spans + build)",
                now,
                before,
                "≥ 145k spans/s (DESIGN.md)",
                145_000,
                f"{count:,} real SDK spans, batches of {BATCH}",
            )
        )
    try:
        from seamscope.tracer.otlp import decode_protobuf
    except ImportError:
        ctx.log("   tracer/otlp not there: no OTLP figure")
    else:
        bodies = mix.otlp_requests(real_spans(), BATCH)

        def otlp(cls: type[Any]) -> object:
            builder = cls()
            for body in bodies:
                decode_protobuf(body, builder)
            return builder.build()

        now, before = _paired(ctx, count, otlp)
        results.append(
            _builder_result(
                "OTLP protobuf -> Arrow (otlp.decode_protobuf + build)",
                now,
                before,
                "≥ 78-81k spans/s (DESIGN.md)",
                78_000,
                f"{count:,} spans in requests of {BATCH}",
            )
        )
        results.append(_flat(ctx, count, bodies))
    return results


def _flat(ctx: Context, count: int, bodies: list[bytes]) -> Result:
    """otlp.flat against the general walk, both with tracer/rows.py, runs interleaved."""
    from seamscope.tracer.otlp import decode_flat, decode_protobuf

    def decode(fn: Any) -> object:
        for body in bodies:
            builder = SpanBatchBuilder()
            fn(body, builder)
            builder.build()
        return None

    decode(decode_flat)
    decode(decode_protobuf)
    flat: list[float] = []
    general: list[float] = []
    for _ in range(ctx.repeats):
        flat.append(count / timed(lambda: decode(decode_flat), time.thread_time))
        general.append(count / timed(lambda: decode(decode_protobuf), time.thread_time))
    value = median_of(flat)
    return Result(
        NAME,
        "OTLP protobuf -> Arrow, otlp.flat (the receiver's decoder) + build, one table per request",
        value,
        "spans/s",
        flat,
        ratio=f"{value / median_of(general):.2f}x the general walk "
        f"({median_of(general) / 1000:.0f}k/s)",
        note=f"{count:,} spans in requests of {BATCH}; spans per CPU second of the thread",
    )


def _append_owner(
    ctx: Context, tables: list[pa.Table], path: Path, config: dict[str, str | bool | int]
) -> tuple[float, float]:
    """(spans/s wall, spans per CPU second of the process) of appends by one owner."""
    with Store.open(path, config=config) as store:
        cpu = time.process_time()
        seconds = timed(lambda: [store.append(t, batch_key=None, source="bench") for t in tables])
        cpu = time.process_time() - cpu
    path.unlink()
    spans = float(sum(t.num_rows for t in tables))
    return spans / seconds, spans / cpu


def _append_short_lock(tables: list[pa.Table], path: Path) -> tuple[float, float]:
    Store.open(path).close()

    def go() -> None:
        for i, t in enumerate(tables):
            with short_lock(path) as store:
                store.append(t, batch_key=f"b{i}", source="bench")

    cpu = time.process_time()
    seconds = timed(go)
    cpu = time.process_time() - cpu
    path.unlink()
    spans = float(sum(t.num_rows for t in tables))
    return spans / seconds, spans / cpu


def _cpu_note(pairs: list[tuple[float, float]]) -> str:
    return f"; per CPU second {median_of([c for _, c in pairs]) / 1000:.0f}k"


def _appends(ctx: Context) -> list[Result]:
    count = ctx.size(100_000, 2_048)
    table = build_table(_builder_inputs(count))
    tables = [table.slice(i, BATCH) for i in range(0, count, BATCH)]
    short = tables[: ctx.size(40, 4)]
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
        pairs = [
            _append_owner(ctx, tables, ctx.workdir / f"append-{i}.duckdb", config)
            for i in range(ctx.repeats)
        ]
        runs = [wall for wall, _ in pairs]
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
                note=f"{count:,} spans in batches of {BATCH}{_cpu_note(pairs)}",
            )
        )
    pairs = [
        _append_short_lock(short, ctx.workdir / f"short-{i}.duckdb") for i in range(ctx.repeats)
    ]
    runs = [wall for wall, _ in pairs]
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
            note=f"{len(short) * BATCH:,} spans in batches of {BATCH}, one writer"
            + _cpu_note(pairs),
        )
    )
    return results


def run(ctx: Context) -> list[Result]:
    return _builder(ctx) + _appends(ctx)
