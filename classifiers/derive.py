"""The upper layer: nodes, edges and rule verdicts from the stored aggregates.

Reads only small tables (groups of integration facts, the host map, components, handling pairs,
job runs), so it runs in full on every classification and after every landscape change.
"""

from __future__ import annotations

import fnmatch
import hashlib
import ipaddress
import json
import re
from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any, NamedTuple

import duckdb
import pyarrow as pa

from seamscope.classifiers.catalog import UNRULED_MECHANISMS, evaluate, polling_reason
from seamscope.classifiers.facts import SCAN_OPS
from seamscope.classifiers.joins import Draft, Drafts, Listening, Route
from seamscope.classifiers.landscape import ROLES, Landscape, Vendor
from seamscope.classifiers.mechanisms import (
    DYNAMODB,
    EVENTBRIDGE,
    FACT_KIND,
    GRAPHQL,
    HTTP_EXTERNAL,
    MECHANISM,
    REST,
    TABLE,
    UNNAMED,
    Ownership,
    Resource,
    Side,
)
from seamscope.classifiers.model import EdgeFacts, Handling, Polling
from seamscope.classifiers.names import entity, event_words
from seamscope.classifiers.results import NO_SYSTEM, Edge, Evidence, Node, to_arrow
from seamscope.tracer.sources import FUNCTION_ATTRIBUTES, TABLE_ATTRIBUTES

# A job is "steady" when its run intervals vary by at most this coefficient of variation.
STEADY_CV = 0.35
MIN_RUNS = 3
_BFF_NAME = re.compile(r"(^|[-_.])bff($|[-_.])|backend-for-frontend", re.IGNORECASE)
_DEFAULT_PORTS = (80, 443)
_LOOPBACK = re.compile(r"^(localhost|127\.\d+\.\d+\.\d+|\[?::1\]?|0\.0\.0\.0)$")
# Names that resolve only inside a private network: Kubernetes (svc, svc.cluster.local), AWS
# (ec2.internal, compute.internal), mDNS, Consul, home and office networks.
_INTERNAL_SUFFIXES = (
    ".local",
    ".localhost",
    ".internal",
    ".svc",
    ".lan",
    ".home.arpa",
    ".intranet",
    ".corp",
    ".consul",
)
_SHARED_SPACE = ipaddress.ip_network("100.64.0.0/10")  # carrier-grade NAT (RFC 6598)
_HIST_BASE = 1.1


def _distinct(comps: Iterable[tuple[str, str]]) -> list[tuple[str, str]]:
    return list(dict.fromkeys(comps))


def _authority(host: str, port: int) -> str:
    """`host:port`, an IPv6 address in brackets (`[::1]:8080`), as a URL writes it."""
    return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"


def private_host(host: str) -> str | None:
    """What makes `host` an address or name of a private network ("a loopback address", "a
    private address", "a name without a domain", "an internal name"), or None for a host that
    may be anyone's on the internet.

    A call to such a host that no traced server answered is as likely a service of our own
    without tracing (`http://inventory-api:8080` in a cluster) as a vendor's API, so it is not
    taken as a vendor unless the landscape file declares it one.
    """
    name = host.strip().rstrip(".").lower()
    try:
        ip = ipaddress.ip_address(name.strip("[]"))
    except ValueError:
        if name == "localhost" or name.endswith(".localhost"):
            return "a loopback name"
        if name and "." not in name:
            return "a name without a domain"
        if name.endswith(_INTERNAL_SUFFIXES):
            return "an internal name"
        return None
    if ip.is_loopback:
        return "a loopback address"
    if ip.is_private or ip.is_link_local or ip.is_unspecified or ip in _SHARED_SPACE:
        return "a private address"
    return None


@dataclass(slots=True)
class Group:
    gkey: int
    svc: str | None
    ns: str | None
    role: str | None
    fkind: str
    target: str
    callee_svc: str | None
    callee_ns: str | None
    op: str | None
    is_write: bool
    n: int
    errors: int
    first_seen: datetime | None
    last_seen: datetime | None
    sample_trace_id: str | None


def edge_id(source: str, target: str, mechanism: str, direction: str) -> str:
    raw = "\x1f".join((source, target, mechanism, direction)).encode()
    return hashlib.sha1(raw).hexdigest()[:16]


def load_groups(con: duckdb.DuckDBPyConnection) -> dict[int, Group]:
    """The integration groups with at least one span."""
    return {
        int(r[0]): Group(
            int(r[0]),
            r[1],
            r[2],
            r[3],
            r[4],
            r[5],
            r[6],
            r[7],
            r[8],
            bool(r[9]),
            int(r[10]),
            int(r[11]),
            r[12],
            r[13],
            r[14],
        )
        for r in con.execute(
            "SELECT gkey, svc, ns, role, fkind, target, callee_svc, callee_ns, op, "
            "coalesce(is_write, false), n, errors, first_seen, last_seen, sample_trace_id "
            "FROM classifier_groups WHERE n > 0 AND fkind IS NOT NULL"
        ).fetchall()
    }


UNKNOWN_SERVICE = "unknown-service"
"""The component of spans whose resource names no service (no service.name)."""


def unnamed_service(name: str | None) -> bool:
    """Whether a service.name names no one service: unset, or the default an SDK must give a
    service that sets none (`unknown_service`, or `unknown_service:` and the executable's name,
    as the resource conventions say), which every such service shares."""
    return not name or name == "unknown_service" or name.startswith("unknown_service:")


