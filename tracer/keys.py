"""Integer keys of spans: 64-bit numbers for the trace, the span and its parent, computed once
when a span is stored, so that joins inside a trace compare integers instead of hex strings.

``trace_key`` mixes the 128 bits of the trace id (four 32-bit lanes through murmur3's fmix32,
whose products fit in 64 bits, so DuckDB computes it without overflow); ``span_key`` is the span
id (as a number) XOR the trace key, ``parent_key`` the parent's the same way. Inside one trace
keys are as distinct as span ids; across traces they differ unless the trace keys collide
(ids made by a counter included). A child's ``parent_key`` is its parent's ``span_key``.

Two implementations of the same arithmetic: Arrow (``add_keys``, where spans are appended) and
SQL (``keys_sql``, for stores and tables made in SQL); a test keeps them equal. An id that is
not hex of its length (32 for a trace, 16 for a span) gets no key (NULL); intake refuses such
ids, so only spans written by other means can have one.
"""

from __future__ import annotations

import binascii
import hashlib
import re
import sys
from array import array

import pyarrow as pa
import pyarrow.compute as pc

KEY_COLUMNS = ("trace_key", "span_key", "parent_key")  # columns of spans (tracer/schema.py)

_M32 = 0xFFFFFFFF
_C1 = 0x85EBCA6B
_C2 = 0xC2B2AE35
_GOLDEN = 0x9E3779B9
_U64 = pa.uint64()
_HEX = re.compile(r"[0-9a-fA-F]*")


def _u(value: int) -> pa.Scalar:
    """A uint64 scalar: with an int64 one, Arrow would compute in int64."""
    return pa.scalar(value, _U64)


def _fmix(h: pa.Array) -> pa.Array:
    """murmur3's fmix32 on values below 2**32 held as uint64."""
    h = pc.bit_wise_xor(h, pc.shift_right(h, _u(16)))
    h = pc.bit_wise_and(pc.multiply(h, _u(_C1)), _u(_M32))
    h = pc.bit_wise_xor(h, pc.shift_right(h, _u(13)))
    h = pc.bit_wise_and(pc.multiply(h, _u(_C2)), _u(_M32))
    return pc.bit_wise_xor(h, pc.shift_right(h, _u(16)))


def _hex_bytes(column: pa.Array, width: int) -> bytes | None:
    """The bytes of a string column whose every value is `width` hex digits (no nulls), read
    straight from its buffers; None when any is not."""
    if column.null_count or len(column) == 0:
        return None
    offsets = memoryview(column.buffers()[1]).cast("i")
    start, end = offsets[column.offset], offsets[column.offset + len(column)]
    if end - start != width * len(column):
        return None
    try:
        return binascii.unhexlify(memoryview(column.buffers()[2])[start:end])
    except binascii.Error:
        return None


def _lanes(column: pa.Array, width: int, lanes: int) -> tuple[list[pa.Array], pa.Array | None]:
    """The ids of a string column as numbers, `lanes` uint64 arrays of width / lanes hex digits
    each (most significant first), and which ids are `width` hex digits (None: all are; a NULL
    id is not)."""
    typecode = "I" if lanes == 4 else "Q"
    column = column.cast(pa.string())
    nulls = pc.is_valid(column) if column.null_count else None
    raw = _hex_bytes(column if nulls is None else pc.fill_null(column, "0" * width), width)
    if raw is not None:
        words = array(typecode, raw)
        if sys.byteorder == "little":
            words.byteswap()  # the numbers hex reads are big-endian
        kind = pa.uint32() if typecode == "I" else _U64
        return [
            pa.Array.from_buffers(kind, len(column), [None, pa.py_buffer(words[i::lanes])]).cast(
                _U64
            )
            for i in range(lanes)
        ], nulls
    # Value by value: an id that is not `width` hex digits counts as zeros, and is invalid.
    step = width // lanes
    values: list[list[int]] = [[] for _ in range(lanes)]
    valid: list[bool] = []
    for value in column.to_pylist():
        ok = isinstance(value, str) and len(value) == width and _HEX.fullmatch(value) is not None
        valid.append(ok)
        for i in range(lanes):
            values[i].append(int(value[i * step : (i + 1) * step], 16) if ok else 0)
    return [pa.array(v, _U64) for v in values], pa.array(valid)


def _mask(keys: pa.Array, valid: pa.Array | None) -> pa.Array:
    return keys if valid is None else pc.if_else(valid, keys, pa.scalar(None, _U64))


def trace_keys(trace_ids: pa.Array) -> pa.Array:
    """The trace key of each trace id (NULL for one that is not 32 hex digits)."""
    lanes, valid = _lanes(trace_ids, 32, 4)
    a = _fmix(lanes[3])
    b = _fmix(pc.bit_wise_xor(lanes[2], a))
    c = _fmix(pc.bit_wise_xor(lanes[1], b))
    d = _fmix(pc.bit_wise_xor(lanes[0], c))
    low = _fmix(pc.bit_wise_xor(pc.bit_wise_xor(c, d), _u(_GOLDEN)))
    return _mask(pc.bit_wise_or(pc.shift_left(d, _u(32)), low), valid)


