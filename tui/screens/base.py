"""What every data screen shares: loading in a thread worker, tables that keep their cursor."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Generic, TypeVar, cast

from textual import work
from textual.binding import Binding
from textual.message import Message
from textual.screen import Screen

from seamscope.classifiers import read
from seamscope.classifiers.read import Filters
from seamscope.tracer.access import Query
from seamscope.tracer.errors import SeamscopeError
from seamscope.tui.data import DataSource
from seamscope.tui.widgets.news import NewsBar

if TYPE_CHECKING:
    from seamscope.tui.app import SeamscopeApp

T = TypeVar("T")


def marks_of(changed: dict[str, str | None]) -> dict[str, str]:
    """The Changed column's text of each edge that appeared or changed rule (edge id -> its
    rule before, None when it is new)."""
    return {edge_id: "new" if old is None else f"was {old}" for edge_id, old in changed.items()}


class DataScreen(Screen[None], Generic[T]):
    """A screen whose content comes from the store. `reload()` fetches it in a thread worker."""

    BINDINGS = [
        Binding("escape", "clear_filter", "Clear filter"),
        Binding("escape", "back", "Back"),
    ]

    class Loaded(Message):
        """Fresh data for the screen, from its worker."""

        def __init__(self, payload: object) -> None:
            super().__init__()
            self.payload = payload

    class Failed(Message):
        def __init__(self, error: Exception) -> None:
            super().__init__()
            self.error = error

    @property
    def sapp(self) -> SeamscopeApp:
        return cast("SeamscopeApp", self.app)

    @property
    def source(self) -> DataSource:
        return self.sapp.source_or_raise()

    @property
    def filters(self) -> Filters:
        return self.sapp.filters

    def marks(self, q: Query) -> dict[str, str]:
        """Runs in the worker: "new" or "was <rule>" for the edges that appeared or changed
        rule since the app opened (the tables' Changed column)."""
        changes = read.changes_since(q, self.sapp.opened_at)
        return marks_of({edge_id: c.old_rule_id for edge_id, c in changes.items()})

    def fetch(self, q: Query) -> T:
        """Runs in the worker thread: everything the screen shows, as plain records."""
        raise NotImplementedError

    def show(self, payload: T) -> None:
        """Runs on the event loop: puts the records into the widgets."""
        raise NotImplementedError

    loading = False  # a fetch is under way

    READS_HOSTS = True
    """The fetch also reads which external nodes are no vendor (read.unknown_hosts), for the
    names of the ends (cells.short_node); a screen that names none, or reads them with its own
    data, says False."""

    def new_spans(self, spans: int) -> bool:
        """Only spans came since the data on screen was read (the classifier's tables, and so
        everything read from them, are as they were; the store now holds `spans`). True when
        the screen showed that without fetching again; False, the default, to fetch again."""
        return False

    def on_mount(self) -> None:
        self.reload()

    def on_screen_resume(self) -> None:
        for bar in self.query(NewsBar):
            bar.show_news(self.sapp.news)
        if self.sapp.stale(self):
            self.reload()

    def reload(self, *, afresh: bool = False) -> None:
        """Fetches the screen's data again; afresh: all of it, nothing kept from before (r)."""
        self.sapp.mark_fresh(self)
        if afresh:
            self.forget()
        self.loading = True
        self._load()

    def forget(self) -> None:
        """Drops what the next fetch would build on (a screen that merges changes keeps some)."""

    @work(thread=True, exclusive=True, group="load")
    def _load(self) -> None:
        fetch: Callable[[Query], T] = self.fetch

        def fetch_all(q: Query) -> tuple[T, dict[str, str] | None]:
            return fetch(q), read.unknown_hosts(q) if self.READS_HOSTS else None

        try:
            payload = self.source.run(fetch_all)
        except SeamscopeError as exc:
            self.post_message(self.Failed(exc))
            return
        except Exception as exc:  # a query error must not take the app down
            self.post_message(self.Failed(exc))
            return
        self.post_message(self.Loaded(payload))

    def on_data_screen_loaded(self, message: DataScreen.Loaded) -> None:
        message.stop()
        self.loading = False
        payload, hosts = cast("tuple[T, dict[str, str] | None]", message.payload)
        if hosts is not None:
            self.sapp.hosts = hosts
        self.show(payload)

    def on_data_screen_failed(self, message: DataScreen.Failed) -> None:
        message.stop()
        self.loading = False
        self.sapp.report_error(message.error)

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        """Esc says what it will do: clear the last filter while one is set, else go back."""
        if action == "clear_filter":
            return self.filters != Filters()
        if action == "back":
            return self.filters == Filters() and len(self.app.screen_stack) > 2
        return True

    def action_clear_filter(self) -> None:
        self.sapp.undo_filter()
        self.refresh_bindings()

    def action_back(self) -> None:
        if self.sapp.undo_filter():
            self.refresh_bindings()
        elif len(self.app.screen_stack) > 2:
            self.app.pop_screen()
