"""The wash-sale guard, pure: across every account of a household (IRAs included), no buy of a symbol within
30 days after it was sold at a loss, and no sale at a loss within 30 days after a buy of it.

A loss on a sale is not deductible when substantially identical stock is bought within 30 days before or after
it, a 61-day window counting the day of sale (IRS Publication 550, "Wash Sales"; the IRS's worked case: buy
100 shares for $1,000, sell them for $750, buy 100 again within 30 days for $800: the $250 loss is disallowed,
https://apps.irs.gov/app/vita/content/10s/10_04_011.jsp). A purchase in the taxpayer's IRA or Roth IRA counts
too (Revenue Ruling 2008-5), hence the household. The guard is stricter than the rule on purpose: it refuses a
loss sale within 30 days of any buy, even of the very shares sold, rather than trust an allocation of shares
to lots. A substitute the user names (VTI for ITOT) is not treated as substantially identical; that is the
user's call.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from typing import Literal

WINDOW_DAYS = 30


@dataclass(frozen=True, slots=True)
class TradeEvent:
    """A buy or a sale in one account; a sale carries its realized gain (negative: a loss)."""

    account: str
    symbol: str
    day: date
    side: Literal["buy", "sell"]
    gain: Decimal | None = None


def conflicts(
    history: Iterable[TradeEvent], household: frozenset[str], proposed: TradeEvent
) -> list[TradeEvent]:
    """The household's trades that make `proposed` a wash sale: loss sales in the 30 days before a buy, buys
    in the 30 days before a loss sale. Empty: the trade may go ahead."""
    accounts = household | {proposed.account}
    if proposed.side == "buy":
        wanted: Literal["buy", "sell"] = "sell"
    elif proposed.gain is not None and proposed.gain < 0:
        wanted = "buy"
    else:
        return []  # a sale at a gain is never a wash sale
    return [
        e for e in history
        if e.account in accounts and e.symbol == proposed.symbol and e.side == wanted
        and 0 <= (proposed.day - e.day).days <= WINDOW_DAYS
        and (wanted == "buy" or (e.gain is not None and e.gain < 0))
    ]


def reason(found: list[TradeEvent], proposed: TradeEvent) -> str:
    """Why the guard holds a trade back, for the plan's notes."""
    first = min(found, key=lambda e: e.day)
    what = "sold at a loss" if first.side == "sell" else "bought"
    doing = "a buy" if proposed.side == "buy" else "a sale at a loss"
    return (f"{proposed.symbol}: {doing} on {proposed.day} would be a wash sale: {what} in {first.account} on"
            f" {first.day}, within {WINDOW_DAYS} days (IRS Publication 550)")
