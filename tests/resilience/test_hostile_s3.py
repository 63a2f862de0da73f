"""An S3 object built to exhaust `seamscope ingest s3://...`: a megabyte of gzip that inflates to
900 MiB, one endless line after a first request, as anyone who may write to the Collector's
bucket can put there. The whole object was inflated in memory before it was read (up to 1 GiB,
held twice while it was copied: a peak of 1.9 GB for this one), where a file of the same bytes
is read as a stream and stops at the request limit. Now a JSON object is read as a file is: the
command in a real process, against moto's S3 in a real server, stores the first request, names
the object and the line, exits 1 without a traceback, and its peak memory stays a small
multiple of the limit; a protobuf object (one request) is inflated up to that limit alone."""

from __future__ import annotations

import subprocess
import sys
import zlib
from collections.abc import Iterator
from pathlib import Path

import pytest

from seamscope.demo.processes import start_moto_server
from seamscope.tracer.framing import MAX_REQUEST_BYTES
from tests.e2e.test_collect import SEAMSCOPE
from tests.e2e.test_ingest_s3 import Bucket, aws_env, ledger, otlp_json, proto
from tests.resilience.peak import run_measured

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
    """Exit status, output and peak RSS in bytes of `seamscope ingest url` (its own)."""
    return run_measured(
        [*SEAMSCOPE, "ingest", "--db", str(db), "--jobs", "0", url],
        db.with_suffix(".out"),
        env=aws_env(endpoint),
    )


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


LARGE = 300 * 1024 * 1024


_PUT_PADDED = """
import sys, boto3
bucket, key, total, endpoint = sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[4]
first = sys.stdin.buffer.read()
line = b"{}" + b" " * ((1 << 20) - 3) + b"\\n"
body = first + b"\\n" + line * ((total - len(first)) // len(line))
boto3.Session().client("s3", endpoint_url=endpoint).put_object(Bucket=bucket, Key=key, Body=body)
"""


def _put_padded(bucket: Bucket, name: str, first: bytes, total: int, endpoint: str) -> str:
    """Puts first, then lines of an empty request padded with spaces to a MiB each, up to
    total bytes: a large object of valid JSON lines, quick to decode. Built and sent by a
    process of its own: a peak in this one would be inherited by every process it starts
    (a forked child keeps its parent's high-water mark, which wait4 reports)."""
    key = f"{bucket.prefix}/{name}"
    subprocess.run(
        [sys.executable, "-c", _PUT_PADDED, bucket.name, key, str(total), endpoint],
        input=first,
        env=aws_env(endpoint),
        check=True,
    )
    return key


def test_a_large_object_is_never_held_whole_and_one_past_the_bound_is_named(
    moto_endpoint: str, tmp_path: Path
) -> None:
    """An uncompressed object was read whole into memory (up to 1 GiB) before a byte of it was
    decoded: 300 MB of lines took 300 MB more. Now it is copied to a temporary file and read a
    line at a time; a protobuf object listed past the request limit is named and skipped,
    the other objects read, and a rerun says the same."""
    bucket = Bucket(moto_endpoint)
    large = _put_padded(bucket, "traces_1.json", otlp_json(3, seed=23), LARGE, moto_endpoint)
    over = _put_padded(bucket, "traces_2.binpb", b"", MAX_REQUEST_BYTES + (1 << 20), moto_endpoint)
    bucket.put("traces_3.binpb", proto(2, seed=24))
    db = tmp_path / "s3.duckdb"

    status, out, peak = _ingest(bucket.url, db, moto_endpoint)

    assert status == 1, out
    assert "Traceback" not in out, out
    assert "5 spans stored" in out, out
    assert (
        f"s3://{bucket.name}/{over}: the object is {1 + MAX_REQUEST_BYTES + (1 << 20):,} "
        f"bytes, over the {MAX_REQUEST_BYTES:,} bytes read of a protobuf object (one request); "
        "skipped"
    ) in out, out
    assert peak < LARGE, f"peak RSS {peak:,} bytes"
    recorded = ledger(db)
    assert large in recorded and over not in recorded, recorded

    again, out_again, _ = _ingest(bucket.url, db, moto_endpoint)
    assert again == 1, out_again
    assert f"s3://{bucket.name}/{over}: the object is" in out_again, out_again
    assert "2 loaded before" in out_again, out_again


@pytest.mark.parametrize("stored", [True, False], ids=["objects", "none"])
def test_a_prefix_with_control_characters_is_escaped_in_the_summary(
    moto_endpoint: str, tmp_path: Path, stored: bool
) -> None:
    # The summary line on stdout gave the URL's prefix as typed: an escape sequence in it (a
    # key is any bytes; a URL pasted from a listing) reached the terminal as it was.
    bucket = Bucket(moto_endpoint, prefix="tr\x1b[2J\x07aces")
    if stored:
        bucket.put("traces_100000001.json", otlp_json(2, seed=9300))
    status, out, _ = _ingest(bucket.url, tmp_path / "s3.duckdb", moto_endpoint)
    assert status == 0, out
    assert "\x1b" not in out and "\x07" not in out, repr(out)
    assert "tr\\u001b[2J\\u0007aces" in out, out
