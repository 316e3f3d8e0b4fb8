"""The backtest's charts, one question per panel: how far each strategy's value is from the baseline's (in
money), how far each strays from its targets, and how deep its drawdowns go. matplotlib's Agg backend renders
them offline: SVG for the HTML report (vector; the page's own script reads `hover()` to show values under the
pointer), PNG for `--report FILE.png`.

One legend per panel, beside the plot so it never covers a line; colours from Okabe and Ito's palette, which
stays distinguishable to colour-blind readers (https://jfly.uni-koeln.de/color/); the baseline is a black
line.
"""

from __future__ import annotations

import io
import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, cast

import numpy as np

from reconciler.backtest.kernels import FloatArray
from reconciler.backtest.metrics import deviations, drawdowns, wealth_index

if TYPE_CHECKING:
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure

    from reconciler.backtest.report import Report

PALETTE = ("#0072B2", "#D55E00", "#E69F00", "#CC79A7", "#009E73", "#56B4E9", "#7F7F7F", "#F0E442")
BASELINE_COLOR = "#000000"
MAX_POINTS = 1200  # per line: a point every few days keeps an SVG small and looks the same


@dataclass(frozen=True)
class Line:
    """One strategy's series on a chart, with the colour it has on every chart."""

    name: str
    color: str
    dates: np.ndarray[Any, np.dtype[np.datetime64]]
    values: FloatArray


Panel = Callable[["Axes", "Report"], tuple[list[Line], str]]  # draws; returns its lines and their unit


def money_tick(x: float, _pos: object = None) -> str:
    """An axis label in money units: $0, $250, $100k, $1.5M, -$50k."""
    sign = "-" if x < 0 else ""
    v = abs(x)
    for size, unit in ((1e9, "B"), (1e6, "M"), (1e3, "k")):
        if v >= size:
            return f"{sign}${v / size:,.3g}{unit}"
    return f"{sign}${v:,.0f}" if v else "$0"


def _color(report: Report, k: int) -> str:
    if k == report.baseline:
        return BASELINE_COLOR
    others = [i for i in range(len(report.runs)) if i != report.baseline]
    return PALETTE[others.index(k) % len(PALETTE)]


def _buckets(n: int) -> np.ndarray[Any, np.dtype[np.int64]]:
    return np.arange(0, n, max(1, math.ceil(n / MAX_POINTS)), dtype=np.int64)


def _draw(ax: Axes, lines: list[Line], width: float = 1.0) -> None:
    for line in lines:
        ax.plot(line.dates, line.values, linewidth=width, color=line.color, label=line.name)
    ax.legend(loc="upper left", bbox_to_anchor=(1.01, 1.0), fontsize=9, frameon=False, borderaxespad=0)


def relative_value(ax: Axes, report: Report) -> tuple[list[Line], str]:
    """Each strategy's account value less the baseline's, in money; dots at the end: after tax if all were
    sold."""
    from matplotlib.ticker import FuncFormatter

    base = report.runs[report.baseline]
    starts = _buckets(len(base.dates))
    dates = base.dates.astype("datetime64[D]")
    ax.axhline(0, color=BASELINE_COLOR, linewidth=1.2, label=f"{base.strategy.name} (baseline)")
    base_after = report.metrics[report.baseline].after_tax_value
    lines = []
    for k, run in enumerate(report.runs):
        if k != report.baseline:
            diff = run.equity - base.equity
            lines.append(Line(run.strategy.name, _color(report, k), dates[starts], diff[starts]))
            ax.plot([dates[-1]], [report.metrics[k].after_tax_value - base_after], marker="o", markersize=5,
                    color=_color(report, k), linestyle="none")
    _draw(ax, lines, 1.1)
    ax.yaxis.set_major_formatter(FuncFormatter(money_tick))
    ax.set_ylabel(f"value − {base.strategy.name}")
    ax.set_title(
        f"Account value against {base.strategy.name} (dots: after tax if sold at the end)",
        loc="left",
        fontsize=10,
    )
    return lines, "money"


