"""The engine as its callers use it: often, cheaply, with landscapes that change."""

from __future__ import annotations

from pathlib import Path

import duckdb
import pytest

from seamscope.classifiers.engine import _set_state, classify, refresh_store
from seamscope.classifiers.landscape import parse_landscape
from seamscope.classifiers.schema import CLASSIFIER_DDL
from seamscope.tracer.owner import publish, withdraw
from seamscope.tracer.store import Store, StoreMissing
from tests.unit.classifiers.conftest import ClassifyFn
from tests.unit.classifiers.fleet import Fleet, Service

ORDERS = Service("orders-api", "orders", "backend")
BILLING = Service("billing-api", "billing", "backend")


def _fleet() -> Fleet:
    f = Fleet()
    f.dynamodb(ORDERS, "PutItem", "Orders")
    f.dynamodb(BILLING, "PutItem", "Orders")
    return f


def test_a_landscape_change_relabels_without_new_spans(db_path: Path) -> None:
    _fleet().store(db_path)
    con = duckdb.connect(str(db_path))
    classify(con)
    rules = "SELECT rule_id FROM edges WHERE from_node LIKE '%billing-api' ORDER BY 1"
    assert con.execute(rules).fetchall() == [("unclassified",)]
    land = parse_landscape('[owners.tables]\nOrders = "orders"\n', db_path.with_suffix(".toml"))
    result = classify(con, land)
    assert result.new_spans == 0
    assert con.execute(rules).fetchall() == [("A301",)]
    assert con.execute("SELECT DISTINCT rule_id FROM span_labels ORDER BY 1").fetchall() == [
        ("A301",),
        ("P301",),
    ]
    state = dict(con.execute("SELECT key, value FROM classifier_state").fetchall())
    assert state["landscape"] == land.fingerprint()
    con.close()


def test_full_rebuild_and_the_findings_view(db_path: Path) -> None:
    _fleet().store(db_path)
    con = duckdb.connect(str(db_path))
    land = parse_landscape('[owners.tables]\nOrders = "orders"\n', db_path.with_suffix(".toml"))
    first = classify(con, land)
    again = classify(con, land, full=True)
    assert (first.full, again.full) == (True, True)
    assert con.execute("SELECT rule_id FROM findings").fetchall() == [("A301",)]
    con.close()


def test_an_old_span_labels_table_gives_way_to_the_view(db_path: Path) -> None:
    with Store.open(db_path) as store:
        for statement in CLASSIFIER_DDL:
            store.con.execute(statement)
        store.append(_fleet().table(), batch_key="x", source="t")
        classify(store.con)
        kind = store.con.execute(
            "SELECT table_type FROM information_schema.tables WHERE table_name = 'span_labels'"
        ).fetchone()
        assert kind == ("VIEW",)
        assert store.con.execute("SELECT count(*) FROM span_labels").fetchone() == (2,)


def test_refresh_store_leaves_an_owned_store_alone(db_path: Path) -> None:
    _fleet().store(db_path)
    publish(db_path, "127.0.0.1", 1)
    try:
        refresh_store(db_path, None)
    finally:
        withdraw(db_path)
    con = duckdb.connect(str(db_path))
    rows = con.execute("SELECT table_name FROM information_schema.tables").fetchall()
    tables = {r[0] for r in rows}
    con.close()
    assert "edges" not in tables

    refresh_store(db_path, None)
    con = duckdb.connect(str(db_path))
    assert con.execute("SELECT count(*) FROM edges").fetchone() == (2,)
    con.close()


def test_an_empty_store_classifies_to_nothing(db_path: Path) -> None:
    Store.open(db_path).close()
    con = duckdb.connect(str(db_path))
    result = classify(con)
    assert (result.edges, result.nodes, result.new_spans) == (0, 0, 0)
    con.close()


