"""Taxes in the plan, for a portfolio with a `tax:` block: its sells trimmed to the year's budget of realised
gains and lots about to turn long-term held back (core.tax_plan), before the buys are sized; then each sell's
lots, gains and estimated tax, with the portfolio's totals.

Pure. The shell puts the account's lots and the gains realised earlier this year in the observation
(execution.tax_inputs). A symbol whose lots do not add up to the broker's position (a transfer, a corporate
action, a manual trade) gets no figures and is never trimmed: the plan says its figures are unavailable and
nothing guesses. Trimming never leaves a holding further than `tax.hard_band` from its target (never tighter
than the portfolio's own absolute band): a sell's `minimum` is what brings it back within that.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import date
from decimal import ROUND_CEILING, Decimal

from reconciler.core.ledger import HeldLot, mismatches
from reconciler.core.lots import Lot
from reconciler.core.models import Action, Desired, Observation, PortfolioPlan, UnitCosts
from reconciler.core.numbers import ZERO
from reconciler.core.plan_legs import Leg
from reconciler.core.plan_table import Table
from reconciler.core.tax_figures import LotClosed, PortfolioTax, SellTax
from reconciler.core.tax_plan import Sell, sell_tax, trim_sells
from reconciler.core.tax_rules import TaxSettings


def lots_by_symbol(lots: Sequence[HeldLot]) -> dict[str, list[Lot]]:
    """The ledger's lots as the core's lots (unit cost, oldest first), per symbol."""
    out: dict[str, list[Lot]] = {}
    for held in sorted(lots, key=lambda h: (h.symbol, h.acquired)):
        if held.quantity > 0:
            lot = Lot(held.acquired, held.quantity, held.cost_basis / held.quantity)
            out.setdefault(held.symbol, []).append(lot)
    return out


def unavailable(obs: Observation, symbols: Sequence[str]) -> dict[str, str]:
    """Why each of `symbols` has no tax figures: no lots loaded, or lots that disagree with the position."""
    if obs.lots is None:
        return {s: "the account's lots were not loaded" for s in symbols}
    wrong = mismatches(obs.lots, obs.positions)
    return {
        s: f"its lots hold {wrong[s][0]} units and the broker {wrong[s][1]}; fix the ledger"
        f" (`reconciler lots import {obs.account} FILE`)"
        for s in symbols if s in wrong
    }


def hard_band(desired: Desired, tax: TaxSettings) -> Decimal:
    """The most drift taxes may leave a holding at: tax.hard_band, never tighter than the portfolio's own."""
    own = desired.trading.bands.absolute
    return tax.hard_band if own is None or own < tax.hard_band else own


def budget_left(tax: TaxSettings, obs: Observation) -> Decimal | None:
    """What is left of the year's budget of realised gains (None: no budget)."""
    if tax.max_realized_gain is None:
        return None
    return tax.max_realized_gain - (obs.realized_gain or ZERO)


def _up(value: Decimal, step: Decimal) -> Decimal:
    return (value / step).to_integral_value(rounding=ROUND_CEILING) * step


