"""Which orders a change to the targets causes, and which the account's old drift causes. Pure.

A plan trades every portfolio back within its bands, so a pull request that edits two portfolios may show
orders in a third: its holdings drifted since the last apply, and merging trades them too. To tell the two
apart, each portfolio whose targets changed is planned again with the targets of the base commit, on the very
observation, costs and references of the plan: what that counterfactual plan also orders is drift; the rest is
the change's.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Literal

from reconciler.core.models import CostModel, Desired, Plan, PortfolioPlan, Side
from reconciler.core.numbers import ZERO
from reconciler.core.planner import plan_portfolio
from reconciler.core.valuation import NO_LIMITS, QuoteLimits

Kind = Literal["change", "drift", "mixed"]


@dataclass(frozen=True)
class Cause:
    """Why one portfolio trades: `change` (every order comes from the new targets), `drift` (its targets did
    not change: every order would trade without the change), or `mixed` (`drift` holds, per symbol and side,
    the quantity the base targets would trade as well)."""

    kind: Kind
    drift: Mapping[tuple[str, Side], Decimal] = field(default_factory=dict)
    model: str | None = None  # the Model file whose edit changed the targets, when that is where they changed
    source: str | None = None  # the portfolio file, when the change is there
    replanned: bool = False  # the base targets were planned again: "drift" holds all that drift would trade

    def drift_quantity(self, symbol: str, side: Side) -> Decimal:
        """Of an order on `symbol`, the quantity drift alone would trade."""
        return self.drift.get((symbol, side), ZERO)


def causes(
    plan: Plan,
    base: Iterable[Desired] | None,
    current: Iterable[Desired] = (),
    costs: CostModel | None = None,
    limits: QuoteLimits = NO_LIMITS,
) -> dict[str, Cause]:
    """Per portfolio with orders, why it trades. Without the base commit's targets (`base` None) only the
    plan's own target changes say which portfolios changed, and a changed portfolio's orders are all the
    change's."""
    if plan.base_commit is None:
        return {}
    changed = {c.portfolio: c for c in plan.target_changes}
    old = {d.name: d for d in base or ()}
    new = {d.name: d for d in current}
    out: dict[str, Cause] = {}
    for pp in plan.portfolios:
        if not pp.actions:
            continue
        if pp.name not in changed:
            out[pp.name] = Cause(
                "drift", {(a.symbol, a.side): a.quantity for a in pp.actions}, replanned=True
            )
            continue
        was, now = old.get(pp.name), new.get(pp.name)
        model = None
        if was is not None and now is not None and now.model is not None and now.model == was.model:
            # Same Model file before and after: if the weights changed, that file is what the change edited.
            change = changed[pp.name]
            if change.weights or change.cash_before != change.cash_after:
                model = now.model
        source = now.source if now is not None and model is None else None
        if was is None or costs is None or base is None:
            out[pp.name] = Cause("change", model=model, source=source)
            continue
        drift = _common(pp, plan_portfolio(was, pp.observation, costs, limits, pp.references))
        out[pp.name] = Cause(
            "mixed" if drift else "change", drift, model=model, source=source, replanned=True
        )
    return out


def _common(pp: PortfolioPlan, counterfactual: PortfolioPlan) -> dict[tuple[str, Side], Decimal]:
    """Per order of `pp`, the quantity the counterfactual plan orders too (same symbol and side)."""
    theirs: dict[tuple[str, Side], Decimal] = {}
    for a in counterfactual.actions:
        theirs[(a.symbol, a.side)] = theirs.get((a.symbol, a.side), ZERO) + a.quantity
    out = {}
    for a in pp.actions:
        shared = min(a.quantity, theirs.get((a.symbol, a.side), ZERO))
        if shared > 0:
            out[(a.symbol, a.side)] = shared
    return out
