"""The DataTable every screen uses: Textual's, with column widths that reach the screen."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from textual import events
from textual.widgets import DataTable
from textual.widgets.data_table import RowKey


class Table(DataTable[Any]):
    """A DataTable that draws its rows again once their columns have been measured or its size
    has changed.

    DataTable measures new rows on its next Idle event and caches each drawn row under a key
    that the measuring does not change. A frame drawn between adding the rows and that Idle
    event (a busy machine, a screen shown while its data arrives) caches the rows at the
    provisional widths of the headers, and the table goes on showing them cut until something
    else, a cursor move, invalidates the cache.
    """

    def _update_dimensions(self, new_rows: Iterable[RowKey]) -> None:
        super()._update_dimensions(new_rows)
        # The counter is part of every render cache key: the next frame draws at the new widths.
        self._update_count += 1
        self.refresh()

    def on_resize(self, _: events.Resize) -> None:
        # The same cache, another way in: a row is cached with the blank that extends its style
        # to the table's right edge, sized for the width it was drawn at. The frame drawn when
        # the table's size changes comes before its Resize event; DataTable's handler then bumps
        # the counter but draws nothing, so the rows keep their old extent (a highlighted row
        # stopping short of the edge) until something else repaints.
        self.refresh()