def taxed_leg(table: Table, unit: UnitCosts, leg: Leg, forced: bool) -> Leg:
    """The planner's sells with the tax rules applied (unchanged without a `tax:` block or loaded lots): sells
    trimmed, emptied ones dropped, legs renumbered, proceeds at worst again, and notes saying why. `forced`:
    the sells raise a pending withdrawal's cash, which neither the budget nor the short-term hold may trim."""
    desired, obs = table.desired, table.obs
    tax = desired.tax
    orders, traded, _, notes = leg
    if tax is None or obs.lots is None or not orders:
        return leg
    budget, window = budget_left(tax, obs), tax.avoid_short_term_days
    if forced and (budget is not None or window):
        # A trim would leave the withdrawal short while the plan says it is raised: the money has to be there.
        return (*leg[:3], [*notes, "tax: a pending withdrawal's sells are not trimmed by max_realized_gain or"
                           " avoid_short_term_days: its cash has to be there on the day"])
    day = obs.taken_at.date()
    lots = lots_by_symbol(obs.lots)
    off = unavailable(obs, [a.symbol for a in orders])
    hard = hard_band(desired, tax)
    step = desired.trading.step
    sells: list[Sell] = []
    for a, i in zip(orders, traded, strict=True):
        if a.symbol in off:
            continue
        # The least that brings the holding back within the hard band of its target.
        excess = table.values[i] - (table.targets[i] + hard) * table.equity
        minimum = min(a.quantity, _up(excess / a.price, step)) if excess > 0 else ZERO
        sells.append(Sell(a.symbol, a.quantity, minimum, a.price, step, lots.get(a.symbol, [])))
    if not sells:
        return leg
    kept, tax_notes = trim_sells(sells, tax.lots, tax.rates.rates(), day, budget, window)
    if all(kept[s.symbol] == s.quantity for s in sells) and not tax_notes:
        return leg
    charge = unit.commission.charge
    new_orders: list[Action] = []
    new_traded: list[int] = []
    raised = ZERO
    for a, i in zip(orders, traded, strict=True):
        qty = kept.get(a.symbol, a.quantity)
        if qty <= 0:
            continue
        notional = qty * a.price
        fee = charge(qty, notional * unit.sell_slip)
        # At worst, as the planner's sell leg counts it: the fill a tick down, the commission a step up.
        raised += notional * unit.sell_slip - fee - qty * unit.tick - unit.fee_step
        leg_number = len(new_orders) + 1
        new_orders.append(Action(leg_number, a.symbol, "sell", qty, a.price, notional, fee, a.reason))
        new_traded.append(i)
    if any(kept[s.symbol] < s.quantity for s in sells):
        tax_notes.append(f"tax: a trimmed sell still leaves its holding within {(hard * 100).normalize():f}%"
                         " of its target (the hard limit, tax.hard_band)")
    return new_orders, new_traded, raised if new_orders else ZERO, [*notes, *tax_notes]


def sell_taxes(desired: Desired, obs: Observation, actions: Sequence[Action]) -> PortfolioTax | None:
    """Each sell's lots, gains and estimated tax, and the portfolio's totals (None without a `tax:` block)."""
    tax = desired.tax
    if tax is None:
        return None
    sold = [a for a in actions if a.side == "sell"]
    off = unavailable(obs, [a.symbol for a in sold])
    lots: Mapping[str, list[Lot]] = lots_by_symbol(obs.lots) if obs.lots is not None else {}
    rates = tax.rates.rates()
    day: date = obs.taken_at.date()
    rows: list[SellTax] = []
    for a in sold:
        if a.symbol in off:
            continue
        got = sell_tax(a.symbol, lots.get(a.symbol, []), tax.lots, day, a.quantity, a.price, rates,
                       tax.avoid_short_term_days)
        closed = [LotClosed(acquired=c.acquired, quantity=c.quantity, unit_cost=c.unit_cost, gain=c.gain,
                            long_term=c.long_term) for c in got.closed]
        rows.append(SellTax(leg=a.leg, symbol=a.symbol, quantity=a.quantity, lots=closed,
                            short_term_gain=got.short_gain, long_term_gain=got.long_gain, tax=got.tax))
    return PortfolioTax(
        method=tax.lots,
        sells=rows,
        short_term_gain=sum((r.short_term_gain for r in rows), ZERO),
        long_term_gain=sum((r.long_term_gain for r in rows), ZERO),
        tax=sum((r.tax for r in rows), ZERO),
        realized_before=obs.realized_gain,
        max_realized_gain=tax.max_realized_gain,
        unavailable=off,
    )


def with_taxes(pp: PortfolioPlan, desired: Desired, obs: Observation) -> PortfolioPlan:
    """The plan with its tax figures, for a portfolio with a `tax:` block; others as they were."""
    if desired.tax is None:
        return pp
    return pp.model_copy(update={"tax": sell_taxes(desired, obs, pp.actions)})
