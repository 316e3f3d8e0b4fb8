"""Whether an order's size can be meant. Pure.

A quote can be wrong in a way no price check sees: 0.0001 with a previous close of 0.0001 passes the
flash-crash check and turns a $10,000 buy into 100 million shares. An order's share count is therefore also
judged against facts a wrong price does not change: what the account holds (a sell never exceeds it) and how
much of the symbol trades in a day (where the broker reports it). Volume is often unknown, so a buy is also
judged against prices the quote does not set: it never takes more units than the account's equity buys at an
independently known price (the journal's last fill price of the symbol, or the portfolio's min_price floor for
it), nor more than `max_target_multiple` times the symbol's whole target quantity at its previous close. These
are built-in, hard-mandatory checks, like the valuation check: a configured policy cannot turn them off.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal

from reconciler.core.models import Action, PolicyResult, PortfolioPlan, Quote

ORDER_SIZE_POLICY = "order_size"  # the name its denials carry in plans, journals and output


@dataclass(frozen=True)
class SizeLimits:
    """The order-size check's bounds, taken from the policy parameters."""

    max_volume_fraction: Decimal | None = None  # of the symbol's daily volume, in units; None: not judged
    # of the target quantity at the previous close; None: not judged
    max_target_multiple: Decimal | None = None


def oversized(
    action: Action,
    held: Decimal,
    equity: Decimal,
    quote: Quote | None,
    limits: SizeLimits,
    *,
    target_weight: Decimal | None = None,
    known_price: Decimal | None = None,
) -> str | None:
    """Why this order's size cannot be meant, or None. `known_price` is a price of the symbol the quote does
    not set (independent_price); `target_weight` its target weight in the portfolio."""
    qty = action.quantity
    if action.side == "sell" and qty > held:
        return f"sell {qty} {action.symbol} is more than the {held} held"
    if action.side == "buy":
        why = _buy_beyond_known(action, equity, quote, limits, target_weight, known_price)
        if why is not None:
            return why
    volume = quote.daily_volume if quote is not None else None
    fraction = limits.max_volume_fraction
    if fraction is not None and volume is not None and volume > 0 and qty > fraction * volume:
        return (
            f"{action.side} {qty} {action.symbol} is {qty / volume:.1%} of its daily volume ({volume}), above"
            f" {fraction:.1%}: is its price ({quote.price if quote else '?'}) right?"
        )
    return None


def _buy_beyond_known(
    action: Action, equity: Decimal, quote: Quote | None, limits: SizeLimits, target_weight: Decimal | None,
    known_price: Decimal | None,
) -> str | None:
    qty, symbol = action.quantity, action.symbol
    # With no equity (zero, or negative on margin) nothing sizes a buy: any buy is more than the account has.
    if action.notional > equity:
        return f"buy {qty} {symbol} ({action.notional:.2f}) is more than the account's equity ({equity:.2f})"
    if known_price is not None and qty * known_price > equity:
        return (
            f"buy {qty} {symbol} would cost {qty * known_price:.2f} at its independently known price"
            f" {known_price} (last fill or min_price), more than the account's equity ({equity:.2f}): is its"
            f" quote ({quote.price if quote else '?'}) right?"
        )
    multiple = limits.max_target_multiple
    prev = quote.previous_close if quote is not None else None
    if (
        multiple is not None
        and target_weight is not None
        and prev is not None
        and prev.is_finite()
        and prev > 0
    ):
        whole = max(target_weight, Decimal(0)) * max(equity, Decimal(0)) / prev
        if qty > multiple * whole:
            return (
                f"buy {qty} {symbol} is more than {multiple} times its whole target quantity at the previous"
                f" close ({whole:.4f} at {prev}): is its quote ({quote.price if quote else '?'}) right?"
            )
    return None


def independent_price(
    symbol: str, references: Mapping[str, Decimal], floors: Mapping[str, Decimal]
) -> Decimal | None:
    """The highest price of the symbol known from outside the quote (its last fill, its min_price floor), or
    None."""
    known = [
        p for p in (references.get(symbol), floors.get(symbol)) if p is not None and p.is_finite() and p > 0
    ]
    return max(known) if known else None


def order_size_denials(
    pp: PortfolioPlan, limits: SizeLimits, floors: Mapping[str, Decimal] | None = None
) -> list[PolicyResult]:
    """The built-in order-size check's verdicts on a plan's orders, as hard-mandatory denials. `floors` are
    the portfolio's min_price floors; the journal's last fill prices are the plan's own `references`."""
    obs = pp.observation
    targets = {h.symbol: h.weight_target for h in pp.holdings}
    lows = floors or {}
    out = []
    for a in pp.actions:
        why = oversized(
            a, obs.positions.get(a.symbol, Decimal(0)), pp.equity, obs.quotes.get(a.symbol), limits,
            target_weight=targets.get(a.symbol), known_price=independent_price(a.symbol, pp.references, lows),
        )
        if why is not None:
            out.append(denial(pp.name, why))
    return out


def denial(portfolio: str, message: str) -> PolicyResult:
    """The order-size check's deny, hard-mandatory, so no override lets an oversized order through."""
    return PolicyResult(
        policy=ORDER_SIZE_POLICY, kind="deny", level="hard-mandatory", portfolio=portfolio, message=message
    )
