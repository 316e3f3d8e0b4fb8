"""The paper broker's fill model, for backtests: fill at the quote ± slippage, commission per order + per
share + basis points of the filled notional. Unlike the paper broker, nothing is rounded to a $0.0001 tick or
a cent: adjusted closes are not tradable prices, and rounding them would move every fill off the price
series."""

from __future__ import annotations

from decimal import Decimal

from reconciler.core.fills import fill_price, limit_price, slip_factor
from reconciler.core.learned_costs import Fit
from reconciler.core.models import CostModel, Side
from reconciler.core.numbers import ZERO
from reconciler.core.rules import Commission


class FillModel:
    """What the paper broker fills an order at (core.fills.fill_price, the one rule both use), unrounded."""

    __slots__ = ("buy", "charge", "costs", "limit_band", "sell", "slippage_bps")

    def __init__(self, costs: CostModel) -> None:
        self.costs = costs
        self.slippage_bps, self.limit_band, self.charge = (
            costs.slippage_bps,
            costs.limit_band,
            costs.commission.charge,
        )
        # A market order fills at the quote times one of these (fill_price's factors, worked out once per
        # run).
        self.buy, self.sell = slip_factor("buy", costs.slippage_bps), slip_factor("sell", costs.slippage_bps)

    def fill(
        self, side: Side, quantity: Decimal, quote: Decimal, limit: Decimal | None = None
    ) -> tuple[Decimal, Decimal] | None:
        """(fill price, commission) of an order for `quantity` at `quote` and `limit` (core.legs.size_leg
        sets it; None: the quote ± the band, or a market order without one); None when its limit is not
        reached."""
        band = self.limit_band
        if band is None and limit is None:
            price = quote * (self.buy if side == "buy" else self.sell)
        else:
            at = limit if limit is not None else limit_price(side, quote, band or ZERO)
            limited = fill_price(side, quote, self.slippage_bps, at)
            if limited is None:
                return None
            price = limited
        return price, self.charge(quantity, price * quantity)


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


def learned_model(fit: Fit, limit_band: Decimal | None) -> CostModel:
    """The cost model of a fit learned from the journal (core.learned_costs), with the configured order type:
    its slippage and commission per order and per share (fees in bps of notional are inside the per-share
    figure: the journal's fills are not split by formula)."""
    slippage, per_order, per_share = fit.model()
    return CostModel(
        slippage_bps=slippage, commission=Commission(per_order=per_order, per_share=per_share),
        limit_band=limit_band,
    )


def describe_learned(fit: Fit, costs: CostModel) -> str:
    """The header's costs line for a run on learned costs: where they come from, then the model."""
    span = f", {fit.first:%Y-%m-%d} → {fit.last:%Y-%m-%d}" if fit.first and fit.last else ""
    return (f"learned from the journal ({fit.broker} {fit.symbol_class}: {fit.fills:,} fills of"
            f" {fit.orders:,} orders{span}): {describe(costs)}")
