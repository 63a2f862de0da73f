"""`seamscope ingest FILE` on every form the Collector's file exporter writes.

The files are laid out as the exporter lays them out (opentelemetry-collector-contrib,
`exporter/fileexporter`): `file_writer.go`'s `exportMessageAsBuffer` puts before each request
its length as 4 bytes, big-endian, and is used for `format: proto` and for JSON with
compression; `marshaller.go` compresses each request on its own (`compressor(buf)`, one zstd
frame); `compression_writer.go`, behind the `exporter.file.nativeCompression` gate, writes the
whole file as zstd frames one after another instead, JSON one request per line inside
(`exportMessageAsLine`). Every form must store the spans the plain JSON lines store.
"""

from __future__ import annotations

import gzip
import io
import random
from collections.abc import Callable
from pathlib import Path

import pytest

from seamscope.tracer import framing
from seamscope.tracer import ingest as ingest_module
from seamscope.tracer.ingest import expand_paths, ingest, iter_stream
from seamscope.tracer.otlp import protobuf_to_json
from seamscope.tracer.otlp.common import MAX_ZSTD_FRAMES, OtlpError, TooLarge, unzstd, zstd
from seamscope.tracer.receiver import Receiver
from seamscope.tracer.store import open_read_only
from tests.otlp_sample import sample_request

SEEDS = range(40, 46)


def _proto(seeds: range = SEEDS) -> list[bytes]:
    return [sample_request(4, seed=s).SerializeToString() for s in seeds]


def _json(seeds: range = SEEDS) -> list[bytes]:
    return [protobuf_to_json(p).encode() for p in _proto(seeds)]


def framed(messages: list[bytes], *, compress: bool = False) -> bytes:
    """As exportMessageAsBuffer writes them, each compressed first where marshaller.go does."""
    out = bytearray()
    for message in messages:
        if compress:
            message = zstd.compress(message)
        out += len(message).to_bytes(4, "big") + message
    return bytes(out)


def json_lines(messages: list[bytes]) -> bytes:
    return b"".join(m + b"\n" for m in messages)


