"""The `seamscope` command line.

Subcommands live in seamscope.cli.<name> and are imported only when run, so
`seamscope collect` never loads Textual and `seamscope --help` stays fast.
"""

from __future__ import annotations

import importlib
import sys
from typing import Any

import click

from seamscope.tracer.errors import SeamscopeError

# name -> (module, attribute, one-line help shown by --help without importing the module)
COMMANDS: dict[str, tuple[str, str, str]] = {
    "collect": (
        "seamscope.cli.collect",
        "collect",
        "Receive OTLP/HTTP and own the store.",
    ),
    "ingest": (
        "seamscope.cli.ingest",
        "ingest",
        "Load OTLP files, or a Collector's S3 objects, into the store.",
    ),
    "discover": (
        "seamscope.cli.discover",
        "discover",
        "Store your AWS account's event routes (rules, subscriptions, mappings).",
    ),
    "sql": ("seamscope.cli.sql", "sql", "Run read-only SQL over the store."),
    "edges": ("seamscope.cli.edges", "edges", "List integration edges with their labels."),
    "check": ("seamscope.cli.check", "check", "Fail when a new anti-pattern appears."),
    "patterns": ("seamscope.cli.patterns", "patterns", "Print the pattern catalog."),
    "export": ("seamscope.cli.export", "export", "Export the landscape as a diagram."),
    "drift": ("seamscope.cli.drift", "drift", "Compare the landscape file with reality."),
    "tui": ("seamscope.cli.tui", "tui", "Browse the landscape in the terminal."),
    "demo": ("seamscope.cli.demo", "demo", "Run the demo fleet and watch it live."),
}


class LazyGroup(click.Group):
    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted(COMMANDS)

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        spec = COMMANDS.get(cmd_name)
        if spec is None:
            return None
        module_name, attr, _ = spec
        try:
            module = importlib.import_module(module_name)
        except ModuleNotFoundError as exc:
            if exc.name and exc.name.split(".")[0] in (
                "textual",
                "moto",
                "flask",
                "httpx",
                "boto3",
            ):
                raise click.ClickException(
                    f"'{cmd_name}' needs {exc.name}: pip install 'seamscope[all]'"
                ) from None
            raise
        command = getattr(module, attr)
        assert isinstance(command, click.Command)
        return command

    def format_commands(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        rows = [(name, COMMANDS[name][2]) for name in self.list_commands(ctx)]
        with formatter.section("Commands"):
            formatter.write_dl(rows)


@click.group(cls=LazyGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="seamscope")
def cli() -> None:
    """seamscope: how your systems really integrate, from their OpenTelemetry spans."""


def main(argv: list[str] | None = None) -> Any:
    """Entry point: user errors print one line and exit 2, never a traceback."""
    try:
        return cli.main(args=argv, prog_name="seamscope", standalone_mode=False)
    except click.exceptions.Abort:
        click.echo("Aborted.", err=True)
        sys.exit(130)
    except click.ClickException as exc:
        exc.show()
        sys.exit(exc.exit_code)
    except SeamscopeError as exc:
        click.echo(f"seamscope: {exc}", err=True)
        sys.exit(2)
    except KeyboardInterrupt:
        sys.exit(130)
