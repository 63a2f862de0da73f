"""One string of invalid UTF-8 sent to a running `seamscope collect` (protobuf and JSON, over
loopback): every span of the request is stored, the text repaired and the span marked; the
answer, the stop summary, the tee file and `seamscope ingest` through the collector say so.
Before, the whole request was refused (400) and every span of it lost."""

from __future__ import annotations

import http.client
import json
import signal
import subprocess
from pathlib import Path
from typing import Any

import pytest
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceResponse

from seamscope.tracer.ingest import STORED_HEADER
from seamscope.tracer.otlp import protobuf_to_json
from seamscope.tracer.store import open_read_only
from tests.e2e.test_collect import SEAMSCOPE, start_collector
from tests.otlp_sample import sample_request

pytestmark = pytest.mark.e2e

PB = {"Content-Type": "application/x-protobuf"}
JS = {"Content-Type": "application/json"}
NAME = b"NAME-TO-SPOIL"
SPOILED = b"NAME-T\xff-SPOIL"  # the same length: the protobuf framing stays right
REPAIRED = "NAME-T\ufffd-SPOIL"


def _request(seed: int, spans: int = 5) -> Any:
    request = sample_request(spans, services=1, seed=seed)
    request.resource_spans[0].scope_spans[0].spans[2].name = NAME.decode()
    return request


def _post(port: int, body: bytes, headers: dict[str, str]) -> tuple[int, bytes, int]:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    try:
        conn.request("POST", "/v1/traces", body=body, headers=headers)
        response = conn.getresponse()
        answer = response.read()
        return response.status, answer, int(response.getheader(STORED_HEADER) or 0)
    finally:
        conn.close()


@pytest.mark.parametrize("form", ["protobuf", "json"])
def test_collect_stores_every_span_of_a_request_with_invalid_utf8(
    tmp_path: Path, form: str
) -> None:
    db = tmp_path / "seamscope.duckdb"
    tee = tmp_path / "tee.jsonl"
    collector = start_collector(db, tmp_path, "--no-classify", "--tee", str(tee))
    expected = [REPAIRED, REPAIRED]  # the names of the spans marked, in the end
    try:
        body = _request(seed=301).SerializeToString()
        if form == "json":
            body = protobuf_to_json(body).encode()
        status, answer, stored = _post(
            collector.port, body.replace(NAME, SPOILED), JS if form == "json" else PB
        )
        assert (status, stored) == (200, 5), answer[:300]
        if form == "json":
            partial = json.loads(answer)["partialSuccess"]
            assert partial["rejectedSpans"] == "0"
            warning = partial["errorMessage"]
        else:
            partial_pb = ExportTraceServiceResponse.FromString(answer).partial_success
            assert partial_pb.rejected_spans == 0
            warning = partial_pb.error_message
        assert warning == (
            "invalid UTF-8 replaced by U+FFFD in 1 span, kept with seamscope.invalid_utf8 = "
            "true: resourceSpans[0].scopeSpans[0].spans[2] (name)"
        )
        if form == "json":
            # A lone surrogate escape refused its span before (all of a one-span request).
            one = protobuf_to_json(_request(seed=303, spans=3).SerializeToString()).encode()
            status, answer, stored = _post(collector.port, one.replace(NAME, b"NAME\\udc80"), JS)
            assert (status, stored) == (200, 3), answer[:300]
            expected.append("NAME\ufffd")

        # `seamscope ingest` of such a file through the collector (which owns the store).
        body = _request(seed=304).SerializeToString()
        if form == "json":
            path = tmp_path / "traces.jsonl"
            path.write_bytes(protobuf_to_json(body).encode().replace(NAME, SPOILED) + b"\n")
            where = f"{path}:1"
        else:
            path = tmp_path / "traces_1.binpb"
            path.write_bytes(body.replace(NAME, SPOILED))
            where = f"{path}"
        done = subprocess.run(
            [*SEAMSCOPE, "ingest", "--db", str(db), "--no-progress", str(path)],
            capture_output=True,
            timeout=120,
            stdin=subprocess.DEVNULL,
        )
        out, err = done.stdout.decode(), done.stderr.decode()
        assert done.returncode == 0, err
        assert "through the owner" in out and "5 spans stored" in out
        assert "1 with invalid UTF-8 replaced" in out
        assert f"{where}: invalid UTF-8 replaced by U+FFFD in 1 span" in err
    finally:
        code = collector.stop(signal.SIGTERM)
        collector.process.stop()
    assert code == 0
    total = 13 if form == "json" else 10
    log = collector.log.read_text(encoding="utf-8", errors="replace")
    assert (
        f"stored {total} spans (0 rejected, {len(expected)} with invalid UTF-8 replaced, 0 repeated"
    ) in log

    con = open_read_only(db)
    try:
        rows = con.execute(
            "SELECT name, attributes->>'seamscope.invalid_utf8' FROM spans ORDER BY name"
        ).fetchall()
    finally:
        con.close()
    assert len(rows) == total
    marked = sorted(name for name, mark in rows if mark == "true")
    assert marked == sorted(expected)
    assert not [name for name, mark in rows if mark is None and "\ufffd" in name]

    # The tee holds the requests as stored: valid UTF-8, the text repaired.
    lines = tee.read_bytes().decode("utf-8").splitlines()
    assert len(lines) == len(expected)
    names = [
        span["name"]
        for text in lines
        for rs in json.loads(text)["resourceSpans"]
        for ss in rs["scopeSpans"]
        for span in ss["spans"]
    ]
    assert sorted(n for n in names if "\ufffd" in n) == marked


