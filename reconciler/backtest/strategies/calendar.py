"""`calendar:monthly|quarterly|annual[,at=end]`: every holding back to target once each period."""

from __future__ import annotations

from reconciler.backtest.strategies.base import StrategyKind


class Calendar(StrategyKind):
    """Rebalance on a fixed calendar, whatever the drift: the simplest rule investors follow."""

    name = "calendar"
    every = "quarterly"
    anchored = True


KIND = Calendar()
