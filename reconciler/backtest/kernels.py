"""The float boundary of the backtester: daily valuation and band checks over numpy arrays.

Nothing here keeps books or decides a trade. Between two trade days the holdings are constant, so a stretch of
days is valued in one vectorised pass over a float mirror of the engine's Decimal books; the band check finds
the first day the planner has to be asked. The planner (Decimal) then decides whether and what to trade.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property
from typing import Any

import numpy as np

FloatArray = np.ndarray[Any, np.dtype[np.float64]]
IntArray = np.ndarray[Any, np.dtype[np.int64]]

FIRST_BLOCK = 32
MAX_BLOCK = 4096


@dataclass(frozen=True)
class Trigger:
    """Where the planner would trade: a holding's weight strictly outside [lower, upper], or cash outside its
    band by at least `min_trade` (the smallest trade the planner could make: a quantity step of the cheapest
    holding, or the portfolio's minimum trade). Cash bounds of ±inf ignore cash (bt's RunIfOutOfBounds)."""

    lower: FloatArray
    upper: FloatArray
    cash_lower: float
    cash_upper: float
    min_trade: float  # dollars, at least
    step: float  # the planner's quantity step, for the cheapest-holding check

    @cached_property
    def watches_cash(self) -> bool:
        """Whether cash has a band, so the kernel checks it only when it can fire."""
        return bool(np.isfinite(self.cash_lower) or np.isfinite(self.cash_upper))


def _breaches(
    closes: FloatArray, idx: IntArray, q: FloatArray, cash: float, trig: Trigger
) -> np.ndarray[Any, Any]:
    # Consecutive look days (a daily look) are a slice of the rows: a view, not a copy.
    rows = closes[idx[0] : idx[-1] + 1] if idx[-1] - idx[0] == len(idx) - 1 else closes[idx]
    values = rows * q
    e = values.sum(axis=1) + cash
    with np.errstate(divide="ignore", invalid="ignore"):  # an emptied account (e = 0) never breaches
        w = values / e[:, None]
    bad = ((w < trig.lower) | (w > trig.upper)).any(axis=1)
    if trig.watches_cash:
        smallest = np.maximum(trig.min_trade, trig.step * rows.min(axis=1))
        bad |= (cash > trig.cash_upper * e + smallest) | (cash < trig.cash_lower * e)
    out: np.ndarray[Any, Any] = bad & (e > 0)
    return out


def first_breach(
    closes: FloatArray, looks: IntArray, q: FloatArray, cash: float, trig: Trigger, a: int, b: int
) -> int:
    """The first look day in [a, b) on which the trigger fires, or b. Checks in growing blocks so that a
    breach soon after a trade costs little and a long quiet stretch costs a few large vector operations."""
    lo = int(np.searchsorted(looks, a, side="left"))
    hi = int(np.searchsorted(looks, b, side="left"))
    block = FIRST_BLOCK
    while lo < hi:
        idx = looks[lo : min(hi, lo + block)]
        bad = _breaches(closes, idx, q, cash, trig)
        if bad.any():
            return int(idx[int(np.argmax(bad))])
        lo += len(idx)
        block = min(block * 2, MAX_BLOCK)
    return b


def breach_at(closes: FloatArray, day: int, q: FloatArray, cash: float, trig: Trigger) -> bool:
    """Whether the trigger fires on one day (after that day's cash flows)."""
    return bool(_breaches(closes, np.array([day], dtype=np.int64), q, cash, trig)[0])


def value_segments(
    closes: FloatArray,
    starts: list[int],
    qs: list[FloatArray],
    cashes: list[float],
    equity: FloatArray,
    weights: FloatArray,
) -> None:
    """End-of-day equity and weights of a whole run in one pass: segment k holds qs[k] and cashes[k] from day
    starts[k] (the first is day 0) to the next start (an emptied account has no weights)."""
    days = len(closes)
    lengths = np.diff(np.append(np.asarray(starts, dtype=np.int64), days))
    q = np.repeat(np.asarray(qs, dtype=np.float64).reshape(len(qs), closes.shape[1]), lengths, axis=0)
    cash = np.repeat(np.asarray(cashes, dtype=np.float64), lengths)
    values = closes * q
    e = values.sum(axis=1) + cash
    equity[:] = e
    with np.errstate(divide="ignore", invalid="ignore"):
        np.divide(values, e[:, None], out=weights)
    if not (e > 0).all():
        weights[e <= 0] = 0.0


def weights_before(
    closes: FloatArray, starts: list[int], qs: list[FloatArray], cashes: list[float]
) -> dict[int, FloatArray]:
    """The holdings' weights at the close of each segment's first day but the first, with the segment before
    it: a trade day's weights before its trades (zero for an empty account), in one pass."""
    if len(starts) < 2:
        return {}
    days = np.asarray(starts[1:], dtype=np.int64)
    values = closes[days] * np.asarray(qs[:-1], dtype=np.float64).reshape(len(days), closes.shape[1])
    e = values.sum(axis=1) + np.asarray(cashes[:-1], dtype=np.float64)
    with np.errstate(divide="ignore", invalid="ignore"):
        w = values / e[:, None]
    w[~(e > 0)] = 0.0
    return dict(zip(days.tolist(), w, strict=True))