class World:
    """Resolves raw facts to nodes with the landscape and what the spans taught."""

    def __init__(self, con: duckdb.DuckDBPyConnection, landscape: Landscape) -> None:
        self.land = landscape
        self.groups = load_groups(con)
        # consumer group -> (producer group, how: trace | link), from the spans
        self.joins: dict[int, list[tuple[int, str]]] = defaultdict(list)
        for cons, prod, how in con.execute(
            "SELECT cons_gkey, prod_gkey, how FROM classifier_joins ORDER BY ALL"
        ).fetchall():
            self.joins[int(cons)].append((int(prod), str(how)))
        self.roles: dict[tuple[str, str], dict[str, int]] = defaultdict(dict)
        for svc, ns, role, n in con.execute(
            "SELECT svc, ns, role, n FROM classifier_components"
        ).fetchall():
            self.roles[(svc, ns)][role] = self.roles[(svc, ns)].get(role, 0) + int(n)
        self.aws_hosts: set[tuple[str, int]] = set()
        servers: dict[tuple[str, int], dict[tuple[str, str], int]] = defaultdict(dict)
        for host, port, hkind, svc, ns, n in con.execute(
            "SELECT host, port, hkind, svc, ns, n FROM classifier_hosts"
        ).fetchall():
            if hkind == "aws":
                self.aws_hosts.add((host, int(port)))
            else:
                # A server whose spans name no service ('') is still a traced component there.
                servers[(host, int(port))][(svc, ns)] = int(n)
        # (host, port) -> the components whose server spans name it, most spans first
        self.servers = {k: sorted(v, key=lambda comp: (-v[comp], comp)) for k, v in servers.items()}
        self.nodes: dict[str, Node] = {}
        # node id of a host taken for no vendor -> why it is a private one (private_host)
        self.private: dict[str, str] = {}
        # node id of a host that several components serve -> which (shared_host)
        self.shared: dict[str, str] = {}
        # node id of a host called at a port no server span names, where server spans name it
        # at others -> which (http_target)
        self.other_port: dict[str, str] = {}
        # node id -> what its spans say of its role, where they disagree (_disputed_role)
        self.disputed_roles: dict[str, str] = {}
        self._owners: dict[tuple[str, str], tuple[str | None, bool, str | None]] = {}
        self._components: dict[tuple[str | None, str | None], Node] = {}
        self._infer_owners()

    # --- components ---------------------------------------------------------------------

    def component(self, svc: str | None, ns: str | None) -> Node:
        """The node of a traced service (asked once per group and edge: remembered)."""
        svc = svc or None  # no service.name: NULL in the spans, '' for a traced callee
        known = self._components.get((svc, ns))
        if known is None:
            known = self._components[(svc, ns)] = self._component(svc, ns)
        return known

    def _component(self, svc: str | None, ns: str | None) -> Node:
        name = svc or UNKNOWN_SERVICE
        vendor = self.land.vendor_for_component(name)
        if vendor is not None:
            return self._add(
                Node(
                    f"external:{vendor.name}",
                    "external",
                    vendor.name,
                    None,
                    inferred=False,
                    inference=f"traced service {name} stands for vendor {vendor.name}",
                )
            )
        declared = self.land.components.get(name)
        notes: list[str] = []
        inferred = False
        if not svc:
            inferred = True
            notes.append("no service.name: the component is unknown (set OTEL_SERVICE_NAME)")
        roles = self.roles.get((name, ns or ""), {})
        # The group of components of no known system is shown under NO_SYSTEM: a system of that
        # name could not be told from it, nor its components from theirs.
        refused = ns == NO_SYSTEM
        if refused:
            ns = None
        system = ns or (declared[0] if declared else None)
        if not ns:
            if declared:
                notes.append("system from the landscape file")
            else:
                inferred = True
                notes.append(
                    f"service.namespace is '{NO_SYSTEM}', the name seamscope shows for "
                    "components of no known system: taken as none (set another namespace)"
                    if refused
                    else "no service.namespace and not in the landscape file: system unknown"
                )
        span_roles = sorted(((n, r) for r, n in roles.items() if r in ROLES), reverse=True)
        # A seamscope.role none of the roles (a typo, "frontend", "BFF") decides nothing: said,
        # not passed over.
        unknown = sorted(r for r in roles if r and r not in ROLES)
        if unknown:
            inferred = True
            said = ", ".join(repr(r) for r in unknown)
            notes.append(
                f"seamscope.role {said} is none of {', '.join(ROLES)}: ignored (set one of "
                "those, or declare the role in the landscape file)"
            )
        if span_roles:
            role = span_roles[0][1]
            if len(span_roles) > 1:
                inferred = True
                disputed = _disputed_role(span_roles)
                self.disputed_roles[f"component:{system or NO_SYSTEM}/{name}"] = _disputed_role(
                    span_roles, counts=False
                )
                notes.append(
                    f"{disputed} (set one seamscope.role on every instance, or declare the "
                    "role in the landscape file and drop the attribute)"
                )
        elif declared and declared[1]:
            role = declared[1]
            notes.append("role from the landscape file")
        else:
            role = "backend"
            inferred = True
            if _BFF_NAME.search(name):
                notes.append(
                    "named like a BFF but not declared one: assumed backend "
                    "(set seamscope.role=bff or declare it in the landscape file)"
                )
            elif unknown:
                notes.append(
                    "no other seamscope.role and not in the landscape file: assumed backend"
                )
            else:
                notes.append("no seamscope.role and not in the landscape file: assumed backend")
        return self._add(
            Node(
                f"component:{system or NO_SYSTEM}/{name}",
                "component",
                name,
                system,
                role=role,
                inferred=inferred,
                inference="; ".join(notes) or None,
            )
        )

    def _add(self, node: Node) -> Node:
        self.nodes.setdefault(node.node_id, node)
        return self.nodes[node.node_id]

    # --- resources and owners -----------------------------------------------------------

    def _infer_owners(self) -> None:
        writers: dict[tuple[str, str], set[str | None]] = defaultdict(set)
        consumers: dict[tuple[str, str], set[str | None]] = defaultdict(set)
        # The components of no known system behind a None above, by name: a reason names them.
        unplaced: dict[tuple[str, str, str], set[str]] = defaultdict(set)
        for g in self.groups.values():
            comp = self.component(g.svc, g.ns)
            if comp.node_type != "component":
                continue
            kind = FACT_KIND[g.fkind]
            resource = kind.mechanism.resource
            if kind.ownership is None or resource is None:
                continue
            name = kind.resource_name(g.target)
            if name == UNNAMED:
                continue  # no span names it: it has no owner either
            key = (resource.owners, name)
            if kind.ownership is Ownership.READ:
                how = "read"
                consumers[key].add(comp.system)
            elif g.is_write:
                how = "written"
                writers[key].add(comp.system)
            else:
                continue
            if comp.system is None:
                unplaced[(*key, how)].add(comp.name)
        for key in sorted(set(writers) | set(consumers)):
            if consumers.get(key):  # a queue is its consumer's
                found, how = consumers[key], "read"
            else:
                found, how = writers.get(key, set()), "written"
            known = sorted(s for s in found if s)
            if len(found) == 1 and known:
                (owner,) = known
                self._owners[key] = (owner, True, f"{how} only by system {owner}")
            elif None in found:
                # A component of no known system may be the known one's or another's: the owner
                # stays unknown, and the reason says which component to place, and how.
                names = sorted(unplaced[(*key, how)])
                whose = "whose system is" if len(names) == 1 else "whose systems are"
                them = f"{', '.join(names)}, {whose} unknown ({_placing(names)})"
                by = ("systems " if len(known) > 1 else "system ") + ", ".join(known)
                self._owners[key] = (
                    None,
                    False,
                    f"{how} by {by} and by {them}" if known else f"{how} only by {them}",
                )
            else:  # two or more systems, all known
                listed = ", ".join(known)
                self._owners[key] = (None, False, f"{how} by several systems ({listed})")

    def tables_written_by(self, system: str | None) -> list[str]:
        """The tables the spans show written only by system, by name."""
        return sorted(
            name
            for (kind, name), (owner, known, _how) in self._owners.items()
            if kind == TABLE.owners and known and owner == system
        )

    def owner(self, kind: str, name: str) -> tuple[str | None, bool, bool, str | None]:
        """(system, known, inferred, inference) of a resource; the inference is None where
        neither the landscape nor the spans tell anything of its owner."""
        declared = self.land.owner(kind, name)
        if declared:
            return declared, True, False, None
        system, known, how = self._owners.get((kind, name), (None, False, None))
        return (system, True, True, how) if known else (None, False, True, how)

    def resource(self, resource: Resource, name: str) -> Node:
        """The node of an AWS resource, with its owner."""
        system, _known, inferred, how = self.owner(resource.owners, name)
        how = how or (
            f"owner unknown: no span shows the one system that owns it; declare it under "
            f"[owners.{resource.owners}] in the landscape file"
        )
        return self._add(
            Node(
                resource.node_id(name),
                "resource",
                name,
                system,
                resource_kind=resource.kind,
                inferred=inferred,
                inference=how if inferred else None,
            )
        )

    def note(self, node_id: str, text: str) -> None:
        """Adds to what the node says of how it was inferred."""
        node = self.nodes.get(node_id)
        if node is not None:
            inference = f"{node.inference}; {text}" if node.inference else text
            self.nodes[node_id] = replace(node, inference=inference)

    def unknown_host(self, end: Node) -> Node:
        """Where an HTTP call of `end` went when its span names no host."""
        return self._add(
            Node(
                f"external:{UNNAMED}/{end.label}",
                "external",
                UNNAMED,
                None,
                inferred=True,
                inference=f"no span of {end.label} names the host",
            )
        )

    def unnamed(self, resource: Resource, end: Node) -> Node:
        """The resource no span of `end` names: one node per component, so that it never joins
        two of them."""
        return self._add(
            Node(
                f"{resource.prefix}{UNNAMED}/{end.label}",
                "resource",
                UNNAMED,
                None,
                resource_kind=resource.kind,
                inferred=True,
                inference=f"no span of {end.label} names it",
            )
        )

    def vendor(self, vendor: Vendor) -> Node:
        return self._add(Node(f"external:{vendor.name}", "external", vendor.name, None))

    def external(self, host: str, port: int | None) -> Node:
        vendor = self.land.vendor_for_host(host, port)
        if vendor is not None:
            return self.vendor(vendor)
        label = _authority(host, port) if port is not None and _LOOPBACK.match(host) else host
        why = private_host(host)
        if why is not None:
            self.private[f"external:{label}"] = why
        return self._add(
            Node(
                f"external:{label}",
                "external",
                label,
                None,
                inferred=True,
                inference=(
                    f"host {label} is no traced component and not AWS: taken as a vendor"
                    if why is None
                    else f"host {label} is no traced component and not AWS, but {why}: a "
                    "service of ours without tracing or a vendor, unknown"
                ),
            )
        )

    # --- HTTP callee ----------------------------------------------------------------------

    def http_target(self, g: Group) -> Node | None:
        """The callee of an HTTP group, or None when it only carries an AWS SDK call."""
        if g.callee_svc is not None:
            return self.component(g.callee_svc, g.callee_ns)
        host, _, port_s = g.target.rpartition(":")
        port = int(port_s) if port_s.lstrip("-").isdigit() else None
        key_port = port if port is not None else -1
        # A client that records the default port (Node, .NET) calls the server that records
        # none (Go's otelhttp leaves out 80 and 443, on both sides).
        keys = [(host, key_port), (host, -1)] if port in _DEFAULT_PORTS else [(host, key_port)]
        if any(key in self.aws_hosts for key in keys):
            return None
        served = next((self.servers[key] for key in keys if key in self.servers), [])
        if not served and port is not None and _LOOPBACK.match(host):
            aliases = ("localhost", "127.0.0.1", "::1", "[::1]")
            served = _distinct(c for a in aliases for c in self.servers.get((a, port), ()))
        # A call to no port or the default one, of a host no server span names at it, went to
        # the server that names that host at another port: the port of its socket behind a
        # service port or a proxy (a WSGI server's SERVER_PORT) is what its spans say.
        if not served and (port is None or (port in _DEFAULT_PORTS and not _LOOPBACK.match(host))):
            served = _distinct(c for (h, _p), cs in self.servers.items() if h == host for c in cs)
        if self.land.vendor_for_host(host, port) is not None or not served:
            node = self.external(host, port)
            if port is not None and not _LOOPBACK.match(host):
                self._note_other_ports(node, host, port)
            return node
        if len(served) == 1:
            return self.component(*served[0])
        return self.shared_host(host, port, served)

    def _note_other_ports(self, node: Node, host: str, port: int) -> None:
        """Where server spans name `host` at other ports than the one called: a server that
        records the port of its socket (a WSGI server's SERVER_PORT) behind a service port or a
        proxy, or another service on that host. No vendor's, but which one is unknown."""
        elsewhere = sorted(
            (p, comp)
            for (h, p), comps in self.servers.items()
            if h == host and p not in (port, -1)
            for comp in comps
        )
        if not elsewhere or self.land.vendor_for_host(host, port) is not None:
            return
        names = ", ".join(sorted({self.component(*comp).label for _p, comp in elsewhere}))
        ports = ", ".join(str(p) for p in sorted({p for p, _c in elsewhere}))
        self.other_port[node.node_id] = (
            f"server spans of {names} name host {host} at another port ({ports}): the port of "
            "their own socket behind a service port or a proxy (a WSGI server's SERVER_PORT), "
            "or another service on that host"
        )
        # Not a vendor's host, as the node's inference said: one of ours.
        self.nodes[node.node_id] = replace(
            node,
            inference=f"host {node.name} is called at port {port}, where no traced server "
            f"answered; {self.other_port[node.node_id]}",
        )

    def shared_host(self, host: str, port: int | None, served: list[tuple[str, str]]) -> Node:
        """Where a call went whose server span is not in its trace, to a host and port that
        several components serve (an ingress or gateway in front of them, one port reused):
        which of them answered is not known."""
        label = _authority(host, port) if port is not None else host
        names = ", ".join(sorted(self.component(*comp).label for comp in served))
        node_id = f"external:{label}"
        self.shared[node_id] = f"served by several traced components ({names})"
        return self._add(
            Node(
                node_id,
                "external",
                label,
                None,
                inferred=True,
                inference=f"host {label} is served by several traced components ({names})",
            )
        )

    def host_unknown(self, caller: Node, target: Node) -> str | None:
        """Why an HTTP call to `target` reached no known end: a host that several components
        serve (shared_host), or a private one taken for no vendor (external); else None."""
        shared = self.shared.get(target.node_id)
        if shared is not None:
            return (
                f"{caller.label} calls {target.name}, {shared}, and no server span answers the "
                "call in its trace: which of them it reached, and with it the rule, is unknown "
                "(propagate the trace context to them, as the stock instrumentations do)"
            )
        other = self.other_port.get(target.node_id)
        if other is not None:
            return (
                f"{caller.label} calls {target.name} over HTTP and no server span answers the "
                f"call in its trace; {other}: which one answered, and with it the rule, is "
                "unknown (propagate the trace context to it)"
            )
        why = self.private.get(target.node_id)
        if why is not None:
            return (
                f"{caller.label} calls {target.name} over HTTP, {why} that no traced server "
                "answered and no vendor of the landscape file matches, and no server span names "
                "it as the host it was called at (server.address, net.host.name, http.host, "
                "the host of http.url, or the Host header captured as "
                "http.request.header.host; python-contrib's ASGI under the stable HTTP "
                "conventions names its socket's address instead, and names the called host "
                "only with OTEL_INSTRUMENTATION_HTTP_CAPTURE_HEADERS_SERVER_REQUEST=host): a "
                "service of ours without tracing or a vendor's "
                "API, which decides the rule, is unknown (trace the service behind it or "
                "propagate the trace context to it, or declare the vendor: "
                f'hosts = ["{target.name}"] under [vendors.NAME])'
            )
        return None

    def call_target(self, g: Group) -> tuple[Node, str, tuple[str, str] | None] | None:
        """(target node, mechanism, (owner kind, name)) of a call group, None when no edge."""
        kind = FACT_KIND[g.fkind]
        if kind.side is not Side.CALL:
            return None
        resource = kind.mechanism.resource
        if resource is None:  # HTTP: a traced component or a vendor
            node = self.http_target(g)
            if node is None:
                return None
            if node.node_type == "external" and node.node_id not in self.shared:
                return node, HTTP_EXTERNAL.name, None
            return node, kind.mechanism.name, None
        return (
            self.resource(resource, g.target),
            kind.mechanism.name,
            (resource.owners, g.target),
        )


