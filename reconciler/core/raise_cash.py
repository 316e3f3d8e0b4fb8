"""Raise cash for a withdrawal: the targets the planner works toward while a withdrawal is pending.

Pure. A withdrawal (`withdrawals:` in a portfolio, or `plan --raise`) is pending until its date has passed
(the observation's day is after it). While one is, the account's equity less the pending amounts is what the
targets share, and the amounts are cash on top of the cash target: the planner sells overweight holdings back
to these targets (the most overweight sell the most) until that cash is there, and keeps it there, because by
these targets it is not excess cash. Which lots a sell closes is not decided here: this step only says how
much cash, and the sells are quantities per symbol, as every other sell.
"""

from __future__ import annotations

from decimal import Decimal

from reconciler.core.models import Desired, Observation
from reconciler.core.numbers import ONE, ZERO, money
from reconciler.errors import ReconcilerError


def pending(desired: Desired, obs: Observation) -> Decimal:
    """The cash still to be kept for withdrawals: those dated the observation's day or later."""
    today = obs.taken_at.date()
    return sum((w.amount for w in desired.withdrawals if w.date >= today), ZERO)


def raised(desired: Desired, obs: Observation) -> tuple[Desired, bool, list[str]]:
    """The targets with the pending withdrawals as cash, whether cash is being raised, and the plan's notes.
    An amount above what the account holds is an error naming the file and field: nothing is planned."""
    if not desired.withdrawals:
        return desired, False, []
    today = obs.taken_at.date()
    notes = [
        f"withdrawal of {money(w.amount)} dated {w.date.isoformat()} has passed: its cash is spent again;"
        " remove it"
        " from withdrawals:" for w in desired.withdrawals if w.date < today
    ]
    amount = pending(desired, obs)
    equity = _equity(desired, obs)
    # none pending; or a quote is missing, and the planner blocks the account
    if amount == 0 or equity is None:
        return desired, False, notes
    if amount > equity:
        raise ReconcilerError(
            f"withdrawals of {money(amount)} are more than account {obs.account} holds ({money(equity)})",
            where=f"{desired.source}: spec.withdrawals",
            fix="lower the amount to at most what the account holds, or withdraw from another account",
        )
    keep = (equity - amount) / equity
    targets = {s: t * keep for s, t in desired.targets.items()}
    cash = ONE - sum(targets.values(), ZERO)  # the withdrawals and the cash target of what stays
    until = max(w.date for w in desired.withdrawals if w.date >= today)
    notes.append(
        f"withdrawal: {money(amount)} raised and kept as cash until {until.isoformat()}; the targets are of"
        f" the {money(equity - amount)} that stays"
    )
    return desired.model_copy(update={"targets": targets, "cash": cash}), True, notes


def _equity(desired: Desired, obs: Observation) -> Decimal | None:
    """What the targets share, valued as the planner values it: held positions (a protected holding outside
    the targets is set aside) at their quotes, plus cash. None when a held symbol has no quote."""
    total = obs.cash_settled + obs.cash_unsettled
    rules = desired.symbols
    for s, q in obs.positions.items():
        if q == 0:
            continue
        rule = rules.get(s)
        if s not in desired.targets and rule is not None and (rule.hold or rule.do_not_trade):
            continue
        quote = obs.quotes.get(s)
        if quote is None:
            return None
        total += q * quote.price
    return total
