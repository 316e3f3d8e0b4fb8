"""The paper broker's fill model, for backtests: fill at the quote ± slippage, commission per order + per share +
basis points of the filled notional. Unlike the paper broker, nothing is rounded to a $0.0001 tick or a cent:
adjusted closes are not tradable prices, and rounding them would move every fill off the price series."""

from __future__ import annotations

from decimal import Decimal

from reconciler.core.models import CostModel, Side

ONE = Decimal(1)
BPS = Decimal(10000)


class FillModel:
    """What the paper broker fills a market order at (see PaperBroker._check_and_price), unrounded."""

    __slots__ = ("buy_factor", "per_order", "per_share", "rate", "sell_factor")

    def __init__(self, costs: CostModel) -> None:
        slip = costs.slippage_bps / BPS
        self.buy_factor = ONE + slip
        self.sell_factor = ONE - slip
        c = costs.commission
        self.per_order, self.per_share, self.rate = c.per_order, c.per_share, c.bps / BPS

    def fill(self, side: Side, quantity: Decimal, quote: Decimal) -> tuple[Decimal, Decimal]:
        """(fill price, commission) of a market order for `quantity` at `quote`."""
        price = quote * (self.buy_factor if side == "buy" else self.sell_factor)
        commission = self.per_order + self.per_share * quantity + self.rate * price * quantity
        return price, commission


def describe(costs: CostModel) -> str:
    """One line for headers: which costs a run assumed."""
    c = costs.commission
    parts = [f"slippage {costs.slippage_bps} bps"]
    if c.per_order:
        parts.append(f"${c.per_order} per order")
    if c.per_share:
        parts.append(f"${c.per_share} per share")
    if c.bps:
        parts.append(f"{c.bps} bps commission")
    if not (c.per_order or c.per_share or c.bps):
        parts.append("no commission")
    return ", ".join(parts)
