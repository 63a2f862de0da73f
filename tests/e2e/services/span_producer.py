"""An instrumented worker that makes a known number of spans at a steady pace.

Usage: span_producer.py <tag> <count> <spans per second> [<gate folder>]. Prints the count it
made. With a gate folder it stops after each third of its spans, prints "paused 1" (then
"paused 2") and goes on once the file 1 (then 2) exists there: a test places what happens
"in the middle of the run" between the gates, with no sleep of its own.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

from opentelemetry import trace


def main() -> None:
    tag, count, rate = sys.argv[1], int(sys.argv[2]), float(sys.argv[3])
    gates = Path(sys.argv[4]) if len(sys.argv) > 4 else None
    stops = {count * n // 3: n for n in (1, 2)} if gates else {}
    tracer = trace.get_tracer("seamscope.tests.producer")
    start = time.monotonic()
    for i in range(count):
        if i in stops and gates is not None:
            print(f"paused {stops[i]}", flush=True)
            while not (gates / str(stops[i])).exists():
                time.sleep(0.01)
            start = time.monotonic() - i / rate
        with tracer.start_as_current_span("work", attributes={"producer": tag, "seq": i}):
            pass
        # Pace against the clock, so a slow moment does not turn into a burst.
        ahead = start + (i + 1) / rate - time.monotonic()
        if ahead > 0:
            time.sleep(ahead)
    print(count, flush=True)


if __name__ == "__main__":
    main()
