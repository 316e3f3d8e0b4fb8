"""`never`: buy at the start, then only invest contributions (buy and hold); the report's usual baseline."""

from __future__ import annotations

from reconciler.backtest.strategies.base import StrategyKind


class Never(StrategyKind):
    """Buy and hold: the yardstick every rebalancing rule is measured against."""

    name = "never"
    every = "never"


KIND = Never()
