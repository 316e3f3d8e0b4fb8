"""The Broker protocol every adapter implements, and the order values that cross it."""

from __future__ import annotations

from collections.abc import Iterable
from decimal import Decimal
from typing import Literal, Protocol

from pydantic import Field

from reconciler.core.models import Frozen, Observation, Quote, Side

OrderStatus = Literal["accepted", "partially_filled", "filled", "canceled", "rejected"]
FINAL_ORDER_STATUSES: frozenset[str] = frozenset({"filled", "canceled", "rejected"})


class OrderRequest(Frozen):
    """What the executor asks a broker to send: one order under the client id that makes a resend safe."""

    client_order_id: str
    symbol: str
    side: Side
    quantity: Decimal
    limit_price: Decimal | None = Field(
        None,
        description="A day limit order at this price (adapters round it to the venue's tick, never worse);"
        " None: a market order."
    )


class OrderState(Frozen):
    """What the broker says about one order."""

    client_order_id: str
    broker_order_id: str
    symbol: str
    side: Side
    quantity: Decimal
    filled_quantity: Decimal
    avg_price: Decimal | None
    commission: Decimal
    status: OrderStatus
    fee_in_kind: Decimal = Field(
        Decimal(0),
        description="Units of the traded asset the broker kept as its fee (a crypto exchange charging a buy's"
        " fee in the coin bought): the position moves by the fill less this. Running total, like the"
        " commission.",
    )
    fee_asset: str | None = Field(
        None,
        description="A third asset the fee was paid in (Binance's BNB): neither the cash nor the traded"
        " asset."
    )
    fee_asset_amount: Decimal = Field(
        Decimal(0),
        description="Units of `fee_asset` paid as fees (running total); `commission` has their value.",
    )
    reject_reason: str | None = None


class Broker(Protocol):
    """An account holder we observe and send orders to. Implementations must be idempotent on client ids."""

    # How many accounts `plan` may observe at once (threads). Above 1 only when the adapter is thread-safe and
    # its rate limits hold across threads (Alpaca limits each API key, so accounts do not share a budget).
    concurrency: int

    def observe(self, account: str, symbols: Iterable[str]) -> Observation:
        """Positions, cash (settled, unsettled, reserved) and quotes for the account and the given symbols."""
        ...

    def quotes(self, account: str, symbols: list[str]) -> dict[str, Quote]:
        """Fresh quotes only (cheaper than a whole observation), for long applies."""
        ...

    def submit(self, account: str, order: OrderRequest) -> OrderState:
        """Send the order (a limit order when it has a limit price, else a market order); a client id seen
        before returns the existing order, never a second one."""
        ...

    def get_order(self, account: str, client_order_id: str, symbol: str | None = None) -> OrderState | None:
        """Look an order up by our client id; None when the broker never received it.

        `symbol` is a hint callers always have (the intent's): exchanges that index orders by market need it.
        """
        ...

    def cancel(self, account: str, client_order_id: str, symbol: str | None = None) -> OrderState | None:
        """Cancel what is left of an open order and return its final state; None if the broker never had
        it."""
        ...

    def watch(self, account: str, known: OrderState, seconds: float) -> OrderState | None:
        """The order's next state pushed by the broker (more filled, or ended), waiting up to `seconds`; None
        when nothing trustworthy was pushed (no stream, down, silent, doubtful): the caller asks with
        get_order."""
        ...

    def list_orders(self, account: str, symbols: Iterable[str] = ()) -> list[OrderState]:
        """Recent orders of the account, ours and others', for reconciliation.

        `symbols` are worth a look besides what the account holds now (the targets, what it held before): an
        exchange that lists orders per market cannot see an order that sold a coin to zero without them.
        """
        ...
