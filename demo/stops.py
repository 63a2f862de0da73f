"""The demo's stop signals (Ctrl-C, SIGTERM, a closed terminal): recorded from the moment the
demo is chosen, raised once it can stop. Only `signal` is imported here, so that the command
line can take them over before it imports the demo (a few hundred milliseconds)."""

from __future__ import annotations

import signal
from collections.abc import Callable
from types import FrameType
from typing import Any

_Handler = Callable[[int, FrameType | None], Any] | int | None

STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)
"""Ctrl-C, a service manager's or a script's stop, a closed terminal."""


class StopRequested(KeyboardInterrupt):
    """A stop asked for by one of STOP_SIGNALS."""

    def __init__(self, signum: int) -> None:
        super().__init__(signum)
        self.signum = signum


_STOP_ASKED: list[int] = []
"""The stop signals received since the handlers were installed (a handler only appends: it
takes no lock)."""
_RAISES = False
"""Whether the first stop raises StopRequested (on_stop_signals), or is only recorded
(record_stop_signals: check_stop raises for it)."""
_REPLACED: dict[signal.Signals, _Handler] | None = None
"""The handlers ours replaced, while ours are installed."""


def _on_stop_signal(signum: int, frame: FrameType | None) -> None:
    _STOP_ASKED.append(signum)
    if _RAISES and len(_STOP_ASKED) == 1:
        raise StopRequested(signum)


def _install() -> dict[signal.Signals, _Handler]:
    global _REPLACED
    if _REPLACED is None:
        _STOP_ASKED.clear()
        _REPLACED = {sig: signal.signal(sig, _on_stop_signal) for sig in STOP_SIGNALS}
    return _REPLACED


def record_stop_signals() -> dict[signal.Signals, _Handler]:
    """From now on STOP_SIGNALS are recorded, nothing more, until on_stop_signals: for the
    moments before the demo can stop (its imports, its checks). Their default actions ended it
    there without its stop: SIGTERM killed it (not the 0 a stop gives), Ctrl-C gave "Aborted."
    or a traceback, or aborted the interpreter inside an extension's import; an exception
    raised there instead would cut an import short. Returns the handlers it replaced (for
    restore_signals)."""
    return _install()


def on_stop_signals() -> dict[signal.Signals, _Handler]:
    """From now on the first of STOP_SIGNALS raises StopRequested wherever the main thread is,
    which ends any wait of the startup at once; later ones are only recorded, so that they cannot
    cut the stop short. A stop recorded before (record_stop_signals) is kept: the next
    check_stop raises for it. Returns the handlers replaced by this or record_stop_signals
    (for restore_signals).

    Python swallows an exception raised while it runs a fork hook or a __del__ (it prints
    "Exception ignored in ..." and goes on): each wait also looks at the record (check_stop),
    and starting a process defers the signals (stop_signals_deferred)."""
    global _RAISES
    replaced = _install()
    _RAISES = True
    return replaced


def restore_signals(handlers: dict[signal.Signals, _Handler]) -> None:
    """Puts back the handlers on_stop_signals() replaced, and forgets the stops it recorded: a
    process that goes on (a test worker, a benchmark) must not find its later waits stopped."""
    global _RAISES, _REPLACED
    _RAISES, _REPLACED = False, None
    _STOP_ASKED.clear()
    for sig, handler in handlers.items():
        if handler is not None:  # None: a handler not set from Python, which cannot be put back
            signal.signal(sig, handler)


def check_stop() -> None:
    """Raises StopRequested if a stop signal came (whether or not its exception was lost)."""
    if _STOP_ASKED:
        raise StopRequested(_STOP_ASKED[0])
