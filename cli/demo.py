"""`seamscope demo`: the guideline's own landscape, running for real on loopback, watched live."""

from __future__ import annotations

import os
import shutil
import signal
import stat
import subprocess
import sys
import tempfile
from pathlib import Path

import click

from seamscope.cli.options import FiniteRange
from seamscope.demo.processes import child_setup, stop_signals_deferred
from seamscope.demo.run import (
    Fleet,
    StartupAbandoned,
    ensure_port_free,
    fleet_running,
    report_dead,
    require_demo_dependencies,
    run_headless,
    seamscope_command,
)
from seamscope.demo.stops import (
    StopRequested,
    on_stop_signals,
    record_stop_signals,
    restore_signals,
)
from seamscope.tracer.access import open_reader
from seamscope.tracer.errors import SeamscopeError
from seamscope.tracer.store import refuse_special


def _say(line: str) -> None:
    try:
        click.echo(line, err=True)
    except OSError:  # the terminal is gone (closed window: SIGHUP); stopping goes on
        pass


def exit_status(signum: int) -> int:
    """The demo's exit status once a signal stopped it and everything it started is gone.

    SIGTERM is how a service manager or a script stops it: a stop asked for and done, so 0, as
    `seamscope collect` gives (systemd counts 143 a failure unless told otherwise). Ctrl-C and
    a closed terminal interrupt a run someone watched: the shell's 128 + the signal's number.
    """
    return 0 if signum == signal.SIGTERM else 128 + signum


def _run_tui(fleet: Fleet, port: int) -> list[str]:
    """The demo's receiver owns the store; the TUI, in the foreground on this terminal, watches
    it live. When the TUI quits, the fleet stops with the receiver last (fleet_running), so the
    services' last spans are stored: the TUI stopping a receiver of its own (`tui --collect`)
    stopped it first."""
    from seamscope.cli.tui import LIVE_MEMORY_LIMIT

    assert fleet.landscape_path is not None
    fleet.start_receiver(port, memory_limit=LIVE_MEMORY_LIMIT)
    tui: subprocess.Popen[bytes] | None = None
    try:
        with stop_signals_deferred() as mask:  # a stop while it starts must find it recorded
            tui = subprocess.Popen(
                seamscope_command(
                    "tui",
                    "--live",
                    "--db",
                    str(fleet.db_path),
                    "--landscape",
                    str(fleet.landscape_path),
                ),
                preexec_fn=child_setup(mask),
            )
        try:
            # Quit while the services start: the fleet stops now, not once they all listen.
            fleet.start_services(abandoned=lambda: tui is not None and tui.poll() is not None)
        except StartupAbandoned:
            pass
        dead: list[str] = []
        while True:
            try:
                tui.wait(0.25)
                break
            except subprocess.TimeoutExpired:
                dead += report_dead(fleet, say=None)
        return dead + report_dead(fleet, say=None)
    finally:
        if tui is not None and tui.poll() is None:
            tui.terminate()
            try:
                tui.wait(10)
            except subprocess.TimeoutExpired:
                tui.kill()
                tui.wait()


def _own_folder(logs: Path) -> None:
    """--logs: made 0700 when new; an existing one must be a folder of the user's that nobody
    else may write in. The demo writes its logs, the landscape and the store there through
    whatever it finds, so a link planted by another user (a log named after a process, pointing
    at a file of the user's) would have it append to that file."""
    try:
        logs.mkdir(mode=0o700, parents=True)
    except FileExistsError:
        pass
    except OSError as exc:
        raise SeamscopeError(f"{logs}: cannot make the folder ({exc.strerror or exc})") from None
    st = logs.stat()
    if not stat.S_ISDIR(st.st_mode):
        raise SeamscopeError(f"{logs}: not a folder")
    if st.st_uid != os.geteuid():
        raise SeamscopeError(
            f"{logs}: the folder belongs to another user (uid {st.st_uid}); give --logs a "
            "folder of your own"
        )
    if st.st_mode & (stat.S_IWGRP | stat.S_IWOTH):
        raise SeamscopeError(
            f"{logs}: other users can write in this folder (mode {stat.S_IMODE(st.st_mode):o}), "
            "and so plant links where the demo writes; give --logs a folder of your own"
        )


