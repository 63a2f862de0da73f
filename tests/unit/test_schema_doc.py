"""docs/schema.md documents every column of the store; this fails when the doc and the schema drift.

The column tables of spans, nodes and edges are generated (from tracer/schema.py and the records
of classifiers/results.py): run with SEAMSCOPE_UPDATE_DOCS=1 to rewrite them (that run still
fails when they were stale).
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable
from pathlib import Path

import duckdb
import pytest

from seamscope.classifiers.results import Edge, LabelChange, Node, columns
from seamscope.classifiers.schema import CLASSIFIER_DDL
from seamscope.tracer.schema import (
    AWS_ROUTE_COLUMNS,
    DDL,
    S3_OBJECT_COLUMNS,
    SCHEMA_VERSION,
    SPAN_COLUMNS,
    Column,
)

DOC = Path(__file__).resolve().parents[2] / "docs" / "schema.md"


def render_columns(columns: tuple[Column, ...]) -> str:
    lines = ["| column | type | what it holds |", "|---|---|---|"]
    for column in columns:
        doc = column.doc.replace("|", "\\|")
        lines.append(f"| `{column.name}` | `{column.sql_type}` | {doc} |")
    return "\n".join(lines)


def _type(column: Column) -> str:
    base = column.sql_type.split(" ")[0]
    return f"`{base}` primary key" if "PRIMARY KEY" in column.sql_type else f"`{base}`"


def render_record_columns(record: type) -> str:
    lines = ["| column | type | what it holds |", "|---|---|---|"]
    for column in columns(record):
        lines.append(f"| `{column.name}` | {_type(column)} | {column.doc} |")
    return "\n".join(lines)


GENERATED: dict[str, tuple[str, Callable[[], str]]] = {
    "spans": ("tracer/schema.py SPAN_COLUMNS", lambda: render_columns(SPAN_COLUMNS)),
    "aws_routes": (
        "tracer/schema.py AWS_ROUTE_COLUMNS",
        lambda: render_columns(AWS_ROUTE_COLUMNS),
    ),
    "s3_objects": (
        "tracer/schema.py S3_OBJECT_COLUMNS",
        lambda: render_columns(S3_OBJECT_COLUMNS),
    ),
    "nodes": ("classifiers/results.py Node", lambda: render_record_columns(Node)),
    "edges": ("classifiers/results.py Edge", lambda: render_record_columns(Edge)),
    "label_changes": (
        "classifiers/results.py LabelChange",
        lambda: render_record_columns(LabelChange),
    ),
}


def _section(text: str, heading: str) -> str:
    match = re.search(rf"^#+ [^\n]*`{heading}`[^\n]*$(.*?)(?=^#+ |\Z)", text, re.M | re.S)
    assert match, f"docs/schema.md has no section for `{heading}`"
    return match.group(1)


@pytest.mark.parametrize("table", sorted(GENERATED))
def test_column_tables_are_generated_from_the_schema(table: str) -> None:
    source, render = GENERATED[table]
    begin = f"<!-- {table}-columns:begin (generated from {source}) -->"
    end = f"<!-- {table}-columns:end -->"
    text = DOC.read_text()
    assert begin in text and end in text
    head, rest = text.split(begin, 1)
    current, tail = rest.split(end, 1)
    expected = render()
    if current.strip() == expected:
        return
    if os.environ.get("SEAMSCOPE_UPDATE_DOCS") == "1":
        # Rewritten, and still a failure: the run that found the doc stale must not pass.
        DOC.write_text(f"{head}{begin}\n{expected}\n{end}{tail}")
        pytest.fail(f"docs/schema.md's {table} table was stale: rewritten from {source}")
    pytest.fail(
        f"docs/schema.md's {table} table differs from {source}: "
        "SEAMSCOPE_UPDATE_DOCS=1 pytest tests/unit/test_schema_doc.py"
    )


def test_every_table_and_column_is_documented() -> None:
    text = DOC.read_text()
    con = duckdb.connect()
    for statement in (*DDL, *CLASSIFIER_DDL):
        con.execute(statement)
    rows = con.execute(
        "SELECT table_name, column_name FROM information_schema.columns "
        "WHERE table_name <> 'spans' ORDER BY table_name, ordinal_position"
    ).fetchall()
    assert {t for t, _ in rows} >= {"batches", "seamscope_meta", "nodes", "edges", "findings"}
    missing = [
        f"{table}.{column}"
        for table, column in rows
        if table != "findings" and f"`{column}`" not in _section(text, table)
    ]
    assert not missing, f"undocumented columns in docs/schema.md: {missing}"


def test_the_schema_version_in_the_doc_is_current() -> None:
    assert f"schema version is **{SCHEMA_VERSION}**" in DOC.read_text()
