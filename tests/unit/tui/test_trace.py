"""A span that carries the labels of several edges (a batch receive of messages from several
producers) is one row of the waterfall, and one span of the trace's count."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime

from seamscope.classifiers.read import SpanRow
from seamscope.classifiers.results import Verdict
from seamscope.tui.screens.trace import span_count, waterfall_rows

T0 = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)


def _span(span_id: str, parent: str | None, edge: str | None, rule: str | None) -> SpanRow:
    verdict = None if rule is None else Verdict.PATTERN if rule[0] == "P" else Verdict.ANTI_PATTERN
    return SpanRow(
        trace_id="t",
        span_id=span_id,
        parent_span_id=parent,
        name="SQS.ReceiveMessage" if edge else "poll queue",
        kind="CLIENT" if edge else "INTERNAL",
        service_name="billing-worker",
        start_time=T0,
        duration_ms=5.0,
        status_code="UNSET",
        edge_id=edge,
        verdict=verdict,
        rule_id=rule,
        side="consumer" if edge else None,
    )


# As the store returns them: one row per label of the receive, the opened edge's not first.
SPANS = (
    _span("root", None, None, None),
    _span("recv", "root", "e-pattern", "P402"),
    _span("recv", "root", "e-opened", "A202"),
    _span("recv", "root", "e-other", "A202"),
)


def _labels(edge_id: str | None) -> dict[str, str]:
    return {key: str(cells[5]) for key, cells in waterfall_rows(SPANS, edge_id, 160)}


def test_the_row_of_a_span_of_several_edges_says_the_edge_it_was_opened_from() -> None:
    """It said the first label the store returned (P402 here), without the ◀ of the edge the
    trace was opened from, and Enter on it opened that other edge."""
    labels = _labels("e-opened")
    assert list(labels) == ["root", "recv"]
    assert labels["recv"].startswith("◀ ✗ A202 anti-pattern") and "+2" in labels["recv"]


def test_opened_from_none_of_them_the_row_says_the_worst() -> None:
    assert _labels(None)["recv"].startswith("✗ A202 anti-pattern")
    assert "+2" in _labels(None)["recv"]


def test_the_trace_counts_each_span_once() -> None:
    """The trace's line said "4 spans" of these two (6 of 2 on a generated store)."""
    assert span_count(SPANS) == 2


def test_a_failed_span_says_so_in_words_not_only_in_red() -> None:
    """The waterfall has no status column: a span with status ERROR was told by its name in red
    alone, which NO_COLOR (or a colour-blind reader) does not see."""
    failed = replace(SPANS[0], span_id="boom", parent_span_id="root", status_code="ERROR")
    rows = dict(waterfall_rows((*SPANS, failed), None, 160))
    assert "error" in str(rows["boom"][1]).lower()
    assert "error" not in str(rows["root"][1]).lower()
