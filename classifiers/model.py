"""The plain data rules look at: an edge between two nodes (results.Node) with the evidence
gathered for it."""

from __future__ import annotations

from dataclasses import dataclass, field

from seamscope.classifiers.results import Node

WEBAPP_FACING = ("webapp", "bff")


@dataclass(frozen=True, slots=True)
class Handling:
    """What a consumer did while handling the events of an edge."""

    observed: bool = False
    calls_back: bool = False
    callback_targets: tuple[str, ...] = ()
    targets: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class Polling:
    """A recurring job that scans a table and writes what it read elsewhere."""

    job: str
    tables: tuple[str, ...]
    runs: int
    period_s: float


@dataclass(frozen=True, slots=True)
class EdgeFacts:
    source: Node
    target: Node
    mechanism: str
    direction: str  # call | listen
    level: str  # system | component | external
    via: str | None = None
    source_rest_allowed: bool = False  # the source is on the landscape's REST exception list
    operations: tuple[str, ...] = ()
    owner: str | None = None  # the owning system of the resource the edge is about
    owner_known: bool = False
    # Why the owner is unknown, where the spans show more than that (several systems write it,
    # a writer of no known system): the reason says it.
    owner_how: str | None = None
    source_is_leader: bool | None = None
    leader_reason: str | None = None
    handling: Handling = field(default_factory=Handling)
    polling: Polling | None = None
    # A fact the decision needs that the spans do not carry: the edge is unresolved, and this
    # says what was missing and how to supply it.
    missing: str | None = None
    # What was inferred on the way (a GraphQL call from its path, a lease table), in words: the
    # label's reason says it.
    notes: tuple[str, ...] = ()

    @property
    def same_system(self) -> bool:
        return self.source.system == self.target.system

    def name(self, node: Node) -> str:
        return node.label if node.node_type == "component" else node.name
