"""The DuckDB store: opening (with clear errors), schema creation and migration, appends.

DuckDB lets one process hold a file read-write and then refuses every other process, even
read-only. Writers therefore either own the file for a long time (the receiver, the live TUI)
or hold it for one short append. Appends are idempotent by batch key.
"""

from __future__ import annotations

import contextlib
import os
import re
import shutil
import stat
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path

import duckdb
import pyarrow as pa

from seamscope.tracer.errors import SeamscopeError
from seamscope.tracer.keys import KEY_COLUMNS, add_keys, spans_digest
from seamscope.tracer.private import FILE_MODE, drop_unused_wal, private_wal, wal_path
from seamscope.tracer.schema import (
    DDL,
    INPUT_SCHEMA,
    LEDGER_COLUMNS,
    MIGRATIONS,
    SCHEMA_VERSION,
    span_column_names,
)

DEFAULT_DB = "seamscope.duckdb"
ENV_DB = "SEAMSCOPE_DB"

# Settings that keep a connection from reaching outside the store: no files, no network,
# no extensions loaded behind the user's back.
HARDENED_CONFIG: dict[str, str | bool] = {
    "enable_external_access": False,
    "autoinstall_known_extensions": False,
    "autoload_known_extensions": False,
    "allow_community_extensions": False,
    "lock_configuration": True,
}


# What DuckDB itself may use for queries, whoever runs them (the owner's connection, a local
# read-only one): the buffer pool would take 80% of RAM by default and spill up to 90% of
# the free disk. With 2 GB, a live TUI on a 10M-span store peaked at 0.92 GB instead of
# 2.8 GB in side runs, and a full classification of 10M spans took no longer (1 GB made it
# spill: 1.25x); see docs/performance.md, TUI.
MEMORY_LIMIT = "2GB"
TEMP_LIMIT = "4GB"


def query_limits(memory_limit: str = MEMORY_LIMIT, temp_limit: str = TEMP_LIMIT) -> dict[str, str]:
    """DuckDB settings bounding a connection's memory and spill to disk."""
    return {"memory_limit": memory_limit, "max_temp_directory_size": temp_limit}


class StoreError(SeamscopeError):
    """A problem with the store that the user can act on; the message says what and where."""


class StoreMissing(StoreError):
    pass


class StoreLocked(StoreError):
    def __init__(self, message: str, pid: int | None = None) -> None:
        super().__init__(message)
        self.pid = pid


class StoreTooNew(StoreError):
    pass


class NotAStore(StoreError):
    pass


class StoreDamaged(NotAStore):
    """A seamscope store whose own tables say what no seamscope wrote: a schema version that
    is no number, a spans table without its columns."""


def default_db_path() -> Path:
    """SEAMSCOPE_DB, else ./seamscope.duckdb."""
    return Path(os.environ.get(ENV_DB) or DEFAULT_DB)


_PID = re.compile(r"PID (\d+)")
_LOCK = re.compile(r"\block\b", re.IGNORECASE)
_HELD_IN = re.compile(r"held in (.+?) \(PID \d+\)")


def _translate(exc: duckdb.Error, path: Path) -> StoreError:
    text = str(exc)
    if _LOCK.search(text):  # a word: "failed to pin block" (out of memory) is no lock
        match = _PID.search(text)
        pid = int(match.group(1)) if match else None
        holder = f" by process {pid}" if pid else ""
        program = _HELD_IN.search(text)
        if pid and program:
            holder += f" ({Path(program.group(1)).name})"
        return StoreLocked(f"{path}: the store is locked{holder}", pid)
    if (
        "not a valid DuckDB database" in text
        or "invalid" in text.lower()
        and "database" in text.lower()
    ):
        return NotAStore(f"{path}: not a DuckDB database ({text.splitlines()[0]})")
    if "newer" in text.lower() or "version" in text.lower():
        return StoreTooNew(f"{path}: written by a newer DuckDB ({text.splitlines()[0]})")
    return StoreError(f"{path}: {text.splitlines()[0]}")


def create_private_store(path: Path) -> None:
    """A new, empty DuckDB file at path, 0600: made in a 0700 folder beside it (nobody else
    can open it there), then linked into place. A store someone made meanwhile is kept."""
    folder = Path(tempfile.mkdtemp(prefix=f".{path.name}.", dir=path.parent))
    try:
        made = folder / path.name
        duckdb.connect(str(made)).close()
        os.chmod(made, FILE_MODE)
        try:
            os.link(made, path)
        except FileExistsError:
            pass
        except OSError:  # a file system without hard links
            if not path.exists():
                os.replace(made, path)
    finally:
        shutil.rmtree(folder, ignore_errors=True)


