"""The first design's receiver, kept runnable as the peer of the receiver benchmark.

`python -m benchmarks.first_receiver --db PATH --port N` runs `tracer.receiver.Receiver` in the
configuration it had before issue 15: the body decoded in a thread of the receiver's process by
the general OTLP walk (otlp.protobuf, not otlp.flat), and the writer committing whatever is
queued as soon as it sees it (nothing waits for requests still being decoded). It owns the store
until SIGTERM or SIGINT, with no classification, as `seamscope collect --no-classify` does.
"""

from __future__ import annotations

import argparse
import signal
import threading
from pathlib import Path
from types import FrameType
from typing import Any

from seamscope.tracer.receiver import Receiver

FIRST_DESIGN = {
    "decode_threads": 2,
    "decode_processes": 0,
    "group_wait_s": 0.0,
    "flat_decode": False,
}
"""The Receiver's arguments for the first design."""


def serve(prog: str, argv: list[str] | None, **receiver_args: Any) -> int:
    """Runs a Receiver made with receiver_args on --db and --port until SIGTERM or SIGINT (the
    benchmark's sides that are not `seamscope collect`)."""
    parser = argparse.ArgumentParser(prog=prog)
    parser.add_argument("--db", type=Path, required=True)
    parser.add_argument("--port", type=int, required=True)
    args = parser.parse_args(argv)
    stop = threading.Event()

    def on_signal(signum: int, frame: FrameType | None) -> None:
        stop.set()

    signal.signal(signal.SIGINT, on_signal)
    signal.signal(signal.SIGTERM, on_signal)
    receiver = Receiver(args.db, "127.0.0.1", args.port, **receiver_args).start()
    print(f"receiving on {receiver.url}", flush=True)
    try:
        stop.wait()
    finally:
        receiver.stop()
    return 0


def main(argv: list[str] | None = None) -> int:
    return serve("python -m benchmarks.first_receiver", argv, **FIRST_DESIGN)


if __name__ == "__main__":
    raise SystemExit(main())
