"""`backtest --sweep`: one strategy spec with ranges and alternatives, expanded to a grid, run in parallel.

    calendar-threshold:{monthly|quarterly|annual},abs=0.01..0.05/0.01    3 × 5 = 15 strategies

`{a|b|c}` stands for each alternative and `LOW..HIGH/STEP` for each value from LOW to HIGH (inclusive) by
STEP, exactly (Decimal). Each point is one ordinary strategy, run by `engine.run_strategy` in a worker of any
`concurrent.futures.Executor` (processes by default, so every core works; Dask's Client.get_executor() works
the same), and only its figures come back. The grid is ranked by one figure.
"""

from __future__ import annotations

import itertools
import math
import re
from collections.abc import Callable
from concurrent.futures import Executor
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from itertools import repeat

from reconciler.backtest.data import PriceTable
from reconciler.backtest.engine import Settings, run_strategy
from reconciler.backtest.metrics import Metrics, compute
from reconciler.backtest.strategies import Strategy
from reconciler.core.models import Desired
from reconciler.errors import BacktestError

MAX_POINTS = 10_000
RANGE = re.compile(r"(?P<lo>[0-9.]+%?)\.\.(?P<hi>[0-9.]+%?)/(?P<step>[0-9.]+%?)")
CHOICE = re.compile(r"\{(?P<items>[^{}]*)\}")
# Figures a grid may be ranked by, and whether more is better.
RANKS = {"sharpe": True, "cagr": True, "final_value": True, "max_drawdown": True, "volatility": False,
         "turnover_per_year": False, "costs": False, "taxes_paid": False, "avg_deviation": False}


def _decimal(text: str, spec: str) -> Decimal:
    try:
        return Decimal(text[:-1]) / 100 if text.endswith("%") else Decimal(text)
    except InvalidOperation:
        raise BacktestError(
            f"{text!r} is not a number", where=f"--sweep {spec}", fix="write LOW..HIGH/STEP"
        ) from None


def _values(m: re.Match[str], spec: str) -> list[str]:
    lo, hi, step = (_decimal(m[k], spec) for k in ("lo", "hi", "step"))
    if step <= 0 or hi < lo:
        raise BacktestError(
            f"empty range {m[0]}", where=f"--sweep {spec}",
            fix="write LOW..HIGH/STEP with LOW ≤ HIGH, STEP > 0"
        )
    count = int((hi - lo) / step) + 1
    if count > MAX_POINTS:
        raise BacktestError(f"{m[0]} has {count:,} values", where=f"--sweep {spec}", fix="use a larger step")
    return [str(lo + k * step) for k in range(count)]


@dataclass(frozen=True)
class Grid:
    """A swept spec: every point's strategy spec, its value on each axis, and each axis' name (the option)."""

    specs: list[str]
    points: list[tuple[str, ...]]
    axes: list[str]


def expand(spec: str) -> Grid:
    """Every strategy spec of the grid, in order (the first axis varies slowest)."""
    axes: list[list[str]] = []
    names: list[str] = []
    pieces: list[str] = []
    pos = 0
    for m in re.finditer(f"{CHOICE.pattern}|{RANGE.pattern}", spec):
        before = spec[pos : m.start()]
        pieces.append(before)
        option = re.search(r"([a-z]+)=$", before)
        names.append(
            option[1] if option else "every" if before.endswith((":", ",")) else f"axis {len(axes) + 1}"
        )
        if m["items"] is not None:
            items = [i.strip() for i in m["items"].split("|") if i.strip()]
            if not items:
                raise BacktestError("an empty {}", where=f"--sweep {spec}", fix="write {a|b|c}")
            axes.append(items)
        else:
            axes.append(_values(m, spec))
        pos = m.end()
    pieces.append(spec[pos:])
    if not axes:
        raise BacktestError(
            "nothing to sweep", where=f"--sweep {spec}",
            fix="give a range (abs=0.01..0.10/0.01) or alternatives ({monthly|quarterly}), or use --strategy",
        )
    total = math.prod(len(axis) for axis in axes)
    if total > MAX_POINTS:
        raise BacktestError(f"the grid has {total:,} points", where=f"--sweep {spec}",
                            fix=f"sweep at most {MAX_POINTS:,} points")
    points = list(itertools.product(*axes))
    specs = [pieces[0] + "".join(v + p for v, p in zip(point, pieces[1:], strict=True)) for point in points]
    return Grid(specs, points, names)


