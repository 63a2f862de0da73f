"""The CLI's printed tables, drawn in one pass.

A Rich table of one row per record renders every cell on its own (padding, wrapping, cropping:
about 0.3 ms a cell), which made `seamscope edges` take seconds on a thousand edges. Here the
widths are decided first, every cell wider than its column is folded to it (its row's other
cells get blank lines), a Rich table of those widths draws the title, borders and header, and
the rows follow as segments with that table's box characters. A cell is a str, printed as it
is (never read as markup: it never goes through Rich's markup), or a Text for its styles.
"""

from __future__ import annotations

import errno
from collections.abc import Sequence
from dataclasses import dataclass

from rich.cells import cell_len, chop_cells
from rich.console import Console, ConsoleOptions, RenderResult
from rich.segment import Segment
from rich.table import Table
from rich.text import Text

# "│ " before each column and " │" after the last: three cells per column and one more.
_BORDER_PER_COLUMN = 3
# A column that is not kept whole keeps at least a floor of cells (or its whole width when
# narrower): 10 when the terminal allows (a date over two lines, its time below; a name in
# pieces one can read), less in a narrower one, never less than 4 (then the table is wider than
# the terminal, which folds its lines: nothing is cut).
_FLOOR = 10
_MIN_WIDTH = 4
_BLANK = Text()  # below a cell of fewer lines than its row's others (never changed)


class StdoutConsole(Console):
    """A Rich console whose reader going away (`| head`) raises BrokenPipeError, for the command
    line to leave quietly as every command does (cli/main.py); Rich's own handling exits 1."""

    def on_broken_pipe(self) -> None:
        self.quiet = True  # nothing more to write, as Rich does
        raise BrokenPipeError(errno.EPIPE, "the reader of stdout went away")


@dataclass(frozen=True, slots=True)
class Column:
    header: str | Text
    right: bool = False
    hide_order: int | None = None
    """In a terminal too narrow for every column at the floor, the columns that have one are
    hidden, 1 first, until the others fit (the note under the table names them); None: always
    shown. Piped output has every column."""


Cell = str | Text


def _measured(cell: Cell) -> tuple[Cell, str, int]:
    """cell (its tabs expanded, as Rich would), its text and the cells of its widest line."""
    plain = cell if isinstance(cell, str) else cell.plain
    if "\t" in plain:
        if isinstance(cell, str):
            cell = cell.expandtabs(8)
        else:
            cell = cell.copy()
            cell.expand_tabs()
        plain = cell if isinstance(cell, str) else cell.plain
    if "\n" not in plain:
        return cell, plain, cell_len(plain)
    return cell, plain, max(cell_len(line) for line in plain.split("\n"))


def _share(room: int, weights: list[int], floors: list[int]) -> list[int]:
    """room cells shared in proportion to weights, none below its floor: a part whose share is
    under its floor takes its floor and the rest is shared again, the rounding carried so the
    parts add up to room (Rich's ratio_resolve, which its Layout uses; that module is private)."""
    sizes: list[int | None] = [None] * len(weights)
    while True:
        left = [i for i, size in enumerate(sizes) if size is None]
        remaining = room - sum(size for size in sizes if size is not None)
        total = sum(weights[i] for i in left)
        under = next((i for i in left if remaining * weights[i] <= floors[i] * total), None)
        if under is None:
            break
        sizes[under] = floors[under]
    carry = 0
    for i in left:
        sizes[i], carry = divmod(remaining * weights[i] + carry, total)
    return [size or 0 for size in sizes]


