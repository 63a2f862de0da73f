"""`seamscope ingest` as a user runs it: files, folders, stdin, with and without an owner."""

from __future__ import annotations

import gzip
import json
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from seamscope.tracer.otlp import protobuf_to_json
from tests.e2e.test_collect import (
    PYTHON,
    SEAMSCOPE,
    children,
    span_count,
    start_collector,
)
from tests.otlp_sample import sample_request
from tests.unit.tracer.test_framing import framed, json_lines, native_zstd

pytestmark = pytest.mark.e2e


def run(*args: str, stdin: bytes | None = None) -> subprocess.CompletedProcess[bytes]:
    return subprocess.run([*SEAMSCOPE, *args], input=stdin, capture_output=True, timeout=120)


def write_lines(path: Path, seeds: range, spans: int = 8) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    lines = [protobuf_to_json(sample_request(spans, seed=s).SerializeToString()) for s in seeds]
    path.write_text("\n".join(lines) + "\n")


def test_file_twice_adds_nothing_the_second_time(db_path: Path, tmp_path: Path) -> None:
    traces = tmp_path / "traces.jsonl"
    write_lines(traces, range(5))
    first = run("ingest", "--db", str(db_path), str(traces))
    assert first.returncode == 0, first.stderr
    assert b"40 spans stored, 0 already present" in first.stdout
    second = run("ingest", "--db", str(db_path), str(traces))
    assert second.returncode == 0
    assert b"0 spans stored, 40 already present" in second.stdout
    assert span_count(db_path) == 40


def test_the_same_spans_in_other_bytes_are_stored_once(db_path: Path, tmp_path: Path) -> None:
    """A line that is a reformatted copy of one stored before (pretty-printed, its spans in
    another order, sent as protobuf to a collector) holds the same spans: stored once."""
    request = sample_request(8, seed=4)
    line = protobuf_to_json(request.SerializeToString())
    first = tmp_path / "first.jsonl"
    first.write_text(line + "\n")
    assert run("ingest", "--db", str(db_path), str(first)).returncode == 0
    copy = json.loads(line)
    copy["resourceSpans"][0]["scopeSpans"][0]["spans"].reverse()
    pretty = tmp_path / "pretty.json"
    pretty.write_text(json.dumps(copy, indent=2))
    done = run("ingest", "--db", str(db_path), str(pretty))
    assert done.returncode == 0, done.stderr
    assert b"0 spans stored, 8 already present" in done.stdout
    # Through a collector, as protobuf, with an exporter's own batch key.
    c = start_collector(db_path, tmp_path)
    try:
        headers = {"Content-Type": "application/x-protobuf", "X-Seamscope-Batch-Key": "exp:1"}
        assert c.post(request.SerializeToString(), headers)[0] == 200
        assert c.stop(signal.SIGTERM) == 0
    finally:
        c.process.stop()
    assert span_count(db_path) == 8
    # Other spans are stored, of course.
    write_lines(tmp_path / "other.jsonl", range(5, 6))
    done = run("ingest", "--db", str(db_path), str(tmp_path / "other.jsonl"))
    assert b"8 spans stored, 0 already present" in done.stdout
    assert span_count(db_path) == 16


def test_folder_and_stdin(db_path: Path, tmp_path: Path) -> None:
    folder = tmp_path / "export"
    write_lines(folder / "a.jsonl", range(0, 2))
    write_lines(folder / "nested" / "b.json", range(2, 3))
    pretty = folder / "pretty.json"
    pretty.write_text(
        json.dumps(
            json.loads(protobuf_to_json(sample_request(4, seed=9).SerializeToString())), indent=2
        )
    )
    done = run("ingest", "--db", str(db_path), str(folder))
    assert done.returncode == 0, done.stderr
    assert span_count(db_path) == 28
    data = (folder / "a.jsonl").read_bytes()
    for expected in (b"0 spans stored, 16 already present", b"0 spans stored, 16 already present"):
        piped = run("ingest", "--db", str(db_path), "-", stdin=data)
        assert piped.returncode == 0 and expected in piped.stdout
    assert span_count(db_path) == 28


def test_a_folder_of_every_form_the_file_exporter_writes(db_path: Path, tmp_path: Path) -> None:
    """format: proto (framed), compression: zstd (each request a zstd frame), the native zstd
    stream, and a rotated file gzipped afterwards (tests/unit/tracer/test_framing.py builds
    them as the exporter's source lays them out), in one folder and through stdin."""
    folder = tmp_path / "export"
    folder.mkdir()
    proto = [sample_request(8, seed=s).SerializeToString() for s in range(60, 68)]
    as_json = [protobuf_to_json(p).encode() for p in proto]
    (folder / "a.binpb").write_bytes(framed(proto[0:2]))
    (folder / "b.binpb").write_bytes(framed(proto[2:4], compress=True))
    (folder / "c.json").write_bytes(native_zstd(json_lines(as_json[4:6])))
    (folder / "d-2026-12-05T10-00-00.000.jsonl.gz").write_bytes(
        gzip.compress(json_lines(as_json[6:8]))
    )
    done = run("ingest", "--db", str(db_path), str(folder))
    assert done.returncode == 0, done.stderr
    assert b"8 requests read: 64 spans stored" in done.stdout
    assert span_count(db_path) == 64
    # The same requests piped in, in another form: the spans are there already.
    piped = run("ingest", "--db", str(db_path), "-", stdin=gzip.compress(framed(proto[0:2])))
    assert piped.returncode == 0 and b"0 spans stored, 16 already present" in piped.stdout


