"""The planner: desired targets + an observation + cost estimates → the orders that close the gap.

A pure function. Invariants (proved by the property tests): cash never goes negative, unsettled cash and
cash reserved by open orders are never spent, only holdings outside their band trade, quantities are
multiples of the quantity step, trades under the minimum are dropped, and a second plan after applying
the first is empty.
"""

from __future__ import annotations

import gc
from collections.abc import Iterable, Mapping
from decimal import Decimal, localcontext
from itertools import compress, repeat
from operator import gt, itemgetter, mul, sub
from typing import Literal, overload

from reconciler.core.cooldown import cooled
from reconciler.core.lot_agreement import with_lot_agreement
from reconciler.core.models import Action, CostModel, Desired, Observation, PortfolioPlan, UnitCosts
from reconciler.core.numbers import ONE, PLAN_CONTEXT, ZERO, money
from reconciler.core.plan_legs import (
    UNDER_STEP,
    affordable_quantity,
    buy_leg,
    floor_to_step,
    protected,
    sell_leg,
)
from reconciler.core.plan_table import Table, assemble, band_for, bands_of, blocked_plan
from reconciler.core.raise_cash import pending, raised
from reconciler.core.tax_orders import taxed_leg, with_taxes
from reconciler.core.valuation import (
    NO_LIMITS,
    QuoteLimits,
    account_doubts,
    doubtful_quotes,
    floors_of,
    sound_prices,
)
from reconciler.core.wash_guard import washed

# What other modules import from the planner: the legs' and the table's rules live beside it.
__all__ = ["UNDER_STEP", "affordable_quantity", "band_for", "floor_to_step", "plan_many", "plan_orders",
           "plan_portfolio", "plan_unit_costs"]


def plan_portfolio(
    desired: Desired,
    obs: Observation,
    costs: CostModel,
    limits: QuoteLimits = NO_LIMITS,
    references: Mapping[str, Decimal] | None = None,
) -> PortfolioPlan:
    """Compute the orders that bring one account back within its bands; none at all when a quote that values
    the account is doubtful (the plan's `blocked` says why). `references` are the journal's last fill prices
    by symbol, which corroborate quotes. In the plan's own Decimal context, not the caller's."""
    with localcontext(PLAN_CONTEXT):
        return _referenced(
            _plan_portfolio(desired, obs, costs.unit_costs(), limits, references or {}), desired, obs,
            references
        )


def _referenced(
    pp: PortfolioPlan, desired: Desired, obs: Observation, references: Mapping[str, Decimal] | None
) -> PortfolioPlan:
    """The plan with the references of the symbols that value its account recorded, so apply re-derives it,
    and the cash it keeps for pending withdrawals."""
    pp = with_lot_agreement(pp, obs)  # lots that disagree with the broker (core.lot_agreement)
    if desired.withdrawals and (kept := pending(desired, obs)):
        pp = pp.model_copy(update={"withdrawal": kept})
    pp = with_taxes(pp, desired, obs)  # the sells' lots, gains and tax (core.tax_orders)
    if not references:
        return pp
    valued = desired.targets.keys() | {s for s, q in obs.positions.items() if q != 0}
    mine = {s: references[s] for s in sorted(valued) if s in references}
    return pp.model_copy(update={"references": mine}) if mine else pp


def plan_orders(
    desired: Desired, obs: Observation, costs: CostModel, unit: UnitCosts | None = None
) -> tuple[list[Action], list[str]]:
    """The orders and notes of `plan_portfolio(desired, obs, costs)`, without its before/after table: the
    backtester plans on every rebalance day and reads only these (a test holds the two equal). `unit` is
    plan_unit_costs(costs) when the caller plans many days with one cost model."""
    with localcontext(PLAN_CONTEXT):
        got = _plan_portfolio(desired, obs, costs.unit_costs() if unit is None else unit, NO_LIMITS, {},
                              rows=False)
    # A blocked account, or one without equity, is a whole plan already: its orders (none) and notes.
    return (got.actions, got.notes) if isinstance(got, PortfolioPlan) else got


def plan_unit_costs(costs: CostModel) -> UnitCosts:
    """The cost model's unit costs as every plan works them out (in the plan's Decimal context), for callers
    that plan many times with one cost model."""
    with localcontext(PLAN_CONTEXT):
        return costs.unit_costs()


@overload
def _plan_portfolio(
    desired: Desired, obs: Observation, unit: UnitCosts, limits: QuoteLimits,
    references: Mapping[str, Decimal]
) -> PortfolioPlan: ...


@overload
def _plan_portfolio(
    desired: Desired, obs: Observation, unit: UnitCosts, limits: QuoteLimits,
    references: Mapping[str, Decimal],
    *, rows: Literal[False],
) -> PortfolioPlan | tuple[list[Action], list[str]]: ...


