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

    def as_dict(self) -> dict[str, Any]:
        return {k: getattr(self, k) for k in self.__dataclass_fields__}


def years_between(dates: np.ndarray[Any, np.dtype[np.datetime64]]) -> float:
    days = (dates[-1] - dates[0]).astype("timedelta64[D]").astype(np.int64)
    return max(float(days) / 365.25, 1e-9)


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
    """How many days the account had money: when withdrawals (or taxes) empty it, its figures of return, risk and
    deviation end that day, instead of counting every empty day after it as a day of zero return."""
    equity = run.equity
    if len(equity) < 2:
        return len(equity)
    had_money = np.maximum.accumulate(equity) > 0
    empty = np.flatnonzero((equity[1:] <= 0) & had_money[:-1])
    return len(equity) if not empty.size else int(empty[0]) + 2


def liquidation_tax(run: StrategyRun) -> float:
    """The tax a sale of every open lot at the last close would cost: the unrealized gains, less the losses the
    books carry forward, at the long-term rate (a simplification: lots held a year or less would pay the short rate)."""
    book = run.book
    gains = run.unrealized + book.carry_short + book.carry_long
    return float(max(gains, ZERO) * book.long_rate)


def compute(run: StrategyRun, risk_free: float = 0.0) -> Metrics:
    n = live_days(run)
    years = years_between(run.dates[:n])
    r = returns(run)[: n - 1]
    index = np.concatenate(([1.0], np.cumprod(1.0 + r)))
    per_year = (n - 1) / years
    vol = float(np.std(r, ddof=1)) if len(r) > 1 else 0.0
    rf = (1.0 + risk_free) ** (1.0 / per_year) - 1.0
    sharpe = float(np.mean(r - rf) / vol * np.sqrt(per_year)) if vol > 0 else 0.0
    emptied = n > 1 and run.equity[n - 1] <= 0 < run.equity[: n - 1].max()
    alive = n - 1 if emptied else n  # days with money at the close: not the day it emptied
    dev = deviations(run)[:alive]
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
        average_weights={s: float(w) for s, w in zip(run.symbols, run.weights[:alive].mean(axis=0), strict=True)},
    )
