"""What the wash-sale guard and harvesting know of a portfolio's household, carried in its observation so
apply re-derives the same plan: the household's buys and sales of the last 30 days (the journal's fills
across every account sharing `tax.household`, IRAs included, each sale with the result the ledger recorded).
The account's own open lots are not here: they are the observation's `lots`, loaded once
(execution.tax_inputs) and read by the tax figures, the guard and harvesting alike."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field

from reconciler.core.ledger import HeldLot
from reconciler.core.wash_sale import TradeEvent


class Household(BaseModel):
    """The household's recent trades, as the journal had them when planning."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str = Field(description="The household (`tax.household`), or the account alone when none is set.")
    accounts: list[str] = Field(description="Every account of the household, this one included.")
    trades: list[TradeEvent] = Field(
        default_factory=list,
        description="Buys and sales in the household's accounts within the wash-sale window; a sale's gain"
        " is unset when the ledger recorded no result for it (the guard then counts it as a loss).",
    )
    lots: list[HeldLot] | None = Field(
        None,
        description="Only in plans and journals written before the account's lots had one field (the"
        " observation's `lots`): kept as written so those plans parse and their content hash still verifies;"
        " nothing reads it. Left out of the content hash while null (core.plan), as in every plan written"
        " since.",
    )
