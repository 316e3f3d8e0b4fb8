"""The embedded paper broker: books kept in the journal database, fills at the quote plus slippage, T+N
settlement."""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from datetime import date, datetime
from decimal import ROUND_CEILING, Decimal
from pathlib import Path

from sqlalchemy import Connection, Engine

from reconciler import calendars
from reconciler.brokers.base import OrderRequest, OrderState, OrderStatus
from reconciler.brokers.prices import Price, load_prices
from reconciler.calendars import add_weekdays
from reconciler.clock import SYSTEM, Clock
from reconciler.core.fills import fill_price, round_limit
from reconciler.core.models import MarketStatus, Observation, Quote
from reconciler.core.numbers import ZERO
from reconciler.errors import BrokerError
from reconciler.journal import paper_books as books
from reconciler.journal.database import begin
from reconciler.workspace.models import PaperAccount, PaperBrokerConfig

PRICE_TICK = Decimal("0.0001")  # fills are priced to a hundredth of a cent
COMMISSION_STEP = Decimal("0.01")  # and commissions charged to the cent


class PaperBroker:
    """A broker that is a few tables: durable across processes, so crash tests see the same books.

    `read_only` (a journal opened for reading: plan and status): observe writes nothing. It computes in memory
    what a writing observe would write first (the configured initial books of an account that has none yet,
    sale proceeds due by today as settled); the next writing call (apply's observe, an order) writes them.
    """

    concurrency = 1  # its books are the journal's database: nothing to wait for, so nothing to overlap

    def __init__(
        self,
        engine: Engine,
        spec: PaperBrokerConfig,
        root: Path,
        clock: Clock = SYSTEM,
        prices: dict[str, Price] | None = None,
        *,
        read_only: bool = False,
    ) -> None:
        self.engine = engine
        self.spec = spec
        self.clock = clock
        self.prices = prices if prices is not None else load_prices(spec.prices, root)
        self.read_only = read_only
        # What this process wrote already: an account's books exist, and its proceeds were settled as of a
        # day. Orders re-read neither (two statements of an order's ten); another process only ever adds to
        # them.
        self._ready: dict[str, str] = {}

    # ---- books ----
    def _seed(self, account: str) -> PaperAccount:
        seed = self.spec.accounts.get(account)
        if seed is None:
            raise BrokerError(
                f"paper broker has no account {account!r}", where="reconciler.yaml: broker.accounts",
                fix="add the account under broker.accounts",
            )
        return seed

    def _ensure_account(self, c: Connection, account: str) -> None:
        """The account's books exist and its proceeds due by today are settled cash."""
        today = self._today()
        if self._ready.get(account) == today:
            return
        if not books.has_account(c, account):
            seed = self._seed(account)
            books.open_account(c, account, seed.cash, seed.positions, self.clock.now())
        books.settle(c, account, today)
        self._ready[account] = today

    def _today(self) -> str:
        """Today's date (ISO) where the account trades: sale proceeds settle on it."""
        now, code = self.clock.now(), self.spec.calendar
        return (now.date() if code is None else calendars.local_date(code, now)).isoformat()

    def _books(self, c: Connection, account: str) -> tuple[dict[str, Decimal], Decimal, Decimal]:
        """(positions, settled cash, unsettled cash) as of now, read without writing: an account without books
        yet is its configured initial book, and proceeds due by today count as settled."""
        if not books.has_account(c, account):
            seed = self._seed(account)
            return {s: q for s, q in seed.positions.items() if q != 0}, seed.cash, ZERO
        today = self._today()
        pending = books.proceeds(c, account)
        due = sum((p.amount for p in pending if p.settles_on <= today), ZERO)
        later = sum((p.amount for p in pending if p.settles_on > today), ZERO)
        return books.positions(c, account), books.cash(c, account) + due, later

    def quote(self, symbol: str, now: datetime) -> Quote | None:
        """The symbol's quote from the configured prices, or None when it has none."""
        p = self.prices.get(symbol)
        if p is None:
            return None
        return Quote(
            symbol=symbol, price=p.price, previous_close=p.previous_close, as_of=now, daily_volume=p.volume
        )

    def _settlement_date(self, traded_at: datetime) -> date:
        code, n = self.spec.calendar, self.spec.settlement_days
        if code is None:
            return add_weekdays(traded_at.date(), n)
        return calendars.settlement_date(code, traded_at, n)

    def _market(self, now: datetime) -> MarketStatus | None:
        """By the configured exchange calendar; without one the paper market never closes."""
        return None if self.spec.calendar is None else calendars.market_status(self.spec.calendar, now)

    # ---- Broker protocol ----
    def observe(self, account: str, symbols: Iterable[str]) -> Observation:
        """The paper account from its books, settling what is due and opening it from its seed."""
        now = self.clock.now()
        # What observe writes (an account's configured opening books, proceeds due by today settled) is
        # derived again, the same, from the configuration and the date: not waited onto the disk
        # (database.begin). A read-only journal writes nothing: its plain transaction.
        with begin(self.engine, sync=self.read_only) as c:
            if not self.read_only:
                self._ensure_account(c, account)
            positions, cash, unsettled = self._books(c, account)
        quotes = {}
        for s in sorted(set(symbols) | set(positions)):
            q = self.quote(s, now)
            if q is not None:
                quotes[s] = q
        # Market orders fill at once here, so nothing is ever reserved by an open order.
        return Observation(
            account=account, taken_at=now, positions=positions, cash_settled=cash,
            cash_unsettled=unsettled, cash_reserved=ZERO, quotes=quotes, market=self._market(now),
        )

    def get_order(self, account: str, client_order_id: str, symbol: str | None = None) -> OrderState | None:
        """The paper order with this client id, or None."""
        with begin(self.engine, single=True) as c:
            found = books.find_order(c, account, client_order_id)
        return None if found is None else _state(found)

    def quotes(self, account: str, symbols: list[str]) -> dict[str, Quote]:
        """Quotes of the symbols that have prices."""
        now = self.clock.now()
        return {s: q for s in symbols if (q := self.quote(s, now)) is not None}

    def watch(self, account: str, known: OrderState, seconds: float) -> OrderState | None:
        """Paper orders fill at once: nothing is ever pushed."""
        return None

    def cancel(self, account: str, client_order_id: str, symbol: str | None = None) -> OrderState | None:
        """Paper orders fill at once, so there is never anything left to cancel."""
        return self.get_order(account, client_order_id)

    def list_orders(self, account: str, symbols: Iterable[str] = ()) -> list[OrderState]:
        """Every order of the paper account, for reconcile."""
        with begin(self.engine, single=True) as c:
            return [_state(o) for o in books.orders(c, account)]

    def submit(self, account: str, order: OrderRequest) -> OrderState:
        """Fill the order at once from the books (slippage, commission, settlement); a known id is not sent
        twice."""
        now = self.clock.now()
        with begin(self.engine) as c:
            self._ensure_account(c, account)
            existing = books.find_order(c, account, order.client_order_id)
            if existing is not None:
                return _state(existing)
            held, cash = books.position(c, account, order.symbol), books.cash(c, account)
            status, reason, price, commission = self._check_and_price(c, account, order, now, held, cash)
            booked = books.PaperOrder(
                client_order_id=order.client_order_id, account=account, broker_order_id=str(uuid.uuid4()),
                symbol=order.symbol, side=order.side, quantity=order.quantity,
                filled_quantity=ZERO if reason else order.quantity, fill_price=None if reason else price,
                commission=ZERO if reason else commission, status=status, reject_reason=reason,
                created_at=now,
            )
            if not reason:
                self._book_fill(c, account, order, price, commission, now, held, cash)
            books.add_order(c, booked)
        return _state(booked)

    def _check_and_price(
        self, c: Connection, account: str, order: OrderRequest, now: datetime, held: Decimal, cash: Decimal
    ) -> tuple[OrderStatus, str | None, Decimal, Decimal]:
        """The order's fate (status, why not filled, fill price, commission), given what the account holds of
        the symbol and its settled cash."""
        if order.quantity <= 0:
            return "rejected", "quantity must be positive", ZERO, ZERO
        q = self.quote(order.symbol, now)
        if q is None or q.price <= 0:
            return "rejected", f"no tradable price for {order.symbol}", ZERO, ZERO
        limit = order.limit_price
        if limit is not None:
            limit = round_limit(order.side, limit, PRICE_TICK)
        filled_at = fill_price(order.side, q.price, self.spec.slippage_bps, limit)
        if filled_at is None:
            # A limit the market does not reach rests until the fill timeout cancels it: with no book to rest
            # on, the paper broker says at once what that wait ends in.
            return "canceled", f"limit {limit} not reached (quote {q.price}, slippage included)", ZERO, ZERO
        # Rounded to the tick, never past the limit.
        price = filled_at.quantize(PRICE_TICK)
        if limit is not None:
            price = min(price, limit) if order.side == "buy" else max(price, limit)
        notional = price * order.quantity
        # Charged up to the next cent, as brokers do (the planner leaves a cent of room for it).
        commission = self.spec.commission.charge(order.quantity, notional).quantize(
            COMMISSION_STEP, ROUND_CEILING
        )
        if order.side == "sell":
            if order.quantity > held:
                why = f"insufficient position: have {held} {order.symbol}, selling {order.quantity}"
                return "rejected", why, ZERO, ZERO
        elif notional + commission > cash:  # then unsettled proceeds may pay the rest
            buying_power = cash + sum((p.amount for p in books.proceeds(c, account)), ZERO)
            if notional + commission > buying_power:
                return (
                    "rejected",
                    f"insufficient buying power: need {notional + commission:.4f}, have {buying_power:.4f}",
                    ZERO,
                    ZERO,
                )
        return "filled", None, price, commission

    def _book_fill(
        self, c: Connection, account: str, order: OrderRequest, price: Decimal, commission: Decimal,
        now: datetime,
        held: Decimal, cash: Decimal,
    ) -> None:
        notional = price * order.quantity
        if order.side == "buy":
            new_qty = held + order.quantity
            cost = notional + commission
            if cost <= cash:
                cash -= cost
            else:  # the remainder comes out of unsettled sale proceeds, oldest first
                books.draw_proceeds(c, account, cost - cash)
                cash = ZERO
        else:
            new_qty = held - order.quantity
            proceeds = notional - commission
            if self.spec.settlement_days == 0:
                cash += proceeds
            else:
                books.add_proceeds(c, account, proceeds, self._settlement_date(now).isoformat())
        books.set_cash(c, account, cash)
        books.set_position(c, account, order.symbol, new_qty)


def _state(order: books.PaperOrder) -> OrderState:
    return OrderState(
        client_order_id=order.client_order_id,
        broker_order_id=order.broker_order_id,
        symbol=order.symbol,
        side=order.side,
        quantity=order.quantity,
        filled_quantity=order.filled_quantity,
        avg_price=order.fill_price,
        commission=order.commission,
        status=order.status,
        reject_reason=order.reject_reason,
    )
