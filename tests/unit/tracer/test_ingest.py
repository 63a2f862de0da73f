from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import duckdb
import pytest

from seamscope.tracer.decoding import batch_key
from seamscope.tracer.errors import SeamscopeError
from seamscope.tracer.ingest import Batch, append_many, ingest
from seamscope.tracer.otlp import decode_protobuf, protobuf_to_json
from seamscope.tracer.receiver import Receiver
from seamscope.tracer.rows import SpanBatchBuilder
from seamscope.tracer.store import Store, StoreError, open_read_only
from tests.otlp_sample import sample_request


def _lines(seeds: range, spans: int = 5) -> list[str]:
    return [protobuf_to_json(sample_request(spans, seed=s).SerializeToString()) for s in seeds]


def _count(db: Path) -> tuple[int, int]:
    con = open_read_only(db)
    try:
        row = con.execute("SELECT count(*), count(DISTINCT batch_id) FROM spans").fetchall()[0]
        return int(row[0]), int(row[1])
    finally:
        con.close()


def _table(seed: int, n: int = 4) -> Batch:
    builder = SpanBatchBuilder()
    decode_protobuf(sample_request(n, seed=seed).SerializeToString(), builder)
    return Batch(builder.build(), f"k{seed}", "test")


def test_a_link_planted_where_the_wal_goes_between_commits_is_not_written_through(
    db_path: Path, tmp_path: Path
) -> None:
    """The receiver's writer keeps its store open: a checkpoint removes the WAL, and DuckDB
    opens it again by its name at the next commit, through a link planted there meanwhile."""
    precious = tmp_path / "precious.txt"
    precious.write_bytes(b"a file of the user's\n")
    wal = db_path.with_name(db_path.name + ".wal")
    with Store.open(db_path) as store:
        assert append_many(store, [_table(1)]) == [4]
        store.con.execute("CHECKPOINT")
        assert not wal.exists()  # the next commit opens it again, by its name
        wal.symlink_to(precious)
        with pytest.raises(StoreError, match="symbolic link where the store's WAL goes"):
            append_many(store, [_table(2)])
    assert precious.read_bytes() == b"a file of the user's\n"


def test_append_many_keeps_each_batch_idempotent(db_path: Path) -> None:
    with Store.open(db_path) as store:
        assert append_many(store, [_table(1), _table(2), _table(1)]) == [4, 4, 0]
        assert append_many(store, [_table(2), _table(3, 2)]) == [0, 2]
        rows = store.con.execute(
            "SELECT batch_key, span_count, source FROM batches ORDER BY batch_id"
        ).fetchall()
    assert rows == [("k1", 4, "test"), ("k2", 4, "test"), ("k3", 2, "test")]
    assert _count(db_path) == (10, 3)


def test_the_same_spans_under_another_key_are_a_repeat(db_path: Path) -> None:
    """A request's spans sent again in other bytes (reversed, as another request, under
    another key) store nothing; a part of them, or more, is other spans; without a key no
    batch is taken for a repeat."""
    first = _table(1)
    again = Batch(first.table.take(list(range(3, -1, -1))), "other", "test")
    with Store.open(db_path) as store:
        assert append_many(store, [first, again]) == [4, 0]
        assert append_many(store, [again]) == [0]
        part = Batch(first.table.slice(0, 3), "part", "test")
        assert append_many(store, [part]) == [3]
        assert append_many(store, [Batch(first.table, None, "test")]) == [4]
        rows = store.con.execute(
            "SELECT batch_key, spans_digest IS NOT NULL FROM batches ORDER BY batch_id"
        ).fetchall()
    assert rows == [("k1", True), ("part", True), (None, False)]
    assert _count(db_path)[0] == 11


