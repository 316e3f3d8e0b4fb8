"""The plan comment's chart: one row of dots per holding on a shared weight axis — now (○), after the orders
(●), the target (┃) inside its band ([───]) — with the numbers beside it. Plain monospace text in a code
block: GitHub shows it as written, in every viewer, and it stays short (a row per holding, the smallest
grouped as "other").

A chart of bars now against a target line drew the line across unrelated holdings and left out where the
orders take the portfolio; this shows all three and the band they are judged by."""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from decimal import Decimal

from reconciler.core.models import PortfolioPlan
from reconciler.core.numbers import ZERO
from reconciler.render.fmt import pct, points

# characters of the axis: with the label and the numbers, a row stays within GitHub's comment column
WIDTH = 40
ROWS = 12  # holdings drawn before the rest is grouped as "other"
LEGEND = "○ now   ● after the orders   ┃ target   [───] band"
# A symbol comes from the broker too: inside the code block it is a label of a few safe characters, never
# markup.
_UNSAFE = re.compile(r"[^A-Za-z0-9./:_-]")


@dataclass(frozen=True)
class Row:
    """One holding on the drift chart: its weight now and after, its target and band."""

    label: str
    now: Decimal
    after: Decimal
    target: Decimal
    band: Decimal | None


def rows_of(pp: PortfolioPlan, top: int = ROWS) -> list[Row]:
    """The holdings, largest first (now, after or target), the rest as "other", then cash."""
    ordered = sorted(
        pp.holdings, key=lambda h: (-max(h.weight_before, h.weight_after, h.weight_target), h.symbol)
    )
    shown, rest = ordered[:top], ordered[top:]
    out = [Row(_UNSAFE.sub("?", h.symbol)[:12], h.weight_before, h.weight_after, h.weight_target, h.band)
           for h in shown]
    if rest:
        out.append(Row(f"other ({len(rest)})", sum((h.weight_before for h in rest), ZERO),
                       sum((h.weight_after for h in rest), ZERO), sum((h.weight_target for h in rest), ZERO),
                       None))
    out.append(Row("cash", pp.cash_weight_before, pp.cash_weight_after, pp.cash_weight_target, None))
    return out


def dot_plot(pp: PortfolioPlan, top: int = ROWS) -> str:
    """The chart's text: an axis line, a row per holding, the legend."""
    rows = rows_of(pp, top)
    peak = max(max(r.now, r.after, r.target + (r.band or ZERO)) for r in rows)
    full = min(100, max(10, math.ceil(float(peak) * 10) * 10))  # the axis ends at the next 10%

    def at(w: Decimal) -> int:
        return max(0, min(WIDTH, round(float(w) * 100 / full * WIDTH)))

    label = max(len(r.label) for r in rows)
    axis = [" "] * (WIDTH + 8)
    for tick in range(0, 5):
        text = f"{full * tick // 4}%"
        start = min(WIDTH * tick // 4, WIDTH + 8 - len(text))
        axis[start:start + len(text)] = list(text)
    lines = [" " * (label + 2) + "".join(axis).rstrip()]
    numbers = [
        (
            pct(r.now),
            pct(r.after),
            pct(r.target),
            f" ±{points(r.band, signed=False)}" if r.band is not None else "",
        )
        for r in rows
    ]
    wide = [max(len(n[i]) for n in numbers) for i in range(3)]
    for r, (now, after, target, band) in zip(rows, numbers, strict=True):
        cells = ["·"] * (WIDTH + 1)
        if r.band is not None:
            low, high = at(max(ZERO, r.target - r.band)), at(r.target + r.band)
            cells[low:high + 1] = ["─"] * (high - low + 1)
            cells[low], cells[high] = "[", "]"
        cells[at(r.target)] = "┃"
        cells[at(r.now)] = "○"
        cells[at(r.after)] = "●"
        lines.append(f"{r.label:<{label}}  {''.join(cells)}  {now:>{wide[0]}} → {after:>{wide[1]}}"
                     f"  target {target:>{wide[2]}}{band}")
    lines.append(LEGEND)
    return "\n".join(lines)
