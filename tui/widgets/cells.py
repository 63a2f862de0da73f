"""Table cells and text every screen shows the same way: verdicts with their glyph, numbers,
times, names; and filling a DataTable without rebuilding it."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime
from typing import Any, cast

from rich.cells import cell_len, set_cell_size
from rich.text import Text
from textual.widgets import DataTable

from seamscope.classifiers.results import Verdict
from seamscope.tracer.terminal import has_control, safe


def verdict_text(verdict: Verdict, text: str | None = None) -> Text:
    """A verdict (or text about it) in the verdict's style, after its glyph: never colour only."""
    return Text(f"{verdict.glyph} {verdict if text is None else text}", style=verdict.style)


def verdict_counts(counts: dict[Verdict, int], *, short: bool = False) -> Text:
    """ "✗ 3 anti-pattern  ! 1 smell ...", worst first, each in its style; short: "✗ 3  ! 1"."""
    out = Text()
    for i, (verdict, n) in enumerate(sorted(counts.items(), key=lambda item: item[0].rank)):
        if i:
            out.append("  ")
        out.append(
            f"{verdict.glyph} {n:,}" if short else f"{verdict.glyph} {n:,} {verdict}", verdict.style
        )
    return out


def short_node(node_id: str, hosts: Mapping[str, str] | None = None) -> str:
    """component:orders/api -> orders/api; external:auth0 -> auth0 (vendor); an external node
    that hosts (read.unknown_hosts) says is no vendor: 10.0.3.7 (unknown host)."""
    kind, _, rest = node_id.partition(":")
    if kind == "component":
        return rest
    if kind == "external":
        return f"{rest} ({external_kind(node_id, hosts)})"
    return node_id


def external_kind(node_id: str, hosts: Mapping[str, str] | None) -> str:
    """What an external node is: a vendor unless hosts (read.unknown_hosts) says otherwise."""
    return (hosts or {}).get(node_id, "vendor")


def plain(cell: str | Text) -> Text:
    """A table cell that is never read as markup, its control characters escaped (a span's
    name must not drive the terminal)."""
    if not isinstance(cell, Text):
        return Text(safe(cell))
    if has_control(cell.plain):
        return Text(safe(cell.plain), style=cell.style, justify=cell.justify)
    return cell


def escaped(text: Text) -> Text:
    """text with its control characters escaped, each piece keeping its style."""
    if not has_control(text.plain):
        return text
    cuts = sorted({i for span in text.spans for i in (span.start, span.end)})
    out = Text(style=text.style, justify=text.justify, no_wrap=text.no_wrap, end=text.end)
    for piece in text.divide(cuts):
        part = Text(safe(piece.plain, lines=True), style=piece.style)
        for span in piece.spans:  # each covers the whole piece: it was cut at every span's ends
            part.stylize(span.style)
        out.append_text(part)
    return out


def clip_end(text: str, width: int) -> str:
    """A sentence in at most width cells, cut at its end with "…": the start says what is
    wrong, and the edge screen shows it whole (a cut in the middle split a word on each side).
    At the end of a word when that leaves no more than a few cells unused (a cut at a word
    that dropped up to 15 cells left the room it was given blank)."""
    if cell_len(text) <= width:
        return text
    if width <= 1:
        return "…"[:width]
    head = set_cell_size(text, width - 1)
    space = head.rfind(" ")
    if space >= len(head) - WORD_CUT_SLACK:
        head = head[:space]
    return head.rstrip() + "…"


WORD_CUT_SLACK = 4
"""The most cells a cut at the end of a word may leave unused; past that a word is cut."""


def room_left(table: DataTable[Any], widths: Iterable[int], rows: int) -> int:
    """The cells a last column's content has in table, beside columns whose content is widths
    cells wide, rows rows below the header: the table's width less each column's padding (the
    last one's too) and the vertical scrollbar when the rows do not fit."""
    width = table.size.width or (table.app.size.width if table.is_attached else 160)
    height = table.size.height or (table.app.size.height if table.is_attached else 0)
    scrollbar = table.styles.scrollbar_size_vertical if rows + 1 > height else 0
    pad = 2 * table.cell_padding
    return width - scrollbar - sum(w + pad for w in widths) - pad


def num(text: str, style: str = "") -> Text:
    """A number cell, right-aligned."""
    return Text(text, style=style, justify="right")


NUMBER_TITLES = frozenset({"ms", "Edges", "Spans", "p95≈ ms", "Err %", "Starts"})
"""The columns of the app's tables whose cells are numbers (num): right-aligned."""


def heading(title: str) -> Text:
    """A column's label: over a number column (NUMBER_TITLES) right-aligned, as its cells are
    (the headers sat left over right-aligned numbers)."""
    return Text(title, justify="right" if title in NUMBER_TITLES else "left")


def fmt_time(value: datetime | None) -> str:
    return value.strftime("%Y-%m-%d %H:%M:%S") if value else ""