def _disputed_role(span_roles: Sequence[tuple[int, str]], counts: bool = True) -> str:
    """What the spans of a component say of its role when they disagree (span_roles: (spans,
    role), most first): the most common is taken. With counts, how many spans said each (the
    node's inference); without, the roles alone (an edge's reason, which stays the same as spans
    arrive)."""
    said = ", ".join(
        f"{role} ({n} span{'' if n == 1 else 's'})" if counts else role for n, role in span_roles
    )
    return f"its spans disagree on seamscope.role ({said}): taken as {span_roles[0][1]}"


def _placing(names: Sequence[str]) -> str:
    """How to give the components named a system."""
    if UNKNOWN_SERVICE in names:
        return "set OTEL_SERVICE_NAME and service.namespace"
    return "set service.namespace or declare the component in the landscape file"


def _unplaced(a: Node, b: Node) -> str | None:
    """Why the level of an edge between a and b is unknown, if it is: an end is a component of
    no known system, so whether the edge stays inside one system or crosses two (which decides
    its rule) is not known. Two such components are not assumed to share a system."""
    if a.node_type == "external" or b.node_type == "external" or a.node_id == b.node_id:
        return None
    names = sorted({n.name for n in (a, b) if n.node_type == "component" and n.system is None})
    if not names:
        return None
    noun, verb = ("system", "is") if len(names) == 1 else ("systems", "are")
    which = f"the {noun} of {' and '.join(names)} {verb}"
    return (
        f"{which} unknown ({_placing(names)}): whether the edge stays inside one system or "
        "crosses two decides its rule"
    )


