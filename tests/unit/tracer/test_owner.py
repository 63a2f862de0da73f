"""Telling a live owner from an owner file it left behind (tracer/owner.py): the file records
the boot and the start of the process that wrote it, so a pid taken by another process since,
or a machine restarted since, is seen for what it is."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from seamscope.tracer import owner
from seamscope.tracer.errors import SeamscopeError
from seamscope.tracer.owner import find_owner, owner_file, publish, send_or_write
from seamscope.tracer.store import Store


def _needs_proc() -> None:
    if not Path(f"/proc/{os.getpid()}/stat").exists():
        pytest.skip("no /proc: an owner file records no process start here")


def _rewrite(db_path: Path, **changes: object) -> Path:
    path = owner_file(db_path)
    path.write_text(json.dumps({**json.loads(path.read_text()), **changes}))
    return path


def test_the_owner_file_records_the_boot_and_the_start_of_its_process(db_path: Path) -> None:
    _needs_proc()
    info = publish(db_path, "127.0.0.1", 1)
    record = json.loads(owner_file(db_path).read_text())
    boot_id = Path("/proc/sys/kernel/random/boot_id").read_text().strip()
    stat = Path("/proc/self/stat").read_text()
    assert record["boot_id"] == info.boot_id == boot_id
    assert record["start_ticks"] == info.start_ticks == int(stat.rsplit(")", 1)[1].split()[19])
    assert find_owner(db_path) == info


def test_a_pid_taken_by_another_process_is_no_owner_and_is_said_once(
    db_path: Path, bystander: int, caplog: pytest.LogCaptureFixture
) -> None:
    _needs_proc()
    publish(db_path, "127.0.0.1", 1)
    path = _rewrite(db_path, pid=bystander)
    assert find_owner(db_path) is None
    assert find_owner(db_path) is None
    said = [r.getMessage() for r in caplog.records if r.name == owner.__name__]
    assert said == [
        f"seamscope: ignoring {path}: its owner (pid {bystander}) is gone and another process "
        "has that pid now: a stale file, remove it"
    ]
    assert path.exists()  # never removed behind the user's back


def test_an_owner_file_from_before_a_restart_is_no_owner(
    db_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    _needs_proc()
    publish(db_path, "127.0.0.1", 1)
    path = _rewrite(db_path, boot_id="00000000-0000-0000-0000-000000000000")
    assert find_owner(db_path) is None
    assert caplog.records[-1].getMessage() == (
        f"seamscope: ignoring {path}: the machine has restarted since its owner "
        f"(pid {os.getpid()}) wrote it: a stale file, remove it"
    )


def test_an_owner_file_without_them_is_followed_while_its_pid_lives(
    db_path: Path, bystander: int
) -> None:
    """A file of an older seamscope, or written where /proc does not say: the pid is all
    there is to go by."""
    publish(db_path, "127.0.0.1", 1)
    _rewrite(db_path, pid=bystander, boot_id=None, start_ticks=None)
    found = find_owner(db_path)
    assert found is not None and found.pid == bystander
    record = json.loads(owner_file(db_path).read_text())
    del record["boot_id"], record["start_ticks"]
    owner_file(db_path).write_text(json.dumps(record))
    assert find_owner(db_path) == found


def test_an_owner_that_never_answers_a_write_is_a_clear_error(
    db_path: Path, bystander: int
) -> None:
    """What `seamscope discover` and an S3 ingest send through an owner (send_or_write)."""
    Store.open(db_path).close()
    publish(db_path, "127.0.0.1", 1)
    _rewrite(db_path, pid=bystander, boot_id=None, start_ticks=None)
    with pytest.raises(SeamscopeError) as raised:
        send_or_write(db_path, owner.ROUTES_PATH, [], lambda store: None)
    assert str(raised.value) == (
        f"{owner_file(db_path)}: the process it names as the store's owner (pid {bystander}) "
        "does not answer on port 1; if no `seamscope collect` or live TUI runs on this store, "
        "remove that file"
    )


def test_an_owner_renews_its_secret_once_for_each_change_to_its_file(db_path: Path) -> None:
    """Exposed or changed since the owner wrote it (a chmod undone, a rewrite), the file gets
    a new secret; left alone, or read, it keeps the one it has."""
    info = publish(db_path, "127.0.0.1", 1)
    path = owner_file(db_path)
    path.read_bytes()  # reading changes nothing
    assert owner.renew_if_exposed(db_path, info) is info
    path.chmod(0o640)
    path.chmod(0o600)
    renewed = owner.renew_if_exposed(db_path, info)
    assert renewed.secret != info.secret
    assert json.loads(path.read_text())["secret"] == renewed.secret
    assert owner.renew_if_exposed(db_path, renewed) is renewed  # its own new file: left alone
    os.utime(path)  # a write, as a tool that rewrites it in place makes one
    assert owner.renew_if_exposed(db_path, renewed).secret != renewed.secret