def _fit(natural: list[int], whole: list[int], room: int) -> list[int]:
    """Column widths within room cells: the natural ones when they fit. Otherwise the highest
    floor at which the table fits, and at that floor as many of the narrowest columns as fit
    keep their whole width (whole: their cells each on one line, the header wrapped at its
    spaces), the others sharing the rest in proportion to their natural widths (folded over
    about as many lines each), none below the floor: counts, ids and labels stay whole, then
    dates, and names fold first. Rich's Table cuts the widest columns down to one level
    instead, which in a narrow terminal folds the numbers with the names."""
    if sum(natural) <= room:
        return natural
    thresholds = sorted({*whole, 0}, reverse=True)
    for floor in range(_FLOOR, _MIN_WIDTH - 1, -1):
        for threshold in thresholds:
            kept = sum(w for w in whole if w <= threshold)
            rest = [i for i, w in enumerate(whole) if w > threshold]
            floors = [min(whole[i], floor) for i in rest]
            if kept + sum(floors) > room:
                continue
            widths = [w if w <= threshold else 0 for w in whole]
            shares = _share(room - kept, [natural[i] for i in rest], floors)
            for i, share in zip(rest, shares, strict=True):
                widths[i] = min(share, natural[i])
            spare = room - sum(widths)
            for i, w in enumerate(widths):  # headers unwrapped with what is left, if anything
                widths[i] += min(spare, natural[i] - w)
                spare -= widths[i] - w
            return widths
    return [min(w, _MIN_WIDTH) for w in natural]


def _fold(console: Console, cell: Cell, width: int) -> list[Text]:
    """cell's lines within width cells: at spaces where it has some (Rich's wrap, fold for a
    longer word), otherwise cut every width cells (what that wrap does, without its cost)."""
    if isinstance(cell, str):
        cell = Text(cell)
    if cell.spans or " " in cell.plain or "\n" in cell.plain:
        return list(cell.wrap(console, width, overflow="fold"))
    return [Text(part, style=cell.style) for part in chop_cells(cell.plain, width)]


def _lines(cell: Cell, plain: str) -> list[Cell]:
    if "\n" not in plain:
        return [cell]
    if isinstance(cell, str):
        return list[Cell](cell.split("\n"))
    return list[Cell](cell.split("\n", allow_blank=True))


class _Table:
    """A Rich renderable: a Rich table's title, borders and header for the given widths, then
    the rows, each cell one line of a column already cut to its width, drawn with that table's
    box characters and each Text's styles."""

    def __init__(
        self,
        head: Table,
        columns: Sequence[Column],
        widths: list[int],
        cells: list[list[Cell]],
        pads: list[list[int]],
        hidden: list[str],
    ) -> None:
        self.head = head
        self.hidden = hidden
        self.columns = columns
        self.widths = widths
        self.cells = cells
        self.pads = pads
        self.width = sum(widths) + _BORDER_PER_COLUMN * len(widths) + 1

    def __rich_console__(self, console: Console, options: ConsoleOptions) -> RenderResult:
        lines = console.render_lines(self.head, options, pad=False)
        new_line = Segment.line()
        for line in lines[:-1]:  # the last one is the bottom border
            yield from line
            yield new_line
        box = self.head.box
        assert box is not None
        box = box.substitute(options, safe=console.safe_box)
        left = Segment(box.mid_left + " ")
        between = Segment(" " + box.mid_vertical + " ")
        right = Segment(" " + box.mid_right)
        justify = [c.right for c in self.columns]
        for row, pads in zip(
            zip(*self.cells, strict=True), zip(*self.pads, strict=True), strict=True
        ):
            yield left
            for i, cell in enumerate(row):
                if i:
                    yield between
                pad = pads[i]
                if pad and justify[i]:
                    yield Segment(" " * pad)
                if isinstance(cell, str):
                    yield Segment(cell)
                elif cell.spans:
                    yield from cell.render(console)
                else:
                    yield Segment(cell.plain, console.get_style(cell.style) if cell.style else None)
                if pad and not justify[i]:
                    yield Segment(" " * pad)
            yield right
            yield new_line
        yield from lines[-1]
        yield new_line