_KINDS = (
    (stat.S_ISDIR, "a folder"),
    (stat.S_ISFIFO, "a named pipe"),
    (stat.S_ISCHR, "a character device"),
    (stat.S_ISBLK, "a block device"),
    (stat.S_ISSOCK, "a socket"),
)


def refuse_special(path: Path) -> None:
    """A store is a regular file: anything else is refused before it is opened (opening a
    named pipe would wait for a writer forever, a device could be read without end)."""
    try:
        st = os.stat(path)
    except OSError:
        return  # missing (a new store) or unreachable: connecting says which
    if not stat.S_ISREG(st.st_mode):
        kind = next((name for test, name in _KINDS if test(st.st_mode)), "not a regular file")
        raise NotAStore(f"{path}: {kind}, not a store (a store is a regular file)")


def refuse_planted(path: Path) -> None:
    """Before seamscope writes a store: the store must be the user's own file, and its WAL
    (``<store>.wal``, which DuckDB writes through whatever it finds there) a file of the user's
    or nothing. A store of another user's in a shared folder would be given every span written
    to it; a symbolic link planted where the WAL goes would have DuckDB overwrite the file it
    names (a user's own file, say), and another user's file there would take the writes."""
    try:
        st = os.stat(path)
    except OSError:
        st = None  # missing (a new store): made 0600 by this process
    if st is not None and st.st_uid != os.geteuid():
        raise StoreError(
            f"{path}: the store belongs to another user (uid {st.st_uid}); seamscope writes "
            "only to a store of your own (read this one with `seamscope sql`, or pass --db)"
        )
    wal = wal_path(path)
    try:
        wst = os.lstat(wal)
    except OSError:
        return
    if stat.S_ISLNK(wst.st_mode) or not stat.S_ISREG(wst.st_mode):
        kind = "a symbolic link" if stat.S_ISLNK(wst.st_mode) else "not a regular file"
        raise StoreError(
            f"{wal}: {kind} where the store's WAL goes; DuckDB would write through it, so the "
            "store is not opened for writing (remove it if it is not yours)"
        )
    if wst.st_uid != os.geteuid():
        raise StoreError(
            f"{wal}: the store's WAL belongs to another user (uid {wst.st_uid}); the store is "
            "not opened for writing (remove it if it is not yours)"
        )


def connect(
    path: Path,
    *,
    read_only: bool = False,
    create: bool = True,
    hardened: bool = False,
    config: dict[str, str | bool | int] | None = None,
) -> duckdb.DuckDBPyConnection:
    """Opens the file; raises StoreError subclasses with one-line messages."""
    refuse_special(path)
    if not read_only:
        refuse_planted(path)
    if not create or read_only:
        if not path.exists():
            raise StoreMissing(f"{path}: no store here (set {ENV_DB} or pass --db)")
    elif path.parent and not path.parent.exists():
        raise StoreMissing(f"{path}: the folder {path.parent} does not exist")
    elif not os.path.lexists(path):
        try:
            create_private_store(path)
        except OSError as exc:
            raise StoreError(f"{path}: cannot create the store ({exc.strerror or exc})") from None
        except duckdb.Error as exc:
            raise _translate(exc, path) from None
    cfg: dict[str, str | bool | int] = dict(config or {})
    if hardened:
        cfg.update(HARDENED_CONFIG)
    lock = bool(cfg.pop("lock_configuration", False))
    try:
        con = duckdb.connect(str(path), read_only=read_only, config=cfg)  # type: ignore[arg-type]
    except duckdb.Error as exc:
        raise _translate(exc, path) from None
    quiet(con, lock=lock)
    return con


def quiet(con: duckdb.DuckDBPyConnection, *, lock: bool = False) -> duckdb.DuckDBPyConnection:
    """Turns DuckDB's progress bar off (it would print over a TUI, or into a pipe), then locks
    the configuration if asked. The bar is a per-connection setting, on by default, that no
    connect() config can set; cursors inherit it, and a locked configuration keeps it."""
    con.execute("SET enable_progress_bar = false")
    if lock:
        con.execute("SET lock_configuration = true")
    return con


def schema_version(con: duckdb.DuckDBPyConnection, path: Path) -> int | None:
    """The store's schema version, or None for a file that is no seamscope store (yet)."""
    exists = con.execute(
        "SELECT count(*) FROM information_schema.tables WHERE table_name = 'seamscope_meta'"
    ).fetchone()
    if not exists or not exists[0]:
        return None
    row = con.execute("SELECT value FROM seamscope_meta WHERE key = 'schema_version'").fetchone()
    if not row:
        return None
    try:
        return int(row[0])
    except (TypeError, ValueError):
        shown = "NULL" if row[0] is None else repr(str(row[0])[:40])
        raise StoreDamaged(
            f"{path}: a damaged store: its schema version (in seamscope_meta) is {shown}, "
            "not a number"
        ) from None


