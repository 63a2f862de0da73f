"""Where the process that owns a store listens, published in a file beside the store.

While a process owns the store (the receiver, the live TUI) no other process can open the file,
so exporters and commands that find an owner send to it instead. The file is
``<store>.owner.json``: {"pid", "host", "port", "url", "db", "started", "secret", "boot_id",
"start_ticks"}, private to the user (0600). The secret is what the owner's endpoints other than
OTLP intake ask for, so only that user can query the store through it. A file is followed only
when it is a regular file of this user that nobody else can write (another local user could
otherwise point our exporters and queries at a listener of theirs) or read (its secret would be
theirs too); an owner that finds its file readable by others, or changed since it wrote it,
publishes a new secret in a new private file (`renew_if_exposed`), so the one others could read
is worth nothing. An owner
whose pid is gone is stale and ignored, and so is one whose pid another process has taken
since: boot_id and start_ticks (Linux) tell the process that wrote the file from any other that
has its pid.
"""

from __future__ import annotations

import dataclasses
import json
import logging
import os
import secrets
import stat
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from seamscope.tracer.errors import SeamscopeError
from seamscope.tracer.private import replace_private
from seamscope.tracer.store import Store, StoreLocked, short_lock

_log = logging.getLogger(__name__)

BATCH_KEY_HEADER = "X-Seamscope-Batch-Key"
SECRET_HEADER = "X-Seamscope-Secret"
CLIENT_HEADER = "X-Seamscope-Client"
SQL_PATH = "/seamscope/v1/sql"
TRACES_PATH = "/v1/traces"
ROUTES_PATH = "/seamscope/v1/aws-routes"
OBJECTS_PATH = "/seamscope/v1/s3-objects"
_POST_TIMEOUT_S = 60.0
_MAX_FILE_BYTES = 64 * 1024


@dataclass(frozen=True, slots=True)
class OwnerInfo:
    pid: int
    host: str
    port: int
    url: str
    db: str
    started: float
    secret: str = field(default="", repr=False)
    boot_id: str | None = None
    """The machine's boot (Linux: /proc/sys/kernel/random/boot_id) when the owner wrote the file."""
    start_ticks: int | None = None
    """When the owner process started, in clock ticks since that boot (Linux: /proc/PID/stat)."""
    classifies: bool = True
    """Whether the owner classifies what it stores (`seamscope collect` without --no-classify);
    a file without it (an older seamscope) is taken to say so."""

    @property
    def traces_url(self) -> str:
        return self.url + TRACES_PATH

    @property
    def sql_url(self) -> str:
        return self.url + SQL_PATH

    def headers(self) -> dict[str, str]:
        """What a request to the owner carries to prove it comes from the store's user."""
        return {SECRET_HEADER: self.secret} if self.secret else {}


def owner_file(db_path: Path) -> Path:
    return db_path.with_name(db_path.name + ".owner.json")


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


_BOOT_ID = Path("/proc/sys/kernel/random/boot_id")


def _boot_id() -> str | None:
    try:
        return _BOOT_ID.read_text().strip() or None
    except OSError:
        return None


def _start_ticks(pid: int) -> int | None:
    """When the process started, in clock ticks since boot; None where /proc does not say."""
    try:
        text = Path(f"/proc/{pid}/stat").read_text()
        # pid (comm) state ppid ...: starttime is the 22nd field, the 20th after the name.
        return int(text[text.rindex(")") + 2 :].split()[19])
    except (OSError, ValueError, IndexError):
        return None


def _not_its_writer(info: OwnerInfo) -> str | None:
    """Why the live process info.pid provably is not the one that wrote the owner file (its
    pid was taken since), or None when it may be."""
    if info.boot_id is None or info.start_ticks is None:
        return None  # a file of an older seamscope, or written where /proc does not say
    boot = _boot_id()
    if boot is not None and boot != info.boot_id:
        return (
            f"the machine has restarted since its owner (pid {info.pid}) wrote it: a stale file, "
            "remove it"
        )
    ticks = _start_ticks(info.pid)
    if boot is not None and ticks is not None and ticks != info.start_ticks:
        return (
            f"its owner (pid {info.pid}) is gone and another process has that pid now: a stale "
            "file, remove it"
        )
    return None


def write_private(path: Path, data: bytes) -> None:
    """Writes path atomically (a new 0600 file, then a rename), whatever the umask; remembers
    the file as it left it (renew_if_exposed)."""
    replace_private(path, data)
    try:
        _written[str(path)] = _as_written(os.lstat(path))
    except OSError:
        _written.pop(str(path), None)


_written: dict[str, tuple[int, int, int, int]] = {}
"""The owner files this process wrote, each as it left it (_as_written)."""


