"""Renderers: findings and the landscape as text, JSON, SARIF, JUnit, Mermaid, Structurizr.

Pure functions from plain data to strings; the commands print them.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections import defaultdict
from collections.abc import Collection, Sequence
from typing import Any
from xml.sax.saxutils import escape, quoteattr

from seamscope.classifiers.catalog import RULES, RULES_BY_ID
from seamscope.classifiers.read import UNPLACED, Snapshot
from seamscope.classifiers.results import Finding, Node, Verdict
from seamscope.tracer.terminal import plural, safe

# ---- findings ---------------------------------------------------------------------------------


def findings_text(
    new: list[Finding],
    known: list[Finding],
    gone: list[dict[str, Any]],
    unresolved: Sequence[Finding] = (),
) -> str:
    lines: list[str] = []
    for title, items in (("New", new), ("Known (in the baseline)", known)):
        if not items:
            continue
        lines.append(f"{title}: {len(items)}")
        for f in items:
            e = f.edge
            lines.append(
                f"  {e.rule_id} {e.verdict:<12} {f.source} -> {f.target} "
                f"[{e.mechanism}, {e.level}, {plural(e.span_count, 'span')}]"
            )
            lines.append(f"      why: {e.reason}")
            if f.fix:
                lines.append(f"      fix: {f.fix}")
            if e.sample_trace_id:
                lines.append(f"      trace: {e.sample_trace_id}")
    if gone:
        lines.append(f"No longer seen (remove from the baseline): {len(gone)}")
        for g in gone:
            lines.append(f"  {g['rule_id']} {g['from']} -> {g['to']} [{g['mechanism']}]")
    if not lines:
        lines.append("No findings.")
    if unresolved:
        lines.append(f"Unresolved (no finding, a fact is missing): {len(unresolved)}")
        for f in unresolved:
            e = f.edge
            lines.append(
                f"  {f.source} -> {f.target} [{e.mechanism}, {plural(e.span_count, 'span')}]"
            )
            lines.append(f"      why: {e.reason}")
    return "\n".join(lines)


def findings_json(
    new: list[Finding],
    known: list[Finding],
    gone: list[dict[str, Any]],
    unresolved: Sequence[Finding] = (),
) -> str:
    return json.dumps(
        {
            "findings": [f.as_json() for f in new + known],
            "new": len(new),
            "known": len(known),
            "no_longer_seen": gone,
            "unresolved": [f.as_json() for f in unresolved],
        },
        indent=2,
        default=str,
    )


def findings_sarif(new: list[Finding], known: list[Finding]) -> str:
    rules = [
        {
            "id": r.id,
            "name": r.name,
            "shortDescription": {"text": r.summary},
            "fullDescription": {"text": r.rationale},
            "help": {"text": f"Do instead: {r.fix}"},
            "properties": {"verdict": r.verdict, "level": r.level, "guideline": r.section},
        }
        for r in RULES
        if r.verdict.is_finding
    ]
    results = []
    for f, baseline in [(f, False) for f in new] + [(f, True) for f in known]:
        e = f.edge
        results.append(
            {
                "ruleId": e.rule_id,
                "level": "error" if e.verdict is Verdict.ANTI_PATTERN else "warning",
                "baselineState": "unchanged" if baseline else "new",
                "message": {"text": f"{f.source} -> {f.target} ({e.mechanism}): {e.reason}"},
                "locations": [
                    {
                        "logicalLocations": [
                            {"fullyQualifiedName": f"{f.source} -> {f.target}", "kind": "edge"}
                        ]
                    }
                ],
                "partialFingerprints": {"seamscopeEdge": e.edge_id},
                "properties": {
                    "spanCount": e.span_count,
                    "sampleTraceId": e.sample_trace_id,
                    "fix": f.fix,
                },
            }
        )
    return json.dumps(
        {
            "$schema": "https://json.schemastore.org/sarif-2.1.0.json",
            "version": "2.1.0",
            "runs": [
                {
                    "tool": {
                        "driver": {
                            "name": "seamscope",
                            "informationUri": "https://github.com/seamscope/seamscope",
                            "rules": rules,
                        }
                    },
                    "results": results,
                }
            ],
        },
        indent=2,
    )


def findings_junit(new: list[Finding], known: list[Finding], failing: Collection[Verdict]) -> str:
    cases: list[str] = []
    failures = 0
    for f in new + known:
        e = f.edge
        # Names come from the spans' resources; XML 1.0 has no place for control characters.
        name = quoteattr(safe(f"{e.rule_id} {f.source} -> {f.target} [{e.mechanism}]"))
        body = ""
        if f in new and e.verdict in failing:
            failures += 1
            message = quoteattr(f"{e.rule_id} {RULES_BY_ID[e.rule_id].name}")
            text = escape(
                safe(f"{e.reason}\nDo instead: {f.fix}\nTrace: {e.sample_trace_id}", lines=True)
            )
            body = f"<failure message={message} type={quoteattr(e.verdict)}>{text}</failure>"
        cases.append(f'    <testcase classname="seamscope.{e.level}" name={name}>{body}</testcase>')
    return (
        '<?xml version="1.0" encoding="UTF-8"?>\n'
        f'<testsuite name="seamscope check" tests="{len(cases)}" failures="{failures}">\n'
        + "\n".join(cases)
        + ("\n" if cases else "")
        + "</testsuite>\n"
    )


# ---- diagrams ---------------------------------------------------------------------------------


_KEYWORDS = frozenset(
    "end graph flowchart subgraph style class classdef click linkstyle direction default call "
    "href callback".split()
)
"""Words Mermaid's flowchart parser takes as its own wherever an id stands: a system named `end`
broke the whole diagram ("Parse error on line 2"). Structurizr's ids carry a prefix."""


