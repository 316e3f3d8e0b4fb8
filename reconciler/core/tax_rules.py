"""A portfolio's `tax:` settings: which lots a sale closes, the rates that estimate its tax, the year's budget
of realized gains, and the wash-sale and harvesting options. Declared in the core so the planner can read
them; `spec` tightens the text fields (symbols, names) and builds the portfolio schema from them."""

from __future__ import annotations

from decimal import Decimal
from typing import Annotated

from pydantic import Field, model_validator

from reconciler.core.lots import LotMethod, Rates
from reconciler.core.rules import Fraction, Money, Strict


class TaxRates(Strict):
    """The tax rates on short- and long-term gains a portfolio plans its sells with."""

    short_term: Fraction = Field(Decimal("0"), description="Rate on gains of lots held a year or less, e.g."
                                 " 0.35.")
    long_term: Fraction = Field(Decimal("0"), description="Rate on gains of lots held more than a year, e.g."
                                " 0.15.")

    def rates(self) -> Rates:
        """The core's plain value, for lot selection and estimated tax."""
        return Rates(self.short_term, self.long_term)


class Harvest(Strict):
    """When to harvest a loss (not acted on yet)."""

    min_loss: Annotated[Decimal, Field(gt=0, allow_inf_nan=False)] = Field(
        description="Sell a lot whose unrealized loss passes this amount, buying a substitute (not acted on"
        " yet)."
    )


class TaxSettings(Strict):
    """How a portfolio's sells weigh taxes: the lots they close, the rates, and the limits on gains."""

    lots: LotMethod = Field("fifo", description="Which lots a sale closes: fifo, hifo, lifo or min_tax.")
    rates: TaxRates = TaxRates()
    max_realized_gain: Money | None = Field(
        None, description="Net realized gains allowed per calendar year across this portfolio."
    )
    avoid_short_term_days: Annotated[int, Field(ge=0, le=365)] = Field(
        0, description="Hold a lot with a gain that turns long-term within this many days."
    )
    hard_band: Fraction = Field(
        Decimal("0.10"),
        description="The drift taxes may leave: a sell trimmed to the budget, or holding back lots about to"
        " turn long-term, still brings its holding within this absolute weight of its target (never tighter"
        " than trading.bands.absolute).",
    )
    household: str | None = Field(None, description="Accounts sharing a wash-sale window (not acted on yet).")
    wash_sale: bool = Field(True, description="Guard against wash sales across the household (not acted on"
                            " yet).")
    substitutes: list[list[str]] = Field(
        default_factory=list,
        description="Groups of interchangeable symbols, e.g. [[VTI, ITOT]], for the wash-sale guard and"
        " harvesting (not acted on yet).",
    )
    harvest: Harvest | None = None

    @model_validator(mode="after")
    def _groups_are_distinct(self) -> TaxSettings:
        seen: set[str] = set()
        for group in self.substitutes:
            if len(set(group)) < 2:
                raise ValueError(f"substitutes: the group {group} needs two or more different symbols")
            again = seen.intersection(group)
            if again:
                raise ValueError(f"substitutes: {', '.join(sorted(again))} is in more than one group; merge"
                                 " them")
            seen.update(group)
        return self


# The `tax:` keys that plan and apply act on today; the rest are validated only (docs/configuration.md,
# Taxes).
ACTING: frozenset[str] = frozenset(
    {"lots", "rates", "max_realized_gain", "avoid_short_term_days", "hard_band"}
)


def not_acting(settings: TaxSettings) -> list[str]:
    """The keys a portfolio sets (or the wash-sale guard it leaves on) that nothing acts on yet, so `validate`
    can say so instead of letting a user believe a guard is on."""
    given = (set(settings.model_fields_set) - {"wash_sale"}) | (
        {"wash_sale"} if settings.wash_sale else set()
    )
    return [key for key in TaxSettings.model_fields if key in given and key not in ACTING]
