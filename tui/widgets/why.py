"""The pane under a table of edges that says the highlighted edge's reason whole and what to do:
the table cuts the reason to the room its other columns leave (to none on a narrow terminal).
The findings list shows it always; the landscape and a system's screen where the lines under
their table would be blank (fit)."""

from __future__ import annotations

from rich.text import Text
from textual.content import Content
from textual.widgets import Static

from seamscope.classifiers.catalog import rule_for
from seamscope.classifiers.results import Edge, Verdict
from seamscope.tui.widgets.cells import escaped, short_node, verdict_text


def why_text(e: Edge) -> Text:
    """The verdict (glyph and word: never colour only), the rule (id and name), the two ends,
    the edge's reason whole, and what to do (from the catalog)."""
    rule = rule_for(e.rule_id, e.verdict)
    name = f" {rule.name}" if rule.name != e.rule_id else ""
    # An edge no rule covers has its verdict for its rule ("? unclassified  unclassified").
    said = f"{e.rule_id}{name}" if e.rule_id != str(e.verdict) else ""
    text = Text.assemble(
        verdict_text(e.verdict),
        "  ",
        (said, f"{e.verdict.style} bold"),
        "  " if said else "",
        (f"{short_node(e.from_node)} → {short_node(e.to_node)}", "bold"),
        "\n",
        e.reason or "",
    )
    if rule.fix:
        if e.verdict in (Verdict.UNRESOLVED, Verdict.UNCLASSIFIED):
            title = "What to do"
        else:
            title = "Do instead" if e.verdict.is_finding else "Keep in mind"
        text.append_text(Text.assemble("\n", (f"{title}: ", "bold"), rule.fix))
    return escaped(text)


WHY_LEAST = 4
"""The fewest lines the pane is given where it must fit in what a table leaves: its border, the
rule's line and a line of the reason."""


class WhyPane(Static):
    """Says one edge (show_edge), from the record the table's row was made of: no query."""

    def __init__(self, *, id: str | None = None) -> None:  # noqa: A002
        super().__init__("", id=id, classes="detail")
        self.edge: Edge | None = None
        self.room: int | None = None  # the lines it may take (fit); None: as .detail allows
        self._put: tuple[object, ...] = ()

    def show_edge(self, edge: Edge | None) -> None:
        """The edge's text, or nothing (and no pane) for none."""
        self.edge = edge
        self._show()

    def fit(self, room: int) -> bool:
        """Takes at most room lines, or none where that is fewer than WHY_LEAST: whether it is
        shown."""
        self.room = room
        self._show()
        return self.display

    def on_resize(self) -> None:
        self._show()

    def _show(self) -> None:
        """The text, where it has fewer lines than it needs cut at the end of its last line
        with "…" (a pane cut short ended mid-sentence, as if that were all)."""
        edge, room = self.edge, self.room
        shown = edge is not None and (room is None or room >= WHY_LEAST)
        self.display = shown
        if not shown or edge is None:
            self._put = ()
            return
        # Its content's width; before it was laid out, the screen's less its border and padding.
        width = max(1, self.size.width or self.app.size.width - 4)
        put = (edge, room, width)
        if put == self._put:
            return  # the same record (a live refresh of an unchanged edge): nothing to draw
        self._put = put
        text = why_text(edge)
        shown_text: Text | Content = text
        if room is not None:
            self.styles.max_height = room
            # Wrapped as the pane wraps it (Textual's Content; Rich's wrap broke other lines).
            lines = Content.from_rich_text(text, self.app.console).wrap(width)
            if len(lines) > room - 2:
                kept = lines[: room - 2]
                kept[-1] = kept[-1].rstrip().truncate(width - 1).append("…")
                shown_text = Content("\n").join(kept)
        self.update(shown_text)