def fmt_ms(value: float | None) -> str:
    return f"{value:,.1f}" if value is not None else ""


def key_under_cursor(table: DataTable[Any]) -> str | None:
    """The row key under a table's cursor (None: an empty table)."""
    if not table.row_count:
        return None
    try:
        value = table.coordinate_to_cell_key(table.cursor_coordinate).row_key.value
    except Exception:
        return None
    return str(value) if value is not None else None


def fill_table(
    table: DataTable[Any],
    rows: Sequence[tuple[str, Sequence[str | Text]]],
    *,
    escaped: bool = False,
) -> None:
    """Replaces the rows, keeping the cursor on the same row key when it still exists.

    Text cells are shown as they are; a str is shown as plain text (DataTable would read it
    as Rich markup: "orders[v2]" would lose "[v2]" and "a [/] b" would fail to render), which
    also spares the markup parsing of every cell. escaped: every cell is a Text already made
    by `plain` (a caller that keeps its cells from one fill to the next); a cell the table holds
    is then not compared with itself.

    A live refresh mostly brings the rows the table holds, maybe a few more or fewer, maybe in
    another order: then only the cells that changed are written, rows that went are removed,
    new rows are added and the order is set. Rebuilding the table would make DataTable measure
    every cell of it again (a tenth of a second for the 640 edges of a big landscape); it is
    done only when most rows are new.
    """
    texts = (
        cast("list[tuple[str, Sequence[Text]]]", rows)
        if escaped
        else [(key, [plain(cell) for cell in cells]) for key, cells in rows]
    )
    if _update_cells(table, texts):
        return
    keep = key_under_cursor(table)
    if not _patch_rows(table, texts):
        _rebuild(table, texts)
    if keep is not None:
        try:
            table.move_cursor(row=table.get_row_index(keep), animate=False)
        except Exception:
            pass


def _update_cells(table: DataTable[Any], rows: Sequence[tuple[str, Sequence[Text]]]) -> bool:
    """Writes the changed cells when the table holds the same row keys in the same order."""
    if not rows or table.row_count != len(rows) or not _fits(table, rows):
        return False
    if [row.key.value for row in table.ordered_rows] != [key for key, _ in rows]:
        return False
    for key, cells in rows:
        _write_changed(table, key, cells)
    return True


def _fits(table: DataTable[Any], rows: Sequence[tuple[str, Sequence[Text]]]) -> bool:
    columns = len(table.ordered_columns)
    return all(len(cells) == columns for _, cells in rows)


def _write_changed(table: DataTable[Any], key: str, cells: Sequence[Text]) -> None:
    for column, before, after in zip(table.ordered_columns, table.get_row(key), cells, strict=True):
        if not _same_cell(before, after):
            # Only a cell wider than its column asks for a new width: DataTable measures every
            # cell of the column again for each updated cell narrower than the column (seconds
            # for a refresh that changes the counts of 640 rows).
            wider = after.cell_len > column.content_width
            table.update_cell(key, column.key, after, update_width=wider)


def _patch_rows(table: DataTable[Any], rows: Sequence[tuple[str, Sequence[Text]]]) -> bool:
    """Brings the table to rows by removing, adding and reordering rows, when most of the
    rows are ones it holds (and their keys are unique); False leaves the table untouched."""
    held = {str(row.key.value) for row in table.ordered_rows}
    wanted = [key for key, _ in rows]
    if not rows or not held or len(set(wanted)) != len(wanted) or not _fits(table, rows):
        return False
    added = [key for key in wanted if key not in held]
    gone = held.difference(wanted)
    if 2 * (len(added) + len(gone)) > len(wanted):
        return False
    for key in gone:
        table.remove_row(key)
    for key, cells in rows:
        if key in held:
            _write_changed(table, key, cells)
        else:
            table.add_row(*cells, key=key)
    if [row.key.value for row in table.ordered_rows] != wanted:
        # DataTable sorts by cell values only: the first cell of each row, the very object the
        # table holds, stands for its row's place.
        first = table.ordered_columns[0].key
        place = {id(table.get_cell(key, first)): i for i, key in enumerate(wanted)}
        if len(place) == len(wanted):
            table.sort(first, key=lambda cell: place[id(cell)])
        else:  # rows that share one cell object cannot be told apart that way
            _rebuild(table, rows)
    return True


def _rebuild(table: DataTable[Any], rows: Sequence[tuple[str, Sequence[Text]]]) -> None:
    table.clear()
    for key, cells in rows:
        table.add_row(*cells, key=key)


def _same_cell(before: object, after: Text) -> bool:
    # Text's own == looks at the characters and spans only, not the style or justification.
    return before is after or (
        isinstance(before, Text)
        and (before.plain, before.style, before.justify, before.spans)
        == (after.plain, after.style, after.justify, after.spans)
    )
