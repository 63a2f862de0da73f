"""Counts as the command line says them: "1 request", "2 requests" (a count of one read
"1 requests read", "1 rows")."""

from __future__ import annotations

import pytest

from seamscope.cli.ingest import summary
from seamscope.tracer.ingest import IngestReport
from seamscope.tracer.terminal import plural


@pytest.mark.parametrize(
    ("n", "said"),
    [(0, "0 requests"), (1, "1 request"), (2, "2 requests"), (1234, "1,234 requests")],
)
def test_plural(n: int, said: str) -> None:
    assert plural(n, "request") == said


def test_plural_takes_an_irregular_plural() -> None:
    assert plural(1, "entry", "entries") == "1 entry"
    assert plural(2, "entry", "entries") == "2 entries"


def test_ingest_summary_of_one() -> None:
    report = IngestReport(requests=1, spans_stored=1, spans_present=0, bad_requests=1)
    report.others.append("notes.txt")
    assert summary(report) == (
        "seamscope: 1 request read: 1 span stored, 0 already present, 1 bad request skipped; "
        "1 other file in the folders not read (notes.txt)"
    )


def test_ingest_summary_of_two() -> None:
    report = IngestReport(requests=2, spans_stored=2, spans_present=2, bad_requests=2)
    report.others.extend(["a.txt", "b.txt"])
    assert summary(report) == (
        "seamscope: 2 requests read: 2 spans stored, 2 already present, 2 bad requests skipped; "
        "2 other files in the folders not read (a.txt, b.txt)"
    )
