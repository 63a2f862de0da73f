"""`seamscope collect`: receive OTLP/HTTP into the store, owning it until Ctrl-C."""

from __future__ import annotations

import errno
import gc
import logging
import signal
import sys
import time
from pathlib import Path
from types import FrameType

import click

from seamscope.classifiers.engine import classifier_hook
from seamscope.cli.options import MEMORY_FLOOR, DuckDBSize, FiniteRange
from seamscope.tracer.receiver import (
    DEFAULT_MAX_BODY,
    MEMORY_LIMIT,
    SQL_MAX_BYTES,
    SQL_TIMEOUT_S,
    TEMP_LIMIT,
    Receiver,
    default_decoders,
    owner_process,
)
from seamscope.tracer.receiver.guard import beyond_loopback
from seamscope.tracer.receiver.limits import BODY_TIMEOUT_S, IDLE_TIMEOUT_S
from seamscope.tracer.store import default_db_path
from seamscope.tracer.terminal import plural

READER_GONE = 0
"""In the list of signals received: stdout's reader went away, which stops it as a signal does."""
POLL_S = 0.1
"""How often the main thread looks for a signal received (at most this long to start stopping)."""


def _refused(bad_requests: int) -> str:
    """The requests refused whole (not OTLP, damaged, too large): their spans were never
    counted, so the count says they were there."""
    if not bad_requests:
        return ""
    return f", {plural(bad_requests, 'bad request')} refused"


def _repaired(repaired: int) -> str:
    """The spans stored with invalid UTF-8 replaced (otlp.utf8), when there were any."""
    return f"{repaired:,} with invalid UTF-8 replaced, " if repaired else ""