@click.command()
@click.option(
    "--headless",
    is_flag=True,
    help="No TUI: run, then print every labelled edge, findings first.",
)
@click.option(
    "--duration",
    type=FiniteRange(min=1),
    default=None,
    help="With --headless: seconds the fleet runs (default 30).",
)
@click.option(
    "--db",
    "db",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    help="Keep the store at this path (default: a temporary one, removed afterwards).",
)
@click.option(
    "--port",
    type=click.IntRange(0, 65535),
    default=4318,
    show_default=True,
    help="OTLP/HTTP port of the receiver on 127.0.0.1 (0: any free port).",
)
@click.option(
    "--logs",
    type=click.Path(file_okay=False, path_type=Path),
    default=None,
    help="Keep every process's log, the landscape file and demo.json in this folder.",
)
@click.option(
    "--pace",
    type=FiniteRange(min=0.1),
    default=1.0,
    show_default=True,
    help="Multiplies every service's loop period (2 = half the traffic).",
)
def demo(
    headless: bool,
    duration: float | None,
    db: Path | None,
    port: int,
    logs: Path | None,
    pace: float,
) -> None:
    """Run the demo fleet on loopback and watch its integrations live.

    Starts moto's server as the AWS endpoint, two vendor stand-ins, a receiver that owns the
    store, and thirteen small services, each its own process: twelve in Python under
    opentelemetry-instrument and the webapp BFF in Node.js under the stock auto-instrumentation
    (in Python too where node is not installed).
    Leaving the TUI (q), or Ctrl-C with --headless, stops every process it started.
    """
    if duration is not None and not headless:
        raise click.UsageError("--duration goes with --headless")
    require_demo_dependencies()
    if port:
        ensure_port_free(port, "the demo's receiver")
    if db is not None:
        refuse_special(db)
    if db is not None and not db.parent.resolve().is_dir():
        raise SeamscopeError(f"{db}: the folder {db.parent} does not exist")
    if db is not None and open_reader(db).owner is not None:
        raise SeamscopeError(f"{db} is owned by another running process; stop it or choose --db")
    if logs is not None:
        _own_folder(logs)
    run_dir = logs if logs is not None else Path(tempfile.mkdtemp(prefix="seamscope-demo-"))
    db_path = db.resolve() if db is not None else run_dir / "seamscope.duckdb"
    # SIGTERM (a service manager, a script), Ctrl-C and a closed terminal window stop the demo
    # at any moment, while its fleet starts too, and it stops whatever already runs. SIGINT
    # explicitly (as `seamscope collect` does): a demo started from a script in the background
    # inherits SIGINT ignored, and would then outlive a Ctrl-C or `kill -INT`.
    dead: list[str] = []
    interrupted: int | None = None  # the signal that stopped the demo
    finished = False
    landscape: Path | None = None
    fleet = Fleet(run_dir=run_dir, db_path=db_path)
    # Recorded since the command line chose the demo (its imports, the checks above): the
    # check that begins fleet_running stops it at once.
    previous = record_stop_signals()
    try:
        try:
            on_stop_signals()  # in this try: a stop while it takes effect is caught here too
            # fleet_running says "demo: stopping every process it started" and stops them
            with fleet_running(fleet, pace=pace, say=_say):
                if fleet.node_note:
                    _say(fleet.node_note)  # before the TUI takes the terminal
                if headless:
                    dead = run_headless(fleet, port, duration or 30.0, say=_say)
                else:
                    dead = _run_tui(fleet, port)
                    for line in dead:  # the TUI had the terminal while they died
                        _say(line)
                landscape = fleet.landscape_path
        except KeyboardInterrupt as stop:
            interrupted = stop.signum if isinstance(stop, StopRequested) else signal.SIGINT
        if headless and interrupted is None and landscape is not None:
            from seamscope.cli.table import StdoutConsole
            from seamscope.demo.findings import print_findings

            print_findings(db_path, landscape, StdoutConsole)
        # A process the stop had to kill: its log says what it was doing.
        finished = not dead and not fleet.reported_killed
    finally:
        restore_signals(previous)
        if logs is None and finished:
            shutil.rmtree(run_dir, ignore_errors=True)
        elif logs is None:
            _say(f"demo: logs kept in {run_dir}")
    if dead:
        raise SeamscopeError(f"{len(dead)} service(s) of the fleet exited while it ran (see above)")
    if interrupted is not None:
        sys.exit(exit_status(interrupted))
