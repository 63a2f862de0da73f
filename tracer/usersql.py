"""A user's SQL, bounded: the one way a query typed by a person (``seamscope sql``, the TUI's
console, the owner's SQL endpoint) runs, wherever the store is held.

A statement must only read (`check_read_only`); it is interrupted after a time limit, its
result is read as a stream of Arrow batches and cut after a number of rows (flagged as
truncated), and refused, with a message that says what to do, past a size in bytes, so that
neither the owner nor the command ever builds an unbounded result. DuckDB's own memory and
spill are bounded where the connection is opened (`store.QUERY_LIMITS`).
"""

from __future__ import annotations

import contextlib
import csv
import datetime as dt
import decimal
import json
import re
import threading
import uuid
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

import duckdb
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.ipc

from seamscope.tracer.errors import SeamscopeError
from seamscope.tracer.terminal import safe

SQL_TIMEOUT_S = 30.0
SQL_ROW_LIMIT = 100_000
SQL_MAX_BYTES = 64 * 1024 * 1024
_BATCH_ROWS = 2048
_TRUNCATED = b"seamscope.truncated"

_ALLOWED = frozenset({duckdb.StatementType.SELECT, duckdb.StatementType.EXPLAIN})
_EXPLAIN = re.compile(
    r"\s*(?:(?:--[^\n]*\n|/\*.*?\*/)\s*)*EXPLAIN\b\s*(?:ANALY[SZ]E\b\s*)?(?:\([^)]*\)\s*)?",
    re.IGNORECASE | re.DOTALL,
)


class SqlRejected(SeamscopeError):
    """The SQL is not a read-only query, or it failed; the message says why."""


class SqlStopped(SqlRejected):
    """The query was stopped on request (`QueryStop.stop`) before it finished."""

    def __init__(self, message: str = "the query was stopped") -> None:
        super().__init__(message)


class QueryStop:
    """Stops one running query from another thread: a person's key, or leaving the console.

    The reader running the query hands over how to stop it (`on_stop`): a cursor's
    `interrupt`, or closing the request to the owner. A stop asked for before that call runs
    as soon as it comes, so a query never starts unstoppable.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._stopped = False
        self._callbacks: list[Callable[[], object]] = []

    @property
    def stopped(self) -> bool:
        return self._stopped

    def on_stop(self, callback: Callable[[], object]) -> None:
        """Calls callback when stop is asked for (at once if it already was)."""
        with self._lock:
            if not self._stopped:
                self._callbacks.append(callback)
                return
        with contextlib.suppress(Exception):
            callback()

    def stop(self) -> None:
        with self._lock:
            if self._stopped:
                return
            self._stopped = True
            callbacks, self._callbacks = self._callbacks, []
        for callback in callbacks:
            # The query may have ended meanwhile (its cursor closed): nothing left to stop.
            with contextlib.suppress(Exception):
                callback()


def _first_line(exc: BaseException) -> str:
    return str(exc).splitlines()[0] if str(exc) else type(exc).__name__


def check_read_only(con: duckdb.DuckDBPyConnection, sql: str) -> None:
    """Raises SqlRejected unless sql is one SELECT (or EXPLAIN) statement."""
    try:
        statements = con.extract_statements(sql)
    except duckdb.Error as exc:
        raise SqlRejected(_first_line(exc)) from None
    if not statements:
        raise SqlRejected("no SQL statement given")
    for statement in statements:
        if statement.type not in _ALLOWED:
            kind = str(statement.type).rsplit(".", 1)[-1]
            raise SqlRejected(f"only SELECT queries are allowed here, not {kind}")
        if statement.type == duckdb.StatementType.EXPLAIN:
            _check_explained(con, statement.query)
        else:
            _check_calls(con, statement.query)
    if len(statements) > 1:
        # One result is shown: the others' would be run for nothing and dropped unseen.
        raise SqlRejected(
            f"one query at a time: this SQL holds {len(statements)} statements "
            "(separated by ';'); run them one by one"
        )


def _check_explained(con: duckdb.DuckDBPyConnection, sql: str) -> None:
    """EXPLAIN ANALYZE runs the statement it explains: only a SELECT may be explained."""
    match = _EXPLAIN.match(sql)
    inner = []
    if match is not None:
        try:
            inner = con.extract_statements(sql[match.end() :])
        except duckdb.Error:
            inner = []
    if len(inner) != 1 or inner[0].type != duckdb.StatementType.SELECT:
        raise SqlRejected("only SELECT queries are allowed here, and EXPLAIN only of a SELECT")
    _check_calls(con, inner[0].query)


_WRITING_FUNCTIONS = frozenset(
    {"checkpoint", "force_checkpoint", "truncate_duckdb_logs", "enable_logging", "disable_logging"}
)
"""Table functions a SELECT may call that write: `SELECT * FROM checkpoint()` wrote the WAL into
the store through the owner's SQL endpoint while the CHECKPOINT statement was refused."""
_SQL_FUNCTIONS = frozenset({"query", "json_execute_serialized_sql"})
"""Functions that run SQL given as a value, which no check before the query could see."""
_REFUSED_FUNCTIONS = _WRITING_FUNCTIONS | _SQL_FUNCTIONS
_NAMES = "|".join(sorted(_REFUSED_FUNCTIONS))
_CALLED = re.compile(r'[{,]"function_name":"(' + _NAMES + ')"', re.IGNORECASE)
"""A call in DuckDB's serialized parse tree (a string constant's quotes are escaped there)."""
_NAMED = re.compile(r"(?<![\w$])(" + _NAMES + r")(?![\w$])", re.IGNORECASE)
"""Such a name anywhere in a query's text: without one, it calls none of them."""


