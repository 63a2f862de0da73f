"""What a table, an entity or an event is about, from its name: words, without the prefixes,
stages, generated suffixes and plurals real names carry.

`OrdersStack-OrdersTable-1A2B3C4D`, `prod-orders`, `orders-orders` and `Orders` are all about
the entity `order`; an `OrderShipped` event is about `order` (and shipping). Data leaders are
inferred by comparing these words, and the inference says which rule it used.
"""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass

# Splits a name into parts: separators, then camel case (an acronym stays whole).
_SEPARATORS = re.compile(r"[^A-Za-z0-9]+")
_CAMEL = re.compile(r"[A-Z]+(?=[A-Z][a-z])|[A-Z]?[a-z]+|[A-Z]+|[0-9]+")
# A generated suffix: CloudFormation's random part of a physical id (`1A2B3C4D5E6F`), a hex id.
_GENERATED = re.compile(r"^(?=[A-Z0-9]*[0-9])(?=[A-Z0-9]*[A-Z])[A-Z0-9]{8,}$|^[0-9a-f]{8,}$")
_VERSION = re.compile(r"^v[0-9]+$")
STAGES = frozenset(
    (
        "prod",
        "production",
        "prd",
        "staging",
        "stage",
        "stg",
        "dev",
        "development",
        "test",
        "testing",
        "qa",
        "uat",
        "sandbox",
        "preprod",
        "live",
        "local",
    )
)
# Words of storage, not of the data: `OrdersTable`, `OrdersStack`, `orders-ddb`.
STORAGE = frozenset(("table", "tbl", "stack", "ddb", "dynamodb", "db", "store"))


def singular(word: str) -> str:
    """A comparable singular: 'orders' -> 'order', 'entries' -> 'entry' ('address' stays)."""
    if word.endswith("ies") and len(word) > 4:
        return word[:-3] + "y"
    if word.endswith("s") and not word.endswith("ss") and len(word) > 3:
        return word[:-1]
    return word


def words(name: str) -> tuple[str, ...]:
    """Every word of a name, lowercase and singular, in order ('OrderPlaced' -> order, placed)."""
    found: list[str] = []
    for part in _SEPARATORS.split(name):
        for word in _CAMEL.findall(part):
            found.append(singular(word.lower()))
    return tuple(found)


@dataclass(frozen=True, slots=True)
class Entity:
    """What a table's name says it holds: its words, and what was dropped to find them."""

    name: str
    words: tuple[str, ...]
    dropped: tuple[str, ...] = ()

    @property
    def how(self) -> str:
        """The rule, in words: 'the name itself' or what was dropped."""
        if not self.dropped:
            return "the name itself"
        return "dropped " + ", ".join(self.dropped)

    def about(self, event_words: frozenset[str]) -> bool:
        """Whether an event with these words is about this entity (all its words are there)."""
        return bool(self.words) and set(self.words) <= event_words


@functools.lru_cache(maxsize=8192)
def entity(name: str, system: str | None = None) -> Entity:
    """The entity a table holds, from its name; the owning system's name is dropped when it
    leads the name and other words remain (`orders-checkouts` of system orders: checkout).

    Cached: every classification asks it for the same few names.
    """
    kept: list[str] = []
    generated: list[str] = []
    stages: list[str] = []
    storage: list[str] = []
    for part in _SEPARATORS.split(name):
        if not part:
            continue
        if _GENERATED.match(part):
            generated.append(part)
            continue
        if _VERSION.match(part.lower()):
            storage.append(part)
            continue
        for raw in _CAMEL.findall(part):
            word = raw.lower()
            if word in STAGES:
                stages.append(raw)
            elif word in STORAGE or word.isdigit():
                storage.append(raw)
            else:
                kept.append(singular(word))
    if not kept:
        # Nothing but storage words and numbers (`Table7`): the name itself is all there is.
        return Entity(name, tuple(w for w in words(name) if not w.isdigit()))
    dropped: list[str] = []
    if generated:
        dropped.append("the generated suffix " + ", ".join(generated))
    if stages:
        dropped.append("the stage " + ", ".join(stages))
    if storage:
        dropped.append("the storage words and numbers " + ", ".join(storage))
    prefix = words(system) if system else ()
    if prefix and len(kept) > len(prefix) and tuple(kept[: len(prefix)]) == prefix:
        kept = kept[len(prefix) :]
        dropped.append(f"the system prefix {system}")
    if len(set(kept)) < len(kept):
        unique = list(dict.fromkeys(kept))
        dropped.append("a repeated word")
        kept = unique
    plural = [w for w in _SEPARATORS.split(name.lower()) if w and singular(w) != w]
    if plural and not dropped and len(kept) == 1:
        dropped.append("the plural")
    return Entity(name, tuple(kept), tuple(dropped))


def event_words(source: str, detail_type: str) -> frozenset[str]:
    """The words an event is about: those of its detail-type and of its source."""
    return frozenset(words(detail_type) + words(source))
