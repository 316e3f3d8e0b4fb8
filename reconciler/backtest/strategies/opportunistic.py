"""`opportunistic[:rel=0.50,inner=0.5]`: look daily, wide band, trade back to the band's inner edge."""

from __future__ import annotations

from decimal import Decimal

from reconciler.backtest.strategies.base import StrategyKind


class Opportunistic(StrategyKind):
    """A wide band traded back only part way: few trades, each one worth its cost."""

    name = "opportunistic"
    every = "daily"
    banded = True

    def default_band(
        self, absolute: Decimal | None, relative: Decimal | None, inner: Decimal | None
    ) -> tuple[Decimal | None, Decimal | None, Decimal | None]:
        """A wide relative band and half way back, unless the spec says otherwise."""
        if absolute is None and relative is None:
            # Wide, and relative only: with no absolute band a zero cash target has a zero band, so what the
            # sales raise buys the underweight holdings at once instead of waiting in cash.
            relative = Decimal("0.50")
        return absolute, relative, Decimal("0.5") if inner is None else inner


KIND = Opportunistic()
