"""The classification commands as a user runs them: real processes over a real store.

The store is built from sample_traces/ (OTLP JSON captured from the real, instrumented demo
fleet) by `seamscope ingest`, and its README's table of expected labels is the oracle.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Any

import pytest

from seamscope.classifiers.catalog import RULES
from tests.ci import cannot_run, require_tool
from tests.unit.classifiers.fleet import Fleet, Service

pytestmark = pytest.mark.e2e

ROOT = Path(__file__).resolve().parents[2]
SAMPLES = ROOT / "sample_traces"
LANDSCAPE = SAMPLES / "seamscope.toml"
INFERRED = (
    "seamscope: no landscape file (--landscape FILE or ./seamscope.toml): systems, roles and "
    "vendors are inferred from the spans\n"
)


def seamscope(*args: str, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "seamscope.cli", *args],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=cwd,
    )


def expected_labels() -> set[tuple[str, str, str, str]]:
    text = (SAMPLES / "README.md").read_text()
    table = text.split("<!-- expected-labels -->")[1].split("<!-- /expected-labels -->")[0]
    rows = set()
    for line in table.splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if len(cells) >= 4 and re.fullmatch(r"[AP]\d{3}", cells[3]):
            rows.add((cells[0], cells[1], cells[2], cells[3]))
    return rows


def _short(name: str) -> str:
    """'inventory/inventory-api' -> 'inventory-api'; 'external:algolia' -> 'algolia'."""
    if name.startswith("external:"):
        return name[len("external:") :]
    return name.split("/", 1)[1] if "/" in name and ":" not in name else name


@pytest.fixture(scope="module")
def store(tmp_path_factory: pytest.TempPathFactory) -> Path:
    if not (SAMPLES / "demo-fleet.jsonl").exists():
        pytest.skip("sample_traces/ not captured yet")
    db = tmp_path_factory.mktemp("classify") / "samples.duckdb"
    done = seamscope("ingest", str(SAMPLES / "demo-fleet.jsonl"), "--db", str(db))
    assert done.returncode == 0, done.stderr
    return db


def test_edges_json_carries_the_readme_labels(store: Path) -> None:
    done = seamscope("edges", "--db", str(store), "--landscape", str(LANDSCAPE), "--format", "json")
    assert done.returncode == 0, done.stderr
    edges = json.loads(done.stdout)
    seen = {(_short(e["from"]), _short(e["to"]), e["mechanism"], e["rule_id"]) for e in edges}
    assert expected_labels() <= seen
    assert {r.id for r in RULES} <= {e["rule_id"] for e in edges}
    for e in edges:
        assert e["span_count"] > 0 and e["first_seen"] and e["last_seen"] and e["sample_trace_id"]
        assert e["p50_ms"] is not None and e["p95_ms"] >= e["p50_ms"]


def test_services_without_a_namespace_are_unresolved_until_the_landscape_places_them(
    tmp_path: Path,
) -> None:
    # The sample traces with service.namespace taken off every resource: a fleet that never set
    # it. Without a landscape file no edge between components guesses their systems; with the
    # file, which places every component, they get the README's labels again.
    if not (SAMPLES / "demo-fleet.jsonl").exists():
        pytest.skip("sample_traces/ not captured yet")
    stripped = tmp_path / "no-namespace.jsonl"
    with stripped.open("w") as out:
        for line in (SAMPLES / "demo-fleet.jsonl").read_text().splitlines():
            request = json.loads(line)
            for rs in request.get("resourceSpans", []):
                resource = rs.get("resource", {})
                resource["attributes"] = [
                    a for a in resource.get("attributes", []) if a["key"] != "service.namespace"
                ]
            out.write(json.dumps(request) + "\n")
    db = tmp_path / "s.duckdb"
    done = seamscope("ingest", str(stripped), "--db", str(db))
    assert done.returncode == 0, done.stderr
    done = seamscope("edges", "--db", str(db), "--format", "json")
    assert done.returncode == 0, done.stderr
    edges = json.loads(done.stdout)
    # The vendor stand-ins answer on loopback: without the file that declares them, a call to
    # them may as well reach an untraced service of the fleet, and is not taken as a vendor's.
    vendors = [e for e in edges if e["mechanism"] == "http-external"]
    assert vendors and all(
        e["verdict"] == "unresolved"
        and e["level"] == "external"
        and "a loopback address" in e["reason"]
        for e in vendors
    ), vendors
    between = [
        e
        for e in edges
        if e["level"] != "external" and e["mechanism"] not in ("s3", "http-external")
    ]
    assert between and all(e["verdict"] == "unresolved" for e in between), [
        (e["from"], e["to"], e["rule_id"]) for e in between if e["verdict"] != "unresolved"
    ]
    assert all(
        re.match(r"the systems? of .+ (is|are) unknown \(set service\.namespace", e["reason"])
        for e in between
    )
    # Their level says as much: `seamscope edges --level unknown` lists them (and the S3 calls
    # of such components, which no rule covers), each with an end of no known system.
    done = seamscope("edges", "--db", str(db), "--level", "unknown", "--format", "json")
    assert done.returncode == 0, done.stderr
    unknown = json.loads(done.stdout)
    keys = {(e["from"], e["to"], e["mechanism"]) for e in unknown}
    assert {(e["from"], e["to"], e["mechanism"]) for e in between if e["from"] != e["to"]} <= keys
    assert unknown and all("?/" in (e["from"][:2], e["to"][:2]) for e in unknown)
    # The diagrams draw them as the TUI does: the group "?", with its components and its edges.
    done = seamscope("export", "--db", str(db))
    assert done.returncode == 0, done.stderr
    assert '["? (no known system)"]' in done.stdout
    assert re.search(r"^    \S+ -->\|\"http-external · [^\"]+\"\| vendor_", done.stdout, re.M)
    done = seamscope("export", "--db", str(db), "--format", "structurizr", "--level", "component")
    assert done.returncode == 0, done.stderr
    group = done.stdout.split('softwareSystem "? (no known system)" {', 1)[1].split("        }")[0]
    callers = {_short(e["from"]) for e in between if e["from"].startswith("?/")}
    assert callers and all(f'container "{name}"' in group for name in callers), group
    done = seamscope("edges", "--db", str(db), "--landscape", str(LANDSCAPE), "--format", "json")
    assert done.returncode == 0, done.stderr
    placed = json.loads(done.stdout)
    assert not [e for e in placed if e["level"] == "unknown"]
    seen = {(_short(e["from"]), _short(e["to"]), e["mechanism"], e["rule_id"]) for e in placed}
    assert expected_labels() <= seen
    assert not [e for e in placed if e["verdict"] == "unresolved"]


def test_a_service_whose_spans_carry_no_service_name_is_no_vendor(tmp_path: Path) -> None:
    # The sample traces with service.name taken off providers-api's resource (a Collector's
    # processor that drops it). Its server spans still answer the calls of the BFF, the portal
    # and the comms worker in their traces: those calls go to the unnamed component of the
    # providers system, unresolved because the spans carry no service.name, never to a vendor
    # at its host and port.
    if not (SAMPLES / "demo-fleet.jsonl").exists():
        pytest.skip("sample_traces/ not captured yet")
    stripped = tmp_path / "no-name.jsonl"
    with stripped.open("w") as out:
        for line in (SAMPLES / "demo-fleet.jsonl").read_text().splitlines():
            request = json.loads(line)
            for rs in request.get("resourceSpans", []):
                attrs = rs.get("resource", {}).get("attributes", [])
                if {"key": "service.name", "value": {"stringValue": "providers-api"}} in attrs:
                    attrs[:] = [a for a in attrs if a["key"] != "service.name"]
            out.write(json.dumps(request) + "\n")
    db = tmp_path / "s.duckdb"
    done = seamscope("ingest", str(stripped), "--db", str(db))
    assert done.returncode == 0, done.stderr
    done = seamscope("edges", "--db", str(db), "--landscape", str(LANDSCAPE), "--format", "json")
    assert done.returncode == 0, done.stderr
    edges = json.loads(done.stdout)
    assert not [e for e in edges if "providers-api" in e["from"] + e["to"]]
    called = {_short(e["from"]): e for e in edges if e["to"] == "providers/unknown-service"}
    assert {"webapp-bff", "comms-worker", "provider-portal"} <= set(called)
    for e in called.values():
        assert (e["mechanism"], e["verdict"]) == ("rest", "unresolved"), e
        assert e["reason"].startswith(
            "the spans of providers/unknown-service carry no service.name"
        ), e
    externals = [e for e in edges if e["level"] == "external"]
    assert {_short(e["to"]) for e in externals} <= {"mailchimp", "algolia"}, externals


def test_edges_level_filter_and_table(store: Path) -> None:
    done = seamscope(
        "edges",
        "--db",
        str(store),
        "--landscape",
        str(LANDSCAPE),
        "--level",
        "external",
        "--format",
        "json",
    )
    assert done.returncode == 0, done.stderr
    levels = {e["level"] for e in json.loads(done.stdout)}
    assert levels == {"external"}
    table = seamscope("edges", "--db", str(store), "--landscape", str(LANDSCAPE))
    assert table.returncode == 0
    assert "A401" in table.stdout and "anti-pattern" in table.stdout


def test_check_fails_on_anti_patterns_and_says_what_to_do(store: Path) -> None:
    done = seamscope("check", "--db", str(store), "--landscape", str(LANDSCAPE), "--format", "json")
    assert done.returncode == 1, done.stderr
    report = json.loads(done.stdout)
    rules = {f["rule_id"] for f in report["findings"]}
    assert {"A101", "A102", "A201", "A202", "A301", "A302", "A401", "A303"} <= rules
    for f in report["findings"]:
        for key in (
            "rule_id",
            "verdict",
            "level",
            "from",
            "to",
            "mechanism",
            "span_count",
            "sample_trace_id",
            "fix",
        ):
            assert f[key], (key, f)


def test_baseline_only_shrinks(store: Path, tmp_path: Path) -> None:
    baseline = tmp_path / "baseline.json"
    base = ("--db", str(store), "--landscape", str(LANDSCAPE), "--baseline", str(baseline))
    assert seamscope("check", *base, "--update-baseline").returncode == 0
    assert seamscope("check", *base).returncode == 0

    data = json.loads(baseline.read_text())
    dropped = next(f for f in data["findings"] if f["rule_id"] == "A301")
    data["findings"].remove(dropped)
    data["findings"].append(
        {"rule_id": "A202", "from": "gone/a", "to": "gone/b", "mechanism": "sqs"}
    )
    baseline.write_text(json.dumps(data))
    done = seamscope("check", *base)
    assert done.returncode == 1
    new_part, _, rest = done.stdout.partition("Known")
    assert "A301" in new_part and "A302" not in new_part
    assert "No longer seen" in rest and "gone/a -> gone/b" in rest


def _sections(report: str) -> dict[str, list[str]]:
    """`check`'s text report -> {"New": [...], "Known": [...]}: each finding's "RULE from -> to"."""
    found: dict[str, list[str]] = {"New": [], "Known": []}
    section: list[str] | None = None
    for line in report.splitlines():
        if line.startswith("New:"):
            section = found["New"]
        elif line.startswith("Known"):
            section = found["Known"]
        elif not line.startswith(" "):
            section = None
        elif section is not None and (hit := re.match(r"  (\S+) \S+\s+(\S+ -> \S+) \[", line)):
            section.append(f"{hit[1]} {hit[2]}")
    return found


def test_baseline_knows_each_edge_not_each_rule(tmp_path: Path) -> None:
    """Two A101 edges, one of them dropped from the baseline: that one is new, the other known."""
    fleet = Fleet()
    web = Service("shop-web", "shop", "webapp")
    for api in (Service("stock-api", "stock", "backend"), Service("price-api", "price", "backend")):
        fleet.http(web, f"http://{api.name}:8080/items/1", server=api, route="/items/<id>")
    db = fleet.store(tmp_path / "two.duckdb")
    baseline = tmp_path / "baseline.json"
    base = ("--db", str(db), "--baseline", str(baseline))
    written = seamscope("check", *base, "--update-baseline")
    assert written.returncode == 0, written.stderr
    assert (written.stdout, written.stderr) == (
        "",
        f"{INFERRED}{baseline}: 2 known findings written\n",
    )
    text = baseline.read_text()
    data = json.loads(text)
    assert data["version"] == 1
    assert text == json.dumps(data, indent=2) + "\n"  # stable, so its diffs stay small
    assert [(f["rule_id"], f["to"]) for f in data["findings"]] == [
        ("A101", "price/price-api"),
        ("A101", "stock/stock-api"),
    ]
    assert seamscope("check", *base).returncode == 0

    data["findings"] = [f for f in data["findings"] if f["to"] != "stock/stock-api"]
    baseline.write_text(json.dumps(data))
    done = seamscope("check", *base)
    assert done.returncode == 1, done.stdout + done.stderr
    assert _sections(done.stdout) == {
        "New": ["A101 shop/shop-web -> stock/stock-api"],
        "Known": ["A101 shop/shop-web -> price/price-api"],
    }
    report = json.loads(seamscope("check", *base, "--format", "json").stdout)
    assert (report["new"], report["known"]) == (1, 1)
    assert report["findings"][0]["to"] == "stock/stock-api"


def test_check_reads_the_baseline_that_update_baseline_wrote_by_default(tmp_path: Path) -> None:
    """`check --update-baseline` wrote seamscope-baseline.json, and `check` without --baseline
    then read no baseline: in CI, every known finding failed the run again."""
    db = _two_findings(tmp_path)
    work = tmp_path / "repo"
    work.mkdir()
    plain = seamscope("check", "--db", str(db), cwd=work)  # no baseline yet: not an error
    assert plain.returncode == 1 and "seamscope:" not in plain.stderr.replace(INFERRED, "")
    written = seamscope("check", "--db", str(db), "--update-baseline", cwd=work)
    assert written.stderr == f"{INFERRED}seamscope-baseline.json: 2 known findings written\n"
    done = seamscope("check", "--db", str(db), "--format", "json", cwd=work)
    assert done.returncode == 0, done.stdout + done.stderr
    report = json.loads(done.stdout)
    assert (report["new"], report["known"]) == (0, 2)
    help_text = seamscope("check", "--help").stdout
    assert "seamscope-baseline.json in the current folder, read if it is there" in " ".join(
        help_text.split()
    )
    # A baseline named on the command line must be there: a typo is said, not passed over.
    missing = seamscope("check", "--db", str(db), "--baseline", "typo.json", cwd=work)
    assert missing.returncode == 2
    assert missing.stderr.endswith(
        "seamscope: typo.json: no baseline file here (create it with --update-baseline)\n"
    )


@pytest.mark.parametrize(
    ("content", "says"),
    [
        ("{not json", "not a seamscope baseline (Expecting property name"),
        ('{"findings": [1, 2]}', "findings[0] is a number, not an object with rule_id, from,"),
        pytest.param(
            "[" * 1100 + "]" * 1100,
            "not a seamscope baseline (JSON nested too deeply)",
            id="nested-1100-deep",
        ),
        ('{"findings": "A101"}', "not a seamscope baseline (no 'findings' list)"),
        ('{"findings": [{"rule_id": "A101", "from": "a"}]}', "findings[0] lacks to, mechanism"),
    ],
)
def test_a_broken_baseline_is_one_line(tmp_path: Path, content: str, says: str) -> None:
    fleet = Fleet()
    fleet.dynamodb(Service("orders-api", "orders", "backend"), "GetItem", "Orders")
    db = fleet.store(tmp_path / "s.duckdb")
    baseline = tmp_path / "baseline.json"
    baseline.write_text(content)
    done = seamscope("check", "--db", str(db), "--baseline", str(baseline))
    assert done.returncode == 2, done.stdout + done.stderr
    assert done.stderr.count("\n") == 1 and "Traceback" not in done.stderr
    assert done.stderr.startswith(f"seamscope: {baseline}: ") and says in done.stderr


def test_entries_no_longer_seen_are_said_apart_from_machine_output(tmp_path: Path) -> None:
    fleet = Fleet()
    fleet.http(
        Service("shop-web", "shop", "webapp"),
        "http://stock-api:8080/items/1",
        server=Service("stock-api", "stock", "backend"),
    )
    db = fleet.store(tmp_path / "s.duckdb")
    baseline = tmp_path / "baseline.json"
    base = ("--db", str(db), "--baseline", str(baseline))
    assert seamscope("check", *base, "--update-baseline").returncode == 0
    data = json.loads(baseline.read_text())
    gone = {"rule_id": "A202", "from": "gone/a", "to": "gone/b", "mechanism": "sqs"}
    gone2 = {**gone, "to": "gone/c"}
    junit = seamscope("check", *base, "--format", "junit")
    assert (junit.returncode, junit.stderr) == (0, INFERRED)
    assert junit.stdout.endswith("</testsuite>\n") and not junit.stdout.endswith("\n\n")
    baseline.write_text(json.dumps({"version": 1, "findings": [*data["findings"], gone]}))
    as_json = seamscope("check", *base, "--format", "json")
    assert as_json.returncode == 0, as_json.stderr
    assert json.loads(as_json.stdout)["no_longer_seen"] == [gone]
    assert as_json.stderr == (
        f"{INFERRED}1 baseline entry no longer occurs: remove it (--update-baseline)\n"
    )
    baseline.write_text(json.dumps({"version": 1, "findings": [*data["findings"], gone, gone2]}))
    two = seamscope("check", *base, "--format", "sarif")
    assert two.stderr == (
        f"{INFERRED}2 baseline entries no longer occur: remove them (--update-baseline)\n"
    )
    text = seamscope("check", *base)
    assert (text.returncode, text.stderr) == (0, INFERRED)
    assert "No longer seen (remove from the baseline): 2" in text.stdout


def test_a_baseline_that_is_a_folder_is_one_line(tmp_path: Path) -> None:
    fleet = Fleet()
    fleet.dynamodb(Service("orders-api", "orders", "backend"), "GetItem", "Orders")
    db = fleet.store(tmp_path / "s.duckdb")
    for extra in ((), ("--update-baseline",)):
        done = seamscope("check", "--db", str(db), "--baseline", str(tmp_path), *extra)
        assert done.returncode == 2, done.stdout + done.stderr
        assert "Traceback" not in done.stderr and "is a directory" in done.stderr


def _two_findings(tmp_path: Path) -> Path:
    """A store with two A101 edges, classified (a later `check` writes nothing to it)."""
    fleet = Fleet()
    web = Service("shop-web", "shop", "webapp")
    for api in (Service("stock-api", "stock", "backend"), Service("price-api", "price", "backend")):
        fleet.http(web, f"http://{api.name}:8080/items/1", server=api, route="/items/<id>")
    db = fleet.store(tmp_path / "two.duckdb")
    assert seamscope("check", "--db", str(db)).returncode == 1
    return db


def _without_root_override() -> list[str]:
    """What runs a command without root's right to write past a file's mode (nothing for
    another user): `setpriv` dropping CAP_DAC_OVERRIDE from the capabilities it may have."""
    if os.geteuid() != 0:
        return []
    setpriv = [
        require_tool("setpriv"),
        "--bounding-set=-dac_override,-dac_read_search",
        "--",
    ]
    probe = subprocess.run([*setpriv, "true"], capture_output=True, text=True, timeout=30)
    if probe.returncode != 0:
        cannot_run(f"setpriv cannot drop CAP_DAC_OVERRIDE here: {probe.stderr.strip()}")
    return setpriv


OLD_BASELINE = '{"version": 1, "findings": []}\n'


UNWRITABLE = {
    "missing-folder": "cannot write the baseline (the folder {folder} does not exist)",
    "under-a-file": "cannot write the baseline (Not a directory)",
    "read-only-folder": (
        "cannot write the baseline (the folder {folder} takes no new file: Permission denied)"
    ),
    "read-only-file": "cannot write the baseline (Permission denied)",
}


@pytest.mark.parametrize("where", UNWRITABLE)
def test_a_baseline_that_cannot_be_written_is_one_line(tmp_path: Path, where: str) -> None:
    db = _two_findings(tmp_path)
    folder = tmp_path / "ci"
    prefix: list[str] = []
    baseline = folder / "baseline.json"
    if where == "under-a-file":
        folder.write_text("")
    elif where == "read-only-folder":
        folder.mkdir(mode=0o555)
        prefix = _without_root_override()
    elif where == "read-only-file":  # in a folder we may write: not replaced by a new file
        folder.mkdir()
        baseline.write_text(OLD_BASELINE)
        baseline.chmod(0o444)
        prefix = _without_root_override()
    try:
        done = _update_baseline(db, baseline, prefix)
        assert done.returncode == 2, done.stdout + done.stderr
        assert done.stderr == f"seamscope: {baseline}: {UNWRITABLE[where].format(folder=folder)}\n"
        if where == "read-only-file":
            assert baseline.read_text() == OLD_BASELINE
            assert list(folder.iterdir()) == [baseline]
        elif where == "read-only-folder":
            assert list(folder.iterdir()) == []
    finally:
        if folder.is_dir():
            folder.chmod(0o755)


def _update_baseline(
    db: Path, baseline: Path, prefix: list[str]
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*prefix, sys.executable, "-m", "seamscope.cli", "check", "--db", str(db)]
        + ["--baseline", str(baseline), "--update-baseline"],
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_a_writable_baseline_in_a_folder_that_takes_no_new_file_is_written(
    tmp_path: Path,
) -> None:
    """A file cannot be added beside it, so it is written in place, as a plain write would."""
    db = _two_findings(tmp_path)
    folder = tmp_path / "ci"
    folder.mkdir()
    baseline = folder / "baseline.json"
    baseline.write_text(OLD_BASELINE)
    folder.chmod(0o555)
    try:
        done = _update_baseline(db, baseline, _without_root_override())
        assert done.returncode == 0, done.stdout + done.stderr
        assert len(json.loads(baseline.read_text())["findings"]) == 2
        assert list(folder.iterdir()) == [baseline]
    finally:
        folder.chmod(0o755)


def test_a_baseline_write_that_fails_midway_keeps_the_old_baseline(tmp_path: Path) -> None:
    """The disk fills up (here: a limit on the size of the files it writes, below the new
    baseline's): the old baseline stays whole, and nothing is left beside it."""
    import resource

    db = _two_findings(tmp_path)
    baseline = tmp_path / "ci" / "baseline.json"
    baseline.parent.mkdir()
    baseline.write_text(OLD_BASELINE)

    def small_files() -> None:
        resource.setrlimit(resource.RLIMIT_FSIZE, (100, 100))

    done = subprocess.run(
        [sys.executable, "-m", "seamscope.cli", "check", "--db", str(db)]
        + ["--baseline", str(baseline), "--update-baseline"],
        capture_output=True,
        text=True,
        timeout=120,
        preexec_fn=small_files,
    )
    assert done.returncode == 2, done.stdout + done.stderr
    assert done.stderr == f"seamscope: {baseline}: cannot write the baseline (File too large)\n"
    assert baseline.read_text() == OLD_BASELINE
    assert list(baseline.parent.iterdir()) == [baseline]
    written = seamscope("check", "--db", str(db), "--baseline", str(baseline), "--update-baseline")
    assert written.returncode == 0, written.stderr
    assert len(json.loads(baseline.read_text())["findings"]) == 2


def test_strict_fails_on_smells(store: Path, tmp_path: Path) -> None:
    baseline = tmp_path / "baseline.json"
    base = ("--db", str(store), "--landscape", str(LANDSCAPE), "--baseline", str(baseline))
    assert seamscope("check", *base, "--update-baseline").returncode == 0
    data = json.loads(baseline.read_text())
    data["findings"] = [f for f in data["findings"] if f["verdict"] != "smell"]
    baseline.write_text(json.dumps(data))
    assert seamscope("check", *base).returncode == 0
    strict = seamscope("check", *base, "--strict")
    assert strict.returncode == 1 and "A303" in strict.stdout


def test_sarif_and_junit_are_well_formed(store: Path) -> None:
    sarif = seamscope(
        "check", "--db", str(store), "--landscape", str(LANDSCAPE), "--format", "sarif"
    )
    assert sarif.returncode == 1
    doc = json.loads(sarif.stdout)
    results = doc["runs"][0]["results"]
    assert {r["ruleId"] for r in results} >= {"A101", "A401"}
    assert {r["id"] for r in doc["runs"][0]["tool"]["driver"]["rules"]} >= {"A101", "A303"}
    junit = seamscope(
        "check", "--db", str(store), "--landscape", str(LANDSCAPE), "--format", "junit"
    )
    suite = ET.fromstring(junit.stdout)
    assert int(suite.get("failures", "0")) == len(suite.findall("testcase/failure")) >= 7


def test_patterns_prints_the_catalog(tmp_path: Path) -> None:
    listing = seamscope("patterns")
    assert listing.returncode == 0
    assert [line.split()[0] for line in listing.stdout.splitlines()] == [r.id for r in RULES]
    one = seamscope("patterns", "a401")
    assert (
        one.returncode == 0 and "Do instead:" in one.stdout and "polling-replication" in one.stdout
    )
    bad = seamscope("patterns", "Z999")
    assert bad.returncode == 2 and bad.stderr.count("\n") == 1 and "Z999" in bad.stderr


def test_export_diagrams(store: Path) -> None:
    mer = seamscope("export", "--db", str(store), "--landscape", str(LANDSCAPE))
    assert mer.returncode == 0
    assert mer.stdout.startswith("flowchart LR") and "webapp_bff" in mer.stdout
    comp = seamscope(
        "export",
        "--db",
        str(store),
        "--landscape",
        str(LANDSCAPE),
        "--format",
        "structurizr",
        "--level",
        "component",
    )
    assert comp.returncode == 0
    assert comp.stdout.startswith("workspace {") and comp.stdout.count("{") == comp.stdout.count(
        "}"
    )
    assert 'container "inventory-indexer"' in comp.stdout


def test_export_keeps_systems_whose_names_differ_only_in_punctuation_apart(
    tmp_path: Path,
) -> None:
    fleet = Fleet()
    web = Service("shop-web", "shop", "webapp")
    for system in ("stock-api", "stock.api"):
        api = Service(f"{system}-svc", system, "backend")
        fleet.http(web, f"http://{api.name}:8080/items/1", server=api, route="/items/<id>")
    db = fleet.store(tmp_path / "punctuation.duckdb")
    for fmt in ("mermaid", "structurizr"):
        done = seamscope("export", "--db", str(db), "--format", fmt)
        assert done.returncode == 0, done.stderr
        boxes = re.findall(r"^\s+(\w+)(?:\[\"| = softwareSystem )\"?stock", done.stdout, re.M)
        assert len(set(boxes)) == 2, done.stdout
        arrows = re.findall(r"(?:-->\|[^|]*\||->) (\w+)", done.stdout)
        assert set(arrows) == set(boxes), done.stdout


MERMAID_WORDS = frozenset(
    "end graph flowchart subgraph style class classdef click linkstyle direction default call "
    "href callback".split()
)
"""Words of Mermaid's flowchart grammar, written here apart from the renderer's own list."""
_ID = r"(?P<{}>[A-Za-z0-9_]+)"
_MERMAID_LINES = {
    "node": re.compile(rf'    {_ID.format("id")}(\["|\[/"|\[\(")(?P<label>[^"]*)("\]|"/\]|"\)\])'),
    "subgraph": re.compile(rf'    subgraph {_ID.format("id")}\["(?P<label>[^"]*)"\]'),
    "member": re.compile(rf'        {_ID.format("id")}(\["|\[\(")(?P<label>[^"]*)("\]|"\)\])'),
    "end": re.compile(r"    end"),
    "edge": re.compile(rf'    {_ID.format("a")} (-->|-\.->)\|"[^"]*"\| {_ID.format("b")}'),
    "style": re.compile(r"    linkStyle (?P<index>\d+) [a-z-]+:[^ ]+"),
}


def _mermaid_structure(text: str) -> tuple[dict[str, str], list[tuple[str, str]], list[str]]:
    """The boxes (id -> label), edges and subgraph labels of a flowchart as seamscope writes
    it; fails on a line of another form, or an id Mermaid's grammar takes as its own word."""
    lines = text.splitlines()
    assert lines[0] == "flowchart LR", text
    boxes: dict[str, str] = {}
    edges: list[tuple[str, str]] = []
    groups: list[str] = []
    depth = 0
    for line in lines[1:]:
        kind, hit = next(
            ((k, m) for k, pattern in _MERMAID_LINES.items() if (m := pattern.fullmatch(line))),
            ("", None),
        )
        assert hit is not None, f"not a line of the flowchart: {line!r}"
        ids = [v for k, v in hit.groupdict().items() if k in ("id", "a", "b")]
        assert not [i for i in ids if i.lower() in MERMAID_WORDS], line
        if kind == "subgraph":
            depth += 1
            groups.append(hit["label"])
        elif kind == "end":
            depth -= 1
            assert depth >= 0, text
        elif kind in ("node", "member"):
            boxes[hit["id"]] = hit["label"]
        elif kind == "edge":
            edges.append((hit["a"], hit["b"]))
        else:
            assert int(hit["index"]) < len(edges), line
    assert depth == 0, text
    assert {i for edge in edges for i in edge} <= set(boxes), text
    return boxes, edges, groups


def test_export_mermaid_of_systems_named_like_mermaid_words_is_a_flowchart(
    tmp_path: Path,
) -> None:
    """A system named end (or graph, style, click) was written as a bare id, which Mermaid reads
    as its own word: "Parse error on line 2", no diagram at all. Through the command as a user
    runs it (Mermaid itself is not installed here: the structure is checked line by line)."""
    fleet = Fleet()
    web = Service("shop-web", "shop", "webapp")
    words = ("end", "graph", "style", "click")
    for word in words:
        api = Service(word, word, "backend")  # a component of the same name, too
        fleet.http(web, f"http://{word}:8080/items/1", server=api, route="/items/<id>")
    db = fleet.store(tmp_path / "words.duckdb")

    system = seamscope("export", "--db", str(db), "--format", "mermaid")
    assert system.returncode == 0, system.stderr
    boxes, edges, _ = _mermaid_structure(system.stdout)
    assert sorted(boxes.values()) == sorted([*words, "shop"])
    assert len(edges) == len(words)

    component = seamscope("export", "--db", str(db), "--format", "mermaid", "--level", "component")
    assert component.returncode == 0, component.stderr
    boxes, edges, groups = _mermaid_structure(component.stdout)
    assert sorted(groups) == sorted([*words, "shop"])
    assert set(words) <= set(boxes.values())
    assert len(edges) >= len(words)


def test_drift_against_the_landscape(store: Path, tmp_path: Path) -> None:
    done = seamscope("drift", "--db", str(store), "--landscape", str(LANDSCAPE), "--format", "json")
    assert done.returncode == 1
    report = json.loads(done.stdout)
    assert report["declared_not_seen"] == []
    assert any(u["rule_id"] == "A401" for u in report["seen_not_declared"])

    land = tmp_path / "land.toml"
    land.write_text(
        LANDSCAPE.read_text() + '\n[[edges]]\nfrom = "shortlist-web"\nto = "carrier-pigeons"\n'
    )
    text = seamscope("drift", "--db", str(store), "--landscape", str(land))
    assert text.returncode == 1
    assert re.search(r"land\.toml:\d+: shortlist-web -> carrier-pigeons", text.stdout)


def test_user_mistakes_get_one_line_and_exit_2(store: Path, tmp_path: Path) -> None:
    bad = tmp_path / "bad.toml"
    bad.write_text('[systems.shop]\ncomponents = { cart = "frontend" }\n')
    for args in (
        ("edges", "--db", str(store), "--landscape", str(bad)),
        ("check", "--db", str(tmp_path / "missing.duckdb")),
        ("check", "--db", str(store), "--baseline", str(tmp_path / "nope.json")),
        ("drift", "--db", str(store)),
    ):
        done = seamscope(*args, cwd=tmp_path)
        assert done.returncode == 2, (args, done.stdout, done.stderr)
        assert done.stderr.count("\n") == 1 and "Traceback" not in done.stderr
    done = seamscope("edges", "--db", str(store), "--landscape", str(bad))
    assert "bad.toml:2: systems.shop.components.cart: unknown role 'frontend'" in done.stderr


LANDSCAPE_MISTAKES = [
    # (file bytes, the message after "FILE:"); each failed otherwise before.
    (
        b'[systems.shop]\ncomponents = ["cart"]\n\n[systems.shop]\ncomponents = ["till"]\n',
        "4: systems.shop: declared twice; a TOML file has one [systems.shop] table: merge the two",
    ),
    (
        b'[owners.tables]\r\nOrders = "shop"\r\nOrders = "billing"\r\n',
        "3: owners.tables.Orders: set twice; a TOML file sets each key once: keep one",
    ),
    (
        b'[systems.shop]\ncomponents = "cart"\n',
        "2: systems.shop.components: expected a table of component = role "
        '({ orders-api = "backend" }) or an array of component names (["orders-api"]), '
        "got a string",
    ),
    (b'[systems]\nshop = ["cart"]\n', "2: systems.shop: expected a table, got an array"),
    (
        b'[systems.shop]\ncomponents = ["cart"]\ndescription = "caf\xe9"\n',
        "3: not UTF-8 (byte 0xe9, as Latin-1 or Windows-1252 write an accented letter); a TOML "
        "file is UTF-8: save it as UTF-8",
    ),
    (
        b"[exceptions]\nrest_allowed_webapps = 3\n",
        "2: exceptions.rest_allowed_webapps: expected an array of strings, got an integer",
    ),
]
LANDSCAPE_COMMANDS = [("edges",), ("check",), ("export",), ("drift",), ("collect", "--port", "0")]


@pytest.mark.parametrize("command", LANDSCAPE_COMMANDS, ids=lambda c: c[0])
def test_every_landscape_mistake_is_one_line_naming_file_line_and_key(
    store: Path, tmp_path: Path, command: tuple[str, ...]
) -> None:
    for content, says in LANDSCAPE_MISTAKES:
        land = tmp_path / "land.toml"
        land.write_bytes(content)
        db = store if command[0] != "collect" else tmp_path / "collect.duckdb"
        done = seamscope(*command, "--db", str(db), "--landscape", str(land), cwd=tmp_path)
        assert done.returncode == 2, (content, done.stderr)
        assert done.stderr == f"seamscope: {land}:{says}\n", content


@pytest.mark.parametrize("command", LANDSCAPE_COMMANDS[:4], ids=lambda c: c[0])
def test_a_landscape_file_saved_with_a_byte_order_mark_is_read(
    store: Path, tmp_path: Path, command: tuple[str, ...]
) -> None:
    """Notepad begins UTF-8 with a byte order mark: "not valid TOML: Invalid statement" before."""
    land = tmp_path / "land.toml"
    land.write_bytes(b"\xef\xbb\xbf" + LANDSCAPE.read_bytes().replace(b"\n", b"\r\n"))
    done = seamscope(*command, "--db", str(store), "--landscape", str(land), cwd=tmp_path)
    assert "seamscope:" not in done.stderr, done.stderr
    assert done.returncode in (0, 1), done.stderr  # check and drift: 1 for what they found
    plain = seamscope(*command, "--db", str(store), "--landscape", str(LANDSCAPE), cwd=tmp_path)
    assert done.stdout.replace(str(land), "L") == plain.stdout.replace(str(LANDSCAPE), "L")


@pytest.mark.parametrize("command", LANDSCAPE_COMMANDS[:3], ids=lambda c: c[0])
def test_an_empty_landscape_file_says_it_declares_nothing(
    store: Path, tmp_path: Path, command: tuple[str, ...]
) -> None:
    """An empty seamscope.toml (made to be filled later) took the place of the file, and the
    line that says systems, roles and vendors are inferred went unsaid."""
    land = tmp_path / "seamscope.toml"
    land.write_text("# to be filled in\n")
    done = seamscope(*command, "--db", str(store), cwd=tmp_path)
    assert done.stderr == (
        f"seamscope: {land} declares nothing (empty, or only comments): systems, roles and "
        "vendors are inferred from the spans\n"
    )
    land.unlink()
    without = seamscope(*command, "--db", str(store), cwd=tmp_path)
    assert without.stderr == INFERRED
    assert done.stdout == without.stdout


def _own(db: Path, tmp_path: Path, *extra: str) -> Any:
    """`seamscope collect` started on db, once its owner file is out."""
    import time

    from seamscope.demo.processes import ManagedProcess, free_port
    from seamscope.tracer.owner import find_owner

    owner = ManagedProcess(
        "collect",
        [
            sys.executable,
            "-m",
            "seamscope.cli",
            "collect",
            "--db",
            str(db),
            "--port",
            str(free_port()),
            *extra,
        ],
        log_path=tmp_path / "collect.log",
    ).start()
    deadline = time.monotonic() + 60
    while find_owner(db) is None:
        if not owner.alive() or time.monotonic() > deadline:
            owner.stop()
            raise AssertionError((tmp_path / "collect.log").read_text())
        time.sleep(0.1)
    return owner


def test_commands_read_through_an_owner(store: Path, tmp_path: Path) -> None:
    """While `seamscope collect` owns the store, the commands still answer, with our landscape.
    The owner has just started on spans it has not classified yet (the store as ingested, or
    classified by the tests before): a command waits for it (it answered with no edge, exit 0,
    when it came first)."""
    db = tmp_path / "owned.duckdb"
    done = seamscope("ingest", str(SAMPLES / "demo-fleet.jsonl"), "--db", str(db))
    assert done.returncode == 0, done.stderr
    owner = _own(db, tmp_path)
    try:
        done = seamscope(
            "edges", "--db", str(db), "--landscape", str(LANDSCAPE), "--format", "json"
        )
        assert done.returncode == 0, done.stderr
        seen = {
            (_short(e["from"]), _short(e["to"]), e["mechanism"], e["rule_id"])
            for e in json.loads(done.stdout)
        }
        assert expected_labels() <= seen
        check = seamscope("check", "--db", str(db), "--landscape", str(LANDSCAPE))
        assert check.returncode == 1 and "A401" in check.stdout
    finally:
        owner.stop()


def test_an_owner_that_does_not_classify_is_said_at_once(store: Path, tmp_path: Path) -> None:
    """`seamscope collect --no-classify` owns the store: the commands cannot classify it and
    the owner never will; they say so rather than wait or answer from what the store had."""
    import shutil

    db = tmp_path / "owned.duckdb"
    shutil.copy(store, db)
    owner = _own(db, tmp_path, "--no-classify")
    try:
        for command in ("edges", "check", "export", "drift"):
            done = seamscope(command, "--db", str(db), "--landscape", str(LANDSCAPE))
            assert done.returncode == 2, (command, done.stdout, done.stderr)
            assert done.stderr == (
                f"seamscope: {db}: the store's owner does not classify (seamscope collect "
                "--no-classify): stop it and run the command again, or start it without "
                "--no-classify\n"
            )
    finally:
        owner.stop()


def _portal_store(tmp_path: Path) -> Path:
    """The provider portal, a webapp, calls another system's REST API: A101 unless a landscape
    file names it an exception (P103)."""
    fleet = Fleet()
    fleet.http(
        Service("provider-portal", "providers", "webapp"),
        "http://stock-api:8080/items/1",
        server=Service("stock-api", "stock", "backend"),
    )
    return fleet.store(tmp_path / "portal.duckdb")


PORTAL_LANDSCAPE = '[exceptions]\nrest_allowed_webapps = ["provider-portal"]\n'


@pytest.mark.parametrize(
    "args",
    [
        ("edges",),
        ("edges", "--format", "json"),
        ("check",),
        ("check", "--format", "json"),
        ("export",),
        ("export", "--format", "structurizr"),
    ],
    ids=" ".join,
)
def test_a_command_without_a_landscape_file_says_so_once(
    tmp_path: Path, args: tuple[str, ...]
) -> None:
    """Without --landscape and ./seamscope.toml the verdicts are inferred (the portal's call is
    A101): one line on stderr says so, stdout keeps only the output; with a landscape file,
    given or in the working folder, no such line (and the portal's call is P103)."""
    db = _portal_store(tmp_path)
    work = tmp_path / "work"
    work.mkdir()
    bare = seamscope(*args, "--db", str(db), cwd=work)
    assert bare.returncode == (1 if args[0] == "check" else 0), bare.stderr  # A101 is new
    assert bare.stderr == INFERRED
    assert "no landscape file" not in bare.stdout
    land = tmp_path / "land.toml"
    land.write_text(PORTAL_LANDSCAPE)
    given = seamscope(*args, "--db", str(db), "--landscape", str(land), cwd=work)
    assert (given.returncode, given.stderr) == (0, "")
    (work / "seamscope.toml").write_text(PORTAL_LANDSCAPE)
    found = seamscope(*args, "--db", str(db), cwd=work)
    assert (found.returncode, found.stderr) == (0, "")
    if args == ("edges", "--format", "json"):
        assert [e["rule_id"] for e in json.loads(bare.stdout)] == ["A101"]
        assert [e["rule_id"] for e in json.loads(given.stdout)] == ["P103"]


def test_without_a_landscape_file_the_owners_file_is_named(tmp_path: Path) -> None:
    """The store's owner (`seamscope collect --landscape`) classifies with its file; a command
    without one derives its verdicts with none, and its line names the owner's file, which
    would give the owner's verdicts."""
    db = _portal_store(tmp_path)
    land = tmp_path / "land.toml"
    land.write_text(PORTAL_LANDSCAPE)
    owner = _own(db, tmp_path, "--landscape", str(land))
    work = tmp_path / "work"
    work.mkdir()
    try:
        bare = seamscope("edges", "--db", str(db), "--format", "json", cwd=work)
        assert bare.returncode == 0, bare.stderr
        assert bare.stderr == (
            f"{INFERRED.rstrip()}; the store's owner classifies with {land} "
            f"(--landscape {land} gives its verdicts)\n"
        )
        assert [e["rule_id"] for e in json.loads(bare.stdout)] == ["A101"]
        given = seamscope("edges", "--db", str(db), "--landscape", str(land), cwd=work)
        assert (given.returncode, given.stderr) == (0, "")
    finally:
        owner.stop()


def test_classification_commands_refuse_a_database_that_is_no_store(tmp_path: Path) -> None:
    import duckdb

    other = tmp_path / "other.duckdb"
    con = duckdb.connect(str(other))
    con.execute("CREATE TABLE invoices (id INTEGER)")
    con.close()
    before = other.read_bytes()
    for command in ("edges", "check", "export", "drift"):
        done = seamscope(command, "--db", str(other), cwd=tmp_path)
        assert done.returncode == 2, (command, done.stdout, done.stderr)
        assert "not a seamscope store" in done.stderr and "Traceback" not in done.stderr
        assert "No findings" not in done.stdout
    assert other.read_bytes() == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["other.duckdb"]  # no WAL left beside it


@pytest.mark.parametrize("wiring", ["landscape", "discovered"])
def test_an_owner_s_store_is_labelled_with_the_account_s_wiring(
    tmp_path: Path, wiring: str
) -> None:
    """Through a running `seamscope collect`, a command derived the edges without the account's
    wiring (the landscape's routes and those `discover aws` stored): a Lambda fed by a queue
    through an event-source mapping was unresolved there and P402 everywhere else."""
    from seamscope.tracer.discover import Route, replace_routes
    from seamscope.tracer.store import Store
    from tests.unit.classifiers.test_incremental import ROUTE, _jobs_sent_to_a_lambda

    fleet = Fleet()
    sender = _jobs_sent_to_a_lambda(fleet)
    db = fleet.store(tmp_path / "routed.duckdb")
    options: tuple[str, ...] = ()
    if wiring == "landscape":
        land = tmp_path / "routed.toml"
        land.write_text(ROUTE.format("invoice-jobs"))
        options = ("--landscape", str(land))
    else:
        route = Route(
            "r1", "lambda-event-source", "sqs:queue/invoice-jobs",
            "lambda:function/billing-invoicer", None, None, None, None, "discovered",
            "123456789012", "eu-west-1", None,
        )  # fmt: skip
        with Store.open(db) as store:
            replace_routes(
                store.con, [route], account="123456789012", region="eu-west-1",
                kinds=["lambda-event-source"],
            )  # fmt: skip

    def rules() -> set[str]:
        done = seamscope("edges", "--db", str(db), *options, "--format", "json")
        assert done.returncode == 0, done.stderr
        return {e["rule_id"] for e in json.loads(done.stdout) if e["from"].endswith(sender)}

    assert rules() == {"P402"}  # the store opened by the command itself
    owner = _own(db, tmp_path, *options)
    try:
        assert rules() == {"P402"}  # through the owner
    finally:
        owner.stop()


def test_the_text_report_counts_one_span_in_the_singular(tmp_path: Path) -> None:
    """`check`'s text said "[rest, system, 1 spans]"."""
    fleet = Fleet()
    web = Service("shop-web", "shop", "webapp")
    api = Service("stock-svc", "stock", "backend")
    fleet.http(web, "http://stock-svc:8080/items/1", server=api, route="/items/<id>")
    for _ in range(2):
        fleet.http(web, "http://stock-svc:8080/items/2", server=api, route="/items/<id>")
    one = fleet.store(tmp_path / "one.duckdb")
    done = seamscope("check", "--db", str(one), cwd=tmp_path)
    assert done.returncode == 1, done.stderr
    assert "A101" in done.stdout and "[rest, system, 3 spans]" in done.stdout
    single = Fleet()
    single.http(web, "http://stock-svc:8080/items/1", server=api, route="/items/<id>")
    done = seamscope("check", "--db", str(single.store(tmp_path / "single.duckdb")), cwd=tmp_path)
    assert done.returncode == 1, done.stderr
    assert "[rest, system, 1 span]" in done.stdout