def native_zstd(content: bytes, writes: int = 3) -> bytes:
    """compression_writer.go with rotation: each write a zstd frame of its own."""
    step = max(1, len(content) // writes)
    return b"".join(zstd.compress(content[i : i + step]) for i in range(0, len(content), step))


FORMS: dict[str, Callable[[], bytes]] = {
    "proto": lambda: framed(_proto()),
    "proto, zstd per request": lambda: framed(_proto(), compress=True),
    "json, zstd per request": lambda: framed(_json(), compress=True),
    "json framed": lambda: framed(_json()),
    "json lines, native zstd": lambda: native_zstd(json_lines(_json())),
    "proto, native zstd": lambda: native_zstd(framed(_proto())),
    "json lines, gzipped": lambda: gzip.compress(json_lines(_json())),
    "proto, gzipped": lambda: gzip.compress(framed(_proto())),
    "json lines, zstd -19": lambda: zstd.compress(json_lines(_json()), level=19),
}


def _spans(db: Path) -> list[tuple[object, ...]]:
    con = open_read_only(db)
    try:
        return con.execute(
            "SELECT * EXCLUDE (batch_id) FROM spans ORDER BY trace_id, span_id"
        ).fetchall()
    finally:
        con.close()


@pytest.fixture(scope="module")
def plain(tmp_path_factory: pytest.TempPathFactory) -> list[tuple[object, ...]]:
    folder = tmp_path_factory.mktemp("plain")
    path = folder / "traces.jsonl"
    path.write_bytes(json_lines(_json()))
    report = ingest(folder / "s.duckdb", [str(path)], workers=0)
    assert report.ok and report.spans_stored == 4 * len(SEEDS)
    return _spans(folder / "s.duckdb")


@pytest.mark.parametrize("form", list(FORMS))
@pytest.mark.parametrize("workers", [0, 2], ids=["here", "workers"])
def test_every_form_of_the_file_exporter_stores_what_json_lines_store(
    tmp_path: Path, plain: list[tuple[object, ...]], form: str, workers: int
) -> None:
    path = tmp_path / "traces"  # no suffix: the form is read from the bytes
    path.write_bytes(FORMS[form]())
    report = ingest(tmp_path / "s.duckdb", [str(path)], workers=workers)
    assert report.ok, report.errors
    assert (report.requests, report.spans_stored) == (len(SEEDS), 4 * len(SEEDS))
    assert _spans(tmp_path / "s.duckdb") == plain
    again = ingest(tmp_path / "s.duckdb", [str(path)], workers=workers)
    assert (again.spans_stored, again.spans_present) == (0, 4 * len(SEEDS))


def test_a_framed_file_cut_short_keeps_the_requests_before_and_says_where(
    tmp_path: Path,
) -> None:
    whole = framed(_proto())
    path = tmp_path / "traces.binpb"
    path.write_bytes(whole[:-10])  # the collector still writing the last request
    report = ingest(tmp_path / "s.duckdb", [str(path)], workers=0)
    assert (report.spans_stored, report.bad_requests) == (4 * (len(SEEDS) - 1), 1)
    assert len(report.errors) == 1
    assert report.errors[0].startswith(f"{path}:request {len(SEEDS)} at byte ")
    assert "cut short, or still being written" in report.errors[0]
    # Cut inside the 4 bytes of a length.
    path.write_bytes(whole + b"\x00\x00")
    report = ingest(tmp_path / "t.duckdb", [str(path)], workers=0)
    assert report.spans_stored == 4 * len(SEEDS) and report.bad_requests == 1
    assert "inside this request's 4-byte length" in report.errors[0]


def test_a_length_past_the_limit_stops_the_reading_with_a_message(tmp_path: Path) -> None:
    messages = _proto(range(1, 3))
    path = tmp_path / "traces.binpb"
    path.write_bytes(framed(messages) + (2**28 + 1).to_bytes(4, "big") + b"\x0a" * 100)
    report = ingest(tmp_path / "s.duckdb", [str(path)], workers=0)
    assert (report.spans_stored, report.bad_requests) == (8, 1)
    assert "more than a request may have" in report.errors[0]
    assert f"damaged at byte {len(framed(messages))}" in report.errors[0]


def test_a_request_that_is_no_zstd_is_skipped_and_the_rest_read(tmp_path: Path) -> None:
    good = [zstd.compress(m) for m in _proto(range(1, 4))]
    damaged = good[1][:8] + bytes(b ^ 0x5A for b in good[1][8:])
    path = tmp_path / "traces.binpb"
    path.write_bytes(framed([good[0], damaged, good[2]]))
    report = ingest(tmp_path / "s.duckdb", [str(path)], workers=0)
    assert (report.requests, report.spans_stored, report.bad_requests) == (3, 8, 1)
    assert report.errors[0].startswith(f"{path}:request 2 at byte ")
    assert "zstd" in report.errors[0]


@pytest.mark.parametrize("compression", ["gzip", "zstd"])
def test_a_compressed_file_cut_short_keeps_what_was_read(tmp_path: Path, compression: str) -> None:
    content = json_lines(_json())
    # zstd: one frame a request, as compression_writer.go writes them with rotation.
    packed = gzip.compress(content) if compression == "gzip" else native_zstd(content, len(SEEDS))
    path = tmp_path / "traces.jsonl.gz"
    path.write_bytes(packed[: len(packed) * 3 // 4])
    report = ingest(tmp_path / "s.duckdb", [str(path)], workers=0)
    assert not report.ok and report.bad_requests >= 1
    assert f"the {compression} stream ends before its end mark" in report.errors[-1]
    assert report.errors[-1].startswith(f"{path}: ")
    # What came whole before the cut is stored.
    assert 0 < report.spans_stored < 4 * len(SEEDS)


def test_a_damaged_gzip_file_is_named(tmp_path: Path) -> None:
    packed = bytearray(gzip.compress(json_lines(_json())))
    packed[20:40] = b"\xff" * 20
    path = tmp_path / "traces.jsonl.gz"
    path.write_bytes(bytes(packed))
    report = ingest(tmp_path / "s.duckdb", [str(path)], workers=0)
    assert not report.ok
    assert "the gzip stream is damaged" in report.errors[-1]


def test_a_file_that_inflates_past_the_limit_stops_there(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A small file that decompresses to one endless line: read up to the limit, then named,
    never held whole (the limit made small here; tests/resilience runs the real one)."""
    monkeypatch.setattr(ingest_module, "MAX_REQUEST_BYTES", 1 << 20)
    first = json_lines(_json(range(1, 2)))
    path = tmp_path / "bomb.jsonl.gz"
    path.write_bytes(gzip.compress(first + b"{" + b" " * (3 << 20) + b"\n"))
    report = ingest(tmp_path / "s.duckdb", [str(path)], workers=0)
    assert (report.spans_stored, report.bad_requests) == (4, 1)
    assert "the line starting on line 2 is longer than a request may be" in report.errors[0]


def test_zstd_is_decompressed_within_its_bounds() -> None:
    """unzstd, as a request of a file and a receiver's body (Content-Encoding: zstd) use it."""
    with pytest.raises(TooLarge):
        unzstd(zstd.compress(b"\0" * 5000), 4096)
    assert unzstd(zstd.compress(b"\0" * 4096), 4096) == b"\0" * 4096
    with pytest.raises(OtlpError, match="truncated"):
        unzstd(zstd.compress(b"x" * 5000)[:-4], 1 << 20)
    with pytest.raises(OtlpError, match="not valid zstd"):
        unzstd(zstd.compress(b"ab") + b"garbage", 1 << 20)
    assert unzstd(zstd.compress(b"ab") + zstd.compress(b"cd"), 4) == b"abcd"
    frames = b"".join(zstd.compress(b"x") for _ in range(MAX_ZSTD_FRAMES))
    assert unzstd(frames, 1 << 20) == b"x" * MAX_ZSTD_FRAMES
    with pytest.raises(OtlpError, match=f"more than {MAX_ZSTD_FRAMES} frames"):
        unzstd(frames + zstd.compress(b"x"), 1 << 20)
    # Frames of many pieces: a frame's end inside a piece, the next frame after it.
    noise = [random.Random(seed).randbytes(100_000) for seed in range(3)]
    assert unzstd(b"".join(zstd.compress(n) for n in noise), 1 << 20) == b"".join(noise)


def test_forms_are_read_from_the_first_bytes() -> None:

    def form(data: bytes) -> str:
        return framing.form_of(framing.peekable(io.BytesIO(data)))

    assert form(b"") == "empty"
    assert form(b'{"resourceSpans": []}') == "json"
    assert form(b"\n\n  {") == "json"
    assert form(b"\xef\xbb\xbf{") == "json"
    assert form(gzip.compress(b"x")) == "gzip"
    assert form(zstd.compress(b"x")) == "zstd"
    assert form(framed(_proto(range(1, 2)))) == "framed"
    assert form(b"\x00") == "framed"


def test_a_folder_is_searched_for_every_form_by_name(tmp_path: Path) -> None:
    names = ["a.json", "b.jsonl", "c.binpb", "d.pb", "e.zst", "f.jsonl.gz", "g.binpb.gz"]
    for name in [*names, "notes.txt", "h.txt.gz", "i"]:
        (tmp_path / name).write_bytes(b"")
    assert [p.name for p in expand_paths([str(tmp_path)]) if p is not None] == names


def test_a_problem_in_a_file_reaches_the_report_through_an_owner(
    db_path: Path, tmp_path: Path
) -> None:
    path = tmp_path / "traces.binpb"
    path.write_bytes(framed(_proto())[:-3])
    with Receiver(db_path, port=0) as r:
        report = ingest(db_path, [str(path)])
        assert report.via_owner == r.url
    assert (report.spans_stored, report.bad_requests) == (4 * (len(SEEDS) - 1), 1)
    assert "cut short, or still being written" in report.errors[0]


def test_iter_stream_reads_a_stream_that_cannot_peek() -> None:

    requests = list(iter_stream("x", io.BytesIO(framed(_proto(range(1, 3))))))
    assert [r.json_format for r in requests] == [False, False]
    assert requests[1].where == f"x:request 2 at byte {4 + len(_proto(range(1, 2))[0])}"


def test_compressed_files_count_for_the_work_they_hold_when_choosing_processes(
    tmp_path: Path,
) -> None:
    """The processes are chosen by the input's size: a compressed file holds some ten times its
    bytes in spans (5.3 MB of zstd requests held 100k spans, 49 MB as protobuf)."""
    forms = {
        "plain.binpb": framed(_proto()),
        "zstd.binpb": framed(_proto(), compress=True),
        "native.json": native_zstd(json_lines(_json())),
        "lines.jsonl.gz": gzip.compress(json_lines(_json())),
        "lines.jsonl": json_lines(_json()),
    }
    ratio = ingest_module.COMPRESSION_RATIO
    for name, data in forms.items():
        path = tmp_path / name
        path.write_bytes(data)
        compressed = name not in ("plain.binpb", "lines.jsonl")
        expected = len(data) * (ratio if compressed else 1)
        assert ingest_module.input_bytes([path], inflated=True) == expected, name
        assert ingest_module.input_bytes([path]) == len(data), name  # the progress bar's