def test_ingest_file_twice_folder_and_pretty_file(db_path: Path, tmp_path: Path) -> None:
    folder = tmp_path / "traces"
    (folder / "sub").mkdir(parents=True)
    (folder / "a.jsonl").write_text("\n".join(_lines(range(3))) + "\n\n")
    pretty = json.dumps(json.loads(_lines(range(10, 11))[0]), indent=2)
    (folder / "sub" / "b.json").write_text(pretty)
    (folder / "ignored.txt").write_text("not otlp")
    report = ingest(db_path, [str(folder / "a.jsonl")])
    assert (report.requests, report.spans_stored, report.spans_present) == (3, 15, 0)
    report = ingest(db_path, [str(folder)])
    assert (report.requests, report.spans_stored, report.spans_present) == (4, 5, 15)
    assert report.requests_present == 3 and report.ok
    assert _count(db_path) == (20, 4)


def test_bad_lines_are_located_and_the_good_ones_stored(db_path: Path, tmp_path: Path) -> None:
    good = _lines(range(2))
    bad_span = json.loads(_lines(range(5, 6), spans=2)[0])
    bad_span["resourceSpans"][0]["scopeSpans"][0]["spans"][0]["spanId"] = "xyz"
    path = tmp_path / "t.jsonl"
    path.write_text("\n".join([good[0], "{oops", json.dumps(bad_span), good[1]]) + "\n")
    report = ingest(db_path, [str(path)])
    assert not report.ok and report.bad_requests == 1 and report.spans_rejected == 1
    assert report.errors[0].startswith(f"{path}:2: not JSON")
    assert report.errors[1].startswith(f"{path}:3: resourceSpans[0].scopeSpans[0].spans[0].spanId")
    assert report.spans_stored == 11
    assert _count(db_path) == (11, 3)


def test_missing_path_and_empty_folder(db_path: Path, tmp_path: Path) -> None:
    with pytest.raises(SeamscopeError, match="no such file or folder"):
        ingest(db_path, [str(tmp_path / "nope.jsonl")])
    (tmp_path / "empty").mkdir()
    with pytest.raises(SeamscopeError, match="no trace files in this folder"):
        ingest(db_path, [str(tmp_path / "empty")])
    assert not db_path.exists()


def test_ingest_goes_through_a_live_owner(db_path: Path, tmp_path: Path) -> None:
    path = tmp_path / "t.jsonl"
    path.write_text("\n".join(_lines(range(20, 24))) + "\n{bad\n")
    with Receiver(db_path, port=0) as r:
        report = ingest(db_path, [str(path)])
        assert report.via_owner == r.url
        assert (report.spans_stored, report.bad_requests) == (20, 1)
        assert "t.jsonl:5: not JSON" in report.errors[0]
        again = ingest(db_path, [str(path)])
        assert (again.spans_stored, again.spans_present) == (0, 20)
    # The owner used the same batch keys as a local load: loading locally adds nothing.
    local = ingest(db_path, [str(path)])
    assert local.via_owner is None and (local.spans_stored, local.spans_present) == (0, 20)


def test_decoding_in_worker_processes_gives_the_same_result(db_path: Path, tmp_path: Path) -> None:
    path = tmp_path / "t.jsonl"
    lines = _lines(range(30, 36))
    path.write_text("\n".join([*lines[:3], "{oops", *lines[3:]]) + "\n")
    report = ingest(db_path, [str(path)], workers=2)
    assert (report.requests, report.spans_stored, report.bad_requests) == (7, 30, 1)
    assert report.errors == [
        f"{path}:4: not JSON: Expecting property name enclosed in double quotes at line 1 column 2"
    ]
    again = ingest(db_path, [str(path)], workers=1)
    assert (again.spans_stored, again.spans_present) == (0, 30)
    assert _count(db_path) == (30, 6)


