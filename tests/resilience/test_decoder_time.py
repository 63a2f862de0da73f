"""Fuzzing the intake for time, not only for crashes: gzip bodies, OTLP requests (protobuf and
JSON) and the redaction of what they carry, shaped by hypothesis to be as awkward as they can
(many tiny gzip members, long runs of what the redaction rules look for, unterminated quotes,
deep and wide values), must take time in proportion to their size.

Each budget is a multiple of the work a plain input of the same size takes, measured right
after the input itself (so the same moment's load weighs on both), in this process's CPU time
(other processes' load is not counted), plus half a second: generous, yet a quadratic blowup
(200k gzip members once took 8 s for 4 MB) overshoots it many times. An input over budget is
measured again (up to three times), and so is its peer, before the test fails; the cyclic GC
is held off while either runs.

Hypothesis draws a dozen inputs a test, most of them small; the largest each strategy allows,
the shapes that once blew up, are given as explicit examples, so every run measures them.
"""

from __future__ import annotations

import gc
import gzip
import json
import random
import time
import zlib
from collections.abc import Callable
from typing import Any

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st
from opentelemetry.proto.common.v1.common_pb2 import AnyValue

from seamscope.tracer.otlp import OtlpError, protobuf_to_json
from seamscope.tracer.otlp.common import TooLarge, zstd
from seamscope.tracer.receiver.decode import decode_request
from seamscope.tracer.redact import redact_attributes, redact_text
from tests.otlp_sample import sample_request

pytestmark = pytest.mark.slow

SETTINGS = settings(max_examples=12, deadline=None, suppress_health_check=[HealthCheck.too_slow])
LIMIT = 32 * 1024 * 1024
FACTOR = 30.0
FLOOR_S = 0.5
RETRIES = 3
MAX_TEXT = 300_000
"""Hostile text's length: a scan back from each "@" to the start (a quadratic step in C) took
6.7 s against a budget of 0.7 s at this length, and 1.1 s against 0.58 s at 120,000."""
MAX_VALUE_BYTES = 100_000
MAX_REQUEST_BYTES = 400_000
"""A wide or deep request's size: a few of the deepest values (it was 1 MB, 105 s of the
suite for the test's twelve examples)."""


def _cpu(fn: Callable[[], Any]) -> float:
    """CPU seconds of one call, with the cyclic GC held off: a collection of the heap other
    tests in this worker left behind is not the decoder's work. (No collection before it
    either: in a worker that had run a thousand tests, each took about 0.3 s, some 170 of
    them a test, and the test 83 s instead of 17.)"""
    gc.disable()
    start = time.process_time()
    try:
        fn()
    except (OtlpError, TooLarge):
        pass
    finally:
        elapsed = time.process_time() - start
        gc.enable()
    return elapsed


Peer = Callable[[int], Callable[[], Any]]


def within_budget(subject: Callable[[], Any], size: int, peers: list[Peer], what: str) -> None:
    """subject takes at most FACTOR times what the slowest peer (a plain input of size bytes,
    made by each peer) takes, plus FLOOR_S, in CPU time; each peer the best of three."""
    runs = [peer(max(size, 1)) for peer in peers]
    elapsed = _cpu(subject)
    baseline = max(min(_cpu(run) for _ in range(3)) for run in runs)
    for _ in range(RETRIES):  # a moment of load on the subject alone: measure both again
        if elapsed <= FLOOR_S + FACTOR * baseline:
            break
        elapsed = min(elapsed, _cpu(subject))
        baseline = max(baseline, max(min(_cpu(run) for _ in range(3)) for run in runs))
    budget = FLOOR_S + FACTOR * baseline
    assert elapsed <= budget, f"{what}: {elapsed:.2f} s for {size:,} bytes (budget {budget:.2f} s)"


# -- gzip ---------------------------------------------------------------------------------


def gzip_peer(n: int) -> Callable[[], Any]:
    """Inflating n bytes that do not compress (zlib's plain work per byte in and out)."""
    body = gzip.compress(random.randbytes(n), compresslevel=1)
    return lambda: gzip.decompress(body)


