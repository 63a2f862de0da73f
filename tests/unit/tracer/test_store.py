from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import duckdb
import pyarrow as pa
import pytest

from seamscope.tracer.rows import SpanBatchBuilder
from seamscope.tracer.schema import SCHEMA_VERSION
from seamscope.tracer.store import (
    NotAStore,
    Store,
    StoreDamaged,
    StoreError,
    StoreLocked,
    StoreMissing,
    StoreTooNew,
    open_read_only,
    short_lock,
)


def _one_span_table(span_id: str = "00000000000000aa") -> pa.Table:
    builder = SpanBatchBuilder()
    builder.add(
        trace_id="0" * 31 + "1",
        span_id=span_id,
        parent_span_id=None,
        name="GET",
        kind="CLIENT",
        start_ns=1_700_000_000_000_000_000,
        end_ns=1_700_000_000_001_000_000,
        status_code="UNSET",
        status_message=None,
        attributes={"http.method": "GET", "http.url": "http://inventory:8080/items?x=1"},
        resource={"service.name": "shop", "service.namespace": "web"},
        scope_name="httpx",
    )
    return builder.build()


def test_append_is_idempotent_by_batch_key(db_path: Path) -> None:
    with Store.open(db_path) as store:
        assert store.append(_one_span_table(), batch_key="k", source="t") == 1
        assert store.append(_one_span_table(), batch_key="k", source="t") == 0
        assert store.append(_one_span_table("bb"), batch_key=None, source="t") == 1
    con = open_read_only(db_path)
    rows = con.execute(
        "SELECT service_name, server_address, server_port, duration_ns FROM spans ORDER BY span_id"
    ).fetchall()
    assert rows == [("shop", "inventory", 8080, 1_000_000)] * 2


def test_the_builders_json_is_stored_as_it_is_and_a_producers_text_is_checked(
    db_path: Path,
) -> None:
    """SpanBatchBuilder's JSON columns come as Arrow's JSON type and are stored without DuckDB
    parsing them again; the same columns as plain text, from any other producer, are parsed on
    insert, so a document that is no JSON is refused and nothing of its batch is stored."""
    table = _one_span_table()
    assert table.schema.field("attributes").type == pa.json_()
    plain = table.cast(
        pa.schema([f.with_type(pa.string()) if f.type == pa.json_() else f for f in table.schema])
    )
    broken = plain.set_column(
        plain.schema.get_field_index("attributes"),
        "attributes",
        pa.array(['{"http.method": "GET"'], pa.string()),
    ).set_column(1, "span_id", pa.array(["cc"]))
    with Store.open(db_path) as store:
        assert store.append(table, batch_key="a", source="t") == 1
        assert (
            store.append(
                plain.set_column(1, "span_id", pa.array(["bb"])), batch_key="b", source="t"
            )
            == 1
        )
        with pytest.raises(duckdb.Error, match="(?i)json"):
            store.append(broken, batch_key="c", source="t")
    con = open_read_only(db_path)
    rows = con.execute(
        "SELECT typeof(attributes), attributes->>'http.method' FROM spans ORDER BY span_id"
    ).fetchall()
    batches = con.execute("SELECT batch_key FROM batches ORDER BY batch_id").fetchall()
    assert rows == [("JSON", "GET")] * 2
    assert batches == [("a",), ("b",)]


def test_read_only_connection_cannot_write_or_read_files(db_path: Path, tmp_path: Path) -> None:
    Store.open(db_path).close()
    con = open_read_only(db_path)
    (tmp_path / "secret.csv").write_text("a\n1\n")
    for statement in (
        "CREATE TABLE x (a INT)",
        "DELETE FROM spans",
        f"SELECT * FROM read_csv('{tmp_path / 'secret.csv'}')",
        f"ATTACH '{tmp_path / 'other.duckdb'}'",
        f"COPY spans TO '{tmp_path / 'out.csv'}'",
        "INSTALL httpfs",
        "SET enable_external_access = true",
    ):
        with pytest.raises(duckdb.Error):
            con.execute(statement)


def test_missing_store_says_where(tmp_path: Path) -> None:
    with pytest.raises(StoreMissing, match="nowhere.duckdb"):
        open_read_only(tmp_path / "nowhere.duckdb")


def test_foreign_duckdb_file_is_not_a_store(tmp_path: Path) -> None:
    path = tmp_path / "other.duckdb"
    duckdb.connect(str(path)).close()
    with pytest.raises(NotAStore):
        open_read_only(path)


def test_newer_schema_is_refused(db_path: Path) -> None:
    with Store.open(db_path) as store:
        store.con.execute(
            "UPDATE seamscope_meta SET value = ? WHERE key = 'schema_version'",
            [str(SCHEMA_VERSION + 1)],
        )
    with pytest.raises(StoreTooNew, match="upgrade seamscope"):
        Store.open(db_path)


