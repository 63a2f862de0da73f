"""Holds the store read-write for a while, like an owner that publishes no endpoint.

Usage: lock_holder.py <db> <seconds>, or lock_holder.py <db> --until <file> (holds until the
file exists). Prints "locked <unix time>" once it holds the file, "released <unix time>" after.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

from seamscope.tracer.store import Store, StoreLocked


def main() -> None:
    db = Path(sys.argv[1])
    until = Path(sys.argv[3]) if sys.argv[2] == "--until" else None
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
    if until is None:
        time.sleep(float(sys.argv[2]))
    else:
        while not until.exists():
            time.sleep(0.01)
    store.close()
    print(f"released {time.time()}", flush=True)


if __name__ == "__main__":
    main()