def _level(a: Node, b: Node) -> str:
    """`external` to or from a vendor; inside a component, or between two of one system,
    `component`; between two systems `system`; and `unknown` where an end's system is not known
    (a component of no known system, a resource of no known owner), as is then whether the
    edge crosses systems."""
    if a.node_type == "external" or b.node_type == "external":
        return "external"
    if a.node_id == b.node_id:
        return "component"
    if a.system is None or b.system is None:
        return "unknown"
    return "component" if a.system == b.system else "system"


def _build_edges(world: World, routes: Sequence[Route]) -> Drafts:
    drafts = Drafts()
    for g in sorted(world.groups.values(), key=lambda g: g.gkey):
        kind = FACT_KIND[g.fkind]
        if kind.side is not Side.CALL:
            continue
        comp = world.component(g.svc, g.ns)
        resource = kind.mechanism.resource
        if resource is not None and g.target == UNNAMED:
            drafts.unresolved(
                comp, world.unnamed(resource, comp), kind.mechanism, _lacks_call(g, comp)
            ).add(g)
            continue
        if resource is None and g.callee_svc is None and g.target.startswith(f"{UNNAMED}:"):
            drafts.unresolved(
                comp,
                world.unknown_host(comp),
                kind.mechanism,
                f"the HTTP client span of {comp.label} carries no host (server.address, "
                "url.full or http.url) and no traced server answered it in its trace",
            ).add(g)
            continue
        found = world.call_target(g)
        if found is None:
            continue
        target, mech, owner_kind = found
        self_call = target.node_id == comp.node_id
        if self_call and not unnamed_service(g.svc):
            # A component calling its own endpoint (its server span answered, or its host and
            # port): no integration between components, as a server span or internal work.
            continue
        if g.callee_svc is not None:
            evidence = Evidence.TRACE
        else:
            evidence = Evidence.HOST if resource is None else Evidence.NAME
        e = drafts.edge(comp, target, MECHANISM[mech], None, evidence)
        e.add(g)
        e.owner_kind = owner_kind
        if self_call:
            # Services that set no name share the SDK's default, and with it a node: this may
            # be one calling another, an integration that must not vanish as a self-call would.
            e.missing = e.missing or (
                f"{comp.label} calls {comp.label}: these spans name no service (service.name "
                "is unset or the SDK's default), so whether a service calls itself or another "
                "unnamed one is unknown (set OTEL_SERVICE_NAME)"
            )
        e.missing = e.missing or world.host_unknown(comp, target)
        if mech in (REST.name, GRAPHQL.name):
            e.missing = e.missing or _nameless(comp, target)
            # These rules turn on the ends' roles: a role taken from spans that disagree is said.
            for end in (comp, target):
                disputed = world.disputed_roles.get(end.node_id)
                if disputed is not None:
                    e.notes.add(f"{end.label}: {disputed}")
        if g.fkind == "graphql-path":
            e.notes.add(
                f"GraphQL inferred from the path ({g.op}): no span records the operation "
                "(graphql.operation.name: on the client's span seamscope's Python hooks add it, "
                "on the server's a GraphQL instrumentation such as Node's "
                "instrumentation-graphql)"
            )
    Listening(world, drafts, routes).build()
    return drafts


