"""Issue 11's scenario in every SDK's span shapes, the way a user feeds them: OTLP JSON files
through `seamscope ingest` and `seamscope edges --landscape` as real processes.

The same cases and expectations as tests/unit/classifiers/test_sdk_scenario.py (the in-process
variant), from the spans alone and with the account's wiring declared in the landscape file.
"""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from tests.e2e.test_classify_otlp import otlp_json
from tests.fixtures.sdks import SDKS
from tests.fixtures.sdks.expected import Case, params, problems, unnamed_joins, unnamed_params
from tests.fixtures.sdks.scenario import LANDSCAPE, build, declared_routes

pytestmark = pytest.mark.e2e

Edges = Callable[[str, bool], list[dict[str, Any]]]
RUN = [sys.executable, "-m", "seamscope.cli"]


def _run(*args: str, cwd: Path) -> str:
    done = subprocess.run(
        [*RUN, *args], capture_output=True, text=True, timeout=180, cwd=cwd, check=False
    )
    assert done.returncode == 0, done.stderr
    return done.stdout


@pytest.fixture(scope="module")
def edges_of(tmp_path_factory: pytest.TempPathFactory) -> Edges:
    cache: dict[tuple[str, bool], list[dict[str, Any]]] = {}
    stores: dict[str, Path] = {}

    def get(sdk: str, wired: bool) -> list[dict[str, Any]]:
        if (sdk, wired) not in cache:
            folder = tmp_path_factory.mktemp(f"{sdk}-{wired}")
            if sdk not in stores:
                traces = folder / "traces.jsonl"
                traces.write_text(otlp_json(build(SDKS[sdk]).in_end_order()))
                stores[sdk] = folder / "store.duckdb"
                _run("ingest", str(traces), "--db", str(stores[sdk]), cwd=folder)
            landscape = folder / "landscape.toml"
            landscape.write_text(LANDSCAPE + (declared_routes() if wired else ""))
            out = _run(
                "edges",
                "--db",
                str(stores[sdk]),
                "--landscape",
                str(landscape),
                "--format",
                "json",
                cwd=folder,
            )
            cache[(sdk, wired)] = json.loads(out)
        return cache[(sdk, wired)]

    return get


@pytest.mark.parametrize("wired", [False, True], ids=["spans", "declared-routes"])
@pytest.mark.parametrize(("case", "sdk"), params())
def test_integration_gets_the_guideline_label(
    case: Case, sdk: str, wired: bool, edges_of: Edges
) -> None:
    assert problems(case, sdk, edges_of(sdk, wired), wired=wired) == []


@pytest.mark.parametrize("sdk", unnamed_params())
def test_no_edge_rests_on_an_unnamed_resource(sdk: str, edges_of: Edges) -> None:
    assert unnamed_joins(edges_of(sdk, False)) == []
    assert unnamed_joins(edges_of(sdk, True)) == []


def test_check_lists_unresolved_edges_and_does_not_fail_on_them(tmp_path: Path) -> None:
    """A Go fleet: its anti-patterns accepted in a baseline, `seamscope check` passes and lists
    what it could not resolve, with why."""
    traces = tmp_path / "traces.jsonl"
    traces.write_text(otlp_json(build(SDKS["go-0.64"]).in_end_order()))
    landscape = tmp_path / "landscape.toml"
    landscape.write_text(LANDSCAPE)
    db = tmp_path / "store.duckdb"
    _run("ingest", str(traces), "--db", str(db), cwd=tmp_path)
    store = ["--db", str(db), "--landscape", str(landscape)]
    baseline = str(tmp_path / "baseline.json")
    _run("check", *store, "--update-baseline", "--baseline", baseline, cwd=tmp_path)
    out = _run("check", *store, "--baseline", baseline, cwd=tmp_path)
    assert "Unresolved (no finding, a fact is missing):" in out
    assert "the PutEvents span of orders/orders-api carries no bus, source or detail-type" in out
    assert "A401" not in out  # the stream reader's lease table is no replication
    report = json.loads(
        _run("check", *store, "--baseline", baseline, "--format", "json", cwd=tmp_path)
    )
    assert report["new"] == 0 and report["unresolved"]
    assert {f["verdict"] for f in report["unresolved"]} == {"unresolved"}


def test_links_survive_the_file_and_the_store(tmp_path: Path) -> None:
    """Links to the senders, as the Java agent writes them, reach the store through a file."""
    fleet = build(SDKS["java"])
    linked = [s for s in fleet.spans if s.links]
    assert linked, "the Java scenario links its consumers to their senders"
    traces = tmp_path / "traces.jsonl"
    traces.write_text(otlp_json(fleet.in_end_order()))
    db = tmp_path / "store.duckdb"
    _run("ingest", str(traces), "--db", str(db), cwd=tmp_path)
    out = _run(
        "sql",
        "--db",
        str(db),
        "--csv",
        "select span_id, links from spans where links is not null order by span_id",
        cwd=tmp_path,
    )
    stored = {line.split(",", 1)[0]: line for line in out.splitlines()[1:]}
    assert set(stored) == {s.span_id for s in linked}
    for span in linked:
        for trace_id, span_id, _ in span.links:
            assert trace_id in stored[span.span_id] and span_id in stored[span.span_id]