def _check_calls(con: duckdb.DuckDBPyConnection, sql: str) -> None:
    """Raises SqlRejected when the SELECT sql calls a function that writes or runs SQL given
    as a value: found in DuckDB's own parse tree of it (json_serialize_sql, read as text: a
    tree as deep as DuckDB allows is deeper than Python's json may read), or, for a query it
    cannot serialize, in the text (any such name, whatever follows)."""
    named = _NAMED.search(sql)
    if named is None:
        return  # nothing to look for: a long query is not serialized for nothing
    try:
        rows = con.execute("SELECT json_serialize_sql(?::VARCHAR)", [sql]).fetchall()
        tree = str(rows[0][0]) if rows else ""
    except duckdb.Error:
        tree = ""
    serialized = tree.startswith('{"error":false')
    match = _CALLED.search(tree) if serialized else named
    if match is None:
        return
    name = match.group(1).lower()
    if name in _SQL_FUNCTIONS:
        raise SqlRejected(f"{name}() is not allowed here: write the query it runs itself")
    raise SqlRejected(
        f"{name}() writes to the store: only SELECT queries that read are allowed here"
    )


@dataclass(frozen=True, slots=True)
class SqlLimits:
    """What one user query may cost."""

    timeout_s: float = SQL_TIMEOUT_S
    row_limit: int | None = SQL_ROW_LIMIT
    """Rows kept; the rest are cut and the result flagged truncated (None: no limit)."""
    max_bytes: int = SQL_MAX_BYTES
    """Arrow bytes a result may hold; past it the query is refused."""

    def shorter(self, timeout_s: float | None) -> SqlLimits:
        """These limits with a time limit no longer than timeout_s (None: unchanged)."""
        if timeout_s is None or not timeout_s > 0 or timeout_s >= self.timeout_s:
            return self
        return SqlLimits(timeout_s, self.row_limit, self.max_bytes)


@dataclass(slots=True)
class Result:
    """A query's result as Arrow batches, read within the limits."""

    schema: pa.Schema
    batches: list[pa.RecordBatch] = field(default_factory=list)
    truncated: bool = False

    def table(self) -> pa.Table:
        """The whole result; a cut one says so in its schema metadata (see `truncated`)."""
        table = pa.Table.from_batches(self.batches, self.schema)
        return mark_truncated(table) if self.truncated else table


