"""`seamscope tui`: browse a store, receive OTLP live (--collect), or open OTLP JSON files."""

from __future__ import annotations

import importlib
import tempfile
from pathlib import Path
from typing import Any

import click

from seamscope.tracer.errors import SeamscopeError
from seamscope.tracer.store import default_db_path


class TuiError(SeamscopeError):
    pass


def _ingest_files(paths: list[Path], db: Path) -> None:
    """OTLP JSON files go into a fresh temporary store first (seamscope ingest's code)."""
    try:
        ingest = importlib.import_module("seamscope.tracer.ingest")
    except ImportError:
        raise TuiError("opening OTLP files needs seamscope.tracer.ingest, not installed") from None
    fn = getattr(ingest, "ingest_paths", None) or getattr(ingest, "ingest", None)
    if fn is None:
        raise TuiError("seamscope.tracer.ingest has no ingest_paths()")
    fn(paths, db)


def _receiver_source(db: Path, host: str, port: int, landscape: Path | None) -> Any:
    from seamscope.tui.data import ReceiverSource

    try:
        module = importlib.import_module("seamscope.tracer.receiver")
    except ImportError:
        raise TuiError("--collect needs seamscope.tracer.receiver, not installed") from None
    classify: Any = None
    loaded: Any = None
    try:
        engine = importlib.import_module("seamscope.classifiers.engine")
        classify = engine.classify
        if landscape is not None:
            loaded = importlib.import_module("seamscope.classifiers.landscape").load_landscape(
                landscape
            )
    except ImportError:
        classify = None

    def after_commit(con: Any) -> None:
        if classify is not None:
            classify(con, loaded)

    receiver = module.Receiver(db, host, port, after_commit=after_commit)
    receiver.start()
    url = getattr(receiver, "url", None) or f"http://{host}:{getattr(receiver, 'port', port)}"
    return ReceiverSource(receiver, f"{db} · receiving OTLP at {url}/v1/traces")


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
    help="Landscape file (TOML).",
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

    app = SeamscopeApp(factory, refresh_interval=refresh)
    try:
        app.run()
    finally:
        if tmp is not None:
            tmp.cleanup()
