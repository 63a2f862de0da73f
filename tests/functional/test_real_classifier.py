"""The TUI over edges the real classifier wrote (no hand-made rows): what the screens show must
match the store, and spans appended by another writer get classified and appear live."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import duckdb
import pytest
from textual.widgets import DataTable, Static

from seamscope.classifiers.catalog import RULES_BY_ID
from seamscope.tracer.rows import SpanBatchBuilder
from seamscope.tracer.store import short_lock
from seamscope.tui.screens.edge import EdgeScreen
from seamscope.tui.screens.landscape import LandscapeScreen
from seamscope.tui.screens.lists import FindingsScreen, PatternsScreen
from tests.functional.conftest import AppFactory, settle
from tests.functional.sample import T0, build_store
from tests.functional.test_screens import SIZE, cells, static_text

pytestmark = pytest.mark.anyio


@pytest.fixture
def classified_db(tmp_path: Path) -> Path:
    return build_store(tmp_path / "classified.duckdb", manual=False)


def scalar(path: Path, sql: str) -> Any:
    con = duckdb.connect(str(path), read_only=True)
    try:
        row = con.execute(sql).fetchone()
    finally:
        con.close()
    assert row is not None
    return row[0]


async def test_screens_match_the_classified_store(
    classified_db: Path, make_app: AppFactory
) -> None:
    landscape_edges = scalar(
        classified_db, "SELECT count(*) FROM edges WHERE level IN ('system', 'external')"
    )
    finding_count = scalar(classified_db, "SELECT count(*) FROM findings")
    assert landscape_edges > 0 and finding_count > 0
    app = make_app(classified_db, classify=True)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        assert isinstance(app.screen, LandscapeScreen)
        assert app.screen.view is not None and len(app.screen.view.edges) == landscape_edges
        await pilot.press("n")
        await settle(pilot)
        assert isinstance(app.screen, FindingsScreen)
        findings = app.screen.query_one("#findings", DataTable)
        assert findings.row_count == finding_count
        rule_id = cells(findings, 1)[0]
        await pilot.press("enter")
        await settle(pilot)
        assert isinstance(app.screen, EdgeScreen)
        text = static_text(app.screen.query_one("#edge-text", Static))
        rule = RULES_BY_ID[rule_id]
        assert rule.name in text
        assert rule.fix.split()[0] in text
        await pilot.press("p")
        await settle(pilot)
        assert isinstance(app.screen, PatternsScreen)
        rules = app.screen.query_one("#rules", DataTable)
        ids = cells(rules, 0)
        for rid in RULES_BY_ID:
            assert rid in ids
        row = ids.index(rule_id)
        expected = scalar(classified_db, f"SELECT count(*) FROM edges WHERE rule_id = '{rule_id}'")
        assert cells(rules, 4)[row] == str(expected)


def _append_webapp_call(path: Path) -> None:
    """Another process's exporter: a webapp calls another system's REST API directly."""
    builder = SpanBatchBuilder()
    start = T0 + 7_200 * 10**9
    web = {"service.name": "kiosk", "service.namespace": "kiosk", "seamscope.role": "webapp"}
    api = {"service.name": "stock-api", "service.namespace": "stock", "seamscope.role": "backend"}
    builder.add(
        trace_id="c" * 32,
        span_id="c" * 16,
        parent_span_id=None,
        name="GET",
        kind="CLIENT",
        start_ns=start,
        end_ns=start + 9_000_000,
        status_code="UNSET",
        status_message=None,
        attributes={
            "http.request.method": "GET",
            "url.full": "http://stock-api:8080/stock/1",
            "server.address": "stock-api",
            "server.port": 8080,
            "http.response.status_code": 200,
        },
        resource=web,
        scope_name="opentelemetry.instrumentation.httpx",
    )
    builder.add(
        trace_id="c" * 32,
        span_id="d" * 16,
        parent_span_id="c" * 16,
        name="GET /stock/<id>",
        kind="SERVER",
        start_ns=start + 1_000_000,
        end_ns=start + 8_000_000,
        status_code="UNSET",
        status_message=None,
        attributes={"http.request.method": "GET", "http.route": "/stock/<id>"},
        resource=api,
        scope_name="opentelemetry.instrumentation.flask",
    )
    with short_lock(path, attempts=20) as store:
        store.append(builder.build(), batch_key="kiosk-1", source="tests")


async def test_local_store_classifies_new_spans_live(
    classified_db: Path, make_app: AppFactory
) -> None:
    app = make_app(classified_db, refresh_interval=0.2, classify=True)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        systems = app.screen.query_one("#systems", DataTable)
        assert "kiosk" not in cells(systems, 1)
        _append_webapp_call(classified_db)
        for _ in range(400):  # bounded: the timer fires every 0.2 s
            await pilot.pause(0.05)
            if "kiosk" in cells(systems, 1):
                break
        assert "kiosk" in cells(systems, 1)
        # A101 (a webapp calling another system's REST API) is a new finding: announced on
        # the news line, not in a toast over the data.
        assert app.news is not None and "new finding" in app.news.plain
        assert not app._notifications
        systems.move_cursor(row=cells(systems, 1).index("kiosk"))
        await settle(pilot)
        table = app.screen.query_one("#edges", DataTable)
        assert [(f, t) for f, t in zip(cells(table, 2), cells(table, 3), strict=True)] == [
            ("kiosk/kiosk", "stock/stock-api")
        ]
        assert cells(table, 1) == ["A101"]


async def test_header_findings_and_patterns_count_the_same_edges(
    classified_db: Path, make_app: AppFactory
) -> None:
    """The header counts edges of every level, as the findings and patterns screens do."""
    from seamscope.classifiers.results import Verdict

    app = make_app(classified_db, classify=True)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        summary = static_text(app.screen.query_one("#summary", Static))
        header = {v: 0 for v in Verdict}  # a verdict no edge has is left out of the header
        for v in Verdict:
            found = re.search(rf"{re.escape(v.glyph)} ([\d,]+) {v}", summary)
            if found:
                header[v] = int(found.group(1).replace(",", ""))
        await pilot.press("n")
        await settle(pilot)
        findings = [
            c.split(" ", 1)[1] for c in cells(app.screen.query_one("#findings", DataTable), 0)
        ]
        assert findings.count("smell") == header[Verdict.SMELL] > 0
        assert findings.count("anti-pattern") == header[Verdict.ANTI_PATTERN] > 0
        await pilot.press("p")
        await settle(pilot)
        rules = app.screen.query_one("#rules", DataTable)
        per_verdict: dict[str, int] = {}
        for verdict, edges in zip(cells(rules, 3), cells(rules, 4), strict=True):
            key = verdict.split(" ", 1)[1]
            per_verdict[key] = per_verdict.get(key, 0) + int(edges.replace(",", ""))
        assert {Verdict(k): n for k, n in per_verdict.items() if n} == {
            v: n for v, n in header.items() if n
        }
