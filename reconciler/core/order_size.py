"""Whether an order's size can be meant. Pure.

A quote can be wrong in a way no price check sees: 0.0001 with a previous close of 0.0001 passes the flash-crash
check and turns a $10,000 buy into 100 million shares. An order's share count is therefore also judged against
facts a wrong price does not change: what the account holds (a sell never exceeds it) and how much of the symbol
trades in a day (where the broker reports it). These are built-in, hard-mandatory checks, like the valuation
check: a configured policy cannot turn them off.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from reconciler.core.models import Action, PolicyResult, PortfolioPlan, Quote

ORDER_SIZE_POLICY = "order_size"  # the name its denials carry in plans, journals and output


@dataclass(frozen=True)
class SizeLimits:
    max_volume_fraction: Decimal | None = None  # of the symbol's daily volume, in units; None: not judged


def oversized(
    action: Action, held: Decimal, equity: Decimal, quote: Quote | None, limits: SizeLimits
) -> str | None:
    """Why this order's size cannot be meant, or None."""
    qty = action.quantity
    if action.side == "sell" and qty > held:
        return f"sell {qty} {action.symbol} is more than the {held} held"
    if action.side == "buy" and equity > 0 and action.notional > equity:
        return f"buy {qty} {action.symbol} ({action.notional:.2f}) is more than the account's equity ({equity:.2f})"
    volume = quote.daily_volume if quote is not None else None
    fraction = limits.max_volume_fraction
    if fraction is not None and volume is not None and volume > 0 and qty > fraction * volume:
        return (
            f"{action.side} {qty} {action.symbol} is {qty / volume:.1%} of its daily volume ({volume}), above"
            f" {fraction:.1%}: is its price ({quote.price if quote else '?'}) right?"
        )
    return None


def order_size_denials(pp: PortfolioPlan, limits: SizeLimits) -> list[PolicyResult]:
    """The built-in order-size check's verdicts on a plan's orders, as hard-mandatory denials."""
    obs = pp.observation
    out = []
    for a in pp.actions:
        why = oversized(a, obs.positions.get(a.symbol, Decimal(0)), pp.equity, obs.quotes.get(a.symbol), limits)
        if why is not None:
            out.append(denial(pp.name, why))
    return out


def denial(portfolio: str, message: str) -> PolicyResult:
    return PolicyResult(
        policy=ORDER_SIZE_POLICY, kind="deny", level="hard-mandatory", portfolio=portfolio, message=message
    )
