"""The `seamscope` command line.

Each subcommand lives in seamscope.cli.<name> and is imported only when run (a plain import
inside a small loader, which import-linter and mypy see), so `seamscope collect` never loads
Textual and `seamscope --help` stays fast.
"""

from __future__ import annotations

import contextlib
import io
import os
import select
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import IO, Any, NoReturn, cast

import click

from seamscope.tracer.errors import SeamscopeError, install_hint, is_interrupt
from seamscope.tracer.private import private_umask
from seamscope.tracer.terminal import safe


def _collect() -> click.Command:
    from seamscope.cli.collect import collect

    return collect


def _ingest() -> click.Command:
    from seamscope.cli.ingest import ingest

    return ingest


def _discover() -> click.Command:
    from seamscope.cli.discover import discover

    return discover


def _sql() -> click.Command:
    from seamscope.cli.sql import sql

    return sql


def _edges() -> click.Command:
    from seamscope.cli.edges import edges

    return edges


def _check() -> click.Command:
    from seamscope.cli.check import check

    return check


def _patterns() -> click.Command:
    from seamscope.cli.patterns import patterns

    return patterns


def _export() -> click.Command:
    from seamscope.cli.export import export

    return export


def _drift() -> click.Command:
    from seamscope.cli.drift import drift

    return drift


def _tui() -> click.Command:
    from seamscope.cli.tui import tui

    return tui


def _demo() -> click.Command:
    # A stop from here on is recorded, and stops the demo once it can: its imports take a few
    # hundred milliseconds, in which the signals' default actions ended it without its stop.
    from seamscope.demo.stops import record_stop_signals, restore_signals

    replaced = record_stop_signals()
    context = click.get_current_context(silent=True)
    if context is not None:  # put back once the command is done (the demo does it itself)
        context.call_on_close(lambda: restore_signals(replaced))
    from seamscope.cli.demo import demo

    return demo


# name -> (loader, one-line help shown by --help without importing the command)
COMMANDS: dict[str, tuple[Callable[[], click.Command], str]] = {
    "collect": (_collect, "Receive OTLP/HTTP and own the store."),
    "ingest": (_ingest, "Load OTLP files, or a Collector's S3 objects, into the store."),
    "discover": (
        _discover,
        "Store your AWS account's event routes (rules, subscriptions, mappings).",
    ),
    "sql": (_sql, "Run read-only SQL over the store."),
    "edges": (_edges, "List integration edges with their labels."),
    "check": (_check, "Fail when a new anti-pattern appears."),
    "patterns": (_patterns, "Print the pattern catalog."),
    "export": (_export, "Export the landscape as a diagram."),
    "drift": (_drift, "Compare the landscape file with reality."),
    "tui": (_tui, "Browse the landscape in the terminal."),
    "demo": (_demo, "Run the demo fleet and watch it live."),
}
# What the extras bring (pyproject.toml): a command that misses one says which to install.
_EXTRA_OF = {"textual": "tui", "moto": "demo", "flask": "demo", "httpx": "demo", "boto3": "aws"}


def _missing_extra(command: str, exc: ModuleNotFoundError) -> SeamscopeError | None:
    """The one-line message for a command whose extra is not installed (None: another error),
    printed and exited with as every other user error (`seamscope: ...`, status 2), as the
    demo and the AWS commands say theirs. seamscope is installed from a clone (README):
    install_hint says so."""
    top = exc.name.split(".")[0] if exc.name else ""
    if top not in _EXTRA_OF:
        return None
    extra = "demo" if command == "demo" else _EXTRA_OF[top]  # the demo's extra has it all
    return SeamscopeError(
        f"{command} needs {exc.name}, which the {extra} extra installs: {install_hint(extra)}"
    )


READER_GONE_STATUS = 128 + 13
"""The exit status once stdout's reader went away (`seamscope sql ... | head -1`): a shell's
for a process SIGPIPE (13) ended, as `cat` or `git log` end there. Not 0: the output was cut, and
`set -o pipefail` can tell, and a cut `check` must not read as passed; not 1, which `check` and
`drift` give for what they found. A status rather than the signal itself, so clean-up runs."""


_LOCKED_ADVICE = (
    ", which has it open for writing: DuckDB lets no other process open it then, not even to "
    "read; run this again once it has closed it"
)
"""After "the store is locked by process N (program)": what that means, and what to do."""


class ReaderGone(Exception):
    """The reader of stdout went away before everything was written."""


def _stdout_reader_gone() -> bool:
    """Whether stdout is a pipe or socket whose reader has gone (poll says POLLERR or POLLHUP),
    so that a BrokenPipeError of another pipe or socket (a connection to the store's owner)
    is not taken for it."""
    try:
        fd = sys.stdout.fileno()
    except (AttributeError, ValueError, OSError):  # no stdout, or not a file
        return False
    if not hasattr(select, "poll"):  # Windows: the error is stdout's in all likelihood
        return True
    poller = select.poll()
    poller.register(fd, select.POLLOUT)
    return any(event & (select.POLLERR | select.POLLHUP) for _, event in poller.poll(0))


