"""The TUI on a big store: its first paint, and its live refresh while spans pour in.

The store is the classified 10M-span store the classify benchmark leaves (or a new one; a full
run takes its size from SEAMSCOPE_BENCH_TUI_SPANS when set). The app runs headless (Textual's
run_test).

First paint: the store opened the way `seamscope tui` opens it (tui/data.py open_source);
"painted" is the moment the landscape screen has put its data into its widgets.
Goal (issue 6): first paint on 10M spans within 1 s.

Refresh under live ingest: the app built the way `seamscope tui --collect` builds it (a `seamscope
collect` child owns the store and classifies after its commits, the TUI reads through its SQL
endpoint; the default refresh interval), in a process of its own, while a sender process posts OTLP
protobuf requests of 512 new spans (new traces, later times, now and then a new system) paced to 20k
spans/s. A refresh runs from the start of a poll that finds the store changed until the landscape
screen is drawn with data at least that new (the end of the first screen update after it got the
data in which the edge table drew lines). The app's process holds nothing else, so its peak RSS
(VmHWM, not ru_maxrss: see own_peak_kib) is the TUI's peak memory.
Goal (issue 15): refresh within 250 ms at the median and 400 ms at p95 while 20k spans/s arrive and
are all stored; the note says what the sender offered and what the store took.
"""

from __future__ import annotations

import asyncio
import itertools
import multiprocessing
import os
import statistics
import threading
import time
import traceback
from collections.abc import Callable
from functools import partial
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any

from benchmarks.common import Context, Result, median_of
from benchmarks.generate import generate_store, landscape_path

NAME = "tui"
SIZE_ENV = "SEAMSCOPE_BENCH_TUI_SPANS"
LIVE_RATE = 20_000  # spans/s the sender aims at
LIVE_SECONDS = 25.0  # of ingest
PER_REQUEST = 512  # spans per request, as the stock OTLP/HTTP exporter sends them
# Requests in flight at most, one keep-alive connection each. The receiver acknowledges a request
# once its spans are committed, and its writer commits nothing while it classifies (up to a second
# per call on a growing landscape): with 8 in flight the pacing fell behind, and dropped what was
# late, whenever an acknowledgement took over 8 x 512 / 20k = 0.2 s.
CONNECTIONS = 32


async def _first_paint(path: Path) -> tuple[float, float, float]:
    """Seconds until the landscape's data is handed to the screen (show), seconds until the
    screen is drawn with it (the app idle again after show: the table measured and rendered),
    then seconds from pressing m (show/hide the map) until the app has drawn the map and is
    idle again."""
    from seamscope.tui.app import SeamscopeApp
    from seamscope.tui.data import open_source
    from seamscope.tui.screens.landscape import LandscapeScreen

    painted = asyncio.Event()
    original = LandscapeScreen.show
    shown_at: list[float] = []

    def show(self: Any, payload: Any) -> None:
        original(self, payload)
        shown_at.append(time.perf_counter())
        painted.set()

    LandscapeScreen.show = show  # type: ignore[method-assign]
    try:
        begin = time.perf_counter()
        app = SeamscopeApp(lambda: open_source(path, landscape_path(path)), refresh_interval=0)
        async with app.run_test(size=(160, 50)) as pilot:
            while not painted.is_set():
                await pilot.pause(0.01)
                if time.perf_counter() - begin > 600:
                    raise RuntimeError("the landscape did not appear within 10 minutes")
            shown = shown_at[0] - begin
            await pilot.pause()
            seconds = time.perf_counter() - begin
            toggled = time.perf_counter()
            await pilot.press("m")
            await pilot.pause()
            map_seconds = time.perf_counter() - toggled
            await pilot.press("q")
    finally:
        LandscapeScreen.show = original  # type: ignore[method-assign]
    return shown, seconds, map_seconds


# ---- refresh under live ingest ------------------------------------------------------------