def mark_truncated(table: pa.Table) -> pa.Table:
    return table.replace_schema_metadata({**(table.schema.metadata or {}), _TRUNCATED: b"true"})


def truncated(table: pa.Table) -> bool:
    """Whether a table from `Result.table` was cut at the row limit."""
    return (table.schema.metadata or {}).get(_TRUNCATED) == b"true"


def too_large(limits: SqlLimits, *, one_row: bool = False) -> SqlRejected:
    """The refusal of a result past limits.max_bytes; one_row: its first row alone is (a huge
    value: fewer rows would not help)."""
    if one_row:
        return SqlRejected(
            f"one row of the result is larger than {limits.max_bytes // (1024 * 1024)} MB; "
            "select a part of its large values (left(), length()) or fewer columns"
        )
    return SqlRejected(
        f"the result is larger than {limits.max_bytes // (1024 * 1024)} MB; select fewer rows "
        "or columns (LIMIT), or aggregate"
    )


def run_bounded(
    cursor: duckdb.DuckDBPyConnection,
    sql: str,
    params: Sequence[Any] | None,
    limits: SqlLimits,
    *,
    check: bool = True,
    stop: QueryStop | None = None,
) -> Result:
    """Runs sql on cursor within limits; raises SqlRejected (refused, failed, stopped after the
    timeout, or too large; SqlStopped when stop was asked for). check=False: a trusted
    statement of seamscope's own."""
    timer = threading.Timer(limits.timeout_s, cursor.interrupt)
    try:
        if check:
            check_read_only(cursor, sql)
        if stop is not None:
            stop.on_stop(cursor.interrupt)
            if stop.stopped:
                raise SqlStopped()
        timer.start()
        relation = cursor.sql(sql, params=list(params) if params else None)
        if relation is None:
            raise SqlRejected("the statement returns no rows")
        row_limit = limits.row_limit
        batch_rows = _BATCH_ROWS if row_limit is None else max(1, min(row_limit + 1, _BATCH_ROWS))
        reader = relation.to_arrow_reader(batch_rows)
        result = Result(reader.schema)
        rows = size = 0
        for batch in reader:
            if row_limit is not None and rows + batch.num_rows > row_limit:
                keep = row_limit - rows
                if keep:
                    result.batches.append(batch.slice(0, keep))
                result.truncated = True
                break
            size += batch.get_total_buffer_size()
            if size > limits.max_bytes:
                raise too_large(limits, one_row=rows == 0 and batch.num_rows == 1)
            result.batches.append(batch)
            rows += batch.num_rows
        return result
    except duckdb.InterruptException:
        if stop is not None and stop.stopped:
            raise SqlStopped() from None
        raise SqlRejected(
            f"the query ran longer than {limits.timeout_s:g} s and was stopped"
        ) from None
    except MemoryError:
        raise SqlRejected("the query needs more memory than this process has") from None
    except (duckdb.Error, pa.ArrowException, OSError) as exc:
        # DuckDB's errors reach the Arrow stream reader as OSError.
        if stop is not None and stop.stopped:
            raise SqlStopped() from None
        text = _first_line(exc)
        if "maximum total string size" in text:
            raise too_large(limits) from None
        raise rejection(exc) from None
    finally:
        timer.cancel()


def rejection(exc: BaseException) -> SqlRejected:
    """What a query that DuckDB refused says: its first line, and for memory, that the query
    needs more than it may use (the store's memory limit, a setting the user can act on)."""
    text = _first_line(exc)
    if isinstance(exc, duckdb.OutOfMemoryException) or "Out of Memory" in text:
        return SqlRejected(f"the query needs more memory than it may use ({text})")
    return SqlRejected(text)


class _Chunks:
    """A file-like sink that keeps what is written as a list of byte strings."""

    def __init__(self) -> None:
        self.chunks: list[bytes] = []
        self.closed = False

    def write(self, data: Any) -> int:
        piece = bytes(data)
        self.chunks.append(piece)
        return len(piece)

    def flush(self) -> None:
        return None

    def close(self) -> None:
        self.closed = True


