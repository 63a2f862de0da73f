"""`seamscope tui`: browse a store (live while `seamscope collect` owns it), receive OTLP live
(--collect), or open OTLP JSON files."""

from __future__ import annotations

import contextlib
import gc
import os
import shutil
import signal
import sys
import tempfile
import time
from pathlib import Path
from types import FrameType
from typing import TYPE_CHECKING, Any

import click
from rich.text import Text

from seamscope.classifiers.landscape import DEFAULT_LANDSCAPE
from seamscope.cli.edges import check_found_landscape
from seamscope.cli.options import MEMORY_FLOOR, DuckDBSize, FiniteRange
from seamscope.tracer.errors import SeamscopeError
from seamscope.tracer.store import default_db_path, refuse_special
from seamscope.tracer.terminal import safe
from seamscope.tui.data import Holder, OwnerSource, SourceGone

if TYPE_CHECKING:
    from seamscope.tracer.ingest import IngestReport


class TuiError(SeamscopeError):
    pass


CATCH_UP_WAIT_S = 300.0
"""How long `tui --collect` waits for its receiver to classify what was stored before."""
LIVE_MEMORY_LIMIT = "512MB"
"""DuckDB's memory_limit for the receiver `tui --collect` starts (`seamscope collect` alone takes
2GB). In the live benchmark on a 10M store (20k spans/s for 25 s) everything `tui --collect`
runs took 938-942 MB together (PSS summed) against 1,152-1,154 MB at 768MB, the refresh no
slower; a full classification of that store, the child's first work on a store not classified
yet, peaked at 687 MB instead of 2.1 GB and took 1.37x the time of one at 2GB (1.09x that at
768MB), spilling to the store's temporary folder (docs/performance.md, TUI, "A tighter
limit")."""


def _ingest_files(paths: list[Path], db: Path) -> IngestReport:
    """OTLP JSON files go into a fresh temporary store first (seamscope ingest's code)."""
    from seamscope.tracer.ingest import ingest

    return ingest(db, [str(p) for p in paths], use_owner=False)


def _count(n: int, thing: str) -> str:
    return f"{n:,} {thing}{'' if n == 1 else 's'}"


def _file_problems(report: IngestReport) -> tuple[list[str], str]:
    """What `seamscope ingest` would have said of the files, when anything in them could not
    be stored or was stored with invalid UTF-8 replaced (its lines, summary last), and the
    TUI's news line for it; nothing when all was stored as it was."""
    from seamscope.cli.ingest import error_lines, summary

    if report.ok and not report.spans_repaired:
        return [], ""
    skipped = []
    if report.bad_requests:
        skipped.append(_count(report.bad_requests, "bad request") + " skipped")
    if report.spans_rejected:
        skipped.append(_count(report.spans_rejected, "span") + " rejected")
    if report.spans_repaired:
        skipped.append(_count(report.spans_repaired, "span") + " with invalid UTF-8 replaced")
    news = (
        f"{' and '.join(skipped) or 'Not everything was read'} in the files given: "
        "where is said in the terminal when you quit"
    )
    return [*error_lines(report), summary(report)], news


