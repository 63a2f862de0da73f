"""The classifier's results, declared once: the verdict a rule gives an edge, with the rank that
orders findings worst first and the style every front end shows it in."""

from __future__ import annotations

from collections.abc import Iterable
from enum import StrEnum


class Verdict(StrEnum):
    """What a rule says of an integration (the store keeps the value)."""

    PATTERN = "pattern"
    SMELL = "smell"
    ANTI_PATTERN = "anti-pattern"
    UNCLASSIFIED = "unclassified"

    @property
    def rank(self) -> int:
        """0 for the worst: findings, edge lists and map arrows sort by it."""
        return _LOOK[self][0]

    @property
    def style(self) -> str:
        """The Rich style it is shown in (the TUI, the command line, the demo)."""
        return _LOOK[self][1]

    @property
    def is_finding(self) -> bool:
        """Anti-patterns and smells are findings (`seamscope check`, the findings view)."""
        return self in FINDINGS

    @classmethod
    def worst_first(cls) -> tuple[Verdict, ...]:
        return tuple(sorted(cls, key=lambda v: v.rank))


_LOOK: dict[Verdict, tuple[int, str]] = {
    Verdict.ANTI_PATTERN: (0, "bold red"),
    Verdict.SMELL: (1, "yellow"),
    Verdict.UNCLASSIFIED: (2, "bright_blue"),
    Verdict.PATTERN: (3, "green"),
}
FINDINGS: tuple[Verdict, ...] = (Verdict.ANTI_PATTERN, Verdict.SMELL)


def sql_list(values: Iterable[str]) -> str:
    """Values as a SQL list: ``('anti-pattern', 'smell')``."""
    return "(" + ", ".join(f"'{v}'" for v in values) + ")"


def verdict_rank_sql(column: str = "verdict") -> str:
    """A SQL expression ranking a verdict column as Verdict.rank does."""
    whens = " ".join(f"WHEN '{v}' THEN {v.rank}" for v in Verdict.worst_first())
    return f"CASE {column} {whens} ELSE {len(Verdict)} END"
