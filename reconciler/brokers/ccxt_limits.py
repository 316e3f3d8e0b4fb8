"""What an exchange limits per IP, shared by every account of one API host: the request weight it says it has
counted this minute, and a ban until its end.

Binance counts request weight per IP, not per API key, in fixed one-minute windows, and says the count so far
on every answer (`X-MBX-USED-WEIGHT-1M`; orders also `X-MBX-ORDER-COUNT-10S`/`-1D`). Going over answers 429;
going on after 429s bans the IP with 418 for 2 minutes to 3 days (developers.binance.com, spot REST API,
"LIMITS"). So the adapter pauses every account of the host once the minute's weight is nearly spent, and a ban
stops them all at once, without a request, until it ends.
"""

from __future__ import annotations

import re
import threading
from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from typing import Any

from reconciler.clock import Clock
from reconciler.errors import BrokerError, ExchangeBannedError, OrderRefusedError

# Binance spot's REQUEST_WEIGHT per minute (exchangeInfo rateLimits), the default until told
WEIGHT_LIMIT = 6000
# pause once this share of the minute's weight is used: a call may weigh up to ~80 (openOrders)
HEADROOM = 0.95
SHORTEST_BAN = timedelta(minutes=2)  # Binance: "IP bans are tracked and scale in duration ... from 2 minutes"
_BANNED_UNTIL = re.compile(r"banned until (\d{12,14})")


class HostLimits:
    """The weight used this minute and any ban, for one exchange host (one IP's budget)."""

    def __init__(self, clock: Clock, weight_limit: int = WEIGHT_LIMIT) -> None:
        self.clock = clock
        self.weight_limit = weight_limit
        self.used = 0
        self.minute: datetime | None = None  # the window `used` counts in
        self.order_counts: dict[str, int] = {}
        self.banned_until: datetime | None = None
        self.lock = threading.Lock()

    def observe(self, status: int, headers: Mapping[str, str], body: bytes) -> None:
        """Learn from one answer: the weight headers, and a 418's ban with its end."""
        lower = {str(k).lower(): str(v) for k, v in headers.items()}
        with self.lock:
            now = self.clock.now()
            used = lower.get("x-mbx-used-weight-1m")
            if used is not None and used.isdigit():
                self.used, self.minute = int(used), _minute(now)
            for k, v in lower.items():
                if k.startswith("x-mbx-order-count-") and v.isdigit():
                    self.order_counts[k.removeprefix("x-mbx-order-count-")] = int(v)
            if status == 418:
                self.banned_until = max(self.banned_until or now, _ban_end(now, lower, body))

    def check_ban(self, where: str) -> None:
        """ExchangeBannedError while the host bans us."""
        with self.lock:
            until = self.banned_until
        if until is not None and self.clock.now() < until:
            raise ExchangeBannedError(
                f"the exchange bans this IP until {until.isoformat(timespec='seconds')} (HTTP 418, after too"
                " many"
                " requests); nothing more is sent to it until then", where=where,
                fix="wait for the ban's end, then plan again; lower broker.rate_limit_per_second or run fewer"
                " accounts at once on this IP",
            )

    def pause(self) -> float:
        """Seconds to wait before the next request so that the minute's weight is not exceeded (0: none)."""
        with self.lock:
            now = self.clock.now()
            if self.minute is None or _minute(now) != self.minute or self.used < HEADROOM * self.weight_limit:
                return 0.0
            return (self.minute + timedelta(minutes=1) - now).total_seconds()

    def waited(self) -> None:
        """The pause was taken: a new minute, a new count (until the next answer says otherwise)."""
        with self.lock:
            self.used, self.minute = 0, None


def _minute(t: datetime) -> datetime:
    return t.replace(second=0, microsecond=0)


def _ban_end(now: datetime, headers: Mapping[str, str], body: bytes) -> datetime:
    """When a 418 ban ends: Binance's message names it in milliseconds ("IP banned until 1659146400000"); else
    Retry-After (seconds); else the shortest ban."""
    found = _BANNED_UNTIL.search(body.decode("utf-8", "replace"))
    if found:
        return datetime.fromtimestamp(int(found.group(1)) / 1000, UTC)
    retry_after = headers.get("retry-after", "")
    if retry_after.isdigit():
        return now + timedelta(seconds=int(retry_after))
    return now + SHORTEST_BAN


def response_hook(limits: HostLimits) -> Any:
    """A requests response hook feeding `limits` (after the body-capping hook has read the body)."""

    def hook(response: Any, *args: Any, **kwargs: Any) -> Any:
        limits.observe(int(response.status_code), response.headers, response.content or b"")
        return response

    return hook


def held(sending: str | None, why: str, wait: float, cap: float, where: str) -> None:
    """A wait for the exchange's limits: an order (`sending`, its client id) is refused as not placed, since
    its quote and checks would be stale after it; a read may wait up to `cap` seconds, and longer is an
    error."""
    if sending is not None:
        raise OrderRefusedError(
            f"order {sending} was not placed: {why}, for {wait:.0f}s", where=where,
            fix="the next plan re-quotes and re-checks it; lower broker.rate_limit_per_second",
        )
    if wait > cap:
        raise BrokerError(
            f"{why}: waiting {wait:g}s is more than broker.rate_limit_max_wait_seconds ({cap:g}s)",
            where=where,
            fix="run again later, or raise broker.rate_limit_max_wait_seconds",
        )


def clock_skew(sending: str | None, detail: str, where: str) -> BrokerError:
    """Binance's -1021: the request's timestamp is outside recvWindow of the server's time. Refused before it
    did anything, and no retry helps: it is this machine's clock, not the exchange being down."""
    message = (
        "the exchange refused the request's timestamp: this machine's clock is off from the exchange's"
        f" ({detail})"
    )
    fix = "synchronise this machine's clock (NTP); nothing was done on the exchange by this request"
    if sending is not None:
        return OrderRefusedError(f"order {sending} was not placed: {message}", where=where, fix=fix)
    return BrokerError(message, where=where, fix=fix)