def test_bad_lines_missing_paths_and_locked_store(db_path: Path, tmp_path: Path) -> None:
    traces = tmp_path / "t.jsonl"
    write_lines(traces, range(3))
    with traces.open("a") as f:
        f.write(
            '{"resourceSpans": [{"resource": {}, '
            '"scopeSpans": [{"spans": [{"traceId": "ab"}]}]}]}\n'
        )
        f.write("not json\n")
    done = run("ingest", "--db", str(db_path), str(traces))
    assert done.returncode == 1
    errors = done.stderr.decode().splitlines()
    assert errors[0] == (
        f"seamscope: {traces}:4: resourceSpans[0].scopeSpans[0].spans[0].traceId: "
        "2 hex digits, want 32"
    )
    assert errors[1].startswith(f"seamscope: {traces}:5: not JSON")
    assert span_count(db_path) == 24
    missing = run("ingest", "--db", str(db_path), str(tmp_path / "nope.jsonl"))
    assert missing.returncode == 2
    assert missing.stderr.decode().splitlines() == [
        f"seamscope: {tmp_path / 'nope.jsonl'}: no such file or folder"
    ]
    with subprocess.Popen(  # closes its pipes on the way out
        [
            sys.executable,
            "-c",
            "import duckdb, sys; c = duckdb.connect(sys.argv[1]); print('ok', flush=True); "
            "sys.stdin.read()",
            str(db_path),
        ],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
    ) as holder:
        try:
            assert holder.stdout is not None and holder.stdout.readline().strip() == b"ok"
            locked = run("ingest", "--db", str(db_path), str(traces))
        finally:
            holder.kill()
    assert locked.returncode == 2
    assert locked.stderr.decode().splitlines() == [
        f"seamscope: {db_path}: the store is locked by process {holder.pid} ({PYTHON}), which "
        "has it open for writing: DuckDB lets no other process open it then, not even to read; "
        "run this again once it has closed it"
    ]


def test_ingest_through_a_live_collector(db_path: Path, tmp_path: Path) -> None:
    traces = tmp_path / "t.jsonl"
    write_lines(traces, range(4))
    c = start_collector(db_path, tmp_path)
    try:
        done = run("ingest", "--db", str(db_path), str(traces))
        assert done.returncode == 0, done.stderr
        assert f"through the owner at {c.url}".encode() in done.stdout
        assert b"32 spans stored" in done.stdout
        assert c.stop(signal.SIGTERM) == 0
    finally:
        c.process.stop()
    again = run("ingest", "--db", str(db_path), str(traces))
    assert b"0 spans stored, 32 already present" in again.stdout
    assert span_count(db_path) == 32


@pytest.mark.skipif(not Path("/proc/self/task").exists(), reason="reads /proc (Linux)")
def test_on_a_terminal_the_bar_shows_and_the_decoders_are_forked(
    db_path: Path, tmp_path: Path
) -> None:
    """`seamscope ingest` with stderr on a terminal draws its progress bar, and the decoder
    processes of a large file are forked as when it is piped: the bar starts no thread before
    them (rich's refresh thread did, and a process with another thread spawns its decoders, a
    new interpreter and its imports each)."""
    import os
    import pty
    import select

    from benchmarks.ingest import write_jsonl
    from seamscope.tracer.ingest import PROCESSES_FROM_BYTES

    source = tmp_path / "big.jsonl"
    count = write_jsonl(source, 20_000)
    assert source.stat().st_size >= PROCESSES_FROM_BYTES
    main, terminal = pty.openpty()
    argv = [*SEAMSCOPE, "ingest", "--db", str(db_path), str(source)]
    process = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=terminal)
    os.close(terminal)
    drawn = b""
    decoders: dict[int, bytes] = {}
    try:
        while process.poll() is None:
            for pid in children(process.pid):
                try:
                    decoders.setdefault(pid, Path(f"/proc/{pid}/cmdline").read_bytes())
                except OSError:
                    continue
            if select.select([main], [], [], 0.005)[0]:
                try:
                    drawn += os.read(main, 65536)
                except OSError:  # the terminal's other side closed
                    pass
        assert process.stdout is not None
        summary = process.stdout.read().decode()
    finally:
        if process.poll() is None:
            process.kill()
        process.wait(timeout=60)
        os.close(main)
        if process.stdout is not None:
            process.stdout.close()
    assert process.returncode == 0, drawn.decode(errors="replace")
    assert f"{count:,} spans stored" in summary, summary
    assert span_count(db_path) == count
    assert "━" in drawn.decode(errors="replace"), drawn  # rich's bar
    workers = {p: c for p, c in decoders.items() if b"resource_tracker" not in c}
    assert len(workers) >= 2, decoders
    spawned = [p for p, c in workers.items() if b"spawn_main" in c]
    assert not spawned, f"spawned decoders: {workers}"
