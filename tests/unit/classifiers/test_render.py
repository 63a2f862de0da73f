"""Diagrams (`seamscope export`) of a fleet where some services set no service.namespace."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from seamscope.classifiers import read
from seamscope.classifiers.engine import classify
from seamscope.classifiers.render import mermaid, structurizr
from seamscope.tracer.access import open_reader
from seamscope.tracer.store import Store
from tests.unit.classifiers.fleet import partly_placed


@pytest.fixture
def snapshot(tmp_path: Path) -> read.Snapshot:
    # web sets no namespace: its call into orders and shop's call into it cross from or to a
    # system, which is not known; stock, also of no known system, is called by web.
    path = partly_placed().store(tmp_path / "s.duckdb")
    with Store.open(path) as store:
        classify(store.con)
    return open_reader(path).run(read.snapshot)


def test_the_system_diagrams_draw_the_group_of_no_known_system_as_the_tui_does(
    snapshot: read.Snapshot,
) -> None:
    # Those edges were left out (their level is not `system`), so the diagram showed orders
    # and shop with nothing between them and no sign that anything was missing.
    text = mermaid(snapshot, "system")
    group = re.search(r'^    (\S+)\["\? \(no known system\)"\]$', text, re.M)
    assert group is not None, text
    ident = group[1]
    assert re.search(rf'^    {re.escape(ident)} -->\|"rest · unresolved"\| orders$', text, re.M)
    assert re.search(rf'^    shop -->\|"rest · unresolved"\| {re.escape(ident)}$', text, re.M)
    # Unresolved links are dashed, as unclassified ones are.
    assert text.count("stroke-dasharray") == 2
    dsl = structurizr(snapshot, "system")
    assert 'softwareSystem "? (no known system)"' in dsl
    assert len(re.findall(r'-> \S+ "rest" "unresolved"', dsl)) == 2


def test_the_component_diagrams_put_its_components_in_the_group(
    snapshot: read.Snapshot,
) -> None:
    text = mermaid(snapshot, "component")
    group = text.split('["? (no known system)"]', 1)[1].split("    end", 1)[0]
    assert '["web"]' in group and '["stock"]' in group
    dsl = structurizr(snapshot, "component")
    inside = dsl.split('softwareSystem "? (no known system)" {', 1)[1].split("        }", 1)[0]
    assert 'container "web"' in inside and 'container "stock"' in inside
    # Every edge has both ends drawn: web's calls to stock and from shop-web among them.
    assert len(re.findall(r'"rest \(unresolved\)" "unresolved"', dsl)) == 3


def _unowned(tmp_path: Path, *, system: str = "beta") -> read.Snapshot:
    """Two systems write one table (no owner can be inferred), a table one system writes."""
    from tests.unit.classifiers.fleet import Fleet, Service

    f = Fleet()
    alpha, other = Service("a-api", "alpha", "backend"), Service("b-api", system, "backend")
    f.dynamodb(alpha, "PutItem", "Shared")
    f.dynamodb(other, "PutItem", "Shared")
    f.dynamodb(alpha, "PutItem", "Mine")
    path = f.store(tmp_path / "u.duckdb")
    with Store.open(path) as store:
        classify(store.con)
    return open_reader(path).run(read.snapshot)


def test_the_component_diagrams_draw_resources_of_no_known_owner(tmp_path: Path) -> None:
    # Structurizr drew a resource only inside its owner's system: one of no known owner, and
    # every edge to it, were left out, with nothing to say so.
    snapshot = _unowned(tmp_path)
    dsl = structurizr(snapshot, "component")
    group = re.search(r'^        (\S+) = softwareSystem "\(no known owner\)" \{$', dsl, re.M)
    assert group is not None, dsl
    inside = dsl.split(group[0], 1)[1].split("        }", 1)[0]
    assert 'container "Shared"' in inside and 'container "Mine"' not in inside
    assert len(re.findall(r'-> \S+ "dynamodb \(unclassified\)" "unclassified"', dsl)) == 2
    assert re.search(rf"^        container {re.escape(group[1])} \{{$", dsl, re.M)
    text = mermaid(snapshot, "component")
    owned = text.split('["(no known owner)"]', 1)[1].split("    end", 1)[0]
    assert "dynamodb:table/Shared" in owned and "Mine" not in owned


def test_a_system_named_like_the_group_of_no_known_owner_is_a_group_of_its_own(
    tmp_path: Path,
) -> None:
    # The component diagram keyed its groups by name: a system named "(no known owner)" and
    # the resources of no known owner were drawn as one subgraph.
    text = mermaid(_unowned(tmp_path, system="(no known owner)"), "component")
    assert text.count('["(no known owner)"]') == 2, text


@pytest.mark.parametrize("name", ["end", "graph", "style", "click"])
def test_a_system_named_like_a_mermaid_keyword_keeps_the_diagram_whole(
    tmp_path: Path, name: str
) -> None:
    # A system named `end` was drawn as `end["end"]`: Mermaid's parser takes the bare word as
    # its own, and the whole diagram failed ("Parse error on line 2", mermaid 11).
    from tests.unit.classifiers.fleet import Fleet, Service

    f = Fleet()
    f.http(
        Service("web", "shop", "backend"),
        "http://api:8080/x",
        server=Service("api", name, "backend"),
    )
    path = f.store(tmp_path / "k.duckdb")
    with Store.open(path) as store:
        classify(store.con)
    text = mermaid(open_reader(path).run(read.snapshot), "system")
    ids = re.findall(r'^    (\S+)\["' + re.escape(name) + r'"\]$', text, re.M)
    assert len(ids) == 1, text
    assert ids[0].lower() != name.lower() and ids[0].startswith(f"{name}_")
    arrows = [line.split() for line in text.splitlines() if "-->" in line]
    assert all(name not in (words[0], words[-1]) for words in arrows)