BAD_SEQUENCES = {
    "cut-short": b"\xe2\x82",
    "cut-short-4": b"\xf0\x9f\x98",
    "cut-then-stray": b"\xe2\x82\xff",
    "stray": b"\xff",
    "overlong": b"\xc0\xaf",
    "encoded-surrogate": b"\xed\xa0\x80",
    "past-U+10FFFF": b"\xf4\x90\x80\x80",
}


def test_json_and_protobuf_store_the_same_text_for_the_same_bytes(tmp_path: Path) -> None:
    """Protobuf gave one U+FFFD for each invalid sequence (Python's errors="replace"), OTLP JSON
    one for each invalid byte (two for a sequence cut short), and one for a surrogate encoded as
    three bytes: the same text sent both ways was stored as two texts."""
    db = tmp_path / "seamscope.duckdb"
    collector = start_collector(db, tmp_path, "--no-classify")
    sent: dict[tuple[str, str], str] = {}  # (form, case) -> the span id of the spoiled name
    try:
        for i, (case, bad) in enumerate(BAD_SEQUENCES.items()):
            spoiled = (b"N" + bad).ljust(len(NAME), b"-")  # the length kept: framing stays
            for form in ("protobuf", "json"):
                request = _request(seed=400 + 2 * i + (form == "json"))
                span = request.resource_spans[0].scope_spans[0].spans[2]
                sent[form, case] = span.span_id.hex()
                body = request.SerializeToString()
                if form == "json":
                    body = protobuf_to_json(body).encode()
                headers = JS if form == "json" else PB
                status, answer, stored = _post(collector.port, body.replace(NAME, spoiled), headers)
                assert (status, stored) == (200, 5), answer[:300]
    finally:
        assert collector.stop(signal.SIGTERM) == 0
        collector.process.stop()

    con = open_read_only(db)
    try:
        rows = con.execute(
            "SELECT span_id, name, attributes->>'seamscope.invalid_utf8' FROM spans"
        ).fetchall()
    finally:
        con.close()
    names = {span_id: (name, mark) for span_id, name, mark in rows}
    both = {
        case: (names[sent["protobuf", case]], names[sent["json", case]]) for case in BAD_SEQUENCES
    }
    expected = {
        case: ((b"N" + bad).ljust(len(NAME), b"-").decode("utf-8", "replace"), "true")
        for case, bad in BAD_SEQUENCES.items()
    }
    assert both == {case: (text, text) for case, text in expected.items()}


def _spans(db: Path) -> list[dict[str, Any]]:
    """Every span stored, each as its columns but the batch that stored it, in span id order."""
    con = open_read_only(db)
    try:
        cursor = con.execute("SELECT * EXCLUDE (batch_id) FROM spans ORDER BY span_id")
        columns = [d[0] for d in cursor.description]
        return [dict(zip(columns, row, strict=True)) for row in cursor.fetchall()]
    finally:
        con.close()


def test_the_tee_ingested_again_gives_the_spans_collect_stored_marks_included(
    tmp_path: Path,
) -> None:
    """The tee carried the JSON requests' repaired text but not the mark: ingested later, their
    spans held U+FFFD without seamscope.invalid_utf8, unlike the spans collect had stored."""
    db, tee = tmp_path / "seamscope.duckdb", tmp_path / "tee.jsonl"
    collector = start_collector(db, tmp_path, "--no-classify", "--tee", str(tee))
    try:
        for seed, form in enumerate(("protobuf", "json", "json", "protobuf", "json")):
            request = _request(seed=500 + seed)
            request.resource_spans[0].scope_spans[0].scope.name = "SCOPE-TO-SPOIL"
            body = request.SerializeToString()
            if form == "json":
                body = protobuf_to_json(body).encode()
            if seed < 3:  # the span's name, then the scope of every span of the request
                body = body.replace(NAME, SPOILED)
            if seed == 2:
                body = body.replace(b"SCOPE-TO-SPOIL", b"SCOPE-\xe2\x82TO-SPOIL")
            status, answer, stored = _post(collector.port, body, JS if form == "json" else PB)
            assert (status, stored) == (200, 5), answer[:300]
    finally:
        assert collector.stop(signal.SIGTERM) == 0
        collector.process.stop()
    again = tmp_path / "again.duckdb"
    done = subprocess.run(
        [*SEAMSCOPE, "ingest", "--db", str(again), "--no-progress", str(tee)],
        capture_output=True,
        text=True,
        timeout=120,
        stdin=subprocess.DEVNULL,
    )
    assert done.returncode == 0, done.stderr
    assert "25 spans stored" in done.stdout

    collected, ingested = _spans(db), _spans(again)
    marked = [s["name"] for s in collected if '"seamscope.invalid_utf8":true' in s["attributes"]]
    assert len(marked) == 7  # a name in each of three requests, a scope's five spans
    assert ingested == collected
