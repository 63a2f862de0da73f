"""What the README and docs/ show works as written, over a real store.

Users copy these examples: every query the docs show (a ```sql block, or the query of a
`seamscope sql` or `duckdb` line in a ```sh block) runs against sample_traces/ loaded by a real
`seamscope ingest` and labelled by a real `seamscope edges`, through `seamscope sql` as a process
and through the duckdb package directly, and returns rows (the samples fire every rule, so an
example that finds nothing there names a column or value wrongly). Every `seamscope ...` line of
a ```sh block is a command line the installed `seamscope` accepts (its subcommand and options, by
a real `--help` run, and every value, by click's own parsing); every inline `seamscope ...`
mention names a command and options that exist; every landscape file shown (```toml) is one that
`seamscope edges --landscape` takes. A failure names the file, the line and the example.
"""

from __future__ import annotations

import json
import re
import shlex
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

import click
import duckdb
import pytest

from tests.e2e.test_collect import SEAMSCOPE
from tests.e2e.test_demo import ROOT

pytestmark = pytest.mark.e2e

SAMPLES = ROOT / "sample_traces"
DOCS = (ROOT / "README.md", SAMPLES / "README.md", *sorted((ROOT / "docs").glob("*.md")))
# What ends a command on a shell line: a pipe, a redirection, a background or a second command.
SHELL_OPERATORS = {"|", "||", "&", "&&", ";", ">", ">>", "<", "2>", "2>&1"}


@dataclass(frozen=True)
class Example:
    doc: Path
    line: int
    text: str

    @property
    def where(self) -> str:
        return f"{self.doc.relative_to(ROOT)}:{self.line}"

    def __str__(self) -> str:
        return f"{self.where}:\n{self.text}"


def fenced(language: str) -> list[Example]:
    """The ```language blocks of every doc, with the line each starts on."""
    found = []
    for doc in DOCS:
        text = doc.read_text()
        for match in re.finditer(rf"^```{language}\n(.*?)^```", text, re.M | re.S):
            line = text.count("\n", 0, match.start(1)) + 1
            found.append(Example(doc, line, match.group(1)))
    return found


def shell_lines(block: Example) -> list[Example]:
    """The commands of a shell block: continued lines joined, one Example per command."""
    commands: list[Example] = []
    parts: list[str] = []
    start = 0
    for offset, line in enumerate(block.text.splitlines()):
        if not parts:
            start = offset
        parts.append(line.removesuffix("\\"))
        if not line.endswith("\\"):
            commands.append(Example(block.doc, block.line + start, " ".join(parts).strip()))
            parts = []
    return [c for c in commands if c.text and not c.text.startswith("#")]


def words(command: str) -> list[str]:
    """A command line as the shell splits it, without its comment and what follows an operator,
    and without the environment assignments before the program."""
    lexer = shlex.shlex(command, posix=True, punctuation_chars=True)
    lexer.whitespace_split = True
    lexer.commenters = "#"
    split = []
    for word in lexer:
        if word in SHELL_OPERATORS:
            break
        split.append(word)
    while split and re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*=.*", split[0]):
        split.pop(0)
    return split


def program_lines(program: str) -> list[Example]:
    return [
        line
        for block in fenced("sh")
        for line in shell_lines(block)
        if words(line.text)[:1] == [program]
    ]


SEAMSCOPE_LINES = program_lines("seamscope")
SQL_BLOCKS = fenced("sql")
SQL_COMMANDS = [line for line in SEAMSCOPE_LINES if words(line.text)[1:2] == ["sql"]]
DUCKDB_LINES = program_lines("duckdb")
LANDSCAPES = fenced("toml")


def test_the_docs_show_what_these_tests_read() -> None:
    """The lists below are not empty because a pattern stopped matching."""
    assert len(SQL_BLOCKS) >= 6 and len(SQL_COMMANDS) >= 5 and len(DUCKDB_LINES) >= 2
    assert len(SEAMSCOPE_LINES) >= 15 and len(LANDSCAPES) >= 2


def run(*args: str | Path, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*SEAMSCOPE, *map(str, args)], capture_output=True, text=True, timeout=300, cwd=cwd
    )


