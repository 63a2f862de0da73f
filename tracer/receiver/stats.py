"""The receiver's counters, updated by the HTTP handlers and the writer."""

from __future__ import annotations

import threading
from dataclasses import dataclass, field


@dataclass(slots=True)
class ReceiverStats:
    """Counters since start (spans, unless named otherwise)."""

    requests: int = 0
    received: int = 0
    stored: int = 0
    duplicate: int = 0
    rejected: int = 0
    repaired: int = 0
    """Spans stored with invalid UTF-8 replaced (otlp.utf8)."""
    bad_requests: int = 0
    drained: int = 0
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False, compare=False)

    def add(
        self,
        *,
        requests: int = 0,
        received: int = 0,
        stored: int = 0,
        duplicate: int = 0,
        rejected: int = 0,
        repaired: int = 0,
        bad_requests: int = 0,
        drained: int = 0,
    ) -> None:
        """Adds to the counters, from any thread."""
        with self._lock:
            self.requests += requests
            self.received += received
            self.stored += stored
            self.duplicate += duplicate
            self.rejected += rejected
            self.repaired += repaired
            self.bad_requests += bad_requests
            self.drained += drained
