"""A stop signal that comes while the demo starts is never lost, and never blocks a child."""

from __future__ import annotations

import signal
import sys
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from seamscope.cli.main import main
from seamscope.demo.processes import ManagedProcess, stop_signals_deferred, wait_for_http
from seamscope.demo.stops import (
    StopRequested,
    check_stop,
    on_stop_signals,
    record_stop_signals,
    restore_signals,
)


@pytest.fixture
def stop_signals() -> Iterator[None]:
    previous = on_stop_signals()
    try:
        yield
    finally:
        restore_signals(previous)


@pytest.mark.usefixtures("stop_signals")
def test_a_signal_while_a_process_starts_is_raised_once_it_is_recorded() -> None:
    """subprocess.Popen runs fork hooks in Python, which swallowed the stop's exception; the
    signal waits until the block ends instead."""
    reached_the_end = False
    with pytest.raises(StopRequested) as stopped:
        with stop_signals_deferred():
            # To this thread: a signal sent to the process goes to any thread that does not
            # block it (pytest-xdist's worker has one more), whose handler then runs here at once.
            signal.pthread_kill(threading.main_thread().ident or 0, signal.SIGTERM)
            reached_the_end = True
    assert reached_the_end
    assert stopped.value.signum == signal.SIGTERM


@pytest.mark.usefixtures("stop_signals")
def test_a_stop_whose_exception_was_swallowed_still_ends_the_next_wait(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Python prints an exception raised in a __del__ and goes on: the wait that follows (here a
    minute for a server that is not there) must end all the same."""
    swallowed: list[BaseException | None] = []
    monkeypatch.setattr(sys, "unraisablehook", lambda u: swallowed.append(u.exc_value))

    class Finalized:
        def __del__(self) -> None:
            signal.raise_signal(signal.SIGTERM)

    Finalized()
    assert len(swallowed) == 1 and isinstance(swallowed[0], StopRequested)
    with pytest.raises(StopRequested):
        wait_for_http("http://127.0.0.1:9/", timeout_s=60)


@pytest.mark.usefixtures("stop_signals")
def test_a_second_signal_does_not_cut_the_stop_short() -> None:
    with pytest.raises(StopRequested):
        signal.raise_signal(signal.SIGINT)
    signal.raise_signal(signal.SIGINT)  # recorded only: the stop goes on


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc")
@pytest.mark.parametrize("die_with_parent", [False, True])
def test_a_process_started_with_the_signals_deferred_gets_them_unblocked(
    tmp_path: Path, die_with_parent: bool
) -> None:
    """A child inherits its parent's signal mask: with SIGTERM still blocked, it would not stop."""
    out = tmp_path / "status"
    child = ManagedProcess(
        "child",
        [sys.executable, "-c", f"import shutil; shutil.copy('/proc/self/status', {str(out)!r})"],
        die_with_parent=die_with_parent,
    ).start()
    assert child.popen is not None and child.popen.wait(60) == 0
    (blocked,) = [line.split()[1] for line in out.read_text().splitlines() if line[:7] == "SigBlk:"]
    for sig in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
        assert not int(blocked, 16) & (1 << (sig - 1)), signal.Signals(sig).name


def test_a_stop_is_forgotten_once_the_handlers_are_restored() -> None:
    """The record of a stop is the demo's run's: a process that goes on after it (a test
    worker, a benchmark starting its receiver with the same helpers) must not find every later
    wait stopped by it. It did: pytest-xdist took the StopRequested, a KeyboardInterrupt, as the
    user's Ctrl-C and ended the whole test session."""
    previous = on_stop_signals()
    try:
        with pytest.raises(StopRequested):
            signal.raise_signal(signal.SIGTERM)
    finally:
        restore_signals(previous)
    try:
        check_stop()
    except StopRequested:  # a KeyboardInterrupt: left alone, it would end the test session
        pytest.fail("a stop of a run whose handlers were restored still stops every wait")


def test_a_stop_recorded_before_the_demo_can_stop_is_raised_by_its_first_check() -> None:
    """While the demo imports its parts, a stop is only recorded (an exception there would cut
    an import short); once it can stop, the first check raises it, and it is the one said."""
    previous = record_stop_signals()
    try:
        signal.raise_signal(signal.SIGHUP)  # recorded, not raised
        assert on_stop_signals() == previous
        signal.raise_signal(signal.SIGTERM)  # a second stop: recorded only
        with pytest.raises(StopRequested) as stopped:
            check_stop()
        assert stopped.value.signum == signal.SIGHUP
    finally:
        restore_signals(previous)
    assert signal.getsignal(signal.SIGTERM) == previous[signal.SIGTERM]
    check_stop()  # forgotten


def test_the_command_line_gives_the_signals_back_after_demo_help(
    capsys: pytest.CaptureFixture[str],
) -> None:
    """Choosing the demo takes the stop signals over before its imports; a run that ends
    without it (--help) must not leave them taken, recording Ctrl-C for nobody."""
    before = {sig: signal.getsignal(sig) for sig in (signal.SIGINT, signal.SIGTERM)}
    main(["demo", "--help"])
    assert "Run the demo fleet" in capsys.readouterr().out
    assert {sig: signal.getsignal(sig) for sig in before} == before
