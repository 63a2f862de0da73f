"""The spool: spans that could not reach the store yet wait beside it as Arrow IPC files.

``<db>.spool/<batch key>.arrow``, written atomically (temporary file, then rename), so a
reader never sees half a file. Whoever next holds the store read-write (an exporter that got
the short lock, the receiver, the live TUI) drains it: each file is appended with its batch key,
so a file drained twice (two drainers, or a crash between commit and delete) adds nothing.
"""

from __future__ import annotations

import errno
import logging
import os
import re
import stat
import uuid
from pathlib import Path

import duckdb
import pyarrow as pa
import pyarrow.ipc

from seamscope.tracer.private import create_private, private_dir, private_wal
from seamscope.tracer.store import Store, refuse_planted, transaction

_log = logging.getLogger(__name__)

SUFFIX = ".arrow"
BAD_SUFFIX = ".bad"
SOURCE = "spool"
_KEY_META = b"seamscope.batch_key"
_DROPPED_META = b"seamscope.dropped_spans"
_SAFE_KEY = re.compile(r"[^A-Za-z0-9._-]")
DROPPED_KEY = "dropped_spans"
_WARNED: set[Path] = set()
"""Spool folders found not to be the user's, said once per process."""


def spool_dir(db_path: Path) -> Path:
    """``<db>.spool/`` beside the store."""
    return db_path.with_name(db_path.name + ".spool")


def _ours(folder: Path) -> bool:
    """Whether folder is a real folder of this user's that nobody else may write in: the only
    spool seamscope writes to or drains. Another user's folder where the spool goes (or a
    symbolic link planted there, in a shared folder) could hand forged spans to the store, or
    delete the spans written to it."""
    try:
        st = os.lstat(folder)
    except OSError:
        return False
    return (
        stat.S_ISDIR(st.st_mode)
        and st.st_uid == os.geteuid()
        and not st.st_mode & (stat.S_IWGRP | stat.S_IWOTH)
    )


def _own_file(path: Path) -> bool:
    try:
        st = os.lstat(path)
    except OSError:
        return False
    return stat.S_ISREG(st.st_mode) and st.st_uid == os.geteuid()


def _file_name(batch_key: str) -> str:
    safe = _SAFE_KEY.sub("_", batch_key)[:120] or uuid.uuid4().hex
    return safe + SUFFIX


def write_spool(db_path: Path, table: pa.Table, batch_key: str, *, dropped: int = 0) -> Path:
    """Writes table as one spool file keyed by batch_key; returns its path. Raises OSError.

    dropped: spans the writer lost, added to ``dropped_spans`` when the file is drained.
    """
    folder = spool_dir(db_path)
    private_dir(folder)
    if not _ours(folder):
        raise OSError(
            errno.EPERM,
            f"{folder}: not a folder of this user's alone (another user's, or a symbolic link); "
            "the spool is not written there",
        )
    target = folder / _file_name(batch_key)
    tmp = folder / f".{target.name}.{os.getpid()}.{uuid.uuid4().hex[:8]}.tmp"
    meta = {_KEY_META: batch_key.encode()}
    if dropped:
        meta[_DROPPED_META] = str(dropped).encode()
    schema = table.schema.with_metadata(meta)
    fd = create_private(tmp)
    try:
        with (
            os.fdopen(fd, "wb") as out,
            pa.PythonFile(out, mode="w") as sink,
            pa.ipc.new_file(sink, schema) as writer,
        ):
            writer.write_table(table.replace_schema_metadata(schema.metadata))
        os.replace(tmp, target)
    except BaseException:
        try:
            tmp.unlink()
        except OSError:
            pass
        raise
    return target


def spooled_files(db_path: Path) -> list[Path]:
    """Spool files waiting to be drained, oldest first."""
    folder = spool_dir(db_path)
    if not _ours(folder):
        if os.path.lexists(folder) and folder not in _WARNED:
            _WARNED.add(folder)
            _log.warning(
                "seamscope: %s is not a folder of this user's alone (another user's, or a "
                "symbolic link): its files are not read into the store",
                folder,
            )
        return []
    try:
        entries = [
            p
            for p in folder.iterdir()
            if p.name.endswith(SUFFIX) and not p.name.startswith(".") and _own_file(p)
        ]
    except OSError:
        return []

    def mtime(p: Path) -> float:
        try:
            return p.stat().st_mtime
        except OSError:
            return 0.0

    return sorted(entries, key=mtime)


def spool_bytes(db_path: Path) -> int:
    """Bytes the spool holds now (files waiting and set aside)."""
    total = 0
    try:
        for entry in os.scandir(spool_dir(db_path)):
            try:
                total += entry.stat().st_size
            except OSError:
                pass
    except OSError:
        return 0
    return total


def _read(path: Path) -> tuple[pa.Table, str, int]:
    with pa.memory_map(str(path), "r") as source:
        table = pa.ipc.open_file(source).read_all()
    meta = table.schema.metadata or {}
    key = meta.get(_KEY_META)
    batch_key = key.decode() if key else path.name[: -len(SUFFIX)]
    dropped = int(meta.get(_DROPPED_META) or 0)
    return table.replace_schema_metadata(None), batch_key, max(dropped, 0)


def _set_aside(path: Path, reason: str) -> None:
    bad = path.with_name(path.name + BAD_SUFFIX)
    try:
        os.replace(path, bad)
    except FileNotFoundError:
        return
    except OSError as exc:
        _log.warning(
            "seamscope: spool file %s is unreadable (%s) and could not be set aside: %s",
            path,
            reason,
            exc,
        )
        return
    _log.warning("seamscope: spool file %s is unreadable (%s); kept as %s", path, reason, bad)


def drain_spool(store: Store) -> int:
    """Appends every spool file of store's path to it and deletes it; returns spans stored.

    Safe when two processes drain at once: appends are idempotent by batch key, and a file
    another drainer already removed is skipped.
    """
    stored = 0
    for path in spooled_files(store.path):
        try:
            table, batch_key, dropped = _read(path)
        except FileNotFoundError:
            continue
        except (OSError, pa.ArrowException, ValueError) as exc:
            _set_aside(path, str(exc).splitlines()[0] if str(exc) else type(exc).__name__)
            continue
        try:
            if table.num_rows:
                stored += store.append(table, batch_key=batch_key, source=SOURCE)
        except (
            pa.ArrowException,
            ValueError,
            TypeError,
            duckdb.ConstraintException,
            duckdb.ConversionException,
        ) as exc:
            # The file is readable but does not fit the schema: keep it for a human.
            _set_aside(path, f"does not fit the store: {exc}")
            continue
        try:
            path.unlink()
        except FileNotFoundError:
            continue  # another drainer took it (and counted what it says was dropped)
        if dropped:
            record_dropped(store, dropped)
    return stored


def record_dropped(store: Store, count: int) -> int:
    """Adds count to the store's ``seamscope_meta`` counter ``dropped_spans``; returns the total.

    Spans are dropped only when memory and the spool both failed; the count is kept so that
    the loss is visible (``select value from seamscope_meta where key = 'dropped_spans'``).
    """
    con = store.con
    private_wal(store.path)
    refuse_planted(store.path)
    with transaction(con):
        row = con.execute(
            "SELECT value FROM seamscope_meta WHERE key = ?", [DROPPED_KEY]
        ).fetchone()
        total = (int(row[0]) if row else 0) + count
        con.execute(
            "INSERT OR REPLACE INTO seamscope_meta VALUES (?, ?)", [DROPPED_KEY, str(total)]
        )
    return total
