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
from seamscope.tracer.terminal import plural
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

    @property
    def sapp(self) -> SeamscopeApp:
        return cast("SeamscopeApp", self.app)

    async def startup(self) -> None:
        source = self.sapp.source
        if source is None:
            return
        try:
            targets = await asyncio.to_thread(source.run, read.goto_targets)
        except Exception:  # noqa: BLE001 - a locked store: the palette still offers commands
            targets = ()
        self._targets = with_unowned_group(targets)

    def _open(self, target: Target) -> None:
        self.sapp.go_to(target)

    def _text(self, target: Target) -> str:
        return f"{ICON.get(target.kind, ' ')} {target.kind} {target.name}"

    async def search(self, query: str) -> Hits:
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
        for target in self._targets:
            if target.kind in ("system", "group", "rule"):
                yield DiscoveryHit(
                    self._text(target), partial(self._open, target), help=target.detail or None
                )
