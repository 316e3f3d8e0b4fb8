"""`threshold[:abs=0.05][,rel=0.25]`: look daily; trade when a holding is beyond its band."""

from __future__ import annotations

from reconciler.backtest.strategies.base import StrategyKind


class Threshold(StrategyKind):
    """Trade only when drift passes a band: fewer trades than a calendar for the same tracking."""

    name = "threshold"
    every = "daily"
    banded = True


KIND = Threshold()