@pytest.fixture(scope="module")
def store(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """sample_traces/ ingested and labelled as the sample README says, by real processes."""
    db = tmp_path_factory.mktemp("docs") / "seamscope.duckdb"
    ingested = run("ingest", SAMPLES, "--db", db)
    assert ingested.returncode == 0, ingested.stderr
    labelled = run("edges", "--db", db, "--landscape", SAMPLES / "seamscope.toml")
    assert labelled.returncode == 0, labelled.stderr
    return db


def query_rows(db: Path, sql: str) -> int:
    con = duckdb.connect(str(db), read_only=True)
    try:
        return len(con.sql(sql).fetchall())
    finally:
        con.close()


def rows_printed(done: subprocess.CompletedProcess[str]) -> int:
    """Rows in `seamscope sql`'s output, whichever format the example chose."""
    if done.stdout.lstrip().startswith("{"):
        return len(json.loads(done.stdout)["rows"])
    found = re.search(r"^([\d,]+) rows$", done.stdout, re.M)
    if found:
        return int(found.group(1).replace(",", ""))
    return max(len(done.stdout.splitlines()) - 1, 0)  # CSV: the header, then the rows


@pytest.mark.parametrize("example", SQL_BLOCKS, ids=lambda e: e.where)
def test_every_sql_block_runs_on_a_labelled_store(example: Example, store: Path) -> None:
    done = run("sql", "--db", store, "--json", example.text)
    assert done.returncode == 0, f"`seamscope sql` refused {example}\n{done.stderr}"
    assert rows_printed(done) > 0, f"no rows over the sample traces: {example}"
    try:
        rows = query_rows(store, example.text)
    except duckdb.Error as exc:
        pytest.fail(f"duckdb refused {example}\n{exc}")
    assert rows > 0, f"no rows over the sample traces: {example}"


@pytest.mark.parametrize("example", SQL_COMMANDS, ids=lambda e: e.where)
def test_every_seamscope_sql_line_runs_as_shown(example: Example, store: Path) -> None:
    """The line itself (its options and query), on the labelled store: a redirection the line
    ends with is the shell's, and left out."""
    done = run(*words(example.text)[1:], "--db", store, cwd=store.parent)
    assert done.returncode == 0, f"{example}\n{done.stderr}"
    assert rows_printed(done) > 0, f"no rows over the sample traces: {example}"


@pytest.mark.parametrize("example", DUCKDB_LINES, ids=lambda e: e.where)
def test_every_duckdb_line_runs(example: Example, store: Path) -> None:
    """The query of a `duckdb FILE QUERY` line, through the duckdb package (the same engine as
    the CLI of its release; the CLI itself is not installed here)."""
    args = [w for w in words(example.text)[1:] if not w.startswith("-")]
    assert len(args) == 2 and args[0].endswith(".duckdb"), f"not `duckdb FILE QUERY`: {example}"
    try:
        rows = query_rows(store, args[1])
    except duckdb.Error as exc:
        pytest.fail(f"duckdb refused {example}\n{exc}")
    assert rows > 0, f"no rows over the sample traces: {example}"


class NoSuchCommand(Exception):
    pass


def resolve(args: list[str]) -> tuple[click.Command, list[str], str]:
    """The command a `seamscope` argument list runs, the arguments left for it, and its name
    (NoSuchCommand: the list names none)."""
    from seamscope.cli.main import cli

    command: click.Command = cli
    name = "seamscope"
    rest = list(args)
    while isinstance(command, click.Group):
        if not rest:
            raise NoSuchCommand(f"`{name}` needs a command")
        with click.Context(command, info_name=name) as ctx:
            sub = command.get_command(ctx, rest[0])
        if sub is None:
            raise NoSuchCommand(f"`{name}` has no command {rest[0]!r}")
        command, name, rest = sub, f"{name} {rest.pop(0)}", rest
    return command, rest, name


@pytest.mark.parametrize("example", SEAMSCOPE_LINES, ids=lambda e: e.where)
def test_every_seamscope_line_parses(example: Example, tmp_path: Path) -> None:
    args = words(example.text)[1:]
    # The installed script takes the subcommand and every option name (--help stops it there).
    done = run(*args, "--help", cwd=tmp_path)
    assert done.returncode == 0, f"{example}\n{done.stderr}"
    try:
        command, rest, name = resolve(args)
    except NoSuchCommand as exc:
        pytest.fail(f"{example}\n{exc}")
    assert f"Usage: {name} " in done.stdout, f"{example}\n{done.stdout}"
    # And click converts every value and counts the arguments, as a real run would first.
    try:
        command.make_context(name, rest)
    except click.ClickException as exc:
        pytest.fail(f"{example}\n{exc.format_message()}")


def inline_mentions() -> list[Example]:
    found = []
    for doc in DOCS:
        text = doc.read_text()
        for match in re.finditer(r"`(seamscope [^`\n]+)`", text):
            line = text.count("\n", 0, match.start()) + 1
            found.append(Example(doc, line, match.group(1)))
    return found


def test_every_inline_mention_names_a_command_and_options_that_exist() -> None:
    wrong = []
    for example in inline_mentions():
        args = words(example.text)[1:]  # as the shell splits it, up to a pipe
        try:
            command, rest, _ = resolve(args)
        except NoSuchCommand as exc:
            wrong.append(f"{example.where}: `{example.text}`: {exc}")
            continue
        options = {opt for param in command.params for opt in (*param.opts, *param.secondary_opts)}
        unknown = [w.split("=")[0] for w in rest if w.startswith("-")]
        unknown = [w for w in unknown if w not in options | {"--help", "-h"}]
        if unknown:
            wrong.append(f"{example.where}: `{example.text}`: no option {', '.join(unknown)}")
    assert wrong == []


@pytest.mark.parametrize("example", LANDSCAPES, ids=lambda e: e.where)
def test_every_landscape_file_shown_is_accepted(
    example: Example, store: Path, tmp_path: Path
) -> None:
    """Labelled with it, on a copy of the store (the module's store keeps its labels)."""
    db = tmp_path / "seamscope.duckdb"
    shutil.copy(store, db)
    landscape = tmp_path / "seamscope.toml"
    landscape.write_text(example.text)
    done = run("edges", "--db", db, "--landscape", landscape, "--format", "json", cwd=tmp_path)
    assert done.returncode == 0, f"{example}\n{done.stderr}"
    assert query_rows(db, "select * from edges") > 0
