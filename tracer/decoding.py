"""One request body -> its span table: what the receiver's decoder processes run.

A module of its own, apart from the receiver's package, so that a decoder process imports the
decoders and Arrow and nothing else: not DuckDB (the store), not aiohttp (the server). A
process started with `spawn` imports the module of the function it runs, and with it that
module's package; when `decode_request` lived in `tracer.receiver`, each decoder loaded the
store and the server it never uses (about 40 MB of resident memory a decoder, and their import
time at every start). The import contract "A decoder process loads neither the store nor the
server" (pyproject.toml) keeps it so.
"""

from __future__ import annotations

import gc
import hashlib
import json
import signal
from typing import cast

import pyarrow as pa

from seamscope.tracer import orphans
from seamscope.tracer.handoff import Shipped
from seamscope.tracer.otlp import (
    DecodeResult,
    decode_flat,
    decode_json,
    decode_protobuf,
    inflate,
    load_repaired,
    protobuf_to_json,
    redact_json_request,
    unzstd,
)
from seamscope.tracer.otlp.flat_json import decode_json_flat
from seamscope.tracer.rows import SpanBatchBuilder

_in_decoder_process = False
"""True in a decoder process (decoder_init): its tables go back as Shipped."""
Decoded = tuple[DecodeResult, pa.Table, str, str | None]
"""(result, spans table, batch key, tee line) of one request."""


def batch_key(data: bytes, prefix: str = "otlp") -> str:
    """The batch key of a request: a hash of its bytes, so a repeat is stored once."""
    return f"{prefix}:{hashlib.blake2b(data, digest_size=16).hexdigest()}"


def decode_request(
    body: bytes,
    encoding: str,
    json_format: bool,
    key: str | None,
    limit: int,
    tee: bool,
    flat: bool = True,
) -> Decoded:
    """Body -> (result, spans table, batch key, tee line); runs in a decode thread or process.
    flat: otlp.flat and otlp.flat_json (the same rows, quicker) rather than the general walk."""
    if encoding in ("gzip", "deflate", "x-gzip"):
        body = inflate(body, "deflate" if encoding == "deflate" else "gzip", limit)
    elif encoding == "zstd":
        body = unzstd(body, limit)
    builder = SpanBatchBuilder()
    if json_format:
        result = decode_json_flat(body, builder) if flat else decode_json(body, builder)
    elif flat:
        result = decode_flat(body, builder)
    else:
        result = decode_protobuf(body, builder)
    table = builder.build()
    if key is None:
        key = batch_key(body)
    tee_line = None
    if tee and result.accepted:
        if json_format:
            obj = redact_json_request(load_repaired(body))
            tee_line = json.dumps(obj, separators=(",", ":"), ensure_ascii=False)
        else:
            tee_line = protobuf_to_json(body, redact=True)
    if _in_decoder_process:
        # Unpickled in the owner as the table itself.
        table = cast(pa.Table, Shipped(table))
    return result, table, key, tee_line


YOUNG_COLLECTION = 100_000
"""Objects a decoder process allocates (net) between two young collections; Python's default
is 700."""


def fewer_collections() -> None:
    """In a decoder process: the cyclic collector made to walk less. A part's spans are a few
    dicts and tuples each, alive until its table is built and freed then, and none forms a
    cycle; at the default threshold every young collection walked them and passed them on to
    be walked again, and the full ones also walked every object inherited from the ingest or
    the receiver (its modules), which stay until the process ends: those are frozen out of the
    collector's reach. Decoding 50k of the benchmark's spans in a process that had imported
    the ingest took 18.0 instead of 23.3 us of CPU a span (medians of five, a loaded machine)."""
    gc.freeze()
    gc.set_threshold(YOUNG_COLLECTION, *gc.get_threshold()[1:])


def decoder_init(owner: int) -> None:
    """In a decoder process: Ctrl-C is for the owner (it stops the pool itself); leave when
    the owner is gone (killed, it cannot stop the pool); warm up, then collect less
    (fewer_collections: what the warm-up loaded is frozen with the modules)."""
    global _in_decoder_process
    _in_decoder_process = True
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    orphans.leave_with(owner)
    decode_request(b"", "identity", False, "warm-up", 1, False)
    fewer_collections()


def nothing() -> None:
    """A task that starts a decoder process and does nothing more."""
    return None
