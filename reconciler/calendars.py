"""Exchange calendars for the paper broker: when its market is open, and which days count for settlement.

exchange-calendars (an optional extra) knows every venue's sessions, holidays, early closes and their history;
a table of holidays written here would be wrong by the next half-day. It is imported only when a calendar is
configured: it pulls in pandas and takes half a second to load.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import date, datetime, timedelta
from functools import lru_cache
from typing import Any

from reconciler.core.models import MarketStatus
from reconciler.errors import BrokerError

INSTALL_FIX = "install the calendars extra (pip install 'reconciler[calendars]'), or remove broker.calendar"


def _module() -> Any:
    try:
        import exchange_calendars
    except ImportError as exc:  # the optional extra is missing
        raise ValueError(f"broker.calendar needs the exchange-calendars package; {INSTALL_FIX}") from exc
    return exchange_calendars


def check_code(code: str) -> str:
    """The calendar code if exchange-calendars knows it; a ValueError that lists close matches otherwise."""
    names = sorted(_module().get_calendar_names(include_aliases=True))
    if code in names:
        return code
    if code.strip() in names:
        raise ValueError(f"{code!r} has spaces around the calendar code; write {code.strip()}")
    key = code.strip().upper()
    close = [n for n in names if len(key) >= 2 and n.upper().startswith(key[:2])][:8]
    hint = f" (close: {', '.join(close)})" if close else ""
    raise ValueError(f"{code!r} is not an exchange calendar{hint}; use an ISO MIC such as XNYS, XNAS, XLON or"
                     " XTKS")


@lru_cache(maxsize=8)
def _calendar(code: str) -> Any:
    with _quiet():
        return _module().get_calendar(code)


@contextmanager
def _quiet() -> Iterator[None]:
    """exchange-calendars trips pandas deprecation warnings inside its own code: not the user's to read."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        warnings.simplefilter("ignore", FutureWarning)
        yield


def market_status(code: str, now: datetime) -> MarketStatus:
    """Open or closed at `now` by the exchange's calendar (regular session; early closes included)."""
    import pandas as pd

    cal = _calendar(code)
    minute = pd.Timestamp(now).tz_convert("UTC").floor("min")
    with _quiet():
        first, last = cal.first_minute, cal.last_minute
        if minute < first or minute >= last:
            raise BrokerError(
                f"{now:%Y-%m-%d} is outside the {code} calendar's range ({first:%Y-%m-%d} to"
                f" {last:%Y-%m-%d})",
                where="reconciler.yaml: broker.calendar",
                fix="upgrade exchange-calendars (pip install -U exchange-calendars), or remove"
                " broker.calendar",
            )
        # a lunch break is closed too: an order would wait for the afternoon
        if cal.is_open_on_minute(minute):
            return MarketStatus(is_open=True, source=f"{code} calendar")
        if cal.is_break_minute(minute):
            opens = cal.session_break_end(cal.minute_to_session(minute)).to_pydatetime()
        else:
            opens = cal.next_open(minute).to_pydatetime()
    return MarketStatus(is_open=False, next_open=opens, source=f"{code} calendar")


def settlement_date(code: str, traded_at: datetime, n: int) -> date:
    """`n` sessions of the exchange after the session of the trade (weekends and holidays skipped). A trade
    outside a session belongs to the next one, when it would really have traded: never settled early."""
    import pandas as pd

    cal = _calendar(code)
    with _quiet():
        session = cal.minute_to_session(
            pd.Timestamp(traded_at).tz_convert("UTC").floor("min"), direction="next"
        )
        settles: date = cal.session_offset(session, n).date()
    return settles


def is_weekday(day: date) -> bool:
    """Monday to Friday: the days a calendar without holidays counts as sessions."""
    return day.weekday() < 5


def add_weekdays(day: date, n: int, counts: Callable[[date], bool] = is_weekday) -> date:
    """The settlement date without a calendar: `n` weekdays after `day` (exchange holidays not known), or `n`
    days that `counts` (the emulator's weekdays that are not its holidays)."""
    while n > 0:
        day += timedelta(days=1)
        if counts(day):
            n -= 1
    return day


def local_date(code: str, now: datetime) -> date:
    """Today at the exchange: settlement dates are the exchange's dates, not UTC's."""
    day: date = now.astimezone(_calendar(code).tz).date()
    return day


def session_hours(code: str, day: date) -> tuple[datetime, datetime] | None:
    """The exchange's regular session on `day` (open, close; an early close included), or None on a day
    without one (a weekend, a holiday)."""
    import pandas as pd

    cal = _calendar(code)
    with _quiet():
        label = pd.Timestamp(day)
        if not cal.is_session(label):
            return None
        return cal.session_open(label).to_pydatetime(), cal.session_close(label).to_pydatetime()
