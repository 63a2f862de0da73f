"""Listening edges: which producer's events reach which consumer, and by what evidence.

The evidence, strongest first (results.Evidence): the consumer's span is a child of the
producer's (trace context carried through the message) or links to it; the event's identity
recorded by seamscope's hooks (bus, source and detail-type, the topic of an SNS envelope); the
account's wiring (EventBridge rules, SNS subscriptions, event-source mappings: discovered or
declared routes); then the resource's name on both sides. A name no span carries joins nothing:
such an edge is unresolved and says what was missing.
"""

from __future__ import annotations

import fnmatch
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Protocol

from seamscope.classifiers.mechanisms import (
    BUS,
    DYNAMODB_STREAMS,
    EVENT_SOURCE,
    EVENTBRIDGE,
    FACT_KIND,
    FUNCTION,
    KINESIS,
    LAMBDA,
    MECHANISM,
    QUEUE,
    SEP,
    SNS,
    SQS,
    STREAM,
    TABLE,
    TABLE_STREAM,
    TOPIC,
    UNNAMED,
    FactKind,
    Mechanism,
    Resource,
    Side,
)
from seamscope.classifiers.names import words
from seamscope.classifiers.results import Evidence, Node
from seamscope.tracer.sources import QUEUE_ATTRIBUTES, STREAM_ATTRIBUTES, TOPIC_ATTRIBUTES

if TYPE_CHECKING:
    from seamscope.classifiers.derive import Group, World

_WIRING = "`seamscope discover aws`, or [[routes]] in the landscape file"
_HOOKS = "seamscope's Python hooks"


class Route(Protocol):
    """A route of the account's wiring (a row of aws_routes, or declared in the landscape)."""

    @property
    def kind(self) -> str: ...
    @property
    def source(self) -> str: ...
    @property
    def target(self) -> str: ...
    @property
    def event_sources(self) -> tuple[str, ...] | None: ...
    @property
    def detail_types(self) -> tuple[str, ...] | None: ...
    @property
    def name(self) -> str | None: ...
    @property
    def origin(self) -> str: ...


def _route_evidence(path: Sequence[Route]) -> Evidence:
    """A chain of routes is as good as its weakest: declared when any of it is."""
    if any(r.origin == "declared" for r in path):
        return Evidence.DECLARED
    return Evidence.DISCOVERED


@dataclass(slots=True)
class Draft:
    """An edge while it is being built."""

    source: Node
    target: Node
    mechanism: str
    direction: str
    via: str | None = None
    gkeys: set[int] = field(default_factory=set)
    ops: set[str] = field(default_factory=set)
    events: set[tuple[str, str]] = field(default_factory=set)
    recv_gkeys: set[int] = field(default_factory=set)
    owner_kind: tuple[str, str] | None = None
    evidence: Evidence = Evidence.NONE
    missing: str | None = None
    notes: set[str] = field(default_factory=set)

    def add(self, *groups: Group | None) -> None:
        for g in groups:
            if g is not None:
                self.gkeys.add(g.gkey)
                if g.op:
                    self.ops.add(g.op)

    def joined(self, evidence: Evidence) -> None:
        self.evidence = (
            evidence if self.evidence is Evidence.NONE else self.evidence.stronger(evidence)
        )


class Drafts(dict[tuple[str, str, str, str], Draft]):
    """The edges of one derivation, by (from, to, mechanism, direction)."""

    def edge(
        self,
        source: Node,
        target: Node,
        mechanism: Mechanism,
        via: str | None = None,
        evidence: Evidence = Evidence.NONE,
    ) -> Draft:
        key = (source.node_id, target.node_id, mechanism.name, mechanism.direction)
        found = self.get(key)
        if found is None:
            found = self[key] = Draft(
                source, target, mechanism.name, mechanism.direction, via, evidence=evidence
            )
        else:
            found.joined(evidence)
        return found

    def unresolved(
        self, source: Node, target: Node, mechanism: Mechanism, why: str, via: str | None = None
    ) -> Draft:
        found = self.edge(source, target, mechanism, via)
        if found.evidence is Evidence.NONE:
            found.missing = found.missing or why
        return found


