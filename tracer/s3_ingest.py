"""`seamscope ingest s3://bucket/prefix/`: traces the OpenTelemetry Collector's ``awss3``
exporter wrote, read straight from object storage.

The exporter writes one object per export: ``<prefix>/<partition>/<file_prefix>traces_<unique>``
with the suffix of its marshaler (``.json`` for ``otlp_json``, one request per object or one per
line; ``.binpb`` for ``otlp_proto``, one request) and ``.gz`` when it compresses with gzip. Logs
and metrics (``logs_...``, ``metrics_...``) may share the prefix; they are counted and left.

Objects go through the same path as files (`tracer.ingest.load`): each request is stored once
by its batch key, through the store's owner while one runs. Every object loaded without a
problem is recorded in ``s3_objects`` (key, ETag, size), so a rerun reads only new objects, or
objects written again under the same key. They are loaded and recorded a group at a time, so
that a run stopped midway (Ctrl-C) leaves the groups it finished recorded: the rerun reads the
rest, and takes the requests of the group it stopped in again (stored once by their keys).
"""

from __future__ import annotations

import re
import tempfile
import zlib
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, BinaryIO, cast

import duckdb
import pyarrow as pa

from seamscope.tracer.access import open_reader
from seamscope.tracer.aws import aws_problem, client_config, read_only_session
from seamscope.tracer.errors import SeamscopeError
from seamscope.tracer.framing import MAX_REQUEST_BYTES
from seamscope.tracer.ingest import (
    COMPRESSION_RATIO,
    IngestReport,
    Request,
    default_workers,
    iter_stream,
    load,
)
from seamscope.tracer.otlp import OtlpError, TooLarge, inflate
from seamscope.tracer.otlp.common import MAX_GZIP_MEMBERS
from seamscope.tracer.owner import OBJECTS_PATH, send_or_write
from seamscope.tracer.schema import S3_OBJECT_COLUMNS, arrow_schema
from seamscope.tracer.store import Store, StoreMissing, transaction

SCHEME = "s3://"
MAX_OBJECT_BYTES = 1024 * 1024 * 1024
"""Largest object read, and the most a gzipped JSON object may inflate to: the exporter's
objects are far smaller. An object is copied a piece at a time to a private temporary file
(it held the whole object in memory, up to 1 GiB, before a byte was decoded), checked whole
there when it is gzip (inflated, the result dropped as it comes), then read as a file is, a
request at a time. A protobuf object, one request, is read up to MAX_REQUEST_BYTES and
inflated up to that too. An object listed larger is not read: named, and skipped."""
_TRACES = re.compile(r"traces_[^/]*\.(?P<format>json|binpb)(?P<gz>\.gz)?$")
_GZIP_MAGIC = b"\x1f\x8b"
GROUP_OBJECTS = 500
"""Objects loaded, then recorded, at a time: what a stopped run reads again at most."""
GROUP_BYTES = 256 * 1024 * 1024
"""... or fewer, once their bytes to decode (work_bytes) reach this."""
_EXAMPLES = 3
PIECE = 1024 * 1024
"""What an object is copied and checked by."""


_BUCKET = re.compile(r"[A-Za-z0-9._-]{1,255}")
"""What botocore takes for a bucket's name (S3's rules are stricter; older buckets are not)."""


def is_s3_url(text: str) -> bool:
    """s3://..., in any case (S3://, as some consoles write it, is no file's name either)."""
    return text[: len(SCHEME)].lower() == SCHEME


@dataclass(frozen=True, slots=True)
class Location:
    bucket: str
    prefix: str
    single: bool = False
    """prefix is the key of the one object to read (s3://bucket/key named an object)."""

    @classmethod
    def parse(cls, url: str) -> Location:
        """s3://bucket/prefix/ -> (bucket, prefix); SeamscopeError when there is no bucket."""
        bucket, _, prefix = url[len(SCHEME) :].partition("/")
        if not bucket:
            raise SeamscopeError(f"{url}: no bucket (expected s3://bucket/prefix/)")
        if not _BUCKET.fullmatch(bucket):
            raise SeamscopeError(
                f"{url}: {bucket!r} is no bucket's name (letters, digits, dots, hyphens; "
                "expected s3://bucket/prefix/)"
            )
        return cls(bucket, prefix)

    def url(self, key: str = "") -> str:
        return f"{SCHEME}{self.bucket}/{key or self.prefix}"

    def resolved(self, client: Any) -> Location:
        """What the URL names, as `aws s3` reads it: s3://bucket/name is the object of that key
        when there is one (as `aws s3 cp` takes it), else the folder name/ (as `aws s3 sync`
        does): objects under traces-old/ are no part of s3://bucket/traces. s3://bucket and
        s3://bucket/ are the whole bucket."""
        if not self.prefix or self.prefix.endswith("/") or self.single:
            return self
        # The key itself sorts before every longer key it begins: one key listed says.
        first = client.list_objects_v2(Bucket=self.bucket, Prefix=self.prefix, MaxKeys=1)
        if [o.get("Key") for o in first.get("Contents", [])] == [self.prefix]:
            return Location(self.bucket, self.prefix, single=True)
        return Location(self.bucket, self.prefix + "/")


