"""The emulator's books and rules: accounts, orders and their fills, settlement, buying power and the session,
all under one lock. The HTTP server (`server.py`) is a thin shell over it."""

from __future__ import annotations

import threading
import uuid
from collections.abc import Callable
from datetime import date, datetime, timedelta
from decimal import ROUND_FLOOR, Decimal
from typing import Any

from reconciler.calendars import add_weekdays
from reconciler.clock import SYSTEM, Clock
from reconciler.core.fees import FeeRates
from reconciler.core.numbers import ZERO
from reconciler.emulator import fees, market
from reconciler.emulator.accounts import OPEN_STATUSES, EmuAccount, EmuOrder
from reconciler.emulator.faults import FaultGates, Faults
from reconciler.emulator.fills import book_fill, stamp_id
from reconciler.emulator.market import iso, new_york
from reconciler.emulator.orders import OrderRequest, read_order

# An order's event as the trade_updates stream tells it: (account, event, order, the event's own fields).
EventSink = Callable[[EmuAccount, str, EmuOrder, dict[str, Any]], None]


def floor_like(value: Decimal, like: Decimal) -> Decimal:
    """Partial fill sizes keep the order's precision (whole shares stay whole)."""
    exp = like.as_tuple().exponent
    quantum = Decimal(1).scaleb(exp if isinstance(exp, int) and exp < 0 else 0)
    return value.quantize(quantum, rounding=ROUND_FLOOR)


