"""Private files made in a process whose umask is not seamscope's to set (a traced service):
the store, its WAL after every checkpoint, the spool."""

from __future__ import annotations

import os
import stat
from collections.abc import Iterator
from pathlib import Path

import pyarrow as pa
import pytest

from seamscope.tracer.private import (
    private_dir,
    private_dirs,
    private_file,
    replace_private,
    wal_path,
)
from seamscope.tracer.rows import SpanBatchBuilder
from seamscope.tracer.spool import record_dropped, spool_dir, write_spool
from seamscope.tracer.store import Store


@pytest.fixture
def open_umask() -> Iterator[None]:
    old = os.umask(0)
    try:
        yield
    finally:
        os.umask(old)


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def _table(seed: int) -> pa.Table:
    builder = SpanBatchBuilder()
    builder.add(
        trace_id=f"{seed:032x}",
        span_id=f"{seed + 1:016x}",
        parent_span_id=None,
        name="n",
        kind="SERVER",
        start_ns=1,
        end_ns=2,
        status_code="UNSET",
        status_message=None,
        attributes={},
        resource={"service.name": "s"},
        scope_name=None,
    )
    return builder.build()


@pytest.mark.usefixtures("open_umask")
def test_the_store_and_every_wal_are_private(tmp_path: Path) -> None:
    db = tmp_path / "s.duckdb"
    with Store.open(db) as store:
        assert _mode(db) == 0o600
        for i in range(3):
            store.append(_table(i), batch_key=f"b{i}", source="test")
            assert _mode(wal_path(db)) == 0o600
            store.con.execute("CHECKPOINT")  # removes the WAL: the next write makes another
            assert not wal_path(db).exists()
        record_dropped(store, 2)
        assert _mode(wal_path(db)) == 0o600
    with Store.open(db) as store:
        assert store.con.execute("select count(*) from spans").fetchall() == [(3,)]


@pytest.mark.usefixtures("open_umask")
def test_spool_files_and_folder_are_private(tmp_path: Path) -> None:
    db = tmp_path / "s.duckdb"
    path = write_spool(db, _table(1), "k")
    assert (_mode(spool_dir(db)), _mode(path)) == (0o700, 0o600)


def test_a_folder_of_ours_that_others_can_enter_is_narrowed(tmp_path: Path) -> None:
    folder = tmp_path / "spool"
    folder.mkdir()
    folder.chmod(0o755)
    private_dir(folder)
    assert _mode(folder) == 0o700


@pytest.mark.usefixtures("open_umask")
def test_private_files_and_folders_whatever_the_umask(tmp_path: Path) -> None:
    """What the demo writes its run folder, logs, landscape and state with."""
    run = tmp_path / "a" / "b"
    private_dirs(run)
    assert _mode(tmp_path / "a") == _mode(run) == 0o700
    with private_file(run / "x.log", "ab") as log:
        log.write(b"one\n")
    with private_file(run / "x.log", "a") as text:
        text.write("two\n")
    assert (run / "x.log").read_text() == "one\ntwo\n" and _mode(run / "x.log") == 0o600
    old = run / "demo.json"
    old.write_text("a longer text than the new one")
    old.chmod(0o644)  # left by a run under another umask
    with private_file(old, "w") as out:
        out.write("{}")
    assert old.read_text() == "{}" and _mode(old) == 0o600
    (run / "link").symlink_to(tmp_path / "elsewhere")
    with pytest.raises(OSError):
        private_file(run / "link", "w")
    assert not (tmp_path / "elsewhere").exists()
    tmp_path.chmod(0o755)
    private_dirs(tmp_path)  # there already: left as it is
    assert _mode(tmp_path) == 0o755


def test_a_replaced_file_is_whole_for_a_reader_that_holds_the_old_one(tmp_path: Path) -> None:
    """replace_private writes a new 0600 file and renames it over the old: a reader that opened
    the old file (or found it, as a test waiting for demo.json did) never sees it truncated or
    half written, and nothing is left beside it."""
    old = tmp_path / "demo.json"
    old.write_text('{"old": true}')
    held = tmp_path / "held"
    os.link(old, held)  # the old file as an open reader holds it
    previous = os.umask(0)
    try:
        replace_private(old, b'{"new": true}')
    finally:
        os.umask(previous)
    assert held.read_text() == '{"old": true}'
    assert old.read_text() == '{"new": true}' and _mode(old) == 0o600
    assert sorted(p.name for p in tmp_path.iterdir()) == ["demo.json", "held"]