@contextmanager
def _watching_stdout() -> Iterator[None]:
    """A BrokenPipeError of stdout becomes ReaderGone, before click's own handling of it (exit 1,
    as Rich's is) can see it."""
    try:
        yield
    except BrokenPipeError:
        if not _stdout_reader_gone():
            raise
        raise ReaderGone from None


class _WholeWrites(io.BufferedWriter):
    """A buffered writer that hands every write on at once, as an unbuffered stream does."""

    def write(self, data: Any) -> int:
        written = super().write(data)
        self.flush()
        return written


def _whole_stdout_writes() -> None:
    """Under PYTHONUNBUFFERED (or -u) stdout is a text layer straight over the file, which drops
    what a short write left unwritten (python/cpython#85393): a reader going away mid-write
    (`| head`) then cut the output and the command went on to exit 0, and a write a signal
    interrupted lost its rest. A buffered writer that flushes every write writes all, or
    raises BrokenPipeError, and stays as prompt as the stream it replaces."""
    out = sys.stdout
    if not isinstance(out, io.TextIOWrapper) or not isinstance(out.buffer, io.FileIO):
        return
    raw = io.FileIO(out.buffer.fileno(), "wb", closefd=False)  # the old stream keeps its own
    sys.stdout = io.TextIOWrapper(
        _WholeWrites(raw),
        encoding=out.encoding,
        errors=out.errors,
        line_buffering=out.line_buffering,
        write_through=True,
    )


def _flush_stdout() -> None:
    """What a command left buffered goes now, where its reader having gone can be handled, not
    at exit (Python's "Exception ignored ... BrokenPipeError")."""
    if sys.stdout is not None and not sys.stdout.closed:
        sys.stdout.flush()


def _leave_quietly() -> NoReturn:
    """stdout (and stderr when it is the same pipe) goes to /dev/null: what is still buffered has
    nowhere to go, and Python's flush at exit then neither fails nor says so."""
    out = sys.stdout.fileno()
    gone = [out]
    with contextlib.suppress(OSError):
        if os.path.sameopenfile(2, out):
            gone.append(2)
    devnull = os.open(os.devnull, os.O_WRONLY)
    for fd in gone:
        os.dup2(devnull, fd)
    os.close(devnull)
    sys.exit(READER_GONE_STATUS)


class LazyGroup(click.Group):
    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted(COMMANDS)

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        spec = COMMANDS.get(cmd_name)
        if spec is None:
            return None
        load, _ = spec
        try:
            return load()
        except ModuleNotFoundError as exc:
            raise _missing_extra(cmd_name, exc) or exc from None

    def make_context(
        self,
        info_name: str | None,
        args: list[str],
        parent: click.Context | None = None,
        **extra: Any,
    ) -> click.Context:
        with _watching_stdout():  # --help and --version print here
            return super().make_context(info_name, args, parent, **extra)

    def invoke(self, ctx: click.Context) -> Any:
        # Commands import their heavy parts (Textual, the demo's fleet) when they run.
        try:
            with _watching_stdout():
                try:
                    return super().invoke(ctx)
                finally:
                    _flush_stdout()
        except ModuleNotFoundError as exc:
            raise _missing_extra(ctx.invoked_subcommand or "seamscope", exc) or exc from None

    def format_commands(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        rows = [(name, COMMANDS[name][1]) for name in self.list_commands(ctx)]
        with formatter.section("Commands"):
            formatter.write_dl(rows)


@click.group(cls=LazyGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="seamscope")
def cli() -> None:
    """seamscope: how your systems really integrate, from their OpenTelemetry spans."""


class _EscapingStderr(io.TextIOBase):
    """stderr with control characters escaped (lines kept), for messages that echo input."""

    def write(self, text: str) -> int:
        sys.stderr.write(safe(text, lines=True))
        return len(text)

    def flush(self) -> None:
        sys.stderr.flush()


def main(argv: list[str] | None = None) -> Any:
    """Entry point: user errors print one line and exit 2, never a traceback."""
    private_umask()
    _whole_stdout_writes()
    try:
        return cli.main(args=argv, prog_name="seamscope", standalone_mode=False)
    except ReaderGone:
        _leave_quietly()
    except click.exceptions.Abort:
        click.echo("Aborted.", err=True)
        sys.exit(130)
    except click.ClickException as exc:
        # It may echo what was typed (an option, a path).
        exc.show(file=cast(IO[Any], _EscapingStderr()))
        sys.exit(exc.exit_code)
    except SeamscopeError as exc:
        from seamscope.tracer.store import StoreLocked  # loaded already, if it is one

        advice = _LOCKED_ADVICE if isinstance(exc, StoreLocked) and exc.pid else ""
        click.echo(f"seamscope: {safe(str(exc))}{advice}", err=True)
        sys.exit(2)
    except (KeyboardInterrupt, RuntimeError) as exc:
        if not is_interrupt(exc):
            raise
        sys.exit(130)
