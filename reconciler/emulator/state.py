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
from reconciler.emulator.market import asset_id, iso, new_york
from reconciler.emulator.orders import VALIDATION, client_id_refusal, shape_refusal


def stamp_id(ts: datetime) -> str:
    """Alpaca's activity ids: the time to the millisecond, then `::` and a unique part (they sort by time)."""
    return ts.strftime("%Y%m%d%H%M%S") + f"{ts.microsecond // 1000:03d}"


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
                    self._fill(acct, o, target - o.filled_qty, price)
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

    def _fill(self, acct: EmuAccount, o: EmuOrder, qty: Decimal, price: Decimal) -> None:
        if qty <= 0:
            return
        notional = qty * price
        held = acct.positions.get(o.symbol, ZERO)
        if o.side == "buy":
            acct.positions[o.symbol] = held + qty
            acct.basis[o.symbol] = acct.basis.get(o.symbol, held * price) + notional
            # Settled cash first, then unsettled proceeds (oldest first), then a margin loan: cash goes
            # negative.
            take = min(notional, max(acct.cash, ZERO))
            acct.cash -= take
            need = notional - take
            rest = []
            for amount, settles in sorted(acct.unsettled, key=lambda u: u[1]):
                used = min(amount, need)
                need -= used
                if amount - used > 0:
                    rest.append((amount - used, settles))
            acct.unsettled = rest
            acct.cash -= need
        else:
            acct.positions[o.symbol] = held - qty
            if held:
                acct.basis[o.symbol] = acct.basis.get(o.symbol, held * price) * (held - qty) / held
            settles = self.sessions_after(self.today(), self.settlement_days)
            if self.settlement_days == 0:
                acct.cash += notional
            else:
                acct.unsettled.append((notional, settles))
        if acct.positions[o.symbol] == 0:
            del acct.positions[o.symbol]
            acct.basis.pop(o.symbol, None)
        fees.accrue(acct, self.now(), self.today(), o.side, qty, price)
        o.filled_qty += qty
        o.notional_filled += notional
        o.updated = self.clock.now()
        if o.filled_qty >= o.qty:
            o.status = "filled"
        elif o.status != "pending_cancel":
            o.status = "partially_filled"
        self.emit(acct, "fill" if o.status == "filled" else "partial_fill", o, {
            # `price`: "the average price per share at which the order was filled" (Alpaca's streaming page).
            "execution_id": str(uuid.uuid4()), "qty": str(qty),
            "price": str((o.notional_filled / o.filled_qty).quantize(Decimal("0.0001"))),
            "position_qty": str(acct.positions.get(o.symbol, ZERO)),
        })
        acct.activities.append(
            {
                "id": f"{stamp_id(self.now())}::{o.id[:8]}{o.fills_booked:04d}",
                "account_id": self.account_id(acct),
                "activity_type": "FILL", "transaction_time": iso(self.now()),
                "type": "fill" if o.status == "filled" else "partial_fill", "price": str(price),
                "qty": str(qty),
                "side": o.side, "symbol": o.symbol, "leaves_qty": str(o.qty - o.filled_qty), "order_id": o.id,
                "cum_qty": str(o.filled_qty), "order_status": o.status if o.status != "pending_cancel"
                else "partially_filled",
            }
        )

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

    def account_json(self, acct: EmuAccount) -> dict[str, Any]:
        """GET /v2/account's answer, with any faults the knobs ask for."""
        self.progress(acct)
        f = self.faults
        unsettled = acct.unsettled_cash
        # Alpaca's `cash` is the whole cash balance, sale proceeds included before they settle.
        accrued = fees.pending(acct, self.fee_rates)  # deducted from cash until posted, as Alpaca does
        cash = (
            acct.cash - accrued + (ZERO if f.settled_cash_only else unsettled) + Decimal(str(f.cash_offset))
        )
        equity = self.equity(acct)
        long_value = equity - acct.cash - unsettled
        power = self.buying_power(acct)
        return {
            "id": self.account_id(acct), "account_number": acct.key_id,
            "status": "ACTIVE", "crypto_status": "INACTIVE", "currency": "USD", "buying_power": str(power),
            "regt_buying_power": str(power), "daytrading_buying_power": "0",
            "non_marginable_buying_power": str(max(ZERO, acct.cash + unsettled - self.reserved(acct))),
            "options_buying_power": "0", "cash": str(cash), "accrued_fees": str(accrued),
            "pending_transfer_in": "0",
            "portfolio_value": str(equity), "pattern_day_trader": False, "trading_blocked": f.trading_blocked,
            "transfers_blocked": False, "account_blocked": False, "created_at": "2024-01-02T14:30:00Z",
            "trade_suspended_by_user": False, "multiplier": str(self.multiplier(acct)),
            "shorting_enabled": False,
            "equity": str(equity), "last_equity": str(equity), "long_market_value": str(long_value),
            "short_market_value": "0", "initial_margin": str(long_value / 2), "maintenance_margin": "0",
            "last_maintenance_margin": "0", "sma": "0", "daytrade_count": 0, "options_approved_level": 0,
            "options_trading_level": 0,
        }

    def position_json(self, acct: EmuAccount, symbol: str) -> dict[str, Any]:
        """One position as GET /v2/positions returns it."""
        qty = acct.positions[symbol]
        price, prev = self.prices.get(symbol, (ZERO, None))
        basis = acct.basis.get(symbol, qty * price)
        value = qty * price
        return {
            "asset_id": asset_id(symbol), "symbol": symbol, "exchange": "ARCA", "asset_class": "us_equity",
            "asset_marginable": True, "avg_entry_price": str((basis / qty).quantize(Decimal("0.0001"))),
            "qty": str(qty), "qty_available": str(qty - self._pending_sells(acct, symbol)), "side": "long",
            "market_value": str(value), "cost_basis": str(basis), "unrealized_pl": str(value - basis),
            "unrealized_plpc": str(((value - basis) / basis).quantize(Decimal("0.0001")) if basis else ZERO),
            "unrealized_intraday_pl": "0", "unrealized_intraday_plpc": "0", "current_price": str(price),
            "lastday_price": str(prev if prev is not None else price), "change_today": "0",
        }

    def snapshot(self, symbol: str) -> dict[str, Any]:
        """Alpaca's stock snapshot of a symbol the emulator has a price for, `trade_age` seconds old."""
        price, prev = self.prices[symbol]
        stamp = iso(self.clock.now() - timedelta(seconds=self.faults.trade_age))
        return market.snapshot_json(price, prev, int(self.volumes.get(symbol, market.DEFAULT_VOLUME)), stamp)

    def submit(self, acct: EmuAccount, body: dict[str, Any]) -> tuple[int, dict[str, Any]]:
        """POST /v2/orders: validate as Alpaca does, refuse a known client id, accept and fill over time."""
        self.progress(acct)
        invalid = 422, {"code": VALIDATION, "message": "invalid order request"}
        if not isinstance(body, dict):
            return invalid
        try:
            symbol, side = str(body["symbol"]), str(body["side"])
            qty = None if body.get("qty") is None else Decimal(str(body["qty"]))
            notional = None if body.get("notional") is None else Decimal(str(body["notional"]))
        except (KeyError, ArithmeticError, ValueError):
            return invalid
        cid = str(body.get("client_order_id") or uuid.uuid4())
        if (refused := client_id_refusal(cid)) is not None:
            return refused
        if cid in acct.by_client:
            return 422, {"code": 40010001, "message": "client_order_id must be unique"}
        if self.faults.trading_blocked:
            return 403, {"code": 40310000, "message": "account is not authorized to trade"}
        if (qty is None) == (notional is None):
            return 422, {"code": VALIDATION, "message": "qty or notional is required, not both"}
        if qty is not None and qty <= 0:
            return 422, {"code": VALIDATION, "message": "qty must be > 0"}
        if side not in ("buy", "sell") or (notional is not None and notional < 1):
            return 422, {"code": VALIDATION, "message": "invalid side, qty or notional (notional is at least"
                         " $1)"}
        kind, limit = body.get("type", "market"), None
        if kind not in ("market", "limit") or body.get("time_in_force", "day") != "day":
            return 422, {"code": VALIDATION, "message": f"unsupported order type {kind!r} or time_in_force"}
        fractional = (qty is not None and qty != qty.to_integral_value()) or notional is not None
        if (fractional and symbol in self.faults.not_fractionable) or (
            notional is not None and kind != "market"
        ):
            return 422, {"code": VALIDATION, "message": "fractional orders need a fractionable asset, and"
                         " notional orders must be market orders"}
        if kind == "limit":
            try:
                limit = Decimal(str(body["limit_price"]))
            except (KeyError, ArithmeticError, ValueError):
                return 422, {"code": VALIDATION, "message": "limit_price is required for limit orders"}
            if not limit.is_finite() or limit <= 0:
                return 422, {"code": VALIDATION, "message": "limit_price must be positive"}
            if limit != limit.quantize(Decimal("0.01") if limit >= 1 else Decimal("0.0001")):
                return 422, {"code": 42210000, "message": "invalid limit_price. sub-penny increment does not"
                             " fulfill minimum pricing criteria"}
        known = self.prices.get(symbol)
        refused = shape_refusal(symbol, qty, notional, str(kind), body.get("extended_hours"),
                                None if known is None else (limit or known[0]))
        if refused is not None:
            return refused
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
        ) - self._pending_sells(acct, symbol):
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

    def _pending_sells(self, acct: EmuAccount, symbol: str) -> Decimal:
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
        self._fill(acct, order, qty, self.prices[symbol][0])
