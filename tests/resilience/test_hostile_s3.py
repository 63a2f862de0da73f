"""An S3 object built to exhaust `seamscope ingest s3://...`: a megabyte of gzip that inflates to
900 MiB, one endless line after a first request, as anyone who may write to the Collector's
bucket can put there. The whole object was inflated in memory before it was read (up to 1 GiB,
held twice while it was copied: a peak of 1.9 GB for this one), where a file of the same bytes
is read as a stream and stops at the request limit. Now a JSON object is read as a file is: the
command in a real process, against moto's S3 in a real server, stores the first request, names
the object and the line, exits 1 without a traceback, and its peak memory stays a small
multiple of the limit; a protobuf object (one request) is inflated up to that limit alone."""

from __future__ import annotations

import os
import subprocess
import time
import zlib
from collections.abc import Iterator
from pathlib import Path

import pytest

from seamscope.demo.processes import start_moto_server
from seamscope.tracer.framing import MAX_REQUEST_BYTES
from tests.e2e.test_collect import SEAMSCOPE
from tests.e2e.test_ingest_s3 import Bucket, aws_env, otlp_json, proto

pytestmark = pytest.mark.e2e

INFLATED = 900 * 1024 * 1024  # under the 1 GiB an object could inflate to before


@pytest.fixture(scope="module")
def moto_endpoint(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    proc, endpoint = start_moto_server(log_path=tmp_path_factory.mktemp("moto") / "moto.log")
    try:
        yield endpoint
    finally:
        proc.stop()


def _ingest(url: str, db: Path, endpoint: str) -> tuple[int, str, int]:
    """Exit status, output and peak RSS in bytes of `seamscope ingest url` (wait4: its own)."""
    out = db.with_suffix(".out")
    with out.open("wb") as sink:
        process = subprocess.Popen(
            [*SEAMSCOPE, "ingest", "--db", str(db), "--jobs", "0", url],
            stdin=subprocess.DEVNULL,
            stdout=sink,
            stderr=subprocess.STDOUT,
            env=aws_env(endpoint),
        )
    deadline = time.monotonic() + 240
    while True:
        pid, status, usage = os.wait4(process.pid, os.WNOHANG)
        if pid:
            break
        if time.monotonic() > deadline:
            process.kill()
            pid, status, usage = os.wait4(process.pid, 0)
            break
        time.sleep(0.1)
    process.returncode = os.waitstatus_to_exitcode(status)
    return process.returncode, out.read_text(), usage.ru_maxrss * 1024


def _gzip_bomb(first: bytes, filler: bytes) -> bytes:
    packer = zlib.compressobj(9, zlib.DEFLATED, 16 + zlib.MAX_WBITS)
    parts = [packer.compress(first)]
    block = filler * ((1 << 20) // len(filler))
    parts += [packer.compress(block) for _ in range(INFLATED // len(block))]
    parts.append(packer.flush())
    return b"".join(parts)


def test_a_json_object_that_inflates_to_one_endless_line(
    moto_endpoint: str, tmp_path: Path
) -> None:
    bucket = Bucket(moto_endpoint)
    bomb = _gzip_bomb(otlp_json(3, seed=21) + b"\n{", b" ")
    assert len(bomb) < 2 * 1024 * 1024
    key = bucket.put("traces_1.json.gz", bomb)
    status, out, peak = _ingest(bucket.url, tmp_path / "s3.duckdb", moto_endpoint)
    assert status == 1, out
    assert "Traceback" not in out, out
    assert f"s3://{bucket.name}/{key}:2: the line starting on line 2 is longer than" in out, out
    assert "3 spans stored" in out, out
    assert peak < 3 * MAX_REQUEST_BYTES + 512 * 1024 * 1024, f"peak RSS {peak:,} bytes"


def test_a_protobuf_object_that_inflates_past_a_request(moto_endpoint: str, tmp_path: Path) -> None:
    bucket = Bucket(moto_endpoint)
    bucket.put("traces_1.binpb", proto(3, seed=22))
    key = bucket.put("traces_2.binpb.gz", _gzip_bomb(b"\x0a", b"\x0a"))
    status, out, peak = _ingest(bucket.url, tmp_path / "s3.duckdb", moto_endpoint)
    assert status == 1, out
    assert "Traceback" not in out, out
    assert f"s3://{bucket.name}/{key}: the gzip body inflates past" in out, out
    assert "3 spans stored" in out, out
    assert peak < 3 * MAX_REQUEST_BYTES + 512 * 1024 * 1024, f"peak RSS {peak:,} bytes"
