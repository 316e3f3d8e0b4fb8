"""The wash-sale guard's facts, loaded at the edge: each taxed portfolio's observation gets its household's
recent trades from the journal (core.household), and the pure planner judges them. The account's lots are
not loaded here: execution.tax_inputs puts them on the observation, the one field the guard reads them
from."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import timedelta

from reconciler.core.household import Household
from reconciler.core.models import Desired, Observation, PortfolioPlan
from reconciler.core.wash_sale import WINDOW_DAYS, TradeEvent
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
    window; others are left as they were (their plans do not change)."""
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
        home = Household(name=name, accounts=accounts, trades=cache[key])
        out.append((desired, obs.model_copy(update={"household": home})))
    return out


Planner = Callable[[list[tuple[Desired, Observation]]], list[PortfolioPlan]]


def with_planned_sales(
    observed: list[tuple[Desired, Observation]], plans: list[PortfolioPlan], replan: Planner
) -> list[PortfolioPlan]:
    """The plans, with each guarded portfolio that buys a symbol another account of its household sells in
    this same plan planned again, those sales added to its household's trades (of unknown result, so counted
    as losses): one plan never holds a buy and a loss sale of a symbol across the household's accounts. The
    sells do not depend on the buys, so one more pass settles it."""
    sold: dict[str, list[TradeEvent]] = {}
    for (_, obs), pp in zip(observed, plans, strict=True):
        if obs.household is not None:
            day = obs.taken_at.date()
            sold.setdefault(obs.household.name, []).extend(
                TradeEvent(obs.account, a.symbol, day, "sell") for a in pp.actions if a.side == "sell"
            )
    again: dict[int, tuple[Desired, Observation]] = {}
    for i, ((desired, obs), pp) in enumerate(zip(observed, plans, strict=True)):
        home = obs.household
        if home is None or desired.tax is None or not desired.tax.wash_sale:
            continue
        theirs = [e for e in sold.get(home.name, []) if e.account != obs.account]
        bought = {a.symbol for a in pp.actions if a.side == "buy"}
        if any(e.symbol in bought for e in theirs):
            more = home.model_copy(update={"trades": [*home.trades, *theirs]})
            again[i] = (desired, obs.model_copy(update={"household": more}))
    if not again:
        return plans
    redone = dict(zip(again, replan(list(again.values())), strict=True))
    return [redone.get(i, pp) for i, pp in enumerate(plans)]
