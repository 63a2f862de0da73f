"""An instrumented client that calls the HTTP API in a loop and records each call's latency.

Usage: latency_client.py <api url> <stop file> <result file>. Writes JSON
{"requests": n, "samples": [[unix time, seconds], ...]} when the stop file appears.
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path

import httpx


def main() -> None:
    api, stop, result = sys.argv[1], Path(sys.argv[2]), Path(sys.argv[3])
    samples: list[tuple[float, float]] = []
    with httpx.Client(timeout=10) as client:
        i = 0
        while not stop.exists():
            started = time.perf_counter()
            client.get(f"{api}/orders/o-{i}").raise_for_status()
            samples.append((time.time(), time.perf_counter() - started))
            i += 1
            time.sleep(0.01)
    result.write_text(json.dumps({"requests": len(samples), "samples": samples}))


if __name__ == "__main__":
    main()
