"""Go to anything: the command palette (and `:`) finds systems, components, resources, vendors,
edges and rules by fuzzy name and opens them."""

from __future__ import annotations

import asyncio
from functools import partial
from typing import TYPE_CHECKING, cast

from textual.command import DiscoveryHit, Hit, Hits, Provider

from seamscope.classifiers import read
from seamscope.classifiers.read import Target
from seamscope.classifiers.render import UNOWNED_LABEL
from seamscope.tracer.terminal import plural, safe
from seamscope.tui.screens.landscape import UNOWNED

if TYPE_CHECKING:
    from seamscope.tui.app import SeamscopeApp

ICON = {
    "system": "▣",
    "group": "▣",
    "component": "◆",
    "resource": "▤",
    "vendor": "◇",
    "edge": "→",
    "rule": "§",
}


def with_unowned_group(targets: tuple[Target, ...]) -> tuple[Target, ...]:
    """The targets, and after the systems the group of resources of no known owner when there
    are any (the landscape lists it after them): opened as a system is, by its label."""
    unowned = sum(1 for t in targets if t.kind == "resource" and not t.system)
    if not unowned:
        return targets
    systems = sum(1 for t in targets if t.kind == "system")
    group = Target("group", UNOWNED_LABEL, UNOWNED, plural(unowned, "resource"))
    return (*targets[:systems], group, *targets[systems:])


class GoToProvider(Provider):
    """Reads the names once per palette (in a thread: DuckDB never runs on the event loop)."""

    _targets: tuple[Target, ...] = ()
    _problem: str | None = None
    """Why the names could not be read (the palette then says so instead of finding nothing)."""

    @property
    def sapp(self) -> SeamscopeApp:
        return cast("SeamscopeApp", self.app)

    async def startup(self) -> None:
        source = self.sapp.source
        if source is None:
            return
        try:
            targets = await asyncio.to_thread(source.run, read.goto_targets)
        except Exception as exc:  # noqa: BLE001 - a locked store: the palette still offers commands
            first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
            self._problem = safe(first)[:200]
            targets = ()
        self._targets = with_unowned_group(targets)

    def _problem_text(self) -> str:
        return f"✗ the names could not be read ({self._problem}): press Escape and : again"

    def _nothing(self) -> None:
        """Choosing the problem's line does nothing more than close the palette."""

    def _open(self, target: Target) -> None:
        self.sapp.go_to(target)

    def _text(self, target: Target) -> str:
        return f"{ICON.get(target.kind, ' ')} {target.kind} {target.name}"

    async def search(self, query: str) -> Hits:
        if self._problem is not None:
            yield Hit(1.0, self._problem_text(), self._nothing)
        matcher = self.matcher(query)
        for target in self._targets:
            text = self._text(target)
            score = matcher.match(text)
            if score > 0:
                yield Hit(
                    score,
                    matcher.highlight(text),
                    partial(self._open, target),
                    help=target.detail or None,
                )

    async def discover(self) -> Hits:
        if self._problem is not None:
            yield DiscoveryHit(self._problem_text(), self._nothing)
        for target in self._targets:
            if target.kind in ("system", "group", "rule"):
                yield DiscoveryHit(
                    self._text(target), partial(self._open, target), help=target.detail or None
                )