class Emulator:
    """The broker's state and rules; the HTTP handler (`server.py`) is a thin shell over it."""

    def __init__(
        self, seed: dict[str, Any], faults: Faults | None = None, settlement_days: int = 1,
        clock: Clock = SYSTEM,
        calendar: str | None = None, fee_rates: FeeRates | None = None,
    ) -> None:
        self.clock = clock
        self.fee_rates = fee_rates or FeeRates()  # Alpaca's regulatory fees (emulator/fees.py)
        self.calendar = calendar  # an exchange calendar (XNYS): sessions, holidays and early closes
        self.lock = threading.RLock()
        self.faults = faults or Faults()
        self.gates = FaultGates(self.faults, clock)
        self.settlement_days = settlement_days
        self.day_offset = 0
        self.accounts: dict[str, EmuAccount] = {}
        self.prices: dict[str, tuple[Decimal, Decimal | None]] = {}
        self.volumes: dict[str, Decimal] = {}  # shares traded in the last session (bars' `v`)
        self.requests = 0
        self.activities_served = 0  # activity rows answered, all pages together (what a ledger had to read)
        self.paths: dict[str, int] = {}  # API requests by path (the benchmark's count of requests per order)
        # the trade_updates stream's publisher (stream.py), when served
        self.on_event: EventSink | None = None
        for name, a in seed.get("accounts", {}).items():
            acct = EmuAccount(
                key_id=str(a.get("key_id", name)),
                secret=str(a.get("secret", "")),
                name=str(name),
                cash=Decimal(str(a.get("cash", 0))),
                positions={
                    s: Decimal(str(q)) for s, q in a.get("positions", {}).items() if Decimal(str(q)) != 0
                },
            )
            acct.activities.append(self.cash_activity(acct, "CSD", acct.cash, "seed deposit"))
            self.accounts[acct.key_id] = acct
        self.set_prices(seed.get("prices", {}))

    @property
    def limited(self) -> int:
        """Requests answered 429 (the rate limit or `throttle_rate`)."""
        return self.gates.limited

    @property
    def errors(self) -> int:
        """Requests answered with an injected server error."""
        return self.gates.errors

    @property
    def ghosts(self) -> int:
        """Order submissions accepted and left unanswered."""
        return self.gates.ghosts

    def cash_activity(self, acct: EmuAccount, kind: str, amount: Decimal, description: str,
                      status: str = "executed") -> dict[str, Any]:
        """A non-trade activity as Alpaca lists it (a deposit, a dividend, a fee: `net_amount` moves cash)."""
        now = self.now()
        return {
            "id": f"{stamp_id(now)}::{uuid.uuid4()}", "account_id": self.account_id(acct),
            "activity_type": kind,
            "date": now.date().isoformat(), "net_amount": str(amount), "description": description,
            "status": status, "symbol": None, "qty": None, "per_share_amount": None,
        }

    # ---- clock and prices ----
    def today(self) -> date:
        """The exchange's date (New York's), as Alpaca's clock and calendar count days."""
        return date.fromisoformat(new_york(self.now())[:10])

    def now(self) -> datetime:
        """The emulator's time, which a test may shift by whole days."""
        return self.clock.now() + timedelta(days=self.day_offset)

    def is_session(self, day: date) -> bool:
        """Whether the market opens on that day."""
        return self.session_hours(day) is not None

    def session_hours(self, day: date) -> tuple[datetime, datetime] | None:
        """A session's open and close (see `market.session_hours`)."""
        return market.session_hours(day, self.calendar, self.faults.holidays)

    def clock_json(self) -> dict[str, Any]:
        """GET /v2/clock (see `market.clock_json`)."""
        now = self.now()
        return market.clock_json(now, self.today(), self.session_hours, self.calendar is None,
                                 self.faults.market_closed)

    def calendar_json(self, start: date, end: date) -> list[dict[str, Any]]:
        """GET /v2/calendar: the sessions from start to end, each with its settlement date."""
        return market.calendar_json(start, end, self.session_hours,
                                    lambda d: self.sessions_after(d, self.settlement_days))

    def sessions_after(self, day: date, n: int) -> date:
        """The n-th session after `day` (weekdays that are not `holidays`)."""
        return add_weekdays(day, n, self.is_session)

    def set_prices(self, prices: dict[str, Any]) -> None:
        """Replace prices (a control endpoint), as the market moving would."""
        with self.lock:
            for sym, p in prices.items():
                if isinstance(p, dict):
                    prev = p.get("previous_close")
                    if p.get("volume") is not None:
                        self.volumes[sym] = Decimal(str(p["volume"]))
                    self.prices[sym] = (
                        Decimal(str(p["price"])),
                        None if prev is None else Decimal(str(prev)),
                    )
                else:
                    self.prices[sym] = (Decimal(str(p)), self.prices.get(sym, (ZERO, None))[1])

    def set_faults(self, changes: dict[str, Any]) -> None:
        """Change fault knobs; an unknown knob is a KeyError, a value of the wrong type a ValueError."""
        if not isinstance(changes, dict):
            raise ValueError("send a JSON object of fault knobs")
        with self.lock:
            self.gates.change(changes)

    # ---- books ----
    def account_for(self, key_id: str | None, secret: str | None) -> EmuAccount | None:
        """The account these keys open, or None (the server answers 401)."""
        acct = self.accounts.get(key_id or "")
        if acct is None or (acct.secret and acct.secret != secret):
            return None
        return acct

    def progress(self, acct: EmuAccount) -> None:
        """Advance fills of open orders to now; book each new fill once."""
        f = self.faults
        now = self.clock.now()
        self.post_fees(acct)  # a past session's fees first: today's fills accrue on their own
        for o in acct.orders.values():
            if o.status not in OPEN_STATUSES:
                continue
            if o.status == "pending_new":  # the submission's answer said pending_new; it is live now
                o.status, o.updated = "new", now
                self.emit(acct, "new", o)
            session = self.order_session(o)  # with a calendar: the session this day order lives in
            if f.market_closed or (session is not None and self.now() < session[0]):
                if o.status == "new":
                    o.status = "accepted"  # held for the open: nothing fills while closed
                    self.emit(acct, "accepted", o)
            else:
                if o.status == "accepted":
                    o.status = "new"
                    self.emit(acct, "new", o)
                # Events in time order, though evaluated lazily: nothing fills after a cancel has completed,
                # or after the order's session has closed.
                until = now
                if o.cancel_requested is not None:
                    until = min(now, o.cancel_requested + timedelta(seconds=f.cancel_delay))
                if session is not None:
                    until = min(until, session[1] - timedelta(days=self.day_offset))
                steps_due = min(f.fill_steps, int((until - o.created).total_seconds() / f.fill_interval) + 1)
                price = self._execution_price(o)
                if price is not None and o.notional is not None and not o.qty:
                    o.qty = floor_like(o.notional / price, Decimal("0.000000001"))
                while o.fills_booked < steps_due and price is not None and o.filled_qty < o.qty:
                    o.fills_booked += 1
                    share = o.qty * o.fills_booked / f.fill_steps
                    target = o.qty if o.fills_booked >= f.fill_steps else floor_like(share, o.qty)
                    book_fill(self, acct, o, target - o.filled_qty, price)
            if session is not None and self.now() >= session[1] and o.status in OPEN_STATUSES:
                # Alpaca: a day order "unfilled after the closing auction ... is automatically canceled".
                o.status, o.updated = "canceled", now
                self.emit(acct, "canceled", o)
                continue
            if o.status == "pending_cancel" and o.cancel_requested is not None and (
                (now - o.cancel_requested).total_seconds() >= f.cancel_delay
            ):
                o.status, o.updated = "canceled", now
                self.emit(acct, "canceled", o)
        today = self.today()
        self.post_fees(acct)
        due = [u for u in acct.unsettled if u[1] <= today]
        if due:
            acct.cash += sum((u[0] for u in due), ZERO)
            acct.unsettled = [u for u in acct.unsettled if u[1] > today]

    def order_session(self, o: EmuOrder) -> tuple[datetime, datetime] | None:
        """With a calendar, the session a day order lives in: the first whose close is after it was placed (an
        order placed after the close is queued for the next session); None without a calendar (always
        open)."""
        if self.calendar is None:
            return None
        return market.session_of(o.created + timedelta(days=self.day_offset), self.session_hours)

    def post_fees(self, acct: EmuAccount) -> None:
        """Post the fees accrued once their session has closed (emulator/fees.py)."""
        fees.post_if_closed(
            acct, self.fee_rates, self.now(), self.today(), self.session_hours, self.cash_activity
        )

    def _execution_price(self, o: EmuOrder) -> Decimal | None:
        """Where the market executes this order now; None while that is beyond its limit."""
        quote = self.price(o.symbol)
        move = Decimal(str(self.faults.adverse_move))
        price = (quote * (1 + move) if o.side == "buy" else quote * (1 - move)).quantize(Decimal("0.0001"))
        limit = o.limit_price
        if limit is not None and (price > limit if o.side == "buy" else price < limit):
            return None
        return price

    def emit(self, acct: EmuAccount, event: str, o: EmuOrder, extra: dict[str, Any] | None = None) -> None:
        """Tell the trade_updates stream's listeners of `acct` (if it is served) what just happened to `o`."""
        if self.on_event is not None:
            self.on_event(acct, event, o, extra or {})

    def account_id(self, acct: EmuAccount) -> str:
        """A stable id per account, as Alpaca gives one."""
        return str(uuid.uuid5(uuid.NAMESPACE_URL, f"account:{acct.key_id}"))

    def reserved(self, acct: EmuAccount) -> Decimal:
        """Cash held by open buy orders, which Alpaca takes off buying power."""
        return sum(
            ((o.notional - o.notional_filled) if o.notional is not None
             else (o.qty - o.filled_qty) * (o.limit_price or self.price(o.symbol))
             for o in acct.orders.values() if o.status in OPEN_STATUSES and o.side == "buy"),
            ZERO,
        )

    def price(self, symbol: str) -> Decimal:
        """The current price; zero for a symbol the emulator has no price for."""
        return self.prices.get(symbol, (ZERO, None))[0]

    def equity(self, acct: EmuAccount) -> Decimal:
        """Cash, unsettled proceeds and positions at their prices."""
        return (
            acct.cash
            + acct.unsettled_cash
            + sum((q * self.price(s) for s, q in acct.positions.items()), ZERO)
        )

    def multiplier(self, acct: EmuAccount) -> int:
        """Alpaca's margin: 2× (Reg T) at $2,000 of equity and above, 1× below."""
        return 2 if self.equity(acct) >= 2000 else 1

    def buying_power(self, acct: EmuAccount) -> Decimal:
        """A model of Reg T buying power: the cash (unsettled proceeds included) times the multiplier, less
        what open buys hold. Above the cash, a buy borrows: cash goes negative, as at a real margin
        account."""
        margin = (self.multiplier(acct) - 1) * self.equity(acct)
        return max(ZERO, acct.cash + acct.unsettled_cash + margin) - self.reserved(acct)

    def snapshot(self, symbol: str) -> dict[str, Any]:
        """Alpaca's stock snapshot of a symbol the emulator has a price for, `trade_age` seconds old."""
        price, prev = self.prices[symbol]
        stamp = iso(self.clock.now() - timedelta(seconds=self.faults.trade_age))
        return market.snapshot_json(price, prev, int(self.volumes.get(symbol, market.DEFAULT_VOLUME)), stamp)

    def submit(self, acct: EmuAccount, body: dict[str, Any]) -> tuple[int, dict[str, Any]]:
        """POST /v2/orders: validate as Alpaca does, refuse a known client id, accept and fill over time."""
        self.progress(acct)
        read = read_order(body, acct.by_client, self.faults, self.prices)
        if not isinstance(read, OrderRequest):
            return read
        symbol, side, qty, notional, cid, limit = (
            read.symbol, read.side, read.qty, read.notional, read.cid, read.limit
        )
        if self.faults.wash_trade_check and any(
            o.symbol == symbol and o.side != side and o.status in OPEN_STATUSES for o in acct.orders.values()
        ):
            return 403, {"code": 40310000, "message": "potential wash trade detected. use complex orders"}
        now = self.clock.now()
        order = EmuOrder(
            id=str(uuid.uuid4()), client_order_id=cid, symbol=symbol, side=side, qty=qty or ZERO, created=now,
            limit_price=limit, notional=notional,
            status="accepted" if self.faults.market_closed else "pending_new",
        )
        price = self.price(symbol)
        if symbol in self.faults.reject_symbols or price <= 0:
            order.status, order.reject_reason = "rejected", "asset is not tradable"
            self.emit(acct, "rejected", order)
        elif side == "sell" and (qty or (notional or ZERO) / price) > acct.positions.get(
            symbol, ZERO
        ) - self.pending_sells(acct, symbol):
            return 403, {"code": 40310000, "message": "insufficient qty available for order (requested:"
                         f" {qty})"}
        elif side == "buy":
            cost = notional if notional is not None else (qty or ZERO) * (limit or price)
            if cost > self.buying_power(acct):  # margin: Alpaca lends up to the multiplier, the emulator too
                return 403, {"code": 40310000, "message": "insufficient buying power"}
        acct.orders[order.id] = order
        acct.by_client[cid] = order.id
        if order.status == "accepted":  # placed while the market is closed: held for the open
            self.emit(acct, "accepted", order)
        return 200, order.json()  # the first answer: nothing has filled yet

    def pending_sells(self, acct: EmuAccount, symbol: str) -> Decimal:
        """Shares of `symbol` that open sells hold (not available to another sale)."""
        return sum(
            (o.qty - o.filled_qty for o in acct.orders.values()
             if o.symbol == symbol and o.side == "sell" and o.status in OPEN_STATUSES),
            ZERO,
        )

    def cancel(self, acct: EmuAccount, order_id: str) -> tuple[int, dict[str, Any] | None]:
        """DELETE /v2/orders/{id}: cancel what is left, as Alpaca does."""
        self.progress(acct)
        o = acct.orders.get(order_id)
        if o is None:
            return 404, {"code": 40410000, "message": "order not found"}
        if o.status not in OPEN_STATUSES or o.status == "pending_cancel":
            return 422, {"code": 42210000, "message": f"order is already in \"{o.status}\" state"}
        # Asynchronous, as Alpaca: 204 now, `pending_cancel` (fills may still arrive), `canceled` later.
        o.status, o.cancel_requested = "pending_cancel", self.clock.now()
        self.emit(acct, "pending_cancel", o)
        return 204, None

    def find_account(self, account: str) -> EmuAccount:
        """An account by its seed name or its key id."""
        acct = self.accounts.get(account) or next(
            (a for a in self.accounts.values() if a.name == account), None
        )
        if acct is None:
            raise ValueError(f"no account {account!r}")
        return acct

    def external_trade(self, account: str, symbol: str, side: str, qty: Decimal) -> None:
        """A trade the reconciler did not make; `account` is the seed's account name or its key id."""
        acct = self.find_account(account)
        if side not in ("buy", "sell") or qty <= 0 or symbol not in self.prices:
            raise ValueError("give side buy or sell, a positive qty and a symbol with a price")
        order = EmuOrder(
            id=str(uuid.uuid4()),
            client_order_id=f"external-{uuid.uuid4()}",
            symbol=symbol,
            side=side,
            qty=qty,
            created=self.clock.now(),
        )
        acct.orders[order.id] = order
        acct.by_client[order.client_order_id] = order.id
        self.post_fees(acct)
        book_fill(self, acct, order, qty, self.prices[symbol][0])
