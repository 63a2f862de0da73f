"""`seamscope tui`: browse a store, receive OTLP live (--collect), or open OTLP JSON files."""

from __future__ import annotations

import signal
import tempfile
from pathlib import Path
from typing import Any

import click

from seamscope.classifiers.engine import classifier_hook
from seamscope.classifiers.landscape import DEFAULT_LANDSCAPE
from seamscope.tracer.errors import SeamscopeError
from seamscope.tracer.store import default_db_path


class TuiError(SeamscopeError):
    pass


def _ingest_files(paths: list[Path], db: Path) -> None:
    """OTLP JSON files go into a fresh temporary store first (seamscope ingest's code)."""
    from seamscope.tracer.ingest import ingest

    ingest(db, [str(p) for p in paths], use_owner=False)


def _receiver_source(db: Path, host: str, port: int, landscape: Path | None) -> Any:
    """Owns the store: receives OTLP, classifies after every commit, answers the TUI's queries."""
    from seamscope.tracer.receiver import Receiver
    from seamscope.tracer.store import short_lock
    from seamscope.tui.data import ReceiverSource

    classify = classifier_hook(landscape)
    # Spans stored before this run get their edges before the first paint.
    with short_lock(db) as store:
        classify(store.con)
    receiver = Receiver(db, host, port, after_commit=classify)
    receiver.start()
    return ReceiverSource(receiver, f"{db} · receiving OTLP at {receiver.url}/v1/traces")


def landscape_for(given: Path | None, files: tuple[Path, ...] = ()) -> Path | None:
    """The landscape the other commands would take: --landscape, else ./seamscope.toml, else the
    one folder of OTLP files given that carries a seamscope.toml (sample_traces/ does)."""
    if given is not None:
        return given
    here = Path.cwd() / DEFAULT_LANDSCAPE
    if here.is_file():
        return Path(DEFAULT_LANDSCAPE)
    beside = {p / DEFAULT_LANDSCAPE for p in files if (p / DEFAULT_LANDSCAPE).is_file()}
    return beside.pop() if len(beside) == 1 else None


@click.command()
@click.argument("files", nargs=-1, type=click.Path(path_type=Path))
@click.option(
    "--db",
    type=click.Path(path_type=Path),
    help="The store (default: SEAMSCOPE_DB or ./seamscope.duckdb).",
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
    "--port", default=4318, show_default=True, type=int, help="Port --collect listens on."
)
@click.option(
    "--refresh",
    default=1.0,
    show_default=True,
    type=float,
    help="Seconds between live checks (0: off).",
)
def tui(
    files: tuple[Path, ...],
    db: Path | None,
    landscape: Path | None,
    collect: bool,
    host: str,
    port: int,
    refresh: float,
) -> None:
    """Browse the landscape in the terminal: systems, edges, findings, traces, SQL."""
    from seamscope.tui.app import SeamscopeApp
    from seamscope.tui.data import DataSource, LocalStore, open_source

    tmp: tempfile.TemporaryDirectory[str] | None = None
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
        _ingest_files(list(files), db)
    path = db or default_db_path()

    if collect:
        source: DataSource = _receiver_source(path, host, port, landscape)

        def factory() -> DataSource:
            return source
    else:

        def factory() -> DataSource:
            if files:
                return LocalStore(path, landscape)
            return open_source(path, landscape)

    app = SeamscopeApp(factory, refresh_interval=refresh, live=collect)
    # `seamscope demo` and service managers stop the TUI with SIGTERM: leave as with q, so the
    # receiver flushes and withdraws its owner file.
    previous = signal.signal(signal.SIGTERM, lambda *_: app.exit())
    try:
        app.run()
    finally:
        signal.signal(signal.SIGTERM, previous)
        if collect:
            source.close()
        if tmp is not None:
            tmp.cleanup()
