"""What a plan says about taxes: per sell, the lots it closes, the gains it realises and their estimated tax;
per portfolio, the totals, this year's budget and the symbols whose figures are unavailable. Values only: the
planner fills them (core.tax_orders)."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

from pydantic import Field

from reconciler.core.frozen import Frozen


class LotClosed(Frozen):
    """One lot's part in a sell: what is taken from it and the gain that realises."""

    acquired: date
    quantity: Decimal
    unit_cost: Decimal
    gain: Decimal
    long_term: bool


class SellTax(Frozen):
    """One sell's lots, realised gains (losses negative) and estimated tax, at the plan's price."""

    leg: int
    symbol: str
    quantity: Decimal
    lots: list[LotClosed]
    short_term_gain: Decimal
    long_term_gain: Decimal
    tax: Decimal


class PortfolioTax(Frozen):
    """A portfolio's taxes in this plan: every sell with figures, their totals, and the year's budget."""

    method: str = Field(description="Which lots a sale closes: fifo, hifo, lifo or min_tax.")
    sells: list[SellTax] = Field(default_factory=list)
    short_term_gain: Decimal = Field(description="Net short-term gain the plan's sells realise.")
    long_term_gain: Decimal = Field(description="Net long-term gain the plan's sells realise.")
    tax: Decimal = Field(description="Estimated tax on them at the portfolio's rates (a loss saves tax).")
    realized_before: Decimal | None = Field(
        None, description="Net gains this portfolio realised earlier this calendar year (the journal)."
    )
    max_realized_gain: Decimal | None = Field(None, description="The year's budget (tax.max_realized_gain).")
    unavailable: dict[str, str] = Field(
        default_factory=dict,
        description="Symbols sold without tax figures, and why (their lots disagree with the broker's"
        " position, or none are recorded): not counted in the totals.",
    )

    @property
    def realized_gain(self) -> Decimal:
        """Net gain the plan's sells realise."""
        return self.short_term_gain + self.long_term_gain

    @property
    def year_realized_gain(self) -> Decimal | None:
        """This year's net realised gain once the plan fills; None when earlier gains are unknown."""
        return None if self.realized_before is None else self.realized_before + self.realized_gain
