"""Service-side cost of tracing: the seamscope exporter vs the stock OTLP/HTTP exporter vs none.

One real service (benchmarks/service_app.py: Flask, boto3 against the moto server, httpx) runs
under the real `opentelemetry-instrument`, once per configuration; one client sends requests one
after another. Per request we record the client's latency and the service process's CPU time
(user + system, which includes the BatchSpanProcessor thread that exports). The exporter's cost is
the difference to instrumentation with no exporter, measured in the same run.
"""

from __future__ import annotations

import http.client
import os
import statistics
import sys
import time
from dataclasses import dataclass
from pathlib import Path

from benchmarks.common import Context, Result, Skip

NAME = "exporter"
SPANS_PER_REQUEST = 6
EXPORT_WAIT_S = 5.5
APP = Path(__file__).with_name("service_app.py")


@dataclass(frozen=True, slots=True)
class Config:
    label: str
    instrumented: bool
    env: dict[str, str]
    receiver: bool = False


def _cpu_s(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    ticks = os.sysconf("SC_CLK_TCK")
    return (int(fields[11]) + int(fields[12])) / ticks


def _measure(
    ctx: Context, config: Config, moto: str, receiver_port: int | None, requests: int
) -> tuple[float, float]:
    """(median latency ms, CPU ms per request) of one service run."""
    from seamscope.demo.processes import ManagedProcess, free_port, wait_for_http

    port = free_port()
    bin_dir = Path(sys.executable).parent
    argv = [str(bin_dir / "python"), str(APP), str(port), moto]
    if config.instrumented:
        argv = [str(bin_dir / "opentelemetry-instrument"), *argv]
    env = {
        "OTEL_SERVICE_NAME": "bench-service",
        "OTEL_RESOURCE_ATTRIBUTES": "service.namespace=bench,seamscope.role=backend",
        "SEAMSCOPE_DB": str(ctx.workdir / "exporter.duckdb"),
        "PATH": f"{bin_dir}{os.pathsep}{os.environ.get('PATH', '')}",
        **({"OTEL_BSP_SCHEDULE_DELAY": "100"} if ctx.quick else {}),
        **config.env,
    }
    if receiver_port is not None:
        env["OTEL_EXPORTER_OTLP_TRACES_ENDPOINT"] = f"http://127.0.0.1:{receiver_port}/v1/traces"
    service = ManagedProcess(
        "service", argv, env=env, log_path=ctx.workdir / f"service-{config.label[:8]}.log"
    ).start()
    try:
        wait_for_http(f"http://127.0.0.1:{port}/ready", timeout_s=60, process=service.popen)
        con = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
        for _ in range(3 if ctx.quick else 20):  # warm up: first boto3 calls, imports, first export
            con.request("GET", "/work")
            con.getresponse().read()
        time.sleep(0.5)
        cpu_before = _cpu_s(service.pid)
        latencies = []
        for _ in range(requests):
            begin = time.perf_counter()
            con.request("GET", "/work")
            response = con.getresponse()
            response.read()
            latencies.append((time.perf_counter() - begin) * 1000)
            if response.status != 200:
                raise RuntimeError(f"service answered {response.status}")
        # The last export: the SDK's default schedule delay is 5 s (quick runs shorten it).
        time.sleep(0.5 if ctx.quick else EXPORT_WAIT_S)
        cpu_ms = (_cpu_s(service.pid) - cpu_before) * 1000 / requests
        con.close()
    finally:
        service.stop(timeout_s=10)
    return statistics.median(latencies), cpu_ms


def run(ctx: Context) -> list[Result]:
    from seamscope.demo.processes import (
        ManagedProcess,
        free_port,
        start_moto_server,
        wait_for_http,
    )

    bin_dir = Path(sys.executable).parent
    if not (bin_dir / "opentelemetry-instrument").exists():
        raise Skip("opentelemetry-instrument is not installed beside this Python")
    requests = ctx.size(300, 10)
    configs = [
        Config("not instrumented", False, {}),
        Config("instrumented, no exporter", True, {"OTEL_TRACES_EXPORTER": "none"}),
        Config(
            "stock OTLP/HTTP exporter -> seamscope collect",
            True,
            {"OTEL_TRACES_EXPORTER": "otlp_proto_http"},
            receiver=True,
        ),
        Config("seamscope exporter -> owner (seamscope collect)", True, {}, receiver=True),
        Config("seamscope exporter -> store file (short lock)", True, {}),
    ]
    moto, endpoint = start_moto_server(log_path=ctx.workdir / "moto.log")
    receiver = None
    samples: dict[str, list[tuple[float, float]]] = {c.label: [] for c in configs}
    try:
        exe = bin_dir / "seamscope"
        # Each round runs every configuration in turn; at least three rounds, so that each
        # figure is a median (a round takes a minute or two: fewer than --repeats when large).
        for _ in range(1 if ctx.quick else max(3, ctx.repeats - 2)):
            for config in configs:
                receiver_port = None
                if config.receiver:
                    receiver_port = free_port()
                    receiver = ManagedProcess(
                        "collect",
                        [
                            str(exe),
                            "collect",
                            "--db",
                            str(ctx.workdir / "exporter.duckdb"),
                            "--port",
                            str(receiver_port),
                            "--quiet",
                        ],
                        log_path=ctx.workdir / "collect.log",
                    ).start()
                    wait_for_http(
                        f"http://127.0.0.1:{receiver_port}/", timeout_s=30, process=receiver.popen
                    )
                try:
                    samples[config.label].append(
                        _measure(ctx, config, endpoint, receiver_port, requests)
                    )
                finally:
                    if receiver is not None:
                        receiver.stop(timeout_s=30)
                        receiver = None
    finally:
        moto.stop()
    base = samples["instrumented, no exporter"]
    base_cpu = statistics.median(c for _, c in base)
    base_lat = statistics.median(lat for lat, _ in base)
    results = []
    for config in configs:
        lat = statistics.median(lat for lat, _ in samples[config.label])
        cpu = statistics.median(c for _, c in samples[config.label])
        extra = ""
        if config.instrumented and config.env.get("OTEL_TRACES_EXPORTER") != "none":
            # The exporter's cost in each round against that round's run without one (the
            # rounds run in turn, so a slower minute weighs on both), then the median.
            added = statistics.median(
                c - b for (_, c), (_, b) in zip(samples[config.label], base, strict=True)
            )
            per_span_us = added * 1000 / SPANS_PER_REQUEST
            extra = (
                f"exporter: {added:+.2f} ms CPU/request, {per_span_us:+.0f} µs/span "
                "(median of the rounds' differences)"
            )
        results.append(
            Result(
                NAME,
                f"service CPU per request: {config.label}",
                cpu,
                "ms",
                [c for _, c in samples[config.label]],
                ratio=f"{cpu / base_cpu:.2f}x no exporter" if config.instrumented else "",
                note=extra,
            )
        )
        results.append(
            Result(
                NAME,
                f"request latency (median): {config.label}",
                lat,
                "ms",
                [la for la, _ in samples[config.label]],
                ratio=f"{lat / base_lat:.2f}x no exporter" if config.instrumented else "",
                note=f"{requests} sequential requests, {SPANS_PER_REQUEST} spans each",
            )
        )
    return results
