"""Starting and stopping real processes on loopback, leaving nothing behind."""

from __future__ import annotations

import os
import random
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO

from seamscope.demo.stops import STOP_SIGNALS, check_stop
from seamscope.tracer.errors import SeamscopeError
from seamscope.tracer.private import private_file

_LOWEST_PORT = 10_000
_PICK = random.SystemRandom()  # immune to tests seeding `random`: xdist workers differ


def _ephemeral_range() -> tuple[int, int]:
    try:
        low, high = Path("/proc/sys/net/ipv4/ip_local_port_range").read_text().split()
        return int(low), int(high)
    except (OSError, ValueError):
        return 32768, 60999


def _bindable(host: str, port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        try:
            sock.bind((host, port))
        except OSError:
            return False
    return True


def free_port(host: str = "127.0.0.1") -> int:
    """A port nothing listens on, for a server that starts a moment later.

    Picked below the kernel's ephemeral range: the source ports of outgoing connections (and
    bind-to-0 picks of other processes) come from that range, and could take the port between
    this pick and the server's bind.
    """
    low, _ = _ephemeral_range()
    if low - _LOWEST_PORT >= 1000:
        for _ in range(50):
            port = _PICK.randrange(_LOWEST_PORT, low)
            if _bindable(host, port):
                return port
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((host, 0))
        return int(sock.getsockname()[1])


@contextmanager
def stop_signals_deferred() -> Iterator[set[int | signal.Signals] | None]:
    """STOP_SIGNALS wait until the block ends, and their handler runs then. Around a fork: the
    fork hooks that subprocess.Popen runs in Python swallowed the stop (the demo went on starting),
    and a child forked but not yet recorded would not be stopped with the others.

    The mask is this thread's: a signal sent to the process while other threads run may be
    taken by one of them, and its handler then runs here at once; the record it leaves
    (check_stop) still ends the next wait.

    Yields the signal mask a child must get back (child_setup), as a child inherits its
    parent's; None where nothing is deferred (another thread than the main one, or no
    pthread_sigmask): there the handler does not run anyway."""
    if not hasattr(signal, "pthread_sigmask") or (
        threading.current_thread() is not threading.main_thread()
    ):
        yield None
        return
    mask = signal.pthread_sigmask(signal.SIG_BLOCK, STOP_SIGNALS)
    try:
        yield mask
    finally:
        signal.pthread_sigmask(signal.SIG_SETMASK, mask)


def child_setup(
    mask: set[int | signal.Signals] | None, death_signal: signal.Signals | None = None
) -> Callable[[], None] | None:
    """A preexec_fn for a child started under stop_signals_deferred: it gets its parent's usual
    signal mask back (else it would ignore SIGTERM until it unblocked it), and death_signal when
    its parent dies (Linux)."""
    if mask is None and death_signal is None:
        return None

    def setup() -> None:
        if mask is not None:
            signal.pthread_sigmask(signal.SIG_SETMASK, mask)
        if death_signal is not None:
            _die_with_parent(death_signal)

    return setup


def wait_for_http(
    url: str, *, timeout_s: float = 15.0, process: subprocess.Popen[bytes] | None = None
) -> None:
    """Waits until url answers (any HTTP status); fails early when process died."""
    deadline = time.monotonic() + timeout_s
    while True:
        check_stop()
        if process is not None and process.poll() is not None:
            raise SeamscopeError(f"{url}: the process serving it exited with {process.returncode}")
        try:
            with urllib.request.urlopen(url, timeout=1.0):
                return
        except urllib.error.HTTPError:
            return
        except (urllib.error.URLError, ConnectionError, TimeoutError, OSError):
            if time.monotonic() > deadline:
                raise SeamscopeError(f"{url}: nothing answered within {timeout_s:.0f} s") from None
            time.sleep(0.05)


def _die_with_parent(sig: signal.Signals = signal.SIGKILL) -> None:
    """In the child: on Linux, get sig when the starting thread's process dies, even by SIGKILL
    (SIGTERM lets a child that owns a store flush and withdraw its owner file first).

    The setting survives exec, so it holds for the program that opentelemetry-instrument runs.
    """
    if not sys.platform.startswith("linux"):
        return
    try:
        import ctypes

        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(1, sig)  # PR_SET_PDEATHSIG
    except (OSError, AttributeError):
        pass


LINGER_S = 3.0  # what a stopped child's own children get to leave by themselves


def group_alive(pgid: int) -> bool:
    """Whether a process of group pgid still runs. On Linux a zombie does not count (its
    parent has gone and nothing reaped it yet: it runs no more); elsewhere any member does."""
    if sys.platform.startswith("linux"):
        with os.scandir("/proc") as entries:  # closed on the early return too
            for entry in entries:
                if not entry.name.isdigit():
                    continue
                try:
                    with open(f"/proc/{entry.name}/stat", "rb") as stat:
                        fields = stat.read().rsplit(b")", 1)[1].split()
                except (OSError, IndexError):
                    continue  # gone meanwhile
                if len(fields) > 2 and int(fields[2]) == pgid and fields[0] not in (b"Z", b"X"):
                    return True
        return False
    try:
        os.killpg(pgid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


@dataclass
class ManagedProcess:
    """A child process in its own process group, so stopping it stops its children too."""

    name: str
    argv: Sequence[str]
    env: Mapping[str, str] | None = None
    cwd: Path | None = None
    log_path: Path | None = None
    # Linux: killed by the kernel if the thread that started it dies (so only start it from a
    # thread that lives as long as the process should).
    die_with_parent: bool = False
    death_signal: signal.Signals = signal.SIGKILL  # what it gets when its parent dies
    popen: subprocess.Popen[bytes] | None = field(default=None, init=False)
    terminated: bool = field(default=False, init=False)
    killed: bool = field(default=False, init=False)
    """Whether stop() had to SIGKILL it: it had not ended timeout_s after SIGTERM."""
    killed_left: bool = field(default=False, init=False)
    """Whether stop() had to SIGKILL what it left in its group after linger_s."""

    def start(self) -> ManagedProcess:
        env = dict(os.environ)
        if self.env:
            env.update(self.env)
        # 0600 whatever the umask: a service's log may show what its spans carry.
        log = private_file(self.log_path, "ab") if self.log_path else None
        out: IO[bytes] | int = log if log is not None else subprocess.DEVNULL
        try:
            with stop_signals_deferred() as mask:
                self.popen = subprocess.Popen(
                    list(self.argv),
                    env=env,
                    cwd=self.cwd,
                    stdout=out,
                    stderr=subprocess.STDOUT,
                    stdin=subprocess.DEVNULL,
                    start_new_session=True,
                    preexec_fn=child_setup(
                        mask, self.death_signal if self.die_with_parent else None
                    ),
                )
        finally:
            if log is not None:
                log.close()
        return self

    @property
    def pid(self) -> int:
        assert self.popen is not None
        return self.popen.pid

    def alive(self) -> bool:
        return self.popen is not None and self.popen.poll() is None

    def terminate(self) -> None:
        """SIGTERM to the group without waiting, so several processes can stop at once."""
        if self.alive() and not self.terminated:
            self.terminated = True
            self._signal_group(signal.SIGTERM)

    def stop(self, timeout_s: float = 5.0, linger_s: float = LINGER_S) -> int | None:
        """SIGTERM to the group, then SIGKILL after timeout_s. Returns the exit status.

        What the child leaves in its group gets linger_s to leave by itself before it is
        killed: a process pool's resource tracker ignores SIGTERM and unlinks the pool's named
        semaphores (files in /dev/shm) once the last process that used them is gone. Killed
        before that, it leaves them behind for good."""
        if self.popen is None:
            return None
        if self.popen.poll() is None:
            self.terminate()
            try:
                self.popen.wait(timeout_s)
            except subprocess.TimeoutExpired:
                self.killed = True
                self._signal_group(signal.SIGKILL)
                self.popen.wait()
        deadline = time.monotonic() + linger_s
        while group_alive(self.popen.pid) and time.monotonic() < deadline:
            time.sleep(0.02)
        # Anything the child left in its group goes too.
        self.killed_left = not self.killed and group_alive(self.popen.pid)
        self._signal_group(signal.SIGKILL)
        return self.popen.returncode

    def _signal_group(self, sig: signal.Signals) -> None:
        assert self.popen is not None
        try:
            os.killpg(self.popen.pid, sig)
        except (ProcessLookupError, PermissionError):
            pass


def moto_server(
    port: int | None = None, *, log_path: Path | None = None, die_with_parent: bool = False
) -> tuple[ManagedProcess, str]:
    """moto's standalone server on 127.0.0.1, not started yet, and its endpoint URL."""
    port = port or free_port()
    proc = ManagedProcess(
        "moto",
        [sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)],
        log_path=log_path,
        die_with_parent=die_with_parent,
    )
    return proc, f"http://127.0.0.1:{port}"


def wait_for_moto(proc: ManagedProcess, endpoint: str) -> None:
    # moto imports Flask and every service's models before it listens: seconds on a quiet
    # machine, more than 15 on a busy one. A dead server still fails at once.
    wait_for_http(f"{endpoint}/moto-api/", process=proc.popen, timeout_s=60)


def start_moto_server(
    port: int | None = None, *, log_path: Path | None = None, die_with_parent: bool = False
) -> tuple[ManagedProcess, str]:
    """moto's standalone server on 127.0.0.1; returns the process and its endpoint URL."""
    proc, endpoint = moto_server(port, log_path=log_path, die_with_parent=die_with_parent)
    try:
        proc.start()
        wait_for_moto(proc, endpoint)
    except BaseException:
        proc.stop()
        raise
    return proc, endpoint
