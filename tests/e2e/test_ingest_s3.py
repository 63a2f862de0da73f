"""`seamscope ingest s3://bucket/prefix/` as a process against moto's S3 in a real server, with
objects written in the Collector's awss3 exporter layout: `<prefix>/year=.../minute=MM/` then
`traces_<unique>.json` (otlp_json: one request, or one per line when the exporter batches) or
`.binpb` (otlp_proto), `.gz` and Content-Encoding gzip when it compresses.
"""

from __future__ import annotations

import gzip
import http.client
import http.server
import os
import signal
import subprocess
import threading
import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import boto3
import duckdb
import pytest

from seamscope.tracer.otlp import protobuf_to_json
from seamscope.tracer.s3_ingest import GROUP_OBJECTS
from tests.e2e.test_collect import SEAMSCOPE, span_count, start_collector
from tests.otlp_sample import sample_request

pytestmark = pytest.mark.e2e

PARTITION = "year=2026/month=12/day=04/hour=07/minute={minute:02d}"


def aws_env(endpoint: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
    env.update(
        {
            "AWS_ENDPOINT_URL": endpoint,
            "AWS_ACCESS_KEY_ID": "testing",
            "AWS_SECRET_ACCESS_KEY": "testing",
            "AWS_REGION": "eu-west-1",
            "AWS_CONFIG_FILE": os.devnull,
            "AWS_SHARED_CREDENTIALS_FILE": os.devnull,
        }
    )
    return env


def ingest(db: Path, url: str, endpoint: str, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*SEAMSCOPE, "ingest", "--db", str(db), *args, url],
        env=aws_env(endpoint),
        capture_output=True,
        text=True,
        timeout=120,
    )


class Bucket:
    """A bucket of moto's, written the way the exporter writes (unique name: moto is shared)."""

    def __init__(self, endpoint: str, prefix: str = "traces") -> None:
        self.name = f"otel-{uuid.uuid4().hex[:12]}"
        self.prefix = prefix
        session = boto3.Session(
            aws_access_key_id="testing", aws_secret_access_key="testing", region_name="eu-west-1"
        )
        self.s3: Any = session.client("s3", endpoint_url=endpoint)
        self.s3.create_bucket(
            Bucket=self.name, CreateBucketConfiguration={"LocationConstraint": "eu-west-1"}
        )
        self.url = f"s3://{self.name}/{prefix}/"

    def put(
        self, name: str, body: bytes, *, minute: int = 50, gz: bool = False, prefix: str = ""
    ) -> str:
        key = f"{prefix or self.prefix}/{PARTITION.format(minute=minute)}/{name}"
        extra = {"ContentEncoding": "gzip"} if gz else {}
        self.s3.put_object(
            Bucket=self.name, Key=key, Body=gzip.compress(body) if gz else body, **extra
        )
        return key

    def etags(self) -> dict[str, str]:
        listed = self.s3.list_objects_v2(Bucket=self.name).get("Contents", [])
        return {str(o["Key"]): str(o["ETag"]) for o in listed}


def proto(spans: int, seed: int) -> bytes:
    return bytes(sample_request(spans, seed=seed).SerializeToString())


def otlp_json(spans: int, seed: int) -> bytes:
    return protobuf_to_json(proto(spans, seed)).encode()


def ledger(db: Path) -> dict[str, tuple[str, int]]:
    con = duckdb.connect(str(db), read_only=True)
    try:
        rows = con.execute("SELECT key, etag, size FROM s3_objects").fetchall()
    finally:
        con.close()
    return {str(k): (str(e), int(s)) for k, e, s in rows}


def span_ids(db: Path) -> set[str]:
    con = duckdb.connect(str(db), read_only=True)
    try:
        return {str(r[0]) for r in con.execute("SELECT span_id FROM spans").fetchall()}
    finally:
        con.close()


def expected_ids(*requests: bytes) -> set[str]:
    from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import (
        ExportTraceServiceRequest,
    )

    ids: set[str] = set()
    for data in requests:
        request = ExportTraceServiceRequest()
        request.ParseFromString(data)
        for rs in request.resource_spans:
            for ss in rs.scope_spans:
                ids.update(span.span_id.hex() for span in ss.spans)
    return ids


