"""The awss3 exporter's key layout, s3:// URLs, and the ledger the owner records."""

from __future__ import annotations

import gzip
import io
import random
from collections.abc import Callable
from pathlib import Path

import pytest

from seamscope.tracer.errors import SeamscopeError
from seamscope.tracer.ingest import COMPRESSION_RATIO, default_workers
from seamscope.tracer.otlp import OtlpError, TooLarge, inflate
from seamscope.tracer.s3_ingest import (
    GROUP_BYTES,
    GROUP_OBJECTS,
    Location,
    S3Object,
    check_gzip,
    classify_key,
    groups,
    objects_writer,
    work_bytes,
)
from seamscope.tracer.store import Store

PARTITION = "traces/year=2026/month=12/day=04/hour=07/minute=50"


@pytest.mark.parametrize(
    ("key", "json_format"),
    [
        (f"{PARTITION}/traces_123456789.json", True),
        (f"{PARTITION}/traces_123456789.json.gz", True),
        (f"{PARTITION}/traces_123456789.binpb", False),
        (f"{PARTITION}/traces_123456789.binpb.gz", False),
        # file_prefix set, and the uuidv7 unique key
        (f"{PARTITION}/gateway-a-traces_0193a3c8-7b2e-7c4d-9f1a-2b3c4d5e6f70.json", True),
        (f"{PARTITION}/logs_123456789.json", None),
        (f"{PARTITION}/metrics_123456789.binpb.gz", None),
        (f"{PARTITION}/traces_123456789.parquet", None),
        (f"{PARTITION}/traces_123456789.json.zst", None),
        ("traces_123/logs_123456789.json", None),
        ("export.jsonl", None),
    ],
)
def test_trace_objects_are_told_by_their_name(key: str, json_format: bool | None) -> None:
    assert classify_key(key) is json_format


def test_gzipped_objects_count_for_the_spans_they_hold() -> None:
    """Decoder processes are chosen by the work: 3 MB of gzip objects hold some 30 MB of OTLP."""
    mb = 1024 * 1024
    objects = [
        S3Object(f"p/traces_{i}.binpb.gz", "e", 3 * mb // 2, json_format=False) for i in range(2)
    ]
    plain = [S3Object("p/traces_9.json", "e", 3 * mb, json_format=True)]
    assert work_bytes(objects) == 3 * mb * COMPRESSION_RATIO
    assert work_bytes(plain) == 3 * mb
    assert default_workers(work_bytes(plain)) == 0
    # 3 MB of plain objects: this process; 3 MB gzipped: as many processes as a large input.
    assert default_workers(work_bytes(objects)) == default_workers(1 << 40)


def test_objects_are_loaded_in_groups_bounded_in_count_and_work() -> None:
    small = [S3Object(f"traces_{i}.json", "e", 1000, True) for i in range(2 * GROUP_OBJECTS + 1)]
    assert [len(g) for g in groups(small)] == [GROUP_OBJECTS, GROUP_OBJECTS, 1]
    big = S3Object("traces_big.binpb.gz", "e", GROUP_BYTES // COMPRESSION_RATIO + 1, False)
    mixed = [small[0], big, small[1], small[2]]
    assert list(groups(mixed)) == [[small[0]], [big], [small[1], small[2]]]
    assert list(groups([])) == []


def test_urls() -> None:
    assert Location.parse("s3://otel/traces/") == Location("otel", "traces/")
    assert Location.parse("s3://otel") == Location("otel", "")
    assert Location("otel", "traces/").url("traces/x.json") == "s3://otel/traces/x.json"
    with pytest.raises(SeamscopeError, match="no bucket"):
        Location.parse("s3:///traces/")
    assert Location.parse("S3://Old_Bucket.1/t/") == Location("Old_Bucket.1", "t/")
    with pytest.raises(SeamscopeError, match="'a b' is no bucket's name"):
        Location.parse("s3://a b/traces/")


def _row(**change: object) -> dict[str, object]:
    row: dict[str, object] = {
        "url": "s3://otel/traces/a.json",
        "bucket": "otel",
        "key": "traces/a.json",
        "etag": '"abc"',
        "size": 10,
        "loaded_at": "2026-12-04T07:50:00+00:00",
    }
    row.update(change)
    return row


def test_the_ledger_payload_is_checked_and_replaces_rows(db_path: Path) -> None:
    bad = {
        "the body must be JSON": [],
        "each object must be a JSON object": {"objects": [1]},
        "size must be a int": {"objects": [_row(size="10")]},
        "etag must be a str": {"objects": [_row(etag=None)]},
        "is not s3://<bucket>/<key>": {"objects": [_row(url="s3://other/traces/a.json")]},
        "loaded_at 'now' is no ISO time": {"objects": [_row(loaded_at="now")]},
    }
    for message, payload in bad.items():
        with pytest.raises(ValueError, match=message):
            objects_writer(payload)
    with Store.open(db_path) as store:
        assert objects_writer({"objects": [_row()]})(store) == 1
        assert objects_writer({"objects": [_row(etag='"def"', size=12)]})(store) == 1
        rows = store.con.execute("SELECT url, etag, size FROM s3_objects").fetchall()
    assert rows == [("s3://otel/traces/a.json", '"def"', 12)]


_ONE = gzip.compress(b"a")
_GZIP_CASES = {
    "random": gzip.compress(random.Random(5).randbytes(3 << 20)),
    "spaces": gzip.compress(b" " * (50 << 20)),
    "members": _ONE * 3,
    "truncated": gzip.compress(b"x" * 5000)[:-8],
    "too-many-members": _ONE * 65,
    "trailing-junk": _ONE + b"junk",
    "empty": b"",
}


@pytest.mark.parametrize("name", sorted(_GZIP_CASES))
def test_check_gzip_on_a_stream_answers_as_inflate_does_on_the_bytes(name: str) -> None:
    data = _GZIP_CASES[name]
    limit = 10 << 20

    def answer(check: Callable[[], object]) -> str:
        try:
            check()
        except (OtlpError, TooLarge) as exc:
            return f"{type(exc).__name__}: {exc}"
        return "ok"

    assert answer(lambda: check_gzip(io.BytesIO(data), limit)) == answer(
        lambda: inflate(data, "gzip", limit, keep=False)
    )
