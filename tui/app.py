"""The seamscope terminal UI: landscape, systems, edges, traces, findings, patterns, SQL; live.

All DuckDB work runs in thread workers that post messages back. A timer asks a worker every
second whether the store moved on (a watermark over batches and edges); only then does the
screen on top reload, so an idle UI costs one tiny query a second.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable, Iterable
from dataclasses import replace
from datetime import UTC, datetime
from typing import Any, cast

from rich.text import Text
from textual import events, work
from textual.app import App, SystemCommand
from textual.binding import Binding
from textual.command import CommandPalette
from textual.filter import Monochrome
from textual.keys import key_to_character
from textual.message import Message
from textual.notifications import SeverityLevel
from textual.screen import ModalScreen, Screen

from seamscope.classifiers import read
from seamscope.classifiers.landscape import LandscapeError
from seamscope.classifiers.read import Filters
from seamscope.classifiers.results import Edge
from seamscope.tracer.errors import SeamscopeError
from seamscope.tracer.store import StoreLocked
from seamscope.tracer.terminal import plural
from seamscope.tui.data import DataSource, Holder, SourceGone, describe_error
from seamscope.tui.goto import GoToProvider
from seamscope.tui.screens.base import DataScreen
from seamscope.tui.screens.dialogs import (
    ConfirmQuit,
    FilterScreen,
    HelpScreen,
    ProblemScreen,
    SearchScreen,
)
from seamscope.tui.screens.edge import EdgeScreen
from seamscope.tui.screens.landscape import UNOWNED, LandscapeScreen, SystemScreen
from seamscope.tui.screens.lists import (
    EdgeListScreen,
    FindingsScreen,
    HistoryScreen,
    PatternsScreen,
)
from seamscope.tui.screens.sql import SqlScreen
from seamscope.tui.screens.trace import TraceScreen
from seamscope.tui.widgets.news import NewsBar
from seamscope.tui.widgets.nocolor import ReadableMonochrome

SourceFactory = Callable[[], DataSource]


class SeamscopeApp(App[None]):
    """Browse how systems really integrate."""

    CSS_PATH = "app.tcss"
    TITLE = "seamscope"
    BINDINGS = [
        Binding("question_mark", "help", "Help"),
        Binding("colon", "go_to", "Go to"),
        Binding("L", "landscape", "Landscape"),
        Binding("n", "findings", "Findings"),
        Binding("p", "patterns", "Patterns"),
        Binding("s", "sql", "SQL"),
        Binding("f", "filter", "Filter"),
        Binding("slash", "search", "Search"),
        Binding("c", "changed_only", "Changed"),
        Binding("H", "history", "History"),
        Binding("r", "refresh", "Refresh", show=False),
        Binding("q", "request_quit", "Quit"),
    ]
    COMMANDS = App.COMMANDS | {GoToProvider}

    class Ready(Message):
        """The store opened; the landscape can be shown."""

        def __init__(self, source: DataSource) -> None:
            super().__init__()
            self.source = source

    class Problem(Message):
        """The store cannot be shown (missing, locked, too new, ...)."""

        def __init__(self, error: BaseException) -> None:
            super().__init__()
            self.error = error

    class HolderChanged(Message):
        """The store's owner, which reads go through, started, stopped or changed."""

        def __init__(self, before: Holder | None, now: Holder | None, first: bool) -> None:
            super().__init__()
            self.before = before
            self.now = now
            self.first = first  # seen as the store opened: nothing changed under the user

    class Waiting(Message):
        """Why the views are not brought up to date now (None: nothing keeps them waiting)."""

        def __init__(self, reason: str | None) -> None:
            super().__init__()
            self.reason = reason

    class DataChanged(Message):
        """The watermark moved: what is on screen may be stale. Bursts replace each other."""

        def __init__(
            self, token: object, findings_before: int | None = None, previous: object = None
        ) -> None:
            super().__init__()
            self.token = token
            self.findings_before = findings_before
            self.previous = previous  # the watermark before the burst

        def can_replace(self, message: Message) -> bool:
            # self is the older message, message the newer one that will be handled instead:
            # it takes over the count before the burst, so no new finding goes unannounced.
            if isinstance(message, SeamscopeApp.DataChanged):
                message.findings_before = self.findings_before
                message.previous = self.previous
                return True
            return False

    def __init__(
        self,
        source_factory: SourceFactory,
        *,
        refresh_interval: float = 1.0,
        description: str = "",
        live: bool = False,
    ) -> None:
        super().__init__()
        self.live = live  # q asks first: quitting stops the receiver (and a demo's fleet)
        self.filter_stack: list[Filters] = []  # earlier filters, for Esc
        self.source_factory = source_factory
        self.source: DataSource | None = None
        self.refresh_interval = refresh_interval
        self.filters = Filters()
        self.sql_history: list[str] = []
        self._token: object = None
        self._poll_failed = False
        self._generation = 0
        self._seen: dict[int, int] = {}
        self.changed: dict[str, str] = {}  # edge id -> "new" / "was A401" since the app opened
        self.hosts: dict[str, str] = {}  # external nodes that are no vendor (read.unknown_hosts)
        self.opened_at = datetime.now(UTC)
        self.news: Text | None = None  # the news line's text (notify)
        self.sub_title = description
        self.holder: Holder | None = None  # the owner the header names (the event loop's)
        self._holder_seen: Holder | None = None  # the workers' last look
        self._holder_looked = False
        self.waiting: str | None = None  # the header says it (the event loop's)
        self._waiting_seen: str | None = None  # the workers' last look
        self._signal_loop: asyncio.AbstractEventLoop | None = None  # for exit_from_signal
        self._exit_asked = False  # a signal before the loop ran
        # Under NO_COLOR, greys in which no text is lost on its background (nocolor.py).
        self._filters = [
            ReadableMonochrome() if type(f) is Monochrome else f for f in self._filters
        ]

    # ---- startup and problems -------------------------------------------------------------

    def on_mount(self) -> None:
        self._signal_loop = asyncio.get_running_loop()
        if self._exit_asked:
            self.exit()
            return
        self._open()
        if self.refresh_interval > 0:
            self.set_interval(self.refresh_interval, self._tick)

    def exit_from_signal(self) -> None:
        """Leaves as with q; for a signal handler. The exit runs in the app's event loop, which
        call_soon_threadsafe wakes at once through its self-pipe, as asyncio's own signal
        handling does: a message posted from the handler itself (App.exit) waited, unnoticed,
        for the loop's next timer, and with no live checks (--refresh 0) for ever."""
        loop = self._signal_loop
        if loop is None:
            self._exit_asked = True  # on_mount leaves
            return
        with contextlib.suppress(RuntimeError):  # the loop has closed: the app has left
            loop.call_soon_threadsafe(self.exit)

    @work(thread=True, exclusive=True, group="open")
    def _open(self) -> None:
        try:
            source = self.source or self.source_factory()
            self.source = source
            source.refresh()
            self._token = source.run(read.watermark)
            self._look_at_holder(source)
        except SeamscopeError as exc:
            self.post_message(self.Problem(exc))
            return
        except Exception as exc:
            self.post_message(self.Problem(exc))
            return
        self.post_message(self.Ready(source))

    def on_seamscope_app_ready(self, message: SeamscopeApp.Ready) -> None:
        self._show_alone(LandscapeScreen())

    def on_seamscope_app_problem(self, message: SeamscopeApp.Problem) -> None:
        error = message.error
        title, advice = describe_error(error)
        text = str(error) or type(error).__name__
        if not isinstance(error, SeamscopeError):
            text = f"{type(error).__name__}: {text}"
        if isinstance(error, SourceGone):
            self.holder = None  # the header no longer says it is live
            self._title_holder()
        self._show_alone(ProblemScreen(title, text, advice))

    def _show_alone(self, screen: Screen[Any]) -> None:
        """screen in place of every screen above the base one. A quit being asked (q while the
        store opened, as a demo's fleet starts) is asked again above it: dropped with the rest,
        the dialog vanished as the landscape came, and the y typed into it did nothing."""
        if self.return_code is not None:
            # Leaving (q and y typed before the store opened, as a demo starts): a screen
            # pushed now mounts while the app takes its screens down, and its on_mount met none
            # of its widgets (NoMatches, a traceback on the terminal).
            return
        asking = any(isinstance(s, ConfirmQuit) for s in self.screen_stack)
        while len(self.screen_stack) > 1:
            self.pop_screen()
        self.push_screen(screen)
        if asking:
            self.action_request_quit()

    def source_or_raise(self) -> DataSource:
        if self.source is None:
            raise SeamscopeError("the store is not open yet")
        return self.source

    def show_empty(self, status: str, span_count: int) -> None:
        """No edges to show yet: say why; the live timer opens the landscape when they come."""
        self._show_alone(ProblemScreen(*self._empty_texts(status, span_count), waiting=True))

    def _empty_texts(self, status: str, span_count: int) -> tuple[str, str, str]:
        """(title, message, advice) of a store without edges yet."""
        if status == "empty":
            where = self.source.description if self.source else ""
            if self.holder is not None:
                return (
                    "The store is empty",
                    f"{where}: no spans yet; {self.holder.name} owns it.",
                    f"Point OpenTelemetry SDKs or a Collector at {self.holder.url}/v1/traces "
                    "(OTLP/HTTP), or run services under opentelemetry-instrument with this "
                    "store. New spans show up here by themselves.",
                )
            return (
                "The store is empty",
                f"{where}: no spans yet.",
                "Run services under opentelemetry-instrument with this store, send OTLP to "
                "`seamscope tui --collect`, or load files with `seamscope ingest`. "
                "New spans show up here by themselves.",
            )
        if self.holder is not None and not self.holder.classifies:
            advice = (
                f"{self.holder.name} stores spans without classifying them (`seamscope collect "
                "--no-classify`): restart it without that flag, or run `seamscope edges` once it "
                "has stopped."
            )
        elif self.live or self.holder is not None:
            advice = (
                "The receiver classifies the spans it takes: the landscape opens by itself as "
                "soon as it has."
            )
        else:
            advice = (
                "The classifier has not run over this store. Open it with a seamscope that "
                "includes the classifiers, or run `seamscope edges` once. Press r to retry."
            )
        return (
            "Spans, but no edges yet",
            f"{plural(span_count, 'span')} stored, none classified.",
            advice,
        )

    def notify(
        self,
        message: str,
        *,
        title: str = "",
        severity: SeverityLevel = "information",
        timeout: float | None = None,
        markup: bool = True,
    ) -> None:
        """Said on the news line above the footer, never in a toast over the data."""
        style = {"error": "bold red", "warning": "yellow"}.get(severity, "")
        now = datetime.now().strftime("%H:%M:%S")
        self.news = Text.assemble(
            (f"{now} ", "dim"), (f"{title}: " if title else "", f"{style} bold"), (message, style)
        )
        for bar in self.screen.query(NewsBar):
            bar.show_news(self.news)

    def report_error(self, error: Exception) -> None:
        """A screen's load failed: a locked store is transient, anything else gets a screen."""
        if isinstance(error, StoreLocked):
            self.notify(
                str(error),
                title="Store busy, retrying",
                severity="warning",
                timeout=3,
                markup=False,
            )
            return
        if isinstance(error, SeamscopeError):
            self.post_message(self.Problem(error))
            return
        self.notify(
            f"{type(error).__name__}: {error}", title="Query failed", severity="error", markup=False
        )

    def action_retry(self) -> None:
        self._open()

    # ---- live refresh ----------------------------------------------------------------------

    def _tick(self) -> None:
        if self.source is not None:
            self._poll()

    @work(thread=True, exclusive=True, group="refresh")
    def _poll(self) -> None:
        source = self.source
        if source is None:
            return
        try:
            changed = source.may_have_changed()
            self._look_at_holder(source)
            if not changed and not self._poll_failed:
                return
            self._poll_failed = False
            source.refresh()
            self._look_at_waiting(source)
            edges = isinstance(self._token, read.Watermark) and self._token.classified is not None
            token = source.run(lambda q: read.watermark(q, edges))
        except (LandscapeError, SourceGone) as exc:
            self._poll_failed = True
            self._token = None  # once the file is mended, the next poll opens the store again
            self.post_message(self.Problem(exc))
            return
        except Exception:
            self._poll_failed = True
            return  # locked for a moment, or gone: the next tick tries again
        if token != self._token:
            before, previous = read.finding_count(self._token), self._token
            self._token = token
            self.post_message(self.DataChanged(token, before, previous))

    def _look_at_waiting(self, source: DataSource) -> None:
        """In a worker: tells the event loop when a refresh began or stopped giving way to a
        person's query (the header says why the views wait)."""
        now = source.waiting()
        if now != self._waiting_seen:
            self._waiting_seen = now
            self.post_message(self.Waiting(now))

    def on_seamscope_app_waiting(self, message: SeamscopeApp.Waiting) -> None:
        self.waiting = message.reason
        self._title_holder()

    def _look_at_holder(self, source: DataSource) -> None:
        """In a worker: tells the event loop when the store's owner started, stopped or changed
        since the last look (the header names it)."""
        now = source.holder()
        if self._holder_looked and now == self._holder_seen:
            return
        before, first = self._holder_seen, not self._holder_looked
        self._holder_seen, self._holder_looked = now, True
        self.post_message(self.HolderChanged(before, now, first))

    def on_seamscope_app_holder_changed(self, message: SeamscopeApp.HolderChanged) -> None:
        """The header's title says whom the TUI reads through; the news line says when that
        changed while it ran."""
        now = message.now
        self.holder = now
        self._title_holder()
        if message.first:
            return
        if now is not None:
            self.notify(f"{now.name} owns the store now: reading through it", title="Live")
        elif message.before is not None:
            self.notify(
                # One line at 100 columns: what is written to the file from now on is
                # classified here (docs/tui.md says so).
                f"{message.before.name} stopped: reading the store file itself",
                title="Receiver gone",
                severity="warning",
            )

    TITLE_ROOM = 20 + 3 + 28
    """Of the terminal's width, what the title cannot have: the header's icon and clock space,
    the dash and a screen's sub-title (`Resources of no known owner`, the longest usual one)."""

    def _title_holder(self, width: int | None = None) -> None:
        """The title names the owner whole where the width leaves it room, else its address, else
        only that it is live: at 100 columns the whole name cut the screen's own title
        (`— System landsc…`)."""
        holder = self.holder
        if holder is None:
            self.title = self.TITLE if self.waiting is None else f"{self.TITLE} · {self.waiting}"
            return
        room = (width or self.size.width) - self.TITLE_ROOM
        address = holder.url.removeprefix("http://")
        forms = [f"{self.TITLE} · live from {holder.name}", f"{self.TITLE} · live from {address}"]
        self.title = next((f for f in forms if len(f) <= room), f"{self.TITLE} · live")

    def on_resize(self, event: events.Resize) -> None:
        self._title_holder(event.size.width)  # (self.size is the old size until App's handler)

    def on_seamscope_app_data_changed(self, message: SeamscopeApp.DataChanged) -> None:
        screen = self.screen
        fresh = isinstance(screen, DataScreen) and not self.stale(screen)
        self._generation += 1
        now = read.finding_count(message.token)
        before = message.findings_before
        if now is not None and before is not None and now > before:
            new = now - before
            self.notify(
                f"{new} new finding{'s' if new > 1 else ''}: n lists them, c shows only what "
                "changed since you opened",
                title="Live",
                severity="warning",
            )
        if isinstance(screen, DataScreen):
            token = message.token
            if (
                fresh
                and isinstance(token, read.Watermark)
                and read.only_spans_moved(message.previous, token)
                and screen.new_spans(token.spans)
            ):
                # Only spans came, the classifier has not run since: nothing read from its
                # tables changed, and the screen showed the new count without a round trip.
                self.mark_fresh(screen)
            else:
                screen.reload()
        elif isinstance(screen, ProblemScreen):
            token = message.token
            if screen.waiting and isinstance(token, read.Watermark) and token.classified is None:
                # Still no edges: say so in place. Opening the landscape only to find that would
                # push and pop two screens on every change (a flash, and Textual's Header once
                # failed on a header being taken down).
                status = "empty" if token.spans == 0 else "unclassified"
                screen.say(*self._empty_texts(status, token.spans))
            else:
                self._open()

    def stale(self, screen: Screen[Any]) -> bool:
        return self._seen.get(id(screen), -1) != self._generation

    def mark_fresh(self, screen: Screen[Any]) -> None:
        self._seen[id(screen)] = self._generation

    def action_refresh(self) -> None:
        self._generation += 1
        if isinstance(self.screen, DataScreen):
            self.screen.reload(afresh=True)
        elif isinstance(self.screen, ProblemScreen):
            self._open()

    # ---- navigation ------------------------------------------------------------------------

    _BROWSING_ACTIONS = frozenset(
        {
            "landscape",
            "findings",
            "patterns",
            "sql",
            "filter",
            "search",
            "refresh",
            "go_to",
            "changed_only",
            "history",
        }
    )

    _CHARACTERS = {"slash": "/"}
    """Keys of ours whose character Textual's key_to_character does not know (8.x)."""

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        """Keys that would do nothing (no store to browse yet, or the screen they open is in
        front), or that the focused widget types as text, are not offered in the footer."""
        if action in self._BROWSING_ACTIONS and not (
            self._browsing() or isinstance(self.screen, ModalScreen)
        ):
            return False
        if self._in_front(action):
            return False  # the screen it opens is in front: the key would do nothing
        return not self._typed_by_focus(action)

    def _in_front(self, action: str) -> bool:
        """Whether the screen action opens is the one in front. The edges of one rule (Enter on
        a pattern, `:` to a rule) are a FindingsScreen too, but not the findings: there `n`
        did nothing and was offered nowhere, where a user expects the list of every finding."""
        screen = self.screen
        if isinstance(screen, FindingsScreen) and screen.rule is not None:
            return False
        return isinstance(screen, self._SHOWN_BY.get(action, ()))

    _SHOWN_BY: dict[str, type[Screen[Any]]] = {
        "landscape": LandscapeScreen,
        "findings": FindingsScreen,
        "patterns": PatternsScreen,
        "history": HistoryScreen,
        "sql": SqlScreen,
    }
    """The screen each of these actions opens: on it, the action does nothing (the footer of the
    findings offered `n Findings`, taking the room of a key that works)."""

    def _typed_by_focus(self, action: str) -> bool:
        """Whether the focused widget (the SQL editor) takes every key bound to action as text.
        Textual leaves such keys out of the footer by their character, and lets through those
        whose name it cannot turn into one: `/ Search` was shown over the editor, where `/`
        types."""
        typed = [
            (key, key_to_character(key) or self._CHARACTERS.get(key))
            for key, bindings in self._bindings.key_to_bindings.items()
            if any(b.action == action for b in bindings)
        ]
        if not typed or any(character is None for _, character in typed):
            return False  # a key that types nothing (Ctrl+Q) works everywhere
        # The app's keys are the footer's of the top screen that is no dialog: a dialog's own
        # footer has none of them, while the one under it shows them as that screen has them.
        screen = next(
            (s for s in reversed(self.screen_stack) if not isinstance(s, ModalScreen)), None
        )
        focused = screen.focused if screen is not None else None
        return focused is not None and all(focused.check_consume_key(*key) for key in typed)

    def _browsing(self) -> bool:
        return self.source is not None and not isinstance(self.screen, ProblemScreen | ModalScreen)

    def open_system(self, system: str, select: str | None = None) -> None:
        """A system's screen (UNOWNED: the resources of no known owner), select highlighted."""
        self.push_screen(SystemScreen(system, select=select))

    def open_pair(self, source: str, target: str) -> None:
        """The edges from one map box to another."""
        name = {"system": "", "external": ""}

        def label(node: str) -> str:
            kind, _, rest = node.partition(":")
            return rest if kind in name else node

        filters = self.filters
        self.push_screen(
            EdgeListScreen(
                f"Edges {label(source)} → {label(target)}",
                lambda q: read.pair_edges(q, source, target, filters),
            )
        )

    def go_to(self, target: read.Target) -> None:
        """Opens what the go-to palette found."""
        if target.kind in ("system", "group"):  # group: the resources of no known owner
            self.open_system(target.key)
        elif target.kind == "component" and target.system:
            self.open_system(target.system, select=target.key)
        elif target.kind == "edge":
            self.open_edge(target.key)
        elif target.kind == "rule":
            self.push_screen(FindingsScreen(rule=target.key))
        elif target.kind == "resource" and target.system:
            self.open_system(target.system, select=target.key)
        elif target.kind == "resource":
            # No known system owns it: among the resources of no known owner, with its edges
            # (an edge list of it alone said nothing of why it has no owner).
            self.open_system(UNOWNED, select=target.key)
        else:
            node = target.key
            self.push_screen(
                EdgeListScreen(
                    f"Edges of {target.name}",
                    lambda q: read.all_edges(q, Filters(component=node)),
                )
            )

    def action_go_to(self) -> None:
        """`:` as in k9s: the palette with only what can be gone to."""
        if self._browsing() and not CommandPalette.is_open(cast(App[object], self)):
            self.push_screen(
                CommandPalette(
                    providers=[GoToProvider],
                    placeholder="Go to a system, component, resource, vendor, edge or rule…",
                )
            )

    def action_help_quit(self) -> None:
        """Ctrl+C (Textual's binding, which no longer quits): says how to quit. Textual's own
        line is markup, which the news line shows as plain text ("[b]ctrl+q[/b]")."""
        asks = " (it asks first)" if self.live else ""
        self.notify(f"q quits{asks}; Ctrl+Q quits at once", title="Ctrl+C does not quit")

    def action_request_quit(self) -> None:
        """q: a live session (the receiver, a demo's fleet) ends only when confirmed."""
        if not self.live:
            self.exit()
            return

        def answer(yes: bool | None) -> None:
            if yes:
                self.exit()

        if not isinstance(self.screen, ConfirmQuit):
            self.push_screen(ConfirmQuit(), answer)

    def change_marks(self, edges: Iterable[Edge]) -> dict[str, str]:
        """ "new" or "changed" for the edges that appeared or changed rule since the app opened."""
        return {e.edge_id: self.changed[e.edge_id] for e in edges if e.edge_id in self.changed}

    def open_edge(self, edge_id: str) -> None:
        self.push_screen(EdgeScreen(edge_id))

    def open_trace(self, trace_id: str, *, edge_id: str | None, span_id: str | None) -> None:
        self.push_screen(TraceScreen(trace_id, edge_id=edge_id, span_id=span_id))

    def action_landscape(self) -> None:
        if not self._browsing():
            return
        while len(self.screen_stack) > 2:
            self.pop_screen()
        if isinstance(self.screen, DataScreen) and self.stale(self.screen):
            self.screen.reload()

    def action_findings(self) -> None:
        if self._browsing() and not self._in_front("findings"):
            self.push_screen(FindingsScreen())

    def action_patterns(self) -> None:
        if self._browsing() and not isinstance(self.screen, PatternsScreen):
            self.push_screen(PatternsScreen())

    def action_sql(self) -> None:
        if self._browsing() and not isinstance(self.screen, SqlScreen):
            self.push_screen(SqlScreen.for_terminal(self.sql_history))

    def action_help(self) -> None:
        if isinstance(self.screen, HelpScreen):
            return
        keys: list[tuple[str, str]] = []
        seen: set[str] = set()
        for active in self.screen.active_bindings.values():
            binding = active.binding
            if binding.show and binding.description and binding.description not in seen:
                seen.add(binding.description)
                keys.append((self.get_key_display(binding), binding.description))
        keys += [
            ("↑ ↓ ← →  h j k l", "Move in the focus view, the matrix and the tables; scroll text"),
            (
                "j k on the centre",
                "The next or previous system, component or resource: the list's rows, which "
                "step aside below 120 columns",
            ),
            ("g G  ctrl+d ctrl+u", "First and last row (top and bottom), a page down and up"),
            ("tab", "Next pane (every pane that takes keys, and only those)"),
            ("ctrl+p", "Command palette: every action, and go to anything by name"),
            ("ctrl+q", "Quit at once (q asks first while receiving live)"),
        ]
        if "Back" not in seen:
            keys.append(("escape", "Back"))
        self.push_screen(HelpScreen(keys))

    def action_filter(self) -> None:
        if not self._browsing():
            return

        def apply(result: Filters | None) -> None:
            if result is not None:
                self._set_filters(result)

        self.push_screen(FilterScreen(self.filters), apply)

    def action_search(self) -> None:
        if not self._browsing():
            return

        before = self.filters

        def preview(text: str) -> None:
            """As it is typed: the screen below narrows (k9s filters as you type)."""
            self._set_filters(before.with_search(text.strip()), remember=False)

        def apply(result: str | None) -> None:
            # Enter keeps the search, as one step that Esc takes back; Esc puts back what was.
            # The preview shows it already: no second read.
            target = before if result is None else before.with_search(result)
            if target != before:
                self.filter_stack.append(before)
            self._set_filters(target, remember=False)

        self.push_screen(SearchScreen(self.filters.search, preview), apply)

    def action_changed_only(self) -> None:
        """c: only the edges that appeared or changed rule since the TUI opened (again: all)."""
        if not self._browsing():
            return
        since = None if self.filters.changed_since else self.opened_at
        self._set_filters(replace(self.filters, changed_since=since))

    def action_history(self) -> None:
        if self._browsing() and not isinstance(self.screen, HistoryScreen):
            self.push_screen(HistoryScreen())

    def action_clear_filters(self) -> None:
        self._set_filters(Filters())

    def _set_filters(self, filters: Filters, *, remember: bool = True) -> None:
        if filters == self.filters:
            return
        if remember:
            self.filter_stack.append(self.filters)
        self.filters = filters
        self._generation += 1
        # The screen the data is on: under a dialog (a search as it is typed), the one below.
        below = (s for s in reversed(self.screen_stack) if not isinstance(s, ModalScreen))
        shown = next(below, None)
        if isinstance(shown, DataScreen):
            shown.reload()
        if shown is not None:
            # Its footer offers `esc Clear filter` while a filter is set: c, which changes the
            # filters without a dialog closing over the screen, left it as it was.
            shown.refresh_bindings()

    def undo_filter(self) -> bool:
        """Esc: back to the filters before the last one; False when nothing is filtered."""
        if self.filters == Filters():
            self.filter_stack.clear()
            return False
        previous = self.filter_stack.pop() if self.filter_stack else Filters()
        self._set_filters(previous, remember=False)
        return True

    def get_system_commands(self, screen: Screen[Any]) -> Iterable[SystemCommand]:
        # Textual's "Keys" opens its own panel of the focused widget's keys: a second help
        # beside ours (?), which lists every key of the screen; the palette offers ours once.
        theirs = (self.action_show_help_panel, self.action_hide_help_panel)
        yield from (c for c in super().get_system_commands(screen) if c.callback not in theirs)
        for title, help_text, callback in (
            ("Landscape", "The system landscape map and its edges", self.action_landscape),
            ("Findings", "Anti-patterns and smells, worst first", self.action_findings),
            ("Patterns", "The rule catalog with edge counts", self.action_patterns),
            ("SQL console", "Read-only SQL over the store", self.action_sql),
            (
                "Filter",
                "Filter by system, component, mechanism, verdict, rule, time",
                self.action_filter,
            ),
            ("Search", "Search edges by text", self.action_search),
            ("Clear filters", "Show everything again", self.action_clear_filters),
            (
                "Changed since opened",
                "Only edges new or relabelled since the TUI opened (c)",
                self.action_changed_only,
            ),
            (
                "History",
                "Every label change, newest first, with its cause (H)",
                self.action_history,
            ),
            (
                "Go to",
                "A system, component, resource, vendor, edge or rule by name (:)",
                self.action_go_to,
            ),
            ("Refresh", "Reload the current screen now", self.action_refresh),
            (
                "Help and keys",
                "Every key of this screen, the screens, the colours (?)",
                self.action_help,
            ),
        ):
            yield SystemCommand(title, help_text, callback)

    def on_unmount(self) -> None:
        if self.source is not None:
            try:
                self.source.close()
            except Exception:
                pass
