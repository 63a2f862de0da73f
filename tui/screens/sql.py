"""A read-only SQL console over the store, with results in a table and a history."""

from __future__ import annotations

from typing import cast

import pyarrow as pa
from rich.text import Text
from textual import work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.message import Message
from textual.screen import Screen
from textual.widgets import DataTable, Header, Input, OptionList, Static

from seamscope.tui.data import DataSource
from seamscope.tui.screens.base import plain
from seamscope.tui.widgets.footer import SteadyFooter
from seamscope.tui.widgets.table import Table

MAX_ROWS = 1000


class SqlScreen(Screen[None]):
    """Enter runs the statement; pick a history entry to run it again."""

    BINDINGS = [Binding("escape", "back", "Back")]

    class Result(Message):
        def __init__(self, sql: str, table: pa.Table | None, error: str | None) -> None:
            super().__init__()
            self.sql = sql
            self.table = table
            self.error = error

    def __init__(self, history: list[str]) -> None:
        super().__init__()
        self.history = history

    def compose(self) -> ComposeResult:
        yield Header()
        with Horizontal(id="sql-panes"):
            with Vertical(id="sql-main"):
                yield Input(
                    placeholder="SELECT mechanism, count(*) FROM edges GROUP BY ALL  (read-only)",
                    id="sql-input",
                )
                yield Static(
                    "Tables: spans, batches, nodes, edges, span_labels, findings", id="sql-status"
                )
                yield Table(id="sql-result", zebra_stripes=True)
            with Vertical(id="sql-side"):
                yield Static("History", classes="caption")
                yield OptionList(*self._history_options(), id="sql-history")
        yield SteadyFooter()

    def _history_options(self) -> list[Text]:
        """Newest first, as Text: a query is shown as typed, never read as markup."""
        return [Text(sql) for sql in reversed(self.history)]

    def on_mount(self) -> None:
        self.sub_title = "SQL (read-only)"
        self.query_one("#sql-input").focus()

    @property
    def source(self) -> DataSource:
        from seamscope.tui.app import SeamscopeApp

        return cast(SeamscopeApp, self.app).source_or_raise()

    def on_input_submitted(self, event: Input.Submitted) -> None:
        sql = event.value.strip()
        if not sql:
            return
        self.query_one("#sql-status", Static).update(Text("Running…", style="italic"))
        self._run(sql)

    @work(thread=True, exclusive=True, group="sql")
    def _run(self, sql: str) -> None:
        try:
            table = self.source.user_sql(sql)
        except Exception as exc:
            self.post_message(
                self.Result(sql, None, str(exc).splitlines()[0] if str(exc) else type(exc).__name__)
            )
            return
        self.post_message(self.Result(sql, table, None))

    def on_sql_screen_result(self, message: SqlScreen.Result) -> None:
        status = self.query_one("#sql-status", Static)
        if message.sql in self.history:
            self.history.remove(message.sql)
        self.history.append(message.sql)
        history = self.query_one("#sql-history", OptionList)
        history.clear_options()
        history.add_options(self._history_options())
        result = self.query_one("#sql-result", DataTable)
        if message.error is not None or message.table is None:
            status.update(Text(message.error or "failed", style="bold red"))
            return
        table = message.table
        result.clear(columns=True)
        result.add_columns(*table.column_names)
        shown = table.slice(0, MAX_ROWS).to_pylist()
        for row in shown:
            result.add_row(*(plain("" if v is None else str(v)) for v in row.values()))
        more = f" (first {MAX_ROWS} shown)" if table.num_rows > MAX_ROWS else ""
        status.update(f"{table.num_rows:,} rows{more}")

    def on_option_list_option_selected(self, event: OptionList.OptionSelected) -> None:
        text = str(event.option.prompt)
        box = self.query_one("#sql-input", Input)
        box.value = text
        box.focus()
        self._run(text)

    def action_back(self) -> None:
        if len(self.app.screen_stack) > 2:
            self.app.pop_screen()