# What a span of each fact kind should have named, and where that would have been.
_NAMES: dict[str, tuple[str, str, tuple[str, ...]]] = {
    "sqs-send": ("SQS", "queue name", QUEUE_ATTRIBUTES),
    "sqs-recv": ("SQS", "queue name", QUEUE_ATTRIBUTES),
    "sns-pub": ("SNS", "topic name", TOPIC_ATTRIBUTES),
    "kinesis-put": ("Kinesis", "stream name", STREAM_ATTRIBUTES),
    "kinesis-read": ("Kinesis", "stream name", STREAM_ATTRIBUTES),
    "stream-read": ("DynamoDB Streams", "stream ARN or table", ()),
}


def lacks(g: Group, who: Node) -> str:
    """Why a span with no name for its resource is unresolved: what it lacks, where it would
    have been."""
    service, what, attributes = _NAMES[g.fkind]
    op = g.op or FACT_KIND[g.fkind].name
    if g.fkind == "stream-read":
        return (
            f"the {service} {op} span of {who.label} carries no stream ARN or table: no stock "
            f"instrumentation records it ({_HOOKS} add seamscope.dynamodb.stream_arn), so the "
            "table whose stream it reads is unknown"
        )
    if g.fkind == "kinesis-read":
        return (
            f"no Kinesis read of {who.label} carries the stream name (GetRecords names only a "
            f"shard iterator; GetShardIterator carries it in {', '.join(attributes)}, which "
            "this SDK does not set)"
        )
    where = ", ".join(attributes)
    return f"the {service} {op} span of {who.label} carries no {what} (read from {where})"


def no_event(who: Node, routed: bool) -> str:
    """Why a PutEvents whose span names nothing is unresolved."""
    tail = (
        "and no rule of the account's wiring could be traced to it"
        if routed
        else f"so where its events go is unknown without the account's wiring ({_WIRING})"
    )
    return (
        f"the PutEvents span of {who.label} carries no bus, source or detail-type (no stock "
        f"instrumentation records them; {_HOOKS} do), {tail}"
    )


@dataclass(frozen=True, slots=True)
class _Origin:
    """Where what a consumer receives can come from: the consumer's own resource, or one a chain
    of routes leads back to (path: the route into the consumer's resource first)."""

    node_id: str
    path: tuple[Route, ...] = ()

    @property
    def resource(self) -> tuple[Resource, str] | None:
        for resource in (QUEUE, TOPIC, STREAM, BUS, TABLE_STREAM, FUNCTION):
            if self.node_id.startswith(resource.prefix):
                return resource, self.node_id[len(resource.prefix) :]
        return None


_CHANNEL_OF: dict[Resource, Mechanism] = {QUEUE: SQS, TOPIC: SNS, STREAM: KINESIS}


