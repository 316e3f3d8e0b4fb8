"""What the planner needs from the journal for a portfolio with a `tax:` block: the account's open lots and
the gains it realised earlier this calendar year, put in its observation so the planner stays pure
(core.tax_orders) and apply re-derives the same plan from the plan file."""

from __future__ import annotations

from reconciler.core.models import Desired, Observation
from reconciler.journal.lots import account_lots
from reconciler.journal.realized import realized_in_year
from reconciler.journal.store import Journal


def with_tax_inputs(
    journal: Journal, observed: list[tuple[Desired, Observation]]
) -> list[tuple[Desired, Observation]]:
    """Each observation of a portfolio with a `tax:` block, with the account's lots (unless already loaded)
    and the gains its fills realised this calendar year before the plan (the year of the observation, UTC);
    others are left as they were."""
    out = []
    for desired, obs in observed:
        if desired.tax is not None:
            lots = account_lots(journal, obs.account) if obs.lots is None else obs.lots
            realized = realized_in_year(journal, obs.account, obs.taken_at.year)
            obs = obs.model_copy(update={"lots": lots, "realized_gain": realized})
        out.append((desired, obs))
    return out