def test_the_exporters_objects_are_loaded_once_and_reruns_take_only_new_ones(
    moto_endpoint: str, tmp_path: Path
) -> None:
    bucket = Bucket(moto_endpoint)
    keys = [
        bucket.put("traces_100000001.json", otlp_json(5, 1)),
        bucket.put("traces_100000002.json.gz", otlp_json(6, 2), gz=True),
        bucket.put("traces_100000003.binpb", proto(7, 3)),
        bucket.put("traces_100000004.binpb.gz", proto(8, 4), gz=True, minute=51),
        # The batching JSON marshaler: one request per line.
        bucket.put("traces_100000005.json", otlp_json(2, 5) + b"\n" + otlp_json(3, 6) + b"\n"),
    ]
    bucket.put("logs_100000006.json", b'{"resourceLogs": []}')
    bucket.put("metrics_100000007.binpb", b"\x0a\x00")
    bucket.s3.put_object(Bucket=bucket.name, Key="elsewhere/traces_100000008.json", Body=b"{")
    db = tmp_path / "s3.duckdb"

    first = ingest(db, bucket.url, moto_endpoint)

    assert first.returncode == 0, first.stderr
    assert first.stdout.strip() == (
        f"seamscope: {bucket.url}: 5 trace objects, 0 loaded before, 2 other objects left "
        "(logs_100000006.json, metrics_100000007.binpb); 6 requests read: 31 spans stored, "
        "0 already present"
    )
    seeds = [(5, 1), (6, 2), (7, 3), (8, 4), (2, 5), (3, 6)]
    assert span_ids(db) == expected_ids(*(proto(n, s) for n, s in seeds))
    etags = bucket.etags()
    sizes = {
        str(o["Key"]): int(o["Size"])
        for o in bucket.s3.list_objects_v2(Bucket=bucket.name)["Contents"]
    }
    assert ledger(db) == {k: (etags[k], sizes[k]) for k in keys}

    again = ingest(db, bucket.url, moto_endpoint)

    assert again.returncode == 0, again.stderr
    assert again.stdout.strip().endswith("5 trace objects, 5 loaded before, 2 other objects left "
                                         "(logs_100000006.json, metrics_100000007.binpb): "
                                         "nothing new")  # fmt: skip

    # A new object, and one written again under its key: only those two are read.
    bucket.put("traces_100000009.binpb", proto(4, 9), minute=52)
    bucket.put("traces_100000001.json", otlp_json(5, 1) + b"\n" + otlp_json(1, 10) + b"\n")

    third = ingest(db, bucket.url, moto_endpoint)

    assert third.returncode == 0, third.stderr
    assert "6 trace objects, 4 loaded before" in third.stdout
    assert "3 requests read: 5 spans stored, 5 already present" in third.stdout
    assert span_count(db) == 36
    assert ledger(db)[keys[0]][0] == bucket.etags()[keys[0]]


def test_a_broken_object_is_named_and_read_again_next_time(
    moto_endpoint: str, tmp_path: Path
) -> None:
    bucket = Bucket(moto_endpoint, prefix="gateway/traces")
    good = bucket.put("traces_200000001.binpb.gz", proto(4, 21), gz=True)
    broken = bucket.put("traces_200000002.json.gz", gzip.compress(otlp_json(3, 22))[:-8])
    not_otlp = bucket.put("traces_200000003.binpb", b"\xff\xff not protobuf")
    db = tmp_path / "s3.duckdb"

    done = ingest(db, bucket.url, moto_endpoint)

    assert done.returncode == 1
    errors = done.stderr.splitlines()
    assert f"seamscope: s3://{bucket.name}/{broken}: the gzip body is truncated" in errors
    assert any(line.startswith(f"seamscope: s3://{bucket.name}/{not_otlp}") for line in errors)
    assert "Traceback" not in done.stderr
    assert "4 spans stored" in done.stdout
    assert set(ledger(db)) == {good}

    bucket.put("traces_200000002.json.gz", otlp_json(3, 22), gz=True)
    bucket.put("traces_200000003.binpb", proto(2, 23))
    fixed = ingest(db, bucket.url, moto_endpoint)

    assert fixed.returncode == 0, fixed.stderr
    assert "3 trace objects, 1 loaded before" in fixed.stdout
    assert set(ledger(db)) == {good, broken, not_otlp}
    assert span_count(db) == 9


