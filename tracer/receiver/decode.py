"""Request bodies -> span tables: inflating, decoding and (for the tee) redacted OTLP JSON, on a
pool of threads or of processes, away from the event loop and from the writer. What each
decoder runs is in tracer.decoding, which a decoder process imports without the receiver."""

from __future__ import annotations

import asyncio
import concurrent.futures
import multiprocessing
import os
from concurrent.futures.process import BrokenProcessPool

from seamscope.tracer.decoding import Decoded, decode_request, decoder_init, nothing
from seamscope.tracer.ingest import cores

__all__ = ["Decoded", "Decoders", "decode_request", "default_decoders"]


def default_decoders() -> int:
    """Decoder processes by default: one per core this process may run on, none (threads) on
    a single core, where a process of its own would only add the cost of moving the spans."""
    count = cores()
    return count if count > 1 else 0


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
                initializer=decoder_init,
                initargs=(os.getpid(),),
            )
            for _ in range(self._processes):
                pool.submit(nothing)
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