def _ident(text: str) -> str:
    """A diagram identifier for text, distinct for distinct texts: "orders-api" and "orders.api"
    would both be orders_api, and the diagram would draw them as one box; a keyword of
    Mermaid's is never an id as it is."""
    plain = re.sub(r"[^A-Za-z0-9_]", "_", text)
    if plain == text and text.lower() not in _KEYWORDS:
        return plain
    return f"{plain}_{hashlib.blake2s(text.encode(), digest_size=4).hexdigest()}"


def _label(text: str) -> str:
    """A name in a diagram's quotes: control characters escaped (names come from the spans'
    resources, and a diagram is often printed to a terminal)."""
    return safe(text).replace('"', "'")


def _system_edges(snapshot: Snapshot) -> dict[tuple[str, str], dict[str, Any]]:
    """Edges between systems (and vendors, and the group UNPLACED, as the TUI shows it):
    (from, to) -> mechanisms, worst verdict."""
    merged: dict[tuple[str, str], dict[str, Any]] = {}
    for e in snapshot.edges:
        if e.level not in ("system", "external", "unknown"):
            continue
        a = _system_of(snapshot, e.from_node, e.from_system)
        b = _system_of(snapshot, e.to_node, e.to_system)
        if a is None or b is None or a == b:
            continue
        entry = merged.setdefault(
            (a, b), {"mechanisms": set(), "verdict": Verdict.PATTERN, "rules": set()}
        )
        entry["mechanisms"].add(e.mechanism)
        entry["rules"].add(e.rule_id)
        if e.verdict.rank < entry["verdict"].rank:
            entry["verdict"] = e.verdict
    return merged


def _system_of(snapshot: Snapshot, node_id: str, system: str | None) -> str | None:
    node = snapshot.nodes.get(node_id)
    if node is not None and node.node_type == "external":
        return f"vendor:{node.name}"
    return _shown_system(node) if node is not None else system


def _shown_system(node: Node) -> str | None:
    """A node's system as diagrams draw it: UNPLACED for a component of no known system (a
    group of its own, as in the TUI); None for a resource of no known owner."""
    if node.system is None and node.node_type == "component":
        return UNPLACED
    return node.system


def _system_label(system: str) -> str:
    return f"{system} (no known system)" if system == UNPLACED else system


UNOWNED_LABEL = "(no known owner)"
"""The group the component diagrams draw resources of no known owner in. It is no system: it is
keyed apart from them (a system may have any name, this one too)."""


# Diagrams draw a finding's link in the verdict's colour (CSS, as Mermaid takes it).
_LINK_STYLE = {
    Verdict.ANTI_PATTERN: "stroke:#d33,stroke-width:2px",
    Verdict.SMELL: "stroke:#d90,stroke-width:2px",
    Verdict.UNCLASSIFIED: "stroke:#888,stroke-dasharray:4",
    Verdict.UNRESOLVED: "stroke:#888,stroke-dasharray:4",
}