def test_objects_arrive_through_a_running_collect(moto_endpoint: str, tmp_path: Path) -> None:
    bucket = Bucket(moto_endpoint)
    key = bucket.put("traces_300000001.binpb.gz", proto(6, 31), gz=True)
    bucket.put("traces_300000002.json", otlp_json(4, 32))
    db = tmp_path / "owned.duckdb"
    collector = start_collector(db, tmp_path)
    try:
        done = ingest(db, bucket.url, moto_endpoint, "--jobs", "2")
        assert done.returncode == 0, done.stderr
        assert f"2 requests read through the owner at {collector.url}: 10 spans stored" in (
            done.stdout
        )
        again = ingest(db, bucket.url, moto_endpoint)
        assert again.stdout.strip().endswith("2 loaded before: nothing new"), again.stdout
    finally:
        collector.process.stop()
    assert span_count(db) == 10
    assert key in ledger(db)


def test_a_missing_bucket_and_mixed_arguments_are_one_line(
    moto_endpoint: str, tmp_path: Path
) -> None:
    db = tmp_path / "s3.duckdb"
    done = ingest(db, "s3://no-such-bucket-here/traces/", moto_endpoint)
    assert done.returncode == 2
    assert done.stderr.startswith(
        "seamscope: s3://no-such-bucket-here/traces/: NoSuchBucket on ListObjectsV2"
    )
    assert len(done.stderr.splitlines()) == 1
    mixed = ingest(db, "s3://bucket/traces/", moto_endpoint, str(tmp_path / "a.jsonl"))
    assert mixed.returncode == 2
    assert mixed.stderr.strip() == (
        "seamscope: give s3:// URLs and files to separate runs of seamscope ingest"
    )
    assert not db.exists()


class HoldingProxy:
    """A loopback HTTP proxy in front of moto that holds the GET of one object until released:
    a run of `seamscope ingest` caught reading at a known point, as a slow network would."""

    def __init__(self, upstream: str, held_key: str) -> None:
        host, _, port = upstream.removeprefix("http://").partition(":")
        self.reached = threading.Event()
        self.release = threading.Event()
        outer = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def log_message(self, *args: Any) -> None:
                pass

            def _forward(self) -> None:
                if self.command == "GET" and held_key in self.path:
                    outer.reached.set()
                    outer.release.wait(120)
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else None
                conn = http.client.HTTPConnection(host, int(port), timeout=60)
                try:
                    conn.request(self.command, self.path, body, dict(self.headers.items()))
                    answer = conn.getresponse()
                    data = answer.read()
                finally:
                    conn.close()
                self.send_response(answer.status)
                for name, value in answer.getheaders():
                    if name.lower() not in ("transfer-encoding", "connection", "content-length"):
                        self.send_header(name, value)
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            do_GET = do_PUT = do_POST = do_HEAD = do_DELETE = _forward

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def close(self) -> None:
        self.release.set()
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def many_objects(moto_endpoint: str) -> Iterator[tuple[Bucket, list[str]]]:
    """A bucket of two groups of objects and a part of a third (see s3_ingest.groups)."""
    bucket = Bucket(moto_endpoint)
    count = 2 * GROUP_OBJECTS + 40

    def put(i: int) -> str:
        return bucket.put(f"traces_{400000000 + i}.binpb", proto(2, 1000 + i))

    with ThreadPoolExecutor(8) as pool:
        keys = list(pool.map(put, range(count)))
    yield bucket, sorted(keys)


def test_ctrl_c_midway_keeps_the_groups_read_and_a_rerun_reads_only_the_rest(
    moto_endpoint: str, tmp_path: Path, many_objects: tuple[Bucket, list[str]]
) -> None:
    """Ctrl-C while the second group of objects is read: click said "Aborted." and nothing
    more, and no object was recorded as loaded until the very end, so the rerun read every
    object again (its spans already present)."""
    bucket, keys = many_objects
    held = keys[GROUP_OBJECTS + 100]  # listed in key order: read after the first group
    proxy = HoldingProxy(moto_endpoint, held.rsplit("/", 1)[-1])
    db = tmp_path / "s3.duckdb"

    def sigint_as_in_a_terminal() -> None:
        signal.signal(signal.SIGINT, signal.SIG_DFL)

    try:
        run = subprocess.Popen(
            [*SEAMSCOPE, "ingest", "--db", str(db), bucket.url],
            env=aws_env(proxy.url),
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            start_new_session=True,
            preexec_fn=sigint_as_in_a_terminal,
        )
        try:
            assert proxy.reached.wait(120), "ingest never asked for the held object"
            os.killpg(run.pid, signal.SIGINT)
            out, err = run.communicate(timeout=120)
        finally:
            if run.poll() is None:
                run.kill()
                run.wait()
    finally:
        proxy.close()

    assert run.returncode == 130, err
    assert "Traceback" not in err
    assert "Aborted" not in err
    last = err.splitlines()[-1]
    assert last.startswith(f"seamscope: interrupted; {bucket.url}: {len(keys):,} trace objects")
    assert f"; {GROUP_OBJECTS} objects recorded as loaded. What was stored stays" in last
    assert out == ""
    assert set(ledger(db)) == set(keys[:GROUP_OBJECTS])
    first = expected_ids(*(proto(2, 1000 + i) for i in range(GROUP_OBJECTS)))
    assert first <= span_ids(db)

    again = ingest(db, bucket.url, moto_endpoint)

    assert again.returncode == 0, again.stderr
    assert f"{len(keys):,} trace objects, {GROUP_OBJECTS} loaded before;" in again.stdout
    assert f"{len(keys) - GROUP_OBJECTS:,} requests read" in again.stdout
    assert set(ledger(db)) == set(keys)
    assert span_count(db) == 2 * len(keys)  # nothing lost, nothing twice
    assert span_ids(db) == expected_ids(*(proto(2, 1000 + i) for i in range(len(keys))))