def test_chunks_decoded_here_while_the_workers_start_keep_their_order(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """One request per chunk: while the worker processes start, this process decodes the chunks
    after those queued for them; the store is the one a load in this process alone makes, batch
    ids (the input order) included."""
    from seamscope.tracer import ingest as ingest_module

    monkeypatch.setattr(ingest_module, "_CHUNK_BYTES", 1)
    path = tmp_path / "t.jsonl"
    path.write_text("\n".join(_lines(range(40, 80), spans=3)) + "\n")
    stores = {n: tmp_path / f"{n}.duckdb" for n in (0, 2)}
    for workers, db in stores.items():
        report = ingest(db, [str(path)], workers=workers, use_owner=False)
        assert (report.requests, report.spans_stored) == (40, 120)
    con = duckdb.connect()
    try:
        con.execute(f"ATTACH '{stores[0]}' AS here (READ_ONLY)")
        con.execute(f"ATTACH '{stores[2]}' AS other (READ_ONLY)")
        for query in (
            "SELECT * FROM here.spans EXCEPT ALL SELECT * FROM other.spans",
            "SELECT * FROM other.spans EXCEPT ALL SELECT * FROM here.spans",
            "SELECT batch_id, batch_key FROM here.batches EXCEPT ALL "
            "SELECT batch_id, batch_key FROM other.batches",
        ):
            assert con.execute(query).fetchall() == []
    finally:
        con.close()


def test_large_inputs_are_decoded_on_every_core_by_default(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from seamscope.tracer import ingest as ingest_module

    monkeypatch.setattr(ingest_module, "cores", lambda: 2)
    big = ingest_module.PROCESSES_FROM_BYTES
    assert ingest_module.default_workers(big) == 2
    assert ingest_module.default_workers(big - 1) == 0  # done before processes would start
    assert ingest_module.default_workers(None) == 0  # stdin: its size is not known
    monkeypatch.setattr(ingest_module, "cores", lambda: 1)
    assert ingest_module.default_workers(10 * big) == 0


def test_ingest_picks_processes_by_the_size_of_its_files(
    db_path: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A folder past the size decodes in processes; the same spans are stored."""
    from seamscope.tracer import ingest as ingest_module

    path = tmp_path / "t.jsonl"
    path.write_text("\n".join(_lines(range(40, 43))) + "\n")
    used: list[int] = []
    real = ingest_module._decode_in_processes

    def spy(requests: Any, sink: Any, pool: Any, workers: int) -> None:
        used.append(workers)
        real(requests, sink, pool, workers)

    monkeypatch.setattr(ingest_module, "_decode_in_processes", spy)
    monkeypatch.setattr(ingest_module, "cores", lambda: 2)
    assert ingest(db_path, [str(path)]).spans_stored == 15
    assert used == []
    monkeypatch.setattr(ingest_module, "PROCESSES_FROM_BYTES", path.stat().st_size)
    other = tmp_path / "u.jsonl"
    other.write_text("\n".join(_lines(range(43, 45))) + "\n")
    assert ingest(db_path, [str(other), str(path)]).spans_stored == 10
    assert used == [2]
    assert _count(db_path) == (25, 5)


def test_decoding_goes_on_while_the_writer_appends(
    db_path: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The first group's append waits until a request after that group has been decoded: with
    the appends in this thread (before the writer thread) the ingest stops there and the append
    gives up. The store is the same as ever."""
    import threading

    from seamscope.tracer import ingest as ingest_module

    monkeypatch.setattr(ingest_module, "_FLUSH_SPANS", 10)  # two requests of 5 spans a group
    monkeypatch.setattr(ingest_module, "_PART_SPANS", 5)  # inserted one request at a time
    decoded: list[str] = []
    later = threading.Event()
    real_decode = ingest_module.decode_one
    real_insert = ingest_module.insert_batches

    def decode(request: Any, builder: Any = None, flat: bool = True) -> Any:
        decoded.append(request.where)
        if len(decoded) > 2:
            later.set()
        return real_decode(request, builder, flat)

    def insert(con: Any, batches: Any, seen: set[str]) -> Any:
        if not later.is_set():
            assert later.wait(30), "nothing was decoded while the first group was appended"
        return real_insert(con, batches, seen)

    monkeypatch.setattr(ingest_module, "decode_one", decode)
    monkeypatch.setattr(ingest_module, "insert_batches", insert)
    path = tmp_path / "t.jsonl"
    path.write_text("\n".join(_lines(range(50, 56))) + "\n")
    report = ingest(db_path, [str(path)], workers=0, use_owner=False)
    assert (report.requests, report.spans_stored, report.ok) == (6, 30, True)
    assert _count(db_path) == (30, 6)
    con = open_read_only(db_path)
    try:
        wheres = [f"{path}:{n}" for n in range(1, 7)]
        assert decoded == wheres
        keys = con.execute("SELECT batch_key FROM batches ORDER BY batch_id").fetchall()
    finally:
        con.close()
    lines = path.read_bytes().splitlines()
    assert [k[0] for k in keys] == [batch_key(line) for line in lines]


def test_a_failed_append_is_raised_and_a_rerun_stores_the_rest(
    db_path: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The writer's error reaches the caller, as one line with the store's path and what was
    stored before it (the disk full, the folder not writable for the WAL: a traceback before,
    twice, the second from the ROLLBACK of the transaction the failed COMMIT had ended); what
    was committed before it stays, nothing is stored twice on the rerun."""
    from seamscope.tracer import ingest as ingest_module

    monkeypatch.setattr(ingest_module, "_FLUSH_SPANS", 10)  # two requests of 5 spans a group
    monkeypatch.setattr(ingest_module, "_PART_SPANS", 5)
    real_insert = ingest_module.insert_batches
    calls: list[int] = []

    def insert(con: Any, batches: Any, seen: set[str]) -> Any:
        calls.append(len(batches))
        if len(calls) == 3:  # the second group's first request, the first committed
            raise duckdb.IOException("disk full (a test)")
        return real_insert(con, batches, seen)

    monkeypatch.setattr(ingest_module, "insert_batches", insert)
    path = tmp_path / "t.jsonl"
    path.write_text("\n".join(_lines(range(60, 68))) + "\n")
    with pytest.raises(SeamscopeError) as caught:
        ingest(db_path, [str(path)], workers=0, use_owner=False)
    assert str(caught.value) == (
        f"{db_path}: cannot write the store: disk full (a test) "
        "(10 spans stored before it; the rest were not)"
    )
    assert _count(db_path) == (10, 2)
    monkeypatch.setattr(ingest_module, "insert_batches", real_insert)
    again = ingest(db_path, [str(path)], workers=0, use_owner=False)
    assert (again.spans_stored, again.spans_present, again.requests_present) == (30, 10, 2)
    assert _count(db_path) == (40, 8)


@pytest.mark.parametrize("part_spans", [5, 8_192], ids=["parts-inserted-before-commit", "whole"])
def test_ctrl_c_leaves_whole_commits_and_a_rerun_takes_the_rest(
    db_path: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, part_spans: int
) -> None:
    """Ctrl-C (KeyboardInterrupt in this thread) while the writer holds groups: it is raised,
    the store opens again and holds whole groups only (a group's requests inserted before its
    commit are rolled back); the rerun completes it."""
    from seamscope.tracer import ingest as ingest_module

    monkeypatch.setattr(ingest_module, "_FLUSH_SPANS", 10)
    monkeypatch.setattr(ingest_module, "_PART_SPANS", part_spans)
    lines = _lines(range(70, 80))
    requests = [
        ingest_module.Request(f"t.jsonl:{n}", line.encode()) for n, line in enumerate(lines, 1)
    ]

    def interrupted() -> Any:
        yield from requests[:7]
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        ingest_module.load(db_path, interrupted(), use_owner=False)
    spans, batches = _count(db_path)
    assert spans == 5 * batches and batches in (0, 2, 4, 6)
    report = ingest_module.load(db_path, iter(requests), use_owner=False)
    assert report.spans_stored == 50 - spans and report.spans_present == spans
    assert _count(db_path) == (50, 10)


_FORK_SCRIPT = """
import multiprocessing, sys, threading
from pathlib import Path
from seamscope.tracer import handoff, ingest

methods = []
real = multiprocessing.get_context

def spy(method=None):
    methods.append(method)
    return real(method)

ingest.multiprocessing.get_context = spy
# The tables come back through files of a folder under this test's own (not /dev/shm, which
# other tests share): count them, and see the folder gone afterwards.
handoff.MEMORY_ROOT = sys.argv[4]
taken = []
real_take = handoff.take

loaded = {}  # decoder process -> whether it maps DuckDB, seen while it works

def take(path):
    taken.append(path)
    for child in multiprocessing.active_children():
        try:
            loaded[child.pid] = "duckdb" in Path(f"/proc/{child.pid}/maps").read_text()
        except OSError:
            pass
    return real_take(path)

handoff.take = take
if sys.argv[3] == "thread":
    stop = threading.Event()
    threading.Thread(target=stop.wait).start()
report = ingest.ingest(Path(sys.argv[1]), [sys.argv[2]], workers=2, use_owner=False)
if sys.argv[3] == "thread":
    stop.set()
if sys.argv[3] == "twice":  # right after the first: its threads have only just ended
    again = Path(sys.argv[1]).with_suffix(".again.duckdb")
    ingest.ingest(again, [sys.argv[2]], workers=2, use_owner=False)
print(methods, report.spans_stored, report.requests)
print(len(taken), sorted(Path(sys.argv[4]).iterdir()))
print(sorted(set(loaded.values())), "duckdb" in Path("/proc/self/maps").read_text())
"""


@pytest.mark.skipif(not Path("/proc/self/task").is_dir(), reason="Linux's /proc tells threads")
def test_decoder_processes_are_forked_only_while_no_other_thread_runs(tmp_path: Path) -> None:
    """In a process of one thread the decoders are forked, before the store opens (DuckDB's
    threads would be threads too), also for an ingest right after another (whose threads the
    system may still be tearing down); with another thread alive they are spawned. Both load
    the rows a load in one process makes, the tables coming back through files of a folder
    that is gone afterwards (tracer.handoff). A spawned decoder loads no DuckDB: it imports
    tracer.ingest_worker, not the ingest and its store."""
    import subprocess
    import sys

    from seamscope.tracer.ingest import start_method

    path = tmp_path / "t.jsonl"
    path.write_text("\n".join(_lines(range(90, 100), spans=4)) + "\n")
    stores = {mode: tmp_path / f"{mode}.duckdb" for mode in ("alone", "thread", "twice")}
    methods = {"alone": "['fork']", "thread": "['spawn']", "twice": "['fork', 'fork']"}
    for mode, db in stores.items():
        root = tmp_path / f"handoff-{mode}"
        root.mkdir()
        done = subprocess.run(
            [sys.executable, "-c", _FORK_SCRIPT, str(db), str(path), mode, str(root)],
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert done.returncode == 0, done.stderr
        first, handed, maps, _ = done.stdout.split("\n")
        assert first == f"{methods[mode]} 40 10"
        if mode == "thread":  # spawned: a new interpreter that imported what it runs
            assert maps == "[False] True", maps  # this process maps DuckDB: the check looks
        # Every request a worker decoded came through a file (this process may decode a few
        # itself while the workers start); nothing is left behind.
        assert handed.endswith(" []") and int(handed.split()[0]) > 0, handed
    here = tmp_path / "here.duckdb"
    assert ingest(here, [str(path)], workers=0, use_owner=False).spans_stored == 40
    con = duckdb.connect()
    try:
        con.execute(f"ATTACH '{here}' AS here (READ_ONLY)")
        for name, db in stores.items():
            con.execute(f"ATTACH '{db}' AS {name} (READ_ONLY)")
            for a, b in (("here", name), (name, "here")):
                assert (
                    con.execute(
                        f"SELECT * FROM {a}.spans EXCEPT ALL SELECT * FROM {b}.spans"
                    ).fetchall()
                    == []
                )
                assert (
                    con.execute(
                        f"SELECT batch_id, batch_key, source, span_count FROM {a}.batches "
                        "EXCEPT ALL "
                        f"SELECT batch_id, batch_key, source, span_count FROM {b}.batches"
                    ).fetchall()
                    == []
                )
        held = duckdb.connect(str(tmp_path / "held.duckdb"))  # DuckDB's threads run now
        try:
            assert start_method() == "spawn"
        finally:
            held.close()
    finally:
        con.close()


def test_workers_read_their_own_lines_of_a_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A file of one request per line goes to the workers as runs of whole lines they read
    themselves: the same requests, numbered as iter_requests numbers them (blank lines, CRLF,
    a line longer than a run, no newline at the end), and the same store and errors as a load
    in this process."""
    from seamscope.tracer import ingest as ingest_module

    lines = _lines(range(100, 110), spans=3)
    size = len(lines[0])
    monkeypatch.setattr(ingest_module, "_CHUNK_BYTES", size + size // 2)
    body = "\n".join([lines[0], "", lines[1] + "\r", "  ", *lines[2:5], "{oops", lines[5]])
    body += "\n" + "\n".join(lines[6:9]) + "\n\n" + lines[9]  # no newline at the end
    path = tmp_path / "t.jsonl"
    path.write_bytes(body.encode())
    parts = list(ingest_module.iter_parts([path]))
    runs = [p for p in parts if isinstance(p, ingest_module.Lines)]
    assert len(runs) == len(parts) > 3
    assert sum(p.length for p in runs) == path.stat().st_size
    read = [r for p in runs for r in p.requests()]
    assert read == list(ingest_module.iter_requests([path]))
    reports = {}
    stores = {n: tmp_path / f"{n}.duckdb" for n in (0, 2)}
    for workers, db in stores.items():
        reports[workers] = ingest(db, [str(path)], workers=workers, use_owner=False)
    assert reports[0] == reports[2]
    assert (reports[2].requests, reports[2].spans_stored, reports[2].bad_requests) == (11, 30, 1)
    assert reports[2].errors[0].startswith(f"{path}:8: not JSON")
    con = duckdb.connect()
    try:
        con.execute(f"ATTACH '{stores[0]}' AS here (READ_ONLY)")
        con.execute(f"ATTACH '{stores[2]}' AS other (READ_ONLY)")
        for a, b in (("here", "other"), ("other", "here")):
            for query in (
                f"SELECT * FROM {a}.spans EXCEPT ALL SELECT * FROM {b}.spans",
                f"SELECT batch_id, batch_key, source, span_count FROM {a}.batches EXCEPT ALL "
                f"SELECT batch_id, batch_key, source, span_count FROM {b}.batches",
            ):
                assert con.execute(query).fetchall() == []
    finally:
        con.close()


def test_lines_of_a_file_replaced_or_cut_since_are_not_read(tmp_path: Path) -> None:
    from seamscope.tracer import ingest as ingest_module

    path = tmp_path / "t.jsonl"
    path.write_text("\n".join(_lines(range(110, 113))) + "\n")
    (part,) = ingest_module.iter_parts([path])
    assert isinstance(part, ingest_module.Lines) and len(part.requests()) == 3
    path.write_text(path.read_text()[:-10])  # the same file, shorter
    with pytest.raises(SeamscopeError, match="t.jsonl: changed while it was read"):
        part.requests()
    other = tmp_path / "u.jsonl"
    other.write_text("\n".join(_lines(range(110, 113))) + "\n")
    other.replace(path)  # another file by that name, as a log rotation leaves it
    with pytest.raises(SeamscopeError, match="t.jsonl: changed while it was read"):
        part.requests()
    path.unlink()
    with pytest.raises(SeamscopeError, match="t.jsonl: cannot read"):
        part.requests()


def test_a_decoded_request_crosses_processes_as_an_arrow_ipc_stream() -> None:
    """A worker's answer carries each table as an Arrow IPC stream (cheaper than pickling the
    table); what arrives is the same table, schema metadata included, and the same Decoded."""
    import pickle

    import pyarrow as pa

    from seamscope.tracer.ingest import Decoded, Request, decode_one

    body = _lines(range(120, 121), spans=6)[0].encode()
    decoded = decode_one(Request("t.jsonl:1", body))
    assert decoded.table is not None and decoded.table.num_rows == 6
    _, fields = decoded.__reduce__()
    stream = fields[2]
    assert isinstance(stream, pa.Buffer)
    assert pa.ipc.open_stream(stream).read_all().equals(decoded.table)
    back = pickle.loads(pickle.dumps(decoded))
    assert back.table is not None
    assert back.table.schema.equals(decoded.table.schema, check_metadata=True)
    assert back == decoded
    bad = Decoded("t.jsonl:2", "k", None, error="not JSON")
    assert pickle.loads(pickle.dumps(bad)) == bad


@pytest.mark.parametrize(("blank", "compressed"), [(3, True), (4, True), (4, False)])
def test_a_run_of_blank_lines_past_the_bound_ends_a_compressed_file(
    monkeypatch: pytest.MonkeyPatch, blank: int, compressed: bool
) -> None:
    """Inflated from gzip, a run of more than MAX_BLANK_LINES blank lines ends the reading with
    a problem placed where the run began; a file as it is on disk is read to its end."""
    import gzip
    import io

    from seamscope.tracer import ingest as module

    monkeypatch.setattr(module, "MAX_BLANK_LINES", 3)
    request = protobuf_to_json(sample_request(1, seed=3).SerializeToString()).encode()
    data = request + b"\n" * (blank + 1) + request + b"\n"
    body = gzip.compress(data) if compressed else data
    read = list(module.iter_stream("f", io.BytesIO(body)))
    if compressed and blank > 3:
        assert [r.where for r in read] == ["f:1", "f:2"]
        assert read[1].problem is not None and "from line 2" in read[1].problem
    else:
        assert [(r.where, r.problem) for r in read] == [("f:1", None), (f"f:{blank + 2}", None)]


def test_a_compressed_file_that_starts_with_too_many_blank_lines(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    import gzip
    import io

    from seamscope.tracer import ingest as module

    monkeypatch.setattr(module, "MAX_BLANK_LINES", 3)
    request = protobuf_to_json(sample_request(1, seed=3).SerializeToString()).encode()
    read = list(module.iter_stream("f", io.BytesIO(gzip.compress(b"\n" * 4 + request))))
    assert [r.where for r in read] == ["f:1"] and "from line 1" in str(read[0].problem)
    read = list(module.iter_stream("f", io.BytesIO(gzip.compress(b"\n" * 3 + request))))
    assert [(r.where, r.problem) for r in read] == [("f:4", None)]


_COLLECTOR_SCRIPTS = {
    "ingest": """
import gc, sys
from seamscope.tracer.ingest import _decoder_pool
with _decoder_pool(1) as pool:
    print(pool.submit(gc.get_threshold).result(), pool.submit(gc.get_freeze_count).result() > 0)
print(gc.get_threshold(), gc.get_freeze_count())
""",
    "receiver": """
import gc, sys
from seamscope.tracer.receiver.decode import Decoders
decoders = Decoders(1, 1)
pool = decoders._pool
print(pool.submit(gc.get_threshold).result(), pool.submit(gc.get_freeze_count).result() > 0)
decoders.shutdown()
print(gc.get_threshold(), gc.get_freeze_count())
""",
}


@pytest.mark.parametrize("pool", sorted(_COLLECTOR_SCRIPTS))
def test_decoder_processes_freeze_what_they_inherit_and_collect_less(pool: str) -> None:
    """The decoder processes of an ingest and of the receiver freeze what they inherit and
    raise the young threshold (decoding.fewer_collections); the process that runs the ingest
    or the receiver keeps its collector as it was. Run in a process of its own, as each is."""
    import subprocess
    import sys

    from seamscope.tracer.decoding import YOUNG_COLLECTION

    done = subprocess.run(
        [sys.executable, "-c", _COLLECTOR_SCRIPTS[pool]],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    import gc

    worker, here = done.stdout.splitlines()
    assert worker == f"{(YOUNG_COLLECTION, *gc.get_threshold()[1:])} True"
    assert here == f"{gc.get_threshold()} 0"
