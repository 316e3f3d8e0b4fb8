"""The embedded paper broker: books kept in the journal database, fills at the quote plus slippage, T+N settlement."""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from datetime import date, datetime
from decimal import ROUND_CEILING, Decimal
from pathlib import Path
from typing import Any

from sqlalchemy import Connection, Engine, delete, insert, select, update

from reconciler import calendars
from reconciler.brokers.base import OrderRequest, OrderState, OrderStatus
from reconciler.brokers.prices import Price, load_prices
from reconciler.calendars import add_weekdays
from reconciler.clock import SYSTEM, Clock
from reconciler.core.fills import fill_price, round_limit
from reconciler.core.models import MarketStatus, Observation, Quote
from reconciler.core.numbers import ZERO
from reconciler.errors import BrokerError
from reconciler.journal import tables as t
from reconciler.spec.models import PaperAccount
from reconciler.spec.models import PaperBroker as PaperSpec

PRICE_TICK = Decimal("0.0001")  # fills are priced to a hundredth of a cent
COMMISSION_STEP = Decimal("0.01")  # and commissions charged to the cent


class PaperBroker:
    """A broker that is a few tables: durable across processes, so crash tests see the same books.

    `read_only` (a journal opened for reading: plan and status): observe writes nothing. It computes in memory
    what a writing observe would write first (the configured initial books of an account that has none yet, sale
    proceeds due by today as settled); the next writing call (apply's observe, an order) writes them.
    """

    def __init__(
        self,
        engine: Engine,
        spec: PaperSpec,
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

    # ---- books ----
    def _seed(self, account: str) -> PaperAccount:
        seed = self.spec.accounts.get(account)
        if seed is None:
            raise BrokerError(
                f"paper broker has no account {account!r}", where="reconciler.yaml: broker.accounts",
                fix="add the account under broker.accounts",
            )
        return seed

    def _exists(self, c: Connection, account: str) -> bool:
        found = c.execute(select(t.paper_accounts.c.account).where(t.paper_accounts.c.account == account)).first()
        return found is not None

    def _ensure_account(self, c: Connection, account: str) -> None:
        if self._exists(c, account):
            return
        seed = self._seed(account)
        c.execute(insert(t.paper_accounts).values(account=account, cash_settled=seed.cash, created_at=self.clock.now()))
        for sym, qty in seed.positions.items():
            if qty != 0:
                c.execute(insert(t.paper_positions).values(account=account, symbol=sym, quantity=qty))

    def _today(self) -> str:
        """Today's date (ISO) where the account trades: sale proceeds settle on it."""
        now, code = self.clock.now(), self.spec.calendar
        return (now.date() if code is None else calendars.local_date(code, now)).isoformat()

    def _books(self, c: Connection, account: str) -> tuple[dict[str, Decimal], Decimal, Decimal]:
        """(positions, settled cash, unsettled cash) as of now, read without writing: an account without books
        yet is its configured initial book, and proceeds due by today count as settled."""
        if not self._exists(c, account):
            seed = self._seed(account)
            return {s: q for s, q in seed.positions.items() if q != 0}, seed.cash, ZERO
        today = self._today()
        rows = c.execute(
            select(t.paper_unsettled.c.amount, t.paper_unsettled.c.settles_on).where(
                t.paper_unsettled.c.account == account
            )
        ).all()
        due = sum((amount for amount, settles_on in rows if settles_on <= today), ZERO)
        later = sum((amount for amount, settles_on in rows if settles_on > today), ZERO)
        return self._positions(c, account), self._cash(c, account) + due, later

    def _settle(self, c: Connection, account: str) -> None:
        today = self._today()
        due = c.execute(
            select(t.paper_unsettled).where(
                t.paper_unsettled.c.account == account, t.paper_unsettled.c.settles_on <= today
            )
        ).mappings().all()
        if not due:
            return
        total = sum((r["amount"] for r in due), ZERO)
        cash = self._cash(c, account)
        c.execute(
            update(t.paper_accounts).where(t.paper_accounts.c.account == account).values(cash_settled=cash + total)
        )
        c.execute(delete(t.paper_unsettled).where(t.paper_unsettled.c.id.in_([r["id"] for r in due])))

    def _cash(self, c: Connection, account: str) -> Decimal:
        value = c.execute(
            select(t.paper_accounts.c.cash_settled).where(t.paper_accounts.c.account == account)
        ).scalar_one()
        assert isinstance(value, Decimal)
        return value

    def _unsettled(self, c: Connection, account: str) -> Decimal:
        rows = c.execute(select(t.paper_unsettled.c.amount).where(t.paper_unsettled.c.account == account)).scalars()
        return sum(rows, ZERO)

    def _positions(self, c: Connection, account: str) -> dict[str, Decimal]:
        rows = c.execute(
            select(t.paper_positions.c.symbol, t.paper_positions.c.quantity).where(
                t.paper_positions.c.account == account
            )
        ).all()
        return {s: q for s, q in rows if q != 0}

    def quote(self, symbol: str, now: datetime) -> Quote | None:
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
        now = self.clock.now()
        with self.engine.begin() as c:
            if not self.read_only:
                self._ensure_account(c, account)
                self._settle(c, account)
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
        with self.engine.begin() as c:
            row = c.execute(
                select(t.paper_orders).where(
                    t.paper_orders.c.account == account, t.paper_orders.c.client_order_id == client_order_id
                )
            ).mappings().first()
        return None if row is None else _state(row)

    def quotes(self, account: str, symbols: list[str]) -> dict[str, Quote]:
        now = self.clock.now()
        return {s: q for s in symbols if (q := self.quote(s, now)) is not None}

    def cancel(self, account: str, client_order_id: str, symbol: str | None = None) -> OrderState | None:
        """Paper orders fill at once, so there is never anything left to cancel."""
        return self.get_order(account, client_order_id)

    def list_orders(self, account: str, symbols: Iterable[str] = ()) -> list[OrderState]:
        with self.engine.begin() as c:
            rows = c.execute(
                select(t.paper_orders).where(t.paper_orders.c.account == account).order_by(t.paper_orders.c.created_at)
            ).mappings().all()
        return [_state(r) for r in rows]

    def submit(self, account: str, order: OrderRequest) -> OrderState:
        now = self.clock.now()
        with self.engine.begin() as c:
            self._ensure_account(c, account)
            existing = c.execute(
                select(t.paper_orders).where(
                    t.paper_orders.c.account == account, t.paper_orders.c.client_order_id == order.client_order_id
                )
            ).mappings().first()
            if existing is not None:
                return _state(existing)
            self._settle(c, account)
            status, reason, price, commission = self._check_and_price(c, account, order, now)
            row: dict[str, Any] = dict(
                client_order_id=order.client_order_id, account=account, broker_order_id=str(uuid.uuid4()),
                symbol=order.symbol, side=order.side, quantity=order.quantity,
                filled_quantity=ZERO if reason else order.quantity, fill_price=None if reason else price,
                commission=ZERO if reason else commission, status=status, reject_reason=reason, created_at=now,
            )
            if not reason:
                self._book_fill(c, account, order, price, commission, now)
            c.execute(insert(t.paper_orders).values(**row))
        return _state(row)

    def _check_and_price(
        self, c: Connection, account: str, order: OrderRequest, now: datetime
    ) -> tuple[OrderStatus, str | None, Decimal, Decimal]:
        """The order's fate (status, why not filled, fill price, commission)."""
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
            # A limit the market does not reach rests until the fill timeout cancels it: with no book to rest on,
            # the paper broker says at once what that wait ends in.
            return "canceled", f"limit {limit} not reached (quote {q.price}, slippage included)", ZERO, ZERO
        # Rounded to the tick, never past the limit.
        price = filled_at.quantize(PRICE_TICK)
        if limit is not None:
            price = min(price, limit) if order.side == "buy" else max(price, limit)
        notional = price * order.quantity
        # Charged up to the next cent, as brokers do (the planner leaves a cent of room for it).
        commission = self.spec.commission.charge(order.quantity, notional).quantize(COMMISSION_STEP, ROUND_CEILING)
        if order.side == "sell":
            held = self._positions(c, account).get(order.symbol, ZERO)
            if order.quantity > held:
                why = f"insufficient position: have {held} {order.symbol}, selling {order.quantity}"
                return "rejected", why, ZERO, ZERO
        else:
            buying_power = self._cash(c, account) + self._unsettled(c, account)
            if notional + commission > buying_power:
                return (
                    "rejected",
                    f"insufficient buying power: need {notional + commission:.4f}, have {buying_power:.4f}",
                    ZERO,
                    ZERO,
                )
        return "filled", None, price, commission

    def _book_fill(
        self, c: Connection, account: str, order: OrderRequest, price: Decimal, commission: Decimal, now: datetime
    ) -> None:
        positions = self._positions(c, account)
        held = positions.get(order.symbol, ZERO)
        cash = self._cash(c, account)
        notional = price * order.quantity
        if order.side == "buy":
            new_qty = held + order.quantity
            cost = notional + commission
            if cost <= cash:
                cash -= cost
            else:  # the remainder comes out of unsettled sale proceeds, oldest first
                self._draw_unsettled(c, account, cost - cash)
                cash = ZERO
        else:
            new_qty = held - order.quantity
            proceeds = notional - commission
            if self.spec.settlement_days == 0:
                cash += proceeds
            else:
                settles = self._settlement_date(now).isoformat()
                c.execute(insert(t.paper_unsettled).values(account=account, amount=proceeds, settles_on=settles))
        c.execute(update(t.paper_accounts).where(t.paper_accounts.c.account == account).values(cash_settled=cash))
        c.execute(
            delete(t.paper_positions).where(
                t.paper_positions.c.account == account, t.paper_positions.c.symbol == order.symbol
            )
        )
        if new_qty != 0:
            c.execute(insert(t.paper_positions).values(account=account, symbol=order.symbol, quantity=new_qty))

    def _draw_unsettled(self, c: Connection, account: str, amount: Decimal) -> None:
        rows = c.execute(
            select(t.paper_unsettled)
            .where(t.paper_unsettled.c.account == account)
            .order_by(t.paper_unsettled.c.settles_on, t.paper_unsettled.c.id)
        ).mappings().all()
        for r in rows:
            if amount <= 0:
                break
            take = min(amount, r["amount"])
            amount -= take
            rest = r["amount"] - take
            if rest == 0:
                c.execute(delete(t.paper_unsettled).where(t.paper_unsettled.c.id == r["id"]))
            else:
                c.execute(update(t.paper_unsettled).where(t.paper_unsettled.c.id == r["id"]).values(amount=rest))


def _state(row: Any) -> OrderState:
    return OrderState(
        client_order_id=row["client_order_id"],
        broker_order_id=row["broker_order_id"],
        symbol=row["symbol"],
        side=row["side"],
        quantity=row["quantity"],
        filled_quantity=row["filled_quantity"],
        avg_price=row["fill_price"],
        commission=row["commission"],
        status=row["status"],
        reject_reason=row["reject_reason"],
    )
