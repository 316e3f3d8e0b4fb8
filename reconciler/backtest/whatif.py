"""What the new targets would have done: a pull request's old and new targets backtested side by side under
one rule, over one window, for the what-if section of its plan comment (render/templates/whatif.md.j2).

The prices come from `what_if` in the trusted reconciler.yaml (a CSV or Parquet file in the repository,
read through the file gate inside it, or a dataset bundled in the skfolio wheel), never from the network
and never from the pull request. A portfolio whose symbols the prices lack, or whose window has a gap, is
named with the reason and skipped; the others still run.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import numpy as np

from reconciler.backtest.costs import describe
from reconciler.backtest.data import PriceTable, load_dataset, load_prices
from reconciler.backtest.engine import Settings, run_strategy
from reconciler.backtest.metrics import compute, frequency
from reconciler.backtest.strategies import parse_strategy
from reconciler.core.changes import WhatIfReport, WhatIfResult, WhatIfSide
from reconciler.core.models import CostModel, Desired
from reconciler.errors import BacktestError
from reconciler.workspace.whatif import WhatIf

POINTS = 60  # samples of each value path in the chart: enough for its shape, a few hundred bytes of comment


@dataclass(frozen=True)
class Change:
    """A portfolio a pull request changes: its targets before (None: it adds the portfolio) and after."""

    name: str
    old: Desired | None
    new: Desired


def price_table(settings: WhatIf, folder: Path, workspace: Path) -> PriceTable:
    """The configured prices: a file relative to `folder` (reconciler.yaml's), kept inside `workspace`."""
    if settings.dataset is not None:
        return load_dataset(settings.dataset)
    if settings.prices is None:
        raise BacktestError("no price source", where="what_if", fix="set what_if.prices or what_if.dataset")
    table = load_prices(folder / settings.prices, workspace=workspace)
    return replace(table, source=settings.prices)  # as reconciler.yaml names it, not by the runner's path


def window(table: PriceTable, settings: WhatIf) -> tuple[date, date]:
    """The first and last day: `years` up to `end` (default the prices' last), inside the prices' range."""
    last = table.day(len(table.dates) - 1)
    end = min(settings.end, last) if settings.end else last
    start = max(end - timedelta(days=round(365.25 * settings.years)), table.day(0))
    return start, end


def compare(
    changes: Sequence[Change], table: PriceTable, settings: WhatIf, costs: CostModel,
    left_out: Sequence[str] = (),
) -> WhatIfReport:
    """Backtest each change's old and new targets under the configured rule: one result per change."""
    start, end = window(table, settings)
    run_settings = Settings(
        initial_cash=settings.cash, costs=costs, lot_method=settings.lots, tax_short=settings.tax_short,
        tax_long=settings.tax_long,
    )
    results = [_one(c, table, settings, run_settings, start, end) for c in changes]
    lo = int(np.searchsorted(table.dates, np.datetime64(start, "D"), side="left"))
    hi = int(np.searchsorted(table.dates, np.datetime64(end, "D"), side="right"))
    s = run_settings
    taxes = (f"{s.lot_method.upper()} lots, short-term {s.tax_short:.1%}, long-term {s.tax_long:.1%}"
             if s.tax_short or s.tax_long else "none (what_if.tax_short, tax_long)")
    if any(d is not None and d.tax is not None for c in changes for d in (c.old, c.new)):
        # backtest.tax_inputs.terms: the block, not what_if's lots and rates
        taxes += "; a portfolio with a tax: block by its own lots and rates, as plan sells"
    return WhatIfReport(
        source=table.source, rule=settings.strategy, start=start.isoformat(), end=end.isoformat(),
        rows=hi - lo, unit=frequency(table.dates[lo:hi]), cash=float(settings.cash), costs=describe(costs),
        taxes=taxes, portfolios=tuple(results), left_out=tuple(left_out),
    )


def _one(
    change: Change, table: PriceTable, settings: WhatIf, run: Settings, start: date, end: date
) -> WhatIfResult:
    wanted = set(change.new.targets) | (set(change.old.targets) if change.old is not None else set())
    missing = tuple(sorted(s for s in wanted if s not in table.symbols))
    if missing:
        return WhatIfResult(
            change.name, missing=missing,
            note=f"no prices for {', '.join(missing)} in {table.source}: add a column per symbol to"
            " backtest it",
        )
    sides = []
    try:
        for label, desired in (("old targets", change.old), ("new targets", change.new)):
            if desired is not None:
                sides.append(_side(label, desired, table, settings.strategy, run, start, end))
    except BacktestError as exc:  # a gap in the prices, a rule the portfolio's bands cannot run
        return WhatIfResult(change.name, note=f"not backtested: {exc.message} ({exc.where}); {exc.fix}")
    return WhatIfResult(change.name, sides=tuple(sides))


def _side(label: str, desired: Desired, table: PriceTable, rule: str, run: Settings, start: date,
          end: date) -> WhatIfSide:
    prices = table.select(sorted(desired.targets), start, end)
    backtest = run_strategy(desired, prices, parse_strategy(rule, desired.trading.bands), run)
    m = compute(backtest)
    return WhatIfSide(
        label=label, final_value=m.final_value, after_tax_value=m.after_tax_value, cagr=m.cagr,
        volatility=m.volatility, max_drawdown=m.max_drawdown, turnover=m.turnover_per_year,
        rebalances=m.rebalances,
        costs=m.costs, taxes=m.taxes_paid, path=sampled(backtest.equity),
    )


def sampled(values: np.ndarray[Any, np.dtype[np.float64]], points: int = POINTS) -> tuple[float, ...]:
    """At most `points` values on evenly spaced rows, the first and last included, in whole dollars."""
    rows = np.unique(np.linspace(0, len(values) - 1, num=min(points, len(values))).round().astype(np.int64))
    return tuple(float(round(v)) for v in values[rows])