def _sender(conn: Connection, rate: float, seconds: float, spans: int) -> None:
    """A process of its own: posts requests of new spans to the receiver, paced to rate/s.

    Makes its templates first and says "ready"; then waits for (port, newest start ns in the
    store, requests per new system) and sends for `seconds`, with up to CONNECTIONS requests in
    flight; answers with what it sent and how long the acknowledgements took.
    """
    from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import (
        ExportTraceServiceRequest,
    )

    from benchmarks import mix

    bodies = mix.otlp_requests(mix.sdk_spans(spans), PER_REQUEST)
    templates = []  # (request, its spans' originals, the namespaces renamed)
    for data in bodies:
        request = ExportTraceServiceRequest()
        request.ParseFromString(data)
        originals = []
        namespaces = []
        for resource_spans in request.resource_spans:
            for attr in resource_spans.resource.attributes:
                if attr.key == "service.namespace" and attr.value.string_value == "system-0":
                    namespaces.append(attr.value)
            for scope_spans in resource_spans.scope_spans:
                for span in scope_spans.spans:
                    originals.append(
                        (span, span.trace_id, span.start_time_unix_nano, span.end_time_unix_nano)
                    )
        templates.append((request, originals, namespaces))
    conn.send("ready")
    go = conn.recv()
    if go is None:
        return
    port, newest_ns, new_every = go
    first_ns = min(start for _, originals, _ in templates[:1] for _, _, start, _ in originals)
    shift_ns = newest_ns + 1_000_000_000 - first_ns  # after everything the store holds
    round_ns = spans * 1_000_000  # the templates' spans are 1 ms apart
    encoding = threading.Lock()  # the templates are shared: one request encoded at a time

    def body(k: int) -> bytes:
        """Request k: new trace ids, later times, and one system renamed every new_every. About
        0.8 ms of CPU for 512 spans (3% of a core at 20k spans/s, side timing)."""
        request, originals, namespaces = templates[k % len(templates)]
        prefix = (0x5EA0_0000 + k).to_bytes(4, "big")
        shift = shift_ns + k // len(templates) * round_ns
        with encoding:
            for span, trace_id, start, end in originals:
                span.trace_id = prefix + trace_id[4:]
                span.start_time_unix_nano = start + shift
                span.end_time_unix_nano = end + shift
            for value in namespaces:
                value.string_value = f"live-{k // new_every}"
            data: bytes = request.SerializeToString()
        return data

    import http.client

    lock = threading.Lock()
    counter = itertools.count()
    totals = {"posted": 0, "acked": 0, "lag_s": 0.0, "last": 0.0}
    acks: list[float] = []  # seconds from sending a request to its answer
    errors: list[str] = []
    begin = time.perf_counter()
    deadline = begin + seconds

    def send() -> None:
        con = http.client.HTTPConnection("127.0.0.1", port, timeout=120)
        try:
            while True:
                k = next(counter)
                due = begin + k * PER_REQUEST / rate
                now = time.perf_counter()
                if due >= deadline or now >= deadline:
                    return  # behind schedule: what was not sent in time is not sent at all
                late = now - due
                if late < 0:
                    time.sleep(-late)
                data = body(k)
                with lock:
                    totals["posted"] += PER_REQUEST
                    totals["lag_s"] = max(totals["lag_s"], late)
                sent = time.perf_counter()
                con.request("POST", "/v1/traces", data, {"Content-Type": "application/x-protobuf"})
                response = con.getresponse()
                response.read()
                with lock:
                    totals["last"] = time.perf_counter()
                    acks.append(totals["last"] - sent)
                    if response.status == 200:
                        totals["acked"] += PER_REQUEST
                    else:
                        errors.append(f"HTTP {response.status}")
        except OSError as exc:
            errors.append(str(exc))
        finally:
            con.close()

    threads = [threading.Thread(target=send) for _ in range(CONNECTIONS)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    acks.sort()
    conn.send(
        {
            **totals,
            "seconds": totals["last"] - begin,
            "window": seconds,
            "ack_ms": (acks[len(acks) // 2] * 1000, acks[-1] * 1000) if acks else (0.0, 0.0),
            "errors": errors[:5],
        }
    )


class _Probe:
    """Times refreshes: from the start of a poll that finds new data (the source's
    may_have_changed) until the landscape screen is drawn with data fetched after that poll saw
    the change: the end of the first screen update after LandscapeScreen.show in which the edge
    table drew lines. A burst of changes is shown by one refresh; each counts from its own poll."""

    def __init__(self) -> None:
        self.local = threading.local()
        self.lock = threading.Lock()
        self.pending: list[tuple[float, float]] = []  # (poll began, change seen)
        self.fetched: dict[int, tuple[float, float]] = {}  # id(payload) -> fetch began, ended
        self.shown_at: dict[int, tuple[float, float, float]] = {}  # ... and show returned
        self.refreshes: list[float] = []  # seconds
        self.parts: list[tuple[float, float, float, float, float]] = []
        self.reads: list[tuple[int, int]] = []  # per fetch: edges read, edges shown
        self.shows = 0
        # Refreshes shown without a fetch (only spans came, the classifier's tables unchanged:
        # LandscapeScreen.new_spans): they end with the next screen update, table drawn or not.
        self.counts_only = 0
        self.counted = False
        self.fetched_too: list[bool] = []  # per refresh: whether it fetched (not new_spans)

    def poll_began(self) -> None:
        self.local.began = time.perf_counter()

    def changed(self) -> None:
        began = getattr(self.local, "began", None)
        if began is not None:
            with self.lock:
                self.pending.append((began, time.perf_counter()))

    def fetch(self, began: float, payload: object) -> None:
        ended = time.perf_counter()
        view = payload[0] if isinstance(payload, tuple) else None
        with self.lock:
            self.fetched[id(payload)] = (began, ended)
            if view is not None and hasattr(view, "edges_read"):
                self.reads.append((view.edges_read, len(view.edges)))

    def shown(self, payload: object) -> None:
        now = time.perf_counter()
        with self.lock:
            self.shows += 1
            fetched = self.fetched.pop(id(payload), None)
            if fetched is not None:
                self.shown_at[id(payload)] = (*fetched, now)

    def new_spans(self) -> None:
        """The screen showed new spans' count without a fetch: a fetch of no time."""
        now = time.perf_counter()
        with self.lock:
            self.shows += 1
            self.counts_only += 1
            self.counted = True
            self.shown_at[-self.counts_only] = (now, now, now)

    def drawn(self) -> None:
        """A screen update that drew the edge table (or any, after new_spans) ended: everything
        shown before is drawn."""
        now = time.perf_counter()
        with self.lock:
            self.counted = False
            for key, (began_fetch, ended_fetch, shown_at) in sorted(
                self.shown_at.items(), key=lambda item: item[1]
            ):
                done = [p for p in self.pending if p[1] <= began_fetch]
                self.pending = [p for p in self.pending if p[1] > began_fetch]
                self.refreshes += [now - began for began, _ in done]
                self.fetched_too += [key >= 0] * len(done)
                self.parts += [
                    (
                        seen - began,
                        began_fetch - seen,
                        ended_fetch - began_fetch,
                        shown_at - ended_fetch,
                        now - shown_at,
                    )
                    for began, seen in done
                ]
            self.shown_at.clear()

    def reset(self) -> None:
        with self.lock:
            self.pending.clear()
            self.refreshes.clear()
            self.parts.clear()
            self.reads.clear()
            self.counts_only = 0
            self.fetched_too.clear()


async def _until(done: Callable[[], bool], timeout_s: float, what: str) -> None:
    """Waits on the app's own event loop without touching the app (a pilot's pause would post
    messages to every widget each time)."""
    deadline = time.perf_counter() + timeout_s
    while not done():
        if time.perf_counter() > deadline:
            raise RuntimeError(f"{what} within {timeout_s:.0f} s")
        await asyncio.sleep(0.02)


def _status_kib(field: str, pid: int | str = "self") -> int:
    """A memory figure of a process from /proc (VmHWM: its peak RSS so far); 0 elsewhere."""
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith(f"{field}:"):
                return int(line.split()[1])
    except (OSError, ValueError):
        pass
    return 0


def own_peak_kib() -> int:
    """This process's peak RSS since it started, in KiB: VmHWM, which a new program image
    starts afresh. Not ru_maxrss: Linux carries the parent's peak at fork over the exec into
    the child's ru_maxrss, so a process spawned by a parent that once held 4 GB reports 4 GB
    (the live TUI's "4.06 GB" of 2026-12-04 was the benchmark runner's own classification
    peak). ru_maxrss only where /proc is missing, where it is all there is."""
    import resource

    return _status_kib("VmHWM") or resource.getrusage(resource.RUSAGE_SELF).ru_maxrss


def _pss_kib(pid: int) -> int:
    """A process's proportional set size (PSS) in KiB: its resident pages, each shared page
    divided among the processes that map it, so that the PSS of several processes adds up to
    the memory they take together (their RSS counts a shared library once in each); 0 when
    /proc does not say."""
    try:
        for line in Path(f"/proc/{pid}/smaps_rollup").read_text().splitlines():
            if line.startswith("Pss:"):
                return int(line.split()[1])
    except (OSError, ValueError):
        pass
    return 0


def _descendants(pid: int) -> list[int]:
    """The processes below pid (from /proc's lists of children)."""
    found: list[int] = []
    todo = [pid]
    while todo:
        parent = todo.pop()
        try:
            for task in Path(f"/proc/{parent}/task").iterdir():
                children = [int(c) for c in (task / "children").read_text().split()]
                found += children
                todo += children
        except (OSError, ValueError):
            continue
    return found


class _TreeMemory(threading.Thread):
    """Samples, once a second, what everything `tui --collect` runs takes together: the PSS of
    the TUI's process, of its receiver child and of the child's own processes (its decoders,
    multiprocessing's resource tracker); keeps the sample with the largest sum. PSS has no
    kernel-kept peak as RSS has (VmHWM), so a peak between two samples is missed."""

    def __init__(self, receiver: int) -> None:
        super().__init__(name="bench-tree-memory", daemon=True)
        self.receiver = receiver
        self.stopping = threading.Event()
        self.peak = (0, 0, 0, 0)
        """(sum, the TUI, the receiver, the receiver's processes) in KiB."""

    def sample(self) -> None:
        tui = _pss_kib(os.getpid())
        receiver = _pss_kib(self.receiver)
        others = sum(_pss_kib(p) for p in _descendants(self.receiver))
        total = tui + receiver + others
        if total > self.peak[0]:
            self.peak = (total, tui, receiver, others)

    def run(self) -> None:
        while not self.stopping.wait(1.0):
            self.sample()

    def stop(self) -> tuple[int, int, int, int]:
        self.stopping.set()
        if self.ident is not None:  # started
            self.join(timeout=10)
        self.sample()
        return self.peak


def _message(conn: Connection, what: str) -> Any:
    try:
        return conn.recv()
    except EOFError:
        raise RuntimeError(f"the sender process ended before {what}") from None


async def _live(
    path: Path, seconds: float, rate: float, template_spans: int, last: bool
) -> dict[str, Any]:
    """The app with its receiver, the sender beside it. last: also time the refresh that shows
    the last spans sent (a full run), rather than stop at the first refresh after the sender."""
    from textual.pilot import WaitForScreenTimeout
    from textual.widgets import DataTable

    from seamscope.cli.tui import _collector_source
    from seamscope.tui.app import SeamscopeApp
    from seamscope.tui.screens.landscape import LandscapeScreen

    spawn = multiprocessing.get_context("spawn")
    ours, theirs = spawn.Pipe()
    sender = spawn.Process(
        target=_sender, args=(theirs, rate, seconds, template_spans), name="bench-sender"
    )
    sender.start()
    theirs.close()
    probe = _Probe()
    DataChanged = SeamscopeApp.DataChanged
    originals = (
        DataChanged.__init__,
        LandscapeScreen.fetch,
        LandscapeScreen.show,
        LandscapeScreen.new_spans,
    )
    # Textual's own screen update and table drawing, to see when the new data is on screen.
    update, draw_table = LandscapeScreen._compositor_refresh, DataTable.render_lines
    table_drawn = threading.Event()

    def changed(self: Any, *args: Any, **kwargs: Any) -> None:
        originals[0](self, *args, **kwargs)
        probe.changed()

    def fetch(self: Any, q: Any) -> Any:
        began = time.perf_counter()
        payload = originals[1](self, q)
        probe.fetch(began, payload)
        return payload

    def show(self: Any, payload: Any) -> None:
        originals[2](self, payload)
        probe.shown(payload)

    def new_spans(self: Any, spans: int) -> bool:
        shown: bool = originals[3](self, spans)
        if shown:
            probe.new_spans()
        return shown

    def render_lines(self: Any, crop: Any) -> Any:
        table_drawn.set()
        return draw_table(self, crop)

    def compositor_refresh(self: Any) -> None:
        table_drawn.clear()
        update(self)
        if table_drawn.is_set() or probe.counted:
            probe.drawn()

    DataChanged.__init__ = changed  # type: ignore[method-assign]
    LandscapeScreen.fetch = fetch  # type: ignore[method-assign]
    LandscapeScreen.show = show  # type: ignore[method-assign]
    LandscapeScreen.new_spans = new_spans  # type: ignore[method-assign]
    LandscapeScreen._compositor_refresh = compositor_refresh  # type: ignore[method-assign]
    DataTable.render_lines = render_lines  # type: ignore[method-assign]
    source: Any = None
    go_sent = False
    try:
        # As `seamscope tui --collect --landscape FILE --port 0` does it.
        source = _collector_source(path, "127.0.0.1", 0, landscape_path(path))
        port = int(source.url.rsplit(":", 1)[1])
        may_have_changed = source.may_have_changed

        def poll() -> bool:
            probe.poll_began()
            answer: bool = may_have_changed()
            return answer

        source.may_have_changed = poll

        def count() -> tuple[int, int]:
            def work(q: Any) -> tuple[int, int]:
                row = q("SELECT count(*), epoch_ns(max(start_time)) FROM spans", None)
                return int(row.column(0)[0].as_py()), int(row.column(1)[0].as_py() or 0)

            result: tuple[int, int] = source.run(work)
            return result

        before, newest_ns = count()
        app = SeamscopeApp(lambda: source)
        async with app.run_test(size=(160, 50), notifications=True) as pilot:
            await _until(lambda: probe.shows > 0, 600, "the landscape did not appear")
            for _ in range(10):  # the first paint's rendering is not part of a refresh
                try:
                    await pilot.pause()
                    break
                except WaitForScreenTimeout:
                    continue
            await _until(ours.poll, 120, "the sender did not get ready")
            _message(ours, "it was ready")
            peak_before = _status_kib("VmHWM")
            probe.reset()
            tree = _TreeMemory(source.child.pid)
            tree.start()
            ours.send((port, newest_ns, max(1, round(rate / PER_REQUEST))))
            go_sent = True
            await _until(ours.poll, seconds + 300, "the sender did not finish")
            sent: dict[str, Any] = _message(ours, "it was done")
            ended = time.perf_counter()
            # The last spans' refresh: one poll after the receiver's classifier went quiet.
            interval = app.refresh_interval
            settle = 2 * interval + 0.5 if last else 0.0
            await _until(
                lambda: (
                    not probe.pending
                    and bool(probe.refreshes)
                    and time.perf_counter() - ended >= settle
                ),
                60,
                "the landscape did not show the last spans",
            )
            after, _ = count()
            receiver_peak = _status_kib("VmHWM", source.child.pid)
            tree_peak = tree.stop()
            refreshes = [s * 1000 for s in probe.refreshes]
            parts = [median_of([p[i] * 1000 for p in probe.parts]) for i in range(5)]
            reads = [median_of([float(r[i]) for r in probe.reads] or [0.0]) for i in range(2)]
            counts_only = probe.counts_only
            fetching = [r for r, f in zip(refreshes, probe.fetched_too, strict=True) if f]
            await pilot.press("q")
    finally:
        DataChanged.__init__ = originals[0]  # type: ignore[method-assign]
        LandscapeScreen.fetch = originals[1]  # type: ignore[method-assign]
        LandscapeScreen.show = originals[2]  # type: ignore[method-assign]
        LandscapeScreen.new_spans = originals[3]  # type: ignore[method-assign]
        del LandscapeScreen._compositor_refresh  # the Screen's own again
        DataTable.render_lines = draw_table  # type: ignore[method-assign]
        if not go_sent:
            try:
                ours.send(None)
            except OSError:
                pass
        sender.join(timeout=30)
        if sender.is_alive():
            sender.terminate()
        if source is not None:
            source.close()
    return {
        "refreshes": refreshes,
        "before": before,
        "stored": after - before,
        "interval": interval,
        "parts": parts,
        "reads": reads,
        "counts_only": counts_only,
        "fetching": fetching,
        "peak_before_kib": peak_before,
        "receiver_peak_kib": receiver_peak,
        "tree_peak_kib": tree_peak,
        **sent,
    }


def _live_child(
    conn: Connection, path: str, seconds: float, rate: float, spans: int, last: bool
) -> None:
    """The app's process: runs the live measurement and answers with it and its peak RSS."""
    try:
        result = asyncio.run(_live(Path(path), seconds, rate, spans, last))
        result["peak_kib"] = own_peak_kib()
        conn.send(("ok", result))
    except BaseException:
        conn.send(("error", traceback.format_exc()))
    finally:
        conn.close()


def _p95(runs: list[float]) -> float:
    return statistics.quantiles(runs, n=20, method="inclusive")[18] if len(runs) > 1 else runs[0]


def _live_results(ctx: Context, path: Path) -> list[Result]:
    rate = ctx.size(LIVE_RATE, 5_000)
    seconds = LIVE_SECONDS if not ctx.quick else 1.5
    spawn = multiprocessing.get_context("spawn")
    ours, theirs = spawn.Pipe()
    child = spawn.Process(
        target=_live_child,
        args=(theirs, str(path), seconds, rate, ctx.size(2_048, PER_REQUEST), not ctx.quick),
        name="bench-tui-live",
    )
    ctx.log(f"   live: {rate:,} spans/s for {seconds:g} s into the TUI's receiver")
    began = time.perf_counter()
    child.start()
    theirs.close()
    try:
        if not ours.poll(seconds + 900):
            raise RuntimeError("the live TUI run did not finish within 15 minutes")
        status, found = ours.recv()
    except EOFError:
        status, found = "error", f"the live TUI process ended with exit code {child.exitcode}"
    finally:
        child.join(timeout=60)
        if child.is_alive():
            child.terminate()
    if status != "ok":
        raise RuntimeError(f"the live TUI run failed:\n{found}")
    ctx.log(f"   live: done in {time.perf_counter() - began:.1f} s")
    if found["errors"]:
        raise RuntimeError(f"the sender failed: {found['errors']}")
    runs: list[float] = found["refreshes"]
    if not runs:
        raise RuntimeError("no refresh was seen during the live ingest")
    posted, stored, ingest_s = found["posted"], found["stored"], found["seconds"]
    # Offered: what the sender posted over its sending window (a request late past it is not
    # sent); stored: what the store gained until the last acknowledgement (which comes a commit
    # after the window). The goal's condition: the target offered, and every span stored.
    offered = posted / found["window"]
    achieved = stored / ingest_s
    lost = posted - stored
    kept = (
        f"all {stored:,} spans sent stored"
        if lost == 0
        else f"**{lost:,} of {posted:,} spans sent missing**"
    )
    reached = offered >= 0.95 * rate and lost == 0
    behind = "" if reached else f" (**below the {rate / 1000:.0f}k target**)"
    ack_median, ack_max = found["ack_ms"]
    read_median, shown_median = found["reads"]
    note = (
        f"{len(runs)} refreshes in {ingest_s:.1f} s of ingest into {found['before']:,} "
        f"classified spans; offered {offered / 1000:.1f}k spans/s, stored "
        f"{achieved / 1000:.1f}k spans/s{behind} (acknowledged in a median of {ack_median:,.0f} "
        f"ms, at most {ack_max:,.0f} ms; the sender at most {found['lag_s'] * 1000:,.0f} ms "
        f"behind its pace), {kept}; {found['counts_only']} refreshes only showed the new span "
        "count (the classifier had not run since: no fetch), the others read a median of "
        f"{read_median:,.0f} of {shown_median:,.0f} edges shown; built as `tui --collect`, "
        "refresh every "
        f"{found['interval']:g} s, headless 160x50"
    )
    goal = not ctx.quick
    median = median_of(runs)
    p95 = _p95(runs)
    title = f"TUI refresh under live ingest (target {rate / 1000:g}k spans/s)"
    results = [
        Result(
            NAME,
            f"{title}, median",
            median,
            "ms",
            runs,
            goal="≤ 250 ms" if goal else "",
            met=median <= 250 and reached if goal else None,
            note=note,
        ),
        Result(
            NAME,
            f"{title}, p95",
            p95,
            "ms",
            [p95],
            goal="≤ 400 ms" if goal else "",
            met=p95 <= 400 and reached if goal else None,
            note=f"95th percentile of the {len(runs)} refreshes above; their median parts: "
            "poll {:.0f}, until the fetch starts {:.0f}, fetch {:.0f}, show {:.0f}, "
            "until drawn {:.0f} ms".format(*found["parts"]),
        ),
    ]
    fetching: list[float] = found["fetching"]
    if fetching:
        results.append(
            Result(
                NAME,
                f"{title}, the refreshes that read the classifier's changes, median",
                median_of(fetching),
                "ms",
                fetching,
                note=f"{len(fetching)} of the {len(runs)} refreshes above (the others showed only "
                "new spans' count, the classifier not having run since); their p95 "
                f"{_p95(fetching):,.0f} ms",
            )
        )
    return [
        *results,
        Result(
            NAME,
            "TUI process peak memory (RSS) during that live ingest",
            found["peak_kib"] * 1024 / 1_000_000,
            "MB",
            [found["peak_kib"] * 1024 / 1_000_000],
            note="VmHWM of the app's own process (the TUI and its reads; the receiver is its "
            "child process)"
            + (
                f"; {found['peak_before_kib'] * 1024 / 1_000_000:,.0f} MB before the ingest began"
                if found["peak_before_kib"]
                else ""
            )
            + (
                f"; the receiver child peaked at {found['receiver_peak_kib'] * 1024 / 1e6:,.0f} MB"
                if found["receiver_peak_kib"]
                else ""
            ),
        ),
        *_tree_result(found["tree_peak_kib"]),
    ]


def _tree_result(peak: tuple[int, int, int, int]) -> list[Result]:
    """What everything `tui --collect` ran took together at its largest sample."""
    total, tui, receiver, others = (kib * 1024 / 1_000_000 for kib in peak)
    if not total:
        return []  # no /proc
    return [
        Result(
            NAME,
            "Everything `tui --collect` runs during that live ingest, PSS summed",
            total,
            "MB",
            [total],
            note=f"the largest of samples taken once a second: the TUI {tui:,.0f} MB, its "
            f"receiver child {receiver:,.0f} MB, the child's decoder processes and resource "
            f"tracker {others:,.0f} MB (PSS: shared pages split among the processes that map "
            "them, so the sum counts each once)",
        )
    ]


# ---- both ---------------------------------------------------------------------------------


def _drill_down(ctx: Context, path: Path, count: int) -> list[Result]:
    """Opening an edge (its newest spans and latency by operation) and a trace (its spans and,
    for an event between traces, the other side), the reads the edge and trace screens make,
    on five edges: the largest, a middle one and the smallest, the largest listening edge and a
    middle one. The peer: the same reads over span_labels joined to spans, as a store labelled
    before classifier_labelled_spans is read; run in turn."""
    from seamscope.classifiers import read
    from seamscope.tracer.access import open_reader

    reader = open_reader(path)

    def picks(q: Any) -> list[tuple[str, str]]:
        edges = q(
            "SELECT edge_id, direction FROM edges ORDER BY span_count DESC, edge_id", None
        ).to_pylist()
        listening = [e for e in edges if e["direction"] == "listen"]
        chosen = [edges[0], edges[len(edges) // 2], edges[-1]]
        if listening:
            chosen += [listening[0], listening[len(listening) // 2]]
        out = []
        for edge in chosen:
            found = q(
                "SELECT trace_id FROM classifier_labelled_spans WHERE edge_id = ? "
                "ORDER BY start_time DESC LIMIT 1",
                [edge["edge_id"]],
            ).column(0)
            out.append((str(edge["edge_id"]), str(found[0].as_py())))
        return out

    chosen = reader.run(picks)
    timings: dict[tuple[str, bool], list[float]] = {}
    original = read._labelled

    def by_ids(q: Any) -> str:
        return read._LABELLED_BY_IDS

    for round_ in range(max(1, ctx.repeats)):
        for peer in (False, True) if round_ % 2 == 0 else (True, False):
            setattr(read, "_labelled", by_ids if peer else original)  # noqa: B010
            try:
                for edge_id, trace_id in chosen:
                    for what, work in (
                        ("edge", partial(read.edge_detail, edge_id=edge_id)),
                        ("trace", partial(read.trace_view, trace_id=trace_id)),
                    ):
                        began = time.perf_counter()
                        reader.run(work)
                        timings.setdefault((what, peer), []).append(
                            (time.perf_counter() - began) * 1000
                        )
            finally:
                setattr(read, "_labelled", original)  # noqa: B010
    results = []
    for what, title in (("edge", "an edge opened"), ("trace", "a trace opened")):
        ours, theirs = median_of(timings[(what, False)]), median_of(timings[(what, True)])
        results.append(
            Result(
                NAME,
                f"{title} on {count:,} classified spans",
                ours,
                "ms",
                timings[(what, False)],
                ratio=f"{ours / theirs:.2f}x span_labels joined to spans ({theirs:,.0f} ms)",
                note=f"median over {len(chosen)} edges (largest, middle, smallest, two "
                "listening) and their newest traces, each read "
                f"{max(1, ctx.repeats)} times in turn with the peer; the reads of the "
                f"{'edge' if what == 'edge' else 'trace'} screen (classifiers/read.py)",
            )
        )
    return results


def _full_size() -> int:
    text = os.environ.get(SIZE_ENV, "").replace("_", "").strip()
    return int(text) if text else 10_000_000


def run(ctx: Context) -> list[Result]:
    from seamscope.classifiers.engine import classify
    from seamscope.classifiers.landscape import load_landscape

    spans = ctx.size(_full_size(), 3_000)
    path = ctx.stores.get("classified-big")
    if path is None or not path.exists():
        import duckdb

        path = ctx.workdir / "tui.duckdb"
        generate_store(path, spans, force=True, log=ctx.log)
        con = duckdb.connect(str(path))
        try:
            classify(con, load_landscape(landscape_path(path)), full=True)
        finally:
            con.close()
    import duckdb

    con = duckdb.connect(str(path), read_only=True)
    try:
        row = con.execute("SELECT count(*) FROM spans").fetchone()
    finally:
        con.close()
    count = int(row[0]) if row else 0
    runs: list[float] = []
    shown_runs: list[float] = []
    map_runs: list[float] = []
    while len(runs) < ctx.repeats and sum(runs) < 20_000:
        shown, paint, mapped = asyncio.run(_first_paint(path))
        shown_runs.append(shown * 1000)
        runs.append(paint * 1000)
        map_runs.append(mapped * 1000)
    value = median_of(runs)
    goal = count >= 10_000_000
    results = [
        Result(
            NAME,
            f"TUI first paint (landscape) on {count:,} classified spans",
            value,
            "ms",
            runs,
            goal="≤ 1 s" if goal else "",
            met=value <= 1000 if goal else None,
            note="headless run_test, 160x50, from app start until the landscape is drawn (the "
            "app idle again after the screen got its data, which took a median of "
            f"{median_of(shown_runs):,.0f} ms)",
        ),
        Result(
            NAME,
            f"TUI map toggled with m on {count:,} classified spans",
            median_of(map_runs),
            "ms",
            map_runs,
            note="from the key press until the app is idle again (the map drawn when a landscape "
            "over 30 boxes starts with it hidden)",
        ),
    ]
    results += _drill_down(ctx, path, count)
    # Last: it appends to the store.
    return results + _live_results(ctx, path)
