"""Fuzzing the OTLP decoders: any input gives spans, counted rejections or an OtlpError, never a
crash, and whatever is accepted can be stored."""

from __future__ import annotations

import json
import tempfile
from pathlib import Path
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from seamscope.tracer.otlp import (
    OtlpError,
    decode_json,
    decode_protobuf,
    protobuf_to_json,
)
from seamscope.tracer.rows import SpanBatchBuilder
from seamscope.tracer.store import Store
from tests.otlp_sample import sample_request

SETTINGS = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
VALID_PB = sample_request(4, seed=1).SerializeToString()
VALID_JSON = json.loads(protobuf_to_json(VALID_PB))

_store_dir = tempfile.TemporaryDirectory(prefix="seamscope-fuzz-")
_store = Store.open(Path(_store_dir.name) / "fuzz.duckdb")


def _decode(fn: Any, data: Any) -> None:
    builder = SpanBatchBuilder()
    try:
        result = fn(data, builder)
    except OtlpError as exc:
        assert str(exc) and "\n" not in str(exc)
        return
    table = builder.build()
    assert table.num_rows == result.accepted
    assert result.accepted + result.rejected >= 0
    if result.rejected:
        assert result.error_message
    if table.num_rows:
        _store.append(table, batch_key=None, source="fuzz")


@SETTINGS
@given(st.binary(max_size=2048))
def test_random_bytes_as_protobuf(data: bytes) -> None:
    _decode(decode_protobuf, data)


@SETTINGS
@given(st.integers(0, len(VALID_PB) - 1), st.binary(min_size=1, max_size=8), st.booleans())
def test_mutated_protobuf(position: int, patch: bytes, insert: bool) -> None:
    if insert:
        data = VALID_PB[:position] + patch + VALID_PB[position:]
    else:
        data = VALID_PB[:position] + patch + VALID_PB[position + len(patch) :]
    _decode(decode_protobuf, data)


@SETTINGS
@given(st.binary(max_size=2048))
def test_random_bytes_as_json(data: bytes) -> None:
    _decode(decode_json, data)


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=20),
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=12), children, max_size=4)
    ),
    max_leaves=20,
)


def _paths(obj: Any, prefix: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    out = [prefix]
    if isinstance(obj, dict):
        for k, v in obj.items():
            out.extend(_paths(v, (*prefix, k)))
    elif isinstance(obj, list):
        for i, v in enumerate(obj):
            out.extend(_paths(v, (*prefix, i)))
    return out


_VALID_PATHS = _paths(VALID_JSON)[1:]


@SETTINGS
@given(st.sampled_from(_VALID_PATHS), json_values)
def test_one_field_of_a_valid_request_replaced(path: tuple[Any, ...], value: Any) -> None:
    obj = json.loads(json.dumps(VALID_JSON))
    target = obj
    for step in path[:-1]:
        target = target[step]
    target[path[-1]] = value
    _decode(decode_json, json.dumps(obj))


@SETTINGS
@given(json_values)
def test_any_json_document(value: Any) -> None:
    _decode(decode_json, json.dumps({"resourceSpans": value}))
    _decode(decode_json, json.dumps(value))
