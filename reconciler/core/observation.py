"""What the broker reported for one account, and the quotes in it: the planner's input besides the targets."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal
from typing import TYPE_CHECKING

from pydantic import Field

from reconciler.core.frozen import Frozen
from reconciler.core.household import Household
from reconciler.core.ledger import HeldLot

if TYPE_CHECKING:
    from reconciler.core.models import Side


class Quote(Frozen):
    """A symbol's price as observed, with its time, so a stale or implausible quote can be refused."""

    symbol: str
    price: Decimal
    previous_close: Decimal | None = None
    as_of: datetime
    daily_volume: Decimal | None = Field(
        None,
        description="Units traded in the last full session (24 hours for crypto), where the broker says."
    )
    bid: Decimal | None = Field(None, description="The best bid, where the broker quotes one.")
    ask: Decimal | None = Field(None, description="The best ask, where the broker quotes one.")

    def marketable(self, side: Side) -> Decimal:
        """The price an order of this side meets now: the ask for a buy, the bid for a sell, when they are
        sane (positive, and within 5% of the last trade); else the last trade."""
        touch = self.ask if side == "buy" else self.bid
        if (
            touch is None
            or not touch.is_finite()
            or touch <= 0
            or abs(touch / self.price - 1) > Decimal("0.05")
        ):
            return self.price
        return touch


class MarketStatus(Frozen):
    """Whether the account's market was open when observed (a market order sent while it is closed waits for
    the open and fills at a price nobody has seen yet)."""

    is_open: bool
    next_open: datetime | None = None
    source: str = Field(description="Who said so: the broker's clock, or an exchange calendar.")

    @property
    def described(self) -> str:
        """Who said so, and when it opens next: "XNYS calendar, next open 2026-11-27 14:30 UTC"."""
        # Always in UTC: the zone's own name (%Z) does not survive a plan file's round trip, and apply derives
        # the plan's notes again from the parsed observation (execution.judge).
        opens = f", next open {self.next_open.astimezone(UTC):%Y-%m-%d %H:%M} UTC" if self.next_open else ""
        return f"{self.source}{opens}"


class Observation(Frozen):
    """What the broker reported for one account at one moment."""

    account: str
    taken_at: datetime
    positions: dict[str, Decimal]
    cash_settled: Decimal = Field(description="Settled cash, including the part reserved by open buy orders.")
    cash_unsettled: Decimal = Field(Decimal(0), description="Sale proceeds not yet settled; never spent.")
    cash_reserved: Decimal = Field(Decimal(0), description="Settled cash held for open buy orders.")
    quotes: dict[str, Quote]
    open_orders: dict[str, str] = Field(
        default_factory=dict, description="Symbols with an order still open at the broker, and its client id."
    )
    cash_warning: str | None = Field(
        None, description="Set when the broker's cash figures disagree with each other: nothing is bought."
    )
    cash_untrusted: str | None = Field(
        None,
        description="Why no source of the cash figure can be trusted: the portfolio is blocked (its cash is"
        " unknown, never valued as zero).",
    )
    reported_equity: Decimal | None = Field(
        None,
        description="The account's equity as the broker itself reports it, where it does: positions times"
        " quotes plus cash must agree with it.",
    )
    reported_long_value: Decimal | None = Field(
        None,
        description="The market value of the account's long positions as the broker reports it, where it"
        " does.",
    )
    market: MarketStatus | None = Field(
        None, description="The market's state when observed; unset for markets that trade around the clock."
    )
    quote_source: str | None = Field(
        None, description="Where the quotes came from, when the broker offers a choice (Alpaca's data feed)."
    )
    moved: dict[str, str] = Field(
        default_factory=dict,
        description="Symbols whose holding moved by more than the journal's fills explain (a split, a"
        " transfer), and why: not traded until `reconcile --accept-move` accepts the new holding.",
    )
    last_applied: datetime | None = Field(
        None,
        description="When an apply last traded the portfolio planned on this observation (the journal's last"
        " fill of it): its trading.cooldown_days count from here.",
    )
    household: Household | None = Field(
        None,
        description="With `tax:` settings: the household's trades of the wash-sale window, from the journal"
        " (core.household), so apply derives the guarded plan again.",
    )
    lots: list[HeldLot] | None = Field(
        None,
        description="The account's open tax lots in the journal's ledger, for a portfolio with a `tax:`"
        " block: what its sells close (core.tax_orders), and what the wash-sale guard and harvesting judge"
        " (core.wash_guard); the one field that carries them. Unset: not loaded.",
    )
    realized_gain: Decimal | None = Field(
        None,
        description="Net gains the portfolio realised earlier this calendar year (the journal), for its"
        " tax.max_realized_gain.",
    )
