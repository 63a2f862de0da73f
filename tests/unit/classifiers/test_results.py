"""The verdict is declared once: its rank orders Python and SQL alike."""

from __future__ import annotations

import duckdb

from seamscope.classifiers.results import FINDINGS, Verdict, verdict_rank_sql


def test_the_sql_rank_of_a_verdict_is_its_rank() -> None:
    values = ", ".join(f"('{v}')" for v in Verdict)
    rows = duckdb.connect().execute(
        f"SELECT v, {verdict_rank_sql('v')} FROM (VALUES {values}) AS t(v)"
    )
    assert dict(rows.fetchall()) == {v.value: v.rank for v in Verdict}


def test_findings_come_first_and_every_verdict_looks_different() -> None:
    assert Verdict.worst_first()[: len(FINDINGS)] == FINDINGS
    assert Verdict.worst_first()[0] is Verdict.ANTI_PATTERN
    assert len({v.rank for v in Verdict}) == len({v.style for v in Verdict}) == len(Verdict)