@dataclass(frozen=True, slots=True)
class S3Object:
    key: str
    etag: str
    size: int
    json_format: bool | None
    """True for OTLP JSON, False for one protobuf request, None for an object the URL names
    whose name is not the exporter's: read in whatever form its bytes are (as `ingest FILE`)."""


@dataclass
class S3Report:
    """What an S3 ingest did, beside the requests' own report."""

    location: Location
    ingest: IngestReport = field(default_factory=IngestReport)
    traces: int = 0
    """Trace objects under the prefix."""
    known: int = 0
    """Of which loaded before (same key and ETag): not read again."""
    recorded: int = 0
    """Objects read and recorded as loaded in this run."""
    others: list[str] = field(default_factory=list)
    """Keys under the prefix that are no trace objects of the exporter."""

    @property
    def ok(self) -> bool:
        return self.ingest.ok


def work_bytes(objects: list[S3Object]) -> int:
    """The bytes to decode in objects, for choosing the decoder processes: a gzipped object
    counts COMPRESSION_RATIO times its size, as a compressed file does."""
    return sum(o.size * (COMPRESSION_RATIO if o.key.endswith(".gz") else 1) for o in objects)


def classify_key(key: str) -> bool | None:
    """True for an ``otlp_json`` trace object, False for ``otlp_proto``, None for anything else
    (logs, metrics, other files)."""
    name = key.rsplit("/", 1)[-1]
    match = _TRACES.search(name)
    if match is None:
        return None
    return match.group("format") == "json"


def _list(client: Any, where: Location) -> Iterator[dict[str, Any]]:
    paginator = client.get_paginator("list_objects_v2")
    for page in paginator.paginate(Bucket=where.bucket, Prefix=where.prefix):
        for item in page.get("Contents", []):
            if not where.single or item.get("Key") == where.prefix:
                yield item


def _known(db_path: Path, where: Location) -> dict[str, str]:
    """key -> ETag of the objects under the prefix loaded before."""
    try:
        reader = open_reader(db_path)

        def known(query: Callable[[str, Sequence[Any] | None], pa.Table]) -> pa.Table | None:
            exists = query(
                "SELECT count(*) AS n FROM information_schema.tables "
                "WHERE table_name = 's3_objects'",
                None,
            )
            if not exists.column("n")[0].as_py():
                return None  # a store from before the ledger: nothing recorded yet
            return query(
                "SELECT key, etag FROM s3_objects WHERE bucket = ? AND starts_with(key, ?)",
                [where.bucket, where.prefix],
            )

        table = reader.run(known)
    except StoreMissing:
        return {}
    if table is None:
        return {}
    return dict(zip(table.column("key").to_pylist(), table.column("etag").to_pylist(), strict=True))


