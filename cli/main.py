"""The `seamscope` command line.

Each subcommand lives in seamscope.cli.<name> and is imported only when run (a plain import
inside a small loader, which import-linter and mypy see), so `seamscope collect` never loads
Textual and `seamscope --help` stays fast.
"""

from __future__ import annotations

import io
import sys
from collections.abc import Callable
from typing import IO, Any, cast

import click

from seamscope.tracer.errors import SeamscopeError, install_hint
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


def _missing_extra(command: str, exc: ModuleNotFoundError) -> click.ClickException | None:
    """The one-line message for a command whose extra is not installed (None: another error).
    seamscope is installed from a clone (README): install_hint says so."""
    top = exc.name.split(".")[0] if exc.name else ""
    if top not in _EXTRA_OF:
        return None
    extra = "demo" if command == "demo" else _EXTRA_OF[top]  # the demo's extra has it all
    return click.ClickException(
        f"'{command}' needs {exc.name}, which the {extra} extra installs: {install_hint(extra)}"
    )


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

    def invoke(self, ctx: click.Context) -> Any:
        # Commands import their heavy parts (Textual, the demo's fleet) when they run.
        try:
            return super().invoke(ctx)
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
    try:
        return cli.main(args=argv, prog_name="seamscope", standalone_mode=False)
    except click.exceptions.Abort:
        click.echo("Aborted.", err=True)
        sys.exit(130)
    except click.ClickException as exc:
        # It may echo what was typed (an option, a path).
        exc.show(file=cast(IO[Any], _EscapingStderr()))
        sys.exit(exc.exit_code)
    except SeamscopeError as exc:
        click.echo(f"seamscope: {safe(str(exc))}", err=True)
        sys.exit(2)
    except KeyboardInterrupt:
        sys.exit(130)
