"""Go to anything: the command palette (and `:`) finds systems, components, resources, vendors,
edges and rules by fuzzy name and opens them."""

from __future__ import annotations

import asyncio
from functools import partial
from typing import TYPE_CHECKING, cast

from textual.command import DiscoveryHit, Hit, Hits, Provider

from seamscope.classifiers import read
from seamscope.classifiers.read import Target

if TYPE_CHECKING:
    from seamscope.tui.app import SeamscopeApp

ICON = {
    "system": "▣",
    "component": "◆",
    "resource": "▤",
    "vendor": "◇",
    "edge": "→",
    "rule": "§",
}


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
            self._targets = await asyncio.to_thread(source.run, read.goto_targets)
        except Exception:  # noqa: BLE001 - a locked store: the palette still offers commands
            self._targets = ()

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
            if target.kind in ("system", "rule"):
                yield DiscoveryHit(
                    self._text(target), partial(self._open, target), help=target.detail or None
                )
