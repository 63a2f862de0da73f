"""Span tables handed from decoder processes to the store's process through files.

A table a worker process returns through multiprocessing's pipe is copied five times: into an
Arrow IPC stream, into the pickle, into the pipe, out of it, and into the parent's buffer (and
the parent reads it in chunks of system calls). Here the worker writes the IPC stream once, to
a file (0600) of a folder (0700) made for the pool, in memory (tmpfs) where the system has room
there, and sends the file's name; the parent maps the file (no copy) and removes its name at
once, so the table's memory goes when the table does. About 2.4 us of CPU per span less,
counting both sides (docs/performance.md, "Ingest of OTLP JSON files").

Nothing is lost when the folder cannot take a table (full, gone): `put` says so and the caller
sends the table through the pipe as before.
"""

from __future__ import annotations

import contextlib
import itertools
import os
import shutil
import stat
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pyarrow as pa
import pyarrow.ipc

from seamscope.tracer.private import create_private

__all__ = ["Shipped", "folder", "from_ipc", "put", "sweep", "take", "to_ipc", "use"]

MEMORY_ROOT = "/dev/shm"
"""Linux's tmpfs for every user: files there never touch a disk."""
MIN_FREE_BYTES = 512 * 1024 * 1024
"""The room MEMORY_ROOT must have to be used: a container's is often 64 MB, less than one group
of decoded spans waiting for the store; on disk a file that lives a second costs little more."""

_folder: str | None = None
_names = itertools.count()


def _root() -> str | None:
    """MEMORY_ROOT when it has room, else None (the system's temporary folder)."""
    try:
        status = os.statvfs(MEMORY_ROOT)
    except (OSError, AttributeError):  # no such folder; no statvfs (Windows)
        return None
    if status.f_bavail * status.f_frsize < MIN_FREE_BYTES or not os.access(
        MEMORY_ROOT, os.W_OK | os.X_OK
    ):
        return None
    return MEMORY_ROOT


PREFIX = "seamscope-handoff-"
"""A folder's name: PREFIX, the pid of the process that made it, "-", the pid namespace that pid
is numbered in, "-", mkdtemp's letters."""


def _namespace() -> str:
    """The pid namespace of this process (its inode number), "" where none can be read. Two
    containers can share one /dev/shm (the containers of a Kubernetes pod share their IPC
    namespace) while numbering their pids apart: a pid means something only in its own."""
    try:
        return str(os.stat("/proc/self/ns/pid").st_ino)
    except OSError:
        return ""


@contextlib.contextmanager
def folder() -> Iterator[str]:
    """A new folder for one pool of workers, 0700 (mkdtemp), removed with what is left in it.
    Folders that killed processes left behind (`sweep`) go first."""
    root = _root()
    sweep(root or tempfile.gettempdir())
    path = tempfile.mkdtemp(prefix=f"{PREFIX}{os.getpid()}-{_namespace()}-", dir=root)
    try:
        yield path
    finally:
        shutil.rmtree(path, ignore_errors=True)


def sweep(root: str) -> None:
    """Removes from root the folders of this user that a process now gone made (one killed
    before its end: SIGKILL, the OOM killer); on tmpfs they would hold their memory until the
    next boot. A folder whose process still runs, or whose pid was reused, stays; so does one
    made in another pid namespace, whose pid this process cannot look up."""
    if os.name != "posix":
        return  # os.kill(pid, 0) would end the process on Windows
    try:
        entries = list(os.scandir(root))
    except OSError:
        return
    namespace = _namespace()
    for entry in entries:
        pid, _, rest = entry.name[len(PREFIX) :].partition("-")
        made_in, _, letters = rest.partition("-")
        if (
            not entry.name.startswith(PREFIX)
            or not pid.isdigit()
            or made_in != namespace
            or not letters
        ):
            continue
        try:
            status = entry.stat(follow_symlinks=False)
        except OSError:
            continue
        if stat.S_ISDIR(status.st_mode) and status.st_uid == os.geteuid() and not _alive(int(pid)):
            shutil.rmtree(entry.path, ignore_errors=True)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except OSError:  # another user's process: alive
        return True
    return True


def use(path: str | None) -> None:
    """In a worker process (its pool's initializer): hand tables over through path."""
    global _folder
    _folder = path


def put(table: pa.Table) -> str | None:
    """In a worker: table written to a new file of the folder, and its name; None when this
    process has no folder or the file could not be written (the caller sends the table
    through the pipe)."""
    if _folder is None:
        return None
    path = os.path.join(_folder, f"{os.getpid()}-{next(_names)}.arrow")
    try:
        os.close(create_private(Path(path)))  # 0600 whatever the umask; then written
        with pa.OSFile(path, "wb") as sink, pa.ipc.new_stream(sink, table.schema) as writer:
            writer.write_table(table)
    except OSError:
        with contextlib.suppress(OSError):
            os.unlink(path)
        return None
    return path


def take(path: str) -> pa.Table:
    """In the parent: the table put wrote to path, mapped, not copied; the file's name is
    removed either way. OSError or pyarrow's ArrowException when it cannot be read."""
    try:
        with pa.memory_map(path) as source:
            return pa.ipc.open_stream(source).read_all()
    finally:
        with contextlib.suppress(OSError):
            os.unlink(path)


def to_ipc(table: pa.Table) -> pa.Buffer:
    """table as one Arrow IPC stream in memory."""
    sink = pa.BufferOutputStream()
    with pa.ipc.new_stream(sink, table.schema) as writer:
        writer.write_table(table)
    return sink.getvalue()


def from_ipc(data: pa.Buffer) -> pa.Table:
    """The table of an IPC stream to_ipc made, read without a copy."""
    return pa.ipc.open_stream(data).read_all()


class Shipped:
    """A table a worker process returns through the pipe: pickled as one IPC stream, unpickled
    as the table itself. About half the CPU, on each side, of pyarrow's own pickling of a table
    (a buffer per column and chunk); for the receiver's decoder processes, whose requests are
    too small and too many for a file each."""

    __slots__ = ("table",)

    def __init__(self, table: pa.Table) -> None:
        self.table = table

    def __reduce__(self) -> tuple[object, tuple[pa.Buffer]]:
        return from_ipc, (to_ipc(self.table),)
