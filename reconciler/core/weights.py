"""Current weights of an account, rounded so they sum to exactly 1 (what `reconciler import` writes). Pure."""

from __future__ import annotations

from decimal import ROUND_FLOOR, Decimal

from reconciler.core.models import Observation
from reconciler.core.numbers import ZERO
from reconciler.errors import PlanningError

CASH = "cash"


def holdings_values(obs: Observation) -> tuple[dict[str, Decimal], Decimal]:
    """Value of each position at its quote, and total cash (settled and unsettled)."""
    missing = sorted(s for s, q in obs.positions.items() if q != 0 and s not in obs.quotes)
    if missing:
        raise PlanningError(
            f"no quote for {', '.join(missing)}", where=f"account {obs.account}",
            fix="the broker must quote every held symbol; check the symbols or the price source",
        )
    values = {s: q * obs.quotes[s].price for s, q in obs.positions.items() if q != 0}
    return values, obs.cash_settled + obs.cash_unsettled


def round_weights(
    values: dict[str, Decimal], cash: Decimal, step: Decimal
) -> tuple[dict[str, Decimal], Decimal]:
    """Weights in multiples of `step` that sum to exactly 1 (largest remainder), with cash as one more line.

    Every held symbol keeps at least one step: a target of 0 would mean "sell it all".
    """
    total = sum(values.values(), ZERO) + cash
    if total <= 0:
        raise ValueError("nothing to weigh: no holdings and no cash")
    if step <= 0 or step > 1 or (1 / step) != (1 / step).to_integral_value():
        raise ValueError("step must divide 1 (0.01, 0.001, 0.0001 ...)")
    units = int(1 / step)
    lines = {**{s: v for s, v in values.items() if v > 0}, CASH: max(cash, ZERO)}
    exact = {k: v / total * units for k, v in lines.items()}
    floors = {k: int(x.to_integral_value(rounding=ROUND_FLOOR)) for k, x in exact.items()}
    for k in floors:
        if k != CASH and floors[k] == 0:
            floors[k] = 1
    left = units - sum(floors.values())
    # Hand out the remaining units by largest remainder (ties by name, for stable output) ...
    by_remainder = sorted(exact, key=lambda k: (exact[k] - floors[k], k), reverse=True)
    for k in by_remainder[:max(left, 0)]:
        floors[k] += 1
    # ... or, when minimum steps overshot, take them back from the largest lines.
    while left < 0:
        k = max(floors, key=lambda k: (floors[k], k))
        if floors[k] <= 1:
            raise ValueError(f"{len(values)} holdings do not fit in steps of {step}; use a finer step")
        floors[k] -= 1
        left += 1
    weights = {k: (Decimal(n) * step).normalize() for k, n in floors.items()}
    cash_weight = weights.pop(CASH)
    return dict(sorted(weights.items())), cash_weight