def span_keys(trace_keys: pa.Array, span_ids: pa.Array) -> pa.Array:
    """The key of each span id in its trace (NULL where either is missing or not hex)."""
    (lane,), valid = _lanes(span_ids, 16, 1)
    return _mask(pc.bit_wise_xor(lane, trace_keys), valid)


def key_arrays(trace_ids: pa.Array, span_ids: pa.Array, parent_ids: pa.Array) -> list[pa.Array]:
    """trace_key, span_key, parent_key of each span."""
    trace = trace_keys(trace_ids)
    return [trace, span_keys(trace, span_ids), span_keys(trace, parent_ids)]


def add_keys(table: pa.Table) -> pa.Table:
    """The table with its key columns (KEY_COLUMNS) computed from trace_id, span_id and
    parent_span_id, in place of any it had."""
    table = table.drop_columns([c for c in KEY_COLUMNS if c in table.column_names])
    if table.num_rows == 0:
        for name in KEY_COLUMNS:
            table = table.append_column(name, pa.array([], _U64))
        return table
    columns = [table.column(n).combine_chunks() for n in ("trace_id", "span_id", "parent_span_id")]
    for name, keys in zip(KEY_COLUMNS, key_arrays(*columns), strict=True):
        table = table.append_column(name, keys)
    return table


def spans_digest(table: pa.Table) -> str | None:
    """The identity of a batch's spans: `spans:` and a hash of their trace and span ids, sorted.
    The same spans in other bytes (a request sent again as JSON, pretty-printed, in another
    order, a collector's tee of it) have the same digest; None for a batch of no span."""
    if table.num_rows == 0:
        return None
    pairs = pc.binary_join_element_wise(
        pc.fill_null(table.column("trace_id"), ""),
        pc.fill_null(table.column("span_id"), ""),
        "/",
    )
    # In the order of their keys where the batch has them (a quicker sort than of the text; two
    # spans of one key, a collision, at worst make a repeat look new, never new spans a repeat).
    by = table.column("span_key") if "span_key" in table.column_names else pairs
    ordered = pc.take(pairs, pc.sort_indices(by))
    if isinstance(ordered, pa.ChunkedArray):
        ordered = ordered.combine_chunks()
    # Intake takes only hex ids, so a newline between the pairs cannot be one of theirs.
    joined = pc.binary_join(pa.ListArray.from_arrays([0, len(ordered)], ordered), "\n")[0]
    return f"spans:{hashlib.blake2b(joined.as_buffer(), digest_size=16).hexdigest()}"


def keys_sql(source: str) -> str:
    """SQL: the rows of `source` (a relation with trace_id, span_id and parent_span_id) with
    trace_key, span_key and parent_key added, as add_keys computes them."""

    def lane(i: int) -> str:
        return f"TRY_CAST('0x' || substr(trace_id, {8 * i + 1}, 8) AS UBIGINT)"

    def step(name: str, value: str, inner: str) -> str:
        # One fmix32 per stage: a nested expression would be copied into itself at each level.
        return (
            f"SELECT * EXCLUDE (_v, _h2, _h3), xor(_h3, _h3 >> 16) AS {name} FROM ("
            f"SELECT *, xor(_h2, _h2 >> 13) * {_C2} & {_M32} AS _h3 FROM ("
            f"SELECT *, xor(_v, _v >> 16) * {_C1} & {_M32} AS _h2 FROM ("
            f"SELECT *, {value} AS _v FROM ({inner}))))"
        )

    hexed = (
        f"SELECT *, length(trace_id) = 32 AND regexp_full_match(trace_id, '[0-9a-fA-F]{{32}}') "
        f"AS _t_ok FROM ({source})"
    )
    a = step("_a", lane(3), hexed)
    b = step("_b", f"xor({lane(2)}, _a)", a)
    c = step("_c", f"xor({lane(1)}, _b)", b)
    d = step("_d", f"xor({lane(0)}, _c)", c)
    low = step("_low", f"xor(xor(_c, _d), {_GOLDEN})", d)

    def span(column: str) -> str:
        return (
            f"CASE WHEN length({column}) = 16 AND regexp_full_match({column}, '[0-9a-fA-F]{{16}}') "
            f"THEN xor(CAST('0x' || {column} AS UBIGINT), _tk) END"
        )

    keyed = f"SELECT *, CASE WHEN _t_ok THEN (_d << 32) | _low END AS _tk FROM ({low})"
    return (
        f"SELECT * EXCLUDE (_t_ok, _a, _b, _c, _d, _low, _tk), _tk AS trace_key, "
        f"{span('span_id')} AS span_key, {span('parent_span_id')} AS parent_key FROM ({keyed})"
    )