def ensure_schema(con: duckdb.DuckDBPyConnection, path: Path) -> None:
    """Creates the schema in a new store, migrates an older one, refuses a newer one, and
    refuses a DuckDB database that holds anything else (it is left untouched)."""
    version = schema_version(con, path)
    if version is None:
        other = con.execute(
            "SELECT count(*) FROM information_schema.tables "
            "WHERE table_catalog = current_database()"
        ).fetchone()
        if other and other[0]:
            raise NotAStore(
                f"{path}: a DuckDB database, but not a seamscope store (it has tables of its own "
                "and no seamscope_meta); seamscope leaves it untouched: pass --db with a store"
            )
        con.execute("BEGIN")
        for statement in DDL:
            con.execute(statement)
        con.execute(
            "INSERT OR REPLACE INTO seamscope_meta VALUES ('schema_version', ?)",
            [str(SCHEMA_VERSION)],
        )
        con.execute("COMMIT")
        return
    check_store(con, version, path)
    while version < SCHEMA_VERSION:
        con.execute("BEGIN")
        for statement in MIGRATIONS[version]:
            con.execute(statement)
        version += 1
        con.execute(
            "UPDATE seamscope_meta SET value = ? WHERE key = 'schema_version'", [str(version)]
        )
        con.execute("COMMIT")


def check_store(con: duckdb.DuckDBPyConnection, version: int | None, path: Path) -> None:
    """Refuses what is no store seamscope can read or migrate: no store at all, one of a newer
    schema, or a damaged one (a version none was written with, spans without its columns)."""
    if version is None:
        raise NotAStore(
            f"{path}: a DuckDB file, but not a seamscope store (no seamscope_meta table)"
        )
    if version > SCHEMA_VERSION:
        raise StoreTooNew(
            f"{path}: store schema version {version} is newer than this seamscope "
            f"understands ({SCHEMA_VERSION}); upgrade seamscope"
        )
    if version < 1:
        raise StoreDamaged(
            f"{path}: a damaged store: its schema version is {version}; seamscope wrote 1 to "
            f"{SCHEMA_VERSION}"
        )
    present = {
        name
        for (name,) in con.execute(
            "SELECT column_name FROM duckdb_columns() WHERE database_name = current_database() "
            "AND schema_name = 'main' AND table_name = 'spans'"
        ).fetchall()
    }
    if not present:
        raise StoreDamaged(f"{path}: a damaged store: it has no spans table")
    missing = [name for name in span_column_names(version) if name not in present]
    if missing:
        raise StoreDamaged(
            f"{path}: a damaged store: its spans table lacks the column"
            f"{'s' if len(missing) > 1 else ''} {', '.join(missing)}"
        )


class Store:
    """A read-write connection with the schema in place."""

    def __init__(self, con: duckdb.DuckDBPyConnection, path: Path) -> None:
        self.con = con
        self.path = path

    @classmethod
    def open(
        cls,
        path: Path | None = None,
        *,
        config: dict[str, str | bool | int] | None = None,
        create: bool = True,
    ) -> Store:
        """create=False: a missing file is StoreMissing, not a new store."""
        path = path or default_db_path()
        con = connect(path, config=config, create=create)
        made_wal = False
        try:
            made_wal = private_wal(path)
            ensure_schema(con, path)
        except BaseException as exc:
            con.close()
            if made_wal:  # another program's database, say: left as it was found
                drop_unused_wal(path)
            if isinstance(exc, duckdb.Error):  # out of memory under config's memory_limit, say
                raise _translate(exc, path) from None
            raise
        return cls(con, path)

    def close(self) -> None:
        self.con.close()

    def __enter__(self) -> Store:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def append(self, table: pa.Table, *, batch_key: str | None, source: str) -> int:
        """Stores the spans of table (INPUT_SCHEMA) as one batch; returns how many were stored.

        A batch whose key was stored before is skipped (0), so a retried delivery, a spool file
        drained twice or a file ingested again adds nothing; so is a keyed batch whose spans
        were stored before in other bytes (their digest, keys.spans_digest).
        """
        table = input_table(table)
        digest = spans_digest(table) if batch_key is not None else None
        con = self.con
        private_wal(self.path)
        refuse_planted(self.path)
        con.execute("BEGIN")
        try:
            if (
                digest is not None
                and con.execute("SELECT 1 FROM batches WHERE spans_digest = ?", [digest]).fetchone()
            ):
                con.execute("ROLLBACK")
                return 0
            # One statement numbers the batch and claims its key (fewer round trips per batch);
            # the UNIQUE batch_key refuses a batch stored before.
            try:
                row = con.execute(
                    f"INSERT INTO batches ({LEDGER_COLUMNS}) "
                    "VALUES (nextval('batch_seq'), ?, ?, ?, ?, ?) RETURNING batch_id",
                    [batch_key, source, table.num_rows, datetime.now(UTC), digest],
                ).fetchone()
            except duckdb.ConstraintException:
                con.execute("ROLLBACK")
                if (
                    batch_key is not None
                    and con.execute(
                        "SELECT 1 FROM batches WHERE batch_key = ?", [batch_key]
                    ).fetchone()
                ):
                    return 0
                con.execute("BEGIN")  # the handler below rolls back again
                raise
            assert row is not None
            batch_id = int(row[0])
            insert_arrow(
                con,
                "_seamscope_incoming",
                table,
                f"INSERT INTO spans BY NAME SELECT *, {batch_id} AS batch_id FROM "
                "_seamscope_incoming",
            )
            con.execute("COMMIT")
        except BaseException:
            # A COMMIT that failed (the disk full, the file past the process's size limit) has
            # ended the transaction already: the error that ended it is the one to raise, not
            # the ROLLBACK's "no transaction is active".
            with contextlib.suppress(duckdb.Error):
                con.execute("ROLLBACK")
            raise
        return int(table.num_rows)


