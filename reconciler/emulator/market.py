"""The emulated market, as plain values: times as Alpaca writes them, sessions and the calendar, the clock,
assets and market-data snapshots. No state and no clock of its own: the emulator passes in the time and its
knobs."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta, timezone, tzinfo
from datetime import time as time_of_day
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from reconciler import calendars
from reconciler.calendars import is_weekday
from reconciler.emulator.faults import Faults

DEFAULT_VOLUME = Decimal(5_000_000)  # a symbol's daily volume unless the prices say (bars always carry one)

SessionHours = Callable[[date], tuple[datetime, datetime] | None]  # a day's open and close, or None


def iso(ts: datetime) -> str:
    """A timestamp as Alpaca writes it (Z for UTC), so clients parse the emulator's as the real one's."""
    return ts.isoformat().replace("+00:00", "Z")


def new_york(ts: datetime) -> str:
    """A time as Alpaca's clock writes it: New York's, with its offset."""
    try:
        zone: tzinfo = ZoneInfo("America/New_York")
    except ZoneInfoNotFoundError:
        zone = timezone(timedelta(hours=-5))
    return ts.astimezone(zone).isoformat()


def asset_id(symbol: str) -> str:
    """A stable asset id per symbol, as Alpaca gives every asset a UUID."""
    return str(uuid.uuid5(uuid.NAMESPACE_URL, f"asset:{symbol}"))


def session_hours(day: date, calendar: str | None, holidays: list[str]) -> tuple[datetime, datetime] | None:
    """A session's open and close: the exchange calendar's (holidays, early closes), or without one 14:30 to
    21:00 UTC on every weekday; never on a `holidays` date."""
    if day.isoformat() in holidays:
        return None
    if calendar is not None:
        return calendars.session_hours(calendar, day)
    if not is_weekday(day):
        return None
    return (datetime.combine(day, time_of_day(14, 30), tzinfo=UTC),
            datetime.combine(day, time_of_day(21, 0), tzinfo=UTC))


def session_of(placed: datetime, hours_of: SessionHours) -> tuple[datetime, datetime] | None:
    """The first session whose close is after `placed` (an order placed after a close waits for the next)."""
    day = date.fromisoformat(new_york(placed)[:10])
    for _ in range(15):
        hours = hours_of(day)
        if hours is not None and placed < hours[1]:
            return hours
        day += timedelta(days=1)
    return None


def clock_json(
    now: datetime, today: date, hours_of: SessionHours, always_open: bool, market_closed: bool
) -> dict[str, Any]:
    """GET /v2/clock, in New York time as Alpaca writes it. Without a calendar (`always_open`) the market is
    open at any hour (tests run at any time); `market_closed` closes it whatever the time."""
    hours = hours_of(today)
    if always_open:
        is_open = not market_closed
    else:
        is_open = hours is not None and hours[0] <= now < hours[1] and not market_closed
    day, upcoming = today, None
    for _ in range(30):  # the next session that opens after now
        h = hours_of(day)
        if h is not None and h[0] > now:
            upcoming = h
            break
        day += timedelta(days=1)
    closes = hours[1] if hours is not None and now < hours[1] else (upcoming[1] if upcoming else now)
    opens = upcoming[0] if upcoming else now
    return {"timestamp": new_york(now), "is_open": is_open, "next_open": new_york(opens),
            "next_close": new_york(max(closes, now) if is_open else closes)}


def calendar_json(
    start: date, end: date, hours_of: SessionHours, settles_of: Callable[[date], date]
) -> list[dict[str, Any]]:
    """GET /v2/calendar, as Alpaca: the sessions between start and end (inclusive), times in New York."""
    days = (start + timedelta(days=k) for k in range((end - start).days + 1))
    out = []
    for d in days:
        hours = hours_of(d)
        if hours is None:
            continue
        opens, closes = (new_york(t)[11:16] for t in hours)
        out.append({"date": d.isoformat(), "open": opens, "close": closes, "session_open": "0400",
                    "session_close": "2000", "settlement_date": settles_of(d).isoformat()})
    return out


def snapshot_json(price: Decimal, previous_close: Decimal | None, volume: int, stamp: str) -> dict[str, Any]:
    """Alpaca's stock snapshot: the latest trade and quote (stamped `stamp`), a minute bar, today's and the
    previous session's daily bars, in the data API's short keys."""
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
        "prevDailyBar": None if previous_close is None else bar(previous_close, volume),
    }


def asset_json(symbol: str, faults: Faults) -> dict[str, Any]:
    """GET /v2/assets/{symbol}: tradable unless `reject_symbols` names it, fractionable unless
    `not_fractionable`."""
    tradable = symbol not in faults.reject_symbols
    return {
        "id": asset_id(symbol), "class": "us_equity", "exchange": "ARCA", "symbol": symbol, "name": symbol,
        "status": "active", "tradable": tradable, "marginable": True, "shortable": False,
        "easy_to_borrow": False, "fractionable": symbol not in faults.not_fractionable,
        "min_order_size": "0.000000001", "min_trade_increment": "0.000000001", "price_increment": "0.01",
        "maintenance_margin_requirement": 30, "attributes": [],
    }
