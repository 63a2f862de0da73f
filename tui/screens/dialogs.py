"""Help, filter, search and the problem screen (a store that cannot be shown, and why)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace

from rich.table import Table
from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Grid, Horizontal, Vertical
from textual.screen import ModalScreen, Screen
from textual.widgets import Button, Input, Label, Select, Static

from seamscope.classifiers.mechanisms import MECHANISM
from seamscope.classifiers.read import Filters
from seamscope.classifiers.results import Verdict
from seamscope.tui.widgets.footer import SteadyFooter
from seamscope.tui.widgets.header import SteadyHeader
from seamscope.tui.widgets.news import NewsBar
from seamscope.tui.widgets.textpane import TextPane

SCREENS_HELP = (
    (
        "Landscape",
        "the systems; beside them the highlighted one in focus, its callers left and its "
        "callees right (Enter on a neighbour walks there, on the centre opens it, Backspace "
        "walks back); m shows every system by every system as a matrix instead",
    ),
    (
        "System",
        "level 2: components, AWS resources and vendors of one system; or the AWS resources of "
        "no known owner (the landscape's last row), each with its edges",
    ),
    ("Edge", "the rule an edge keeps or breaks, what to do, evidence, exact latency, history"),
    (
        "Trace",
        "a trace's waterfall, a message's producer and consumer side by side; Enter on a "
        "span opens its edge",
    ),
    ("Findings", "anti-patterns and smells, worst first"),
    (
        "History",
        "every label change with its cause (spans, landscape, routes, catalog, classifier)",
    ),
    ("Patterns", "the catalog with how many edges keep or break each rule"),
    ("SQL", "read-only DuckDB SQL: editor, history, schema, CSV export"),
)


class HelpScreen(ModalScreen[None]):
    """Keys of the screen below, the screens, and what the colours mean."""

    BINDINGS = [Binding("escape,question_mark,q", "dismiss", "Close")]

    def __init__(self, keys: list[tuple[str, str]]) -> None:
        super().__init__()
        self.keys = keys

    def compose(self) -> ComposeResult:
        keys = Table.grid(padding=(0, 2))
        keys.add_column(style="bold cyan")
        keys.add_column()
        for key, description in self.keys:
            keys.add_row(key, description)
        screens = Table.grid(padding=(0, 2))
        screens.add_column(style="bold")
        screens.add_column()
        for name, description in SCREENS_HELP:
            screens.add_row(name, description)
        colours = Text()
        for verdict in Verdict.worst_first():
            colours.append(f"{verdict.glyph} ──▶ {verdict}", verdict.style)
            colours.append("  ")
        colours.append("\n~ inferred (no landscape file says so)   ", "yellow")
        colours.append("p95≈: from a log histogram, within about 5%", "dim")
        with TextPane(id="help-box"):
            yield Static(Text("seamscope — keys", style="bold"))
            yield Static(keys)
            yield Static(Text("\nScreens", style="bold"))
            yield Static(screens)
            yield Static(Text("\nArrows", style="bold"))
            yield Static(colours)
            yield Static(
                Text(
                    "\nMouse: click a box to select it, click again to open it; click a row, "
                    "then Enter. Ctrl+P opens the command palette.",
                    style="dim",
                )
            )

    async def action_dismiss(self, result: None = None) -> None:
        self.dismiss(result)


class FilterScreen(ModalScreen[Filters | None]):
    """Narrows every screen; empty fields match everything."""

    BINDINGS = [Binding("escape", "cancel", "Cancel")]
    # An empty field's hint says it is one ("any ..."): a bare "orders" or "A101" read as a
    # filter already set, dim as it is, and on a terminal without colour as any other value.
    FIELDS = (
        ("system", "System", "any (e.g. orders)"),
        ("component", "Component", "any (part of a node id, e.g. api)"),
        ("mechanism", "Mechanism", ""),
        ("verdict", "Verdict", ""),
        ("rule", "Rule", "any (e.g. A101)"),
        ("window_minutes", "Last minutes", "all time (0)"),
    )
    # Fields with a fixed set of values are chosen, not typed: "anti" matches nothing.
    CHOICES: dict[str, tuple[str, ...]] = {
        "mechanism": tuple(MECHANISM),
        "verdict": tuple(v.value for v in Verdict.worst_first()),
    }

    def __init__(self, current: Filters) -> None:
        super().__init__()
        self.current = current

    def compose(self) -> ComposeResult:
        with Vertical(id="filter-box"):
            yield Static(Text("Filter", style="bold"))
            with Grid(id="filter-grid"):
                for name, title, hint in self.FIELDS:
                    value = getattr(self.current, name)
                    yield Label(title)
                    if name in self.CHOICES:
                        yield Select(
                            [(choice, choice) for choice in self.CHOICES[name]],
                            value=value if value else Select.NULL,
                            prompt="any",
                            id=f"filter-{name}",
                        )
                        continue
                    yield Input(
                        value=str(value) if value else "",
                        placeholder=hint,
                        id=f"filter-{name}",
                        type="integer" if name == "window_minutes" else "text",
                    )
            with Horizontal(id="filter-buttons"):
                yield Button("Apply", variant="primary", id="apply")
                yield Button("Clear", id="clear")
                yield Button("Cancel", id="cancel")

    def _collect(self) -> Filters:
        values: dict[str, str | int] = {}
        for name, _, _ in self.FIELDS:
            if name in self.CHOICES:
                chosen = self.query_one(f"#filter-{name}", Select).value
                values[name] = chosen if isinstance(chosen, str) else ""
                continue
            text = self.query_one(f"#filter-{name}", Input).value.strip()
            if name == "window_minutes":
                values[name] = int(text) if text.isdigit() else 0
            else:
                values[name] = text
        return replace(self.current, **values)  # type: ignore[arg-type]

    def on_input_submitted(self) -> None:
        self.dismiss(self._collect())

    def on_button_pressed(self, event: Button.Pressed) -> None:
        if event.button.id == "apply":
            self.dismiss(self._collect())
        elif event.button.id == "clear":
            self.dismiss(Filters())
        else:
            self.dismiss(None)

    def action_cancel(self) -> None:
        self.dismiss(None)


class SearchScreen(ModalScreen[str | None]):
    """`/`: a substring matched against nodes, systems, mechanisms, rules and reasons."""

    BINDINGS = [Binding("escape", "cancel", "Cancel")]

    def __init__(self, current: str, preview: Callable[[str], None] | None = None) -> None:
        super().__init__()
        self.current = current
        self.preview = preview  # told the text as it is typed

    def compose(self) -> ComposeResult:
        with Vertical(id="search-box"):
            yield Input(
                value=self.current,
                placeholder="search edges as you type · Enter keeps · Esc drops",
                id="search",
            )

    def on_input_changed(self, event: Input.Changed) -> None:
        if self.preview is not None and event.value != self.current:
            self.current = event.value
            self.preview(event.value)

    def on_input_submitted(self, event: Input.Submitted) -> None:
        self.dismiss(event.value.strip())

    def action_cancel(self) -> None:
        self.dismiss(None)


class ConfirmQuit(ModalScreen[bool]):
    """q in a live session: quitting stops the receiver (and a demo's services)."""

    BINDINGS = [
        Binding("y,enter", "answer(True)", "Quit"),
        Binding("n,escape,q", "answer(False)", "Stay"),
    ]

    def compose(self) -> ComposeResult:
        with Vertical(id="confirm-box"):
            yield Static(Text("Quit and stop receiving?", style="bold"))
            yield Static(
                Text(
                    "This session receives spans live: quitting stops the receiver (and a "
                    "demo's services). y or Enter quits, n or Esc stays; Ctrl+Q quits at once."
                )
            )

    def action_answer(self, yes: bool) -> None:
        self.dismiss(yes)


class ProblemScreen(Screen[None]):
    """The store cannot be shown: says why and what to do, never a traceback."""

    BINDINGS = [
        Binding("r", "app.retry", "Retry"),
        Binding("q", "app.quit", "Quit"),
    ]

    def __init__(self, title: str, message: str, advice: str, *, waiting: bool = False) -> None:
        """waiting: the store is fine but has no edges yet (empty, or not classified): the
        app says what changes here, in place, until edges come."""
        super().__init__()
        self.problem_title = title
        self.message = message
        self.advice = advice
        self.waiting = waiting

    def compose(self) -> ComposeResult:
        yield SteadyHeader()
        with Vertical(id="problem-box"):
            yield Static(Text(self.problem_title, style="bold"), id="problem-title")
            yield Static(Text(self.message), id="problem-message")
            yield Static(Text(self.advice, style="italic"), id="problem-advice")
        yield NewsBar()
        yield SteadyFooter()

    def on_mount(self) -> None:
        self.sub_title = self.problem_title

    def say(self, title: str, message: str, advice: str) -> None:
        """Shows other texts in place (the same screen, its header's title too)."""
        if (title, message, advice) == (self.problem_title, self.message, self.advice):
            return
        self.problem_title, self.message, self.advice = title, message, advice
        self.query_one("#problem-title", Static).update(Text(title, style="bold"))
        self.query_one("#problem-message", Static).update(Text(message))
        self.query_one("#problem-advice", Static).update(Text(advice, style="italic"))
        self.sub_title = title