@contextmanager
def transaction(con: duckdb.DuckDBPyConnection) -> Iterator[None]:
    """BEGIN, the caller's statements, COMMIT; on any error a ROLLBACK, and the error raised is
    the one that ended the transaction: a COMMIT that failed (the disk full, the file past the
    process's size limit) has ended it already, and the ROLLBACK's "no transaction is active"
    would hide the cause."""
    con.execute("BEGIN")
    try:
        yield
        con.execute("COMMIT")
    except BaseException:
        with contextlib.suppress(duckdb.Error):
            con.execute("ROLLBACK")
        raise


def insert_arrow(con: duckdb.DuckDBPyConnection, name: str, table: pa.Table, sql: str) -> None:
    """Runs sql (an INSERT) with table registered as name, in the caller's transaction.

    A statement that fails aborts the transaction, and the view cannot be dropped until it ends
    (DuckDB says "Current transaction is aborted"): the statement's own error is raised, and
    the view stays until the name is registered again."""
    con.register(name, table)
    try:
        con.execute(sql)
    except BaseException:
        with contextlib.suppress(duckdb.TransactionException):
            con.unregister(name)
        raise
    con.unregister(name)


# INPUT_SCHEMA with its JSON columns as plain text, which DuckDB parses and checks on insert.
_CHECKED_SCHEMA = pa.schema(
    [
        f.with_type(f.type.storage_type) if isinstance(f.type, pa.BaseExtensionType) else f
        for f in INPUT_SCHEMA
    ]
)


def input_table(table: pa.Table) -> pa.Table:
    """A table of spans as the store takes it: its keys computed when it came without them
    (SpanBatchBuilder adds them; other producers may not).

    Only a table of INPUT_SCHEMA itself, SpanBatchBuilder's, keeps its JSON columns as Arrow's
    JSON type, stored without being parsed again; any other producer's JSON text is checked by
    DuckDB on insert, so a malformed document is refused rather than stored."""
    if table.schema == INPUT_SCHEMA:
        return table
    missing = [n for n in INPUT_SCHEMA.names if n not in table.column_names + list(KEY_COLUMNS)]
    if missing:
        raise ValueError(f"a table of spans without the columns {', '.join(missing)}")
    if not all(name in table.column_names for name in KEY_COLUMNS):
        table = add_keys(table)
    return table.select(INPUT_SCHEMA.names).cast(_CHECKED_SCHEMA)


@contextmanager
def short_lock(
    path: Path,
    *,
    attempts: int = 5,
    wait_s: float = 0.05,
    max_wait_s: float = 0.5,
    create: bool = True,
) -> Iterator[Store]:
    """Opens the store read-write for one short piece of work, retrying while it is locked.

    Raises StoreLocked after the attempts run out; the caller keeps what it wanted to write.
    create=False: a missing store is StoreMissing instead of a new one.
    """
    delay = wait_s
    for attempt in range(attempts):
        try:
            store = Store.open(path, create=create)
        except StoreLocked:
            if attempt == attempts - 1:
                raise
            time.sleep(delay)
            delay = min(delay * 2, max_wait_s)
            continue
        try:
            yield store
        finally:
            store.close()
        return


def open_read_only(path: Path | None = None) -> duckdb.DuckDBPyConnection:
    """A hardened read-only connection for users' SQL: no writes, no files, no extensions."""
    path = path or default_db_path()
    con = connect(path, read_only=True, hardened=True, config=dict(query_limits()))
    try:
        check_store(con, schema_version(con, path), path)
    except BaseException:
        con.close()
        raise
    return con
