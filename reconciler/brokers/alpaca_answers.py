"""What Alpaca's answers mean: order statuses, activities, the clock, account flags, snapshots, reserved cash
and errors, parsed into the adapter's types. Pure functions of the JSON (parsed with Decimal, never float);
the adapter does the I/O."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date, datetime, timedelta, timezone, tzinfo
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import httpx

from reconciler.brokers.base import OrderState, OrderStatus
from reconciler.brokers.payload import impossible, mapping, number, reading
from reconciler.brokers.refusals import fingerprint
from reconciler.core.models import MarketStatus, Quote
from reconciler.core.numbers import ZERO
from reconciler.errors import BrokerError
from reconciler.secrets.redact import untrusted

STATUS: dict[str, OrderStatus] = {
    "new": "accepted", "accepted": "accepted", "pending_new": "accepted", "accepted_for_bidding": "accepted",
    "partially_filled": "partially_filled", "filled": "filled", "done_for_day": "partially_filled",
    "canceled": "canceled", "expired": "canceled", "replaced": "canceled", "pending_cancel": "accepted",
    "pending_replace": "accepted", "held": "accepted", "rejected": "rejected", "stopped": "partially_filled",
    "suspended": "rejected", "calculated": "accepted",
}
# Still open whatever they say of fills: a cancel is not final until `canceled` (fills may arrive meanwhile),
# and `calculated` means the day is done but settlement calculations are pending, not that the order filled.
OPEN_BY_QUANTITY = frozenset({"pending_cancel", "pending_replace", "calculated", "done_for_day", "stopped"})

MAX_ACTIVITY_PAGES = 500  # 50,000 activities since the ledger's cursor
MAX_BODY_BYTES = 8 * 1024 * 1024  # Alpaca's largest answer here (500 orders) is well under 1 MB
ACTIVITIES = "GET /v2/account/activities"


def json_of(r: httpx.Response, endpoint: str) -> Any:
    """The body as JSON; a redirect, an HTML page or a truncated body is an impossible answer, not a crash."""
    if 300 <= r.status_code < 400:
        where = untrusted(r.headers.get("location", "?"), 120)
        raise impossible(endpoint, f"HTTP {r.status_code} redirect to {where!r}")
    try:
        return r.json()
    except ValueError:
        kind = untrusted(r.headers.get("content-type", "no content type"), 60)
        raise impossible(endpoint, f"the body is not JSON ({kind}, {fingerprint(r.content)})") from None


def clock_date(clock: Any, now: datetime) -> date:
    """The broker's date from GET /v2/clock (its exchange's local date). If the clock gives none, New York's
    date: never later than the exchange's, so sale proceeds are never counted as settled a day early (the UTC
    date is already tomorrow from 19:00 or 20:00 New York time)."""
    stamp = parse_instant((clock or {}).get("timestamp"))
    return stamp.date() if stamp else now.astimezone(new_york()).date()


def parse_instant(value: Any) -> datetime | None:
    """An ISO 8601 time as Alpaca writes it (`Z` or an offset); None when missing or unreadable."""
    try:
        return datetime.fromisoformat(str(value or "").replace("Z", "+00:00")) if value else None
    except ValueError:
        return None


def new_york() -> tzinfo:
    """The exchange's time zone, which decides an order's trading date, even on a machine without tz data."""
    try:
        return ZoneInfo("America/New_York")
    except ZoneInfoNotFoundError:  # no tz database on this machine: standard time, a date never too late
        return timezone(timedelta(hours=-5))


def is_sale(activity: dict[str, Any]) -> bool:
    """Whether an activity is a sale, whose proceeds settle later and so count as unsettled cash."""
    return activity.get("activity_type") == "FILL" and activity.get("side") != "buy"


def trade_date(activity: dict[str, Any]) -> date:
    """The session date of a fill: its time in New York (Alpaca writes UTC; a fill at 20:30 New York is
    already tomorrow in UTC, and settlement counts the exchange's dates)."""
    raw = str(activity.get("transaction_time", ""))
    try:
        instant = parse_instant(raw)
        return (
            instant.astimezone(new_york()).date()
            if instant and instant.tzinfo
            else date.fromisoformat(raw[:10])
        )
    except ValueError:
        raise BrokerError(
            f"a fill activity has no readable transaction_time ({activity.get('transaction_time')!r})",
            where=f"activity {activity.get('id')}",
            fix="the broker's activity list is malformed; try again later",
        ) from None


def clock_market(clock: Any) -> MarketStatus | None:
    """Open or closed by GET /v2/clock (holidays and early closes included); None if it does not say."""
    if not isinstance(clock, dict) or not isinstance(clock.get("is_open"), bool):
        return None
    opens = parse_instant(clock.get("next_open"))
    return MarketStatus(is_open=clock["is_open"], next_open=opens, source="Alpaca clock")


class TransientError(Exception):
    """A read that may succeed if tried again (5xx, timeout, dropped connection)."""


def reserved_cash(orders: list[Any], quotes: dict[str, Quote]) -> Decimal:
    """Cash held by open buy orders: a notional order its unfilled dollars (its qty is null), a limit order
    its limit, a market order the quote, for what is left to fill."""
    held = ZERO
    where = "GET /v2/orders"
    with reading(where):
        for o in orders:
            if o.get("side") != "buy":
                continue
            filled = number(o.get("filled_qty"), "filled_qty", where, missing=ZERO)
            if o.get("notional") not in (None, "") and o.get("qty") in (None, ""):
                spent = filled * number(o.get("filled_avg_price"), "filled_avg_price", where, missing=ZERO)
                held += max(ZERO, number(o["notional"], "notional", where) - spent)
                continue
            left = number(o.get("qty"), "qty", where, missing=ZERO) - filled
            quote = quotes.get(str(o.get("symbol")))
            limit = number(o.get("limit_price"), "limit_price", where, missing=ZERO)
            held += left * max(limit, quote.price if quote is not None else ZERO)
    return held


DUPLICATE_WORDS = ("unique", "duplicate", "already exists", "already been used")


def is_duplicate(r: httpx.Response) -> bool:
    """Alpaca's answer to a client_order_id it has seen ("client_order_id must be unique"), told by its
    message: its code, 40010001, is Alpaca's generic validation code, also sent for an order that is simply
    invalid ("qty must be > 0"), whose reason is then the broker's own. A message about uniqueness is a
    duplicate with that code, or with any code when it names the client order id."""
    text = message(r).lower()
    unique = any(w in text for w in DUPLICATE_WORDS)
    try:
        code = r.json().get("code")
    except (ValueError, AttributeError):
        code = None
    return unique and (code == 40010001 or "client_order_id" in text or "client order id" in text)


def order_status(raw: str, filled: Decimal) -> OrderStatus:
    """Alpaca's status as ours: a status we do not know stays open (accepted), never final."""
    if raw in OPEN_BY_QUANTITY:
        return "partially_filled" if filled > 0 else "accepted"
    return STATUS.get(raw, "accepted")


def order_state(raw: Any, endpoint: str) -> OrderState:
    """An order as Alpaca describes it, refused if it cannot be true (a fill above the order, a fill without a
    price, a price that is not positive)."""
    with reading(endpoint):
        o = mapping(raw, endpoint)
        qty = number(o.get("qty"), "qty", endpoint, missing=ZERO)  # null for an order placed by notional
        filled = number(o.get("filled_qty"), "filled_qty", endpoint, missing=ZERO)
        avg = o.get("filled_avg_price")
        price = None if avg in (None, "") else number(avg, "filled_avg_price", endpoint, positive=True)
        if qty > 0 and filled > qty:
            raise impossible(endpoint, f"filled_qty {filled} is more than the order's qty {qty}")
        if filled > 0 and price is None:
            raise impossible(endpoint, f"filled_qty {filled} without a filled_avg_price")
        return OrderState(
            client_order_id=str(o["client_order_id"]), broker_order_id=str(o["id"]), symbol=str(o["symbol"]),
            side="buy" if o.get("side") == "buy" else "sell", quantity=qty, filled_quantity=filled,
            avg_price=price,
            commission=number(o.get("commission"), "commission", endpoint, missing=ZERO),
            status=order_status(str(o.get("status")), filled),
            reject_reason=o.get("reject_reason") or (None if o.get("status") != "rejected" else "rejected by"
                                                     " broker"),
        )


def message(r: httpx.Response) -> str:
    """The broker's own words for a refusal: its JSON `message`, or the start of a body that is not JSON. To
    read, never to show: what a refusal may show is `refusals.refusal` (the body is untrusted, it may echo a
    key)."""
    try:
        body = r.json()
    except ValueError:
        return r.text[:200]
    return str(body.get("message", "")) if isinstance(body, dict) else r.text[:200]


def check_flags(account: str, acct: dict[str, Any]) -> None:
    """An account the broker will not let trade is refused here, clearly, not by a string of 403s."""
    raised = [
        f for f in ("account_blocked", "trading_blocked", "trade_suspended_by_user") if acct.get(f) is True
    ]
    status = str(acct.get("status") or "ACTIVE")
    if raised or status != "ACTIVE":
        why = ", ".join(raised) or f"status {status}"
        raise BrokerError(
            f"the broker does not let account {account} trade ({why})", where=f"account {account}",
            fix="resolve it with the broker (trade_suspended_by_user: lift it in the dashboard), or remove"
            " the account's portfolios from this repository until then",
        )


def snapshot_quotes(data: Any, now: Callable[[], datetime]) -> dict[str, Quote]:
    """Quotes from one GET /v2/stocks/snapshots answer; a symbol without a latest trade is left out."""
    out: dict[str, Quote] = {}
    where = "GET /v2/stocks/snapshots"
    with reading(where):
        for sym, snap in mapping(data or {}, where).items():
            trade = (snap or {}).get("latestTrade") or {}
            if "p" not in trade:
                continue
            prev_bar = snap.get("prevDailyBar") or {}
            prev = prev_bar.get("c")
            # The last full session's volume: today's bar is a few shares at the open.
            volume = prev_bar.get("v")
            if volume is None:
                volume = (snap.get("dailyBar") or {}).get("v")
            # The trade's own time: a quote is as fresh as its last trade, not as the request.
            as_of = parse_instant(trade.get("t")) or now()
            book = snap.get("latestQuote") or {}
            bid, ask = book.get("bp"), book.get("ap")
            # A zero or negative price is let through: the valuation check blocks the portfolios it values
            # and says which quote, where refusing here would stop every account observed with it.
            out[sym] = Quote(
                symbol=sym, price=number(trade["p"], f"{sym} price", where, negative_ok=True),
                previous_close=None if prev is None else number(
                    prev, f"{sym} previous close", where, negative_ok=True
                ),
                as_of=as_of,
                daily_volume=None if volume is None else number(volume, f"{sym} volume", where),
                bid=number(bid, f"{sym} bid", where) if bid else None,
                ask=number(ask, f"{sym} ask", where) if ask else None,
            )
    return out