class Listening:
    """Builds the listening edges of a World into Drafts."""

    def __init__(self, world: World, drafts: Drafts, routes: Sequence[Route]) -> None:
        self.world = world
        self.drafts = drafts
        self.routes_to: dict[str, list[Route]] = defaultdict(list)
        for route in sorted(routes, key=lambda r: (r.target, r.source, r.kind, r.name or "")):
            self.routes_to[route.target].append(route)
        # channel (mechanism, name) -> producer groups; unnamed producers apart
        self.producers: dict[tuple[str, str], list[tuple[Group, Node]]] = defaultdict(list)
        self.unnamed_puts: list[tuple[Group, Node]] = []
        self.consumers: list[tuple[Group, Node]] = []
        self.used: set[int] = set()  # producer groups that reached a consumer
        for g in sorted(world.groups.values(), key=lambda g: g.gkey):
            kind = FACT_KIND[g.fkind]
            if kind.side is Side.CALL:
                continue
            comp = world.component(g.svc, g.ns)
            if kind.side is Side.CONSUME:
                self.consumers.append((g, comp))
            elif g.fkind == "events-put" and g.target.startswith(UNNAMED + SEP):
                self.unnamed_puts.append((g, comp))
            else:
                self.producers[(kind.mechanism.name, kind.channel(g.target))].append((g, comp))

    def build(self) -> None:
        envelope_queues = {
            FactKind.queue(g.target) for g, _ in self.consumers if FACT_KIND[g.fkind].through_queue
        }
        named_reads = {
            c.node_id
            for g, c in self.consumers
            if g.fkind == "kinesis-read" and g.target != UNNAMED
        }
        absorbed: list[tuple[Group, Node]] = []
        for g, c in self.consumers:
            joined = self.by_spans(g, c)
            kind = FACT_KIND[g.fkind]
            if g.fkind == "events-recv":
                self.hooked_events(g, c)
            elif g.fkind == "sns-recv":
                self.hooked_topic(g, c)
            elif g.fkind == "stream-read":
                self.table_stream(g, c)
            elif g.target == UNNAMED:
                if joined:
                    continue
                if g.fkind == "kinesis-read" and c.node_id in named_reads:
                    absorbed.append((g, c))
                elif g.fkind != "lambda-run":
                    resource = kind.mechanism.resource
                    assert resource is not None
                    self.drafts.unresolved(
                        self.world.unnamed(resource, c), c, kind.mechanism, lacks(g, c)
                    ).add(g)
            else:
                found = self.by_wiring(g, c)
                if found or joined:
                    continue
                if g.fkind == "lambda-run":
                    self.untriggered(g, c)
                    continue
                if g.fkind == "sqs-recv" and g.target in envelope_queues:
                    continue  # that listening path's empty polls: no integration of their own
                self.orphan_receive(g, c)
        for g, c in absorbed:
            self.absorb(g, c)
        self.orphan_producers()

    def untriggered(self, g: Group, c: Node) -> None:
        """A Lambda function's invocations that neither link to a producer's span nor are
        reached by the account's wiring: what triggered them is unknown, and says so.

        The stock Lambda instrumentations record a trigger only for SQS events (a `process`
        span with the queue); an invocation by a DynamoDB stream, an EventBridge rule or a
        Kinesis stream carries the function's faas.* and cloud.* attributes alone."""
        function = self.world.resource(FUNCTION, FACT_KIND[g.fkind].resource_name(g.target))
        routed = bool(self.routes_to.get(function.node_id))
        why = (
            f"the invocations of {function.node_id} (run as {c.label}) name no trigger: the Lambda "
            "instrumentations record the event source only for SQS events, and no span links "
            "to a producer's; "
            + (
                "the account's wiring routes to it, but no producer of those sources was seen"
                if routed
                else f"its event-source mapping or rule is known from {_WIRING}"
            )
        )
        self.drafts.unresolved(function, c, LAMBDA, why, function.node_id).add(g)

    # --- joins by the spans themselves -------------------------------------------------------

    def by_spans(self, gc: Group, c: Node) -> bool:
        """Producer groups whose spans the consumer's are children of, or link to."""
        found = False
        for prod_gkey, how in self.world.joins.get(gc.gkey, ()):
            gp = self.world.groups.get(prod_gkey)
            if gp is None:
                continue
            p = self.world.component(gp.svc, gp.ns)
            kind = FACT_KIND[gp.fkind]
            mechanism = kind.mechanism
            name = kind.resource_name(gp.target)
            if gp.fkind == "events-put" or name == UNNAMED:
                via = None
            else:
                assert mechanism.resource is not None
                via = self.world.resource(mechanism.resource, name).node_id
            e = self.drafts.edge(p, c, mechanism, via, Evidence(how))
            e.add(gp, gc)
            e.recv_gkeys.add(gc.gkey)
            if name != UNNAMED and mechanism.resource is not None:
                e.owner_kind = (mechanism.resource.owners, name)
            if gp.fkind == "events-put":
                self.add_events(e, gp)
            self.used.add(gp.gkey)
            found = True
        return found

    @staticmethod
    def add_events(e: Draft, gp: Group) -> None:
        parts = gp.target.split(SEP)
        if len(parts) >= 3 and parts[1] != UNNAMED:
            e.events.add((parts[1], parts[2]))
            e.ops.add(parts[2])

    # --- joins by what seamscope's hooks recorded ---------------------------------------------

    def hooked_events(self, gc: Group, c: Node) -> None:
        """An EventBridge envelope received through a queue: joined to the PutEvents of the
        same source and detail-type (and bus, where the receive knows it)."""
        received = FACT_KIND["events-recv"]
        put = FACT_KIND["events-put"]
        channel = received.channel(gc.target)
        source, dt = channel.split(SEP)
        recv_bus = received.resource_name(gc.target)
        matched = [
            (g, p)
            for g, p in self.producers.get((EVENTBRIDGE.name, channel), [])
            if not recv_bus or put.resource_name(g.target) == recv_bus
        ]
        for gp, p in matched:
            rid = self.world.resource(BUS, put.resource_name(gp.target)).node_id
            self.event_edge(p, c, rid, Evidence.HOOK, gc, gp, source, dt)
        if not matched:
            via = BUS.node_id(recv_bus) if recv_bus else None
            self.from_event_source(gc, c, source, dt, via, Evidence.HOOK)

    def event_edge(
        self,
        p: Node,
        c: Node,
        via: str | None,
        evidence: Evidence,
        gc: Group,
        gp: Group | None,
        source: str,
        dt: str,
    ) -> Draft:
        e = self.drafts.edge(p, c, EVENTBRIDGE, via, evidence)
        e.gkeys.add(gc.gkey)
        if gp is not None:
            e.gkeys.add(gp.gkey)
            self.used.add(gp.gkey)
        e.recv_gkeys.add(gc.gkey)
        e.events.add((source, dt))
        e.ops.add(dt)
        return e

    def from_event_source(
        self, gc: Group, c: Node, source: str, dt: str, via: str | None, evidence: Evidence
    ) -> None:
        """Events whose producer no span shows: from a vendor's event source (the landscape
        names it), else from the event source itself, unresolved."""
        vendor = self.world.land.vendor_for_source(source)
        if vendor is not None:
            self.event_edge(self.world.vendor(vendor), c, via, evidence, gc, None, source, dt)
            return
        origin = self.world.resource(EVENT_SOURCE, source)
        e = self.event_edge(origin, c, via, evidence, gc, None, source, dt)
        if source == UNNAMED:
            e.missing = e.missing or (
                f"no PutEvents of detail-type {dt} was seen, and the rule that delivers it to "
                f"{c.label} does not say its source"
            )
        else:
            e.missing = e.missing or (
                f"no PutEvents span names source {source} (detail-type {dt}): its producer "
                "is not traced, or its spans carry no source (the landscape's vendors may "
                "name the source)"
            )

    def hooked_topic(self, gc: Group, c: Node) -> None:
        """An SNS envelope received through a queue: joined to the publishers of its topic."""
        topic = FACT_KIND["sns-recv"].channel(gc.target)
        self.from_resource(gc, c, _Origin(TOPIC.node_id(topic)), Evidence.HOOK)

    # --- joins by the account's wiring and by names -------------------------------------------

    def origins(self, node_id: str) -> list[_Origin]:
        """The consumer's resource and every resource a chain of routes leads back from it."""
        found = [_Origin(node_id)]
        seen = {node_id}
        queue = [found[0]]
        while queue:
            here = queue.pop(0)
            for route in self.routes_to.get(here.node_id, ()):
                if route.source in seen:
                    continue
                seen.add(route.source)
                origin = _Origin(route.source, (*here.path, route))
                found.append(origin)
                queue.append(origin)
        return found

    def by_wiring(self, gc: Group, c: Node) -> bool:
        """Edges from the producers of the consumer's resource, and of every resource the
        account's wiring routes to it."""
        found = False
        routed_queue: _Origin | None = None
        for origin in self.origins(self._own(gc)):
            evidence = _route_evidence(origin.path) if origin.path else Evidence.NAME
            if origin.path or gc.fkind != "lambda-run":
                found = self.from_resource(gc, c, origin, evidence) or found
            if origin.path and routed_queue is None and origin.node_id.startswith(QUEUE.prefix):
                routed_queue = origin
        if not found and routed_queue is not None:
            queue = routed_queue.node_id
            self.drafts.unresolved(
                self.world.resource(QUEUE, queue[len(QUEUE.prefix) :]),
                c,
                SQS,
                f"nothing seen sends to {queue}, which the account's wiring routes to {c.label}",
                queue,
            ).add(gc)
            found = True
        return found

    def from_resource(self, gc: Group, c: Node, origin: _Origin, evidence: Evidence) -> bool:
        """Edges from the producers of the origin's resource to the consumer."""
        at = origin.resource
        if at is None:
            return False
        resource, name = at
        if resource is BUS:
            return self.from_bus(gc, c, origin, name, evidence)
        if resource is TABLE_STREAM:
            self.table_stream(gc, c, name, evidence)
            return True
        mechanism = _CHANNEL_OF.get(resource)
        if mechanism is None:
            return False
        prods = self.producers.get((mechanism.name, name), [])
        if prods:
            self.world.resource(resource, name)  # the node the edges go through
        for gp, p in prods:
            e = self.drafts.edge(p, c, mechanism, origin.node_id, evidence)
            e.add(gp, gc)
            e.recv_gkeys.add(gc.gkey)
            e.owner_kind = (resource.owners, name)
            self.used.add(gp.gkey)
        if prods:
            return True
        if origin.path and resource is not QUEUE:
            # The wiring says where the events come from, and no span names it.
            why = (
                f"no span publishes to {origin.node_id}, which the account's wiring routes to "
                f"{c.label}"
            )
            unnamed = self.producers.get((mechanism.name, UNNAMED), [])
            if unnamed:
                gp, p = unnamed[0]
                who = ", ".join(sorted({p.label for _, p in unnamed}))
                what = _NAMES[gp.fkind][1]
                why += f"; the {gp.op or mechanism.name} spans of {who} carry no {what}"
            self.drafts.unresolved(
                self.world.resource(resource, name), c, mechanism, why, origin.node_id
            ).add(gc)
            return True
        if evidence is Evidence.HOOK:
            self.drafts.unresolved(
                self.world.resource(resource, name),
                c,
                mechanism,
                f"no publisher of {origin.node_id} was seen (the receives of {c.label} carry "
                "its envelopes)",
                origin.node_id,
            ).add(gc)
            return True
        return False

    @staticmethod
    def _own(gc: Group) -> str:
        kind = FACT_KIND[gc.fkind]
        assert kind.mechanism.resource is not None
        return kind.mechanism.resource.node_id(kind.resource_name(gc.target))

    def from_bus(self, gc: Group, c: Node, origin: _Origin, bus: str, evidence: Evidence) -> bool:
        """Events an EventBridge rule routes from a bus to the consumer: from the PutEvents of a
        matching source and detail-type, or (when no span names them) the sender the rule's
        source points at."""
        rule = origin.path[-1]
        sources = rule.event_sources or (UNNAMED,)
        detail_types = rule.detail_types or (UNNAMED,)
        put = FACT_KIND["events-put"]
        found = False
        for source in sources:
            for dt in detail_types:
                named = [
                    (g, p)
                    for (mech, channel), prods in sorted(self.producers.items())
                    if mech == EVENTBRIDGE.name
                    for g, p in prods
                    if put.resource_name(g.target) == bus
                    and (source == UNNAMED or channel.split(SEP)[0] == source)
                    and (dt == UNNAMED or channel.split(SEP)[1] == dt)
                ]
                for gp, p in named:
                    event_source, event_dt = put.channel(gp.target).split(SEP)
                    self.event_edge(p, c, origin.node_id, evidence, gc, gp, event_source, event_dt)
                if named:
                    found = True
                    continue
                senders, why = self.senders_of(source)
                for gp, p in senders:
                    e = self.event_edge(p, c, origin.node_id, evidence, gc, gp, source, dt)
                    e.notes.add(why)
                if senders:
                    found = True
                    continue
                self.from_event_source(gc, c, source, dt, origin.node_id, evidence)
                found = True
        return found

    def senders_of(self, source: str) -> tuple[list[tuple[Group, Node]], str]:
        """The PutEvents callers whose spans name nothing that may have sent events of this
        source: those of the system or component the source names (or the landscape's data
        leader for it), else the one such caller there is."""
        if not self.unnamed_puts or source.startswith("aws."):
            return [], ""
        if self.world.land.vendor_for_source(source) is not None:
            return [], ""
        said = frozenset(words(source))
        leaders = {
            d.system
            for d in self.world.land.leaders
            if any(_matches(source, pattern) for pattern in d.event_sources)
        }
        named = [
            (g, p)
            for g, p in self.unnamed_puts
            if p.system in leaders
            or (p.system and set(words(p.system)) <= said)
            or set(words(p.name)) <= said
        ]
        if named:
            who = ", ".join(sorted({p.label for _, p in named}))
            return named, (
                f"the PutEvents spans name no source: the sender of {source} is taken to be "
                f"{who}, whose name the source matches"
            )
        callers = {p.node_id for _, p in self.unnamed_puts}
        systems = {s for _, s in self.world.roles if s}
        if len(callers) == 1 and not any(set(words(s)) <= said for s in systems):
            who = self.unnamed_puts[0][1].label
            return list(self.unnamed_puts), (
                f"the PutEvents spans name no source: {who} is the only component whose "
                f"PutEvents name nothing, taken as the sender of {source}"
            )
        return [], ""

    def table_stream(
        self,
        gc: Group,
        c: Node,
        table: str | None = None,
        evidence: Evidence = Evidence.NAME,
    ) -> None:
        """A table's stream read: the table (its writers' system owns it) to the consumer."""
        name = table if table is not None else FACT_KIND[gc.fkind].resource_name(gc.target)
        if name == UNNAMED:
            self.drafts.unresolved(
                self.world.unnamed(TABLE, c), c, DYNAMODB_STREAMS, lacks(gc, c)
            ).add(gc)
            return
        evidence = Evidence.HOOK if evidence is Evidence.NAME else evidence
        via = self.world.resource(TABLE_STREAM, name).node_id
        e = self.drafts.edge(self.world.resource(TABLE, name), c, DYNAMODB_STREAMS, via, evidence)
        e.add(gc)
        e.owner_kind = (TABLE.owners, name)

    def absorb(self, gc: Group, c: Node) -> None:
        """A GetRecords that names no stream, of a component whose other Kinesis reads name
        theirs: part of those reads (its shard iterator came from them)."""
        for e in self.drafts.values():
            if e.target.node_id == c.node_id and e.mechanism == KINESIS.name and e.via:
                e.add(gc)

    # --- one side only ------------------------------------------------------------------------

    def orphan_receive(self, gc: Group, c: Node) -> None:
        kind = FACT_KIND[gc.fkind]
        resource = kind.mechanism.resource
        assert resource is not None
        name = kind.resource_name(gc.target)
        node = self.world.resource(resource, name)
        if gc.fkind == "sqs-recv":
            why = (
                f"nothing seen sends to {node.node_id}: no span sends to it by name and no "
                "receive links to a sender; if an EventBridge rule or an SNS subscription feeds "
                "it, the receives carry no event source and detail-type, nor the topic "
                f"({_HOOKS} read them from the envelopes), and the account's wiring is not "
                f"known ({_WIRING})"
            )
        else:
            why = (
                f"no producer of {node.node_id} was seen: no span writes to it by name and no "
                "read links to a producer"
            )
        self.drafts.unresolved(node, c, kind.mechanism, why, node.node_id).add(gc)

    def orphan_producers(self) -> None:
        routed = bool(self.routes_to)
        for gp, p in self.unnamed_puts:
            if gp.gkey in self.used:
                continue
            bus = self.world.unnamed(BUS, p)
            self.drafts.unresolved(p, bus, EVENTBRIDGE, no_event(p, routed)).add(gp)
        for (mech, name), prods in sorted(self.producers.items()):
            mechanism = MECHANISM[mech]
            for gp, p in prods:
                if gp.gkey in self.used:
                    continue
                self.orphan_producer(gp, p, mechanism, name)

    def orphan_producer(self, gp: Group, p: Node, mechanism: Mechanism, name: str) -> None:
        if mechanism is EVENTBRIDGE:
            put = FACT_KIND["events-put"]
            target = self.world.resource(BUS, put.resource_name(gp.target))
            source, dt = name.split(SEP)
            e = self.drafts.unresolved(
                p,
                target,
                EVENTBRIDGE,
                f"no consumer of {source} / {dt} on {target.node_id} was seen: no receive "
                "carries these events, and no rule of the account's wiring routes them "
                f"({_WIRING})",
                target.node_id,
            )
            e.add(gp)
            e.events.add((source, dt))
            e.ops.add(dt)
            return
        resource = mechanism.resource
        assert resource is not None
        if name == UNNAMED:
            self.drafts.unresolved(p, self.world.unnamed(resource, p), mechanism, lacks(gp, p)).add(
                gp
            )
            return
        node = self.world.resource(resource, name)
        if mechanism is SNS:
            why = (
                f"no subscriber of {node.node_id} was seen: the receives of a subscribed queue "
                "do not name the topic (SNS envelopes are in the message body; "
                f"{_HOOKS} read them), and the subscription is not known ({_WIRING})"
            )
        elif mechanism is KINESIS:
            why = (
                f"no reader of {node.node_id} was seen: no Kinesis read names the stream "
                "(GetRecords never does; GetShardIterator does where the SDK records it)"
            )
        else:
            why = (
                f"no consumer of {node.node_id} was seen: no receive names the queue and no "
                "span links to these sends (a Lambda function it triggers may record neither: "
                f"the event-source mapping is known from {_WIRING})"
            )
        e = self.drafts.unresolved(p, node, mechanism, why, node.node_id)
        e.add(gp)
        e.owner_kind = (resource.owners, name)


def _matches(text: str, pattern: str) -> bool:
    return fnmatch.fnmatchcase(text, pattern)
