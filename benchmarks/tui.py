"""The TUI's first paint on a big store: from starting the app to the landscape on screen.

The store is the classified 10M-span store the classify benchmark leaves (or a new one), opened
the way `seamscope tui` opens it (tui/data.py open_source). The app runs headless (Textual's
run_test); "painted" is the moment the landscape screen has put its data into its widgets.
Goal (issue 6): first paint on 10M spans within 1 s.
"""

from __future__ import annotations

import asyncio
import time
from pathlib import Path
from typing import Any

from benchmarks.common import Context, Result, Skip, median_of
from benchmarks.generate import generate_store, landscape_path

NAME = "tui"


async def _first_paint(path: Path) -> float:
    from seamscope.tui.app import SeamscopeApp
    from seamscope.tui.data import open_source
    from seamscope.tui.screens.landscape import LandscapeScreen

    painted = asyncio.Event()
    original = LandscapeScreen.show

    def show(self: Any, payload: Any) -> None:
        original(self, payload)
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
            seconds = time.perf_counter() - begin
            await pilot.press("q")
    finally:
        LandscapeScreen.show = original  # type: ignore[method-assign]
    return seconds


def run(ctx: Context) -> list[Result]:
    try:
        from seamscope.classifiers.engine import classify
        from seamscope.classifiers.landscape import load_landscape
        from seamscope.tui.app import SeamscopeApp  # noqa: F401
        from seamscope.tui.data import open_source  # noqa: F401
        from seamscope.tui.screens.landscape import LandscapeScreen  # noqa: F401
    except ImportError as exc:
        raise Skip(f"the TUI (tui/app.py) or the classifier is not there yet ({exc})") from None
    spans = ctx.size(10_000_000, 3_000)
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
    while len(runs) < ctx.repeats and sum(runs) < 20_000:
        runs.append(asyncio.run(_first_paint(path)) * 1000)
    value = median_of(runs)
    goal = count >= 10_000_000
    return [
        Result(
            NAME,
            f"TUI first paint (landscape) on {count:,} classified spans",
            value,
            "ms",
            runs,
            goal="≤ 1 s" if goal else "",
            met=value <= 1000 if goal else None,
            note="headless run_test, 160x50, app start included",
        )
    ]
