"""The wash-sale guard's facts, loaded at the edge: each taxed portfolio's observation gets its household's
recent trades and the account's lots from the journal (core.household), and the pure planner judges them."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import timedelta

from reconciler.core.household import Household
from reconciler.core.models import Desired, Observation
from reconciler.core.wash_sale import WINDOW_DAYS, TradeEvent
from reconciler.journal.lots import account_lots
from reconciler.journal.store import Journal
from reconciler.journal.wash import household_trades


def household_of(desired: Desired, portfolios: Sequence[Desired]) -> tuple[str, list[str]]:
    """The portfolio's household and its accounts: every portfolio sharing `tax.household` (IRAs included),
    or the account alone when none is named."""
    name = desired.tax.household if desired.tax is not None else None
    if name is None:
        return desired.account, [desired.account]
    accounts = {p.account for p in portfolios if p.tax is not None and p.tax.household == name}
    return name, sorted(accounts | {desired.account})


def with_households(
    journal: Journal, observed: list[tuple[Desired, Observation]], portfolios: Sequence[Desired]
) -> list[tuple[Desired, Observation]]:
    """Each observation of a portfolio with `tax:` settings, with its household's trades of the wash-sale
    window and its account's lots; others are left as they were (their plans do not change)."""
    cache: dict[tuple[str, ...], list[TradeEvent]] = {}
    out = []
    for desired, obs in observed:
        if desired.tax is None:
            out.append((desired, obs))
            continue
        name, accounts = household_of(desired, portfolios)
        since = obs.taken_at.date() - timedelta(days=WINDOW_DAYS)
        key = (name, since.isoformat(), *accounts)
        if key not in cache:
            cache[key] = household_trades(journal, accounts, since)
        lots = account_lots(journal, desired.account)
        home = Household(name=name, accounts=accounts, trades=cache[key], lots=lots)
        out.append((desired, obs.model_copy(update={"household": home})))
    return out
