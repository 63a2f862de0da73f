"""A read-only SQL console as harlequin has it: a multi-line editor run with a key, a history,
the schema with its columns, errors where the result would be, and the result saved as CSV.

A query runs in a worker while the screen shows how long it has run; Ctrl+C stops it (the
DuckDB CLI's key), and so does leaving the screen. One query runs at a time: Ctrl+J while one
runs says so and leaves it running."""

from __future__ import annotations

import os
import time
from pathlib import Path
from typing import cast

import pyarrow as pa
from rich.text import Text
from textual import work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.message import Message
from textual.screen import ModalScreen, Screen
from textual.timer import Timer
from textual.widgets import ContentSwitcher, Input, OptionList, Static, TextArea, Tree
from textual.widgets.tree import TreeNode

from seamscope.classifiers import read
from seamscope.tracer.terminal import plural
from seamscope.tracer.usersql import QueryStop, SqlStopped, cell_text, python_rows, write_csv
from seamscope.tui.data import DataSource
from seamscope.tui.widgets.cells import plain
from seamscope.tui.widgets.footer import SteadyFooter
from seamscope.tui.widgets.header import SteadyHeader
from seamscope.tui.widgets.news import NewsBar
from seamscope.tui.widgets.tables import NavTable

MAX_ROWS = 1000
EXAMPLE = "SELECT mechanism, verdict, count(*) AS edges\nFROM edges\nGROUP BY ALL\nORDER BY ALL"


def is_number(kind: pa.DataType) -> bool:
    """Whether a result column holds numbers (integers, floats, decimals): right-aligned."""
    return bool(
        pa.types.is_integer(kind) or pa.types.is_floating(kind) or pa.types.is_decimal(kind)
    )


def aligned(cell: Text, right: bool) -> Text:
    """cell right-aligned in a number column."""
    if right:
        cell.justify = "right"
    return cell


INTERNAL = "classifier_"
"""The prefix of the classifier's own tables (docs/schema.md: internal, may change)."""


def short_kind(kind: str) -> str:
    """A column's type as the schema list says it: in lower case, in DuckDB's short name
    where it has one (timestamptz), a struct's or map's fields left out (the list was as wide
    as `STRUCT(bus VARCHAR, "source" VARCHAR, detail_type VARCHAR)[]`)."""
    kind = kind.lower().replace("timestamp with time zone", "timestamptz")
    for nested in ("struct", "map", "union"):
        if kind.startswith(f"{nested}("):
            return nested + ("[]" if kind.endswith("[]") else "")
    return kind


