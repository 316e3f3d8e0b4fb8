"""The what-if section of the plan comment: a pull request's old and new targets backtested side by side
(backtest.whatif computes it; templates/whatif.md.j2 lays it out), one folded `<details>` per portfolio.

The chart is a Mermaid `xychart-beta` line chart, which GitHub renders in any Markdown field, comments
included (github/roadmap#372, "native support for Mermaid wherever Markdown is supported"). The syntax is
Mermaid's (https://mermaid.js.org/syntax/xyChart.html): a numeric x-axis `x-axis "title" MIN --> MAX` over
which each `line [...]` is spread evenly, one `line` per series. An XY chart draws no legend (mermaid-js
discussion #5207), so the colours are set with the chart's `plotColorPalette` theme variable, first colour
to the first line, and the text above the chart says which line is which; where a viewer shows the source
instead (GitHub Mobile), the table above it already holds the figures. Only numbers and our own words go
inside the chart: no name or symbol.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import date

from reconciler.core.changes import WhatIfReport, WhatIfResult, WhatIfSide

# Grey for the targets before, orange for the new ones (GitHub's own), first colour to the first line. A
# letter after each `#`: the comment's escaper (shown.markdown) breaks `#` and a digit, an issue reference,
# with a zero-width space, which would break the colour too.
COLOURS = {"old targets": ("grey", "#afb8c1"), "new targets": ("orange", "#e36209")}


def _init(sides: tuple[WhatIfSide, ...]) -> str:
    """The chart's directive giving each line its side's colour."""
    palette = ", ".join(COLOURS[s.label][1] for s in sides)
    return '%%{init: {"themeVariables": {"xyChart": {"plotColorPalette": "' + palette + '"}}}}%%'


def dollars(x: float) -> str:
    """Whole dollars, the sign first: `-$2,925`."""
    text = f"${abs(x):,.0f}"
    return f"-{text}" if x < 0 and text != "$0" else text


def _signed_dollars(x: float) -> str:
    return f"+{dollars(x)}" if round(x) > 0 else dollars(x)


def _pct(x: float) -> str:
    return f"{x:.2%}" if math.isfinite(x) else "n/a"


def _points(x: float) -> str:
    return f"{x * 100:+.2f} pp" if math.isfinite(x) else "n/a"


# (label, figure, kind): money is whole dollars and changes by a signed amount; a rate changes in points.
ROWS = (
    ("final value", "final_value", "money"),
    ("after-tax value if sold", "after_tax_value", "money"),
    ("CAGR", "cagr", "rate"),
    ("volatility", "volatility", "rate"),
    ("max drawdown", "max_drawdown", "rate"),
    ("turnover / year", "turnover", "rate"),
    ("rebalances", "rebalances", "count"),
    ("costs", "costs", "money"),
    ("taxes paid", "taxes", "money"),
)


@dataclass(frozen=True)
class Row:
    """One figure of the what-if table, per side and the change between them."""

    label: str
    cells: tuple[str, ...]  # one per side, then the change when there are two sides


def rows(sides: tuple[WhatIfSide, ...]) -> list[Row]:
    """The figures of each side, and new minus old when both ran."""
    out = []
    for label, key, kind in ROWS:
        values = [float(getattr(s, key)) for s in sides]
        show = dollars if kind == "money" else _pct if kind == "rate" else (lambda v: f"{v:,.0f}")
        cells = [show(v) for v in values]
        if len(values) == 2:
            d = values[1] - values[0]
            change = _signed_dollars(d) if kind == "money" else _points(d) if kind == "rate" else f"{d:+,.0f}"
            cells.append(change)
        out.append(Row(label, tuple(cells)))
    return out


def _year(day: str) -> float:
    """A date as a fractional year (2012-07-02 → 2012.50), the chart's numeric x-axis."""
    d = date.fromisoformat(day)
    first = date(d.year, 1, 1)
    return d.year + (d - first).days / (date(d.year + 1, 1, 1) - first).days


def chart(report: WhatIfReport, result: WhatIfResult) -> str:
    """The Mermaid source of both value paths over the window (empty without sides)."""
    if not result.sides:
        return ""
    lines = [
        _init(result.sides),
        "xychart-beta",
        f'  x-axis "year" {_year(report.start):.2f} --> {_year(report.end):.2f}',
        '  y-axis "value ($)"',
    ]
    lines += ["  line [" + ", ".join(f"{v:.0f}" for v in side.path) + "]" for side in result.sides]
    return "\n".join(lines)


def legend(result: WhatIfResult) -> str:
    """Which line is which, in words: the chart draws no legend."""
    return ", ".join(f"{COLOURS[side.label][0]}: {side.label}" for side in result.sides)


def headline(result: WhatIfResult) -> str:
    """The summary line's figures: after-tax value and max drawdown, old → new (or the new side's alone)."""
    if len(result.sides) == 2:
        old, new = result.sides
        return (f"after-tax value {dollars(old.after_tax_value)} → {dollars(new.after_tax_value)}"
                f" ({_signed_dollars(new.after_tax_value - old.after_tax_value)}), max drawdown"
                f" {_pct(old.max_drawdown)} → {_pct(new.max_drawdown)}")
    side = result.sides[0]
    return (f"new portfolio: after-tax value {dollars(side.after_tax_value)}, max drawdown"
            f" {_pct(side.max_drawdown)}")