def _as_written(st: os.stat_result) -> tuple[int, int, int, int]:
    """What tells the file this process wrote from anything done to it since: the same inode,
    with the same mode and status change time (a chmod, a chown, a write or a new link all
    change the ctime, and the kernel alone sets it)."""
    return st.st_dev, st.st_ino, st.st_mode, st.st_ctime_ns


def publish(db_path: Path, host: str, port: int, *, classifies: bool = True) -> OwnerInfo:
    """Announces this process as the store's owner, with a new secret."""
    connect_host = "127.0.0.1" if host in ("0.0.0.0", "") else ("::1" if host == "::" else host)
    url_host = f"[{connect_host}]" if ":" in connect_host else connect_host
    info = OwnerInfo(
        pid=os.getpid(),
        host=connect_host,
        port=port,
        url=f"http://{url_host}:{port}",
        db=str(db_path.resolve()),
        started=time.time(),
        secret=secrets.token_urlsafe(32),
        boot_id=_boot_id(),
        start_ticks=_start_ticks(os.getpid()),
        classifies=classifies,
    )
    target = owner_file(db_path)
    try:
        write_private(target, json.dumps(asdict(info)).encode())
    except OSError as exc:
        raise SeamscopeError(
            f"{target}: cannot publish this process as the store's owner ({exc.strerror or exc})"
        ) from None
    return info


def withdraw(db_path: Path) -> None:
    """Removes the owner file if this process wrote it."""
    target = owner_file(db_path)
    data = _read_trusted(target)
    if data is None or data.get("pid") != os.getpid():
        return
    try:
        target.unlink()
    except OSError:
        pass


_warned: set[tuple[str, str]] = set()


def _distrust(path: Path, reason: str) -> None:
    """Says once per file and reason why an owner file is ignored."""
    if (str(path), reason) in _warned:
        return
    _warned.add((str(path), reason))
    _log.warning("seamscope: ignoring %s: %s", path, reason)


def untrusted_reason(st: os.stat_result) -> str | None:
    """Why a file with this status must not be followed, or None when it may."""
    if not stat.S_ISREG(st.st_mode):
        return "it is not a regular file"
    uid = getattr(os, "geteuid", None)
    if uid is not None and st.st_uid != uid():
        return f"it belongs to another user (uid {st.st_uid})"
    if st.st_mode & (stat.S_IWGRP | stat.S_IWOTH):
        return f"other users can write it (mode {stat.S_IMODE(st.st_mode):o})"
    if st.st_mode & (stat.S_IRGRP | stat.S_IROTH):
        return (
            f"other users can read it (mode {stat.S_IMODE(st.st_mode):o}), and with it the "
            "secret that guards the store's owner; a running owner replaces it with a private "
            "file of a new secret once it notices, else remove the file"
        )
    return None


def renew_if_exposed(db_path: Path, info: OwnerInfo) -> OwnerInfo:
    """info, or, when its owner file lets other users read it (a chmod, a copy, a tool that
    rewrote it) or may have let them since this process wrote it (it is no longer the file it
    wrote, as it wrote it: a chmod undone, a rewrite through a copy others could read), info
    with a new secret, published in a new private file in its place: the secret others could
    read no longer opens anything. Said in the log once each time. One lstat: the receiver
    calls it before it answers each request that needs the secret."""
    path = owner_file(db_path)
    try:
        st = os.lstat(path)
    except OSError:
        return info
    uid = getattr(os, "geteuid", None)
    if not stat.S_ISREG(st.st_mode) or (uid is not None and st.st_uid != uid()):
        return info
    exposed = st.st_mode & (stat.S_IRGRP | stat.S_IROTH)
    written = _written.get(str(path))
    if not exposed and (written is None or written == _as_written(st)):
        return info
    mode = stat.S_IMODE(st.st_mode)
    # Renewed in any case: nobody of the user's follows a file others can read, so refusing
    # the old secret costs the user nothing, even where the new file cannot be written.
    renewed = dataclasses.replace(info, secret=secrets.token_urlsafe(32))
    try:
        write_private(path, json.dumps(asdict(renewed)).encode())
    except OSError as exc:
        _written[str(path)] = _as_written(st)  # renewed once for this change
        if (str(path), "exposed") not in _warned:
            _warned.add((str(path), "exposed"))
            _log.warning(
                "%s: other users can or could read it (mode %o): its secret no longer opens this "
                "owner's SQL endpoint, and a private file with a new one cannot be written "
                "(%s); seamscope commands cannot query through this owner until it restarts",
                path,
                mode,
                exc.strerror or exc,
            )
        return renewed
    if exposed:
        _log.warning(
            "%s: other users could read it (mode %o), and with it the secret of this owner's "
            "SQL endpoint: a new secret is published in a private file (0600) in its place",
            path,
            mode,
        )
    else:
        _log.warning(
            "%s: changed since this owner wrote it (a chmod, a rewrite): other users may have "
            "read the secret of its SQL endpoint meanwhile: a new secret is published in a "
            "private file (0600) in its place",
            path,
        )
    return renewed


