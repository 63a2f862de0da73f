"""`seamscope ingest` as a user runs it on files that are damaged, old or of another shape: what
can be read is stored, what cannot is named with its place, and nothing is dropped in silence
(no traceback, no request lost with the one before or after it)."""

from __future__ import annotations

import gzip
import json
import os
import subprocess
import threading
from pathlib import Path

import pytest

from seamscope.tracer.otlp import protobuf_to_json
from seamscope.tracer.store import open_read_only
from tests.e2e.test_collect import SEAMSCOPE, span_count
from tests.otlp_sample import sample_request

pytestmark = pytest.mark.e2e


def run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*SEAMSCOPE, *args], capture_output=True, text=True, timeout=120, stdin=subprocess.DEVNULL
    )


def _line(seed: int, spans: int = 4) -> str:
    return protobuf_to_json(sample_request(spans, seed=seed).SerializeToString())


def _ingest(path: Path, db: Path, *extra: str) -> subprocess.CompletedProcess[str]:
    done = run("ingest", "--db", str(db), "--no-progress", *extra, str(path))
    assert "Traceback" not in done.stderr + done.stdout, done.stderr
    return done


GOOD = [_line(seed) for seed in range(11, 16)]  # five requests of 4 spans


@pytest.mark.parametrize(
    ("first", "place"),
    [
        # The first request cut short (a file copied while it was written).
        (GOOD[0][: len(GOOD[0]) // 2], "not JSON"),
        # The file cut at its start: it begins inside a request.
        (GOOD[0][len(GOOD[0]) // 2 :], "not JSON"),
        # A line that is no JSON at all.
        ("garbage line", "not JSON"),
        # A document nested past what any parser takes.
        ("[" * 5000 + "]" * 5000, "JSON nested too deeply"),
    ],
    ids=["cut-short", "cut-at-start", "text", "nested"],
)
@pytest.mark.parametrize("jobs", ["0", "2"])
def test_a_damaged_first_line_loses_only_itself(
    tmp_path: Path, first: str, place: str, jobs: str
) -> None:
    """The form of a file is read from its start: a damaged first line made the whole file one
    bad request (or a framed file of nonsense lengths), and a deeply nested one a traceback."""
    path = tmp_path / "traces.jsonl"
    path.write_text("\n".join([first, *GOOD[1:]]) + "\n")
    db = tmp_path / "s.duckdb"
    done = _ingest(path, db, "--jobs", jobs)
    assert done.returncode == 1, done.stderr
    assert f"{path}:1: {place}" in done.stderr
    assert "5 requests read: 16 spans stored" in done.stdout
    assert span_count(db) == 16


@pytest.mark.parametrize("jobs", ["0", "2"])
def test_an_attribute_nested_past_the_parser_loses_only_its_request(
    tmp_path: Path, jobs: str
) -> None:
    deep = json.loads(GOOD[1])
    span = deep["resourceSpans"][0]["scopeSpans"][0]["spans"][0]
    value = '{"arrayValue":{"values":[' * 600 + '{"stringValue":"x"}' + "]}}" * 600
    text = json.dumps(deep).replace(
        '"attributes": [', f'"attributes": [{{"key": "k", "value": {value}}}, ', 1
    )
    assert span["spanId"] in text
    path = tmp_path / "traces.jsonl"
    path.write_text("\n".join([GOOD[0], text, GOOD[2]]) + "\n")
    db = tmp_path / "s.duckdb"
    done = _ingest(path, db, "--jobs", jobs)
    assert done.returncode == 1, done.stderr
    assert f"{path}:2: JSON nested too deeply" in done.stderr
    assert "3 requests read: 8 spans stored" in done.stdout


def test_the_old_name_of_scope_spans_is_read(tmp_path: Path) -> None:
    """OTLP before 0.15 named scopeSpans instrumentationLibrarySpans (and scope
    instrumentationLibrary): such a file stored nothing, and said nothing."""
    old = json.loads(GOOD[0])
    for rs in old["resourceSpans"]:
        rs["instrumentationLibrarySpans"] = rs.pop("scopeSpans")
        for ss in rs["instrumentationLibrarySpans"]:
            if "scope" in ss:
                ss["instrumentationLibrary"] = ss.pop("scope")
    path = tmp_path / "old.json"
    path.write_text(json.dumps(old))
    db = tmp_path / "s.duckdb"
    done = _ingest(path, db)
    assert done.returncode == 0, done.stderr
    assert "1 request read: 4 spans stored" in done.stdout


def test_spans_under_a_key_otlp_does_not_name_are_an_error(tmp_path: Path) -> None:
    wrong = json.loads(GOOD[0])
    for rs in wrong["resourceSpans"]:
        for ss in rs["scopeSpans"]:
            ss["Spans"] = ss.pop("spans")
    path = tmp_path / "wrong.json"
    path.write_text(json.dumps(wrong))
    done = _ingest(path, tmp_path / "s.duckdb")
    assert done.returncode == 1
    assert f"{path}:1: resourceSpans[0].scopeSpans[0]: no spans (keys: 'Spans')" in done.stderr


@pytest.mark.parametrize("name", ["traces_1.binpb", "traces_1.binpb.gz", "saved-body"])
def test_one_protobuf_request_as_it_is(tmp_path: Path, name: str) -> None:
    """What the awss3 exporter writes with `marshaler: otlp_proto` (an object per request, not
    framed), copied down with `aws s3 sync`, or an OTLP/HTTP body saved: it was read as text
    ("not UTF-8 text") and stored nothing."""
    body = sample_request(6, seed=3).SerializeToString()
    path = tmp_path / name
    path.write_bytes(gzip.compress(body) if name.endswith(".gz") else body)
    db = tmp_path / "s.duckdb"
    done = _ingest(path, db)
    assert done.returncode == 0, done.stderr
    assert "1 request read: 6 spans stored" in done.stdout


def test_a_folder_names_the_files_it_does_not_read(tmp_path: Path) -> None:
    """Names are matched in any case, `.ndjson` is JSON lines, and the files left are named
    in the summary (they were skipped without a word)."""
    folder = tmp_path / "export"
    (folder / "sub").mkdir(parents=True)
    (folder / "A.JSON").write_text(GOOD[0])
    (folder / "sub" / "b.ndjson").write_text("\n".join(GOOD[1:3]) + "\n")
    (folder / "notes.txt").write_text("not traces\n")
    db = tmp_path / "s.duckdb"
    done = _ingest(folder, db)
    assert done.returncode == 0, done.stderr
    assert (
        "3 requests read: 12 spans stored, 0 already present; "
        "1 other file in the folders not read (notes.txt)"
    ) in done.stdout


def test_a_named_pipe_is_read_as_a_stream(tmp_path: Path) -> None:
    """`seamscope ingest <(zcat traces.jsonl.gz)`: the shell passes a pipe's path (it was
    refused as "no such file or folder")."""
    pipe = tmp_path / "pipe"
    os.mkfifo(pipe)

    def feed() -> None:
        with pipe.open("w") as out:
            out.write("\n".join(GOOD) + "\n")

    writer = threading.Thread(target=feed)
    writer.start()
    db = tmp_path / "s.duckdb"
    try:
        done = _ingest(pipe, db)
    finally:
        writer.join(timeout=30)
    assert done.returncode == 0, done.stderr
    assert "5 requests read: 20 spans stored" in done.stdout


def _without_override() -> list[str]:
    """A command prefix under which a folder's mode holds even for root (which CI may be)."""
    if os.geteuid() != 0:
        return []
    caps = "-dac_override,-dac_read_search"
    return ["setpriv", f"--bounding-set={caps}", f"--inh-caps={caps}"]


def test_a_store_it_cannot_write_is_one_line_and_a_rerun_stores_everything(
    tmp_path: Path,
) -> None:
    """The store's folder not writable, so its WAL cannot be made: the commit fails. That was
    two tracebacks (the error, then the ROLLBACK of the transaction the failed COMMIT had
    ended); now one line with the store, the reason and what was stored."""
    folder = tmp_path / "store"
    folder.mkdir()
    db = folder / "s.duckdb"
    first = tmp_path / "first.jsonl"
    first.write_text(GOOD[0] + "\n")
    assert _ingest(first, db).returncode == 0
    more = tmp_path / "more.jsonl"
    more.write_text("\n".join(GOOD[1:]) + "\n")
    folder.chmod(0o555)
    try:
        done = subprocess.run(
            [*_without_override(), *SEAMSCOPE, "ingest", "--db", str(db), "--no-progress",
             "--jobs", "0", str(more)],
            capture_output=True, text=True, timeout=120, stdin=subprocess.DEVNULL,
        )  # fmt: skip
    finally:
        folder.chmod(0o700)
    assert done.returncode == 2, done.stderr
    assert "Traceback" not in done.stderr
    assert done.stderr.startswith(f"seamscope: {db}: cannot write the store: ")
    assert "Permission denied" in done.stderr
    assert "(0 spans stored before it; the rest were not)" in done.stderr
    again = _ingest(more, db)
    assert again.returncode == 0, again.stderr
    assert "4 requests read: 16 spans stored, 0 already present" in again.stdout
    assert span_count(db) == 20


@pytest.mark.parametrize("jobs", ["0", "2"])
def test_pretty_printed_requests_one_after_the_other_are_each_read(
    tmp_path: Path, jobs: str
) -> None:
    """`jq . traces.jsonl > traces.json` writes the requests pretty-printed one after the other:
    the file was read as one request that was no JSON ("Extra data"), and every span was lost.
    Each is read now, and a damaged one is named with the line it starts on."""
    pretty = [json.dumps(json.loads(line), indent=2) for line in GOOD[:3]]
    pretty[1] = pretty[1].replace('"resourceSpans"', "resourceSpans", 1)
    path = tmp_path / "traces.json"
    path.write_text("\n".join(pretty) + "\n")
    second = pretty[0].count("\n") + 2
    db = tmp_path / "s.duckdb"
    done = _ingest(path, db, "--jobs", jobs)
    assert done.returncode == 1, done.stderr
    assert done.stderr.startswith(f"seamscope: {path}:{second}: not JSON: ")
    assert "3 requests read: 8 spans stored, 0 already present, 1 bad request skipped" in (
        done.stdout
    )
    assert span_count(db) == 8


def _spoilable(seed: int) -> bytes:
    """A protobuf request of 4 spans whose span 1 is named NAME-TO-SPOIL."""
    request = sample_request(4, services=1, seed=seed)
    request.resource_spans[0].scope_spans[0].spans[1].name = "NAME-TO-SPOIL"
    return bytes(request.SerializeToString())


@pytest.mark.parametrize("jobs", ["0", "2"])
@pytest.mark.parametrize("form", ["json-lines", "protobuf"])
def test_a_string_of_invalid_utf8_loses_no_span(tmp_path: Path, form: str, jobs: str) -> None:
    """One name with a byte that is no UTF-8 refused its whole request ("not UTF-8 text",
    "bad UTF-8"): every span of it was lost. Now each is stored, the text repaired and the span
    marked, and the summary and stderr say so (exit 0: nothing was lost)."""
    spoiled = b"NAME-T\xff-SPOIL"  # the same length: the protobuf framing stays right
    if form == "protobuf":
        path = tmp_path / "traces_1.binpb"
        path.write_bytes(_spoilable(41).replace(b"NAME-TO-SPOIL", spoiled))
        where, requests = f"{path}", 1
    else:
        path = tmp_path / "traces.jsonl"
        bad = protobuf_to_json(_spoilable(42)).encode().replace(b"NAME-TO-SPOIL", spoiled)
        path.write_bytes(GOOD[0].encode() + b"\n" + bad + b"\n" + GOOD[1].encode() + b"\n")
        where, requests = f"{path}:2", 3
    db = tmp_path / "s.duckdb"
    done = _ingest(path, db, "--jobs", jobs)
    assert done.returncode == 0, done.stderr
    assert f"{requests} request{'s' if requests > 1 else ''} read" in done.stdout
    assert f"{4 * requests} spans stored" in done.stdout
    assert "1 with invalid UTF-8 replaced" in done.stdout
    assert (
        f"{where}: invalid UTF-8 replaced by U+FFFD in 1 span, kept with "
        "seamscope.invalid_utf8 = true: resourceSpans[0].scopeSpans[0].spans[1] (name)"
    ) in done.stderr
    assert span_count(db) == 4 * requests
    con = open_read_only(db)
    try:
        marked = con.execute(
            "SELECT name FROM spans WHERE attributes->>'seamscope.invalid_utf8' = 'true'"
        ).fetchall()
    finally:
        con.close()
    assert marked == [("NAME-T\ufffd-SPOIL",)]