def _requests(
    client: Any,
    where: Location,
    objects: Sequence[S3Object],
    report: IngestReport,
    read: list[S3Object],
) -> Iterator[Request]:
    """The requests of every object, read one at a time; read gets each object that was."""
    for obj in objects:
        url = where.url(obj.key)
        over = _over_bound(obj)
        if over:
            report.bad_requests += 1
            report.error(f"{url}: {over}; skipped, the other objects are read", url)
            continue
        with tempfile.TemporaryFile() as spool:  # private (0600) and unlinked at once
            try:
                got = client.get_object(Bucket=where.bucket, Key=obj.key, IfMatch=obj.etag)
                size = _spool(got["Body"], spool)
            except Exception as exc:  # noqa: BLE001 - botocore's errors, answered per object
                problem = aws_problem(exc)
                if problem is None:
                    raise
                report.bad_requests += 1
                report.error(f"{url}: {problem}", url)
                continue
            body = b""
            try:
                if size > _limit(obj):
                    raise TooLarge(f"the object is over {_limit(obj):,} bytes")
                spool.seek(0)
                gzipped = spool.read(len(_GZIP_MAGIC)) == _GZIP_MAGIC
                spool.seek(0)
                if obj.json_format is False:  # one request, held as a file's request is
                    body = spool.read()
                    if gzipped:
                        body = inflate(body, "gzip", MAX_REQUEST_BYTES)
                elif gzipped:  # checked whole first (a damaged object is read no further)
                    check_gzip(spool, MAX_OBJECT_BYTES)
                    spool.seek(0)
            except (TooLarge, OtlpError) as exc:
                report.bad_requests += 1
                report.error(f"{url}: {exc}", url)
                continue
            read.append(obj)
            if obj.json_format is not False:
                # JSON, or an object named by the URL: its form told by its bytes and read as
                # a file's, a line at a time, gzip inflated as it is read
                yield from iter_stream(url, cast(BinaryIO, spool), origin=url)
            else:
                yield Request(url, body, json_format=False, origin=url)


def _limit(obj: S3Object) -> int:
    """The most bytes read of obj: a protobuf object is one request."""
    return MAX_REQUEST_BYTES if obj.json_format is False else MAX_OBJECT_BYTES


def _over_bound(obj: S3Object) -> str:
    """Why obj is not read at all, by the size the listing gave (so that a rerun says the
    same without reading it), or ""."""
    if obj.size <= _limit(obj):
        return ""
    what = "a protobuf object (one request)" if obj.json_format is False else "an object"
    return f"the object is {obj.size:,} bytes, over the {_limit(obj):,} bytes read of {what}"


def _spool(body: Any, spool: BinaryIO) -> int:
    """Copies an object's body to spool a piece at a time, stopping one piece past what any
    object may be: an object is never held whole in memory. Returns the bytes copied."""
    size = 0
    for piece in body.iter_chunks(PIECE):
        spool.write(piece)
        size += len(piece)
        if size > MAX_OBJECT_BYTES:
            break
    body.close()
    return size


def check_gzip(stream: BinaryIO, limit: int) -> None:
    """What inflate(data, "gzip", limit, keep=False) checks, for a stream read a piece at a
    time: valid gzip of at most MAX_GZIP_MEMBERS members, inflating to at most limit bytes."""
    size = members = 0
    pending = b""
    part: Any = None
    try:
        while True:
            if not pending:
                pending = stream.read(PIECE)
                if not pending:
                    if part is None or part.eof:
                        return
                    # what the inflater still holds, when a piece out filled up at the end
                    held = len(part.decompress(b"", min(PIECE, limit + 1 - size)))
                    if not held:
                        raise OtlpError("the gzip body is truncated")
                    size += held
                    if size > limit:
                        raise TooLarge(f"the gzip body inflates past {limit} bytes")
                    continue
            if part is None or part.eof:
                members += 1
                if members > MAX_GZIP_MEMBERS:
                    raise OtlpError(
                        f"the gzip body has more than {MAX_GZIP_MEMBERS} members (concatenated "
                        "streams); send one"
                    )
                part = zlib.decompressobj(16 + zlib.MAX_WBITS)
            # at most a piece out at a time: a piece of gzip can inflate a thousandfold
            size += len(part.decompress(pending, min(PIECE, limit + 1 - size)))
            if size > limit:
                raise TooLarge(f"the gzip body inflates past {limit} bytes")
            pending = part.unused_data if part.eof else part.unconsumed_tail
    except zlib.error as exc:
        raise OtlpError(f"the body is not valid gzip ({exc})") from None