class SqlScreen(Screen[None]):
    """Ctrl+J (or F5) runs the editor's text, or its selection, and Ctrl+C stops it while it
    runs; Ctrl+N empties it; Ctrl+↑/↓ step through the history; F8 picks from it; Ctrl+S saves
    the result as CSV; Ctrl+B (or F9) hides or shows the schema and history pane."""

    BINDINGS = [
        Binding("ctrl+j,ctrl+enter,f5", "run", "Run", priority=True),
        # Only while a query runs (check_action): otherwise Ctrl+C copies, as in any editor.
        Binding("ctrl+c", "stop", "Stop query", priority=True),
        Binding("ctrl+up", "history(1)", "Older", show=False, priority=True),
        Binding("ctrl+down", "history(-1)", "Newer", show=False, priority=True),
        Binding("f8", "focus_history", "History"),
        # Two keys of one action: the footer and the help name the one shown (Ctrl+B,
        # harlequin's key; TmuxSqlScreen shows F9 instead). Both work everywhere.
        Binding("ctrl+b", "toggle_side", "Schema", priority=True),
        Binding("f9", "toggle_side", "Schema", show=False, priority=True),
        Binding("ctrl+n", "new_query", "New", priority=True),
        Binding("ctrl+s", "export", "Save CSV", priority=True),
        Binding("escape", "back", "Back"),
    ]

    class Result(Message):
        def __init__(
            self,
            sql: str,
            table: pa.Table | None,
            error: str | None,
            seconds: float,
            *,
            stopped: bool = False,
        ) -> None:
            super().__init__()
            self.sql = sql
            self.table = table
            self.error = error
            self.seconds = seconds
            self.stopped = stopped

    class Schema(Message):
        def __init__(self, tables: tuple[tuple[str, tuple[tuple[str, str], ...]], ...]) -> None:
            super().__init__()
            self.tables = tables

    def __init__(self, history: list[str]) -> None:
        super().__init__()
        self.history = history  # oldest first, shared with the app: it outlives the screen
        self._step = 0  # how far back Ctrl+Up went (0: the text being edited)
        self._draft = ""
        self.result: pa.Table | None = None
        self.running: QueryStop | None = None  # the query under way, None when none runs
        self._started = 0.0
        self._clock: Timer | None = None

    @staticmethod
    def for_terminal(history: list[str]) -> SqlScreen:
        """The SQL screen for the terminal the TUI runs in: TmuxSqlScreen inside tmux."""
        return TmuxSqlScreen(history) if os.environ.get("TMUX") else SqlScreen(history)

    def compose(self) -> ComposeResult:
        yield SteadyHeader()
        with Horizontal(id="sql-panes"):
            with Vertical(id="sql-side"):
                yield Static("Schema", classes="caption")
                yield Tree("store", id="sql-schema")
                yield Static("History (F8, Ctrl+↑ ↓)", classes="caption")
                yield OptionList(*self._history_options(), id="sql-history")
            with Vertical(id="sql-main"):
                yield TextArea(
                    self.history[-1] if self.history else EXAMPLE,
                    id="sql-editor",
                    show_line_numbers=True,
                    soft_wrap=False,
                )
                yield Static(
                    "Ctrl+J or F5 runs the text (or the selection), read-only", id="sql-status"
                )
                with ContentSwitcher(initial="sql-result", id="sql-out"):
                    yield NavTable(id="sql-result")
                    yield Static("", id="sql-error")
        yield NewsBar()
        yield SteadyFooter()

    def _history_options(self) -> list[Text]:
        """Newest first, as Text: a query is shown as typed, never read as markup."""
        return [Text(" ".join(sql.split())) for sql in reversed(self.history)]

    def on_mount(self) -> None:
        self.sub_title = "SQL (read-only)"
        self.query_one("#sql-schema", Tree).show_root = False
        editor = self.query_one("#sql-editor", TextArea)
        # Selected, as an address bar's: typing replaces it, an arrow keeps it (with the cursor
        # before it, typed text went in front of the example and ran as a syntax error).
        editor.select_all()
        editor.focus()
        self._load_schema()

    @property
    def source(self) -> DataSource:
        from seamscope.tui.app import SeamscopeApp

        return cast(SeamscopeApp, self.app).source_or_raise()

    # ---- the schema ------------------------------------------------------------------------

    @work(thread=True, exclusive=True, group="sql-schema")
    def _load_schema(self) -> None:
        try:
            tables = self.source.run(read.schema_columns)
        except Exception:  # noqa: BLE001 - a locked store: the console still runs queries
            return
        self.post_message(self.Schema(tables))

    def on_sql_screen_schema(self, message: SqlScreen.Schema) -> None:
        tree = self.query_one("#sql-schema", Tree)
        tree.clear()
        # The public tables and views first; the classifier's own (docs/schema.md: internal)
        # under one node, closed (Enter opens it): at 100 columns they came first and filled
        # the pane.
        public = [t for t in message.tables if not t[0].startswith(INTERNAL)]
        internal = [t for t in message.tables if t[0].startswith(INTERNAL)]

        def add(parent: TreeNode[str], table: str, columns: tuple[tuple[str, str], ...]) -> None:
            node = parent.add(Text(table, style="bold"), data=table)
            for column, kind in columns:
                node.add_leaf(Text.assemble(column, (f" {short_kind(kind)}", "dim")), data=column)

        for table, columns in public:
            add(tree.root, table, columns)
        if internal:
            more = tree.root.add(
                Text.assemble(("internal ", "dim"), (f"{INTERNAL}*", "dim bold")), data=None
            )
            for table, columns in internal:
                add(more, table, columns)
        tree.root.expand()

    def on_tree_node_selected(self, event: Tree.NodeSelected[str]) -> None:
        """A table or column picked in the schema goes into the editor at the cursor."""
        if event.node.data and not event.node.children:
            self.query_one("#sql-editor", TextArea).insert(str(event.node.data))

    # ---- running ---------------------------------------------------------------------------

    def action_run(self) -> None:
        editor = self.query_one("#sql-editor", TextArea)
        sql = (editor.selected_text or editor.text).strip()
        if not sql:
            return
        if self.running is not None:
            self.notify(
                "A query is running: Ctrl+C stops it, then run this one.",
                title="One query at a time",
                severity="warning",
            )
            return
        self.running = stop = QueryStop()
        self._started = time.monotonic()
        self._show_running()
        self._clock = self.set_interval(0.1, self._show_running)
        self.refresh_bindings()
        self._run(sql, stop)

    def _show_running(self) -> None:
        """The time the query has run so far: it is working, not stuck."""
        seconds = time.monotonic() - self._started
        stopping = self.running is not None and self.running.stopped
        text = "Stopping…" if stopping else "Running…"
        self.query_one("#sql-status", Static).update(
            Text(f"{text} {seconds:.1f} s · Ctrl+C stops it", style="italic")
        )

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if action == "stop":
            return self.running is not None  # in the footer only while a query runs
        return True

    def action_stop(self) -> None:
        """Stops the running query: its cursor is interrupted, or its request to the owner
        closed; the result pane says it was stopped."""
        if self.running is not None:
            self.running.stop()
            self._show_running()

    def stop_query(self) -> None:
        if self.running is not None:
            self.running.stop()

    def on_screen_suspend(self) -> None:
        # Another screen is shown in its place (n, p, :): the query would run on unseen. A
        # dialog over it (help, the save box) keeps it running.
        def left() -> None:
            if not isinstance(self.app.screen, ModalScreen) and self.app.screen is not self:
                self.stop_query()

        self.app.call_after_refresh(left)

    def on_unmount(self) -> None:
        self.stop_query()

    @work(thread=True, exclusive=True, group="sql")
    def _run(self, sql: str, stop: QueryStop) -> None:
        started = time.perf_counter()
        try:
            table = self.source.user_sql(sql, stop=stop)
        except SqlStopped as exc:
            seconds = time.perf_counter() - started
            self.post_message(self.Result(sql, None, str(exc), seconds, stopped=True))
            return
        except Exception as exc:  # noqa: BLE001 - shown in place of the result
            message = str(exc) or type(exc).__name__
            self.post_message(self.Result(sql, None, message, time.perf_counter() - started))
            return
        self.post_message(self.Result(sql, table, None, time.perf_counter() - started))

    def on_sql_screen_result(self, message: SqlScreen.Result) -> None:
        if message.sql in self.history:
            self.history.remove(message.sql)
        self.history.append(message.sql)
        self._step = 0
        history = self.query_one("#sql-history", OptionList)
        history.clear_options()
        history.add_options(self._history_options())
        self.running = None
        if self._clock is not None:
            self._clock.stop()
            self._clock = None
        self.refresh_bindings()
        status = self.query_one("#sql-status", Static)
        out = self.query_one("#sql-out", ContentSwitcher)
        if message.stopped:
            self.query_one("#sql-error", Static).update(
                Text.assemble(
                    ("Stopped\n", "bold yellow"),
                    f"The query was stopped after {message.seconds:.1f} s"
                    + ("" if message.error == str(SqlStopped()) else f": {message.error}")
                    + ". Ctrl+J runs it again.",
                )
            )
            out.current = "sql-error"
            status.update(Text("The query was stopped", style="yellow"))
            return
        if message.error is not None or message.table is None:
            self.query_one("#sql-error", Static).update(
                Text.assemble(("Error\n", "bold red"), (message.error or "failed", "red"))
            )
            out.current = "sql-error"
            status.update(Text("The query failed; the error is below", style="red"))
            return
        table = message.table
        self.result = table
        result = self.query_one("#sql-result", NavTable)
        result.clear(columns=True)
        # A number column's cells and header right-aligned, as in every other table; DuckDB's
        # result types say which columns hold numbers (they sat left, ragged).
        right = [is_number(field.type) for field in table.schema]
        for name, numeric in zip(table.column_names, right, strict=True):
            result.add_column(Text(name, justify="right" if numeric else "left"))
        # Rows as lists, not dicts: two columns of one name keep both their values, and a value
        # Python cannot hold (a date's 'infinity') is its text, not an exception on the screen.
        for row in python_rows(table.slice(0, MAX_ROWS)):
            result.add_row(
                *(
                    aligned(plain(cell_text(v)), numeric)
                    for v, numeric in zip(row, right, strict=True)
                )
            )
        out.current = "sql-result"
        if not table.num_rows:
            # Only the header showed, as if the rows were still to come.
            status.update(Text("No rows", style="bold"))
            return
        more = f", the first {MAX_ROWS:,} shown" if table.num_rows > MAX_ROWS else ""
        status.update(f"{plural(table.num_rows, 'row')}{more} · Ctrl+S saves them as CSV")

    # ---- history ---------------------------------------------------------------------------

    def action_history(self, step: int) -> None:
        """Ctrl+Up: the query before, Ctrl+Down: the one after (back to the draft)."""
        editor = self.query_one("#sql-editor", TextArea)
        if self._step == 0:
            self._draft = editor.text
        target = max(0, min(len(self.history), self._step + step))
        if target == self._step:
            return
        self._step = target
        editor.text = self.history[-target] if target else self._draft
        editor.move_cursor(editor.document.end)

    def action_new_query(self) -> None:
        """An empty editor (what it held is in the history once it ran)."""
        editor = self.query_one("#sql-editor", TextArea)
        editor.text = ""
        editor.focus()
        self._step = 0

    def action_toggle_side(self) -> None:
        """Ctrl+B (harlequin's key for its data catalog), or F9 (harlequin's other, for a
        terminal in tmux, whose prefix Ctrl+B is): hides the schema and history pane,
        giving the editor and the result its 38 or more cells, or shows it again. Focus in the
        pane when it hides goes to the editor (it was left on a hidden widget)."""
        side = self.query_one("#sql-side", Vertical)
        side.display = not side.display
        if not side.display and self.focused is not None and side in self.focused.ancestors:
            self.query_one("#sql-editor", TextArea).focus()

    def action_focus_history(self) -> None:
        self.query_one("#sql-side", Vertical).display = True
        self.query_one("#sql-history").focus()

    def on_option_list_option_selected(self, event: OptionList.OptionSelected) -> None:
        """A history entry goes into the editor, to be changed or run again (Ctrl+J)."""
        index = event.option_index
        if 0 <= index < len(self.history):
            editor = self.query_one("#sql-editor", TextArea)
            editor.text = self.history[-1 - index]
            editor.focus()

    # ---- export ----------------------------------------------------------------------------

    def action_export(self) -> None:
        table = self.result
        if table is None:
            self.notify("Run a query first.", severity="warning")
            return

        def save(path: str | None) -> None:
            if not path:
                return
            target = Path(path).expanduser()
            try:
                with target.open("w", encoding="utf-8", newline="") as out:
                    write_csv(table, out)
            except OSError as exc:
                self.query_one("#sql-status", Static).update(
                    Text(f"Not saved: {target}: {exc.strerror or exc}", style="red")
                )
                return
            self.query_one("#sql-status", Static).update(
                f"Saved {plural(table.num_rows, 'row')} to {target}"
            )

        self.app.push_screen(ExportScreen(), save)

    def action_back(self) -> None:
        if len(self.app.screen_stack) > 2:
            self.app.pop_screen()


class TmuxSqlScreen(SqlScreen):
    """The SQL screen inside tmux, whose prefix Ctrl+B is: tmux takes it before the TUI sees
    it, so `^b Schema` offered a key that did nothing there, and swallowed the key after it.
    Its footer and help name F9 instead; Ctrl+B still works (tmux passes it on after another
    Ctrl+B, or with another prefix)."""

    BINDINGS = [
        Binding("ctrl+b", "toggle_side", "Schema", show=False, priority=True),
        Binding("f9", "toggle_side", "Schema", priority=True),
    ]


class ExportScreen(ModalScreen[str | None]):
    """Where to save the result (CSV): Enter saves, Esc cancels."""

    BINDINGS = [Binding("escape", "cancel", "Cancel")]

    def compose(self) -> ComposeResult:
        with Vertical(id="search-box"):
            yield Static(Text("Save the result as CSV", style="bold"))
            yield Input(value="seamscope-result.csv", id="export-path")

    def on_input_submitted(self, event: Input.Submitted) -> None:
        self.dismiss(event.value.strip() or None)

    def action_cancel(self) -> None:
        self.dismiss(None)
