"""Writes each benchmark's figures into its own marked section of docs/performance.md.

Only the text between `<!-- bench:NAME:begin -->` and `<!-- bench:NAME:end -->` is replaced, so
the hand-written analysis around it stays, and `--only NAME` refreshes one section.
"""

from __future__ import annotations

import os
import time
from pathlib import Path

from benchmarks.common import Result, machine, versions


def _load() -> str:
    try:
        return " / ".join(f"{x:.1f}" for x in os.getloadavg()) + " (1 / 5 / 15 min)"
    except OSError:
        return "unknown"


def _section(
    name: str, results: list[Result], skipped: str | None, command: str, elapsed_s: float
) -> str:
    when = time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime())
    lines = [
        f"`{command}` on {when}, {machine()}, load average {_load()} when it ended. Ratios "
        f"measured in the same run mean more than absolute figures. {versions()}. "
        f"Whole run {elapsed_s:.0f} s.",
        "",
    ]
    if skipped is not None:
        lines.append(f"Skipped: {skipped}")
        return "\n".join(lines)
    lines += [
        "| figure | median | runs | goal / baseline | met | vs peer | note |",
        "|---|---|---|---|---|---|---|",
    ]
    for r in results:
        runs = ", ".join(_short(v, r.unit) for v in r.runs)
        met = "" if r.met is None else ("yes" if r.met else "**no**")
        lines.append(
            f"| {r.name} | **{r.formatted()}** | {runs} | {r.goal} | {met} | {r.ratio} | {r.note} |"
        )
    return "\n".join(lines)


def _short(value: float, unit: str) -> str:
    if unit.endswith("/s"):
        return f"{value / 1000:.1f}k" if value >= 1000 else f"{value:.0f}"
    return f"{value:.1f}" if value < 100 else f"{value:.0f}"


def write_report(
    path: Path,
    results: list[Result],
    skipped: dict[str, str],
    *,
    command: str,
    elapsed_s: float,
    only: list[str] | None,
) -> None:
    text = path.read_text() if path.exists() else "# Performance\n"
    names = sorted({r.bench for r in results} | set(skipped))
    for name in names:
        body = _section(
            name, [r for r in results if r.bench == name], skipped.get(name), command, elapsed_s
        )
        begin, end = f"<!-- bench:{name}:begin -->", f"<!-- bench:{name}:end -->"
        block = f"{begin}\n{body}\n{end}"
        start = text.find(begin)
        stop = text.find(end, start)
        if start >= 0 and stop >= 0:
            text = text[:start] + block + text[stop + len(end) :]
        else:
            text = text.rstrip("\n") + f"\n\n### {name} (generated)\n\n{block}\n"
    path.write_text(text)
