"""A line above the footer for what the app has to say (live news, a busy store, a failed
query): toasts would cover the data, this line only takes its own."""

from __future__ import annotations

from rich.text import Text
from textual.widgets import Static


class NewsBar(Static):
    DEFAULT_CSS = """
    NewsBar {
        dock: bottom;
        margin-bottom: 1;
        height: 1;
        padding: 0 1;
        background: $boost;
        display: none;
    }
    """

    def show_news(self, news: Text | None) -> None:
        self.update(news or "")
        self.display = bool(news and news.plain)
