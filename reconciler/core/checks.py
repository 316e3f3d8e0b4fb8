"""The built-in checks, in one registry: each one's name (what its denials carry in plans, journals and
output), the phases it runs in, its enforcement level, the `policies.params` it reads (and the field of its
limits each one sets: limits_of), and its plan-time verdicts. Pure.

Two phases. "plan": plan iterates the registry for every portfolio (builtin_verdicts, from
execution.planning), before the Rego policies; apply derives those verdicts again from the plan's own
observation and compares (execution.judge). "send": apply iterates the registry again on what it sends, each
check through its hook: on the portfolio's fresh observation (observation_denials, from execution.executor)
or on each order as it will be sent (order_denials, from execution.gate). A new check is one entry here.
docs/policies.md lists them beside the Rego policies, and tests keep that list, the phases and every call site
in step with this registry (tests/core/test_checks.py, tests/test_check_sites.py).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Literal, TypeVar

from reconciler.core.models import Action, Level, Observation, PolicyResult, PortfolioPlan, Quote
from reconciler.core.order_size import ORDER_SIZE_POLICY, SizeLimits, denial, order_size_denials, oversized
from reconciler.core.valuation import (
    VALUATION_POLICY,
    QuoteLimits,
    account_doubts,
    doubtful_quotes,
    valuation_denials,
)

Phase = Literal["plan", "send"]
L = TypeVar("L")


@dataclass(frozen=True)
class CheckInput:
    """What a built-in check reads besides the portfolio's plan."""

    size_limits: SizeLimits = field(default_factory=SizeLimits)
    floors: Mapping[str, Decimal] = field(default_factory=dict)  # the portfolio's min_price floors


@dataclass(frozen=True)
class ObservedInput:
    """What a send-time check reads of a portfolio's account observed right before its orders."""

    portfolio: str
    obs: Observation
    valued: frozenset[str]  # the symbols that value it: held or targeted
    quote_limits: QuoteLimits
    fills: Mapping[str, Decimal]  # the journal's last fill prices now
    floors: Mapping[str, Decimal]


@dataclass(frozen=True)
class OrderInput:
    """What a send-time check reads of one order as it will be sent (its quantity after shrinking)."""

    portfolio: str
    action: Action  # priced at `quote` when there is one
    quote: Quote | None
    held: Decimal
    equity: Decimal
    size_limits: SizeLimits
    target_weight: Decimal | None
    known_price: Decimal | None  # a price of the symbol the quote does not set (order_size.independent_price)


@dataclass(frozen=True)
class BuiltinCheck:
    """One built-in check. Hard-mandatory, never overridable: a configured policy cannot turn it off."""

    name: str
    phases: tuple[Phase, ...]
    # The policies.params it reads, each with the field of its limits (`limits`) that the parameter sets: the
    # one place a check's parameters are wired (limits_of builds the limits from them).
    parameters: Mapping[str, str]
    summary: str
    verdicts: Callable[[PortfolioPlan, CheckInput], list[PolicyResult]]
    # Its "send" phase: a portfolio's fresh observation, or each order as it will be sent (one, or both).
    on_observation: Callable[[ObservedInput], list[PolicyResult]] | None = None
    on_order: Callable[[OrderInput], list[PolicyResult]] | None = None
    limits: Callable[..., object] | None = None  # the limits its hooks read, built by limits_of
    level: Level = "hard-mandatory"
    # A denial about the market (a doubtful quote, a size only a wrong quote explains), not about the change:
    # it stops its own portfolio only, and the other portfolios of the plan go on
    # (execution.preflight.admitted).
    market: bool = True


def _valuation(pp: PortfolioPlan, given: CheckInput) -> list[PolicyResult]:
    return valuation_denials(pp.name, pp.blocked)


def _order_size(pp: PortfolioPlan, given: CheckInput) -> list[PolicyResult]:
    return order_size_denials(pp, given.size_limits, given.floors)


def _valuation_observed(given: ObservedInput) -> list[PolicyResult]:
    obs = given.obs
    doubts = doubtful_quotes(obs, given.valued, given.quote_limits, given.fills, given.floors)
    doubts = doubts or account_doubts(obs)
    return valuation_denials(given.portfolio, doubts)


def _order_size_sent(given: OrderInput) -> list[PolicyResult]:
    why = oversized(given.action, given.held, given.equity, given.quote, given.size_limits,
                    target_weight=given.target_weight, known_price=given.known_price)
    return [] if why is None else [denial(given.portfolio, why)]


BUILTIN_CHECKS: tuple[BuiltinCheck, ...] = (
    BuiltinCheck(
        VALUATION_POLICY, ("plan", "send"),
        {"max_quote_age_seconds": "max_age_seconds", "kill_switch_drop": "max_move",
         "corroboration_band": "corroboration_band", "max_fill_ratio": "max_fill_ratio"},
        "every held or targeted symbol's quote is positive, fresh, not moved beyond the kill-switch drop and"
        " corroborated; else its portfolio gets no orders", _valuation, on_observation=_valuation_observed,
        limits=QuoteLimits,
    ),
    BuiltinCheck(
        ORDER_SIZE_POLICY, ("plan", "send"),
        {"max_volume_fraction": "max_volume_fraction", "max_target_multiple": "max_target_multiple"},
        "no sell above the position, no buy above the equity or a price the quote does not set, no order"
        " above a share of the daily volume or a multiple of the target quantity", _order_size,
        on_order=_order_size_sent, limits=SizeLimits,
    ),
)
MARKET_CHECKS = frozenset(c.name for c in BUILTIN_CHECKS if c.market)  # their denials stop one portfolio


def limits_of(limits: Callable[..., L], params: object) -> L:
    """The limits of the check whose registry entry builds `limits`, each field from the `policies.params`
    field its entry declares (so a check's parameter is wired in its entry alone)."""
    (check,) = [c for c in BUILTIN_CHECKS if c.limits is limits]
    return limits(**{field: getattr(params, name) for name, field in check.parameters.items()})


def builtin_verdicts(pp: PortfolioPlan, given: CheckInput) -> list[PolicyResult]:
    """Every built-in check's plan-time verdicts on one portfolio's plan, in registry order."""
    return [r for check in BUILTIN_CHECKS if "plan" in check.phases for r in check.verdicts(pp, given)]


def observation_denials(given: ObservedInput) -> list[PolicyResult]:
    """Every send-phase check's denials of a portfolio's fresh observation, in registry order."""
    hooks = [c.on_observation for c in BUILTIN_CHECKS if "send" in c.phases and c.on_observation]
    return [r for hook in hooks for r in hook(given)]


def order_denials(given: OrderInput) -> list[PolicyResult]:
    """Every send-phase check's denials of one order as it will be sent, in registry order: any stops it."""
    hooks = [c.on_order for c in BUILTIN_CHECKS if "send" in c.phases and c.on_order]
    return [r for hook in hooks for r in hook(given)]
