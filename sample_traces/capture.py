"""Recaptures the sample traces from the real demo fleet: ``python sample_traces/capture.py``.

Runs moto, the vendor stand-ins, a receiver with ``--tee`` and the thirteen services of
``seamscope demo`` for a few seconds, and writes beside this script:

- ``demo-fleet.jsonl``: every OTLP export request the receiver accepted, one JSON line each, as
  the OpenTelemetry Collector's file exporter writes them;
- ``seamscope.toml``: the demo's landscape file with the vendor ports of this capture.

Needs the demo extra (``pip install './seamscope[demo]'`` from the clone's parent folder); no
network beyond loopback.
"""

from __future__ import annotations

import argparse
import shutil
import sys
import tempfile
from pathlib import Path

from seamscope.demo.processes import free_port
from seamscope.demo.run import require_demo_dependencies, run_headless, running_fleet
from seamscope.tracer.errors import SeamscopeError

HERE = Path(__file__).resolve().parent
TRACES = "demo-fleet.jsonl"
LANDSCAPE = "seamscope.toml"


def capture(out_dir: Path, seconds: float, pace: float) -> Path:
    """Runs the fleet and returns the path of the OTLP JSON lines it wrote."""
    require_demo_dependencies()
    out_dir.mkdir(parents=True, exist_ok=True)
    traces = out_dir / TRACES
    traces.unlink(missing_ok=True)
    run_dir = Path(tempfile.mkdtemp(prefix="seamscope-capture-"))
    try:
        with running_fleet(run_dir, run_dir / "capture.duckdb", pace=pace) as fleet:
            dead = run_headless(fleet, free_port(), seconds, tee=traces, say=print)
            assert fleet.landscape_path is not None
            shutil.copyfile(fleet.landscape_path, out_dir / LANDSCAPE)
        if dead:
            raise SeamscopeError(f"the capture is partial: {'; '.join(dead)}")
    finally:
        shutil.rmtree(run_dir, ignore_errors=True)
    return traces


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=HERE, help="folder to write (default: here)")
    parser.add_argument("--seconds", type=float, default=14.0, help="how long the fleet runs")
    parser.add_argument("--pace", type=float, default=2.0, help="loop period multiplier")
    args = parser.parse_args(argv)
    try:
        traces = capture(args.out, args.seconds, args.pace)
    except SeamscopeError as exc:
        print(f"capture: {exc}", file=sys.stderr)
        return 2
    print(f"wrote {traces} ({traces.stat().st_size // 1024} KB) and {args.out / LANDSCAPE}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
