"""What the wash-sale guard and harvesting know of a portfolio's household, carried in its observation so
apply re-derives the same plan: the household's buys and sales of the last 30 days (the journal's fills
across every account sharing `tax.household`, IRAs included), and this account's open lots."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field

from reconciler.core.ledger import HeldLot
from reconciler.core.wash_sale import TradeEvent


class Household(BaseModel):
    """The household's recent trades and the account's open lots, as the journal had them when planning."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str = Field(description="The household (`tax.household`), or the account alone when none is set.")
    accounts: list[str] = Field(description="Every account of the household, this one included.")
    trades: list[TradeEvent] = Field(
        default_factory=list,
        description="Buys and sales in the household's accounts within the wash-sale window; a sale's gain"
        " is unset when the journal cannot tell it (the guard then counts it as a loss).",
    )
    lots: list[HeldLot] = Field(
        default_factory=list, description="This account's open lots: what a sale or a harvest would close."
    )
