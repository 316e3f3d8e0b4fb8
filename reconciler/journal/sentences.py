"""What an apply report says of an order, derived from one thing only: the journal's final state of that order
(its intent row: status, quantity, filled quantity, message). Nothing the apply believed on its way — an
answer it got, a cancel it asked for — is said unless the journal holds it: "nothing was sent" once printed
after an order had filled, and "the remainder cancelled" after the broker refused the cancel. Every report
(the terminal, the job summary, an `apply --all` work item) says an order's fate through `order_sentence`.
"""

from __future__ import annotations

from collections.abc import Mapping
from decimal import Decimal
from typing import Any

from reconciler.core.numbers import ZERO, qty
from reconciler.journal.statuses import IntentStatus

RECONCILE = "`reconciler reconcile` settles it"
# Statuses under which the journal holds no fill (the transition table leads out of them before a fill is
# kept).
UNFILLED: frozenset[IntentStatus] = frozenset({"denied", "skipped", "submitting", "unknown", "failed"})


def filled_of(row: Mapping[str, Any]) -> Decimal:
    """The quantity the journal holds as filled for an intent row (none recorded: zero)."""
    value = row.get("filled_quantity")
    return Decimal(str(value)) if value not in (None, "") else ZERO


def order_sentence(row: Mapping[str, Any] | None) -> str:
    """What became of one order, from its intent row as the journal holds it after the apply; None: not
    journaled."""
    if row is None:
        return f"not in the journal: what became of it is not known; {RECONCILE}"
    status: IntentStatus = row["status"]
    quantity = Decimal(str(row["quantity"]))
    filled = filled_of(row)
    amount = f"{qty(filled)} of {qty(quantity)}"
    why = f" ({row['message']})" if row.get("message") else ""
    if filled > ZERO and status in UNFILLED:  # a row that contradicts itself: say both, claim neither
        return f"{status} in the journal, yet {amount} filled: {RECONCILE}"
    if status == "denied":
        return f"denied by policy; nothing was sent{why}"
    if status == "skipped":
        return f"not sent; nothing was sent{why}"
    if status == "submitting":
        return f"being sent when the apply stopped; its outcome is not journaled: {RECONCILE}"
    if status == "unknown":
        return (
            "sent without a definitive answer: unknown until the broker shows it or the in-flight grace"
            f" passes; {RECONCILE}{why}"
        )
    if status == "failed":
        return f"the broker holds no such order (refused, or it never arrived); nothing filled{why}"
    if status == "rejected":
        return f"rejected by the broker; {_filled_part(filled, amount)}{why}"
    if status == "filled":
        return f"filled, {amount}{why}"
    if status == "canceled":
        if filled <= ZERO:
            return f"cancelled before anything filled; nothing was bought or sold{why}"
        if filled >= quantity:
            return f"all of it filled ({amount}) before its cancel{why}"
        return f"filled in part, {amount}; the remainder cancelled{why}"
    if status in ("accepted", "partially_filled"):
        if filled <= ZERO:
            return f"open at the broker, nothing filled yet (it fills or expires there): {RECONCILE}"
        if filled >= quantity:  # a status behind its own fills: the fills are what the journal holds
            return f"open at the broker by its status, yet {amount} filled: {RECONCILE}"
        return (
            f"filled in part, {amount}; the remainder is still open at the broker (its cancel was not"
            f" confirmed): {RECONCILE}, cancelling it and recording its fills"
        )
    # a new status must say its sentence
    raise ValueError(f"no report sentence for an intent status {status!r}")


def _filled_part(filled: Decimal, amount: str) -> str:
    return f"{amount} filled before it" if filled > ZERO else "nothing filled"
