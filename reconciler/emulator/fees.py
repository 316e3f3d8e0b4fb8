"""Regulatory fees as Alpaca charges them: accrued per execution, deducted from `cash` while pending, and
posted at the session's close as one FEE activity per fee (TAF, REG, CAT), each day's total rounded up to the
cent (docs.alpaca.markets/docs/regulatory-fees). The books call these under the emulator's lock."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from reconciler.core.fees import FeeRates, day_fees
from reconciler.core.numbers import ZERO
from reconciler.emulator.accounts import EmuAccount

SessionHours = Callable[[date], tuple[datetime, datetime] | None]
Activity = Callable[[EmuAccount, str, Decimal, str], dict[str, Any]]


def pending(acct: EmuAccount, rates: FeeRates) -> Decimal:
    """Fees accrued and not posted yet: deducted from the account's `cash` until they are."""
    return sum(day_fees(acct.fee_trades, rates).values(), ZERO)


def accrue(acct: EmuAccount, now: datetime, today: date, side: str, qty: Decimal, price: Decimal) -> None:
    """Keep a trade for the day's fee bill, charged as Alpaca does in one activity after the close."""
    if not acct.fee_trades:
        acct.fee_day, acct.fee_started = today, now
    acct.fee_trades.append((side, qty, price))


def post_if_closed(acct: EmuAccount, rates: FeeRates, now: datetime, today: date, hours_of: SessionHours,
                   activity: Activity) -> None:
    """At the close of the session the fees accrued in, post them: cash moves by them once, as FEE activities
    dated that session. Fees accrued after a close, or on a day without a session (the emulator without a
    calendar fills at any hour), are posted when the day has passed."""
    day, started = acct.fee_day, acct.fee_started
    if day is None or started is None or not acct.fee_trades:
        return
    hours = hours_of(day)
    closed = hours is not None and started < hours[1] <= now
    if day >= today and not closed:
        return
    for name, amount in sorted(day_fees(acct.fee_trades, rates).items()):
        posted = activity(acct, "FEE", -amount, f"{name} fee")
        posted["date"] = day.isoformat()
        acct.activities.append(posted)
        _charge(acct, amount)
    acct.fee_trades, acct.fee_day, acct.fee_started = [], None, None


def _charge(acct: EmuAccount, amount: Decimal) -> None:
    """Out of sale proceeds not settled yet (the latest first: the day's sales), as Alpaca deducts REG and TAF
    from sales proceeds; the rest (CAT on buys) out of cash."""
    rest = amount
    kept: list[tuple[Decimal, date]] = []
    for proceeds, settles in sorted(acct.unsettled, key=lambda u: u[1], reverse=True):
        take = min(proceeds, rest)
        rest -= take
        if proceeds - take > 0:
            kept.append((proceeds - take, settles))
    acct.unsettled = sorted(kept, key=lambda u: u[1])
    acct.cash -= rest
