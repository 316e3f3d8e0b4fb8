"""A broker emulator: a real HTTP server on 127.0.0.1 speaking the subset of Alpaca's Trading API v2 (and the
market-data snapshots endpoint) that the Alpaca adapter uses, with fault knobs for testing everything that goes
wrong with real brokers.

Normal behaviour, as Alpaca documents it: a new order is answered `pending_new` with `filled_qty` "0" (`accepted`
while the market is closed, and it waits for the open); market and day limit orders fill at the current price (a
limit order only at or better than its limit, which must be in whole cents at $1 and above), by quantity or by
`notional` (fractionable assets only), in `fill_steps` partial fills one per `fill_interval` seconds; DELETE
answers 204 and the order is `pending_cancel` for `cancel_delay` seconds, filling meanwhile, then `canceled`;
`cash` includes unsettled sale proceeds, which settle T+`settlement_days` sessions later; buying power is 2×
(margin) above $2,000 of equity; a duplicate client_order_id is refused with 422 and code 40010001. Every answer
parses into the official SDK's models (tests/brokers/test_alpaca_contract.py).

Fault knobs (JSON body of POST /_emulator/faults, or `reconciler emulator --faults FILE`):
    rate_limit         requests per second (token bucket, burst `rate_burst`); over it: 429 with Retry-After and
                       X-Ratelimit-Limit/-Remaining/-Reset, as Alpaca sends
    error_rate         fraction of requests answered 500/502/503 (seeded RNG, `seed`)
    throttle_rate      fraction of requests answered 429 with a short Retry-After, whatever the rate
    error_burst        the next N requests answered 503
    latency_ms         added to every response
    ghost_orders       the next N order submissions are accepted, then the connection is dropped unanswered
    fill_steps, fill_interval   partial fills over time
    reject_symbols     orders for these symbols end `rejected`
    wash_trade_check   an order opposite to an open order on the same symbol is refused (403, Alpaca's message)
    settled_cash_only  `cash` leaves unsettled sale proceeds out (Alpaca includes them: every account is a margin
                       account); a broker that does this is consistent, not lying
    cash_offset        `cash` is off by this many dollars (a broker whose figures disagree with its own ledger)
    cancel_delay       seconds an order stays `pending_cancel` after DELETE (it may still fill meanwhile)
    trading_blocked    the account's `trading_blocked` flag (orders are refused with 403)
    not_fractionable   symbols whose assets are not fractionable (fractional and notional orders refused, 422)
    trade_age          how old every latest trade and quote is, in seconds (a thin or halted market)
    market_closed      GET /v2/clock says the market is closed (next open: the next weekday, 14:30 UTC)
    holidays           dates (YYYY-MM-DD) that are weekdays but no session: GET /v2/calendar leaves them out and
                       settlement skips them
    adverse_move       the market moves this fraction against every order once sent (a fast market): market
                       orders fill there; a limit order fills only at or better than its limit, else rests until
                       cancelled
Control endpoints (tests and demos): POST /_emulator/activity {account, activity_type, net_amount, status,
description, no_cash} (a dividend, a fee, a cancelled deposit: cash moves when executed unless no_cash), POST
/_emulator/prices {SYM: {price, previous_close, volume}}, POST
/_emulator/advance {days}, POST /_emulator/trade {account (name or key id), symbol, side, qty} (a trade the
reconciler did not make), GET /_emulator/state (every order ever received, request counts), GET /_emulator/health.
"""

from __future__ import annotations

import contextlib
import json
import random
import socket
import threading
import uuid
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta, timezone, tzinfo
from datetime import time as time_of_day
from decimal import ROUND_FLOOR, Decimal
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlparse
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from reconciler import calendars
from reconciler.calendars import add_weekdays, is_weekday
from reconciler.clock import SYSTEM, Clock
from reconciler.core.numbers import ZERO

DEFAULT_VOLUME = Decimal(5_000_000)  # a symbol's daily volume unless the prices say (bars always carry one)
OPEN_STATUSES = {"pending_new", "new", "accepted", "partially_filled", "pending_cancel"}


def _iso(ts: datetime) -> str:
    return ts.isoformat().replace("+00:00", "Z")


def _new_york(ts: datetime) -> str:
    """A time as Alpaca's clock writes it: New York's, with its offset."""
    try:
        zone: tzinfo = ZoneInfo("America/New_York")
    except ZoneInfoNotFoundError:
        zone = timezone(timedelta(hours=-5))
    return ts.astimezone(zone).isoformat()


def _stamp_id(ts: datetime) -> str:
    """Alpaca's activity ids: the time to the millisecond, then `::` and a unique part (they sort by time)."""
    return ts.strftime("%Y%m%d%H%M%S") + f"{ts.microsecond // 1000:03d}"


