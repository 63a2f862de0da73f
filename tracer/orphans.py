"""Worker processes that leave when the process that started them is gone.

A pool's workers wait on a pipe that they hold both ends of themselves, so when their parent is
killed (SIGKILL, the OOM killer: no time to stop the pool) they never read the end of it, and
would wait forever, each holding its memory. A thread in each worker polls its parent instead.
"""

from __future__ import annotations

import os
import threading
import time

POLL_S = 0.5
"""How often a worker looks for its parent."""


def leave_with(parent: int) -> None:
    """In a worker process: ends it (os._exit) once parent, the process that started it, is
    gone; it is then adopted by another, which may have happened before this was called."""
    threading.Thread(
        target=_watch, args=(parent,), name="seamscope-orphan-watch", daemon=True
    ).start()


def _watch(parent: int) -> None:
    while os.getppid() == parent:
        time.sleep(POLL_S)
    os._exit(0)
