"""`seamscope ingest`: load OTLP files (in every form the Collector's file exporter writes), or
the objects the Collector's awss3 exporter wrote."""

from __future__ import annotations

import sys
import time
from pathlib import Path

import click

from seamscope.tracer.aws import require_boto3
from seamscope.tracer.errors import SeamscopeError, is_interrupt
from seamscope.tracer.ingest import IngestReport, expand_paths, input_bytes
from seamscope.tracer.ingest import ingest as run_ingest
from seamscope.tracer.otlp import one_line
from seamscope.tracer.s3_ingest import Location, S3Report, ingest_s3, is_s3_url
from seamscope.tracer.store import default_db_path
from seamscope.tracer.terminal import plural

_PROGRESS_BYTES = 8 * 1024 * 1024
"""Inputs at least this large get a progress bar."""
_REDRAW_S = 0.1
"""The progress bar is drawn again at most this often (as rich's refresh thread would)."""


def _total_bytes(paths: tuple[str, ...]) -> int | None:
    return input_bytes(expand_paths(paths))


def summary(report: IngestReport) -> str:
    where = f" through the owner at {report.via_owner}" if report.via_owner else ""
    text = (
        f"seamscope: {plural(report.requests, 'request')} read{where}: "
        f"{plural(report.spans_stored, 'span')} stored, {report.spans_present:,} already present"
    )
    if report.spans_rejected:
        text += f", {report.spans_rejected:,} rejected"
    if report.spans_repaired:
        text += f", {report.spans_repaired:,} with invalid UTF-8 replaced"
    if report.bad_requests:
        text += f", {plural(report.bad_requests, 'bad request')} skipped"
    if report.others:
        examples = ", ".join(one_line(Path(p).name) for p in report.others[:3])
        more = ", ..." if len(report.others) > 3 else ""
        other = plural(len(report.others), "other file")
        text += f"; {other} in the folders not read ({examples}{more})"
    return text


@click.command()
@click.argument("paths", nargs=-1, required=True)
@click.option(
    "--db",
    "db",
    type=click.Path(path_type=Path),
    default=None,
    help="The store (default: $SEAMSCOPE_DB or ./seamscope.duckdb).",
)
@click.option("--no-progress", is_flag=True, help="Never show a progress bar.")
@click.option(
    "--jobs",
    "-j",
    type=click.IntRange(0, 64),
    default=None,
    help="Decoder processes (0: decode in this process). Default: one per core for inputs of "
    "16 MB or more, else this process.",
)
def ingest(paths: tuple[str, ...], db: Path | None, no_progress: bool, jobs: int | None) -> None:
    """Load OTLP into the store: files, folders (*.json, *.jsonl, *.ndjson, *.binpb, *.pb,
    *.zst, in any case, and these gzipped), - for stdin, or what an OpenTelemetry Collector's
    awss3 exporter wrote (s3://bucket/prefix/).

    Files: what the Collector's file exporter writes, in any of its forms (OTLP JSON one export
    request per line, or with format proto or compression zstd its requests framed by their
    length), or pretty-printed requests one after the other; gzipped or not. The form is read
    from the file's first bytes.
    s3:// URLs: the exporter's trace objects (otlp_json or otlp_proto, gzip or not), read with
    the standard AWS credential chain; objects loaded before are not read again.
    s3://bucket/traces is the folder traces/ (as aws s3 sync reads it), or the one object of
    that key if there is one, read whatever its name, in the form its bytes have. Each request is
    stored once, however often and in whatever form it is loaded (known by its bytes and by its
    spans' ids: the same request pretty-printed by jq, or as protobuf, adds nothing); spans
    regrouped into other requests are stored again. While a `seamscope collect` or a live TUI
    owns the store, the requests go to it.
    """
    db_path = db or default_db_path()
    urls = [p for p in paths if is_s3_url(p)]
    if urls:
        if len(urls) != len(paths):
            raise SeamscopeError("give s3:// URLs and files to separate runs of seamscope ingest")
        require_boto3("ingest s3://...")
        failed = False
        for url in urls:
            found = S3Report(Location.parse(url))  # filled as it goes: on Ctrl-C, what was done
            try:
                ingest_s3(db_path, url, workers=jobs, report=found)
            except (KeyboardInterrupt, RuntimeError) as exc:
                if not is_interrupt(exc):
                    raise
                _errors(found.ingest)
                click.echo(
                    f"seamscope: interrupted; {_s3_summary(found).removeprefix('seamscope: ')}"
                    f"; {plural(found.recorded, 'object')} recorded as loaded. What was stored "
                    "stays; the same command again reads the objects not recorded, and stores "
                    "nothing twice",
                    err=True,
                )
                sys.exit(130)
            _errors(found.ingest)
            click.echo(_s3_summary(found))
            failed = failed or not found.ok
        if failed:
            sys.exit(1)
        return
    report = IngestReport()  # filled as it goes: on Ctrl-C, what was done
    try:
        _load_files(db_path, paths, report, no_progress, jobs)
    except (KeyboardInterrupt, RuntimeError) as exc:  # click said only "Aborted."
        if not is_interrupt(exc):
            raise
        _errors(report)
        click.echo(
            f"seamscope: interrupted; {summary(report).removeprefix('seamscope: ')}. What was "
            "stored stays; the same command again loads the rest, and nothing twice",
            err=True,
        )
        sys.exit(130)
    _errors(report)
    click.echo(summary(report))
    if not report.ok:
        sys.exit(1)


