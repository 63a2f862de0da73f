"""`python -m benchmarks [--quick] [--only NAME ...]`: runs, prints and records the benchmarks."""

from __future__ import annotations

import argparse
import importlib
import json
import sys
import tempfile
import time
from pathlib import Path
from types import ModuleType

from benchmarks.common import Context, Result, Skip, machine, versions
from benchmarks.report import write_report

BENCHMARKS = ("hot_path", "receiver", "ingest", "exporter", "classify", "tui", "cli")


def _log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks", description=__doc__)
    parser.add_argument("--quick", action="store_true", help="tiny sizes, one or two runs")
    parser.add_argument("--only", nargs="+", choices=BENCHMARKS, help="run only these")
    parser.add_argument("--repeats", type=int, help="runs per figure (default 5, quick 2)")
    parser.add_argument("--json", type=Path, help="also write the results as JSON here")
    parser.add_argument(
        "--report",
        type=Path,
        default=None,
        help="write the results section of this Markdown file "
        "(default docs/performance.md for a full run, nothing for --quick)",
    )
    args = parser.parse_args(argv)
    names = args.only or list(BENCHMARKS)
    command = "python -m benchmarks" + "".join(f" {a}" for a in _public_args(sys.argv[1:]))
    results: list[Result] = []
    skipped: dict[str, str] = {}
    started = time.time()
    with tempfile.TemporaryDirectory(prefix="seamscope-bench-") as scratch:
        ctx = Context(
            quick=args.quick,
            workdir=Path(scratch),
            repeats=args.repeats or (2 if args.quick else 5),
            log=_log,
        )
        for name in names:
            module: ModuleType = importlib.import_module(f"benchmarks.{name}")
            _log(f"== {name}")
            begin = time.perf_counter()
            try:
                found = module.run(ctx)
            except Skip as skip:
                skipped[name] = str(skip)
                _log(f"   skipped: {skip}")
                continue
            for result in found:
                verdict = "" if result.met is None else (" [met]" if result.met else " [missed]")
                extra = f"  ({result.ratio})" if result.ratio else ""
                _log(f"   {result.name}: {result.formatted()}{verdict}{extra}")
            _log(f"   ({time.perf_counter() - begin:.1f} s)")
            results.extend(found)
    elapsed = time.time() - started
    if args.json:
        args.json.write_text(
            json.dumps(
                {
                    "command": command,
                    "machine": machine(),
                    "versions": versions(),
                    "results": [_as_dict(r) for r in results],
                    "skipped": skipped,
                },
                indent=2,
                default=str,
            )
        )
    report = args.report
    if report is None and not args.quick:
        report = Path(__file__).resolve().parent.parent / "docs" / "performance.md"
    if report is not None:
        write_report(report, results, skipped, command=command, elapsed_s=elapsed, only=args.only)
        _log(f"results written to {report}")
    return 0


def _public_args(args: list[str]) -> list[str]:
    """The arguments worth recording: not where this machine put its JSON and report."""
    out: list[str] = []
    skip = False
    for arg in args:
        if skip:
            skip = False
        elif arg in ("--json", "--report"):
            skip = True
        elif not arg.startswith(("--json=", "--report=")):
            out.append(arg)
    return out


def _as_dict(result: Result) -> dict[str, object]:
    return {name: getattr(result, name) for name in result.__slots__}


if __name__ == "__main__":
    sys.exit(main())
