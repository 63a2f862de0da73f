"""The pane under a table of edges that says the highlighted edge's reason whole and what to do:
the table cuts the reason to the room its other columns leave (to none on a narrow terminal).
The findings list shows it always; the landscape and a system's screen in the lines under their
table (fit), where it also says, as far as they go, what the edge screen says next: what joined
the two ends, the edge's figures, the rule's why and an example."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from datetime import datetime

from rich.console import Console, ConsoleOptions, RenderResult
from rich.measure import Measurement
from rich.text import Text
from textual.content import Content
from textual.widgets import Static

from seamscope.classifiers.catalog import rule_for
from seamscope.classifiers.results import Edge, Evidence, Verdict
from seamscope.tui.widgets.cells import escaped, fmt_time, short_node, verdict_text

JOINED_BY = {
    Evidence.TRACE: "the other end's span is a child in the same trace",
    Evidence.LINK: "a span link from the consumer's span to the producer's",
    Evidence.HOOK: (
        "what seamscope's hooks recorded of the event: its bus, source and type, its topic, "
        "or the table whose stream it came from"
    ),
    Evidence.DISCOVERED: "the account's wiring, read by seamscope discover aws",
    Evidence.DECLARED: "a route declared in the landscape file's [[routes]]",
    Evidence.NAME: "the spans name the resource; producers and consumers by the same name",
    Evidence.HOST: "the HTTP call's host and port: the component that serves it, or a vendor",
    Evidence.NONE: "no span of the other end was seen",
}
"""How strongly each kind of evidence joins an edge's two ends, said for a reader."""


def joined_by(evidence: Evidence) -> Text:
    """ "Joined by trace: the other end's span is ..." (what the classifier joined the ends on)."""
    return Text.assemble(("Joined by ", "dim"), (str(evidence), "bold"), f": {JOINED_BY[evidence]}")


def edge_figures(
    e: Edge, width: int | None = None, when: Callable[[datetime | None], str] = fmt_time
) -> Text:
    """The edge's level, the resource it goes through, its spans, errors and when it was seen
    (its times as when writes them), each field whole on a line where width (the cells of the
    lines it goes on) is given: a line left to wrap at its spaces cut "Seen" between a date and
    its time at 100 columns."""
    fields: list[tuple[str, Text]] = [("", Text.assemble(("Level ", "dim"), e.level))]
    if e.via:
        fields.append(("   ", Text.assemble(("Via ", "dim"), e.via)))
    fields += [
        ("   ", Text.assemble(("Spans ", "dim"), f"{e.span_count:,}")),
        (
            "   ",
            Text.assemble(("Errors ", "dim"), f"{e.error_count:,} ({100 * e.error_rate:.1f}%)"),
        ),
        ("   ", Text.assemble(("Seen ", "dim"), when(e.first_seen))),
        (" ", Text(f"→ {when(e.last_seen)}")),
    ]
    out = Text()
    line = 0
    for sep, field in fields:
        if out and width is not None and line + len(sep) + field.cell_len > width:
            out.append("\n")
            line = 0
        elif out:
            out.append(sep, "dim" if sep.strip(" ") == "" and len(sep) > 1 else "")
            line += len(sep)
        out.append_text(field)
        line += field.cell_len
    return out


class EdgeFigures:
    """edge_figures laid out at the width Rich renders it in (the edge screen's pane)."""

    def __init__(self, e: Edge, when: Callable[[datetime | None], str] = fmt_time) -> None:
        self.edge = e
        self.when = when

    def __rich_console__(self, console: Console, options: ConsoleOptions) -> RenderResult:
        yield escaped(edge_figures(self.edge, options.max_width, self.when))

    def __rich_measure__(self, console: Console, options: ConsoleOptions) -> Measurement:
        whole = edge_figures(self.edge, None, self.when).cell_len
        return Measurement(min(whole, options.max_width), min(whole, options.max_width))


