"""Calendar masks over the rows of a price table: the first or the last row of each week, month, quarter or
year.

Rows may be trading days, weeks or months: a period is a calendar period, and its rows are the rows dated in
it.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from reconciler.backtest.strategies import Anchor, Every

BoolArray = np.ndarray[Any, np.dtype[np.bool_]]


def _period_keys(dates: np.ndarray[Any, np.dtype[np.datetime64]], every: Every) -> np.ndarray[Any, Any]:
    if every == "weekly":
        days = dates.astype("datetime64[D]").astype(np.int64)
        return (days + 3) // 7  # 1970-01-01 was a Thursday: shift so that weeks start on Monday
    months = dates.astype("datetime64[M]").astype(np.int64)
    return {"monthly": months, "quarterly": months // 3, "annual": months // 12}[every]


def period_starts(dates: np.ndarray[Any, np.dtype[np.datetime64]], every: Every) -> BoolArray:
    """True on the first trading day of each new period; the first day of the backtest is never one (it is the
    funding day). This is bt's RunMonthly/RunQuarterly/RunYearly convention (a period changed since
    yesterday)."""
    n = len(dates)
    out = np.zeros(n, dtype=bool)
    if every == "never" or n < 2:
        return out
    if every == "daily":
        out[1:] = True
        return out
    key = _period_keys(dates, every)
    out[1:] = key[1:] != key[:-1]
    return out


def period_ends(dates: np.ndarray[Any, np.dtype[np.datetime64]], every: Every) -> BoolArray:
    """True on the last row of each period: a row whose next row is in a later period, and the data's last row
    when no weekday of its period is left after it (data that stops mid-period never looks at that period).
    The first row is the funding day, never a look: a first partial period is looked at on its own last
    row."""
    if every in ("never", "daily"):  # a day is its own period: its first row is its last
        return period_starts(dates, every)
    n = len(dates)
    out = np.zeros(n, dtype=bool)
    if n < 2:
        return out
    key = _period_keys(dates, every)
    out[:-1] = key[:-1] != key[1:]
    out[-1] = _period_over(dates[-1], int(key[-1]), every)
    out[0] = False
    return out


def _period_over(last: np.datetime64, key: int, every: Every) -> bool:
    """Whether no weekday of the period `key` comes after `last` (weekends are never trading days)."""
    if every == "weekly":
        final = np.datetime64(key * 7 - 3 + 6, "D")  # Monday-based weeks (see _period_keys) end on Sunday
    else:
        months = {"monthly": 1, "quarterly": 3, "annual": 12}[every]
        final = np.datetime64((key + 1) * months, "M").astype("datetime64[D]") - np.timedelta64(1, "D")
    day = last.astype("datetime64[D]")
    return bool(np.busday_count(day + np.timedelta64(1, "D"), final + np.timedelta64(1, "D")) == 0)


def look_days(dates: np.ndarray[Any, np.dtype[np.datetime64]], every: Every, at: Anchor) -> BoolArray:
    """The rows a strategy looks on: the first (`at=start`) or the last (`at=end`) row of each period."""
    return period_ends(dates, every) if at == "end" else period_starts(dates, every)
