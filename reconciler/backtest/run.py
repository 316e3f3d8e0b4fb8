"""What a backtest run takes besides its strategy (Settings) and what it gives back: the daily series,
the books' totals (StrategyRun) and the events the figures alone would hide. Split from backtest.engine,
which fills them in.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal
from typing import Any

import numpy as np

from reconciler.backtest import kernels
from reconciler.backtest.harvesting import WashBook
from reconciler.backtest.strategies import Every, Strategy
from reconciler.core.lots import LotMethod, TaxBook
from reconciler.core.models import CostModel
from reconciler.core.numbers import ZERO


@dataclass(frozen=True)
class Settings:
    """Everything about a run except the strategy: money in and out, costs, taxes."""

    initial_cash: Decimal = Decimal(100000)
    contribution: Decimal = ZERO  # per period; negative: a withdrawal
    contribution_every: Every = "monthly"
    costs: CostModel = field(default_factory=CostModel)
    # For a portfolio without `tax:`; one with it is taxed by its block's (backtest.tax_inputs.terms).
    lot_method: LotMethod = "fifo"
    tax_short: Decimal = ZERO
    tax_long: Decimal = ZERO


@dataclass
class Event:
    """Something a run met that the figures alone would hide (a blocked plan, a shortfall), for the notes."""

    day: date
    kind: str  # blocked | shrunk | skipped | rejected | unfilled | shortfall
    message: str


@dataclass
class StrategyRun:
    """One strategy's backtest: daily series (floats) and the books' totals (Decimal)."""

    strategy: Strategy
    symbols: tuple[str, ...]
    dates: np.ndarray[Any, np.dtype[np.datetime64]]
    targets: kernels.FloatArray
    cash_target: float
    equity: kernels.FloatArray  # end of day: after trades, flows and taxes
    flows: kernels.FloatArray  # contributions (+) and withdrawals (-) of the day; taxes are not flows
    weights: kernels.FloatArray  # (days, symbols), end of day
    # min(bought, sold) / equity after the day's trades (bt's and the SEC's definition)
    turnover: kernels.FloatArray
    final_value: Decimal = ZERO
    cash: Decimal = ZERO
    positions: dict[str, Decimal] = field(default_factory=dict)
    rebalances: int = 0
    orders: int = 0
    # trades the planner skipped because they were smaller than one quantity step (rounding)
    under_step: int = 0
    commissions: Decimal = ZERO
    slippage: Decimal = ZERO
    taxes_paid: Decimal = ZERO
    tax_accrued: Decimal = ZERO  # the final year's tax, due after the end: already taken off final_value
    unrealized: Decimal = ZERO  # gains of the open lots at the last close (taxed only when sold)
    contributed: Decimal = ZERO
    withdrawn: Decimal = ZERO
    book: TaxBook = field(default_factory=TaxBook)
    wash: WashBook | None = None  # with `tax:` settings: the guard's trades and the tax harvests saved
    events: list[Event] = field(default_factory=list)
    # The weights at the close before the day's tax, flows and trades, on the days something may have happened
    # (elsewhere the end-of-day weights are the same): the drift the rule tolerated, for average weights.
    pre_trade: dict[int, kernels.FloatArray] = field(default_factory=dict)

    def weights_before(self) -> kernels.FloatArray:
        """Per day, each holding's weight at the close before that day's taxes, flows and trades."""
        out = self.weights.copy()
        for day, row in self.pre_trade.items():
            out[day] = row
        return out

    @property
    def costs(self) -> Decimal:
        """Commissions and slippage together: what trading cost the run."""
        return self.commissions + self.slippage

    def count(self, kind: str) -> int:
        """How many events of one kind the run met, for the report's notes."""
        return sum(1 for e in self.events if e.kind == kind)
