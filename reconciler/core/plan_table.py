"""The planner's before/after table: one account's holdings, weights and bands as the legs read them, and the
PortfolioPlan rows built from them once the orders are known (or without orders, for a blocked account).

Split from core.planner, which decides the orders; this module only lays them out. Pure.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from itertools import repeat
from operator import mul
from typing import Literal

from reconciler.core.holding_rows import HoldingRows
from reconciler.core.models import Action, Desired, Observation, PortfolioPlan
from reconciler.core.numbers import ONE, ZERO
from reconciler.core.rules import Bands, SymbolRule


def band_for(target: Decimal, bands: Bands) -> Decimal:
    """The tighter of the absolute band and the relative band around a target weight."""
    absolute, relative = bands.absolute, bands.relative
    if relative is not None and target > 0:
        rel = relative * target
        return rel if absolute is None or rel < absolute else absolute
    return absolute if absolute is not None else ZERO


def bands_of(targets: list[Decimal], bands: Bands, has_zero: bool | None = None) -> list[Decimal]:
    """band_for over many targets, with the branch on which bands are set taken once (hot path); `has_zero` is
    `ZERO in targets` when the caller knows it already."""
    absolute, relative = bands.absolute, bands.relative
    if relative is None:
        return [absolute if absolute is not None else ZERO] * len(targets)
    fallback = absolute if absolute is not None else ZERO
    if ZERO in targets if has_zero is None else has_zero:
        if absolute is None:
            return [relative * t if t > 0 else fallback for t in targets]
        return [min(relative * t, absolute) if t > 0 else absolute for t in targets]
    # Every target positive (weights are never negative): the same values, in C loops. min(r, absolute) is
    # `absolute if absolute < r else r`, which is r throughout when no r exceeds absolute (the common case). t
    # * relative is relative * t (Decimal multiplication is exact, then rounded once): map(mul) skips the
    # bound method's wrapper.
    relative_of = list(map(mul, targets, repeat(relative, len(targets))))
    if absolute is None or not relative_of or max(relative_of) <= absolute:
        return relative_of
    return [absolute if absolute < r else r for r in relative_of]


def _label(rule: SymbolRule | None) -> Literal["", "hold", "do_not_trade"]:
    if rule is None:
        return ""  # no rule: the holding is neither held nor untradeable
    return "do_not_trade" if rule.do_not_trade else ("hold" if rule.hold else "")


@dataclass(frozen=True, slots=True)
class Table:
    """One account as the planner sees it: the before/after table's inputs, which the legs read.

    The lists run in parallel, one entry per symbol of `symbols`; `cash` is the cash there is (settled and
    unsettled), and `equity` is `sum(values, ZERO) + cash`, computed so (assemble reuses it when nothing
    trades). With no orders it is a whole plan already (`assemble(table, notes)`).
    """

    desired: Desired
    obs: Observation
    symbols: list[str]
    prices: list[Decimal]
    held: list[Decimal]
    values: list[Decimal]
    targets: list[Decimal]
    bands: list[Decimal]
    equity: Decimal
    weights: list[Decimal]
    cash: Decimal
    inv: Decimal | None = None  # 1 / equity, when `weights` are values times it


def blocked_plan(
    desired: Desired, obs: Observation, symbols: list[str], positions: dict[str, Decimal], doubts: list[str],
    why: str = "not traded: a quote that values this account is doubtful",
) -> PortfolioPlan:
    """No orders: the holdings as observed, valued only by the quotes that can be trusted, and why."""
    prices = []
    for s in symbols:
        q = obs.quotes.get(s)
        prices.append(q.price if q is not None and q.price.is_finite() and q.price > 0 else ZERO)
    held = [positions.get(s, ZERO) for s in symbols]
    values = [q * p for q, p in zip(held, prices, strict=True)]
    tw = [desired.targets.get(s, ZERO) for s in symbols]
    band = bands_of(tw, desired.trading.bands)
    cash_total = obs.cash_settled + obs.cash_unsettled
    equity = sum(values, ZERO) + cash_total
    weights = [v / equity if equity > 0 else ZERO for v in values]
    notes = [f"{why} ({'; '.join(doubts)})"]
    plan = assemble(
        Table(desired, obs, symbols, prices, held, values, tw, band, equity, weights, cash_total), notes
    )
    return plan.model_copy(update={"blocked": doubts})


def assemble(
    table: Table,
    notes: list[str],
    actions: list[Action] | None = None,
    traded: list[int] | None = None,
    cash_after: Decimal | None = None,
) -> PortfolioPlan:
    """The before/after table: the holdings once the orders fill (`traded[k]` is the index in the table's
    symbols of `actions[k]`; `cash_after` the cash they leave), and the cash and weights around them."""
    desired, obs, symbols, prices, held = table.desired, table.obs, table.symbols, table.prices, table.held
    equity, weights = table.equity, table.weights
    actions = actions or []
    if len(actions) != len(traded or []):  # each action names its row; else a planner bug
        raise ValueError(f"{len(actions)} actions for {len(traded or [])} traded rows")
    cash_after = table.cash if cash_after is None else cash_after
    buys = sells = ZERO
    inv = table.inv if table.inv is not None else (ONE / equity if equity > 0 else ZERO)
    if traded:
        after = list(held)
        values_after = list(table.values)
        for i, a in zip(traded, actions, strict=True):
            if a.side == "buy":
                after[i] += a.quantity
                buys += a.notional
            else:
                after[i] -= a.quantity
                sells += a.notional
            values_after[i] = after[i] * prices[i]
        equity_after = sum(values_after, ZERO) + cash_after
        inv_after = ONE / equity_after if equity_after > 0 else ZERO
    else:
        after, values_after = held, table.values  # shared: nothing changes either from here on
        # The same values and cash (the same digits and exponent) sum to the equity itself, which is that sum.
        if cash_after.as_tuple() == table.cash.as_tuple():
            equity_after, inv_after = equity, inv
        else:
            equity_after = sum(values_after, ZERO) + cash_after
            inv_after = ONE / equity_after if equity_after > 0 else ZERO
    rules = desired.symbols
    if not traded and table.inv is not None and inv_after.as_tuple() == table.inv.as_tuple():
        weights_after = weights  # nothing traded and the same inverse: each product would be the same number
    else:
        weights_after = list(map(mul, values_after, repeat(inv_after, len(symbols))))
    # The rows stay columns until something reads them (core.holding_rows): most plans are only sealed.
    labels = [_label(rules.get(s)) for s in symbols] if rules else None
    holdings = HoldingRows(
        symbols, prices, held, after, weights, table.targets, weights_after, table.bands, labels
    )
    cash_before = obs.cash_settled + obs.cash_unsettled
    return portfolio_plan(
        name=desired.name,
        account=desired.account,
        equity=equity,
        cash_before=cash_before,
        cash_after=cash_after,
        cash_weight_before=cash_before * inv,
        cash_weight_target=desired.cash,
        cash_weight_after=cash_after * inv_after,
        buy_notional=buys,
        sell_notional=sells,
        turnover=(buys + sells) * inv,
        actions=actions,
        holdings=holdings,
        notes=notes,
        observation=obs,
        blocked=[],
        references={},
        withdrawal=None,  # set with the references (_referenced): the plan's pending withdrawals
        tax=None,  # set with the references too: core.tax_orders
        lot_mismatches={},  # likewise (core.lot_agreement)
    )


_PLAN_FIELDS = frozenset(PortfolioPlan.model_fields)
_new_plan = PortfolioPlan.__new__
_set = object.__setattr__


def portfolio_plan(**fields: object) -> PortfolioPlan:
    """PortfolioPlan.model_construct given every field: what it ends with, without its lookups of each field's
    aliases and defaults (a third of the time of building a plan's table). A test holds the two equal."""
    if fields.keys() != _PLAN_FIELDS:
        raise TypeError(f"a portfolio plan is built with every field: {sorted(fields.keys() ^ _PLAN_FIELDS)}")
    plan = _new_plan(PortfolioPlan)
    _set(plan, "__dict__", fields)
    _set(plan, "__pydantic_fields_set__", set(_PLAN_FIELDS))
    _set(plan, "__pydantic_extra__", None)
    _set(plan, "__pydantic_private__", None)
    return plan