def _plan_portfolio(
    desired: Desired, obs: Observation, unit: UnitCosts, limits: QuoteLimits,
    references: Mapping[str, Decimal],
    *, rows: bool = True,
) -> PortfolioPlan | tuple[list[Action], list[str]]:
    # The columns are built with map() over operator functions: C loops, where a comprehension per column is a
    # Python loop per holding (10,000 portfolios x 50 holdings is half a million of each).
    desired, notes = cooled(desired, obs)  # inside a cooldown, the hard band for bands (core.cooldown)
    desired, raising, raise_notes = raised(desired, obs)  # withdrawals pending: their cash is a target
    notes += raise_notes
    desired, wash_notes = washed(desired, obs)  # the household's wash-sale windows, substitutes, harvesting
    notes += wash_notes
    trading = desired.trading
    bands = trading.bands
    rules = desired.symbols
    targets = desired.targets
    positions = obs.positions
    # A Decimal is false exactly when it is zero: all() tests that without a comparison per holding (half the
    # time of `ZERO in`).
    if not all(positions.values()):
        positions = {s: q for s, q in positions.items() if q != 0}
    # Usually every holding has a target: the targets' keys alone, without building their union.
    keys = targets.keys()
    symbols = sorted(keys) if positions.keys() <= keys else sorted(keys | positions.keys())
    floors = floors_of(rules) if rules else None
    prices = sound_prices(obs, symbols, limits, references, floors)
    if prices is None:
        return blocked_plan(
            desired, obs, symbols, positions, doubtful_quotes(obs, symbols, limits, references, floors)
        )
    untrusted = account_doubts(obs)
    if untrusted:
        return blocked_plan(desired, obs, symbols, positions, untrusted, "not traded: this account cannot be"
                        " valued")
    # A protected position outside the targets is set aside: the targets describe the rest of the account.
    if rules:
        aside = [s for s in symbols if s not in targets and protected(rules.get(s))]
        if aside:
            kept = sum((positions[s] * obs.quotes[s].price for s in aside), ZERO)
            notes.append(f"{', '.join(aside)} ({money(kept)}) kept aside by hold/do_not_trade; weights are of"
                         " the rest")
            prices = [p for s, p in zip(symbols, prices, strict=True) if s not in aside]
            symbols = [s for s in symbols if s not in aside]

    n = len(symbols)
    held = _column(positions, symbols, n)
    values = list(map(mul, held, prices))
    tw = _column(targets, symbols, n)
    unwanted = not all(tw)  # some target is zero
    band = bands_of(tw, bands, unwanted)
    cash_total = obs.cash_settled + obs.cash_unsettled
    equity = sum(values, ZERO) + cash_total
    if equity <= 0:
        notes.append("account has no equity; nothing to do")
        zeros = [ZERO] * n
        table = Table(desired, obs, symbols, prices, held, values, tw, band, equity, zeros, cash_total)
        return assemble(table, notes)

    inv = ONE / equity
    weights = list(map(mul, values, repeat(inv, n)))
    table = Table(desired, obs, symbols, prices, held, values, tw, band, equity, weights, cash_total, inv)
    cash_band = band_for(desired.cash, bands)
    # Cash outside its band moves holdings that are inside theirs, but only in the direction that fixes cash:
    # too little cash sells every overweight holding; too much buys every underweight one.
    # A withdrawal's cash is raised in full, whatever the band: the money has to be there on the day.
    raise_cash = desired.cash - cash_total * inv > (ZERO if raising else cash_band)
    # An unwanted holding (target 0) is always out of band: "not in the targets" means "not held".
    out = set(compress(range(n), map(gt, map(abs, map(sub, weights, tw)), band)))
    if unwanted:
        out.update(i for i, t in enumerate(tw) if t == 0)
    # A symbol with an order still open at the broker is left alone until that order is final.
    busy_notes = [f"{s}: order {cid} is still open at the broker; not traded until it is final"
                  for s, cid in sorted(obs.open_orders.items())]
    busy_notes += [f"{s}: not traded: {why}; if the new holding is right, accept it with `reconciler"
                   f" reconcile --accept-move {obs.account}:{s} --reason TEXT`" for s,
                   why in sorted(obs.moved.items())]
    sells, sold, proceeds, sell_notes = ([], [], ZERO, []) if trading.buy_only else sell_leg(
        table, unit, out, raise_cash
    )
    sells, sold, proceeds, sell_notes = taxed_leg(
        table, unit, (sells, sold, proceeds, sell_notes), raising and raise_cash
    )
    # Judged after this plan's own sells: otherwise cash they raise would be bought back by the next plan
    # (churn).
    deploy_cash = (cash_total + proceeds) * inv - desired.cash > cash_band
    buys, bought, spent, buy_notes = buy_leg(table, unit, out, proceeds, deploy_cash, len(sells) + 1)

    actions = sells + buys
    market = obs.market
    closed_notes = []
    if actions and market is not None and not market.is_open:
        closed_notes.append(
            f"the market was closed when observed ({market.described}): orders sent before it opens would"
            " fill"
            " at the opening price, so apply refuses them until then (unless apply.market_hours is ignore)"
        )
    all_notes = [*notes, *busy_notes, *sell_notes, *buy_notes, *closed_notes]
    if not rows:
        return actions, all_notes
    return assemble(table, all_notes, actions, sold + bought, cash_total + proceeds - spent)


def _column(by_symbol: Mapping[str, Decimal], symbols: list[str], n: int) -> list[Decimal]:
    """by_symbol's value for each symbol, zero where it has none: one itemgetter call (a C loop, faster than
    map(get)) when every symbol is there, as in most accounts."""
    if n > 1 and len(by_symbol) >= n:
        try:
            return list(itemgetter(*symbols)(by_symbol))
        except KeyError:
            pass  # a symbol without an entry: the zeros below
    return list(map(by_symbol.get, symbols, repeat(ZERO, n)))


def plan_many(
    pairs: Iterable[tuple[Desired, Observation]],
    costs: CostModel,
    limits: QuoteLimits = NO_LIMITS,
    references: Mapping[str, Decimal] | None = None,
) -> list[PortfolioPlan]:
    """Plan many portfolios; the batch form `make_plan` and the benchmark share.

    The cyclic garbage collector is paused for the batch: planning allocates millions of small acyclic objects
    that are all kept, and each collection would rescan them to find nothing (measured: about 40% of the
    time).
    """
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        with localcontext(PLAN_CONTEXT):
            unit = costs.unit_costs()
            refs = references or {}
            return [
                _referenced(_plan_portfolio(desired, obs, unit, limits, refs), desired, obs, references)
                for desired, obs in pairs
            ]
    finally:
        if was_enabled:
            gc.enable()