def _nameless(source: Node, target: Node) -> str | None:
    """Why a REST or GraphQL call with an end whose spans name no service is unresolved.

    Every service without a service.name (unset, or the SDK's default that all of them share)
    is one node of its system: the rules of these calls turn on which component each end is
    (a webapp, the BFF), which such a node does not say.
    """
    ends = [
        (n, verb)
        for n, verb in ((source, "calls"), (target, "answers"))
        if n.node_type == "component" and (n.name == UNKNOWN_SERVICE or unnamed_service(n.name))
    ]
    if not ends:
        return None
    who = " and of ".join(n.label for n, _ in ends)
    verb = " and which ".join(f"service {verb}" for _, verb in ends)
    return (
        f"the spans of {who} carry no service.name (unset, or the SDK's default "
        f"unknown_service, which every service without a name shares): which {verb}, and "
        "with it the rule, is unknown (set OTEL_SERVICE_NAME)"
    )


def _lacks_call(g: Group, comp: Node) -> str:
    """Why a call whose span names no table, bucket or function is unresolved."""
    if g.fkind == "dynamodb":
        what, where = "table name", ", ".join(TABLE_ATTRIBUTES)
    elif g.fkind == "lambda":
        what, where = "function name", ", ".join(FUNCTION_ATTRIBUTES)
    else:
        what, where = "bucket", "aws.s3.bucket"
    return f"the {g.op or g.fkind} span of {comp.label} carries no {what} (read from {where})"


def _declared_leader(land: Landscape, source: str, said: frozenset[str]) -> str | None:
    """The system the landscape file names leader of an event's data, if it does (the first
    in the file that names the event's source, its entity, or a table holding it)."""
    for leader in land.leaders:
        if (
            any(fnmatch.fnmatchcase(source, p) for p in leader.event_sources)
            or any(entity(e).about(said) for e in leader.entities)
            or any(entity(t).about(said) for t in leader.tables)
        ):
            return leader.system
    return None


def _leader(world: World, producer: Node, events: Iterable[tuple[str, str]]) -> tuple[bool, str]:
    """Whether the producer leads the data its events are about, and which rule said so: the
    landscape's data leaders, else a table its system writes (or owns) whose name, without
    prefixes, stages, storage words, generated suffixes and plurals, is what the event is
    about."""
    if producer.node_type != "component":
        return False, f"{producer.name} is not one of our systems"
    reasons: list[str] = []
    system = producer.system
    for source, dt in sorted(events):
        said = event_words("" if source == UNNAMED else source, "" if dt == UNNAMED else dt)
        about = dt if dt != UNNAMED else f"events of {source}"
        declared = _declared_leader(world.land, source, said)
        if declared is not None:
            if declared == system:
                return True, f"the landscape names {declared} leader of {about}"
            reasons.append(f"the landscape names {declared} leader of {about}")
            continue
        written = [(t, "writes") for t in world.tables_written_by(system)]
        owned = sorted(
            (t, "owns")
            for t, owner in world.land.owners.get(TABLE.owners, {}).items()
            if owner == system
        )
        for table, how in written + owned:
            found = entity(table, system)
            if found.about(said):
                return True, (
                    f"{system} {how} table {table}, which holds {' '.join(found.words)} "
                    f"({found.how}), and {about} is about it"
                )
        reasons.append(f"no table of {system or '?'} holds what {about} is about")
    return False, "; ".join(reasons) or "no data leader known"


def _handling(world: World, e: Draft, pairs: dict[int, set[int]]) -> Handling:
    calls: set[int] = set()
    for r in e.recv_gkeys:
        calls |= pairs.get(r, set())
    if not calls:
        return Handling()
    source = e.source
    back: list[str] = []
    targets: list[str] = []
    for gkey in sorted(calls):
        g = world.groups.get(gkey)
        if g is None:
            continue
        found = world.call_target(g)
        if found is None:
            continue
        node, _mech, owner_kind = found
        targets.append(node.name)
        system = node.system
        if owner_kind is not None:
            system = world.owner(*owner_kind)[0]
        if node.node_id == source.node_id or (
            source.node_type == "component" and system is not None and system == source.system
        ):
            back.append(node.name)
    return Handling(
        observed=True,
        calls_back=bool(back),
        callback_targets=tuple(sorted(set(back))),
        targets=tuple(sorted(set(targets))),
    )


class _Target(NamedTuple):
    fkind: str
    target: str
    svc: str | None
    ns: str | None
    op: str | None
    is_write: bool


def _targets(con: duckdb.DuckDBPyConnection) -> dict[int, _Target]:
    """What _polling needs of the groups (load_groups converts every column and timestamp)."""
    return {
        int(row[0]): _Target(row[1], row[2], row[3], row[4], row[5], bool(row[6]))
        for row in con.execute(
            "SELECT gkey, fkind, target, svc, ns, op, coalesce(is_write, false) "
            "FROM classifier_groups WHERE n > 0 AND fkind IS NOT NULL"
        ).fetchall()
    }