@click.command()
@click.option(
    "--db",
    "db",
    type=click.Path(path_type=Path),
    default=None,
    help="The store (default: $SEAMSCOPE_DB or ./seamscope.duckdb).",
)
@click.option(
    "--host",
    default="127.0.0.1",
    show_default=True,
    help="Address to listen on (one not on loopback lets other machines send spans).",
)
@click.option(
    "--allow-host",
    "allow_hosts",
    multiple=True,
    metavar="NAME",
    help="Another name senders may use in the Host header (loopback addresses, localhost and "
    "--host always may); repeat for more.",
)
@click.option(
    "--port",
    default=4318,
    show_default=True,
    type=click.IntRange(0, 65535),
    help="Port to listen on (0: any free port).",
)
@click.option(
    "--max-body-mb",
    default=DEFAULT_MAX_BODY // (1024 * 1024),
    show_default=True,
    type=click.IntRange(1, 4096),
    help="Largest request body, compressed or not.",
)
@click.option(
    "--tee",
    type=click.Path(path_type=Path, dir_okay=False),
    default=None,
    help="Also append every accepted request to this file as one OTLP JSON line.",
)
@click.option(
    "--landscape",
    type=click.Path(path_type=Path, exists=True, dir_okay=False),
    default=None,
    help="Landscape file (TOML) for the live classification.",
)
@click.option(
    "--no-classify",
    is_flag=True,
    help="Only store spans; do not refresh the classification as they arrive.",
)
@click.option(
    "--decoders",
    default=None,
    type=click.IntRange(0, 16),
    help="Decoder processes (0: threads in this process). Default: one per core, or threads "
    "on a single core.",
)
@click.option(
    "--max-connections",
    type=click.IntRange(1, 100_000),
    default=None,
    help="Open connections allowed; past it a sender gets 503 with Retry-After "
    "(default: half the process's file limit, at most 512).",
)
@click.option(
    "--idle-timeout",
    type=FiniteRange(0.1, 3600),
    default=IDLE_TIMEOUT_S,
    show_default=True,
    help="Seconds a connection may take to send a request's headers, or stay idle.",
)
@click.option(
    "--body-timeout",
    type=FiniteRange(0.1, 3600),
    default=BODY_TIMEOUT_S,
    show_default=True,
    help="Seconds a request's whole body may take to arrive; past it the sender gets 408.",
)
@click.option(
    "--sql-timeout",
    type=FiniteRange(0.1, 3600),
    default=SQL_TIMEOUT_S,
    show_default=True,
    help="Seconds a query through this owner may run before it is stopped.",
)
@click.option(
    "--sql-max-mb",
    type=click.IntRange(1, 65536),
    default=SQL_MAX_BYTES // (1024 * 1024),
    show_default=True,
    help="Largest query result (Arrow data) this owner sends; larger ones are refused.",
)
@click.option(
    "--memory-limit",
    type=DuckDBSize(MEMORY_FLOOR, percent=True),
    default=MEMORY_LIMIT,
    show_default=True,
    help="DuckDB's memory_limit for the store while this owns it (queries included).",
)
@click.option(
    "--max-temp-size",
    type=DuckDBSize(0),
    default=TEMP_LIMIT,
    show_default=True,
    help="DuckDB's max_temp_directory_size: how much a query or the classifier may spill.",
)
@click.option("--quiet", is_flag=True, help="Do not print the running count.")
def collect(
    db: Path | None,
    host: str,
    allow_hosts: tuple[str, ...],
    port: int,
    max_body_mb: int,
    tee: Path | None,
    landscape: Path | None,
    no_classify: bool,
    decoders: int | None,
    max_connections: int | None,
    idle_timeout: float,
    body_timeout: float,
    sql_timeout: float,
    sql_max_mb: int,
    memory_limit: str,
    max_temp_size: str,
    quiet: bool,
) -> None:
    """Receive OTLP/HTTP traces (protobuf or JSON) and store them; Ctrl-C flushes and exits.

    Point any OpenTelemetry SDK or Collector at http://HOST:PORT (OTLP/HTTP). While this runs it
    owns the store: exporters, `seamscope ingest` and the commands that read it (`sql`, `edges`,
    `check`, `export`, `drift`, `tui`) go through it. A span
    it rejects, or a request it refuses whole (not OTLP, damaged, too large), is counted here
    and its sender is told why (OTLP's partial success; 400 with the reason).
    """
    if landscape is not None and no_classify:  # it would go unread, a mistake in it unseen
        raise click.UsageError(
            "--landscape is for the live classification, which --no-classify turns off: "
            "give one of them"
        )
    logging.basicConfig(level=logging.WARNING, format="seamscope: %(message)s")
    db_path = db or default_db_path()
    # The signals received. A signal handler must take no lock: it runs between two bytecodes
    # of the main thread, which may hold that lock at that moment (threading.Event.set, here
    # before, deadlocked 3 of 10 runs that got a stream of SIGTERMs). So it only appends, and
    # the loop below looks every POLL_S.
    signals: list[int] = []

    def on_signal(signum: int, frame: FrameType | None) -> None:
        signals.append(signum)

    reader_gone = False

    def say(line: str, *, nl: bool = True) -> None:
        """A line on stdout. Should its reader go away (`| head -3`), the receiver stops as
        on Ctrl-C, flushing what it queued and withdrawing its owner file: a BrokenPipeError let
        through skipped both (the line that announces the stop failed as well)."""
        nonlocal reader_gone
        if reader_gone:
            return
        try:
            click.echo(line, nl=nl)
        except BrokenPipeError:
            reader_gone = True
            signals.append(READER_GONE)

    signal.signal(signal.SIGINT, on_signal)
    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGHUP, on_signal)  # its terminal closed: flush and withdraw, as for ^C
    owner_process()
    receiver = Receiver(
        db_path,
        host,
        port,
        max_body_bytes=max_body_mb * 1024 * 1024,
        tee_path=tee,
        after_commit=None if no_classify else classifier_hook(landscape),
        decode_processes=default_decoders() if decoders is None else decoders,
        allowed_hosts=allow_hosts,
        max_connections=max_connections,
        idle_timeout_s=idle_timeout,
        body_timeout_s=body_timeout,
        sql_timeout_s=sql_timeout,
        sql_max_bytes=sql_max_mb * 1024 * 1024,
        memory_limit=memory_limit,
        temp_limit=max_temp_size,
    )
    receiver.start()
    try:
        say(
            f"seamscope: receiving OTLP/HTTP on {receiver.url}/v1/traces into {db_path} "
            f"(Ctrl-C to stop)"
        )
        if beyond_loopback(host):
            click.echo(
                f"seamscope: note: listening on {host}, which other machines can reach: any of "
                "them may send spans here (the SQL endpoint still answers only this store's "
                "user); --host 127.0.0.1 keeps it to this machine",
                err=True,
            )
        if receiver.stats.drained:
            say(f"seamscope: drained {plural(receiver.stats.drained, 'spooled span')}")
        last: tuple[int, int, int, int, int] | None = None
        tty = sys.stdout.isatty()
        next_line = time.monotonic() + 1.0
        while not signals:
            time.sleep(POLL_S)
            if time.monotonic() < next_line:
                continue
            next_line += 1.0
            s = receiver.stats
            now = (s.stored, s.rejected, s.repaired, s.duplicate, s.bad_requests)
            if quiet or now == last or (last is None and not any(now)):
                continue
            last = now
            line = (
                f"stored {plural(s.stored, 'span')}, {s.rejected:,} rejected, "
                f"{_repaired(s.repaired)}{s.duplicate:,} repeated"
                f"{_refused(s.bad_requests)}"
            )
            if tty:
                say(f"\r{line}", nl=False)
            else:
                say(line)
    finally:
        # Stopping: what is queued is written and the owner file withdrawn whatever else
        # arrives (as the demo holds its clean-up), so a second Ctrl-C cannot cut that short
        # or end the process with its signal after it; SIGKILL still ends it at once.
        for sig in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
            signal.signal(sig, signal.SIG_IGN)
        if sys.stdout.isatty() and not quiet:
            say("")
        say("seamscope: stopping, writing what is queued ...")
        receiver.stop()
    s = receiver.stats
    say(
        f"seamscope: stopped; stored {plural(s.stored, 'span')} ({s.rejected:,} rejected, "
        f"{_repaired(s.repaired)}{s.duplicate:,} repeated, {s.drained:,} from the spool"
        f"{_refused(s.bad_requests)})"
    )

    # The store, the tee and the decoders are closed. Python's last garbage collection, over
    # DuckDB's, Arrow's and the classifier's objects, took about 0.3 s at exit, which stopping
    # `tui --collect` or the demo waited for: left out, as nothing it would find needs collecting.
    gc.freeze()
    if reader_gone:  # the command line leaves quietly (cli/main.py)
        raise BrokenPipeError(errno.EPIPE, "the reader of stdout went away")
