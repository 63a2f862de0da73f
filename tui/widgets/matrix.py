"""The whole landscape as a dependency structure matrix: one row per calling system, one column
per called system or vendor, the worst verdict of the edges between them in each cell.

A matrix keeps one cell per pair whatever the number of systems: 42 systems and their vendors fit
160 columns with two or three cells a column, where a drawing of boxes and arrows would need
thousands. Column headers are the row numbers; the columns past the rows (vendors, resources) are
named below the rows where there is room, and the line under the matrix names the pair under
the cursor and counts its edges. The diagonal holds the integrations inside each system.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace

from rich.segment import Segment
from rich.style import Style
from textual import events
from textual.binding import Binding
from textual.geometry import Size
from textual.message import Message
from textual.strip import Strip
from textual.widget import Widget

from seamscope.classifiers.results import Verdict
from seamscope.tracer.terminal import safe
from seamscope.tui.widgets.layout import elide, parse_style


@dataclass(slots=True)
class Cell:
    """The edges from one system to another (or inside one, on the diagonal)."""

    worst: Verdict
    edges: int = 0
    rules: dict[str, int] = field(default_factory=dict)

    def add(self, verdict: Verdict, rule: str) -> None:
        if verdict.rank < self.worst.rank:
            self.worst = verdict
        self.edges += 1
        self.rules[rule] = self.rules.get(rule, 0) + 1


@dataclass(frozen=True, slots=True)
class Matrix:
    rows: tuple[str, ...]  # node ids of the calling systems
    columns: tuple[str, ...]  # node ids of the called systems, then vendors and resources
    names: dict[str, str]
    cells: dict[tuple[str, str], Cell]


class MatrixView(Widget, can_focus=True):
    """Arrows (or h j k l) move the cursor cell, g G (Home End) to the first and last row,
    Ctrl+D Ctrl+U (PgDn PgUp) a page of rows; # shows edge counts instead of glyphs, Enter
    lists the edges of the cell (on the diagonal, opens the system)."""

    DEFAULT_CSS = """
    MatrixView {
        width: 1fr;
        height: 1fr;
    }
    """

    BINDINGS = [
        Binding("up,k", "move(0, -1)", "Up", show=False),
        Binding("down,j", "move(0, 1)", "Down", show=False),
        Binding("left,h", "move(-1, 0)", "Left", show=False),
        Binding("right,l", "move(1, 0)", "Right", show=False),
        # As in the tables: the first and the last row, a page of rows down and up.
        Binding("home,g", "to_row(0)", "First row", show=False),
        Binding("end,G", "to_row(-1)", "Last row", show=False),
        Binding("pagedown,ctrl+d", "page(1)", "Page down", show=False),
        Binding("pageup,ctrl+u", "page(-1)", "Page up", show=False),
        Binding("number_sign", "counts", "Counts"),
        Binding("enter", "choose", "Edges of the cell", show=False),
    ]

    class Moved(Message):
        """The cursor is on the cell (row, column)."""

        def __init__(self, row: str, column: str) -> None:
            super().__init__()
            self.row = row
            self.column = column

    class Chosen(Message):
        def __init__(self, row: str, column: str) -> None:
            super().__init__()
            self.row = row
            self.column = column

    def __init__(self, *, id: str | None = None) -> None:  # noqa: A002
        super().__init__(id=id)
        self.matrix = Matrix((), (), {}, {})
        self.cursor = (0, 0)
        self.counts = False
        self._first = (0, 0)  # first row and column shown

    def show_matrix(self, matrix: Matrix) -> None:
        """Shows matrix, the cursor staying on the same pair when it is still there."""
        row, column = self.current or ("", "")
        # Names come from the spans' resources: escaped once here, for every line drawn.
        names = {node: safe(name) for node, name in matrix.names.items()}
        self.matrix = matrix = replace(matrix, names=names)
        r = matrix.rows.index(row) if row in matrix.rows else 0
        c = matrix.columns.index(column) if column in matrix.columns else 0
        self.cursor = (r, c)
        self.refresh()

    def put_cursor(self, row: str) -> None:
        """Puts the cursor on row (a system's node id), at its first cell with edges."""
        if row not in self.matrix.rows:
            return
        r = self.matrix.rows.index(row)
        cols = [i for i, c in enumerate(self.matrix.columns) if (row, c) in self.matrix.cells]
        self.cursor = (r, cols[0] if cols else 0)
        self.refresh()

    @property
    def current(self) -> tuple[str, str] | None:
        m = self.matrix
        r, c = self.cursor
        if r < len(m.rows) and c < len(m.columns):
            return (m.rows[r], m.columns[c])
        return None

    # ---- geometry --------------------------------------------------------------------------

    @property
    def header_rows(self) -> int:
        """The column numbers, written downwards: one line per digit."""
        return len(str(max(len(self.matrix.columns), 1)))

    def _label_width(self) -> int:
        digits = len(str(max(len(self.matrix.columns), 1)))
        longest = max((len(self.matrix.names.get(r, r)) for r in self.matrix.rows), default=4)
        return digits + 1 + min(longest, 18) + 1

    def _cell_width(self) -> int:
        room = self.size.width - self._label_width()
        return 3 if room >= 3 * len(self.matrix.columns) else 2

    def _window(self) -> tuple[int, int, int, int]:
        """(first row, rows shown, first column, columns shown), following the cursor."""
        rows = max(1, self.size.height - self.header_rows)
        cols = max(1, (self.size.width - self._label_width()) // self._cell_width())
        r, c = self.cursor
        first_r, first_c = self._first
        first_r = max(0, min(first_r, len(self.matrix.rows) - rows))
        first_c = max(0, min(first_c, len(self.matrix.columns) - cols))
        first_r = min(max(first_r, r - rows + 1), r)
        first_c = min(max(first_c, c - cols + 1), c)
        self._first = (first_r, first_c)
        return first_r, rows, first_c, cols

    def wanted_height(self) -> int:
        """Lines that show every row and, below them, the legend (the border not counted)."""
        legend = self.legend_lines() if self.matrix.rows else []
        return self.header_rows + max(1, len(self.matrix.rows)) + (1 + len(legend) if legend else 0)

    def get_content_height(self, container: Size, viewport: Size, width: int) -> int:
        return max(1, container.height)

    # ---- drawing ---------------------------------------------------------------------------

    def render_line(self, y: int) -> Strip:
        base = self.rich_style
        m = self.matrix
        if not m.rows:
            return Strip([Segment("No edges between systems." if y == 0 else "", base)])
        first_r, rows, first_c, cols = self._window()
        label_w, cell_w = self._label_width(), self._cell_width()
        cur_r, cur_c = self.cursor
        shown_cols = range(first_c, min(len(m.columns), first_c + cols))
        segments: list[Segment] = []
        dim = base + Style(dim=True)
        strong = base + Style(bold=True, reverse=True)
        header = self.header_rows
        if y < header:
            note = self._range_note(y, first_r, rows, first_c, cols)
            segments.append(Segment(note, dim if note.strip() else base))
            for c in shown_cols:
                number = f"{c + 1:>{header}}"[y]
                style = strong if c == cur_c else (dim if number == " " else base)
                segments.append(Segment(number.rjust(cell_w - 1) + " ", style))
            return Strip(segments)
        r = first_r + y - header
        if r >= len(m.rows):
            return self._legend_line(y - header - (len(m.rows) - first_r) - 1, dim)
        if r >= first_r + rows:
            return Strip([])
        row = m.rows[r]
        number = f"{r + 1}".rjust(len(str(max(len(m.columns), 1))))
        name = elide(m.names.get(row, row), label_w - len(number) - 2)
        label = f"{number} {name}".ljust(label_w)
        segments.append(Segment(label, strong if r == cur_r else base + Style(bold=True)))
        for c in shown_cols:
            column = m.columns[c]
            cell = m.cells.get((row, column))
            here = (r, c) == (cur_r, cur_c)
            if cell is None:
                text, style = ("·" if row != column else "╲"), dim
            else:
                text = str(min(cell.edges, 99)) if self.counts else cell.worst.glyph
                style = base + parse_style(cell.worst.style)
                if row == column:
                    style += Style(underline=True)  # inside the system
            if here:
                style = style + Style(reverse=True)
            elif r == cur_r or c == cur_c:
                style = style + Style(bgcolor="grey23")
            segments.append(Segment(text.rjust(cell_w - 1) + " ", style))
        return Strip(segments)

    def legend_lines(self) -> list[str]:
        """The numbers and names of the columns that are no row (vendors and resources called),
        packed into lines of the widget's width: nothing else on screen names them."""
        m = self.matrix
        digits = len(str(max(len(m.columns), 1)))
        entries = [f"{c + 1:>{digits}} {m.names.get(col, col)}" for c, col in enumerate(m.columns)]
        extra = entries[len(m.rows) :] if m.columns[: len(m.rows)] == m.rows else []
        lines: list[str] = []
        width = max(1, self.size.width)
        for entry in extra:
            entry = elide(entry, width)
            if lines and len(lines[-1]) + 3 + len(entry) <= width:
                lines[-1] += "   " + entry
            else:
                lines.append(entry)
        return lines

    def _legend_line(self, index: int, style: Style) -> Strip:
        """Line index of the legend below the last row (a blank line first), cut with "…" on
        the last line there is room for."""
        if index < 0:
            return Strip([])
        lines = self.legend_lines()
        if index >= len(lines):
            return Strip([])
        text = lines[index]
        last_y = self.size.height - 1
        y = self.header_rows + (len(self.matrix.rows) - self._first[0]) + 1 + index
        if y == last_y and index < len(lines) - 1:
            text = text[: max(1, self.size.width - 1)] + "…"
        return Strip([Segment(text, style)])

    def _range_note(self, y: int, first_r: int, rows: int, first_c: int, cols: int) -> str:
        """The header's left part: which columns (first line) and rows (second) are in view
        when not all fit, with an arrow toward those out of view; blank when all fit."""
        m, width = self.matrix, self._label_width()
        if y == 0:
            first, shown, total, before, after = first_c, cols, len(m.columns), "◂", "▸"
        elif y == 1:
            first, shown, total, before, after = first_r, rows, len(m.rows), "▴", "▾"
        else:
            return " " * width
        last = min(total, first + shown)
        if first == 0 and last == total:
            return " " * width
        what = "cols" if y == 0 else "rows"
        note = f"{before if first else ' '}{what} {first + 1}-{last}/{total}"
        note += after if last < total else ""
        return elide(note, width - 1).ljust(width)

    # ---- keys and mouse --------------------------------------------------------------------

    def action_move(self, dx: int, dy: int) -> None:
        r, c = self.cursor
        self._go(r + dy, c + dx)

    def action_to_row(self, row: int) -> None:
        """The first row (0) or the last (-1), in the same column."""
        self._go(row if row >= 0 else len(self.matrix.rows) + row, self.cursor[1])

    def action_page(self, pages: int) -> None:
        """A page of rows (as many as are shown) down (1) or up (-1), in the same column."""
        _, rows, _, _ = self._window()
        r, c = self.cursor
        self._go(r + pages * rows, c)

    def _go(self, r: int, c: int) -> None:
        """The cursor to row r, column c (kept inside the matrix)."""
        m = self.matrix
        if not m.rows:
            return
        self.cursor = (max(0, min(len(m.rows) - 1, r)), max(0, min(len(m.columns) - 1, c)))
        self.refresh()
        current = self.current
        if current is not None:
            self.post_message(self.Moved(*current))

    def action_counts(self) -> None:
        self.counts = not self.counts
        self.refresh()

    def action_choose(self) -> None:
        current = self.current
        if current is not None and current in self.matrix.cells:
            self.post_message(self.Chosen(*current))

    def on_click(self, event: events.Click) -> None:
        offset = event.get_content_offset(self)
        if offset is None or offset.y < self.header_rows:
            return
        first_r, _, first_c, _ = self._window()
        c = first_c + (offset.x - self._label_width()) // self._cell_width()
        r = first_r + offset.y - self.header_rows
        if 0 <= r < len(self.matrix.rows) and 0 <= c < len(self.matrix.columns):
            if (r, c) == self.cursor:
                self.action_choose()
                return
            self.cursor = (r, c)
            self.refresh()
            self.post_message(self.Moved(self.matrix.rows[r], self.matrix.columns[c]))


def describe_cell(matrix: Matrix, row: str, column: str) -> str:
    """ "billing → orders: 3 edges (A202, A301 ×2) · Enter lists them" for the line under the
    matrix; on the diagonal, where the table lists the edges inside the system already,
    "· Enter opens orders" (docs/tui.md)."""
    names = matrix.names
    cell = matrix.cells.get((row, column))
    pair = (
        f"inside {names.get(row, row)}"
        if row == column
        else f"{names.get(row, row)} → {names.get(column, column)}"
    )
    if cell is None:
        return f"{pair}: no edges"
    rules = ", ".join(f"{rule} ×{n}" if n > 1 else rule for rule, n in sorted(cell.rules.items()))
    enter = f"opens {names.get(row, row)}" if row == column else "lists them"
    return f"{pair}: {cell.edges} edge{'s' if cell.edges != 1 else ''} ({rules}) · Enter {enter}"
