"""Every command's --help explains each of its options and says each default."""

from __future__ import annotations

import subprocess
import sys

import click
import pytest

from seamscope.cli.main import COMMANDS, cli


def _commands() -> list[tuple[str, click.Command]]:
    found: list[tuple[str, click.Command]] = []
    for name, (load, _) in COMMANDS.items():
        command = load()
        found.append((name, command))
        if isinstance(command, click.Group):
            found += [(f"{name} {sub}", command.commands[sub]) for sub in command.commands]
    return found


COMMANDS_SHOWN = _commands()


@pytest.mark.parametrize(("name", "command"), COMMANDS_SHOWN, ids=[n for n, _ in COMMANDS_SHOWN])
def test_every_option_is_explained_with_its_default(name: str, command: click.Command) -> None:
    """`--format [table|json]` stood bare in edges, check, export and drift, and --level said
    neither what it did in export nor what it is when not given."""
    for param in command.params:
        if not isinstance(param, click.Option) or param.name == "help":
            continue
        where = f"seamscope {name} {param.opts[0]}"
        assert param.help, f"{where} has no help"
        if param.is_flag or param.multiple or param.default is None:
            continue
        said = param.show_default or "default" in param.help.lower()
        assert said, f"{where}: its default ({param.default!r}) is not said"


def test_the_command_lists_show_each_command_whole() -> None:
    """`seamscope discover --help` cut the aws command's line: "Store the account's
    EventBridge rules and targets, SNS..."."""
    for args in (["--help"], ["discover", "--help"]):
        done = subprocess.run(
            [sys.executable, "-m", "seamscope.cli", *args],
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert done.returncode == 0, done.stderr
        commands = done.stdout.split("Commands:")[1]
        assert "..." not in commands, commands


def test_the_group_names_every_command() -> None:
    assert sorted(COMMANDS) == sorted(cli.list_commands(click.Context(cli)))