@SETTINGS
@example(members=200_000, payload=b"", tail=b"", truncate=False)
@example(members=200_000, payload=b"\x0a", tail=b"garbage", truncate=True)
@given(
    members=st.integers(1, 200_000),
    payload=st.sampled_from([b"", b"\x0a", b"x" * 100, b"\x00" * 4096]),
    tail=st.sampled_from([b"", b"garbage", b"\x1f\x8b"]),
    truncate=st.booleans(),
)
def test_gzip_bodies_take_linear_time(
    members: int, payload: bytes, tail: bytes, truncate: bool
) -> None:
    one = gzip.compress(payload)
    body = one * min(members, 4_000_000 // len(one)) + tail
    if truncate:
        body = body[:-3]
    within_budget(
        lambda: decode_request(body, "gzip", False, "k", LIMIT, False),
        len(body),
        [gzip_peer],
        f"{members} gzip members",
    )


def test_a_gzip_bomb_stops_at_the_limit() -> None:
    bomb = zlib.compress(b"\x00" * (64 * 1024 * 1024), 9)
    within_budget(
        lambda: decode_request(bomb, "deflate", False, "k", LIMIT, False),
        LIMIT,
        [gzip_peer],
        "a deflate bomb",
    )


def test_a_zstd_bomb_stops_at_the_limit() -> None:
    bomb = zstd.compress(b"\x00" * (64 * 1024 * 1024))
    within_budget(
        lambda: decode_request(bomb, "zstd", False, "k", LIMIT, False),
        LIMIT,
        [gzip_peer],
        "a zstd bomb",
    )


@SETTINGS
@example(frames=200_000, tail=b"")
@given(frames=st.integers(1, 200_000), tail=st.sampled_from([b"", b"garbage", b"\x28\xb5"]))
def test_zstd_bodies_of_many_frames_take_linear_time(frames: int, tail: bytes) -> None:
    one = zstd.compress(b"\x0a")
    body = one * min(frames, 4_000_000 // len(one)) + tail
    within_budget(
        lambda: decode_request(body, "zstd", False, "k", LIMIT, False),
        len(body),
        [gzip_peer],
        f"{frames} zstd frames",
    )


# -- OTLP requests and their redaction ------------------------------------------------------


def pb_peer(n: int) -> Callable[[], Any]:
    body = sample_request(max(n // 300, 1), seed=2).SerializeToString()
    return lambda: decode_request(body, "identity", False, "k", LIMIT, True)


def json_peer(n: int) -> Callable[[], Any]:
    body = protobuf_to_json(sample_request(max(n // 700, 1), seed=3).SerializeToString()).encode()
    return lambda: decode_request(body, "identity", True, "k", LIMIT, True)


def text_peer(n: int) -> Callable[[], Any]:
    text = ("password=" + "abcdefgh" * (n // 8))[:n]
    return lambda: redact_text(text)


# What the redaction rules look for, alone or half-made: runs of them are the hostile input.
FRAGMENTS = [
    "=", "@", "://", "?", "&", "'", '"', "\\", "eyJ", "eyJa.", "Bearer ", "Basic ", "AKIA",
    "password", "password=", "token", "?token", "&pwd", "a", "1", " ", "{", "[", '"""', "''",
    "://user", "api_key'", "x" * 64,
]  # fmt: skip

hostile_text = st.builds(
    lambda parts, times: "".join(parts) * times,
    st.lists(st.sampled_from(FRAGMENTS), min_size=1, max_size=4),
    st.integers(1, 20_000),
).map(lambda text: text[:MAX_TEXT])

PLACES = ["name", "status", "value", "array", "statement", "document", "variables", "nested"]


def _request(text: str, place: str, copies: int) -> bytes:
    request = sample_request(copies, seed=4, services=1)
    for span in request.resource_spans[0].scope_spans[0].spans:
        value = AnyValue()
        key = "note"
        if place == "name":
            span.name = text
            continue
        if place == "status":
            span.status.message = text
            continue
        if place == "array":
            for _ in range(3):
                value.array_value.values.add(string_value=text)
        elif place == "nested":
            inner = value.kvlist_value.values.add(key="authorization")
            inner.value.kvlist_value.values.add(key="x", value=AnyValue(string_value=text))
        else:
            key = {
                "statement": "db.statement",
                "document": "graphql.document",
                "variables": "graphql.variables",
            }.get(place, "note")
            value.string_value = text
        span.attributes.add(key=key).value.CopyFrom(value)
    return bytes(request.SerializeToString())


@SETTINGS
@example(text="://" + "@" * MAX_TEXT, place="value", copies=1)
@example(text=("password=" + "a" * 63) * (MAX_TEXT // 72), place="statement", copies=1)
@given(text=hostile_text, place=st.sampled_from(PLACES), copies=st.integers(1, 4))
def test_requests_full_of_what_redaction_looks_for_take_linear_time(
    text: str, place: str, copies: int
) -> None:
    body = _request(text, place, copies)
    within_budget(
        lambda: decode_request(body, "identity", False, "k", LIMIT, True),
        len(body),
        [pb_peer, text_peer],
        f"protobuf, {place}",
    )
    as_json = protobuf_to_json(body).encode()
    within_budget(
        lambda: decode_request(as_json, "identity", True, "k", LIMIT, True),
        len(as_json),
        [json_peer, text_peer],
        f"JSON, {place}",
    )


@SETTINGS
@example(text="://" + "@" * MAX_TEXT)
@example(text="://user" * (MAX_TEXT // 7))
@example(text="eyJa." * (MAX_TEXT // 5))
@given(text=hostile_text)
def test_redaction_takes_linear_time(text: str) -> None:
    attrs = {"db.statement": text, "graphql.document": text, "graphql.variables": text, "n": text}
    within_budget(lambda: redact_attributes(attrs), 4 * len(text), [text_peer], "redaction")


@SETTINGS
@example(spans=300, attributes=100, depth=15, width=6)
@example(spans=300, attributes=100, depth=0, width=1)
@given(
    spans=st.integers(1, 300),
    attributes=st.integers(0, 100),
    depth=st.integers(0, 15),
    width=st.integers(1, 6),
)
def test_wide_and_deep_requests_take_linear_time(
    spans: int, attributes: int, depth: int, width: int
) -> None:
    value = AnyValue(string_value="leaf")
    for _ in range(depth):
        outer = AnyValue()
        for _ in range(width):
            outer.array_value.values.add().CopyFrom(value)
        value = outer
        if value.ByteSize() > MAX_VALUE_BYTES:
            break
    request = sample_request(spans, seed=5, services=2)
    for rs in request.resource_spans:
        for span in rs.scope_spans[0].spans:
            for i in range(attributes):
                span.attributes.add(key=f"k{i}").value.CopyFrom(value if i == 0 else AnyValue())
            if request.ByteSize() > MAX_REQUEST_BYTES:
                break
    body = bytes(request.SerializeToString())
    within_budget(
        lambda: decode_request(body, "identity", False, "k", LIMIT, True),
        len(body),
        [pb_peer],
        "a wide or deep request",
    )
    as_json = json.dumps(json.loads(protobuf_to_json(body))).encode()
    within_budget(
        lambda: decode_request(as_json, "identity", True, "k", LIMIT, True),
        len(as_json),
        [json_peer],
        "the same as JSON",
    )