def lease_tables(groups: Iterable[Group | _Target]) -> dict[str, str]:
    """Tables a stream consumer keeps its leases and checkpoints in (as the Kinesis Client
    Library does), by name, with why: written and scanned by one component only, which reads
    a stream. Scanning them on a timer copies nothing anywhere."""
    users: dict[str, set[tuple[str | None, str | None]]] = defaultdict(set)
    scans: dict[str, set[tuple[str | None, str | None]]] = defaultdict(set)
    writes: dict[str, set[tuple[str | None, str | None]]] = defaultdict(set)
    streams: dict[tuple[str | None, str | None], set[str]] = defaultdict(set)
    for g in groups:
        who = (g.svc, g.ns)
        if g.fkind == "dynamodb" and g.target != UNNAMED:
            users[g.target].add(who)
            if g.op in SCAN_OPS:
                scans[g.target].add(who)
            if g.is_write:
                writes[g.target].add(who)
        elif g.fkind in ("kinesis-read", "stream-read"):
            kind = FACT_KIND[g.fkind]
            assert kind.mechanism.resource is not None
            name = kind.resource_name(g.target)
            streams[who].add(
                f"a {kind.mechanism.name} stream"
                if name == UNNAMED
                else kind.mechanism.resource.node_id(name)
            )
    found: dict[str, str] = {}
    for table in sorted(users):
        if len(users[table]) != 1:
            continue
        (who,) = users[table]
        if who in scans[table] and who in writes[table] and streams.get(who):
            read = sorted(streams[who])
            if len(read) > 1:
                read = [r for r in read if not r.startswith("a ")]
            found[table] = (
                f"{table} is a lease/checkpoint table: written and scanned only by "
                f"{who[0] or '?'}, which reads {', '.join(read)} (as the Kinesis "
                "Client Library does), so its scans copy nothing: no polling replication"
            )
    return found


def _polling(
    con: duckdb.DuckDBPyConnection, groups: Mapping[int, Group | _Target]
) -> dict[int, Polling]:
    """Write groups fed by recurring scan jobs -> the job's evidence.

    Each job's runs are gathered as the merge goes (classifier_jobs: how many distinct start
    times, the first and the last, the sum of the squared gaps between them, what it scanned and
    what it wrote); only the jobs that run steadily come back to Python. Over the n - 1 gaps,
    of sum S (last - first) and sum of squares Q, the mean is S / (n - 1) and the coefficient
    of variation CV satisfies CV^2 = ((n - 1) Q - S^2) / S^2, whose numerator is computed exactly
    in integers.
    """
    rows = con.execute(
        f"""WITH timed AS (
            SELECT *, CAST(last_us - epoch_us(first_run) AS HUGEINT) AS span
            FROM classifier_jobs
        )
        SELECT svc, ns, name, runs, span / 1e6 / (runs - 1), scanned, written
        FROM timed
        WHERE runs >= {MIN_RUNS} AND span > 0
          AND CAST((runs - 1) * gap_sq - span * span AS DOUBLE)
              <= {STEADY_CV * STEADY_CV!r} * CAST(span AS DOUBLE) * CAST(span AS DOUBLE)
        ORDER BY first_run, svc NULLS FIRST, ns NULLS FIRST, name NULLS FIRST"""
    ).fetchall()
    found: dict[int, Polling] = {}
    lease = lease_tables(groups.values()) if rows else {}
    for svc, ns, name, runs, mean, scanned, written in rows:
        tables = [str(t) for t in scanned or [] if str(t) not in lease]
        if not tables:
            continue  # it only scans its own leases: a stream consumer's timer, no copy
        writes = {int(w) for w in written or []}
        if not writes:
            writes = _writes_by_instance(con, svc, ns, name)
        writes = {
            w
            for w in writes
            if w in groups
            and not (
                groups[w].fkind == "dynamodb"
                and (groups[w].target in tables or groups[w].target in lease)
            )
        }
        job = f"{svc or '?'} {name}"
        for w in writes:
            found[w] = Polling(job=job, tables=tuple(tables), runs=int(runs), period_s=float(mean))
    return found


def _writes_by_instance(con: duckdb.DuckDBPyConnection, svc: Any, ns: Any, name: Any) -> set[int]:
    """Where a job leaves every call in a trace of its own: its writes until its next run."""
    rows = con.execute(
        """WITH r AS (
            SELECT inst, tk, start_time,
                   lead(start_time) OVER (PARTITION BY inst ORDER BY start_time) AS nxt
            FROM classifier_runs
            WHERE svc IS NOT DISTINCT FROM ? AND ns IS NOT DISTINCT FROM ?
              AND name IS NOT DISTINCT FROM ?
        )
        SELECT DISTINCT s.gkey FROM r
        JOIN classifier_spans AS s
          ON s.inst = r.inst AND s.pk IS NULL AND s.tk <> r.tk
         AND s.start_time > r.start_time
         AND s.start_time < coalesce(r.nxt, r.start_time + INTERVAL 1 HOUR)
        JOIN classifier_groups AS g ON g.gkey = s.gkey AND g.is_write""",
        [svc, ns, name],
    ).fetchall()
    return {int(r[0]) for r in rows}


