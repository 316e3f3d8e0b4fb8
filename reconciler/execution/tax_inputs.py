"""What the planner needs from the journal for a portfolio with a `tax:` block: the account's open lots and
the gains the portfolio realised earlier this calendar year, put in its observation so the planner stays pure
(core.tax_orders) and apply re-derives the same plan from the plan file."""

from __future__ import annotations

from decimal import Decimal

from reconciler.core.models import Desired, Observation
from reconciler.core.numbers import ZERO
from reconciler.journal.lots import account_lots
from reconciler.journal.store import Journal


def realized_this_year(journal: Journal, portfolio: str, year: int) -> Decimal:
    """Net gains the portfolio realised in `year` before this plan.

    The ledger records no closed lots yet (fills opening and closing lots is the ledger's part of issue 26):
    until it does, nothing realised by earlier applies is known, and the budget counts from zero. The
    plan's `tax.realized_before` shows the figure used, so a reviewer sees it."""
    del journal, portfolio, year
    return ZERO


def with_tax_inputs(
    journal: Journal, observed: list[tuple[Desired, Observation]]
) -> list[tuple[Desired, Observation]]:
    """Each observation of a portfolio with a `tax:` block, with the account's lots and this year's realised
    gains; others are left as they were."""
    out = []
    for desired, obs in observed:
        if desired.tax is not None:
            year = obs.taken_at.year
            obs = obs.model_copy(update={
                "lots": account_lots(journal, obs.account),
                "realized_gain": realized_this_year(journal, desired.name, year),
            })
        out.append((desired, obs))
    return out
