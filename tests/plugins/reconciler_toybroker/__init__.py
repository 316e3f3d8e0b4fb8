"""A broker plug-in as a third party ships one: this package and one entry point in `reconciler.brokers`.

Nothing of reconciler names it: tests/brokers/test_plugins.py registers it with a package's metadata on
sys.path (what `pip install reconciler-toybroker` writes) and runs validate, plan and apply through it. Its
books live in this process's memory (`BOOKS`), its fills at the configured prices, at once.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from decimal import Decimal
from typing import Annotated, ClassVar, Literal

from pydantic import Field

from reconciler.brokers.base import Broker, OrderRequest, OrderState
from reconciler.brokers.plugin import BrokerContext, BrokerPlugin
from reconciler.clock import Clock
from reconciler.core.models import Observation, Quote
from reconciler.core.rules import Commission, Money, Strict
from reconciler.workspace.models import BrokerConfig, Name, Symbol

Positive = Annotated[Decimal, Field(gt=0, allow_inf_nan=False)]


class ToyAccount(Strict):
    cash: Money = Decimal(0)
    positions: dict[Symbol, Positive] = Field(default_factory=dict)


class ToyConfig(BrokerConfig):
    """`broker:` for kind toy: the prices it fills at and each account's opening books."""

    kind: Literal["toy"]
    prices: dict[Symbol, Positive] = Field(min_length=1)
    slippage_bps: Money = Decimal(0)
    commission: Commission = Commission()
    accounts: dict[Name, ToyAccount] = Field(min_length=1)
    docs: ClassVar[str] = "the toy broker's docstring"

    def longest_send_seconds(self) -> float:
        return 0.0  # in memory: answered at once


class Books:
    def __init__(self, seed: ToyAccount) -> None:
        self.cash = seed.cash
        self.positions = dict(seed.positions)
        self.orders: dict[str, OrderState] = {}


BOOKS: dict[str, Books] = {}  # account → books, for the life of the process (tests clear it)


class ToyBroker:
    concurrency = 1

    def __init__(self, config: ToyConfig, clock: Clock) -> None:
        self.config, self.clock = config, clock

    def _books(self, account: str) -> Books:
        if account not in BOOKS:
            BOOKS[account] = Books(self.config.accounts[account])
        return BOOKS[account]

    def quotes(self, account: str, symbols: list[str]) -> dict[str, Quote]:
        now = self.clock.now()
        return {
            s: Quote(symbol=s, price=self.config.prices[s], previous_close=self.config.prices[s], as_of=now)
            for s in symbols if s in self.config.prices
        }

    def observe(self, account: str, symbols: Iterable[str]) -> Observation:
        books = self._books(account)
        wanted = sorted(set(symbols) | set(books.positions))
        return Observation(
            account=account, taken_at=self.clock.now(), positions=dict(books.positions),
            cash_settled=books.cash,
            quotes=self.quotes(account, wanted),
        )

    def submit(self, account: str, order: OrderRequest) -> OrderState:
        books = self._books(account)
        if order.client_order_id in books.orders:
            return books.orders[order.client_order_id]
        price = self.config.prices.get(order.symbol)
        held = books.positions.get(order.symbol, Decimal(0))
        cost = None if price is None else price * order.quantity
        sign = 1 if order.side == "buy" else -1
        refused = (
            price is None or cost is None
            or (order.side == "buy" and cost > books.cash) or (order.side == "sell" and order.quantity > held)
        )
        if not refused and price is not None and cost is not None:
            books.cash -= sign * cost
            books.positions[order.symbol] = held + sign * order.quantity
            if not books.positions[order.symbol]:
                del books.positions[order.symbol]
        state = OrderState(
            client_order_id=order.client_order_id, broker_order_id=uuid.uuid4().hex, symbol=order.symbol,
            side=order.side, quantity=order.quantity,
            filled_quantity=Decimal(0) if refused else order.quantity,
            avg_price=None if refused else price, commission=Decimal(0),
            status="rejected" if refused else "filled",
            reject_reason="refused by the toy broker" if refused else None,
        )
        books.orders[order.client_order_id] = state
        return state

    def get_order(self, account: str, client_order_id: str, symbol: str | None = None) -> OrderState | None:
        return self._books(account).orders.get(client_order_id)

    def cancel(self, account: str, client_order_id: str, symbol: str | None = None) -> OrderState | None:
        return self.get_order(account, client_order_id)  # everything fills at once: nothing left to cancel

    def list_orders(self, account: str, symbols: Iterable[str] = ()) -> list[OrderState]:
        return list(self._books(account).orders.values())


def build(config: ToyConfig, context: BrokerContext) -> Broker:
    return ToyBroker(config, context.clock)


PLUGIN = BrokerPlugin(kind="toy", config=ToyConfig, factory=build)