def ingest_s3(
    db_path: Path,
    url: str,
    *,
    use_owner: bool = True,
    workers: int | None = None,
    region: str | None = None,
    report: S3Report | None = None,
) -> S3Report:
    """Loads the trace objects under an s3:// URL that were not loaded before (workers: as
    for `tracer.ingest.ingest`, by the size of each group of objects to read). report, when
    given, is filled as it goes: on Ctrl-C, what was done.

    Credentials, region and endpoint come from the standard AWS chain; only read-only calls
    are made. Raises SeamscopeError when the bucket cannot be listed.
    """
    where = Location.parse(url)
    report = report if report is not None else S3Report(where)
    session = read_only_session(region)
    client = session.client("s3", config=client_config())
    new: list[S3Object] = []
    try:
        where = report.location = where.resolved(client)
        known = _known(db_path, where)
        for item in _list(client, where):
            key, etag, size = str(item["Key"]), str(item["ETag"]), int(item["Size"])
            if key.endswith("/"):
                continue  # a folder's marker, as the S3 console's "Create folder" leaves it
            json_format = classify_key(key)
            if json_format is None and not where.single:
                report.others.append(key)
                continue
            report.traces += 1
            if known.get(key) == etag:
                report.known += 1
                continue
            new.append(S3Object(key, etag, size, json_format))
    except Exception as exc:  # noqa: BLE001 - botocore's errors, as one line
        problem = aws_problem(exc)
        if problem is None:
            raise
        raise SeamscopeError(f"{where.url()}: {problem}") from None
    for group in groups(new):
        read: list[S3Object] = []
        requests = _requests(client, where, group, report.ingest, read)
        jobs = default_workers(work_bytes(group)) if workers is None else workers
        load(db_path, requests, use_owner=use_owner, workers=jobs, report=report.ingest)
        loaded = [o for o in read if where.url(o.key) not in report.ingest.failed_origins]
        if loaded:
            record_objects(db_path, where.bucket, loaded)
            report.recorded += len(loaded)
    return report


def groups(objects: Sequence[S3Object]) -> Iterator[list[S3Object]]:
    """objects in groups of at most GROUP_OBJECTS, and at most GROUP_BYTES of work (one
    larger object is a group of its own), in their order."""
    group: list[S3Object] = []
    size = 0
    for obj in objects:
        work = work_bytes([obj])
        if group and (len(group) >= GROUP_OBJECTS or size + work > GROUP_BYTES):
            yield group
            group, size = [], 0
        group.append(obj)
        size += work
    if group:
        yield group


# ---------------------------------------------------------------------------------------------
# The ledger


def _ledger_rows(bucket: str, objects: Sequence[S3Object]) -> list[dict[str, Any]]:
    now = datetime.now(UTC).isoformat()
    return [
        {
            "url": f"{SCHEME}{bucket}/{o.key}",
            "bucket": bucket,
            "key": o.key,
            "etag": o.etag,
            "size": o.size,
            "loaded_at": now,
        }
        for o in objects
    ]


def write_ledger(con: duckdb.DuckDBPyConnection, rows: Sequence[Mapping[str, Any]]) -> int:
    """Records loaded objects (an object loaded again replaces its row)."""
    columns = [c.name for c in S3_OBJECT_COLUMNS]
    data: dict[str, list[Any]] = {c: [] for c in columns}
    for row in rows:
        for c in columns:
            value = row[c]
            data[c].append(datetime.fromisoformat(value) if c == "loaded_at" else value)
    table = pa.Table.from_pydict(data, schema=arrow_schema(S3_OBJECT_COLUMNS))
    with transaction(con):
        con.register("_seamscope_objects", table)
        try:
            con.execute("INSERT OR REPLACE INTO s3_objects SELECT * FROM _seamscope_objects")
        finally:
            con.unregister("_seamscope_objects")
    return int(table.num_rows)


def objects_writer(payload: object) -> Callable[[Store], int]:
    """The owner's side of recording: the payload checked, as work for its writer."""
    rows = payload.get("objects") if isinstance(payload, Mapping) else None
    if not isinstance(rows, list):
        raise ValueError('the body must be JSON: {"objects": [...]}')
    for row in rows:
        if not isinstance(row, Mapping):
            raise ValueError("each object must be a JSON object")
        for column in S3_OBJECT_COLUMNS:
            value = row.get(column.name)
            wanted = int if column.name == "size" else str
            if not isinstance(value, wanted) or isinstance(value, bool):
                raise ValueError(f"objects: {column.name} must be a {wanted.__name__}")
        if row["url"] != f"{SCHEME}{row['bucket']}/{row['key']}":
            raise ValueError(f"objects: {row['url']!r} is not s3://<bucket>/<key>")
        try:
            datetime.fromisoformat(str(row["loaded_at"]))
        except ValueError:
            raise ValueError(f"objects: loaded_at {row['loaded_at']!r} is no ISO time") from None

    def write(store: Store) -> int:
        return write_ledger(store.con, rows)

    return write


def record_objects(db_path: Path, bucket: str, objects: Sequence[S3Object]) -> None:
    """Records objects as loaded: through the store's owner, else under the short lock."""
    rows = _ledger_rows(bucket, objects)
    send_or_write(
        db_path, OBJECTS_PATH, {"objects": rows}, lambda store: write_ledger(store.con, rows)
    )