def test_the_synthetic_store_classifies_like_a_fleet(db_path: Path) -> None:
    from seamscope.classifiers.synthetic import generate

    with Store.open(db_path) as store:
        generate(store.con, 0, 10_000)
        classify(store.con)
        generate(store.con, 10_000, 10_000)
        result = classify(store.con)
        assert result.new_spans == 10_000
        rules = {r[0] for r in store.con.execute("SELECT DISTINCT rule_id FROM edges").fetchall()}
        labelled = store.con.execute("SELECT count(DISTINCT span_id) FROM span_labels").fetchone()
    assert {"P101", "P303", "P301", "P302", "P201", "P402"} <= rules
    # Server spans (2 of every 10) are no integration and carry no label.
    assert labelled == (16_000,)


def test_refresh_store_of_a_missing_store_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(StoreMissing, match="no store here"):
        refresh_store(tmp_path / "nope.duckdb")
    assert not (tmp_path / "nope.duckdb").exists()


def test_a_server_span_stored_after_its_client_re_resolves_the_call(db_path: Path) -> None:
    # The client's trace has facts stored already: the next run re-reads that trace (and only
    # the traces with something stored), so the call moves from the host to the component.
    f = Fleet()
    web = Service("shortlist-web", "shortlist", "webapp")
    bff = Service("webapp-bff", "shortlist", "bff")
    f.http(web, "http://127.0.0.1:4000/graphql", method="POST", server=bff)
    client = next(s for s in f.spans if s.kind == "CLIENT")
    server = next(s for s in f.spans if s.kind == "SERVER")
    f.dynamodb(ORDERS, "PutItem", "Orders")  # another trace, nothing stored for it yet
    with Store.open(db_path) as store:
        con = store.con
        store.append(f.table([client]), batch_key="b1", source="test")
        first = classify(con)
        targets = "SELECT to_node FROM edges WHERE from_node LIKE '%shortlist-web' ORDER BY 1"
        assert con.execute(targets).fetchall() == [("external:127.0.0.1:4000",)]
        store.append(f.table([server, f.spans[-1]]), batch_key="b2", source="test")
        second = classify(con)
        assert (first.full, second.full, second.new_spans) == (True, False, 2)
        assert con.execute(targets).fetchall() == [("component:shortlist/webapp-bff",)]
        incremental = con.execute("SELECT * FROM span_labels ORDER BY ALL").fetchall()
        edges = con.execute("SELECT * FROM edges ORDER BY edge_id").fetchall()
        state = dict(con.execute("SELECT key, value FROM classifier_state").fetchall())
        assert state["watermark"] == str(second.watermark)
        classify(con, full=True)
        assert con.execute("SELECT * FROM span_labels ORDER BY ALL").fetchall() == incremental
        assert con.execute("SELECT * FROM edges ORDER BY edge_id").fetchall() == edges


def test_labels_made_by_another_catalog_are_made_again(classified: ClassifyFn) -> None:
    """A store labelled by an older rule catalog (same spans, same landscape) is relabelled."""
    f = Fleet()
    f.dynamodb(Service("api", "orders", "backend"), "PutItem", "Orders")
    c = classified(f)
    assert c.rule("orders/api", "Orders") == "P301"
    c.con.execute("UPDATE edges SET rule_id = 'A301', verdict = 'anti-pattern'")
    classify(c.con)
    assert c.rule("orders/api", "Orders") == "A301"  # same catalog: nothing to do
    c.con.execute("UPDATE classifier_state SET value = 'older' WHERE key = 'catalog'")
    classify(c.con)
    assert c.rule("orders/api", "Orders") == "P301"


def test_the_state_is_written_in_place_and_new_keys_are_added() -> None:
    con = duckdb.connect()
    for statement in CLASSIFIER_DDL:
        con.execute(statement)
    _set_state(con, {"watermark": "1", "shape": "a"})
    state = {"watermark": "1", "shape": "a"}
    # Known keys: updated in place, unchanged ones left alone.
    _set_state(con, {"watermark": "2", "shape": "a"}, state)
    assert dict(con.execute("SELECT key, value FROM classifier_state").fetchall()) == {
        "watermark": "2",
        "shape": "a",
    }
    # A key the state did not have is added, with the others.
    _set_state(con, {"watermark": "3", "polling": "p"}, state)
    assert dict(con.execute("SELECT key, value FROM classifier_state").fetchall()) == {
        "watermark": "3",
        "shape": "a",
        "polling": "p",
    }