@dataclass
class Faults:
    rate_limit: float | None = None
    rate_burst: int = 5
    error_rate: float = 0.0
    throttle_rate: float = 0.0
    error_burst: int = 0
    latency_ms: float = 0.0
    ghost_orders: int = 0
    fill_steps: int = 1
    fill_interval: float = 0.2
    reject_symbols: list[str] = field(default_factory=list)
    wash_trade_check: bool = False
    settled_cash_only: bool = False
    cash_offset: float = 0.0
    cancel_delay: float = 0.05
    trading_blocked: bool = False
    not_fractionable: list[str] = field(default_factory=list)
    trade_age: float = 0.0
    market_closed: bool = False
    holidays: list[str] = field(default_factory=list)
    adverse_move: float = 0.0
    seed: int = 7


@dataclass
class EmuOrder:
    id: str
    client_order_id: str
    symbol: str
    side: str
    qty: Decimal  # for a notional order: set once its price is known (at the first fill)
    created: datetime
    status: str = "pending_new"
    filled_qty: Decimal = ZERO
    notional_filled: Decimal = ZERO
    reject_reason: str | None = None
    fills_booked: int = 0
    limit_price: Decimal | None = None
    notional: Decimal | None = None
    updated: datetime | None = None
    cancel_requested: datetime | None = None

    def json(self) -> dict[str, Any]:
        avg = (self.notional_filled / self.filled_qty).quantize(Decimal("0.0001")) if self.filled_qty else None
        kind = "market" if self.limit_price is None else "limit"
        done = self.status in ("filled", "canceled", "rejected", "expired")
        return {
            "id": self.id, "client_order_id": self.client_order_id, "created_at": _iso(self.created),
            "updated_at": _iso(self.updated or self.created), "submitted_at": _iso(self.created),
            "filled_at": _iso(self.updated or self.created) if self.status == "filled" else None,
            "expired_at": None,
            "canceled_at": _iso(self.updated or self.created) if self.status == "canceled" else None,
            "failed_at": _iso(self.updated or self.created) if self.status == "rejected" else None,
            "replaced_at": None, "replaced_by": None, "replaces": None, "asset_id": asset_id(self.symbol),
            "symbol": self.symbol, "asset_class": "us_equity",
            "notional": None if self.notional is None else str(self.notional),
            "qty": None if self.notional is not None else str(self.qty),  # Alpaca: null for a notional order
            "filled_qty": str(self.filled_qty), "filled_avg_price": None if avg is None else str(avg),
            "order_class": "simple", "order_type": kind, "type": kind, "side": self.side, "position_intent": None,
            "time_in_force": "day", "limit_price": None if self.limit_price is None else str(self.limit_price),
            "stop_price": None, "status": self.status, "extended_hours": False, "legs": None, "trail_percent": None,
            "trail_price": None, "hwm": None, "subtag": None, "source": None, "expires_at": None,
            "reject_reason": self.reject_reason if done else None,
        }


def asset_id(symbol: str) -> str:
    """A stable asset id per symbol, as Alpaca gives every asset a UUID."""
    return str(uuid.uuid5(uuid.NAMESPACE_URL, f"asset:{symbol}"))


@dataclass
class EmuAccount:
    key_id: str
    secret: str
    name: str
    cash: Decimal
    positions: dict[str, Decimal]
    unsettled: list[tuple[Decimal, date]] = field(default_factory=list)
    orders: dict[str, EmuOrder] = field(default_factory=dict)
    by_client: dict[str, str] = field(default_factory=dict)
    activities: list[dict[str, Any]] = field(default_factory=list)
    basis: dict[str, Decimal] = field(default_factory=dict)  # cost of each position, for avg_entry_price

    @property
    def unsettled_cash(self) -> Decimal:
        return sum((u[0] for u in self.unsettled), ZERO)


