from __future__ import annotations

import logging
import shutil
from pathlib import Path

import pyarrow as pa
import pytest

from seamscope.tracer.rows import SpanBatchBuilder
from seamscope.tracer.spool import (
    drain_spool,
    record_dropped,
    spool_dir,
    spooled_files,
    write_spool,
)
from seamscope.tracer.store import Store


def _table(n: int, tag: str = "s") -> pa.Table:
    builder = SpanBatchBuilder()
    for i in range(n):
        builder.add(
            trace_id=f"{i:032x}",
            span_id=f"{i:016x}",
            parent_span_id=None,
            name=f"{tag}-{i}",
            kind="CLIENT",
            start_ns=1_700_000_000_000_000_000 + i,
            end_ns=1_700_000_000_000_000_100 + i,
            status_code="UNSET",
            status_message=None,
            attributes={"aws.s3.bucket": "b"},
            resource={"service.name": "svc"},
            scope_name="t",
        )
    return builder.build()


def _count(db_path: Path) -> int:
    with Store.open(db_path) as store:
        row = store.con.execute("select count(*) from spans").fetchone()
        assert row is not None
        return int(row[0])


def test_spool_files_sit_beside_the_store_and_drain_once(db_path: Path) -> None:
    first = write_spool(db_path, _table(3, "a"), "key-1")
    write_spool(db_path, _table(2, "b"), "key/2 with odd chars")
    assert first.parent == spool_dir(db_path) == db_path.with_name("seamscope.duckdb.spool")
    assert not [p for p in spool_dir(db_path).iterdir() if p.name.endswith(".tmp")]
    keep = first.with_name("copy")
    shutil.copy(first, keep)
    with Store.open(db_path) as store:
        assert drain_spool(store) == 5
        assert spooled_files(db_path) == []
        keys = {r[0] for r in store.con.execute("select batch_key from batches").fetchall()}
        sources = {r[0] for r in store.con.execute("select source from batches").fetchall()}
    assert keys == {"key-1", "key/2 with odd chars"}
    assert sources == {"spool"}
    # The same file again (a crash between commit and delete, or a second drainer) adds nothing.
    shutil.move(keep, first)
    with Store.open(db_path) as store:
        assert drain_spool(store) == 0
    assert spooled_files(db_path) == []
    assert _count(db_path) == 5


def test_an_unreadable_file_is_set_aside_with_a_warning(
    db_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    write_spool(db_path, _table(1), "good")
    bad = spool_dir(db_path) / "broken.arrow"
    bad.write_bytes(b"not arrow at all")
    with caplog.at_level(logging.WARNING), Store.open(db_path) as store:
        assert drain_spool(store) == 1
    assert (spool_dir(db_path) / "broken.arrow.bad").exists()
    assert not bad.exists()
    assert "broken.arrow" in caplog.text


def test_a_file_that_does_not_fit_the_schema_is_set_aside(db_path: Path) -> None:
    write_spool(db_path, pa.table({"x": [1, 2]}), "alien")
    with Store.open(db_path) as store:
        assert drain_spool(store) == 0
    assert [p.name for p in spool_dir(db_path).iterdir()] == ["alien.arrow.bad"]


def test_no_spool_folder_drains_nothing(db_path: Path) -> None:
    with Store.open(db_path) as store:
        assert drain_spool(store) == 0


def test_spool_needs_the_stores_folder(tmp_path: Path) -> None:
    with pytest.raises(OSError):
        write_spool(tmp_path / "missing" / "s.duckdb", _table(1), "k")


def test_dropped_spans_are_counted_in_the_store(db_path: Path) -> None:
    with Store.open(db_path) as store:
        assert record_dropped(store, 3) == 3
        assert record_dropped(store, 4) == 7
        row = store.con.execute(
            "select value from seamscope_meta where key = 'dropped_spans'"
        ).fetchone()
    assert row == ("7",)


def test_a_file_another_drainer_took_meanwhile_is_skipped(
    db_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    kept = write_spool(db_path, _table(2), "kept")
    taken = write_spool(db_path, _table(1), "taken")
    listed = [taken, kept]
    taken.unlink()  # the other drainer appended and deleted it after we listed the folder
    monkeypatch.setattr("seamscope.tracer.spool.spooled_files", lambda _db: listed)
    with Store.open(db_path) as store:
        assert drain_spool(store) == 2
    assert not kept.exists()
