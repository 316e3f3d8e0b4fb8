"""The trading rules and cost settings the pure core works with: validated values, declared here so that the
core depends on nothing above it. `workspace` (YAML → models) builds its schema from them."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from reconciler.core.numbers import BPS

Weight = Annotated[Decimal, Field(ge=0, le=1, allow_inf_nan=False)]
Money = Annotated[Decimal, Field(ge=0, allow_inf_nan=False)]
Fraction = Annotated[Decimal, Field(ge=0, le=1, allow_inf_nan=False)]


class Strict(BaseModel):
    """The base of the rule models: immutable, and unknown fields refused (a typo is an error)."""

    model_config = ConfigDict(extra="forbid", frozen=True)


class Bands(Strict):
    """A holding trades only when its drift exceeds the tighter of the two bands (the 5/25 rule)."""

    absolute: Fraction | None = Decimal("0.05")
    relative: Annotated[Decimal, Field(ge=0, allow_inf_nan=False)] | None = Decimal("0.25")
    inner: Fraction = Field(
        Decimal("0"),
        description="Where a holding beyond its band trades back to, as a fraction of its band: 0 the target,"
        " 1 the band's edge (opportunistic rebalancing).",
    )


class SymbolRule(Strict):
    """What a portfolio allows for one symbol: hold it, never trade it, or distrust a quote below a price."""

    hold: bool = Field(False, description="Never sell this position; buying up to target is allowed.")
    do_not_trade: bool = Field(False, description="Never buy or sell this symbol (restricted, blackout).")
    min_price: Annotated[Decimal, Field(gt=0, allow_inf_nan=False)] | None = Field(
        None,
        description="A price below which a quote of this symbol is not believed; a quote at or above it is"
        " corroborated (core.valuation). An order is also sized against it: a buy never takes more units than"
        " the equity buys at this price.",
    )


class Trading(Strict):
    """How a portfolio trades: its bands, minimum trade, fractions, buy-only and limit orders."""

    bands: Bands = Bands()
    min_trade_notional: Money = Decimal("0")
    fractional: bool = False
    quantity_step: Annotated[Decimal, Field(gt=0, allow_inf_nan=False)] | None = None
    buy_only: bool = False
    max_cost_fraction: Fraction = Field(
        Decimal("0.05"),
        description="Skip a trade whose commission and slippage exceed this fraction of its value."
    )
    use_sale_proceeds: bool = Field(
        True,
        description="Fund buys with proceeds of this plan's own sells (never with older unsettled cash)."
    )
    order_sizing: Literal["target", "net_of_costs"] = Field(
        "target",
        description="target: an order trades its holding to target and costs come out of cash; net_of_costs:"
        " an order's cash flow, costs included, closes the gap (costs come out of the holding, as in bt).",
    )
    cooldown_days: Annotated[int, Field(ge=1, le=3660)] | None = Field(
        None,
        description="After an apply traded this portfolio, do not trade it again for this many days unless"
        " a holding or cash drifts past cooldown_hard_band (core.cooldown).",
    )
    cooldown_hard_band: Fraction = Field(
        Decimal("0.10"),
        description="During a cooldown, the absolute band a weight must leave to trade (never"
        " tighter than bands.absolute): twice the default 5% band, so noise waits and a crash still trades.",
    )

    @model_validator(mode="after")
    def _step_matches_fractional(self) -> Trading:
        if self.quantity_step is not None and not self.fractional and self.quantity_step != 1:
            raise ValueError("quantity_step other than 1 needs fractional: true")
        return self

    @property
    def step(self) -> Decimal:
        """The smallest quantity the portfolio trades in: its own step, else a share or 0.0001."""
        if self.quantity_step is not None:
            return self.quantity_step
        return Decimal("0.0001") if self.fractional else Decimal("1")


class Withdrawal(Strict):
    """Cash to raise for a withdrawal: kept as cash, never reinvested, until `date` has passed
    (core.raise_cash)."""

    amount: Annotated[Decimal, Field(gt=0, allow_inf_nan=False)]
    date: dt.date = Field(description="The day the cash leaves the account; from the day after, it is spent"
                          " again.")


class Commission(Strict):
    """A broker's commission schedule, so a plan knows the cost of each order before it is sent."""

    per_order: Money = Decimal("0")
    per_share: Money = Decimal("0")
    bps: Money = Decimal("0")

    def charge(self, quantity: Decimal, notional: Decimal) -> Decimal:
        """The commission on a fill: per order, per share, and basis points of the filled notional. The one
        formula the planner, the paper broker and the backtester use (apply re-derives plans: they must
        agree)."""
        return self.per_order + self.per_share * quantity + self.bps * notional / BPS


class EnvelopeSettings(Strict):
    """How far orders recomputed at apply time may stray from the reviewed plan (`apply --envelope`)."""

    notional_band: Fraction = Field(
        Decimal("0.10"),
        description="Each order's notional may differ from the reviewed one by this fraction."
    )
    turnover_band: Annotated[Decimal, Field(ge=0, allow_inf_nan=False)] = Field(
        Decimal("0.10"), description="Each portfolio's turnover may exceed the reviewed one by this fraction."
    )
