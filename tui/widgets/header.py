"""Textual's Header, whose title may change while a screen is being taken down."""

from __future__ import annotations

import contextlib

from textual.css.query import NoMatches
from textual.events import Mount
from textual.widget import Widget
from textual.widgets import Header
from textual.widgets._header import HeaderTitle


class SteadyHeader(Header):
    """Header updates its title in a callback that runs after the change: when the header's
    children were taken down by then (a screen popped at once, as the landscape's is on an
    empty store), Textual's callback raised NoMatches and stopped the app; once in CI when a
    screen set its sub-title, and again when the app's title came to name the store's owner
    (the header says `live from the receiver on ...`), which changes while screens come and
    go. Here such a late update is dropped: the header is gone."""

    def _on_mount(self, event: Mount) -> None:
        event.prevent_default()  # not Header's own, whose callback raises
        Widget._on_mount(self, event)

        async def set_title() -> None:
            with contextlib.suppress(NoMatches):
                self.query_one(HeaderTitle).update(self.format_title())

        self.watch(self.app, "title", set_title)
        self.watch(self.app, "sub_title", set_title)
        self.watch(self.screen, "title", set_title)
        self.watch(self.screen, "sub_title", set_title)
