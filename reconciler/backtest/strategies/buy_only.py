"""`buy-only`: contributions buy the most underweight holdings; never sell."""

from __future__ import annotations

from reconciler.backtest.strategies.base import StrategyKind


class BuyOnly(StrategyKind):
    """Rebalance with new money only: no sale, so no tax realized by the rule."""

    name = "buy-only"
    every = "never"
    directed_contributions = True


KIND = BuyOnly()