def _collector_source(
    db: Path,
    host: str,
    port: int,
    landscape: Path | None,
    *,
    log_dir: Path | None = None,
    memory_limit: str = LIVE_MEMORY_LIMIT,
) -> CollectorSource:
    """`seamscope collect` in a process of its own owns the store: it decodes, stores and
    classifies, and the TUI reads through its SQL endpoint, so none of that shares this
    interpreter with the drawing. The child gets SIGTERM when this process ends, however it
    ends (Linux), and stops with the TUI otherwise."""
    from seamscope.demo.processes import ManagedProcess
    from seamscope.tracer.access import open_reader

    owner = open_reader(db).owner
    if owner is not None:
        raise TuiError(f"{db} is owned by process {owner.pid} already; open it without --collect")
    scratch = None if log_dir else Path(tempfile.mkdtemp(prefix="seamscope-tui-"))
    folder = log_dir or scratch
    assert folder is not None
    argv = [
        sys.executable,
        "-m",
        "seamscope.cli",
        "collect",
        "--db",
        str(db),
        "--host",
        host,
        "--port",
        str(port),
        "--memory-limit",
        memory_limit,
        "--quiet",
    ]
    if landscape is not None:
        argv += ["--landscape", str(landscape)]
    child = ManagedProcess(
        "collect",
        argv,
        log_path=folder / "collect.log",
        die_with_parent=True,
        death_signal=signal.SIGTERM,
    ).start()
    deadline = time.monotonic() + 60
    while (owner := open_reader(db).owner) is None:
        if not child.alive() or time.monotonic() > deadline:
            child.stop()
            log = (folder / "collect.log").read_text(errors="replace").strip().splitlines()
            last = log[-1] if log else "no output"
            raise TuiError(
                f"the receiver did not start ({last}); its log: {folder / 'collect.log'}"
            )
        time.sleep(0.05)
    url = f"http://{host}:{owner.port}"
    source = CollectorSource(db, landscape, child, url, scratch=scratch)
    try:
        _await_catch_up(source)
    except BaseException:  # Ctrl-C while it waits, or an owner that does not answer
        source.close()
        raise
    return source


def _await_catch_up(source: WatchedSource, timeout_s: float = CATCH_UP_WAIT_S) -> None:
    """Spans stored before this run get their edges before the first paint: the child classifies
    them first thing, and this waits until its mark says so. Not here: classifying a big store
    in this process would leave the TUI holding gigabytes (a full classification of 10M spans
    peaked at 2.8 GB), while the child's DuckDB works within its memory limit. After timeout_s
    (or a classifier that fails in the child) the TUI opens anyway and the live refresh shows
    the edges once they come."""
    from seamscope.classifiers.read import classifier_mark
    from seamscope.tracer.usersql import SqlRejected
    from seamscope.tui.data import classified_with

    def said_why(why: str) -> None:
        # It will not catch up, or cannot say: open with what is classified (the screens say
        # what else fails, and the live refresh shows the edges once they come).
        click.echo(safe(why), err=True)

    try:
        first = source.run(classifier_mark)
    except SqlRejected as exc:
        said_why(f"seamscope: {exc}")
        return
    if first.spans == 0:
        return  # nothing stored before
    began = time.monotonic()
    told = False
    while source.alive() and time.monotonic() - began < timeout_s:
        log = source.log_path
        short = None if log is None else _short_of_memory(log)
        if short is not None:
            said_why(short)
            return
        try:
            mark = source.run(classifier_mark)
        except SqlRejected as exc:  # the owner's memory taken by its classifier, say
            said_why(f"seamscope: {exc}")
            return
        if (
            mark.classified is not None
            and mark.classified >= first.spans
            and classified_with(mark, source.landscape)
        ):
            return
        if not told and time.monotonic() - began > 1.0:
            click.echo("seamscope: classifying the spans stored before this run ...", err=True)
            told = True
        time.sleep(0.1)


def _short_of_memory(log: Path) -> str | None:
    """The receiver's line saying its classifier ran out of its memory limit, if it said so."""
    from seamscope.tracer.receiver.writer import SHORT_OF_MEMORY

    try:
        text = log.read_text(errors="replace")
    except OSError:
        return None
    return next((line for line in text.splitlines() if SHORT_OF_MEMORY in line), None)


class WatchedSource:
    """OwnerSource over a store a receiver owns that another process started and stops (the
    demo's): the header says where it receives, and the screens say when it went."""

    log_path: Path | None = None

    def __init__(self, db: Path, landscape: Path | None, pid: int, url: str) -> None:
        self._owner = OwnerSource(db, landscape)
        self.pid = pid
        self.url = url
        self.landscape = self._owner.landscape
        self.description = f"{db} · receiving OTLP at {url}/v1/traces (pid {pid})"

    def run(self, work: Any) -> Any:
        return self._owner.run(work)

    def alive(self) -> bool:
        try:
            os.kill(self.pid, 0)
        except ProcessLookupError:
            return False
        except PermissionError:
            return True
        return True

    def refresh(self) -> None:
        if not self.alive():
            where = "" if self.log_path is None else f"; its log: {self.log_path}"
            raise SourceGone(f"the receiver (pid {self.pid}) stopped{where}")

    def may_have_changed(self) -> bool:
        return True

    def holder(self) -> Holder | None:
        return Holder(self.pid, self.url)

    def user_sql(self, sql: str, *, stop: Any = None) -> Any:
        return self._owner.user_sql(sql, stop=stop)

    def waiting(self) -> str | None:
        return None

    def close(self) -> None:
        """Nothing: the process that started the receiver stops it."""


