"""Compressed files built to exhaust `seamscope ingest`: a few hundred kilobytes that inflate
to one endless line, or to one request far past the limit. The real command in a real process
reads up to MAX_REQUEST_BYTES of it, names the file and the place, stores the requests before
it, and exits 1 without a traceback; its peak memory stays a small multiple of the limit
however far the file would inflate."""

from __future__ import annotations

import gzip
import zlib
from pathlib import Path

import pytest

from seamscope.tracer.framing import MAX_REQUEST_BYTES
from seamscope.tracer.otlp import protobuf_to_json
from seamscope.tracer.otlp.common import zstd
from tests.e2e.test_collect import SEAMSCOPE
from tests.otlp_sample import sample_request
from tests.resilience.peak import run_measured

pytestmark = pytest.mark.e2e

INFLATED = 4 * MAX_REQUEST_BYTES  # what the bombs would take whole: 1 GiB


def _ingest(path: Path, db: Path) -> tuple[int, str, int]:
    """Exit status, its output (standard error, then standard output) and the peak RSS of the
    command in bytes (its own)."""
    return run_measured(
        [*SEAMSCOPE, "ingest", str(path), "--db", str(db), "--jobs", "0"],
        path.with_name(path.name + ".out"),
    )


def _first_request() -> bytes:
    return protobuf_to_json(sample_request(3, seed=7).SerializeToString()).encode()


def _stops_at_the_limit(path: Path, problem: str) -> None:
    """The command on path stores the first request (3 spans), names the bomb with problem,
    exits 1 without a traceback, and never holds the inflated file."""
    status, out, peak = _ingest(path, path.with_suffix(".duckdb"))
    assert status == 1, out
    assert "Traceback" not in out
    assert problem in out
    assert "2 requests read: 3 spans stored" in out
    assert peak < 3 * MAX_REQUEST_BYTES + 512 * 1024 * 1024, f"peak RSS {peak:,} bytes"


def test_a_gzip_file_that_inflates_to_one_endless_line(tmp_path: Path) -> None:
    path = tmp_path / "bomb.jsonl.gz"
    packer = zlib.compressobj(9, zlib.DEFLATED, 16 + zlib.MAX_WBITS)
    with path.open("wb") as out:
        out.write(packer.compress(_first_request() + b"\n{"))
        block = b" " * (1 << 20)
        for _ in range(INFLATED // len(block)):
            out.write(packer.compress(block))
        out.write(packer.compress(b"}\n") + packer.flush())
    assert path.stat().st_size < 2 * 1024 * 1024
    _stops_at_the_limit(
        path, f"{path}:2: the line starting on line 2 is longer than a request may be"
    )


@pytest.mark.parametrize("line", [b"\n", b" " * (1 << 20) + b"\n"], ids=["empty", "spaces"])
def test_a_gzip_file_that_inflates_to_endless_blank_lines(tmp_path: Path, line: bytes) -> None:
    # Each line is short, so no request bound stops the reading: the run of blank lines does,
    # by their number (a billion empty lines) or their bytes (lines of a mebibyte of spaces).
    path = tmp_path / "blank.jsonl.gz"
    packer = zlib.compressobj(9, zlib.DEFLATED, 16 + zlib.MAX_WBITS)
    with path.open("wb") as out:
        out.write(packer.compress(_first_request() + b"\n"))
        block = line * max(1, (1 << 20) // len(line))
        for _ in range(INFLATED // len(block)):
            out.write(packer.compress(block))
        out.write(packer.compress(_first_request() + b"\n") + packer.flush())
    assert path.stat().st_size < 4 * 1024 * 1024
    _stops_at_the_limit(path, f"{path}:2: more than 1,000,000 blank lines")


def test_a_framed_request_that_inflates_past_the_limit(tmp_path: Path) -> None:
    first = zstd.compress(sample_request(3, seed=8).SerializeToString())
    bomb = zstd.compress(b"\x0a" * (MAX_REQUEST_BYTES + 1))
    path = tmp_path / "bomb.binpb"
    path.write_bytes(b"".join(len(m).to_bytes(4, "big") + m for m in (first, bomb)))
    assert path.stat().st_size < 1024 * 1024
    _stops_at_the_limit(
        path, f"{path}:request 2 at byte {4 + len(first)}: the zstd request inflates past"
    )


def test_a_gzip_of_a_gzip_is_named(tmp_path: Path) -> None:
    path = tmp_path / "twice.jsonl.gz"
    path.write_bytes(gzip.compress(gzip.compress(_first_request() + b"\n")))
    status, err, _ = _ingest(path, tmp_path / "s.duckdb")
    assert status == 1 and "Traceback" not in err
    assert f"{path}: the file is gzip of gzip: decompress it once" in err
