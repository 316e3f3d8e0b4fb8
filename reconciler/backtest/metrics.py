"""Figures of a backtest. Returns are time-weighted (contributions and withdrawals are not return; costs and
taxes are), annualised with the data's own number of periods per year; money totals come from the books."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from reconciler.backtest.engine import StrategyRun
from reconciler.backtest.kernels import FloatArray
from reconciler.core.numbers import ZERO


@dataclass(frozen=True)
class Metrics:
    """One run's figures, in the order and units the report's table shows them."""

    final_value: float
    cagr: float
    volatility: float
    sharpe: float
    max_drawdown: float
    turnover_per_year: float
    rebalances: int
    orders: int
    costs: float
    commissions: float
    slippage: float
    taxes_paid: float
    realized_short: float
    realized_long: float
    unrealized_gains: float
    liquidation_tax: float
    after_tax_value: float
    avg_deviation: float
    max_deviation: float
    contributed: float
    withdrawn: float
    blocked_plans: int
    rejected_orders: int
    average_weights: dict[str, float]
    skipped_by_rounding: int = 0  # trades the planner skipped as smaller than one quantity step
    excess_cash: float = 0.0  # mean share of the account in cash beyond its target, at the close after trades
    final_excess_cash: float = 0.0  # dollars of cash beyond the target at the end
    tax_saved: float = 0.0  # harvested losses at their term's rate (backtest.harvesting)
    harvests: int = 0

    def as_dict(self) -> dict[str, Any]:
        """The figures by name, for the JSON output."""
        return {k: getattr(self, k) for k in self.__dataclass_fields__}


def years_between(dates: np.ndarray[Any, np.dtype[np.datetime64]]) -> float:
    """The span of the dates in years (never zero), the denominator of every annualised figure."""
    days = (dates[-1] - dates[0]).astype("timedelta64[D]").astype(np.int64)
    return max(float(days) / 365.25, 1e-9)


# What the rows of a price table are, by the median gap between their dates (in calendar days).
FREQUENCIES = ((5, "trading days"), (10, "weeks"), (45, "months"), (135, "quarters"), (400, "years"))


def frequency(dates: np.ndarray[Any, np.dtype[np.datetime64]]) -> str:
    """The rows' unit for headers ("trading days", "weeks", "months"...), from the median gap between
    dates."""
    if len(dates) < 2:
        return "rows"
    gaps = np.diff(dates.astype("datetime64[D]").astype(np.int64))
    median = float(np.median(gaps))
    return next((name for bound, name in FREQUENCIES if median <= bound), "rows")


def periods_per_year(dates: np.ndarray[Any, np.dtype[np.datetime64]]) -> float:
    """Rows per year as observed (≈252 for trading days, 52 for weeks, 12 for months): the annualisation
    factor."""
    return (len(dates) - 1) / years_between(dates)


def returns(run: StrategyRun) -> FloatArray:
    """Daily time-weighted returns: the day's flow is taken out before comparing with yesterday."""
    prev = run.equity[:-1]
    now = run.equity[1:] - run.flows[1:]
    with np.errstate(divide="ignore", invalid="ignore"):
        r = np.where(prev > 0, now / prev - 1.0, 0.0)
    out: FloatArray = r
    return out


def wealth_index(run: StrategyRun) -> FloatArray:
    """Growth of $1 by the time-weighted returns (day 0 = 1)."""
    out: FloatArray = np.concatenate(([1.0], np.cumprod(1.0 + returns(run))))
    return out


def drawdowns(index: FloatArray) -> FloatArray:
    """Each day's fall from the running peak, so the worst drawdown and its length read off one array."""
    out: FloatArray = index / np.maximum.accumulate(index) - 1.0
    return out


def deviations(run: StrategyRun) -> FloatArray:
    """Per day, the fraction of the account that would have to trade to be on target: half the total absolute
    difference between actual and target weights, cash included."""
    held = np.abs(run.weights - run.targets).sum(axis=1)
    cash = np.abs((1.0 - run.weights.sum(axis=1)) - run.cash_target)
    out: FloatArray = 0.5 * (held + cash)
    return out


