"""The benchmarks and the store generator run, on tiny sizes (no timing is asserted)."""

from __future__ import annotations

import importlib
import json
import subprocess
import sys
from pathlib import Path

import duckdb
import pytest

from benchmarks.classify import rules_fired
from benchmarks.common import Context
from benchmarks.generate import STEPS, generate_store, landscape_path
from seamscope.classifiers.engine import classify
from seamscope.classifiers.landscape import load_landscape
from seamscope.tracer.rows import SpanBatchBuilder
from seamscope.tracer.schema import INPUT_COLUMNS
from seamscope.tracer.store import Store

ROOT = Path(__file__).resolve().parents[2]
BENCHMARKS = ("hot_path", "receiver", "ingest", "exporter", "classify", "tui", "cli")


def test_generate_command_makes_a_store_with_every_mechanism(tmp_path: Path) -> None:
    out = tmp_path / "big.duckdb"
    done = subprocess.run(
        [sys.executable, "-m", "benchmarks.generate", "--spans", "5_000", "--out", str(out)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
    )
    assert "spans in" in done.stdout and landscape_path(out).exists()
    con = duckdb.connect(str(out), read_only=True)
    try:
        count, batches, ledger = con.execute(
            "SELECT count(*), count(DISTINCT batch_id), "
            "(SELECT sum(span_count) FROM batches) FROM spans"
        ).fetchone() or (0, 0, 0)
        services = {r[0] for r in con.execute("SELECT DISTINCT rpc_service FROM spans").fetchall()}
        kinds = {r[0] for r in con.execute("SELECT DISTINCT kind FROM spans").fetchall()}
    finally:
        con.close()
    assert 4_500 <= count <= 5_500 and ledger == count and batches >= 1
    assert {
        "DynamoDB",
        "DynamoDB Streams",
        "SQS",
        "SNS",
        "EventBridge",
        "Kinesis",
        "S3",
    } <= services
    assert {"SERVER", "CLIENT", "PRODUCER", "INTERNAL"} <= kinds
    assert (
        subprocess.run(
            [sys.executable, "-m", "benchmarks.generate", "--spans", "10", "--out", str(out)],
            cwd=ROOT,
            capture_output=True,
        ).returncode
        == 2
    )  # refuses to overwrite


def test_generated_rows_are_what_the_span_builder_makes_of_their_attributes(
    tmp_path: Path,
) -> None:
    """The typed columns agree with rows.py reading the same attributes and resource."""
    path = tmp_path / "g.duckdb"
    generate_store(path, 3_000, systems=8)
    con = duckdb.connect(str(path), read_only=True)
    try:
        names = [c.name for c in INPUT_COLUMNS]
        rows = con.execute(
            f"SELECT {', '.join(names)}, epoch_ns(start_time), epoch_ns(start_time) + duration_ns "
            "FROM spans"
        ).fetchall()
    finally:
        con.close()
    builder = SpanBatchBuilder()
    for row in rows:
        d = dict(zip([*names, "s", "e"], row, strict=True))
        builder.add(
            trace_id=d["trace_id"],
            span_id=d["span_id"],
            parent_span_id=d["parent_span_id"],
            name=d["name"],
            kind=d["kind"],
            start_ns=d["s"],
            end_ns=d["e"],
            status_code=d["status_code"],
            status_message=d["status_message"],
            attributes=json.loads(d["attributes"]),
            resource=json.loads(d["resource"]),
            scope_name=d["scope_name"],
        )
    built = builder.build().drop_columns(["start_time", "end_time", "span_events"])
    for column in built.column_names:
        if column in ("attributes", "resource"):
            continue
        expected = [dict(zip(names, r, strict=False))[column] for r in rows]
        assert built.column(column).to_pylist() == expected, column


def test_generated_ids_are_lower_case_hex_as_otlp_writes_them(tmp_path: Path) -> None:
    """The generator wrote its trace and span ids in upper-case hex (DuckDB's to_hex); OTLP
    JSON and every SDK write them lower-case."""
    out = tmp_path / "ids.duckdb"
    subprocess.run(
        [sys.executable, "-m", "benchmarks.generate", "--spans", "2_000", "--out", str(out)],
        cwd=ROOT,
        capture_output=True,
        check=True,
    )
    con = duckdb.connect(str(out), read_only=True)
    try:
        ids = con.execute(
            "SELECT count(*), count(*) FILTER (WHERE regexp_full_match(trace_id, '[0-9a-f]{32}')"
            " AND regexp_full_match(span_id, '[0-9a-f]{16}')"
            " AND coalesce(regexp_full_match(parent_span_id, '[0-9a-f]{16}'), true)),"
            " count(parent_span_id) FILTER (WHERE parent_span_id IN (SELECT span_id FROM spans))"
            ", count(parent_span_id) FROM spans"
        ).fetchone()
    finally:
        con.close()
    assert ids is not None and ids[0] > 0
    assert ids[1] == ids[0]  # every id lower-case hex
    assert ids[2] == ids[3]  # every parent is a span of the store still


def test_generated_store_takes_appends_after_it(tmp_path: Path) -> None:
    path = tmp_path / "g.duckdb"
    generated = generate_store(path, 1_000)
    builder = SpanBatchBuilder()
    builder.add(
        trace_id="ab" * 16, span_id="cd" * 8, parent_span_id=None, name="x", kind="INTERNAL",
        start_ns=1, end_ns=2, status_code="UNSET", status_message=None, attributes={},
        resource={"service.name": "s"}, scope_name=None,
    )  # fmt: skip
    with Store.open(path) as store:
        assert store.append(builder.build(), batch_key="after", source="test") == 1
        row = store.con.execute("SELECT max(batch_id) FROM batches").fetchone()
    assert row is not None and row[0] == generated.batches + 1


def test_every_scenario_step_names_a_known_mechanism() -> None:
    mechanisms = {s[6] for s in STEPS}
    assert mechanisms <= {
        "server", "http", "graphql", "vendor", "ddb", "streams", "sqs-send", "sqs-recv",
        "sqs-recv-ev", "sqs-recv-sns", "sns-pub", "events-put", "kinesis-put", "kinesis-get",
        "s3", "internal",
    }  # fmt: skip


@pytest.mark.parametrize("name", BENCHMARKS)
def test_benchmark_runs_quick(name: str, tmp_path: Path) -> None:
    module = importlib.import_module(f"benchmarks.{name}")
    ctx = Context(quick=True, workdir=tmp_path, repeats=1)
    # Skip is for `python -m benchmarks` without the dev install; here it is a failure.
    results = module.run(ctx)
    assert results
    for result in results:
        assert result.bench == name and result.value > 0 and result.runs, result


def test_quick_run_writes_its_report_section(tmp_path: Path) -> None:
    report = tmp_path / "performance.md"
    report.write_text("# Performance\n\nhand-written text stays\n")
    subprocess.run(
        [sys.executable, "-m", "benchmarks", "--quick", "--only", "hot_path", "--report",
         str(report), "--repeats", "1"],
        cwd=ROOT,
        capture_output=True,
        check=True,
    )  # fmt: skip
    text = report.read_text()
    assert "hand-written text stays" in text
    assert "<!-- bench:hot_path:begin -->" in text and "SpanBatchBuilder" in text
    assert "python -m benchmarks --quick --only hot_path" in text


CATALOG = (
    "P101 P102 P103 P201 P202 P301 P302 P303 P401 P402 A101 A102 A201 A202 A301 A302 A303 A401"
).split()


def test_generated_store_makes_every_rule_of_the_catalog_fire(tmp_path: Path) -> None:
    path = tmp_path / "g.duckdb"
    generate_store(path, 10_000, systems=3)
    con = duckdb.connect(str(path))
    try:
        classify(con, load_landscape(landscape_path(path)), full=True)
        fired = set(rules_fired(con))
    finally:
        con.close()
    assert set(CATALOG) <= fired, sorted(set(CATALOG) - fired)


def test_classify_benchmark_runs_the_bare_join_and_small_batches_beside_it(tmp_path: Path) -> None:
    """The peer joins each child to its parent (on the keys, as the hex ids would), and the
    full classifications report their ratio to it; the small batches report theirs to the
    incremental figure's."""
    from benchmarks.classify import BARE_JOIN, run

    path = tmp_path / "g.duckdb"
    generate_store(path, 3_000, systems=3)
    con = duckdb.connect(str(path), read_only=True)
    try:
        by_keys = con.execute(BARE_JOIN).fetchone()
        by_ids = con.execute(
            "SELECT count(*) FROM spans AS c JOIN spans AS p "
            "ON p.trace_id = c.trace_id AND p.span_id = c.parent_span_id"
        ).fetchone()
    finally:
        con.close()
    assert by_keys is not None and by_ids is not None and by_keys[0] == by_ids[0] > 1_000
    results = run(Context(quick=True, workdir=tmp_path, repeats=1))
    names = [r.name for r in results]
    for size in ("2k", "5k"):
        peer = names.index(f"bare parent/child join, {size} spans (peer)")
        full = results[names.index(f"full classification, {size} spans")]
        assert full.ratio.endswith(f"x the bare join ({results[peer].formatted()})"), full.ratio
    # On the big store, batches of 200 beside those of the incremental figure (500 when quick).
    whole = results[names.index("incremental classification of 500 new spans on 5k")]
    fixed = results[names.index("incremental classification of 200 new spans on 5k")]
    assert len(fixed.runs) == 1 and fixed.goal == ""
    assert fixed.ratio.endswith(f"x 500 new spans on 5k ({whole.formatted()})"), fixed.ratio


def test_the_live_tui_peak_is_its_own_process_not_the_runner_before_it() -> None:
    """The live TUI's process is started by the benchmark runner, which has just classified a
    big store in-process. Linux hands the parent's peak at fork to the child's ru_maxrss, so
    the figure must be the child's own (VmHWM): a child of a parent holding 300 MiB that holds
    little itself reports little."""
    from benchmarks.tui import own_peak_kib

    held = bytearray(300 * 1024 * 1024)
    for i in range(0, len(held), 4096):
        held[i] = 1  # touched, so resident
    assert own_peak_kib() >= 300 * 1024
    child = subprocess.run(
        [sys.executable, "-c", "from benchmarks.tui import own_peak_kib; print(own_peak_kib())"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
    )
    del held
    assert int(child.stdout) < 200 * 1024, child.stdout


def test_the_mixs_sdk_spans_are_freed_with_their_list() -> None:
    """benchmarks.mix.sdk_spans keeps nothing alive once its caller drops the spans. Its
    TracerProviders, registered with atexit to shut down at exit, kept every span of every call
    alive for the rest of the run (1.1M objects after the ingest benchmark made its 100k spans),
    and every measurement after it paid for walking them in each garbage collection."""
    import gc

    from opentelemetry.sdk.trace import ReadableSpan

    from benchmarks import mix

    def alive() -> int:
        gc.collect()
        return sum(isinstance(o, ReadableSpan) for o in gc.get_objects())

    before = alive()
    spans = mix.sdk_spans(300)
    assert alive() >= before + 300
    del spans
    assert alive() == before


_HOLDER = """
import subprocess, sys
held = bytearray(b"x" * ({mib} << 20))  # written, so resident
child = None
if {grandchild}:
    child = subprocess.Popen([sys.executable, "-c", sys.argv[1]], stdout=subprocess.PIPE)
    child.stdout.readline()
print("ready", flush=True)
sys.stdin.read()
"""


@pytest.mark.skipif(not Path("/proc/self/smaps_rollup").exists(), reason="reads /proc (Linux)")
def test_the_tree_memory_counts_the_receiver_its_processes_and_shared_pages_once() -> None:
    """benchmarks.tui's sum of what `tui --collect` runs: this process, a child standing for the
    receiver (100 MiB of its own) and the child's child standing for a decoder (200 MiB), each
    counted where it is; the sum is PSS, below the sum of the three RSS, whose libraries and
    interpreter pages shared with this process count in each."""
    from benchmarks.tui import _status_kib, _TreeMemory

    grandchild = _HOLDER.format(mib=200, grandchild=False)
    receiver = subprocess.Popen(
        [sys.executable, "-c", _HOLDER.format(mib=100, grandchild=True), grandchild],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
    )
    try:
        assert receiver.stdout is not None and receiver.stdout.readline() == b"ready\n"
        tree = _TreeMemory(receiver.pid)
        total, here, child, others = tree.stop()  # not started: one sample
        assert total == here + child + others
        assert 100 * 1024 <= child < 150 * 1024, child
        assert 200 * 1024 <= others < 250 * 1024, others
        grandchildren = Path(f"/proc/{receiver.pid}/task/{receiver.pid}/children").read_text()
        pids: list[int | str] = ["self", receiver.pid, *map(int, grandchildren.split())]
        rss = sum(_status_kib("VmRSS", pid) for pid in pids)
        assert total < rss, (total, rss)
    finally:
        assert receiver.stdin is not None
        receiver.stdin.close()  # both read it to its end, then leave
        receiver.wait(timeout=30)


def test_aggregate_first_experiment_gives_todays_groups(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """benchmarks.aggregate_first (issue 15's experiment, not in the default run): its groups and
    histogram, with and without keyed fact inputs, equal the GROUP BY of today's facts, and the
    spans it derives for an edge when read are span_labels' (it exits 1 otherwise)."""
    from benchmarks import aggregate_first

    path = tmp_path / "g.duckdb"
    generate_store(path, 5_000, systems=3)
    argv = ["--db", str(path), "--repeats", "2", "--input-keys", "--labels", "--storage"]
    assert aggregate_first.main(argv) == 0
    out = capsys.readouterr().out
    assert "(equal)" in out and "DIFFERENT" not in out and "| NO |" not in out
    # --storage: the facts statement stored, counted, narrow, and the copies of its text columns.
    assert "| (s) today's facts statement, its table stored |" in out
    assert "| (t) the same with `trace_id` |" in out and "| (t) the same with `op` |" in out
    # Its copies of the store are gone.
    assert {p.name for p in tmp_path.iterdir()} == {path.name, landscape_path(path).name}


def test_the_free_receiver_stores_the_first_table_again_under_each_bodys_own_key(
    tmp_path: Path,
) -> None:
    """benchmarks.free_receiver skips decoding only where it says: the later bodies get the first
    one's table, each under its own batch key and with a first span of its own, so the store
    keeps every one; a body it cannot stand in for is decoded."""
    from benchmarks.free_receiver import _free_decode
    from benchmarks.receiver import bodies
    from seamscope.tracer.decoding import batch_key
    from seamscope.tracer.ingest import Batch, append_many
    from seamscope.tracer.store import Store

    first, second = bodies(2, 1_024)
    decoded = [_free_decode(b, "identity", False, None, 1 << 30, False) for b in (first, second)]
    assert decoded[0][1].num_rows == decoded[1][1].num_rows == 512
    assert decoded[1][1].slice(1).equals(decoded[0][1].slice(1))
    assert [d[2] for d in decoded] == [batch_key(first), batch_key(second)]
    with Store.open(tmp_path / "free.duckdb") as store:
        assert append_many(store, [Batch(d[1], d[2], "test") for d in decoded]) == [512, 512]
    # A tee line needs the real decoding: the request is decoded, not stood in for.
    teed = _free_decode(second, "identity", False, None, 1 << 30, True)
    assert not teed[1].slice(1).equals(decoded[0][1].slice(1)) and teed[3]


def test_the_statements_of_a_batch_are_timed_and_listed(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """benchmarks.statements (a tool for the incremental batch, not in the default run) lists
    every statement of the batches it classifies, with how many batches ran it, on a copy."""
    from benchmarks import statements

    path = tmp_path / "g.duckdb"
    made = generate_store(path, 3_000, systems=3)
    with Store.open(path) as store:
        classify(store.con, load_landscape(landscape_path(path)))
    argv = ["--db", str(path), "--batches", "2", "--spans", "200"]
    assert statements.main([*argv, "--next-trace", str(made.next_trace)]) == 0
    out = capsys.readouterr().out
    assert out.startswith("2 batches of 200 spans: statements [")
    listed = [line for line in out.splitlines() if line[:3].strip().isdigit()]
    assert any("INSERT" in line or "UPDATE" in line for line in listed), out
    assert all(int(line.split()[3]) <= 2 for line in listed), out
    assert {p.name for p in tmp_path.iterdir()} == {path.name, landscape_path(path).name}
