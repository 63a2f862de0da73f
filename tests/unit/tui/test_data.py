"""The TUI's data sources over a real store file: read-only SQL, refreshes, problems."""

from __future__ import annotations

from pathlib import Path

import pytest

from seamscope.tracer.access import SqlRejected
from seamscope.tracer.store import NotAStore, Store, StoreLocked, StoreMissing, StoreTooNew
from seamscope.tui import data
from seamscope.tui.data import LocalStore
from tests.functional.sample import EDGES, build_store


@pytest.fixture
def store(tmp_path: Path) -> LocalStore:
    return LocalStore(build_store(tmp_path / "s.duckdb", manual=True), classify=False)


def test_user_sql_runs_and_cannot_reach_files(store: LocalStore, tmp_path: Path) -> None:
    table = store.user_sql("SELECT count(*) AS n FROM edges")
    assert table.column("n").to_pylist() == [len(EDGES)]
    secret = tmp_path / "secret.csv"
    secret.write_text("a\n1\n")
    with pytest.raises(SqlRejected):
        store.user_sql(f"SELECT * FROM read_csv('{secret}')")
    with pytest.raises(SqlRejected):
        store.user_sql("SELECT * FROM no_such_table")


@pytest.mark.parametrize(
    ("error", "title"),
    [
        (StoreMissing("x"), "No store here"),
        (StoreLocked("x"), "The store is locked"),
        (StoreTooNew("x"), "The store is from a newer seamscope"),
        (NotAStore("x"), "Not a seamscope store"),
        (RuntimeError("x"), "Something went wrong reading the store"),
    ],
)
def test_problems_say_what_to_do(error: Exception, title: str) -> None:
    got, advice = data.describe_error(error)
    assert got == title and advice


def test_an_up_to_date_store_is_not_taken_read_write(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from seamscope.classifiers.engine import classify
    from seamscope.classifiers.landscape import load_landscape

    db = build_store(tmp_path / "s.duckdb", manual=False)
    toml = tmp_path / "seamscope.toml"
    toml.write_text('[systems.orders]\ncomponents = ["orders-api"]\n')
    with Store.open(db) as opened:
        classify(opened.con, load_landscape(toml))
    from seamscope.tracer.store import short_lock as real_short_lock

    taken: list[Path] = []

    def counting_short_lock(path: Path, **kwargs: object) -> object:
        taken.append(path)
        return real_short_lock(path, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr("seamscope.tui.data.short_lock", counting_short_lock)
    LocalStore(db, toml).refresh()  # classified with this very landscape: read-only is enough
    assert taken == []
    toml.write_text('[systems.billing]\ncomponents = ["orders-api"]\n')
    LocalStore(db, toml).refresh()  # another landscape: classified again, read-write
    assert taken == [db]


def test_a_person_s_query_and_the_screens_reads_open_the_file_in_turn(store: LocalStore) -> None:
    """The screens' reads (other threads) while a person's query opens its connection: DuckDB
    refuses a second connection to a file this process has open with its configuration locked,
    and a read opening its own beside the query's failed the query ("Cannot change
    configuration option ... locked", seen in a real terminal)."""
    import threading

    done = threading.Event()
    problems: list[BaseException] = []

    def screens() -> None:
        while not done.is_set():
            try:
                store.run(lambda q: q("SELECT count(*) FROM spans", None))
            except Exception as exc:  # noqa: BLE001 - every failure is the finding
                problems.append(exc)

    readers = [threading.Thread(target=screens) for _ in range(2)]
    for reader in readers:
        reader.start()
    try:
        for _ in range(60):
            assert store.user_sql("SELECT 41 + 1 AS answer").column(0).to_pylist() == [42]
    finally:
        done.set()
        for reader in readers:
            reader.join()
    assert not problems, problems[:3]
