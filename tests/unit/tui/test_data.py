"""The TUI's data layer over a real store file: filters, ordering, read-only SQL, problems."""

from __future__ import annotations

from pathlib import Path

import pytest

from seamscope.tracer.access import SqlRejected
from seamscope.tracer.store import NotAStore, Store, StoreLocked, StoreMissing, StoreTooNew
from seamscope.tui import data
from seamscope.tui.data import Filters, LocalStore
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


def test_overview_lists_system_and_external_edges_worst_first(store: LocalStore) -> None:
    view = store.run(lambda q: data.overview(q, Filters()))
    assert view.status == "ok"
    assert set(view.systems) == {"shop", "orders", "users", "search", "billing"}
    expected = [e for e in EDGES if e.level in ("system", "external")]
    assert len(view.edges) == len(expected)
    ranks = [e.verdict.rank for e in view.edges]
    assert ranks == sorted(ranks)


@pytest.mark.parametrize(
    ("filters", "rules"),
    [
        (Filters(verdict="pattern"), {"P102", "P201", "P302"}),
        (Filters(mechanism="rest"), {"P102", "A101"}),
        (Filters(system="billing"), {"A102"}),
        (Filters(rule="A301"), {"A301"}),
        (Filters(component="users-api"), {"A101", "P201", "P302"}),
        (Filters(search="auth0"), {"P302"}),
        (Filters(search="AUTH0"), {"P302"}),
    ],
)
def test_filters(store: LocalStore, filters: Filters, rules: set[str]) -> None:
    view = store.run(lambda q: data.overview(q, filters))
    assert {e.rule_id for e in view.edges} == rules


def test_time_window_counts_back_from_the_newest_edge(store: LocalStore) -> None:
    everything = store.run(lambda q: data.all_edges(q, Filters()))
    newest = max(e.last_seen for e in everything if e.last_seen)
    recent = store.run(lambda q: data.all_edges(q, Filters(window_minutes=1)))
    assert recent and len(recent) < len(everything)
    assert all(e.last_seen and (newest - e.last_seen).total_seconds() <= 60 for e in recent)


def test_findings_worst_first(store: LocalStore) -> None:
    found = store.run(lambda q: data.findings(q, Filters()))
    assert [e.verdict for e in found][-1] == "smell"
    assert found[0].rule_id == "A101"  # the anti-pattern with errors leads
    assert {e.rule_id for e in found} == {
        e.rule for e in EDGES if e.verdict in ("anti-pattern", "smell")
    }


def test_edge_detail_and_trace(store: LocalStore) -> None:
    a202 = next(e for e in store.run(lambda q: data.all_edges(q, Filters(rule="A202"))))
    detail = store.run(lambda q: data.edge_detail(q, a202.edge_id))
    assert detail is not None and detail.rule is not None
    kinds = {s.kind for s in detail.spans}
    assert kinds == {"PRODUCER", "CONSUMER"}
    producer = next(s for s in detail.spans if s.kind == "PRODUCER")
    trace = store.run(lambda q: data.trace_view(q, producer.trace_id))
    assert any(s.edge_id == a202.edge_id for s in trace.spans)
    assert trace.hops and all(h.trace_id != producer.trace_id for h in trace.hops)
    attrs = store.run(lambda q: data.span_attributes(q, producer.trace_id, producer.span_id))
    assert attrs["resource"]["service.name"] == "orders-api"
    assert store.run(lambda q: data.edge_detail(q, "no-such-edge")) is None


def test_status_of_empty_and_unclassified_stores(tmp_path: Path) -> None:
    empty = tmp_path / "empty.duckdb"
    Store.open(empty).close()
    view = LocalStore(empty, classify=False).run(lambda q: data.overview(q, Filters()))
    assert view.status == "empty"


def test_watermark_moves_when_edges_change(store: LocalStore) -> None:
    before = store.run(data.watermark)
    assert store.run(data.watermark) == before
    import duckdb

    con = duckdb.connect(str(store.path))
    con.execute("UPDATE edges SET span_count = span_count + 1 WHERE rule_id = 'P102'")
    con.close()
    counted = store.run(data.watermark)
    assert counted != before
    con = duckdb.connect(str(store.path))
    con.execute("UPDATE edges SET verdict = 'smell', rule_id = 'A303' WHERE rule_id = 'P102'")
    con.close()
    assert store.run(data.watermark) != counted


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