def test_an_empty_prefix_says_there_is_nothing_there(moto_endpoint: str, tmp_path: Path) -> None:
    """A prefix with a typo said "0 trace objects, 0 loaded before: nothing new", as if its
    objects had all been loaded before."""
    bucket = Bucket(moto_endpoint)
    bucket.put("traces_500000001.json", otlp_json(2, 51))
    db = tmp_path / "s3.duckdb"
    typo = f"s3://{bucket.name}/tarces/"

    done = ingest(db, typo, moto_endpoint)

    assert done.returncode == 0, done.stderr
    assert done.stdout == (
        f"seamscope: {typo}: no objects under this prefix (the exporter writes under its "
        "s3_prefix, then year=.../; is the prefix the one it was given?)\n"
    )
    assert done.stderr == ""


def test_no_credentials_is_one_line_and_touches_no_store(
    moto_endpoint: str, tmp_path: Path
) -> None:
    env = aws_env(moto_endpoint)
    del env["AWS_ACCESS_KEY_ID"], env["AWS_SECRET_ACCESS_KEY"]
    env["AWS_EC2_METADATA_DISABLED"] = "true"  # no instance role to ask, as on a laptop
    db = tmp_path / "s3.duckdb"
    done = subprocess.run(
        [*SEAMSCOPE, "ingest", "--db", str(db), "s3://any-bucket/traces/"],
        env=env, capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert done.returncode == 2
    assert done.stderr == (
        "seamscope: s3://any-bucket/traces/: no AWS credentials found (environment, shared "
        "config and credentials files, SSO, container or instance role)\n"
    )
    assert not db.exists()


def test_folder_markers_are_no_objects_left(moto_endpoint: str, tmp_path: Path) -> None:
    """The S3 console's "Create folder" leaves an empty object named like the folder, with a
    slash at its end: they were counted as other objects left, named by nothing ("2 other
    objects left (, )")."""
    bucket = Bucket(moto_endpoint)
    for marker in ("traces/", f"traces/{PARTITION.format(minute=50)}/"):
        bucket.s3.put_object(Bucket=bucket.name, Key=marker, Body=b"")
    bucket.put("traces_600000001.json", otlp_json(2, 61))
    db = tmp_path / "s3.duckdb"

    done = ingest(db, bucket.url, moto_endpoint)

    assert done.returncode == 0, done.stderr
    assert done.stdout == (
        f"seamscope: {bucket.url}: 1 trace object, 0 loaded before; 1 request read: 2 spans "
        "stored, 0 already present\n"
    )
    only_folders = Bucket(moto_endpoint)
    only_folders.s3.put_object(Bucket=only_folders.name, Key="traces/", Body=b"")
    empty = ingest(db, only_folders.url, moto_endpoint)
    assert empty.returncode == 0, empty.stderr
    assert "no objects under this prefix" in empty.stdout


def test_a_url_as_typed_in_capitals_or_with_no_bucket_name_is_understood(
    moto_endpoint: str, tmp_path: Path
) -> None:
    """S3://bucket/... was taken for a file's path ("S3:/bucket/traces: no such file or
    folder"), and a name no bucket can have said "AWS did not answer: Parameter validation
    failed:\\u000aInvalid bucket name ..." with botocore's two regular expressions."""
    bucket = Bucket(moto_endpoint)
    bucket.put("traces_700000001.json", otlp_json(2, 71))
    db = tmp_path / "s3.duckdb"

    capitals = ingest(db, f"S3://{bucket.name}/traces/", moto_endpoint)

    assert capitals.returncode == 0, capitals.stderr
    assert "1 trace object, 0 loaded before; 1 request read: 2 spans stored" in capitals.stdout

    bad = ingest(db, "s3://my_bucket!/traces/", moto_endpoint)

    assert bad.returncode == 2
    assert bad.stderr == (
        "seamscope: s3://my_bucket!/traces/: 'my_bucket!' is no bucket's name (letters, "
        "digits, dots, hyphens; expected s3://bucket/prefix/)\n"
    )


def test_a_url_names_a_folder_or_an_object_as_aws_s3_reads_it(
    moto_endpoint: str, tmp_path: Path
) -> None:
    """s3://bucket/traces (no slash at its end) took the objects under traces-old/ too, and the
    URL of one object took every key that began with it (its .gz beside it)."""
    bucket = Bucket(moto_endpoint)
    here = bucket.put("traces_800000001.json", otlp_json(2, 81))
    beside = bucket.put("traces_800000001.json.gz", otlp_json(3, 82), gz=True)
    bucket.put("traces_800000003.json", otlp_json(4, 83), prefix="traces-old")
    base = f"s3://{bucket.name}"

    folder = ingest(tmp_path / "folder.duckdb", f"{base}/traces", moto_endpoint)
    assert folder.returncode == 0, folder.stderr
    assert folder.stdout == (
        f"seamscope: {base}/traces/: 2 trace objects, 0 loaded before; 2 requests read: 5 spans "
        "stored, 0 already present\n"
    )
    assert span_ids(tmp_path / "folder.duckdb") == expected_ids(proto(2, 81), proto(3, 82))

    one = ingest(tmp_path / "one.duckdb", f"{base}/{here}", moto_endpoint)
    assert one.returncode == 0, one.stderr
    assert one.stdout == (
        f"seamscope: {base}/{here}: 1 trace object, 0 loaded before; 1 request read: 2 spans "
        "stored, 0 already present\n"
    )
    assert list(ledger(tmp_path / "one.duckdb")) == [here]
    # Loaded before: the object alone is compared with the ledger, not its neighbour.
    again = ingest(tmp_path / "one.duckdb", f"{base}/{beside}", moto_endpoint)
    assert again.stdout.startswith(f"seamscope: {base}/{beside}: 1 trace object, 0 loaded before")

    for whole in (base, f"{base}/"):
        done = ingest(tmp_path / "whole.duckdb", whole, moto_endpoint)
        assert done.returncode == 0, done.stderr
        assert done.stdout.startswith(f"seamscope: {base}/: 3 trace objects, ")
    assert span_ids(tmp_path / "whole.duckdb") == expected_ids(
        proto(2, 81), proto(3, 82), proto(4, 83)
    )

    typo = ingest(tmp_path / "typo.duckdb", f"{base}/trace", moto_endpoint)
    assert typo.returncode == 0, typo.stderr
    assert typo.stdout.startswith(f"seamscope: {base}/trace/: no objects under this prefix")


def test_an_object_the_url_names_is_read_whatever_its_name(
    moto_endpoint: str, tmp_path: Path
) -> None:
    """Only the exporter's `traces_*.json|binpb` objects are read under a prefix; an object the
    URL names was skipped too when its name was another ("0 trace objects"), though the user
    named it: it is read in whatever form its bytes are, as `ingest FILE` reads a file."""
    bucket = Bucket(moto_endpoint)
    base = f"s3://{bucket.name}"
    for name, body, gz, spans, seed in (
        ("monday-dump.txt", otlp_json(2, 91), False, 2, 91),
        ("raw-export", proto(3, 92), True, 3, 92),
    ):
        key = bucket.put(name, body, gz=gz)
        db = tmp_path / f"{seed}.duckdb"
        done = ingest(db, f"{base}/{key}", moto_endpoint)
        assert done.returncode == 0, done.stderr
        assert done.stdout.startswith(f"seamscope: {base}/{key}: 1 trace object, "), done.stdout
        assert span_ids(db) == expected_ids(proto(spans, seed))
        assert list(ledger(db)) == [key]
    # Under a prefix they are no exporter's objects: not read.
    folder = ingest(tmp_path / "folder.duckdb", f"{base}/{bucket.prefix}/", moto_endpoint)
    assert folder.returncode == 0, folder.stderr
    assert folder.stdout.startswith(f"seamscope: {base}/{bucket.prefix}/: 0 trace objects"), (
        folder.stdout
    )
