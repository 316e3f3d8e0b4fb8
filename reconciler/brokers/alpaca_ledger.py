"""The cash an Alpaca account's activities imply, settled and unsettled (sale proceeds settle T+N exchange
sessions after the trade), and the check of the broker's own cash figure against it. Pure functions of the
activities, the broker's date and the exchange's sessions; the adapter reads them."""

from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal
from typing import Any

from reconciler.brokers.alpaca_answers import (
    ACTIVITIES,
    CASH_ACTIVITIES,
    MAX_ACTIVITY_PAGES,
    VOID_STATUSES,
    is_sale,
    trade_date,
)
from reconciler.brokers.payload import number
from reconciler.core.numbers import ZERO


def settlement_horizon(today: date, settlement_days: int) -> date:
    """Sales on or before this date settled long ago, whatever the holidays (a week per settlement day,
    plus two for the longest run of exchange holidays)."""
    return today - timedelta(days=7 * settlement_days + 14)


def ledger(
    activities: list[dict[str, Any]], today: date, sessions: list[date], settlement_days: int
) -> tuple[Decimal, Decimal, list[str]]:
    """(settled, unsettled, unknown) cash implied by the activities: deposits, withdrawals, fees, dividends and
    their withholdings, interest, pass-through charges, cash from corporate actions, and fills, with sale
    proceeds settled T+N exchange sessions after the trade, counted up to the broker's own date (its clock).
    Cancelled and corrected activities do not count. `unknown` names each activity of a kind not known to move
    cash that does carry an amount."""
    settled = unsettled = ZERO
    unknown: list[str] = []
    horizon = settlement_horizon(today, settlement_days)
    n = settlement_days
    for a in activities:
        kind = str(a.get("activity_type"))
        if str(a.get("status") or "executed").lower() in VOID_STATUSES:
            continue
        if kind == "FILL":
            amount = number(a.get("qty"), "qty", ACTIVITIES) * number(a.get("price"), "price", ACTIVITIES)
            if not is_sale(a):
                settled -= amount
                continue
            traded = trade_date(a)
            if n == 0 or traded <= horizon or sum(1 for s in sessions if traded < s <= today) >= n:
                settled += amount
            else:
                unsettled += amount
            continue
        amount = number(a.get("net_amount"), "net_amount", ACTIVITIES, negative_ok=True, missing=ZERO)
        if kind in CASH_ACTIVITIES:
            settled += amount
        elif amount != 0:
            unknown.append(f"{kind} {amount} on {a.get('date')} (id {a.get('id')})")
    # Buys may spend unsettled proceeds; what they took from unsettled cannot also be settled cash.
    if settled < 0:
        unsettled += settled
        settled = ZERO
    return settled, max(unsettled, ZERO), unknown


def cash_warning(
    claimed: Decimal, settled: Decimal, unsettled: Decimal, unknown: list[str], *, complete: bool,
    tolerance: Decimal,
) -> str | None:
    """Why the account's cash cannot be trusted (activities unread or unknown, margin, a disagreement), or None."""
    if not complete:
        return f"the account has more than {MAX_ACTIVITY_PAGES * 100} activities; its cash cannot be verified"
    if unknown:
        return f"activities of a kind reconciler does not know move cash ({'; '.join(unknown)}); cannot verify"
    if claimed < 0:
        return f"the account's cash is {claimed}: it is borrowing on margin"
    # Alpaca's `cash` includes sale proceeds before they settle (every account is a margin account); a broker
    # reporting settled cash only is as consistent. Anything else is a disagreement.
    if abs(claimed - (settled + unsettled)) > tolerance and abs(claimed - settled) > tolerance:
        return (
            f"the account reports cash {claimed} but its activities imply {settled} settled"
            f" and {unsettled} unsettled; trusting neither"
        )
    return None
