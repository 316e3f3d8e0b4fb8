"""The paper broker's fill model, for backtests: fill at the quote ± slippage, commission per order + per share +
basis points of the filled notional. Unlike the paper broker, nothing is rounded to a $0.0001 tick or a cent:
adjusted closes are not tradable prices, and rounding them would move every fill off the price series."""

from __future__ import annotations

from decimal import Decimal

from reconciler.core.fills import fill_price, limit_price
from reconciler.core.models import CostModel, Side


class FillModel:
    """What the paper broker fills an order at (core.fills.fill_price, the one rule both use), unrounded."""

    __slots__ = ("commission", "limit_band", "slippage_bps")

    def __init__(self, costs: CostModel) -> None:
        self.slippage_bps, self.limit_band, self.commission = costs.slippage_bps, costs.limit_band, costs.commission

    def fill(self, side: Side, quantity: Decimal, quote: Decimal) -> tuple[Decimal, Decimal] | None:
        """(fill price, commission) of an order for `quantity` at `quote`; None when its limit is not reached."""
        band = self.limit_band
        price = fill_price(side, quote, self.slippage_bps, None if band is None else limit_price(side, quote, band))
        if price is None:
            return None
        return price, self.commission.charge(quantity, price * quantity)


def describe(costs: CostModel) -> str:
    """One line for headers: which costs a run assumed."""
    c = costs.commission
    parts = [f"slippage {costs.slippage_bps} bps"]
    if costs.limit_band is not None:
        parts.append(f"limit orders at the close ± {costs.limit_band:%}")
    if c.per_order:
        parts.append(f"${c.per_order} per order")
    if c.per_share:
        parts.append(f"${c.per_share} per share")
    if c.bps:
        parts.append(f"{c.bps} bps commission")
    if not (c.per_order or c.per_share or c.bps):
        parts.append("no commission")
    return ", ".join(parts)