def _shown(columns: Sequence[Column], whole: list[int], width: int) -> list[int]:
    """The indexes of the columns to show in width cells: all of them when each fits at the
    floor (or its whole width when narrower), else without those hidden first (hide_order)
    until the rest do, or none is left to hide."""
    shown = list(range(len(columns)))
    hideable = sorted((c.hide_order, i) for i, c in enumerate(columns) if c.hide_order is not None)
    for _, index in hideable:
        need = sum(min(whole[i], _FLOOR) for i in shown) + _BORDER_PER_COLUMN * len(shown) + 1
        if need <= width:
            break
        shown.remove(index)
    return shown


def render(
    console: Console,
    columns: Sequence[Column],
    rows: Sequence[Sequence[Cell]],
    *,
    title: str | None = None,
) -> _Table:
    """The table of rows for console's width (the columns hidden by it in `hidden`)."""
    measured = [[_measured(cell) for cell in row] for row in rows]
    widest = [0 for _ in columns]
    for row in measured:
        for i, (_, _, width) in enumerate(row):
            if width > widest[i]:
                widest[i] = width
    headers = [str(c.header) for c in columns]
    natural = [max(w, cell_len(h)) for w, h in zip(widest, headers, strict=True)]
    whole = [max([w, *map(cell_len, h.split())]) for w, h in zip(widest, headers, strict=True)]
    shown = _shown(columns, whole, console.width)
    hidden = [headers[i] for i in range(len(columns)) if i not in shown]
    if hidden:
        columns = [columns[i] for i in shown]
        measured = [[row[i] for i in shown] for row in measured]
        natural = [natural[i] for i in shown]
        whole = [whole[i] for i in shown]
    room = console.width - _BORDER_PER_COLUMN * len(columns) - 1
    widths = _fit(natural, whole, room)
    cells: list[list[Cell]] = [[] for _ in columns]
    pads: list[list[int]] = [[] for _ in columns]
    for row in measured:
        if all(width <= widths[i] and "\n" not in plain for i, (_, plain, width) in enumerate(row)):
            for i, (cell, _, width) in enumerate(row):  # one line, as it is
                cells[i].append(cell)
                pads[i].append(widths[i] - width)
            continue
        parts = [
            _fold(console, cell, widths[i]) if width > widths[i] else _lines(cell, plain)
            for i, (cell, plain, width) in enumerate(row)
        ]
        height = max(len(p) for p in parts)
        for i, part in enumerate(parts):
            cells[i].extend(part)
            cells[i].extend(_BLANK for _ in range(height - len(part)))
            pads[i].extend(
                widths[i] - cell_len(line if isinstance(line, str) else line.plain) for line in part
            )
            pads[i].extend(widths[i] for _ in range(height - len(part)))
    head = Table(title=title, title_justify="left")
    for i, column in enumerate(columns):
        header = Text(column.header) if isinstance(column.header, str) else column.header
        if header.cell_len > widths[i]:
            header = Text("\n").join(header.wrap(console, widths[i], overflow="fold"))
        head.add_column(
            header,
            justify="right" if column.right else "left",
            no_wrap=True,
            min_width=widths[i],
            max_width=widths[i],
        )
    return _Table(head, columns, widths, cells, pads, hidden)


def print_table(
    columns: Sequence[Column], rows: Sequence[Sequence[Cell]], *, title: str | None = None
) -> Console:
    """Print the table: as wide as the terminal, or when piped as wide as the table (one line a
    row, no colours). Returns the console, for what follows the table."""
    console = StdoutConsole()
    if console.is_terminal:
        table = render(console, columns, rows, title=title)
        console.print(table, crop=False)
        if table.hidden:
            console.print(
                Text(
                    f"Hidden at {console.width} columns: {', '.join(table.hidden)} (a wider "
                    "terminal or piped output has them)",
                    style="dim",
                )
            )
        return console
    table = render(Console(width=1_000_000), columns, rows, title=title)
    console = StdoutConsole(width=max(table.width, cell_len(title or "")))
    console.print(table, crop=False)
    return console