def deviation(ax: Axes, report: Report) -> tuple[list[Line], str]:
    """The share of each account off its targets, per day (the largest in each stretch of days drawn)."""
    from matplotlib.ticker import PercentFormatter

    lines = []
    for k, run in enumerate(report.runs):
        starts = _buckets(len(run.dates))
        dev = np.maximum.reduceat(deviations(run), starts) * 100
        lines.append(
            Line(run.strategy.name, _color(report, k), run.dates.astype("datetime64[D]")[starts], dev)
        )
    _draw(ax, lines)
    ax.yaxis.set_major_formatter(PercentFormatter(decimals=0))
    ax.set_ylim(bottom=0)
    ax.set_ylabel("off target")
    ax.set_title(
        "Deviation from target: the share of the account that would have to trade", loc="left", fontsize=10
    )
    return lines, "percent"


def drawdown(ax: Axes, report: Report) -> tuple[list[Line], str]:
    """Drawdowns of the time-weighted return (the deepest in each stretch of days drawn)."""
    from matplotlib.ticker import PercentFormatter

    lines = []
    for k, run in enumerate(report.runs):
        starts = _buckets(len(run.dates))
        dd = np.minimum.reduceat(drawdowns(wealth_index(run)), starts) * 100
        lines.append(
            Line(run.strategy.name, _color(report, k), run.dates.astype("datetime64[D]")[starts], dd)
        )
    _draw(ax, lines)
    ax.yaxis.set_major_formatter(PercentFormatter(decimals=0))
    ax.set_ylabel("below the peak")
    ax.set_title("Drawdown of the time-weighted return", loc="left", fontsize=10)
    return lines, "percent"


PANELS: tuple[tuple[Panel, str], ...] = (
    (relative_value, "account value of each strategy less the baseline's, over time"),
    (deviation, "deviation from target over time"),
    (drawdown, "drawdown over time"),
)


def hover(ax: Axes, lines: list[Line], unit: str) -> dict[str, Any]:
    """What the page shows under the pointer, once the figure is drawn: the plot area and each point's
    position as fractions of the image, and each line's values (the page formats them; names go in as text,
    never HTML)."""
    from matplotlib import dates as mdates

    date2num = cast(Callable[[Any], FloatArray], mdates.date2num)  # untyped in matplotlib's stubs
    box = ax.get_position()
    lo, hi = ax.get_xlim()
    xs = box.x0 + (date2num(lines[0].dates) - lo) / (hi - lo) * box.width if lines else np.zeros(0)
    digits = 0 if unit == "money" else 2
    return {
        "left": round(box.x0, 5), "right": round(box.x1, 5), "top": round(1 - box.y1, 5),
        "bottom": round(1 - box.y0, 5), "unit": unit,
        "xs": [round(float(x), 5) for x in xs],
        "dates": [str(d) for d in lines[0].dates] if lines else [],
        "lines": [
            {"name": line.name, "color": line.color, "values": [round(float(v), digits) for v in line.values]}
            for line in lines
        ],
    }


def _figure(rows: int, height: float) -> Figure:
    import matplotlib

    matplotlib.use("Agg")
    from matplotlib.figure import Figure

    return Figure(figsize=(10, height * rows), layout="constrained")


def _style(ax: Axes) -> None:
    ax.grid(True, alpha=0.3)
    ax.spines[["top", "right"]].set_visible(False)
    ax.tick_params(labelsize=9)


def png(report: Report) -> bytes:
    """Every panel in one PNG, stacked."""
    fig = _figure(len(PANELS), 3.2)
    axes = fig.subplots(len(PANELS), 1, sharex=True)
    for ax, (panel, _alt) in zip(axes, PANELS, strict=True):
        panel(ax, report)
        _style(ax)
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=110)
    return buffer.getvalue()


@dataclass(frozen=True)
class Chart:
    """A chart as the page embeds it: SVG, its alt text, and the data its hover shows."""

    svg: str
    alt: str
    hover: dict[str, Any]


def svgs(report: Report) -> list[Chart]:
    """Each panel as its own SVG document, with the text that describes it and what hovering shows."""
    from matplotlib import rc_context

    out = []
    # Text stays text (smaller, selectable); a fixed salt makes the same report give the same bytes.
    with rc_context({"svg.fonttype": "none", "svg.hashsalt": "reconciler"}):
        for panel, alt in PANELS:
            fig = _figure(1, 3.2)
            ax = fig.subplots()
            lines, unit = panel(ax, report)
            _style(ax)
            buffer = io.StringIO()
            fig.savefig(buffer, format="svg", metadata={"Date": None})
            out.append(Chart(buffer.getvalue(), alt, hover(ax, lines, unit)))
    return out