def live_days(run: StrategyRun) -> int:
    """How many days the account had money: when withdrawals (or taxes) empty it, its figures of return, risk
    and deviation end that day, instead of counting every empty day after it as a day of zero return."""
    equity = run.equity
    if len(equity) < 2:
        return len(equity)
    had_money = np.maximum.accumulate(equity) > 0
    empty = np.flatnonzero((equity[1:] <= 0) & had_money[:-1])
    return len(equity) if not empty.size else int(empty[0]) + 2


def liquidation_tax(run: StrategyRun) -> float:
    """The tax a sale of every open lot at the last close would cost: the unrealized gains, less the losses
    the books carry forward, at the long-term rate (a simplification: lots held a year or less would pay the
    short rate)."""
    book = run.book
    gains = run.unrealized + book.carry_short + book.carry_long
    return float(max(gains, ZERO) * book.long_rate)


def _average_weights(run: StrategyRun, alive: int) -> FloatArray:
    """The mean weight before each day's trades, from the day after the funding day (the drift tolerated)."""
    before = run.weights_before()[1:alive] if alive > 1 else run.weights[:alive]
    out: FloatArray = before.mean(axis=0)
    return out


def compute(run: StrategyRun, risk_free: float = 0.0) -> Metrics:
    """One run's figures (CAGR, volatility, Sharpe, drawdown, turnover, taxes) for the report's table."""
    n = live_days(run)
    years = years_between(run.dates[:n])
    r = returns(run)[: n - 1]
    index = np.concatenate(([1.0], np.cumprod(1.0 + r)))
    per_year = periods_per_year(run.dates[:n])
    vol = float(np.std(r, ddof=1)) if len(r) > 1 else 0.0
    rf = (1.0 + risk_free) ** (1.0 / per_year) - 1.0
    sharpe = float(np.mean(r - rf) / vol * np.sqrt(per_year)) if vol > 0 else 0.0
    emptied = n > 1 and run.equity[n - 1] <= 0 < run.equity[: n - 1].max()
    alive = n - 1 if emptied else n  # days with money at the close: not the day it emptied
    dev = deviations(run)[:alive]
    cash = 1.0 - run.weights.sum(axis=1)
    short = sum((float(y.short) for y in run.book.years.values()), 0.0)
    long = sum((float(y.long) for y in run.book.years.values()), 0.0)
    return Metrics(
        final_value=float(run.final_value),
        cagr=float(index[-1] ** (1.0 / years) - 1.0) if index[-1] > 0 else -1.0,
        volatility=vol * float(np.sqrt(per_year)),
        sharpe=sharpe,
        max_drawdown=float(drawdowns(index).min()),
        turnover_per_year=float(run.turnover.sum()) / years,
        rebalances=run.rebalances,
        orders=run.orders,
        costs=float(run.costs),
        commissions=float(run.commissions),
        slippage=float(run.slippage),
        taxes_paid=float(run.taxes_paid),
        realized_short=short,
        realized_long=long,
        unrealized_gains=float(run.unrealized),
        liquidation_tax=liquidation_tax(run),
        after_tax_value=float(run.final_value) - liquidation_tax(run),
        avg_deviation=float(dev.mean()),
        max_deviation=float(dev.max()),
        contributed=float(run.contributed),
        withdrawn=float(run.withdrawn),
        blocked_plans=run.count("blocked"),
        rejected_orders=run.count("rejected"),
        average_weights={s: float(w) for s, w in zip(run.symbols, _average_weights(run, alive), strict=True)},
        skipped_by_rounding=run.under_step,
        excess_cash=float(np.maximum(cash[:alive] - run.cash_target, 0.0).mean()) if alive else 0.0,
        final_excess_cash=max(0.0, float(run.cash) - run.cash_target * float(run.final_value)),
        tax_saved=float(run.wash.tax_saved) if run.wash is not None else 0.0,
        harvests=run.wash.harvests if run.wash is not None else 0,
    )
