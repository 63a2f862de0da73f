"""An instrumented worker that makes a known number of spans at a steady pace.

Usage: span_producer.py <tag> <count> <spans per second>. Prints the count it made.
"""

from __future__ import annotations

import sys
import time

from opentelemetry import trace


def main() -> None:
    tag, count, rate = sys.argv[1], int(sys.argv[2]), float(sys.argv[3])
    tracer = trace.get_tracer("seamscope.tests.producer")
    start = time.monotonic()
    for i in range(count):
        with tracer.start_as_current_span("work", attributes={"producer": tag, "seq": i}):
            pass
        # Pace against the clock, so a slow moment does not turn into a burst.
        ahead = start + (i + 1) / rate - time.monotonic()
        if ahead > 0:
            time.sleep(ahead)
    print(count, flush=True)


if __name__ == "__main__":
    main()
