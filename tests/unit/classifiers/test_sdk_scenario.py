"""Issue 11's scenario in every SDK's span shapes, through the real classifier in-process.

One store per SDK (tests/fixtures/sdks/scenario.py), classified with the scenario's landscape;
each integration is compared with the label tests/fixtures/sdks/expected.py gives it. The cases
that fail today are marked xfail(strict): each one fails the suite as soon as it passes, so the
mark is taken off with the fix.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import duckdb
import pytest

from seamscope.classifiers.engine import classify
from seamscope.classifiers.landscape import parse_landscape
from seamscope.classifiers.read import snapshot
from seamscope.tracer.access import connection_query
from tests.fixtures.sdks import SDKS
from tests.fixtures.sdks.expected import (
    Case,
    params,
    problems,
    records,
    unnamed_joins,
    unnamed_params,
)
from tests.fixtures.sdks.scenario import LANDSCAPE, build

Edges = Callable[[str], list[dict[str, Any]]]


@pytest.fixture(scope="module")
def edges_of(tmp_path_factory: pytest.TempPathFactory) -> Edges:
    cache: dict[str, list[dict[str, Any]]] = {}

    def get(sdk: str) -> list[dict[str, Any]]:
        if sdk not in cache:
            folder: Path = tmp_path_factory.mktemp(sdk)
            path = build(SDKS[sdk]).store(folder / "store.duckdb")
            con = duckdb.connect(str(path))
            try:
                classify(con, parse_landscape(LANDSCAPE, folder / "seamscope.toml"))
                with con.cursor() as cursor:
                    cache[sdk] = records(snapshot(connection_query(cursor)))
            finally:
                con.close()
        return cache[sdk]

    return get


@pytest.mark.parametrize(("case", "sdk"), params())
def test_integration_gets_the_guideline_label(case: Case, sdk: str, edges_of: Edges) -> None:
    assert problems(case, sdk, edges_of(sdk)) == []


@pytest.mark.parametrize("sdk", unnamed_params())
def test_no_edge_rests_on_an_unnamed_resource(sdk: str, edges_of: Edges) -> None:
    assert unnamed_joins(edges_of(sdk)) == []


def test_every_sdk_and_case_has_an_expectation() -> None:
    from tests.fixtures.sdks.expected import CASES

    for case in CASES:
        assert set(case.expected) == set(SDKS), case.key
