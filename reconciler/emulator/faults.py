"""The emulator's fault knobs, and the gates that bend each answer by them.

Knobs (JSON body of POST /_emulator/faults, or `reconciler emulator --faults FILE`):
    rate_limit         requests per second (token bucket, burst `rate_burst`); over it: 429 with Retry-After
                       and X-Ratelimit-Limit/-Remaining/-Reset, as Alpaca sends
    error_rate         fraction of requests answered 500/502/503 (seeded RNG, `seed`)
    throttle_rate      fraction of requests answered 429 with a short Retry-After, whatever the rate
    error_burst        the next N requests answered 503
    latency_ms         added to every response
    ghost_orders       the next N order submissions are accepted, then the connection is dropped unanswered
    fill_steps, fill_interval   partial fills over time
    reject_symbols     orders for these symbols end `rejected`
    wash_trade_check   an order opposite to an open order on the same symbol is refused (403, Alpaca's
                       message); on by default, as at Alpaca
    settled_cash_only  `cash` leaves unsettled sale proceeds out (Alpaca includes them: every account is a
                       margin account); the adapter's ledger then sees a sale that did not move `cash`, a
                       disagreement
    cash_offset        `cash` is off by this many dollars (a broker whose figures disagree with its own
                       ledger)
    cancel_delay       seconds an order stays `pending_cancel` after DELETE (it may still fill meanwhile)
    trading_blocked    the account's `trading_blocked` flag (orders are refused with 403)
    not_fractionable   symbols whose assets are not fractionable (fractional and notional orders refused, 422)
    trade_age          how old every latest trade and quote is, in seconds (a thin or halted market)
    market_closed      GET /v2/clock says the market is closed (next open: the next weekday, 14:30 UTC)
    holidays           dates (YYYY-MM-DD) that are weekdays but no session: GET /v2/calendar leaves them out
                       and settlement skips them
    sip_subscription   the account may query the sip feed (Alpaca answers 403 without a market-data
                       subscription)
    stream_down        the trade_updates stream refuses every connection (HTTP 503 to the websocket handshake)
    stream_silent      the stream accepts and listens, then tells nothing
    stream_drop_after  every stream connection ends after this many events (0: never)
    stream_strip_client_id   stream events carry their order without its client_order_id
    stream_qty_skew    stream events say the order's qty is this much more than it is (a lying stream)
    adverse_move       the market moves this fraction against every order once sent (a fast market): market
                       orders fill there; a limit order fills only at or better than its limit, else rests
                       until cancelled

The gates here answer for the knobs that act on the request itself (rate limits, errors, ghosts); the books
(`state.py`) and the market (`market.py`) read the others where they apply.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from typing import Any

from reconciler.clock import Clock

RATE_LIMITED = {"code": 42910000, "message": "rate limit exceeded"}  # the body of a 429
SERVER_ERROR = {"message": "internal server error"}  # the body of an injected 500/502/503


@dataclass
class Faults:
    """The emulator's fault knobs (rate limits, errors, timeouts, partial fills) that the hostile tests turn.
    The emulator's fault knobs (rate limits, errors, timeouts, partial fills) that the hostile tests turn."""

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
    wash_trade_check: bool = True  # on by default at Alpaca
    settled_cash_only: bool = False
    cash_offset: float = 0.0
    cancel_delay: float = 0.05
    trading_blocked: bool = False
    not_fractionable: list[str] = field(default_factory=list)
    trade_age: float = 0.0
    market_closed: bool = False
    holidays: list[str] = field(default_factory=list)
    adverse_move: float = 0.0
    sip_subscription: bool = False
    stream_down: bool = False
    stream_silent: bool = False
    stream_drop_after: int = 0
    stream_strip_client_id: bool = False
    stream_qty_skew: float = 0.0
    seed: int = 7


class FaultGates:
    """The per-request gates over one `Faults`: throttling, the token bucket, injected errors and ghost
    orders, with their counts. Not locked here: the emulator holds its lock around every call."""

    def __init__(self, faults: Faults, clock: Clock) -> None:
        self.faults = faults
        self.clock = clock
        self.rng = random.Random(faults.seed)
        self.limited = 0
        self.errors = 0
        self.ghosts = 0
        self._tokens = float(faults.rate_burst)
        self._refilled = clock.monotonic()

    def change(self, changes: dict[str, Any]) -> None:
        """Change fault knobs; an unknown knob is a KeyError, a value of the wrong type a ValueError (and then
        nothing changes)."""
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
        """The status of an injected server error for this request (`error_burst` first), or None."""
        f = self.faults
        if f.error_burst > 0:
            f.error_burst -= 1
            self.errors += 1
            return 503
        if f.error_rate and self.rng.random() < f.error_rate:
            self.errors += 1
            return self.rng.choice([500, 502, 503])
        return None

    def ghost(self) -> bool:
        """Whether this accepted order submission goes unanswered (`ghost_orders`), counting it if so."""
        if self.faults.ghost_orders <= 0:
            return False
        self.faults.ghost_orders -= 1
        self.ghosts += 1
        return True