class CollectorSource(WatchedSource):
    """The store the child `seamscope collect` owns; close() stops the child (it flushes what it
    queued and withdraws its owner file)."""

    def __init__(
        self, db: Path, landscape: Path | None, child: Any, url: str, *, scratch: Path | None = None
    ) -> None:
        super().__init__(db, landscape, child.pid, url)
        self.child = child
        self.log_path = Path(child.log_path)
        self.scratch = scratch  # the folder of the child's log, ours to remove
        self.said: str | None = None

    def alive(self) -> bool:
        return bool(self.child.alive())

    def close(self) -> None:
        """Stop the child (once: the app closes its source, and so does the command). `said`
        then holds its last word (how many spans it stored), or where its log is kept when it
        did not stop cleanly; a log folder of our own goes after a clean stop."""
        if self.said is not None:
            return
        code = self.child.stop(timeout_s=30)
        log = Path(self.child.log_path)
        lines = log.read_text(errors="replace").strip().splitlines() if log.is_file() else []
        if code != 0:
            self.said = f"the receiver exited with status {code}; its log: {log}"
            return
        self.said = lines[-1] if lines else "the receiver stopped"
        if self.scratch is not None:
            shutil.rmtree(self.scratch, ignore_errors=True)


def _watched_source(db: Path, landscape: Path | None) -> WatchedSource:
    """--live: the store's running owner, watched; it was started, and is stopped, elsewhere."""
    from seamscope.tracer.access import open_reader

    owner = open_reader(db).owner
    if owner is None:
        raise TuiError(f"{db} has no running owner to watch live (start `seamscope collect`)")
    source = WatchedSource(db, landscape, owner.pid, owner.url)
    _await_catch_up(source)
    return source


def landscape_for(given: Path | None, files: tuple[Path, ...] = ()) -> Path | None:
    """The landscape the other commands would take: --landscape, else ./seamscope.toml, else the
    one folder of OTLP files given that carries a seamscope.toml (sample_traces/ does)."""
    if given is not None:
        return given
    here = Path.cwd() / DEFAULT_LANDSCAPE
    check_found_landscape(here)
    if here.is_file():
        return Path(DEFAULT_LANDSCAPE)
    beside = {p / DEFAULT_LANDSCAPE for p in files if (p / DEFAULT_LANDSCAPE).is_file()}
    for found in beside:
        check_found_landscape(found)
    return beside.pop() if len(beside) == 1 else None


