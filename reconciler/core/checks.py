"""The built-in checks, in one registry: each one's name (what its denials carry in plans, journals and output),
the phases it runs in, its enforcement level, the `policies.params` it reads, and its plan-time verdicts. Pure.

Plan iterates the registry for every portfolio (execution.planning.plan_verdicts), before the Rego policies; apply
derives those verdicts again from the plan's own observation and compares (execution.judge), and judges each
check declaring the apply phase again on what it sends: valuation on the fresh observation (execution.executor),
order size on each order as it is sent (execution.gate). docs/policies.md lists them beside the Rego policies,
and a test keeps that list, and the phases, in step with this registry.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Literal

from reconciler.core.models import Level, PolicyResult, PortfolioPlan
from reconciler.core.order_size import ORDER_SIZE_POLICY, SizeLimits, order_size_denials
from reconciler.core.valuation import VALUATION_POLICY, valuation_denials

Phase = Literal["plan", "apply"]


@dataclass(frozen=True)
class CheckInput:
    """What a built-in check reads besides the portfolio's plan."""

    size_limits: SizeLimits = field(default_factory=SizeLimits)
    floors: Mapping[str, Decimal] = field(default_factory=dict)  # the portfolio's min_price floors


@dataclass(frozen=True)
class BuiltinCheck:
    """One built-in check. Hard-mandatory, never overridable: a configured policy cannot turn it off."""

    name: str
    phases: tuple[Phase, ...]
    parameters: tuple[str, ...]  # the fields of policies.params it reads
    summary: str
    verdicts: Callable[[PortfolioPlan, CheckInput], list[PolicyResult]]
    level: Level = "hard-mandatory"
    # A denial about the market (a doubtful quote, a size only a wrong quote explains), not about the change: it
    # stops its own portfolio only, and the other portfolios of the plan go on (execution.preflight.admitted).
    market: bool = True


def _valuation(pp: PortfolioPlan, given: CheckInput) -> list[PolicyResult]:
    return valuation_denials(pp.name, pp.blocked)


def _order_size(pp: PortfolioPlan, given: CheckInput) -> list[PolicyResult]:
    return order_size_denials(pp, given.size_limits, given.floors)


BUILTIN_CHECKS: tuple[BuiltinCheck, ...] = (
    BuiltinCheck(
        VALUATION_POLICY, ("plan", "apply"),
        ("max_quote_age_seconds", "kill_switch_drop", "corroboration_band", "max_fill_ratio"),
        "every held or targeted symbol's quote is positive, fresh, not moved beyond the kill-switch drop and"
        " corroborated; else its portfolio gets no orders", _valuation,
    ),
    BuiltinCheck(
        ORDER_SIZE_POLICY, ("plan", "apply"), ("max_volume_fraction", "max_target_multiple"),
        "no sell above the position, no buy above the equity or a price the quote does not set, no order above a"
        " share of the daily volume or a multiple of the target quantity", _order_size,
    ),
)
MARKET_CHECKS = frozenset(c.name for c in BUILTIN_CHECKS if c.market)  # their denials stop one portfolio


def builtin_verdicts(pp: PortfolioPlan, given: CheckInput) -> list[PolicyResult]:
    """Every built-in check's plan-time verdicts on one portfolio's plan, in registry order."""
    return [r for check in BUILTIN_CHECKS if "plan" in check.phases for r in check.verdicts(pp, given)]
