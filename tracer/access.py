"""Read-only SQL over the store, whoever holds it.

While an owner process (the receiver, the live TUI) holds the file, no other process can open
it, so the query goes to the owner's SQL endpoint; otherwise a hardened read-only connection is
opened for the one query and closed again. Both paths accept only SELECT-type statements and
neither can write, attach, copy, load extensions or read files.
"""

from __future__ import annotations

import datetime as dt
import decimal
import json
import time
import urllib.error
import urllib.request
import uuid
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import duckdb
import pyarrow as pa
import pyarrow.ipc

from seamscope.tracer.errors import SeamscopeError
from seamscope.tracer.owner import find_owner
from seamscope.tracer.store import StoreLocked, open_read_only

_ALLOWED = frozenset({duckdb.StatementType.SELECT, duckdb.StatementType.EXPLAIN})
_LOCK_RETRIES = 8


class SqlRejected(SeamscopeError):
    """The SQL is not a read-only query, or it failed; the message says why."""


def check_read_only(con: duckdb.DuckDBPyConnection, sql: str) -> None:
    """Raises SqlRejected unless every statement in sql is a SELECT (or EXPLAIN)."""
    try:
        statements = con.extract_statements(sql)
    except duckdb.Error as exc:
        raise SqlRejected(str(exc).splitlines()[0]) from None
    if not statements:
        raise SqlRejected("no SQL statement given")
    for statement in statements:
        if statement.type not in _ALLOWED:
            kind = str(statement.type).rsplit(".", 1)[-1]
            raise SqlRejected(f"only SELECT queries are allowed here, not {kind}")


def _json_default(value: Any) -> Any:
    if isinstance(value, (dt.datetime, dt.date, dt.time)):
        return value.isoformat()
    if isinstance(value, dt.timedelta):
        return value.total_seconds()
    if isinstance(value, decimal.Decimal):
        return str(value)
    if isinstance(value, bytes):
        return value.hex()
    if isinstance(value, uuid.UUID):
        return str(value)
    return str(value)


def table_to_json(table: pa.Table, *, truncated: bool = False) -> bytes:
    """{"columns": [...], "rows": [[...], ...], "truncated": bool} for a query result."""
    columns = table.column_names
    data = table.to_pydict()
    rows = [list(r) for r in zip(*(data[c] for c in columns), strict=True)] if columns else []
    return json.dumps(
        {"columns": columns, "rows": rows, "truncated": truncated}, default=_json_default
    ).encode()


def _query_owner(url: str, sql: str, params: Sequence[Any] | None, timeout_s: float) -> pa.Table:
    body = json.dumps({"sql": sql, "params": list(params) if params else None}, default=str)
    request = urllib.request.Request(
        url, data=body.encode(), headers={"Content-Type": "application/json"}, method="POST"
    )
    try:
        with urllib.request.urlopen(request, timeout=timeout_s) as response:
            data = response.read()
    except urllib.error.HTTPError as exc:
        detail = exc.read()
        try:
            message = str(json.loads(detail)["error"])
        except (ValueError, KeyError, TypeError):
            message = detail.decode("utf-8", "replace").strip()[:300] or str(exc)
        raise SqlRejected(message) from None
    with pa.ipc.open_stream(data) as reader:
        return reader.read_all()


def query_store(
    db_path: Path,
    sql: str,
    params: Sequence[Any] | None = None,
    *,
    timeout_s: float = 60.0,
) -> pa.Table:
    """Runs read-only sql over the store; raises SqlRejected (bad SQL) or StoreError subclasses."""
    for attempt in range(_LOCK_RETRIES):
        owner = find_owner(db_path)
        if owner is not None:
            try:
                return _query_owner(owner.sql_url, sql, params, timeout_s)
            except urllib.error.URLError:
                # The owner is going away; its file goes with it, the local path takes over.
                time.sleep(0.1)
                continue
        try:
            con = open_read_only(db_path)
        except StoreLocked:
            if attempt == _LOCK_RETRIES - 1:
                raise
            time.sleep(min(0.05 * 2**attempt, 0.5))
            continue
        try:
            cursor = con.cursor()
            check_read_only(cursor, sql)
            try:
                return cursor.sql(sql, params=list(params) if params else None).to_arrow_table()
            except duckdb.Error as exc:
                raise SqlRejected(str(exc).splitlines()[0]) from None
        finally:
            con.close()
    raise SeamscopeError(f"{db_path}: the store's owner does not answer")