def _read_trusted(path: Path) -> dict[str, object] | None:
    """The owner file's JSON object, or None when it is missing, unreadable or untrusted."""
    flags = os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_NONBLOCK", 0)
    try:
        fd = os.open(path, flags)
    except FileNotFoundError:
        return None
    except OSError as exc:
        _distrust(path, f"cannot open it ({exc.strerror or exc}; a symbolic link is not followed)")
        return None
    try:
        reason = untrusted_reason(os.fstat(fd))
        if reason is not None:
            _distrust(path, reason)
            return None
        raw = os.read(fd, _MAX_FILE_BYTES)
    except OSError:
        return None
    finally:
        os.close(fd)
    try:
        data = json.loads(raw)
    except ValueError:
        return None
    return data if isinstance(data, dict) else None


def find_owner(db_path: Path) -> OwnerInfo | None:
    """The live owner of the store, or None (no file, an untrusted or unreadable one, or its
    process is gone: its pid ended, or was taken by another process, which is said once)."""
    path = owner_file(db_path)
    data = _read_trusted(path)
    if data is None:
        return None
    boot_id, start_ticks = data.get("boot_id"), data.get("start_ticks")
    try:
        info = OwnerInfo(
            pid=int(data["pid"]),  # type: ignore[call-overload]
            host=str(data["host"]),
            port=int(data["port"]),  # type: ignore[call-overload]
            url=str(data["url"]),
            db=str(data["db"]),
            started=float(data["started"]),  # type: ignore[arg-type]
            secret=str(data.get("secret") or ""),
            boot_id=None if boot_id is None else str(boot_id),
            start_ticks=None if start_ticks is None else int(str(start_ticks)),
            classifies=data.get("classifies") is not False,
        )
    except (ValueError, KeyError, TypeError):
        return None
    if not _pid_alive(info.pid):
        return None
    reason = _not_its_writer(info)
    if reason is not None:
        _distrust(path, reason)
        return None
    return info


class OwnerUnreachable(SeamscopeError):
    """The owner did not answer (it may be going away)."""


def unanswered(db_path: Path, owner: OwnerInfo) -> OwnerUnreachable:
    """The error for an owner that never answered: which file names it, and what to do."""
    return OwnerUnreachable(
        f"{owner_file(db_path)}: the process it names as the store's owner (pid {owner.pid}) "
        f"does not answer on port {owner.port}; if no `seamscope collect` or live TUI runs on "
        "this store, remove that file"
    )


def refusal(exc: urllib.error.HTTPError) -> str:
    """Why the owner refused a request: the "error" of its JSON answer, else its text."""
    detail = exc.read()
    try:
        return str(json.loads(detail)["error"])
    except (ValueError, KeyError, TypeError):
        return detail.decode("utf-8", "replace").strip()[:300] or str(exc)


def post_json(owner: OwnerInfo, path: str, payload: Any) -> Any:
    """Posts JSON to one of the owner's endpoints and returns its JSON answer.

    Raises OwnerUnreachable when nothing answers, SeamscopeError with the owner's reason when it
    refuses.
    """
    request = urllib.request.Request(
        owner.url + path,
        data=json.dumps(payload).encode(),
        headers={"Content-Type": "application/json", **owner.headers()},
        method="POST",
    )
    try:
        with urllib.request.urlopen(request, timeout=_POST_TIMEOUT_S) as response:
            body = response.read()
    except urllib.error.HTTPError as exc:
        raise SeamscopeError(
            f"the owner at {owner.url} (pid {owner.pid}) refused: {refusal(exc)}"
        ) from None
    except (urllib.error.URLError, OSError) as exc:
        raise OwnerUnreachable(f"the owner at {owner.url} does not answer ({exc})") from None
    try:
        return json.loads(body) if body else None
    except ValueError:
        raise SeamscopeError(f"the owner at {owner.url} answered no JSON") from None


def send_or_write(
    db_path: Path, path: str, payload: Any, write: Callable[[Store], object]
) -> OwnerInfo | None:
    """Records to the store: posted to the owner's endpoint at path while one holds it, else
    written by write under the short lock. Returns the owner it went through, if any."""
    silent: OwnerInfo | None = None
    for _ in range(3):
        owner = find_owner(db_path)
        if owner is not None:
            try:
                post_json(owner, path, payload)
            except OwnerUnreachable:
                silent = owner
                continue  # it is going away: the store is free in a moment
            return owner
        try:
            with short_lock(db_path) as store:
                write(store)
        except StoreLocked:
            if find_owner(db_path) is None:
                raise
            continue  # an owner started meanwhile: send to it
        return None
    if silent is not None:
        raise unanswered(db_path, silent)
    raise SeamscopeError(f"{db_path}: the store's owner does not answer")
