"""Files seamscope creates are the user's alone: 0600 files and 0700 folders, whatever the
umask. The store, its WAL, the spool and the owner file hold spans and a secret.

The exporter runs inside someone else's service, so the process umask is not ours to change
there; these helpers give every file its mode at creation instead (never a chmod after the
fact, which leaves a moment when another user can open it).
"""

from __future__ import annotations

import os
import secrets
import stat
from pathlib import Path
from typing import IO, Any

FILE_MODE = 0o600
DIR_MODE = 0o700
_NOFOLLOW = getattr(os, "O_NOFOLLOW", 0)


def private_umask() -> None:
    """Adds 077 to this process's umask: for seamscope's own processes (the CLI), so that
    whatever they and DuckDB create is private too (a WAL remade after each checkpoint, the
    spill folder, exports)."""
    os.umask(os.umask(0o077) | 0o077)


def open_private(path: Path, flags: int = os.O_WRONLY) -> int:
    """A file descriptor of a file created 0600 (or an existing one: mode untouched)."""
    return os.open(path, flags | os.O_CREAT | _NOFOLLOW, FILE_MODE)


def create_private(path: Path) -> int:
    """A file descriptor of a new file, 0600; FileExistsError when path exists."""
    return os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | _NOFOLLOW, FILE_MODE)


def private_dir(path: Path) -> None:
    """Makes the folder 0700, or takes from one of ours what others may do in it."""
    try:
        path.mkdir(mode=DIR_MODE)
        return
    except FileExistsError:
        pass
    st = path.lstat()
    if (
        stat.S_ISDIR(st.st_mode)
        and st.st_uid == os.geteuid()
        and st.st_mode & (stat.S_IRWXG | stat.S_IRWXO)
    ):
        os.chmod(path, stat.S_IMODE(st.st_mode) & DIR_MODE)  # never adds a permission


def private_dirs(path: Path) -> None:
    """Makes path and the folders missing on the way to it, each 0700 (Path.mkdir's parents
    get the umask's mode); a folder that is there already is left as it is."""
    missing = []
    while not path.exists() and path != path.parent:
        missing.append(path)
        path = path.parent
    for folder in reversed(missing):
        private_dir(folder)


def private_file(path: Path, mode: str) -> IO[Any]:
    """path opened to write ("w", "a", "ab"), created 0600 whatever the umask, never through a
    link; one of ours that is there already loses what others may do with it."""
    flags = os.O_WRONLY | (os.O_APPEND if mode.startswith("a") else os.O_TRUNC)
    fd = open_private(path, flags)
    try:
        st = os.fstat(fd)
        if st.st_uid == os.geteuid() and st.st_mode & (stat.S_IRWXG | stat.S_IRWXO):
            os.fchmod(fd, stat.S_IMODE(st.st_mode) & FILE_MODE)
        if "b" in mode:
            return os.fdopen(fd, mode)
        return os.fdopen(fd, mode, encoding="utf-8")
    except BaseException:
        os.close(fd)
        raise


def replace_private(path: Path, data: bytes) -> None:
    """Writes path whole or not at all: a new 0600 file beside it, then a rename over it. A
    reader that finds the file (a test or a script waiting for the demo's demo.json, another
    process reading the owner file) never reads it half written or empty."""
    tmp = path.with_name(f".{path.name}.{os.getpid()}.{secrets.token_hex(4)}.tmp")
    fd = create_private(tmp)
    try:
        with os.fdopen(fd, "wb") as out:
            out.write(data)
        os.replace(tmp, path)
    except BaseException:
        try:
            tmp.unlink()
        except OSError:
            pass
        raise


def wal_path(db_path: Path) -> Path:
    return db_path.with_name(db_path.name + ".wal")


def private_wal(db_path: Path) -> bool:
    """Before a write: DuckDB makes its WAL (removed at every checkpoint) with the umask's
    mode, but writes to one that is already there, so an empty 0600 one is made first. Only
    while holding the store read-write (DuckDB removes an empty WAL when it opens a store).
    True when this call made it (`drop_unused_wal` takes it back if nothing was written)."""
    try:
        os.close(create_private(wal_path(db_path)))
    except OSError:
        return False  # there already (DuckDB's, or ours), or the folder refuses: DuckDB will say
    return True


def drop_unused_wal(db_path: Path) -> None:
    """Removes the empty WAL `private_wal` made for a write that never came (a file refused
    before anything was written to it must be left as it was found)."""
    wal = wal_path(db_path)
    try:
        if wal.stat().st_size == 0:
            wal.unlink()
    except OSError:
        pass  # gone already, or DuckDB's own by now
