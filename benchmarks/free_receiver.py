"""The receiver with decoding for free: the ceiling of everything but the decoder.

`python -m benchmarks.free_receiver --db PATH --port N` runs `tracer.receiver.Receiver` as
`seamscope collect --no-classify --decoders 0` does, except that each request's spans are not
decoded: the table decoded from the first request is stored again for every later one (the
benchmark's requests all carry 512 spans), under the later request's own batch key and with
its first span given an id of its own (`made_distinct`: the store takes a batch of spans it
holds already for a repeat), so that every request is still a batch of its own,
deduplicated, committed and acknowledged as usual.
What is left is what a decoder compiled straight to the store's columns would leave: HTTP, the
batch key's hash, the writer's INSERT and COMMIT. The receiver benchmark runs it as a third
side, to show how far such a decoder alone could take the receiver.
"""

from __future__ import annotations

import itertools

import pyarrow as pa

from benchmarks.first_receiver import serve
from seamscope.tracer.decoding import batch_key
from seamscope.tracer.receiver import decode as decode_module

_decoded: list[decode_module.Decoded] = []
_made = itertools.count(1)


def made_distinct(table: pa.Table, n: int) -> pa.Table:
    """table with its first span's id made from n (n >= 1): another set of spans for each n,
    which the store does not take for a repeat of the table (keys.spans_digest)."""
    first = table.slice(0, 1)
    trace_key = first.column("trace_key")[0].as_py()
    for name, value in (("span_id", f"{n:016x}"), ("span_key", n ^ trace_key)):
        i = first.schema.get_field_index(name)
        first = first.set_column(i, name, pa.array([value], first.schema.field(i).type))
    return pa.concat_tables([first, table.slice(1)])


def _free_decode(
    body: bytes,
    encoding: str,
    json_format: bool,
    key: str | None,
    limit: int,
    tee: bool,
    flat: bool = True,
) -> decode_module.Decoded:
    """decode_request for the first non-empty body, that table again for every later one."""
    if not body or tee or encoding != "identity":
        return _decode(body, encoding, json_format, key, limit, tee, flat)
    if not _decoded:
        _decoded.append(_decode(body, encoding, json_format, key, limit, tee, flat))
    result, table, _, _ = _decoded[0]
    table = made_distinct(table, next(_made))
    return result, table, batch_key(body) if key is None else key, None


_decode = decode_module.decode_request


def main(argv: list[str] | None = None) -> int:
    # In threads of this process (decode_processes=0): a process would import the real one.
    decode_module.decode_request = _free_decode
    return serve("python -m benchmarks.free_receiver", argv, decode_processes=0)


if __name__ == "__main__":
    raise SystemExit(main())
