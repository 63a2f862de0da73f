"""Request bodies -> span tables: inflating, decoding and (for the tee) redacted OTLP JSON, on a
pool of threads or of processes, away from the event loop and from the writer."""

from __future__ import annotations

import asyncio
import concurrent.futures
import json
import multiprocessing
import os
import signal
from concurrent.futures.process import BrokenProcessPool
from typing import cast

import pyarrow as pa

from seamscope.tracer import orphans
from seamscope.tracer.handoff import Shipped
from seamscope.tracer.ingest import batch_key, cores
from seamscope.tracer.otlp import (
    DecodeResult,
    decode_flat,
    decode_json,
    decode_protobuf,
    inflate,
    protobuf_to_json,
    redact_json_request,
    unzstd,
)
from seamscope.tracer.otlp.flat_json import decode_json_flat
from seamscope.tracer.rows import SpanBatchBuilder

_in_decoder_process = False
"""True in a decoder process (_decoder_init): its tables go back as Shipped."""
Decoded = tuple[DecodeResult, pa.Table, str, str | None]
"""(result, spans table, batch key, tee line) of one request."""


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
            obj = redact_json_request(json.loads(body))
            tee_line = json.dumps(obj, separators=(",", ":"), ensure_ascii=False)
        else:
            tee_line = protobuf_to_json(body, redact=True)
    if _in_decoder_process:
        # Unpickled in the owner as the table itself.
        table = cast(pa.Table, Shipped(table))
    return result, table, key, tee_line


def default_decoders() -> int:
    """Decoder processes by default: one per core this process may run on, none (threads) on
    a single core, where a process of its own would only add the cost of moving the spans."""
    count = cores()
    return count if count > 1 else 0


def _decoder_init(owner: int) -> None:
    """In a decoder process: Ctrl-C is for the owner (it stops the pool itself); leave when
    the owner is gone (killed, it cannot stop the pool); warm up."""
    global _in_decoder_process
    _in_decoder_process = True
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    orphans.leave_with(owner)
    decode_request(b"", "identity", False, "warm-up", 1, False)


def _nothing() -> None:
    return None


class Decoders:
    """Where bodies are decoded: decoder processes spread the CPU-bound work over cores; with
    none, a small thread pool in this process."""

    def __init__(self, threads: int, processes: int, *, flat: bool = True) -> None:
        self._threads = max(1, threads)
        self._processes = processes
        self._flat = flat
        self._pool = self._make_pool()

    def _make_pool(self) -> concurrent.futures.Executor:
        if self._processes > 0:
            pool = concurrent.futures.ProcessPoolExecutor(
                self._processes,
                mp_context=multiprocessing.get_context("spawn"),
                initializer=_decoder_init,
                initargs=(os.getpid(),),
            )
            for _ in range(self._processes):
                pool.submit(_nothing)
            return pool
        return concurrent.futures.ThreadPoolExecutor(
            self._threads, thread_name_prefix="seamscope-decode"
        )

    async def decode(
        self, body: bytes, encoding: str, json_format: bool, key: str | None, limit: int, tee: bool
    ) -> Decoded:
        """decode_request in the pool. A decoder process that died takes its request with it
        (BrokenProcessPool, raised again) and is replaced for the next ones."""
        loop = asyncio.get_running_loop()
        pool = self._pool
        try:
            return await loop.run_in_executor(
                pool, decode_request, body, encoding, json_format, key, limit, tee, self._flat
            )
        except BrokenProcessPool:
            if pool is self._pool:
                self._pool = self._make_pool()
                pool.shutdown(wait=False)
            raise

    def shutdown(self) -> None:
        self._pool.shutdown(wait=True)
