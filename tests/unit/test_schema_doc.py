"""docs/schema.md documents every column of the store; this fails when the doc and the schema drift.

The spans column table is generated: run with SEAMSCOPE_UPDATE_DOCS=1 to rewrite it.
"""

from __future__ import annotations

import os
import re
from pathlib import Path

import duckdb

from seamscope.classifiers.schema import CLASSIFIER_DDL
from seamscope.tracer.schema import DDL, SCHEMA_VERSION, SPAN_COLUMNS

DOC = Path(__file__).resolve().parents[2] / "docs" / "schema.md"
BEGIN = "<!-- spans-columns:begin (generated from tracer/schema.py SPAN_COLUMNS) -->"
END = "<!-- spans-columns:end -->"


def render_span_columns() -> str:
    lines = ["| column | type | what it holds |", "|---|---|---|"]
    for column in SPAN_COLUMNS:
        doc = column.doc.replace("|", "\\|")
        lines.append(f"| `{column.name}` | `{column.sql_type}` | {doc} |")
    return "\n".join(lines)


def _section(text: str, heading: str) -> str:
    match = re.search(rf"^#+ [^\n]*`{heading}`[^\n]*$(.*?)(?=^#+ |\Z)", text, re.M | re.S)
    assert match, f"docs/schema.md has no section for `{heading}`"
    return match.group(1)


def test_spans_column_table_is_generated_from_the_schema() -> None:
    text = DOC.read_text()
    assert BEGIN in text and END in text
    head, rest = text.split(BEGIN, 1)
    current, tail = rest.split(END, 1)
    expected = render_span_columns()
    if os.environ.get("SEAMSCOPE_UPDATE_DOCS") == "1":
        DOC.write_text(f"{head}{BEGIN}\n{expected}\n{END}{tail}")
        return
    assert current.strip() == expected, (
        "docs/schema.md's spans table differs from SPAN_COLUMNS: "
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