def arrow_chunks(result: Result) -> list[bytes]:
    """The result as an Arrow IPC stream, in pieces (one per batch); empties result.batches."""
    sink = _Chunks()
    with pa.ipc.new_stream(pa.PythonFile(sink, mode="w"), result.schema) as writer:
        while result.batches:
            writer.write_batch(result.batches.pop(0))
    return sink.chunks


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


_INFINITE = {2**31 - 1: "infinity", -(2**31 - 1): "-infinity"}
_INFINITE |= {2**63 - 1: "infinity", -(2**63 - 1): "-infinity"}
"""How DuckDB stores a date's or a timestamp's infinity in Arrow (the extremes of its int)."""


def python_values(column: pa.Array | pa.ChunkedArray) -> list[Any]:
    """A column's values as Python objects; a value Python cannot hold (a date or timestamp
    of DuckDB's 'infinity', one past year 9999, nanoseconds past microseconds) as text
    instead: pyarrow raises for it, and one such value must not fail a whole answer."""
    try:
        values: list[Any] = column.to_pylist()
    except (OverflowError, ValueError, pa.ArrowException):
        return [_python_value(column[i]) for i in range(len(column))]
    return values


def _python_value(scalar: pa.Scalar) -> Any:
    try:
        return scalar.as_py()
    except (OverflowError, ValueError, pa.ArrowException):
        pass
    raw = getattr(scalar, "value", None)
    if pa.types.is_temporal(scalar.type) and isinstance(raw, int) and raw in _INFINITE:
        return _INFINITE[raw]
    try:
        return pc.cast(pa.array([scalar]), pa.string())[0].as_py()
    except (OverflowError, ValueError, pa.ArrowException):
        return f"<a {scalar.type} value Python cannot hold>"


def python_rows(table: pa.Table | pa.RecordBatch) -> list[list[Any]]:
    """A result's rows as lists of Python values (see `python_values`)."""
    values = [python_values(column) for column in table.columns]
    return [list(row) for row in zip(*values, strict=True)] if values else []


def json_chunks(
    schema: pa.Schema, batches: Iterable[pa.RecordBatch], *, truncated: bool
) -> Iterator[bytes]:
    """{"columns": [...], "rows": [[...], ...], "truncated": bool}, a batch at a time."""
    columns = schema.names
    yield b'{"columns": ' + json.dumps(columns).encode() + b', "rows": ['
    first = True
    for batch in batches:
        rows = python_rows(batch)
        if not rows:
            continue
        text = json.dumps(rows, default=_json_default)[1:-1]
        yield (b"" if first else b", ") + text.encode()
        first = False
    yield b'], "truncated": ' + (b"true" if truncated else b"false") + b"}"


def cell_text(value: Any) -> str:
    """A value as CSV and terminal tables show it: times in ISO form, lists and maps as JSON."""
    if value is None:
        return ""
    if isinstance(value, (dt.datetime, dt.date, dt.time)):
        return value.isoformat()
    if isinstance(value, (list, dict)):
        return json.dumps(value, default=str)
    return str(value)


def write_csv(table: pa.Table, out: Any, *, escape: bool = False) -> None:
    """A query result as CSV (a header row, then one row per result row) into a text stream;
    escape: control characters escaped (newlines and tabs kept), for a person's terminal."""
    writer = csv.writer(out, lineterminator="\n")
    if not escape:
        writer.writerow(table.column_names)
        for row in python_rows(table):
            writer.writerow([cell_text(value) for value in row])
        return
    writer.writerow([safe(name, lines=True) for name in table.column_names])
    for row in python_rows(table):
        writer.writerow([safe(cell_text(value), lines=True) for value in row])


def table_to_json(table: pa.Table, *, truncated: bool = False) -> bytes:
    """{"columns": [...], "rows": [[...], ...], "truncated": bool} for a query result."""
    return b"".join(json_chunks(table.schema, table.to_batches(), truncated=truncated))
