"""A demo service's SQS poller holds no stop: it polls short and waits between polls on STOP."""

from __future__ import annotations

import threading
from typing import Any

import pytest

from seamscope.demo.fleet import actor


class _Queue:
    """An SQS client whose queue stays empty; each receive says so."""

    def __init__(self) -> None:
        self.received = threading.Event()
        self.calls: list[dict[str, Any]] = []

    def receive_message(self, **request: Any) -> dict[str, Any]:
        self.calls.append(request)
        self.received.set()
        return {}


def test_an_idle_poller_ends_once_stopped_without_a_long_poll(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    queue = _Queue()
    monkeypatch.setattr(actor, "aws", lambda service: queue)
    monkeypatch.setitem(actor.QUEUES, "q", "http://127.0.0.1/q")
    monkeypatch.setattr(actor, "POLL_IDLE_S", 3600.0)  # so that only the stop ends the wait
    poller = threading.Thread(target=actor.sqs_poller("q", lambda message: None), daemon=True)
    poller.start()
    try:
        queue.received.wait()
        actor.STOP.set()
        actor.finish([poller])  # JOIN_S is the bound; the poller ends at once
        assert not poller.is_alive()
        # A long poll would hold the stop for its WaitTimeSeconds (2 s, with moto's server).
        assert [call["WaitTimeSeconds"] for call in queue.calls] == [0]
    finally:
        actor.STOP.set()
        poller.join()
        actor.STOP.clear()