def mermaid(snapshot: Snapshot, level: str) -> str:
    lines = ["flowchart LR"]
    links: list[Verdict] = []
    if level == "system":
        merged = _system_edges(snapshot)
        names = sorted({n for pair in merged for n in pair})
        for name in names:
            if name.startswith("vendor:"):
                lines.append(f'    {_ident(name)}[/"{_label(name[7:])} (vendor)"/]')
            else:
                lines.append(f'    {_ident(name)}["{_label(_system_label(name))}"]')
        for (a, b), entry in sorted(merged.items()):
            label = (
                ", ".join(sorted(entry["mechanisms"])) + " · " + ", ".join(sorted(entry["rules"]))
            )
            lines.append(f'    {_ident(a)} -->|"{_label(label)}"| {_ident(b)}')
            links.append(entry["verdict"])
    else:
        # Keyed (kind, name), so that no system's name is taken for the vendors' or the
        # unowned resources' group: ("system", name), ("vendors", ""), ("unowned", "").
        by_group: dict[tuple[str, str], list[Node]] = defaultdict(list)
        for node in snapshot.nodes.values():
            if node.node_type == "external":
                by_group[("vendors", "")].append(node)
            elif (system := _shown_system(node)) is not None:
                by_group[("system", system)].append(node)
            else:
                by_group[("unowned", "")].append(node)
        titles = {("vendors", ""): "(vendors)", ("unowned", ""): UNOWNED_LABEL}
        for group in sorted(by_group):
            kind, system = group
            ident = _ident(f"sys_{system}") if kind == "system" else kind
            title = titles.get(group) or _system_label(system)
            lines.append(f'    subgraph {ident}["{_label(title)}"]')
            for node in sorted(by_group[group], key=lambda n: n.node_id):
                shape = ("[(", ")]") if node.node_type == "resource" else ("[", "]")
                text = _label(node.name if node.node_type != "resource" else node.node_id)
                lines.append(f'        {_ident(node.node_id)}{shape[0]}"{text}"{shape[1]}')
            lines.append("    end")
        for e in snapshot.edges:
            label = f"{e.mechanism} · {e.rule_id}"
            arrow = "-.->" if e.direction == "listen" else "-->"
            lines.append(
                f'    {_ident(e.from_node)} {arrow}|"{_label(label)}"| {_ident(e.to_node)}'
            )
            links.append(e.verdict)
    for i, verdict in enumerate(links):
        if verdict in _LINK_STYLE:
            lines.append(f"    linkStyle {i} {_LINK_STYLE[verdict]}")
    return "\n".join(lines) + "\n"


def structurizr(snapshot: Snapshot, level: str) -> str:
    """Structurizr DSL: systems (and vendors) as software systems, components as containers."""
    systems: dict[str, list[Node]] = defaultdict(list)
    vendors: list[Node] = []
    unowned: list[Node] = []
    for node in snapshot.nodes.values():
        if node.node_type == "external":
            vendors.append(node)
        elif (system := _shown_system(node)) is not None:
            systems[system].append(node)
        else:
            unowned.append(node)
    # The component view draws the resources of no known owner too, in a software system of
    # their own ("u_" names no system's: theirs are "s_"); the system view has no edge to them
    # (an edge to a resource of no known owner stays inside its component's system).
    groups = [(_ident("s_" + s), _system_label(s), systems[s]) for s in sorted(systems)]
    if level == "component" and unowned:
        groups.append((_ident("u_unowned"), UNOWNED_LABEL, unowned))
    out = ["workspace {", "    model {"]
    for ident, title, members in groups:
        out.append(f'        {ident} = softwareSystem "{_label(title)}" {{')
        if level == "component":
            for node in sorted(members, key=lambda n: n.node_id):
                tech = node.role or node.resource_kind or ""
                tags = "Resource" if node.node_type == "resource" else (node.role or "")
                out.append(
                    f"            {_ident('c_' + node.node_id)} = container "
                    f'"{_label(node.name)}" "" "{_label(tech)}" "{_label(tags)}"'
                )
        out.append("        }")
    for node in sorted(vendors, key=lambda n: n.node_id):
        out.append(
            f'        {_ident("v_" + node.name)} = softwareSystem "{_label(node.name)}" '
            '"" "External"'
        )
    if level == "system":
        for (a, b), entry in sorted(_system_edges(snapshot).items()):
            src = _ident("v_" + a[7:]) if a.startswith("vendor:") else _ident("s_" + a)
            dst = _ident("v_" + b[7:]) if b.startswith("vendor:") else _ident("s_" + b)
            label = ", ".join(sorted(entry["mechanisms"]))
            out.append(f'        {src} -> {dst} "{_label(label)}" "{entry["verdict"]}"')
    else:
        for e in snapshot.edges:
            ends = []
            for node_id in (e.from_node, e.to_node):
                found = snapshot.nodes.get(node_id)
                if found is not None and found.node_type == "external":
                    ends.append(_ident("v_" + found.name))
                elif found is not None:
                    ends.append(_ident("c_" + node_id))
                else:
                    ends.append("")
            if all(ends):
                out.append(
                    f'        {ends[0]} -> {ends[1]} "{e.mechanism} ({e.rule_id})" "{e.verdict}"'
                )
    out += ["    }", "    views {"]
    if level == "system":
        out += [
            "        systemLandscape {",
            "            include *",
            "            autoLayout lr",
            "        }",
        ]
    else:
        for ident, _title, _members in groups:
            out += [
                f"        container {ident} {{",
                "            include *",
                "            autoLayout lr",
                "        }",
            ]
    out += [
        "        styles {",
        '            element "External" {',
        "                background #999999",
        "            }",
        "        }",
        "    }",
        "}",
    ]
    return "\n".join(out) + "\n"