def derive(
    con: duckdb.DuckDBPyConnection, landscape: Landscape, routes: Sequence[Route] = ()
) -> str:
    """Rebuilds nodes, edges and the group -> edge map from the aggregates and the account's
    wiring (routes).

    Returns the signature of the recurring jobs' evidence (see refresh_polling).
    """
    world = World(con, landscape)
    landscape.check_systems(ns for _, ns in world.roles if ns != NO_SYSTEM)
    for svc, ns in sorted(world.roles):
        world.component(svc, ns or None)
    edges = _build_edges(world, routes)
    lease = lease_tables(world.groups.values())
    for table, why in lease.items():
        world.note(TABLE.node_id(table), why)
    pairs: dict[int, set[int]] = defaultdict(set)
    for recv, call in con.execute(
        "SELECT recv_gkey, call_gkey FROM classifier_handling"
    ).fetchall():
        pairs[int(recv)].add(int(call))
    polling = _polling(con, world.groups)

    rows: list[Edge] = []
    map_rows: dict[str, list[Any]] = {"gkey": [], "edge_id": []}
    for key in sorted(edges):
        e = edges[key]
        owner: str | None = None
        owner_known = False
        owner_how: str | None = None
        if e.owner_kind is not None:
            owner, owner_known, _inf, owner_how = world.owner(*e.owner_kind)
        leader: tuple[bool | None, str | None] = (None, None)
        handling = Handling()
        if e.mechanism == EVENTBRIDGE.name:
            leader = _leader(world, e.source, e.events)
            handling = _handling(world, e, pairs)
        poll = next((polling[g] for g in sorted(e.gkeys) if g in polling), None)
        notes = set(e.notes)
        if e.mechanism == DYNAMODB.name and e.owner_kind is not None:
            if e.owner_kind[1] in lease:
                notes.add(lease[e.owner_kind[1]])
        facts = EdgeFacts(
            source=e.source,
            target=e.target,
            mechanism=e.mechanism,
            direction=e.direction,
            # A host several components serve is one of theirs: whether the call crosses
            # systems is not known. (A private host taken for no vendor stays `external`, as
            # its node is drawn: the edge is unresolved, and its reason says why.)
            level="unknown" if e.target.node_id in world.shared else _level(e.source, e.target),
            via=e.via,
            source_rest_allowed=e.source.node_type == "component"
            and e.source.name in world.land.rest_allowed_webapps,
            operations=tuple(sorted(e.ops)),
            owner=owner,
            owner_known=owner_known,
            owner_how=None if owner_known else owner_how,
            source_is_leader=leader[0],
            leader_reason=leader[1],
            handling=handling,
            polling=poll,
            missing=e.missing
            or (None if e.mechanism in UNRULED_MECHANISMS else _unplaced(e.source, e.target)),
            notes=tuple(sorted(notes)),
        )
        label = evaluate(facts)
        eid = edge_id(*key)
        groups = [world.groups[g] for g in e.gkeys]
        latest = max(
            (g for g in groups if g.last_seen is not None),
            key=lambda g: (g.last_seen, g.sample_trace_id or ""),
            default=None,
        )
        firsts = [g.first_seen for g in groups if g.first_seen is not None]
        rows.append(
            Edge(
                edge_id=eid,
                from_node=e.source.node_id,
                to_node=e.target.node_id,
                from_system=e.source.system,
                to_system=e.target.system,
                mechanism=e.mechanism,
                direction=e.direction,
                via=e.via,
                evidence=e.evidence,
                level=facts.level,
                rule_id=label.rule_id,
                verdict=label.verdict,
                reason=label.reason,
                operations=tuple(sorted(e.ops)[:50]),
                span_count=sum(g.n for g in groups),
                error_count=sum(g.errors for g in groups),
                p50_ms=None,  # from the histograms, below
                p95_ms=None,
                first_seen=min(firsts) if firsts else None,
                last_seen=latest.last_seen if latest else None,
                sample_trace_id=latest.sample_trace_id if latest else None,
            )
        )
        for g in sorted(e.gkeys):
            map_rows["gkey"].append(g)
            map_rows["edge_id"].append(eid)

    _replace(con, "nodes", to_arrow(Node, (world.nodes[n] for n in sorted(world.nodes))))
    _replace(con, "edges", to_arrow(Edge, rows))
    _replace(
        con,
        "classifier_group_edges",
        pa.Table.from_pydict(
            map_rows, schema=pa.schema([("gkey", pa.uint64()), ("edge_id", pa.string())])
        ),
    )
    _percentiles(con)
    return polling_signature(polling)


def polling_signature(polling: Mapping[int, Polling]) -> str:
    """What the rules take from the job runs: which job, scanning what, feeds which writes."""
    return json.dumps(sorted((g, p.job, list(p.tables)) for g, p in polling.items()))


def polling_edges(con: duckdb.DuckDBPyConnection) -> str:
    """The A401 edges, each with its groups and the name of the store it copies into, as JSON:
    what refresh_polling rewrites the reasons of. Only derive() changes them, so the caller
    keeps them from one derive to the next (a statement less in every batch that brings job
    runs)."""
    rows = con.execute(
        """SELECT e.edge_id, list(m.gkey ORDER BY m.gkey), any_value(n.name)
        FROM edges AS e JOIN classifier_group_edges AS m USING (edge_id)
        JOIN nodes AS n ON n.node_id = e.to_node
        WHERE e.rule_id = 'A401' GROUP BY e.edge_id ORDER BY e.edge_id"""
    ).fetchall()
    return json.dumps([[eid, [int(g) for g in gkeys], target] for eid, gkeys, target in rows])


def refresh_polling(
    con: duckdb.DuckDBPyConnection, signature: str, edges: str | None = None
) -> bool:
    """After new job runs and nothing else: when the jobs still feed the same writes from the
    same tables (the signature derive() returned), rewrites only the A401 reasons (their period
    and run count) and returns True; False means the edges must be derived again. edges:
    polling_edges() as the last derive left them (read again where not given)."""
    polling = _polling(con, _targets(con))
    if polling_signature(polling) != signature:
        return False
    rows = json.loads(edges if edges is not None else polling_edges(con))
    ids: list[str] = []
    reasons: list[str] = []
    for eid, gkeys, target in rows:
        poll = next((polling[int(g)] for g in gkeys if int(g) in polling), None)
        if poll is not None:
            ids.append(eid)
            reasons.append(polling_reason(poll, target))
    if ids:
        con.execute(
            "UPDATE edges SET reason = u.reason FROM (SELECT unnest(?) AS edge_id, "
            "unnest(?) AS reason) AS u WHERE edges.edge_id = u.edge_id",
            [ids, reasons],
        )
    return True


