"""Where the process that owns a store listens, published in a file beside the store.

While a process owns the store (the receiver, the live TUI) no other process can open the file,
so exporters and commands that find an owner send to it instead. The file is
``<store>.owner.json``: {"pid", "host", "port", "url", "db", "started"}; an owner whose pid is
gone is stale and ignored.
"""

from __future__ import annotations

import json
import os
import time
from dataclasses import asdict, dataclass
from pathlib import Path

BATCH_KEY_HEADER = "X-Seamscope-Batch-Key"
SQL_PATH = "/seamscope/v1/sql"
TRACES_PATH = "/v1/traces"


@dataclass(frozen=True, slots=True)
class OwnerInfo:
    pid: int
    host: str
    port: int
    url: str
    db: str
    started: float

    @property
    def traces_url(self) -> str:
        return self.url + TRACES_PATH

    @property
    def sql_url(self) -> str:
        return self.url + SQL_PATH


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


def publish(db_path: Path, host: str, port: int) -> OwnerInfo:
    """Announces this process as the store's owner (atomically: write, then rename)."""
    connect_host = "127.0.0.1" if host in ("0.0.0.0", "") else ("::1" if host == "::" else host)
    url_host = f"[{connect_host}]" if ":" in connect_host else connect_host
    info = OwnerInfo(
        pid=os.getpid(),
        host=connect_host,
        port=port,
        url=f"http://{url_host}:{port}",
        db=str(db_path.resolve()),
        started=time.time(),
    )
    target = owner_file(db_path)
    tmp = target.with_name(f"{target.name}.{os.getpid()}.tmp")
    tmp.write_text(json.dumps(asdict(info)))
    os.replace(tmp, target)
    return info


def withdraw(db_path: Path) -> None:
    """Removes the owner file if this process wrote it."""
    target = owner_file(db_path)
    try:
        data = json.loads(target.read_text())
    except (OSError, ValueError):
        return
    if data.get("pid") == os.getpid():
        try:
            target.unlink()
        except OSError:
            pass


def find_owner(db_path: Path) -> OwnerInfo | None:
    """The live owner of the store, or None (no file, unreadable file, or its process is gone)."""
    try:
        data = json.loads(owner_file(db_path).read_text())
        info = OwnerInfo(
            pid=int(data["pid"]),
            host=str(data["host"]),
            port=int(data["port"]),
            url=str(data["url"]),
            db=str(data["db"]),
            started=float(data["started"]),
        )
    except (OSError, ValueError, KeyError, TypeError):
        return None
    if not _pid_alive(info.pid):
        return None
    return info