def test_store_held_by_another_process_is_reported_with_its_pid(db_path: Path) -> None:
    Store.open(db_path).close()
    holder = subprocess.Popen(
        [
            sys.executable,
            "-c",
            f"import duckdb, sys; c = duckdb.connect({str(db_path)!r}); "
            "print('held', flush=True); sys.stdin.read()",
        ],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert holder.stdout is not None
        assert holder.stdout.readline().strip() == "held"
        with pytest.raises(StoreLocked) as info:
            with short_lock(db_path, attempts=2, wait_s=0.01):
                pass
        assert info.value.pid == holder.pid
    finally:
        holder.communicate("")


def test_append_takes_the_same_spans_under_another_key_for_a_repeat(db_path: Path) -> None:
    with Store.open(db_path) as store:
        assert store.append(_one_span_table(), batch_key="k", source="t") == 1
        assert store.append(_one_span_table(), batch_key="k2", source="t") == 0
        assert store.append(_one_span_table(), batch_key=None, source="t") == 1
    assert open_read_only(db_path).execute("SELECT count(*) FROM spans").fetchone() == (2,)


def test_a_version_4_store_gets_the_digests_of_new_batches(db_path: Path) -> None:
    """A store of version 4 has no spans_digest: its batches are still found by their keys,
    and batches stored after the migration by their spans as well."""
    with Store.open(db_path) as store:
        store.append(_one_span_table(), batch_key="k", source="test")
        store.con.execute("DROP INDEX batches_spans_digest")
        store.con.execute("ALTER TABLE batches DROP COLUMN spans_digest")
        store.con.execute("UPDATE seamscope_meta SET value = '4' WHERE key = 'schema_version'")
    with Store.open(db_path) as store:
        assert store.append(_one_span_table(), batch_key="k", source="test") == 0
        assert store.append(_one_span_table("bb"), batch_key="b", source="test") == 1
        assert store.append(_one_span_table("bb"), batch_key="b2", source="test") == 0
        digests = store.con.execute(
            "SELECT batch_key, spans_digest IS NOT NULL FROM batches ORDER BY batch_id"
        ).fetchall()
    assert digests == [("k", False), ("b", True)]


def test_a_version_1_store_is_migrated_when_a_writer_opens_it(db_path: Path) -> None:
    with Store.open(db_path) as store:
        store.append(_one_span_table(), batch_key="k", source="test")
        # What a version 1 store held: no routes, no S3 ledger, no span keys.
        store.con.execute("DROP TABLE aws_routes")
        store.con.execute("DROP TABLE s3_objects")
        for column in ("trace_key", "span_key", "parent_key"):
            store.con.execute(f"ALTER TABLE spans DROP COLUMN {column}")
        store.con.execute("UPDATE seamscope_meta SET value = '1' WHERE key = 'schema_version'")
    with Store.open(db_path) as store:
        tables = store.con.execute(
            "SELECT table_name FROM information_schema.tables "
            "WHERE table_name IN ('aws_routes', 's3_objects') ORDER BY 1"
        ).fetchall()
        assert tables == [("aws_routes",), ("s3_objects",)]
        version = store.con.execute(
            "SELECT value FROM seamscope_meta WHERE key = 'schema_version'"
        ).fetchone()
        assert version == (str(SCHEMA_VERSION),)
        assert store.con.execute("SELECT count(*) FROM spans").fetchone() == (1,)


def _damage(db_path: Path, *statements: str) -> None:
    """A store with one span, then changed behind seamscope's back."""
    with Store.open(db_path) as store:
        store.append(_one_span_table(), batch_key="k", source="test")
    con = duckdb.connect(str(db_path))
    for statement in statements:
        con.execute(statement)
    con.close()


def _refused_by_every_opening(db_path: Path, message: str) -> None:
    """Read-write, read-only and the short lock each say message; the store stays as it was."""
    before = duckdb.connect(str(db_path), read_only=True)
    kept = before.execute("SELECT * FROM seamscope_meta ORDER BY key").fetchall()
    before.close()
    for opening in (
        lambda: Store.open(db_path).close(),
        lambda: open_read_only(db_path).close(),
        lambda: short_lock(db_path).__enter__(),
    ):
        with pytest.raises(StoreDamaged) as raised:
            opening()
        assert str(raised.value) == f"{db_path}: a damaged store: {message}"
    after = duckdb.connect(str(db_path), read_only=True)
    assert after.execute("SELECT * FROM seamscope_meta ORDER BY key").fetchall() == kept
    after.close()


@pytest.mark.parametrize(
    ("value", "shown"), [("'abc'", "'abc'"), ("''", "''"), ("NULL", "NULL"), ("'4.0'", "'4.0'")]
)
def test_a_schema_version_that_is_no_number_is_a_damaged_store(
    db_path: Path, value: str, shown: str
) -> None:
    _damage(db_path, f"UPDATE seamscope_meta SET value = {value} WHERE key = 'schema_version'")
    _refused_by_every_opening(
        db_path, f"its schema version (in seamscope_meta) is {shown}, not a number"
    )


@pytest.mark.parametrize("version", ["0", "-1"])
def test_a_schema_version_below_the_first_is_a_damaged_store(db_path: Path, version: str) -> None:
    _damage(db_path, f"UPDATE seamscope_meta SET value = '{version}' WHERE key = 'schema_version'")
    _refused_by_every_opening(
        db_path, f"its schema version is {version}; seamscope wrote 1 to {SCHEMA_VERSION}"
    )


def test_spans_without_its_columns_is_a_damaged_store(db_path: Path) -> None:
    _damage(db_path, "ALTER TABLE spans DROP COLUMN service_name")
    _refused_by_every_opening(db_path, "its spans table lacks the column service_name")
    con = duckdb.connect(str(db_path))
    con.execute("ALTER TABLE spans DROP COLUMN kind")
    con.execute("ALTER TABLE spans DROP COLUMN span_key")
    con.close()
    _refused_by_every_opening(
        db_path, "its spans table lacks the columns kind, service_name, span_key"
    )
    con = duckdb.connect(str(db_path))
    con.execute("DROP TABLE spans")
    con.close()
    _refused_by_every_opening(db_path, "it has no spans table")


def test_an_older_store_lacks_only_the_columns_a_migration_adds(db_path: Path) -> None:
    """A version 3 store has no span keys: read as it is, migrated when a writer opens it;
    without a column version 3 had, it is damaged."""
    _damage(
        db_path,
        *(f"ALTER TABLE spans DROP COLUMN {c}" for c in ("trace_key", "span_key", "parent_key")),
        "UPDATE seamscope_meta SET value = '3' WHERE key = 'schema_version'",
    )
    con = open_read_only(db_path)
    assert con.execute("SELECT count(*) FROM spans").fetchone() == (1,)
    con.close()
    other = db_path.with_name("other.duckdb")
    other.write_bytes(db_path.read_bytes())
    with Store.open(db_path) as store:
        assert store.con.execute("SELECT count(span_key) FROM spans").fetchone() == (1,)
    con = duckdb.connect(str(other))
    con.execute("ALTER TABLE spans DROP COLUMN parent_span_id")
    con.close()
    with pytest.raises(StoreDamaged, match="spans table lacks the column parent_span_id$"):
        Store.open(other)


def test_a_duckdb_file_of_something_else_is_refused_and_left_untouched(tmp_path: Path) -> None:
    """Commands that write classification must not add seamscope's tables to another database."""
    path = tmp_path / "other.duckdb"
    con = duckdb.connect(str(path))
    con.execute("CREATE TABLE invoices (id INTEGER)")
    con.close()
    before = path.read_bytes()
    with pytest.raises(NotAStore, match="not a seamscope store"):
        Store.open(path, create=False)
    with pytest.raises(NotAStore):
        with short_lock(path):
            pass
    assert path.read_bytes() == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["other.duckdb"]  # no WAL left beside it
    con = duckdb.connect(str(path), read_only=True)
    assert con.execute("SELECT table_name FROM information_schema.tables").fetchall() == [
        ("invoices",)
    ]
    con.close()


def test_every_connection_has_duckdb_progress_bar_off(tmp_path: Path) -> None:
    """DuckDB prints a progress bar for slow queries by default: over a TUI, or into a pipe."""
    path = tmp_path / "s.duckdb"
    setting = "SELECT current_setting('enable_progress_bar')"
    with short_lock(path) as store:
        assert store.con.execute(setting).fetchone() == (False,)
        with store.con.cursor() as cursor:
            assert cursor.execute(setting).fetchone() == (False,)
    con = open_read_only(path)
    try:
        assert con.execute(setting).fetchone() == (False,)
        assert con.execute("SELECT current_setting('lock_configuration')").fetchone() == (True,)
    finally:
        con.close()


@pytest.mark.parametrize(("existing", "limit"), [(False, "1KB"), (True, "300KB")])
def test_a_store_that_cannot_open_under_its_memory_limit_says_so_not_that_it_is_locked(
    tmp_path: Path, existing: bool, limit: str
) -> None:
    """DuckDB's "failed to pin block" read as a lock ("block"), and out of memory while the
    schema was read was DuckDB's own exception (a traceback in `seamscope collect`)."""
    path = tmp_path / "s.duckdb"
    if existing:
        Store.open(path).close()
    with pytest.raises(StoreError) as raised:
        Store.open(path, config={"memory_limit": limit})
    assert not isinstance(raised.value, StoreLocked)
    assert str(raised.value).startswith(f"{path}: Out of Memory Error: ")
