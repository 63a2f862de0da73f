"""Holds the store read-write for a while, like an owner that publishes no endpoint.

Usage: lock_holder.py <db> <seconds>. Prints "locked <unix time>" once it holds the file,
"released <unix time>" after.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

from seamscope.tracer.store import Store, StoreLocked


def main() -> None:
    db, seconds = Path(sys.argv[1]), float(sys.argv[2])
    deadline = time.monotonic() + 30
    while True:
        try:
            store = Store.open(db)
            break
        except StoreLocked:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.01)
    print(f"locked {time.time()}", flush=True)
    time.sleep(seconds)
    store.close()
    print(f"released {time.time()}", flush=True)


if __name__ == "__main__":
    main()
