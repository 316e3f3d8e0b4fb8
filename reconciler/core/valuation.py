"""Whether an observation's quotes can value an account. Pure.

Every quote of a symbol the account holds or targets prices the equity, and the equity sizes every order: one
wrong quote (zero, stale, a flash crash) turns the rest of the account "overweight" and sells it. So a doubtful
quote for any of those symbols blocks the whole portfolio, not only orders in that symbol.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from decimal import Decimal
from operator import attrgetter, itemgetter

from reconciler.core.models import Observation, PolicyResult, Quote

VALUATION_POLICY = "valuation"  # the name the built-in check's denials carry in plans, journals and output


@dataclass(frozen=True)
class QuoteLimits:
    """Bounds beyond which a quote is doubtful; None turns a bound off (missing, zero, negative and non-finite
    quotes are refused whatever the limits)."""

    max_age_seconds: int | None = None
    max_move: Decimal | None = None  # fraction of the previous close, either way


NO_LIMITS = QuoteLimits()


def doubtful_quote(quote: Quote | None, taken_at_seconds: float | None, limits: QuoteLimits) -> str | None:
    """Why one quote cannot price a holding, or None when it can. `taken_at_seconds` is the observation's time
    as a POSIX timestamp; the quote's age is measured from there, not from whenever the check runs."""
    if quote is None:
        return "no quote"
    price = quote.price
    if not price.is_finite():
        return f"quote is {price}, not a number"
    if price <= 0:
        return f"quote is {price}: a price must be positive"
    if limits.max_age_seconds is not None and taken_at_seconds is not None:
        age = taken_at_seconds - quote.as_of.timestamp()
        if age > limits.max_age_seconds:
            return f"quote is {age:.0f}s old (limit {limits.max_age_seconds}s)"
        if -age > limits.max_age_seconds:
            return f"quote is dated {-age:.0f}s after the observation (clock skew beyond {limits.max_age_seconds}s)"
    prev = quote.previous_close
    if limits.max_move is not None and prev is not None:
        if not prev.is_finite() or prev <= 0:
            return f"previous close is {prev}: cannot judge the move"
        move = price / prev - 1
        if abs(move) > limits.max_move:
            return (
                f"quote {price} moved {move:+.1%} from the previous close {prev}, beyond the kill switch"
                f" ({limits.max_move:.1%})"
            )
    return None


def doubtful_quotes(obs: Observation, symbols: Iterable[str], limits: QuoteLimits) -> list[str]:
    """One line per symbol whose quote cannot value the account, in symbol order."""
    taken = obs.taken_at.timestamp()
    out = []
    for symbol in sorted(set(symbols)):
        why = doubtful_quote(obs.quotes.get(symbol), taken, limits)
        if why is not None:
            out.append(f"{symbol}: {why}")
    return out


_price = attrgetter("price")


def sound_prices(obs: Observation, symbols: Sequence[str], limits: QuoteLimits) -> list[Decimal] | None:
    """The prices of `symbols` when no quote of theirs is doubtful (doubtful_quotes finds nothing), else None.

    The planner's hot path: the same rule as doubtful_quote, judged a column at a time (the price checks in C
    loops, the age once per distinct quote time) instead of a call per quote; a test holds the two equal."""
    if not symbols:
        return []
    try:
        chosen = [obs.quotes[symbols[0]]] if len(symbols) == 1 else list(itemgetter(*symbols)(obs.quotes))
    except KeyError:
        return None
    prices = list(map(_price, chosen))
    if not all(map(Decimal.is_finite, prices)) or min(prices) <= 0:
        return None
    if limits.max_age_seconds is not None:
        taken = obs.taken_at.timestamp()
        for when in {q.as_of for q in chosen}:  # a broker's batch of quotes shares a few times
            age = taken - when.timestamp()
            if age > limits.max_age_seconds or -age > limits.max_age_seconds:
                return None
    if limits.max_move is not None:
        for q in chosen:
            if q.previous_close is not None and doubtful_quote(q, None, limits) is not None:
                return None
    return prices


def valued_symbols(targets: Iterable[str], positions: dict[str, Decimal]) -> set[str]:
    """The symbols whose quotes value an account: every target and every non-zero holding."""
    return set(targets) | {s for s, q in positions.items() if q != 0}


def valuation_denials(portfolio: str, doubts: list[str]) -> list[PolicyResult]:
    """The built-in valuation check's verdicts, as hard-mandatory denials: shown, journaled and enforced like a
    policy's, and never overridable."""
    return [
        PolicyResult(policy=VALUATION_POLICY, kind="deny", level="hard-mandatory", portfolio=portfolio, message=d)
        for d in doubts
    ]
