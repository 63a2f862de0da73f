"""tracer.handoff: span tables from decoder processes through files of a private folder."""

from __future__ import annotations

import os
import pickle
import stat
from collections.abc import Iterator
from pathlib import Path

import pyarrow as pa
import pytest

from seamscope.tracer import handoff
from seamscope.tracer.ingest import Decoded


def _table(rows: int = 1000) -> pa.Table:
    return pa.table({"n": list(range(rows)), "text": [f"span {i}" for i in range(rows)]})


@pytest.fixture
def worker(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    """This process as a worker of a pool whose folder is under tmp_path."""
    monkeypatch.setattr(handoff, "MEMORY_ROOT", str(tmp_path))
    monkeypatch.setattr(handoff, "MIN_FREE_BYTES", 0)
    with handoff.folder() as folder:
        handoff.use(folder)
        try:
            yield folder
        finally:
            handoff.use(None)


def test_a_table_goes_through_a_private_file_that_is_gone_once_taken(
    worker: str, tmp_path: Path
) -> None:
    assert Path(worker).parent == tmp_path
    assert stat.S_IMODE(os.stat(worker).st_mode) == 0o700
    table = _table()
    path = handoff.put(table)
    assert path is not None and Path(path).parent == Path(worker)
    taken = handoff.take(path)
    assert not Path(path).exists()
    assert taken.equals(table)  # still readable: the mapping outlives the name


def test_the_folder_goes_with_what_is_left_in_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(handoff, "MEMORY_ROOT", str(tmp_path))
    monkeypatch.setattr(handoff, "MIN_FREE_BYTES", 0)
    with handoff.folder() as folder:
        handoff.use(folder)
        try:
            assert handoff.put(_table()) is not None  # never taken
        finally:
            handoff.use(None)
    assert list(tmp_path.iterdir()) == []


def test_the_memory_root_only_with_room_else_the_temporary_folder(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(handoff, "MEMORY_ROOT", str(tmp_path))
    monkeypatch.setattr(handoff, "MIN_FREE_BYTES", 0)
    assert handoff._root() == str(tmp_path)
    monkeypatch.setattr(handoff, "MIN_FREE_BYTES", 1 << 62)
    assert handoff._root() is None
    monkeypatch.setattr(handoff, "MIN_FREE_BYTES", 0)
    monkeypatch.setattr(handoff, "MEMORY_ROOT", str(tmp_path / "missing"))
    assert handoff._root() is None


def test_a_decoded_request_crosses_through_the_folder(worker: str) -> None:
    decoded = Decoded("t.jsonl:3", "key", _table(), rejected=2, message="2 spans", origin="t")
    data = pickle.dumps(decoded)
    assert len(data) < 1000  # the file's name, not the table
    assert os.listdir(worker) != []
    back = pickle.loads(data)
    assert back == decoded and os.listdir(worker) == []


def test_without_a_folder_or_room_in_it_the_table_crosses_the_pipe(worker: str) -> None:
    decoded = Decoded("t.jsonl:3", "key", _table(), origin="t")
    os.rmdir(worker)  # the folder gone: a write fails as it would on a full tmpfs
    assert handoff.put(_table()) is None
    data = pickle.dumps(decoded)
    assert len(data) > 10_000  # the table itself
    assert pickle.loads(data) == decoded
    handoff.use(None)
    assert handoff.put(_table()) is None


def test_a_table_lost_on_the_way_is_reported_not_dropped(worker: str) -> None:
    decoded = Decoded("t.jsonl:3", "key", _table(), origin="t")
    data = pickle.dumps(decoded)
    for name in os.listdir(worker):
        os.unlink(os.path.join(worker, name))
    back = pickle.loads(data)
    assert back.table is None and back.where == "t.jsonl:3" and back.origin == "t"
    assert back.error is not None
    assert back.error.startswith("its decoded spans were lost on the way from the decoder")


def test_a_shipped_table_crosses_the_pipe_as_one_stream_and_arrives_as_the_table() -> None:
    table = _table()
    back = pickle.loads(pickle.dumps(handoff.Shipped(table)))
    assert isinstance(back, pa.Table) and back.equals(table)


def test_the_receivers_decoder_processes_ship_their_tables(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """decode_request in a decoder process (its initializer sets the flag) returns its table as
    Shipped, which the owner unpickles as the very table a decode in its own threads makes."""
    from seamscope.tracer import decoding as decode
    from tests.otlp_sample import sample_request

    body = sample_request(30, seed=4).SerializeToString()
    here = decode.decode_request(body, "identity", False, None, 1 << 20, False)
    monkeypatch.setattr(decode, "_in_decoder_process", True)
    there = decode.decode_request(body, "identity", False, None, 1 << 20, False)
    assert isinstance(there[1], handoff.Shipped)
    back = pickle.loads(pickle.dumps(there))
    assert back[0] == here[0] and back[2:] == here[2:]
    assert isinstance(back[1], pa.Table) and back[1].equals(here[1])


def test_folders_of_processes_gone_are_swept_before_a_new_one(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A killed ingest leaves its folder (on tmpfs it holds memory until the next boot): the
    next one removes it; a folder of a process still running, and anything else, stays."""
    import subprocess
    import sys

    monkeypatch.setattr(handoff, "MEMORY_ROOT", str(tmp_path))
    monkeypatch.setattr(handoff, "MIN_FREE_BYTES", 0)
    gone = subprocess.run(
        [sys.executable, "-c", "import os; print(os.getpid())"],
        capture_output=True,
        text=True,
        check=True,
    )
    here = handoff._namespace()
    dead = tmp_path / f"{handoff.PREFIX}{int(gone.stdout)}-{here}-abc"
    (dead / "sub").mkdir(parents=True)
    (dead / "1-0.arrow").write_bytes(b"x")
    alive = tmp_path / f"{handoff.PREFIX}{os.getpid()}-{here}-def"
    alive.mkdir()
    other = tmp_path / f"{handoff.PREFIX}notapid-{here}-ghi"
    other.mkdir()
    linked = tmp_path / f"{handoff.PREFIX}{int(gone.stdout)}-{here}-jkl"
    linked.symlink_to(alive)
    # The same pid numbered in another pid namespace (a container sharing /dev/shm): not ours
    # to look up, so not ours to remove.
    elsewhere = tmp_path / f"{handoff.PREFIX}{int(gone.stdout)}-{here}0-mno"
    elsewhere.mkdir()
    with handoff.folder() as made:
        assert Path(made).name.startswith(f"{handoff.PREFIX}{os.getpid()}-{here}-")
        assert not dead.exists()
        assert alive.is_dir() and other.is_dir() and linked.is_symlink()
        assert elsewhere.is_dir()
    assert not Path(made).exists()
