"""The light table every terminal command prints (plan, apply, history, show, status): a dim header, columns
two spaces apart, numbers right-aligned, no boxes. It fits the console's width by wrapping text columns onto
more lines and then leaving out the columns marked optional, least needed first; nothing is cut, least of all
a number.

Not a rich Table: laying one out costs milliseconds, and a plan of a thousand portfolios prints a thousand of
them; and rich's last resort, shrinking every column, would cut numbers.
"""

from __future__ import annotations

import textwrap
from dataclasses import dataclass

from rich.text import Text

GAP = "  "


@dataclass(frozen=True)
class Col:
    """One column: `right` for numbers (right-aligned), `wrap` for text that may wrap onto more lines down to
    `least` characters wide, `drop` > 0 for a column that may be left out when the table is too wide (the
    highest first)."""

    name: str
    right: bool = False
    wrap: bool = False
    drop: int = 0
    least: int = 10


def widths_of(columns: list[Col] | tuple[Col, ...], rows: list[list[Text]]) -> list[int]:
    """The natural width of each column: its widest cell or its header."""
    return [max([len(c.name), *(row[i].cell_len for row in rows)]) for i, c in enumerate(columns)]


def fit(
    columns: list[Col] | tuple[Col, ...], rows: list[list[Text]], width: int | None, indent: int = 0
) -> tuple[list[int], list[int]]:
    """(indices of the columns kept, their widths) for a table at most `width` cells wide, where it can be."""
    natural = widths_of(columns, rows)
    kept = list(range(len(columns)))
    widths = dict(enumerate(natural))

    def total() -> int:
        return indent + sum(widths[i] for i in kept) + len(GAP) * (len(kept) - 1)

    while width is not None and total() > width:
        excess = total() - width
        shrinkable = [i for i in kept if columns[i].wrap and widths[i] > columns[i].least]
        if shrinkable:
            i = max(shrinkable, key=lambda k: widths[k])
            widths[i] -= min(excess, widths[i] - columns[i].least)
            continue
        optional = [i for i in kept if columns[i].drop > 0]
        if not optional:
            break  # only numbers and short words left: the line runs long rather than cut one
        kept.remove(max(optional, key=lambda k: columns[k].drop))
    return kept, [widths[i] for i in kept]


def line(columns: list[Col] | tuple[Col, ...], cells: list[Text], widths: list[int], indent: int = 0) -> Text:
    """One row laid out at the given widths: a wrapping cell wider than its column goes on over more lines;
    any other cell wider than its column pushes the rest right."""
    parts = [_wrapped(cell, width) if col.wrap else [cell] for col, cell, width in zip(columns, cells, widths,
                                                                                        strict=True)]
    out = Text()
    last = len(columns) - 1
    for n in range(max(len(p) for p in parts)):
        if n:
            out.append("\n")
        out.append(" " * indent)
        for i, (col, part, width) in enumerate(zip(columns, parts, widths, strict=True)):
            cell = part[n] if n < len(part) else Text()
            pad = " " * max(0, width - cell.cell_len)
            if col.right:
                out.append(pad)
                out.append_text(cell)
            else:
                out.append_text(cell)
                if i < last:
                    out.append(pad)
            if i < last:
                out.append(GAP)
        out.rstrip()
    return out


def _wrapped(cell: Text, width: int) -> list[Text]:
    if cell.cell_len <= width:
        return [cell]
    return [Text(piece, style=cell.style) for piece in textwrap.wrap(cell.plain, width)] or [cell]


def header(columns: list[Col] | tuple[Col, ...]) -> list[Text]:
    """Column headers, dimmed so the figures stand out."""
    return [Text(c.name, style="dim") for c in columns]


def layout(
    columns: list[Col] | tuple[Col, ...], rows: list[list[Text]], width: int | None = None, indent: int = 0
) -> Text:
    """The header and the rows, fitted to `width`."""
    kept, widths = fit(columns, [header(columns), *rows], width, indent)
    cols = [columns[i] for i in kept]
    out = Text()
    for n, row in enumerate([header(columns), *rows]):
        if n:
            out.append("\n")
        out.append_text(line(cols, [row[i] for i in kept], widths, indent))
    return out