def _one(
    desired: Desired, prices: PriceTable, strategy: Strategy, settings: Settings, risk_free: float
) -> Metrics:
    """One grid point, in a worker: the run stays there, only its figures come back."""
    return compute(run_strategy(desired, prices, strategy, settings), risk_free)


def run_grid(
    desired: Desired,
    prices: PriceTable,
    strategies: list[Strategy],
    settings: Settings,
    risk_free: float,
    executor: Executor,
    progress: Callable[[int], None] | None = None,
) -> list[Metrics]:
    """Every strategy's figures, in the strategies' order, computed by the executor's workers."""
    # Executor.map (not submit): the word "submit" is kept for sending orders, which a test enforces.
    n = len(strategies)
    results = executor.map(_one, repeat(desired, n), repeat(prices, n), strategies, repeat(settings, n),
                           repeat(risk_free, n))
    out = []
    for k, metrics in enumerate(results):
        out.append(metrics)
        if progress is not None:
            progress(k + 1)
    return out


FIGURES = [
    ("final value", "final_value"),
    ("CAGR", "cagr"),
    ("Sharpe", "sharpe"),
    ("max drawdown", "max_drawdown"),
    ("turnover/yr", "turnover_per_year"),
    ("rebalances", "rebalances"),
    ("costs", "costs"),
]


def table(
    grid: Grid, metrics: list[Metrics], by: str, top: int, cell: Callable[[str, object], str]
) -> list[str]:
    """The ranked table: rank, the point's value on each axis, then its figures (best `top` points)."""
    order = sorted(
        range(len(metrics)), key=lambda k: (-1 if RANKS[by] else 1) * float(getattr(metrics[k], by))
    )
    headers = ["rank", *grid.axes, *(label for label, _ in FIGURES)]
    rows = [
        [str(r + 1), *grid.points[k], *(cell(key, getattr(metrics[k], key)) for _, key in FIGURES)]
        for r, k in enumerate(order[:top])
    ]
    widths = [max(len(h), *(len(row[c]) for row in rows)) for c, h in enumerate(headers)]
    text = len(grid.axes) + 1  # the axes' values read left-aligned, the figures right-aligned

    def line(cells: list[str]) -> str:
        parts = [
            c.ljust(w) if 0 < i < text else c.rjust(w)
            for i, (c, w) in enumerate(zip(cells, widths, strict=True))
        ]
        return "  ".join(parts).rstrip()

    return [line(headers), *(line(row) for row in rows)]


def heatmap_png(grid: Grid, metrics: list[Metrics], by: str, title: str) -> bytes:
    """A PNG of the figure `by` over the grid: a heatmap of the first two axes (the best over any other axis),
    or a line over a single axis. matplotlib's Agg backend, as the backtest's other charts."""
    import io

    import matplotlib

    matplotlib.use("Agg")
    import numpy as np
    from matplotlib.figure import Figure

    values = [float(getattr(m, by)) for m in metrics]
    better = max if RANKS[by] else min
    fig = Figure(figsize=(9, 6), layout="constrained")
    ax = fig.add_subplot()
    rows = list(dict.fromkeys(p[0] for p in grid.points))
    if len(grid.axes) == 1:
        ax.plot(range(len(rows)), values, marker="o")
        ax.set_xticks(range(len(rows)), rows, rotation=90 if len(rows) > 12 else 0)
        ax.set_xlabel(grid.axes[0])
        ax.set_ylabel(by)
        ax.grid(True, alpha=0.3)
    else:
        cols = list(dict.fromkeys(p[1] for p in grid.points))
        cells: dict[tuple[str, str], list[float]] = {}
        for point, value in zip(grid.points, values, strict=True):
            cells.setdefault((point[0], point[1]), []).append(value)
        table = np.array([[better(cells[(r, c)]) for c in cols] for r in rows])
        image = ax.imshow(table, aspect="auto", cmap="viridis" if RANKS[by] else "viridis_r")
        ax.set_yticks(range(len(rows)), rows)
        ax.set_xticks(range(len(cols)), cols, rotation=90 if len(cols) > 12 else 0)
        ax.set_ylabel(grid.axes[0])
        ax.set_xlabel(grid.axes[1])
        fig.colorbar(image, ax=ax, label=by + (" (best over " + ", ".join(grid.axes[2:]) + ")"
                                                if len(grid.axes) > 2 else ""))
    ax.set_title(title, loc="left", fontsize=9)
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=100)
    return buffer.getvalue()