@click.command()
@click.argument("files", nargs=-1, type=click.Path(path_type=Path))
@click.option(
    "--db",
    type=click.Path(path_type=Path),
    help="The store (default: $SEAMSCOPE_DB or ./seamscope.duckdb). While `seamscope collect` "
    "owns it, the TUI reads through it and shows what it receives as it comes.",
)
@click.option(
    "--landscape",
    type=click.Path(path_type=Path, exists=True, dir_okay=False),
    help="Landscape file (TOML; default ./seamscope.toml, or the seamscope.toml inside the "
    "folder of OTLP files given).",
)
@click.option(
    "--collect", is_flag=True, help="Own the store and receive OTLP/HTTP while the TUI runs."
)
@click.option(
    "--host", default="127.0.0.1", show_default=True, help="Address --collect listens on."
)
@click.option(
    "--port",
    default=4318,
    show_default=True,
    type=click.IntRange(0, 65535),
    help="Port --collect listens on (0: any free port).",
)
@click.option(
    "--memory-limit",
    type=DuckDBSize(MEMORY_FLOOR, percent=True),
    default=LIVE_MEMORY_LIMIT,
    show_default=True,
    help="DuckDB's memory_limit for the store's owner that --collect starts.",
)
@click.option(
    "--live",
    is_flag=True,
    hidden=True,
    # Hidden: a user watching a running `seamscope collect` gives --db alone (the store is read
    # through its owner, followed live and named in the header). This adds what only the demo
    # wants: q asks first, as quitting ends the demo's run, and the receiver's end is final.
    help="Watch the store's running owner live, which the caller started and stops (the demo "
    "does): q asks first, as quitting ends the caller's run.",
)
@click.option(
    "--refresh",
    default=1.0,
    show_default=True,
    type=FiniteRange(min=0),
    help="Seconds between live checks (0: off).",
)
def tui(
    files: tuple[Path, ...],
    db: Path | None,
    landscape: Path | None,
    collect: bool,
    host: str,
    port: int,
    memory_limit: str,
    live: bool,
    refresh: float,
) -> None:
    """Browse the landscape in the terminal: systems, edges, findings, traces, SQL."""
    from seamscope.tui.app import SeamscopeApp
    from seamscope.tui.data import DataSource, LocalStore, open_source

    tmp: tempfile.TemporaryDirectory[str] | None = None
    problems: list[str] = []
    failed = False  # something in the files could not be stored (a repair is no failure)
    news = ""
    if live and (collect or files):
        raise TuiError("--live watches a running owner: not with --collect or files")
    if files:
        if db is not None or collect:
            raise TuiError("give OTLP files, or --db/--collect, not both")
        for path in files:
            if not path.exists():
                raise TuiError(f"{path}: no such file or folder")
    landscape = landscape_for(landscape, files)
    if files:
        tmp = tempfile.TemporaryDirectory(prefix="seamscope-tui-")
        db = Path(tmp.name) / "seamscope.duckdb"
        report = _ingest_files(list(files), db)
        problems, news = _file_problems(report)
        failed = not report.ok
    path = db or default_db_path()
    refuse_special(path)  # here, not on the TUI's error screen

    collector: CollectorSource | None = None
    if collect or live:
        source: WatchedSource
        if collect:
            collector = source = _collector_source(
                path, host, port, landscape, memory_limit=memory_limit
            )
        else:
            source = _watched_source(path, landscape)

        def factory() -> DataSource:
            return source
    else:

        def factory() -> DataSource:
            if files:
                return LocalStore(path, landscape)
            return open_source(path, landscape)

    app = SeamscopeApp(factory, refresh_interval=refresh, live=collect or live)
    if problems:  # on the news line from the start (the screens show it as they mount)
        app.news = Text(news, style="yellow")
    # `seamscope demo` and service managers stop the TUI with SIGTERM: leave as with q, so the
    # receiver flushes and withdraws its owner file.
    previous = signal.signal(signal.SIGTERM, lambda *_: app.exit_from_signal())

    def hang_up(signum: int, frame: FrameType | None) -> None:
        # A closed terminal window. Textual's exit would block writing to the terminal that is
        # gone, so leave at once: the receiver child gets SIGTERM as this process ends, and
        # flushes and withdraws its owner file; only the folders are ours to remove.
        if collector is not None and collector.scratch is not None:
            shutil.rmtree(collector.scratch, ignore_errors=True)
        if tmp is not None:
            tmp.cleanup()
        os._exit(128 + signum)

    previous_hup = signal.signal(signal.SIGHUP, hang_up)
    try:
        app.run()
    finally:
        signal.signal(signal.SIGTERM, previous)
        signal.signal(signal.SIGHUP, previous_hup)
        if collector is not None:
            collector.close()
            with contextlib.suppress(OSError):  # no terminal left to say it on (SIGHUP)
                click.echo(safe(collector.said or "the receiver stopped"), err=True)
        if tmp is not None:
            tmp.cleanup()
        for line in problems:  # after the TUI's screen, where they stay
            with contextlib.suppress(OSError):
                click.echo(line, err=True)
        # Python's last garbage collection over what Textual, DuckDB and the data loaded took
        # about half a second at exit, which a demo quit waited for: left out (gc.freeze), as
        # nothing it would find needs collecting; the store and files are closed above.
        gc.freeze()
    if failed:  # as `seamscope ingest` ends for the same files
        sys.exit(1)