def _load_files(
    db_path: Path, paths: tuple[str, ...], report: IngestReport, no_progress: bool, jobs: int | None
) -> None:
    """The files into the store, report filled as it goes, with a progress bar for large ones
    where stderr is a terminal."""
    total = None if no_progress or not sys.stderr.isatty() else _total_bytes(paths)
    if total is not None and total >= _PROGRESS_BYTES:
        from rich.console import Console
        from rich.progress import (
            BarColumn,
            DownloadColumn,
            Progress,
            TimeRemainingColumn,
            TransferSpeedColumn,
        )

        columns = (BarColumn(), DownloadColumn(), TransferSpeedColumn(), TimeRemainingColumn())
        # Drawn as the bytes are read, not by rich's refresh thread: a process with a thread
        # of its own spawns its decoder processes (a new interpreter and its imports each)
        # where one with none forks them in milliseconds (tracer.ingest.start_method).
        # On stderr, the stream that was found to be a terminal (stdout gets the summary).
        console = Console(stderr=True)
        with Progress(*columns, console=console, transient=True, auto_refresh=False) as bar:
            task = bar.add_task("ingest", total=total)
            bar.refresh()
            drawn = time.monotonic()

            def advance(done: int) -> None:
                nonlocal drawn
                bar.advance(task, done)
                if time.monotonic() - drawn >= _REDRAW_S:
                    bar.refresh()
                    drawn = time.monotonic()

            run_ingest(db_path, paths, progress=advance, workers=jobs, report=report)
    else:
        run_ingest(db_path, paths, workers=jobs, report=report)


def error_lines(report: IngestReport) -> list[str]:
    """The report's problems, one line each, as stderr gets them."""
    lines = [f"seamscope: {one_line(message)}" for message in report.errors]
    problems = report.bad_requests + (1 if report.spans_rejected else 0)
    problems += 1 if report.spans_repaired else 0
    if problems > len(lines) and lines:
        lines.append("seamscope: ... more problems not shown")
    return lines


def _errors(report: IngestReport) -> None:
    for line in error_lines(report):
        click.echo(line, err=True)


def _s3_summary(found: S3Report) -> str:
    """One line: the objects, then what their requests brought (as for files)."""
    if not found.traces and not found.others:
        return (
            f"seamscope: {one_line(found.location.url())}: no objects under this prefix (the "
            "exporter writes under its s3_prefix, then year=.../; is the prefix the one it was "
            "given?)"
        )
    text = (
        f"seamscope: {one_line(found.location.url())}: {plural(found.traces, 'trace object')}, "
        f"{found.known:,} loaded before"
    )
    if found.others:
        examples = ", ".join(one_line(k.rsplit("/", 1)[-1]) for k in found.others[:3])
        more = ", ..." if len(found.others) > 3 else ""
        text += f", {plural(len(found.others), 'other object')} left ({examples}{more})"
    if found.traces == found.known:
        return text + ": nothing new"
    return text + "; " + summary(found.ingest).removeprefix("seamscope: ")
