"""Calendar masks over the trading days: the first trading day of each week, month, quarter or year."""

from __future__ import annotations

from typing import Any

import numpy as np

from reconciler.backtest.strategies import Every

BoolArray = np.ndarray[Any, np.dtype[np.bool_]]


def period_starts(dates: np.ndarray[Any, np.dtype[np.datetime64]], every: Every) -> BoolArray:
    """True on the first trading day of each new period; the first day of the backtest is never one (it is the
    funding day). This is bt's RunMonthly/RunQuarterly/RunYearly convention (a period changed since yesterday)."""
    n = len(dates)
    out = np.zeros(n, dtype=bool)
    if every == "never" or n < 2:
        return out
    if every == "daily":
        out[1:] = True
        return out
    days = dates.astype("datetime64[D]").astype(np.int64)
    if every == "weekly":
        key = (days + 3) // 7  # 1970-01-01 was a Thursday: shift so that weeks start on Monday
    else:
        months = dates.astype("datetime64[M]").astype(np.int64)
        key = {"monthly": months, "quarterly": months // 3, "annual": months // 12}[every]
    out[1:] = key[1:] != key[:-1]
    return out