def refresh_stats(
    con: duckdb.DuckDBPyConnection, moved: str | None = None, hist: str | None = None
) -> None:
    """Counts, times, samples and latency of the stored edges, when no edge or label changed:
    of every edge, or only of those with a group in `moved` (a relation of gkeys: the groups a
    merge changed; the others' figures stand). hist: what the merge added to classifier_hist (a
    query of gkey, bucket, n: a row per fact, n -1 for one taken away), which moves the moved
    edges' percentiles; without it (and with `moved`), no latency moved."""
    if moved is None:
        edges = "classifier_group_edges"
        _place_percentiles(con)
    else:
        edges = (
            "(SELECT * FROM classifier_group_edges WHERE edge_id IN (SELECT edge_id FROM "
            f"classifier_group_edges WHERE gkey IN (SELECT gkey FROM {moved})))"
        )
        if hist is not None:
            con.execute(
                f"""UPDATE classifier_edge_pct AS p SET tot = u.tot, b50 = u.b50,
                       lo50 = u.lo50, n50 = u.n50, b95 = u.b95, lo95 = u.lo95, n95 = u.n95
                FROM ({_moved_positions_sql(hist)}) AS u WHERE p.edge_id = u.edge_id"""
            )
    # One statement: an edge without latency buckets keeps its p50 and p95.
    con.execute(
        f"""UPDATE edges SET span_count = q.n, error_count = q.e, first_seen = q.f,
               last_seen = q.l, sample_trace_id = q.sample,
               p50_ms = CASE WHEN p.b50 IS NULL THEN edges.p50_ms ELSE {_ms("p.b50")} END,
               p95_ms = CASE WHEN p.b95 IS NULL THEN edges.p95_ms ELSE {_ms("p.b95")} END
        FROM (
            SELECT m.edge_id, sum(g.n) AS n, sum(g.errors) AS e, min(g.first_seen) AS f,
                   max(g.last_seen) AS l,
                   max(struct_pack(t := g.last_seen, id := g.sample_trace_id)).id AS sample
            FROM {edges} AS m JOIN classifier_groups AS g USING (gkey)
            GROUP BY m.edge_id
        ) AS q LEFT JOIN classifier_edge_pct AS p USING (edge_id)
        WHERE edges.edge_id = q.edge_id"""
    )


def _ms(bucket: str) -> str:
    """A latency bucket's figure in ms: the middle of its bounds (on the log scale)."""
    return f"pow({_HIST_BASE}, {bucket} + 0.5)"


def _percentiles(con: duckdb.DuckDBPyConnection) -> None:
    """p50 and p95 of every edge from its groups' histograms (classifier_edge_pct made again)."""
    _place_percentiles(con)
    con.execute(
        f"""UPDATE edges SET p50_ms = {_ms("p.b50")}, p95_ms = {_ms("p.b95")}
        FROM classifier_edge_pct AS p WHERE edges.edge_id = p.edge_id AND p.b50 IS NOT NULL"""
    )


def _place_percentiles(con: duckdb.DuckDBPyConnection) -> None:
    """classifier_edge_pct made again from every edge's histogram."""
    con.execute("DELETE FROM classifier_edge_pct")
    con.execute(
        f"INSERT INTO classifier_edge_pct BY NAME {_positions_sql('classifier_group_edges')}"
    )


# Where a percentile stands: the first bucket whose cumulative count reaches its share of the
# edge's count (exact: the counts are integers, the shares decimals).
_P50 = "cum >= 0.5 * tot"
_P95 = "cum >= 0.95 * tot"


def _positions_sql(edges: str) -> str:
    """The rows of classifier_edge_pct of the edges of `edges` (gkey -> edge_id) that have
    latency buckets, from their groups' histograms."""
    return f"""
            WITH h AS (
                SELECT m.edge_id, h.bucket, sum(h.n) AS n
                FROM classifier_hist AS h JOIN {edges} AS m USING (gkey)
                GROUP BY ALL
            ),
            c AS (
                SELECT edge_id, bucket, n,
                       sum(n) OVER (PARTITION BY edge_id ORDER BY bucket) AS cum,
                       sum(n) OVER (PARTITION BY edge_id) AS tot
                FROM h
            ),
            w AS (
                SELECT edge_id, any_value(tot) AS tot,
                       min(struct_pack(b := bucket, lo := cum - n, n := n))
                           FILTER (WHERE {_P50}) AS p50,
                       min(struct_pack(b := bucket, lo := cum - n, n := n))
                           FILTER (WHERE {_P95}) AS p95
                FROM c GROUP BY edge_id
            )
            SELECT edge_id, tot, p50.b AS b50, p50.lo AS lo50, p50.n AS n50,
                   p95.b AS b95, p95.lo AS lo95, p95.n AS n95
            FROM w"""


def _moved_positions_sql(hist: str) -> str:
    """The rows of classifier_edge_pct of the edges whose groups have rows in `hist` (what a
    merge added to classifier_hist, which holds them already: refresh_stats), moved by them. An
    edge whose percentiles stay in their buckets needs only its stored row and the merge's
    rows; one whose p50 or p95 leaves its bucket (or without a row) is placed again from its
    whole histogram, as derive places every edge."""
    kept = " AND ".join(
        f"{lo} < {share} * tot AND {lo} + {n} >= {share} * tot"
        for lo, n, share in (("lo50", "n50", "0.5"), ("lo95", "n95", "0.95"))
    )
    return f"""
            WITH a AS (
                SELECT m.edge_id, any_value(p.tot) + sum(x.n) AS tot, any_value(p.b50) AS b50,
                       any_value(p.lo50)
                           + coalesce(sum(x.n) FILTER (WHERE x.bucket < p.b50), 0) AS lo50,
                       any_value(p.n50)
                           + coalesce(sum(x.n) FILTER (WHERE x.bucket = p.b50), 0) AS n50,
                       any_value(p.b95) AS b95,
                       any_value(p.lo95)
                           + coalesce(sum(x.n) FILTER (WHERE x.bucket < p.b95), 0) AS lo95,
                       any_value(p.n95)
                           + coalesce(sum(x.n) FILTER (WHERE x.bucket = p.b95), 0) AS n95
                FROM ({hist}) AS x JOIN classifier_group_edges AS m USING (gkey)
                LEFT JOIN classifier_edge_pct AS p USING (edge_id)
                GROUP BY m.edge_id
            ),
            k AS MATERIALIZED (SELECT *, coalesce({kept}, false) AS kept FROM a)
            SELECT * EXCLUDE (kept) FROM k WHERE kept
            UNION ALL
            SELECT * FROM ({
        _positions_sql(
            "(SELECT * FROM classifier_group_edges "
            "WHERE edge_id IN (SELECT edge_id FROM k WHERE NOT kept))"
        )
    })"""


def _replace(con: duckdb.DuckDBPyConnection, table: str, data: pa.Table) -> None:
    con.execute(f"DELETE FROM {table}")
    if data.num_rows:
        con.register("_cls_rows", data)
        try:
            con.execute(f"INSERT INTO {table} BY NAME SELECT * FROM _cls_rows")
        finally:
            con.unregister("_cls_rows")
