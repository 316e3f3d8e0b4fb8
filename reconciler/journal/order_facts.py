"""What the journal needs to know of an order the broker reports on: a protocol, so the journal records what a
broker says (brokers.base.OrderState) without importing the brokers, which import the journal."""

from __future__ import annotations

from decimal import Decimal
from typing import Protocol


class OrderFacts(Protocol):
    """What a broker says of an order (brokers.base.OrderState): running totals, as brokers report them."""

    @property
    def client_order_id(self) -> str:
        """Our id of the order."""
    @property
    def broker_order_id(self) -> str:
        """The broker's id of the order."""
    @property
    def symbol(self) -> str:
        """The symbol traded."""
    @property
    def side(self) -> str:
        """Buy or sell."""
    @property
    def quantity(self) -> Decimal:
        """The quantity ordered."""
    @property
    def filled_quantity(self) -> Decimal:
        """The quantity filled so far."""
    @property
    def avg_price(self) -> Decimal | None:
        """The average fill price, once something filled."""
    @property
    def status(self) -> str:
        """The order's status in our vocabulary."""
    @property
    def commission(self) -> Decimal:
        """The commission in cash."""
    @property
    def fee_in_kind(self) -> Decimal:
        """A fee taken from the asset bought, in its units."""
    @property
    def fee_asset(self) -> str | None:
        """The third asset a fee was paid in, if any."""
    @property
    def fee_asset_amount(self) -> Decimal:
        """The amount of that third asset."""
    @property
    def reject_reason(self) -> str | None:
        """Why the broker rejected the order, if it did."""
