"""A reader that queries the store in a loop, as the TUI or `seamscope sql` would.

Usage: store_reader.py <db> <stop file>. Prints JSON: reads done, times locked out, longest wait.
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path

from seamscope.tracer.store import StoreError, StoreLocked, StoreMissing, open_read_only


def main() -> None:
    db, stop = Path(sys.argv[1]), Path(sys.argv[2])
    reads = locked = 0
    longest = 0.0
    waiting_since: float | None = None
    while not stop.exists():
        try:
            con = open_read_only(db)
        except StoreMissing:
            time.sleep(0.02)
            continue
        except StoreLocked:
            locked += 1
            waiting_since = waiting_since or time.monotonic()
            time.sleep(0.02)
            continue
        except StoreError:
            # A store still being created has no schema yet.
            time.sleep(0.02)
            continue
        try:
            con.execute("select count(*), max(batch_id) from spans").fetchone()
            reads += 1
        finally:
            con.close()
        if waiting_since is not None:
            longest = max(longest, time.monotonic() - waiting_since)
            waiting_since = None
        time.sleep(0.05)
    print(json.dumps({"reads": reads, "locked": locked, "longest_wait_s": round(longest, 3)}))


if __name__ == "__main__":
    main()
