"""`seamscope sql`: read-only SQL over the store, also while an owner process holds it."""

from __future__ import annotations

import re
import sys
from pathlib import Path
from typing import TYPE_CHECKING

import click
import pyarrow as pa

from seamscope.cli.options import FiniteRange
from seamscope.tracer.access import open_reader, table_to_json, truncated
from seamscope.tracer.store import default_db_path
from seamscope.tracer.terminal import plural, safe
from seamscope.tracer.usersql import (
    SQL_TIMEOUT_S,
    SqlRejected,
    cell_text,
    python_rows,
    write_csv,
)

if TYPE_CHECKING:
    from seamscope.cli.table import Column


# What the classifier writes when it labels a store (docs/schema.md, Classifier tables): a
# store that was only loaded (`seamscope ingest`) has none of them yet.
LABEL_TABLES = frozenset(
    {"nodes", "edges", "span_labels", "findings", "label_changes", "classifier_state"}
)
_MISSING_TABLE = re.compile(r"Table with name (\w+) does not exist", re.I)


def with_hint(exc: SqlRejected, owner_classifies: bool = True) -> SqlRejected:
    """The refusal, saying how to label the store when the query wants a table of the labels
    from a store not labelled yet (the bare DuckDB message reads like a wrong name). Its owner
    started with --no-classify labels nothing, and the commands that label refuse while it runs:
    then that is what to change."""
    missing = _MISSING_TABLE.search(str(exc))
    if missing is None or missing.group(1).lower() not in LABEL_TABLES:
        return exc
    if not owner_classifies:
        return SqlRejected(
            f"{exc} (the store is not labelled yet, and its owner does not classify "
            "(seamscope collect --no-classify): stop it and run `seamscope edges`, or start it "
            "without --no-classify)"
        )
    return SqlRejected(
        f"{exc} (the store is not labelled yet: `seamscope edges`, `check`, `export`, `drift` "
        "and `tui` label it, a running `seamscope collect` as spans arrive)"
    )


def table_cells(table: pa.Table) -> tuple[list[Column], list[list[str]]]:
    """A result's columns and cells as the table shows them."""
    from rich.text import Text

    from seamscope.cli.table import Column

    columns = [Column(Text(safe(name))) for name in table.column_names]
    # Printed as they are, never read as Rich markup ("a [/] b" would fail, "x[v2]" lose [v2]);
    # control characters escaped: a span name must not drive the terminal.
    rows = [[safe(cell_text(value), lines=True) for value in row] for row in python_rows(table)]
    return columns, rows


def _print_table(table: pa.Table) -> None:
    from seamscope.cli.table import print_table

    console = print_table(*table_cells(table))
    console.print(plural(table.num_rows, "row"), style="dim", soft_wrap=True)  # as wide as it is


@click.command()
@click.argument("query")
@click.option(
    "--db",
    "db",
    type=click.Path(path_type=Path),
    default=None,
    help="The store (default: $SEAMSCOPE_DB or ./seamscope.duckdb).",
)
@click.option(
    "--timeout",
    type=FiniteRange(0.1, 3600),
    default=None,
    help=f"Stop the query after this many seconds (default and most: {SQL_TIMEOUT_S:g}, or "
    "what the owner allows).",
)
@click.option("--csv", "as_csv", is_flag=True, help="Print CSV.")
@click.option(
    "--json",
    "as_json",
    is_flag=True,
    help="Print JSON: {columns, rows, truncated}.",
)
def sql(query: str, db: Path | None, timeout: float | None, as_csv: bool, as_json: bool) -> None:
    """Run a read-only QUERY (SELECT, WITH, FROM, DESCRIBE, SHOW, SUMMARIZE, EXPLAIN).

    Works while `seamscope collect` or a live TUI owns the store: the query goes to the owner.
    """
    if as_csv and as_json:
        raise click.UsageError("--csv and --json exclude each other")
    reader = open_reader(db or default_db_path())
    try:
        table = reader.user_sql(query, timeout_s=timeout)
    except SqlRejected as exc:
        owner = reader.owner
        raise with_hint(exc, owner_classifies=owner is None or owner.classifies) from None
    cut = truncated(table)
    if as_json:
        sys.stdout.write(table_to_json(table, truncated=cut).decode() + "\n")
    elif as_csv:
        write_csv(table, sys.stdout, escape=True)
    else:
        _print_table(table)
    if cut:
        click.echo(
            f"seamscope: the result was cut after {plural(table.num_rows, 'row')} (add a LIMIT, or "
            "aggregate)",
            err=True,
        )