class Emulator:
    """The broker's state and rules; the HTTP handler below is a thin shell over it."""

    def __init__(
        self, seed: dict[str, Any], faults: Faults | None = None, settlement_days: int = 1, clock: Clock = SYSTEM,
        calendar: str | None = None,
    ) -> None:
        self.clock = clock
        self.calendar = calendar  # an exchange calendar (XNYS): sessions, holidays and early closes
        self.lock = threading.RLock()
        self.faults = faults or Faults()
        self.rng = random.Random(self.faults.seed)
        self.settlement_days = settlement_days
        self.day_offset = 0
        self.accounts: dict[str, EmuAccount] = {}
        self.prices: dict[str, tuple[Decimal, Decimal | None]] = {}
        self.volumes: dict[str, Decimal] = {}  # shares traded in the last session (bars' `v`)
        self.requests = 0
        self.limited = 0
        self.errors = 0
        self.ghosts = 0
        self._tokens = float(self.faults.rate_burst)
        self._refilled = self.clock.monotonic()
        for name, a in seed.get("accounts", {}).items():
            acct = EmuAccount(
                key_id=str(a.get("key_id", name)), secret=str(a.get("secret", "")), name=str(name),
                cash=Decimal(str(a.get("cash", 0))),
                positions={s: Decimal(str(q)) for s, q in a.get("positions", {}).items() if Decimal(str(q)) != 0},
            )
            acct.activities.append(self.cash_activity(acct, "CSD", acct.cash, "seed deposit"))
            self.accounts[acct.key_id] = acct
        self.set_prices(seed.get("prices", {}))

    def cash_activity(self, acct: EmuAccount, kind: str, amount: Decimal, description: str,
                      status: str = "executed") -> dict[str, Any]:
        """A non-trade activity as Alpaca lists it (a deposit, a dividend, a fee: `net_amount` moves cash)."""
        now = self.now()
        return {
            "id": f"{_stamp_id(now)}::{uuid.uuid4()}", "account_id": self.account_id(acct), "activity_type": kind,
            "date": now.date().isoformat(), "net_amount": str(amount), "description": description,
            "status": status, "symbol": None, "qty": None, "per_share_amount": None,
        }

    # ---- clock and prices ----
    def today(self) -> date:
        """The exchange's date (New York's), as Alpaca's clock and calendar count days."""
        return date.fromisoformat(_new_york(self.now())[:10])

    def now(self) -> datetime:
        return self.clock.now() + timedelta(days=self.day_offset)

    def is_session(self, day: date) -> bool:
        return self.session_hours(day) is not None

    def session_hours(self, day: date) -> tuple[datetime, datetime] | None:
        """A session's open and close: the exchange calendar's (holidays, early closes), or without one 14:30 to
        21:00 UTC on every weekday; never on a `holidays` date."""
        if day.isoformat() in self.faults.holidays:
            return None
        if self.calendar is not None:
            return calendars.session_hours(self.calendar, day)
        if not is_weekday(day):
            return None
        return (datetime.combine(day, time_of_day(14, 30), tzinfo=UTC),
                datetime.combine(day, time_of_day(21, 0), tzinfo=UTC))

    def clock_json(self) -> dict[str, Any]:
        """GET /v2/clock, in New York time as Alpaca writes it. Without a calendar the market is open at any hour
        (tests run at any time); `market_closed` closes it whatever the time."""
        now = self.now()
        hours = self.session_hours(self.today())
        if self.calendar is None:
            is_open = not self.faults.market_closed
        else:
            is_open = hours is not None and hours[0] <= now < hours[1] and not self.faults.market_closed
        day, upcoming = self.today(), None
        for _ in range(30):  # the next session that opens after now
            h = self.session_hours(day)
            if h is not None and h[0] > now:
                upcoming = h
                break
            day += timedelta(days=1)
        closes = hours[1] if hours is not None and now < hours[1] else (upcoming[1] if upcoming else now)
        opens = upcoming[0] if upcoming else now
        return {"timestamp": _new_york(now), "is_open": is_open, "next_open": _new_york(opens),
                "next_close": _new_york(max(closes, now) if is_open else closes)}

    def sessions_after(self, day: date, n: int) -> date:
        """The n-th session after `day` (weekdays that are not `holidays`)."""
        return add_weekdays(day, n, self.is_session)

    def set_prices(self, prices: dict[str, Any]) -> None:
        with self.lock:
            for sym, p in prices.items():
                if isinstance(p, dict):
                    prev = p.get("previous_close")
                    if p.get("volume") is not None:
                        self.volumes[sym] = Decimal(str(p["volume"]))
                    self.prices[sym] = (Decimal(str(p["price"])), None if prev is None else Decimal(str(prev)))
                else:
                    self.prices[sym] = (Decimal(str(p)), self.prices.get(sym, (ZERO, None))[1])

    def set_faults(self, changes: dict[str, Any]) -> None:
        """Change fault knobs; an unknown knob is a KeyError, a value of the wrong type a ValueError."""
        if not isinstance(changes, dict):
            raise ValueError("send a JSON object of fault knobs")
        with self.lock:
            for k, v in changes.items():
                if not hasattr(self.faults, k):
                    raise KeyError(k)
                current = getattr(self.faults, k)
                numeric = isinstance(current, (int, float)) and not isinstance(current, bool)
                if isinstance(current, bool) and not isinstance(v, bool):
                    raise ValueError(f"fault {k} must be true or false, not {v!r}")
                if numeric and (isinstance(v, bool) or not isinstance(v, (int, float))):
                    raise ValueError(f"fault {k} must be a number, not {v!r}")
                if isinstance(current, list) and not (isinstance(v, list) and all(isinstance(x, str) for x in v)):
                    raise ValueError(f"fault {k} must be a list of strings, not {v!r}")
            for k, v in changes.items():
                setattr(self.faults, k, v)
            if "seed" in changes:
                self.rng = random.Random(self.faults.seed)
            if "rate_limit" in changes or "rate_burst" in changes:
                self._tokens = float(self.faults.rate_burst)
                self._refilled = self.clock.monotonic()

    # ---- fault gates, evaluated per request ----
    def rate_check(self) -> tuple[bool, dict[str, str]]:
        """Token bucket; returns (allowed, rate-limit headers)."""
        f = self.faults
        if f.throttle_rate and self.rng.random() < f.throttle_rate:
            self.limited += 1
            return False, {"Retry-After": "0.01", "X-Ratelimit-Remaining": "0"}
        if not f.rate_limit:
            return True, {}
        now = self.clock.monotonic()
        self._tokens = min(float(f.rate_burst), self._tokens + (now - self._refilled) * f.rate_limit)
        self._refilled = now
        reset = int(self.clock.now().timestamp()) + 1
        headers = {"X-Ratelimit-Limit": str(int(f.rate_limit * 60)), "X-Ratelimit-Reset": str(reset)}
        if self._tokens >= 1:
            self._tokens -= 1
            headers["X-Ratelimit-Remaining"] = str(int(self._tokens))
            return True, headers
        wait = (1 - self._tokens) / f.rate_limit
        headers["X-Ratelimit-Remaining"] = "0"
        headers["Retry-After"] = f"{max(wait, 0.001):.3f}"
        self.limited += 1
        return False, headers

    def error_check(self) -> int | None:
        f = self.faults
        if f.error_burst > 0:
            f.error_burst -= 1
            self.errors += 1
            return 503
        if f.error_rate and self.rng.random() < f.error_rate:
            self.errors += 1
            return self.rng.choice([500, 502, 503])
        return None

    # ---- books ----
    def account_for(self, key_id: str | None, secret: str | None) -> EmuAccount | None:
        acct = self.accounts.get(key_id or "")
        if acct is None or (acct.secret and acct.secret != secret):
            return None
        return acct

    def _progress(self, acct: EmuAccount) -> None:
        """Advance fills of open orders to now; book each new fill once."""
        f = self.faults
        now = self.clock.now()
        for o in acct.orders.values():
            if o.status not in OPEN_STATUSES:
                continue
            if o.status == "pending_new":  # the submission's answer said pending_new; it is live now
                o.status, o.updated = "new", now
            if f.market_closed:
                if o.status == "new":
                    o.status = "accepted"  # held for the open: nothing fills while closed
            else:
                if o.status == "accepted":
                    o.status = "new"
                # Events in time order, though evaluated lazily: nothing fills after a cancel has completed.
                until = now
                if o.cancel_requested is not None:
                    until = min(now, o.cancel_requested + timedelta(seconds=f.cancel_delay))
                steps_due = min(f.fill_steps, int((until - o.created).total_seconds() / f.fill_interval) + 1)
                price = self._execution_price(o)
                if price is not None and o.notional is not None and not o.qty:
                    o.qty = _floor_like(o.notional / price, Decimal("0.000000001"))
                while o.fills_booked < steps_due and price is not None and o.filled_qty < o.qty:
                    o.fills_booked += 1
                    share = o.qty * o.fills_booked / f.fill_steps
                    target = o.qty if o.fills_booked >= f.fill_steps else _floor_like(share, o.qty)
                    self._fill(acct, o, target - o.filled_qty, price)
            if o.status == "pending_cancel" and o.cancel_requested is not None and (
                (now - o.cancel_requested).total_seconds() >= f.cancel_delay
            ):
                o.status, o.updated = "canceled", now
        today = self.today()
        due = [u for u in acct.unsettled if u[1] <= today]
        if due:
            acct.cash += sum((u[0] for u in due), ZERO)
            acct.unsettled = [u for u in acct.unsettled if u[1] > today]

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
            # Settled cash first, then unsettled proceeds (oldest first), then a margin loan: cash goes negative.
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
        o.filled_qty += qty
        o.notional_filled += notional
        o.updated = self.clock.now()
        if o.filled_qty >= o.qty:
            o.status = "filled"
        elif o.status != "pending_cancel":
            o.status = "partially_filled"
        acct.activities.append(
            {
                "id": f"{_stamp_id(self.now())}::{o.id[:8]}{o.fills_booked:04d}", "account_id": self.account_id(acct),
                "activity_type": "FILL", "transaction_time": _iso(self.now()),
                "type": "fill" if o.status == "filled" else "partial_fill", "price": str(price), "qty": str(qty),
                "side": o.side, "symbol": o.symbol, "leaves_qty": str(o.qty - o.filled_qty), "order_id": o.id,
                "cum_qty": str(o.filled_qty), "order_status": o.status if o.status != "pending_cancel"
                else "partially_filled",
            }
        )

    def account_id(self, acct: EmuAccount) -> str:
        return str(uuid.uuid5(uuid.NAMESPACE_URL, f"account:{acct.key_id}"))

    def reserved(self, acct: EmuAccount) -> Decimal:
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
        return acct.cash + acct.unsettled_cash + sum((q * self.price(s) for s, q in acct.positions.items()), ZERO)

    def multiplier(self, acct: EmuAccount) -> int:
        """Alpaca's margin: 2× (Reg T) at $2,000 of equity and above, 1× below."""
        return 2 if self.equity(acct) >= 2000 else 1

    def buying_power(self, acct: EmuAccount) -> Decimal:
        """A model of Reg T buying power: the cash (unsettled proceeds included) times the multiplier, less what
        open buys hold. Above the cash, a buy borrows: cash goes negative, as at a real margin account."""
        margin = (self.multiplier(acct) - 1) * self.equity(acct)
        return max(ZERO, acct.cash + acct.unsettled_cash + margin) - self.reserved(acct)

    def account_json(self, acct: EmuAccount) -> dict[str, Any]:
        self._progress(acct)
        f = self.faults
        unsettled = acct.unsettled_cash
        # Alpaca's `cash` is the whole cash balance, sale proceeds included before they settle.
        cash = acct.cash + (ZERO if f.settled_cash_only else unsettled) + Decimal(str(f.cash_offset))
        equity = self.equity(acct)
        long_value = equity - acct.cash - unsettled
        power = self.buying_power(acct)
        return {
            "id": self.account_id(acct), "account_number": acct.key_id,
            "status": "ACTIVE", "crypto_status": "INACTIVE", "currency": "USD", "buying_power": str(power),
            "regt_buying_power": str(power), "daytrading_buying_power": "0",
            "non_marginable_buying_power": str(max(ZERO, acct.cash + unsettled - self.reserved(acct))),
            "options_buying_power": "0", "cash": str(cash), "accrued_fees": "0", "pending_transfer_in": "0",
            "portfolio_value": str(equity), "pattern_day_trader": False, "trading_blocked": f.trading_blocked,
            "transfers_blocked": False, "account_blocked": False, "created_at": "2024-01-02T14:30:00Z",
            "trade_suspended_by_user": False, "multiplier": str(self.multiplier(acct)), "shorting_enabled": False,
            "equity": str(equity), "last_equity": str(equity), "long_market_value": str(long_value),
            "short_market_value": "0", "initial_margin": str(long_value / 2), "maintenance_margin": "0",
            "last_maintenance_margin": "0", "sma": "0", "daytrade_count": 0, "options_approved_level": 0,
            "options_trading_level": 0,
        }

    def position_json(self, acct: EmuAccount, symbol: str) -> dict[str, Any]:
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
        """Alpaca's stock snapshot: the latest trade and quote (`trade_age` seconds old), a minute bar,
        today's and the previous session's daily bars, in the data API's short keys."""
        price, prev = self.prices[symbol]
        stamp = _iso(self.clock.now() - timedelta(seconds=self.faults.trade_age))
        volume = int(self.volumes.get(symbol, DEFAULT_VOLUME))
        spread = (price * Decimal("0.0002")).quantize(Decimal("0.01")) if price >= 1 else Decimal("0.0001")

        def bar(close: Decimal, v: int) -> dict[str, Any]:
            c = float(close)
            return {"t": stamp, "o": c, "h": c, "l": c, "c": c, "v": v, "n": max(1, v // 100), "vw": c}

        return {
            "latestTrade": {"t": stamp, "x": "V", "p": float(price), "s": 100, "c": ["@"], "i": 1, "z": "B"},
            "latestQuote": {"t": stamp, "ax": "V", "ap": float(price + spread), "as": 2, "bx": "V",
                            "bp": float(max(price - spread, Decimal("0.0001"))), "bs": 3, "c": ["R"], "z": "B"},
            "minuteBar": bar(price, 1000),
            "dailyBar": bar(price, volume // 10),
            "prevDailyBar": None if prev is None else bar(prev, volume),
        }

    def asset_json(self, symbol: str) -> dict[str, Any]:
        tradable = symbol not in self.faults.reject_symbols
        return {
            "id": asset_id(symbol), "class": "us_equity", "exchange": "ARCA", "symbol": symbol, "name": symbol,
            "status": "active", "tradable": tradable, "marginable": True, "shortable": False,
            "easy_to_borrow": False, "fractionable": symbol not in self.faults.not_fractionable,
            "min_order_size": "0.000000001", "min_trade_increment": "0.000000001", "price_increment": "0.01",
            "maintenance_margin_requirement": 30, "attributes": [],
        }

    def submit(self, acct: EmuAccount, body: dict[str, Any]) -> tuple[int, dict[str, Any]]:
        self._progress(acct)
        invalid = 422, {"code": 40010000, "message": "invalid order request"}
        if not isinstance(body, dict):
            return invalid
        try:
            symbol, side = str(body["symbol"]), str(body["side"])
            qty = None if body.get("qty") is None else Decimal(str(body["qty"]))
            notional = None if body.get("notional") is None else Decimal(str(body["notional"]))
        except (KeyError, ArithmeticError, ValueError):
            return invalid
        cid = str(body.get("client_order_id") or uuid.uuid4())
        if cid in acct.by_client:
            return 422, {"code": 40010001, "message": "client_order_id must be unique"}
        if self.faults.trading_blocked:
            return 403, {"code": 40310000, "message": "account is not authorized to trade"}
        if (qty is None) == (notional is None):
            return 422, {"code": 40010000, "message": "qty or notional is required, not both"}
        if side not in ("buy", "sell") or (qty is not None and qty <= 0) or (notional is not None and notional < 1):
            return 422, {"code": 40010000, "message": "invalid side, qty or notional (notional is at least $1)"}
        kind, limit = body.get("type", "market"), None
        if kind not in ("market", "limit") or body.get("time_in_force", "day") != "day":
            return 422, {"code": 40010000, "message": f"unsupported order type {kind!r} or time_in_force"}
        fractional = (qty is not None and qty != qty.to_integral_value()) or notional is not None
        if (fractional and symbol in self.faults.not_fractionable) or (notional is not None and kind != "market"):
            return 422, {"code": 40010000, "message": "fractional orders need a fractionable asset, and notional"
                         " orders must be market orders"}
        if kind == "limit":
            try:
                limit = Decimal(str(body["limit_price"]))
            except (KeyError, ArithmeticError, ValueError):
                return 422, {"code": 40010000, "message": "limit_price is required for limit orders"}
            if not limit.is_finite() or limit <= 0:
                return 422, {"code": 40010000, "message": "limit_price must be positive"}
            if limit != limit.quantize(Decimal("0.01") if limit >= 1 else Decimal("0.0001")):
                return 422, {"code": 42210000, "message": "invalid limit_price. sub-penny increment does not fulfill"
                             " minimum pricing criteria"}
        if self.faults.wash_trade_check and any(
            o.symbol == symbol and o.side != side and o.status in OPEN_STATUSES for o in acct.orders.values()
        ):
            return 403, {"code": 40310000, "message": "potential wash trade detected. use complex orders"}
        now = self.clock.now()
        order = EmuOrder(
            id=str(uuid.uuid4()), client_order_id=cid, symbol=symbol, side=side, qty=qty or ZERO, created=now,
            limit_price=limit, notional=notional, status="accepted" if self.faults.market_closed else "pending_new",
        )
        price = self.price(symbol)
        if symbol in self.faults.reject_symbols or price <= 0:
            order.status, order.reject_reason = "rejected", "asset is not tradable"
        elif side == "sell" and (qty or (notional or ZERO) / price) > acct.positions.get(
            symbol, ZERO
        ) - self._pending_sells(acct, symbol):
            return 403, {"code": 40310000, "message": f"insufficient qty available for order (requested: {qty})"}
        elif side == "buy":
            cost = notional if notional is not None else (qty or ZERO) * (limit or price)
            if cost > self.buying_power(acct):  # margin: Alpaca lends up to the multiplier, the emulator too
                return 403, {"code": 40310000, "message": "insufficient buying power"}
        acct.orders[order.id] = order
        acct.by_client[cid] = order.id
        return 200, order.json()  # the first answer: nothing has filled yet

    def _pending_sells(self, acct: EmuAccount, symbol: str) -> Decimal:
        return sum(
            (o.qty - o.filled_qty for o in acct.orders.values()
             if o.symbol == symbol and o.side == "sell" and o.status in OPEN_STATUSES),
            ZERO,
        )

    def cancel(self, acct: EmuAccount, order_id: str) -> tuple[int, dict[str, Any] | None]:
        self._progress(acct)
        o = acct.orders.get(order_id)
        if o is None:
            return 404, {"code": 40410000, "message": "order not found"}
        if o.status not in OPEN_STATUSES or o.status == "pending_cancel":
            return 422, {"code": 42210000, "message": f"order is already in \"{o.status}\" state"}
        # Asynchronous, as Alpaca: 204 now, `pending_cancel` (fills may still arrive), `canceled` later.
        o.status, o.cancel_requested = "pending_cancel", self.clock.now()
        return 204, None

    def find_account(self, account: str) -> EmuAccount:
        """An account by its seed name or its key id."""
        acct = self.accounts.get(account) or next((a for a in self.accounts.values() if a.name == account), None)
        if acct is None:
            raise ValueError(f"no account {account!r}")
        return acct

    def external_trade(self, account: str, symbol: str, side: str, qty: Decimal) -> None:
        """A trade the reconciler did not make; `account` is the seed's account name or its key id."""
        acct = self.find_account(account)
        if side not in ("buy", "sell") or qty <= 0 or symbol not in self.prices:
            raise ValueError("give side buy or sell, a positive qty and a symbol with a price")
        order = EmuOrder(id=str(uuid.uuid4()), client_order_id=f"external-{uuid.uuid4()}", symbol=symbol, side=side,
                         qty=qty, created=self.clock.now())
        acct.orders[order.id] = order
        acct.by_client[order.client_order_id] = order.id
        self._fill(acct, order, qty, self.prices[symbol][0])


def _floor_like(value: Decimal, like: Decimal) -> Decimal:
    """Partial fill sizes keep the order's precision (whole shares stay whole)."""
    exp = like.as_tuple().exponent
    quantum = Decimal(1).scaleb(exp if isinstance(exp, int) and exp < 0 else 0)
    return value.quantize(quantum, rounding=ROUND_FLOOR)


class _Handler(BaseHTTPRequestHandler):
    server: EmulatorServer
    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True  # headers and body go out as separate writes; Nagle would stall each by 40 ms

    def log_message(self, format: str, *args: Any) -> None:
        return  # quiet: tests and benchmarks read stdout

    def _send(self, status: int, body: Any = None, headers: dict[str, str] | None = None) -> None:
        data = b"" if body is None else json.dumps(body).encode()
        self.send_response(status)
        for k, v in (headers or {}).items():
            self.send_header(k, v)
        if body is not None:
            self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def _body(self) -> Any:
        length = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(length) if length else b""
        return json.loads(raw) if raw else {}

    def do_GET(self) -> None:
        self._dispatch("GET")

    def do_POST(self) -> None:
        self._dispatch("POST")

    def do_DELETE(self) -> None:
        self._dispatch("DELETE")

    def _dispatch(self, method: str) -> None:
        emu = self.server.emulator
        url = urlparse(self.path)
        query = {k: v[-1] for k, v in parse_qs(url.query).items()}
        path = url.path
        try:
            body = self._body() if method == "POST" else {}
        except json.JSONDecodeError:
            self._send(400, {"message": "invalid JSON"})
            return
        if path.startswith("/_emulator/"):
            self._control(method, path, body)
            return
        with emu.lock:
            emu.requests += 1
            allowed, rl_headers = emu.rate_check()
            error = None if not allowed else emu.error_check()
        if emu.faults.latency_ms:
            emu.clock.sleep(emu.faults.latency_ms / 1000)
        if not allowed:
            self._send(429, {"code": 42910000, "message": "rate limit exceeded"}, rl_headers)
            return
        if error is not None:
            self._send(error, {"message": "internal server error"}, rl_headers)
            return
        with emu.lock:
            acct = emu.account_for(self.headers.get("APCA-API-KEY-ID"), self.headers.get("APCA-API-SECRET-KEY"))
            if acct is None:
                status, payload = 401, {"code": 40110000, "message": "request is not authorized"}
            else:
                status, payload = self._route(emu, acct, method, path, query, body)
                if status == -1:  # the ghost order: accepted, then the connection dies unanswered
                    emu.ghosts += 1
                    self.close_connection = True
                    with contextlib.suppress(OSError):
                        self.connection.shutdown(socket.SHUT_RDWR)
                    return
        self._send(status, payload, rl_headers)

    def _route(
        self, emu: Emulator, acct: EmuAccount, method: str, path: str, query: dict[str, str], body: Any
    ) -> tuple[int, Any]:
        if method == "GET" and path == "/v2/account":
            return 200, emu.account_json(acct)
        if method == "GET" and path == "/v2/positions":
            emu._progress(acct)
            return 200, [emu.position_json(acct, s) for s in sorted(acct.positions)]
        if method == "GET" and path.startswith("/v2/positions/"):
            emu._progress(acct)
            symbol = path.rsplit("/", 1)[1]
            if symbol not in acct.positions:
                return 404, {"code": 40410000, "message": "position does not exist"}
            return 200, emu.position_json(acct, symbol)
        if method == "GET" and path == "/v2/assets":
            return 200, [emu.asset_json(s) for s in sorted(emu.prices)]
        if method == "GET" and path.startswith("/v2/assets/"):
            symbol = path.rsplit("/", 1)[1]
            if symbol not in emu.prices:
                return 404, {"code": 40410000, "message": "asset not found"}
            return 200, emu.asset_json(symbol)
        if method == "GET" and path == "/v2/clock":
            return 200, emu.clock_json()
        if method == "GET" and path == "/v2/calendar":
            # As Alpaca: the sessions between start and end (inclusive), times in New York.
            start = date.fromisoformat(query.get("start", emu.today().isoformat()))
            end = date.fromisoformat(query.get("end", emu.today().isoformat()))
            days = (start + timedelta(days=k) for k in range((end - start).days + 1))
            out = []
            for d in days:
                hours = emu.session_hours(d)
                if hours is None:
                    continue
                opens, closes = (_new_york(t)[11:16] for t in hours)
                out.append({"date": d.isoformat(), "open": opens, "close": closes, "session_open": "0400",
                            "session_close": "2000",
                            "settlement_date": emu.sessions_after(d, emu.settlement_days).isoformat()})
            return 200, out
        if method == "GET" and path.startswith("/v2/account/activities"):
            emu._progress(acct)
            # As Alpaca: newest first by default, at most page_size (≤ 100) a page, page_token = the last id seen;
            # one type by path (/v2/account/activities/DIV) or several by `activity_types`.
            items = list(acct.activities)
            kinds = path.removeprefix("/v2/account/activities").strip("/") or query.get("activity_types", "")
            if kinds:
                wanted = set(kinds.split(","))
                items = [a for a in items if a["activity_type"] in wanted]
            if query.get("after"):
                items = [a for a in items if str(a["id"]) > query["after"].replace("-", "").replace(":", "")[:17]]
            if query.get("direction", "desc") == "desc":
                items.reverse()
            token = query.get("page_token")
            if token:
                ids = [a["id"] for a in items]
                items = items[ids.index(token) + 1:] if token in ids else []
            size = min(int(query.get("page_size", 100)), 100)
            return 200, items[:size]
        if method == "GET" and path == "/v2/orders":
            emu._progress(acct)
            # As Alpaca: status open (default) / closed / all; after, until (submission times); symbols; newest
            # first unless direction=asc; at most `limit` (default 50, at most 500).
            which = query.get("status", "open")
            orders = [
                o for o in acct.orders.values() if which == "all" or (o.status in OPEN_STATUSES) == (which == "open")
            ]
            if query.get("symbols"):
                orders = [o for o in orders if o.symbol in query["symbols"].split(",")]
            if query.get("after"):
                after = datetime.fromisoformat(query["after"].replace("Z", "+00:00"))
                orders = [o for o in orders if o.created > after]
            if query.get("until"):
                until = datetime.fromisoformat(query["until"].replace("Z", "+00:00"))
                orders = [o for o in orders if o.created < until]
            orders.sort(key=lambda o: o.created, reverse=query.get("direction", "desc") == "desc")
            return 200, [o.json() for o in orders][: min(int(query.get("limit", 50)), 500)]
        if method == "GET" and path == "/v2/orders:by_client_order_id":
            emu._progress(acct)
            oid = acct.by_client.get(query.get("client_order_id", ""))
            return (200, acct.orders[oid].json()) if oid else (404, {"code": 40410000, "message": "order not found"})
        if method == "POST" and path == "/v2/orders":
            code, payload = emu.submit(acct, body)
            if code == 200 and emu.faults.ghost_orders > 0:
                emu.faults.ghost_orders -= 1
                return -1, None
            return code, payload
        if method == "GET" and path.startswith("/v2/orders/"):
            emu._progress(acct)
            o = acct.orders.get(path.rsplit("/", 1)[1])
            return (200, o.json()) if o else (404, {"code": 40410000, "message": "order not found"})
        if method == "DELETE" and path.startswith("/v2/orders/"):
            return emu.cancel(acct, path.rsplit("/", 1)[1])
        if method == "GET" and path in ("/v2/stocks/snapshots", "/v2/stocks/trades/latest", "/v2/stocks/quotes/latest"):
            symbols = [x for x in query.get("symbols", "").split(",") if x in emu.prices]
            if path.endswith("snapshots"):
                return 200, {sym: emu.snapshot(sym) for sym in symbols}
            key = "trades" if "/trades/" in path else "quotes"
            field_ = "latestTrade" if key == "trades" else "latestQuote"
            return 200, {key: {sym: emu.snapshot(sym)[field_] for sym in symbols}}
        return 404, {"code": 40400000, "message": f"not found: {method} {path}"}

    def _control(self, method: str, path: str, body: Any) -> None:
        try:
            self._control_unchecked(method, path, body)
        except (KeyError, ValueError, TypeError, AttributeError, ArithmeticError) as exc:
            # A test's or a user's malformed control request: say so, never crash the handler.
            self._send(400, {"message": f"bad control request: {type(exc).__name__}: {exc}"})

    def _control_unchecked(self, method: str, path: str, body: Any) -> None:
        emu = self.server.emulator
        with emu.lock:
            if path == "/_emulator/health":
                self._send(200, {"ok": True})
            elif path == "/_emulator/faults" and method == "POST":
                try:
                    emu.set_faults(body)
                except KeyError as exc:
                    self._send(400, {"message": f"unknown fault {exc}"})
                    return
                self._send(200, vars(emu.faults))
            elif path == "/_emulator/prices" and method == "POST":
                emu.set_prices(body)
                self._send(200, {"ok": True})
            elif path == "/_emulator/advance" and method == "POST":
                emu.day_offset += int(body.get("days", 1))
                self._send(200, {"today": emu.today().isoformat()})
            elif path == "/_emulator/activity" and method == "POST":
                acct = emu.find_account(body["account"])
                amount = Decimal(str(body["net_amount"]))
                status = str(body.get("status", "executed"))
                acct.activities.append(emu.cash_activity(acct, str(body["activity_type"]), amount,
                                                         str(body.get("description", "")), status))
                if status == "executed" and not body.get("no_cash"):
                    acct.cash += amount
                self._send(200, {"ok": True})
            elif path == "/_emulator/trade" and method == "POST":
                emu.external_trade(body["account"], body["symbol"], body["side"], Decimal(str(body["qty"])))
                self._send(200, {"ok": True})
            elif path == "/_emulator/state":
                for a in emu.accounts.values():
                    emu._progress(a)
                self._send(200, {
                    "requests": emu.requests, "limited": emu.limited, "errors": emu.errors, "ghosts": emu.ghosts,
                    "accounts": {
                        k: {"cash": str(a.cash), "unsettled": str(a.unsettled_cash),
                            "positions": {s: str(q) for s, q in a.positions.items()},
                            "orders": [o.json() for o in sorted(a.orders.values(), key=lambda o: o.created)]}
                        for k, a in emu.accounts.items()
                    },
                })
            else:
                self._send(404, {"message": "unknown control endpoint"})


class EmulatorServer(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True

    def __init__(self, emulator: Emulator, host: str = "127.0.0.1", port: int = 0) -> None:
        super().__init__((host, port), _Handler)
        self.emulator = emulator

    @property
    def url(self) -> str:
        host, port = self.server_address[:2]
        return f"http://{host!s}:{port}"

    def start(self) -> threading.Thread:
        thread = threading.Thread(target=self.serve_forever, name="broker-emulator", daemon=True)
        thread.start()
        return thread