def why_text(e: Edge, hosts: Mapping[str, str] | None = None) -> Text:
    """The verdict (glyph and word: never colour only), the rule (id and name), the two ends
    (named as cells.short_node names them, given hosts), the edge's reason whole, and what to
    do (from the catalog)."""
    rule = rule_for(e.rule_id, e.verdict)
    name = f" {rule.name}" if rule.name != e.rule_id else ""
    # An edge no rule covers has its verdict for its rule ("? unclassified  unclassified").
    said = f"{e.rule_id}{name}" if e.rule_id != str(e.verdict) else ""
    text = Text.assemble(
        verdict_text(e.verdict),
        "  ",
        (said, f"{e.verdict.style} bold"),
        "  " if said else "",
        (f"{short_node(e.from_node, hosts)} → {short_node(e.to_node, hosts)}", "bold"),
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


def more_text(e: Edge, width: int | None = None) -> list[Text]:
    """What the pane says after why_text where it has the lines, each whole or not at all, in
    the edge screen's order: what joined the two ends, the figures, the rule's why, an
    example."""
    rule = rule_for(e.rule_id, e.verdict)
    sections = [joined_by(e.evidence), edge_figures(e, width)]
    if rule.rationale:
        sections.append(Text.assemble(("Why: ", "bold"), rule.rationale))
    if rule.example:
        sections.append(Text.assemble(("Example: ", "bold"), rule.example))
    return [escaped(t) for t in sections]


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
        self._needs: tuple[Sequence[Edge], int, int] | None = None
        self._needs_all: tuple[Sequence[Edge], int, int] | None = None

    def show_edge(self, edge: Edge | None) -> None:
        """The edge's text, or nothing (and no pane) for none."""
        self.edge = edge
        self._show()

    def fit(self, room: int, edges: Sequence[Edge] | None = None) -> bool:
        """Takes room lines (more_text in those past its own), or none where that is fewer than
        WHY_LEAST: whether it is shown. Given the edges it may be asked to say (its table's),
        no more lines than it needs to say all it has of any of them (needs_all), so that it
        keeps its height from one to the next: down to the footer, it framed some thirty blank
        lines at 220x60 under the demo's matrix and a system's focus view. The lines past it
        are left to the screen, blank, under its bottom border."""
        if edges:
            room = min(room, max(WHY_LEAST, self.needs_all(edges)))
        self.room = room
        self._show()
        return self.display

    def unfit(self) -> None:
        """Back to the height its stylesheet gives it (.detail: its text, up to half)."""
        if self.room is None:
            return
        self.room = None
        self.styles.clear_rule("height")
        self.styles.clear_rule("max_height")
        self._show()

    def needs(self, edges: Sequence[Edge]) -> int:
        """The lines (its border included) the pane needs to say the reason whole and what to
        do (why_text) of each of edges, the most of them: at its width, as it wraps them.
        Asked again for the same edges (a move in the focus view), it does not wrap again."""
        width = self._width()
        known = self._needs
        if known is not None and known[0] is edges and known[1] == width:
            return known[2]
        lines = 2 + max(
            (len(self._wrapped(why_text(e, self._hosts()), width)) for e in edges), default=0
        )
        self._needs = (edges, width, lines)
        return lines

    def needs_all(self, edges: Sequence[Edge]) -> int:
        """The lines (its border included) the pane needs to say all it has of each of edges,
        the most of them: why_text and every section of more_text, at its width."""
        width = self._width()
        known = self._needs_all
        if known is not None and known[0] is edges and known[1] == width:
            return known[2]
        lines = 2 + max(
            (
                sum(
                    len(self._wrapped(t, width))
                    for t in (why_text(e, self._hosts()), *more_text(e, width))
                )
                for e in edges
            ),
            default=0,
        )
        self._needs_all = (edges, width, lines)
        return lines

    def on_resize(self) -> None:
        self._show()

    def _hosts(self) -> Mapping[str, str]:
        """The app's external nodes that are no vendor (read.unknown_hosts)."""
        hosts = getattr(self.app, "hosts", None)
        return hosts if isinstance(hosts, Mapping) else {}

    def _width(self) -> int:
        """Its content's width; before it was laid out, the screen's less its border and
        padding."""
        return max(1, self.size.width or self.app.size.width - 4)

    def _show(self) -> None:
        """The text, where it has fewer lines than it needs cut at the end of its last line
        with "…" (a pane cut short ended mid-sentence, as if that were all)."""
        edge, room = self.edge, self.room
        shown = edge is not None and (room is None or room >= WHY_LEAST)
        self.display = shown
        if not shown or edge is None:
            self._put = ()
            return
        width = self._width()
        hosts = self._hosts()
        put = (edge, room, width, hosts)
        if put == self._put:
            return  # the same record (a live refresh of an unchanged edge): nothing to draw
        self._put = put
        text = why_text(edge, hosts)
        shown_text: Text | Content = text
        if room is not None:
            self.styles.height = self.styles.max_height = room  # past .detail's 50%
            # Wrapped as the pane wraps it (Textual's Content; Rich's wrap broke other lines).
            lines = self._wrapped(text, width)
            if len(lines) > room - 2:
                kept = lines[: room - 2]
                kept[-1] = kept[-1].rstrip().truncate(width - 1).append("…")
            else:
                kept = lines
                for section in more_text(edge, width):
                    more = self._wrapped(section, width)
                    if len(kept) + len(more) > room - 2:
                        break
                    kept = [*kept, *more]
            shown_text = Content("\n").join(kept)
        self.update(shown_text)

    def _wrapped(self, text: Text, width: int) -> list[Content]:
        return list(Content.from_rich_text(text, self.app.console).wrap(width))
