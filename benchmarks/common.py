"""What every benchmark shares: results, skips, medians, the machine it ran on."""

from __future__ import annotations

import os
import platform
import statistics
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path


class Skip(Exception):
    """The part a benchmark measures is not there (yet); the message says which."""


@dataclass(slots=True)
class Result:
    """One figure: the median of runs, and how it compares with its goal or peer."""

    bench: str
    name: str
    value: float
    unit: str
    runs: list[float] = field(default_factory=list)
    goal: str = ""
    met: bool | None = None
    ratio: str = ""
    note: str = ""

    def formatted(self) -> str:
        return fmt(self.value, self.unit)


@dataclass(slots=True)
class Context:
    """Sizes and a scratch folder; quick runs use tiny sizes (the smoke test)."""

    quick: bool
    workdir: Path
    repeats: int
    log: Callable[[str], None] = lambda _: None
    # Generated stores one benchmark leaves for the next (the classified 10M store for the TUI).
    stores: dict[str, Path] = field(default_factory=dict)

    def size(self, full: int, quick: int) -> int:
        return quick if self.quick else full


def fmt(value: float, unit: str) -> str:
    if unit.endswith("/s"):
        if value >= 1_000_000:
            return f"{value / 1_000_000:.2f}M {unit}"
        if value >= 1_000:
            return f"{value / 1_000:.1f}k {unit}"
        return f"{value:.0f} {unit}"
    if unit in ("ms", "µs"):
        return f"{value:,.1f} {unit}" if value < 100 else f"{value:,.0f} {unit}"
    return f"{value:,.2f} {unit}"


def median_of(runs: list[float]) -> float:
    return statistics.median(runs)


def timed(fn: Callable[[], object], clock: Callable[[], float] = time.perf_counter) -> float:
    """Seconds fn took by clock: wall (perf_counter) by default. On a loaded machine the CPU
    clocks (time.thread_time, time.process_time) say more about code that does not wait."""
    begin = clock()
    fn()
    return clock() - begin


def bounded_runs(fn: Callable[[], object], repeats: int, budget_s: float = 20.0) -> list[float]:
    """Milliseconds of up to repeats runs of fn; stops early once the runs took budget_s, so a
    slow part keeps the whole benchmark run bounded."""
    runs: list[float] = []
    spent = 0.0
    while len(runs) < repeats and (not runs or spent < budget_s):
        seconds = timed(fn)
        spent += seconds
        runs.append(seconds * 1000)
    return runs


def rate_runs(fn: Callable[[], object], count: int, repeats: int) -> list[float]:
    """Items per second of repeats runs of fn, which handles count items each time."""
    return [count / timed(fn) for _ in range(repeats)]


def machine() -> str:
    cpus = os.cpu_count() or 0
    model = ""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    mem = ""
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal"):
                mem = f", {int(line.split()[1]) // 1024 // 1024} GiB RAM"
                break
    except (OSError, ValueError):
        pass
    return f"{cpus} cores ({model or platform.machine()}){mem}, {platform.system()}"


def versions() -> str:
    from importlib.metadata import PackageNotFoundError, version

    parts = [f"Python {sys.version.split()[0]}"]
    for dist in ("duckdb", "pyarrow", "opentelemetry-sdk", "protobuf", "textual"):
        try:
            parts.append(f"{dist} {version(dist)}")
        except PackageNotFoundError:
            continue
    return ", ".join(parts)
