"""Whether an observation's quotes can value an account. Pure.

Every quote of a symbol the account holds or targets prices the equity, and the equity sizes every order: one
wrong quote (zero, stale, a flash crash) turns the rest of the account "overweight" and sells it. So a
doubtful quote for any of those symbols blocks the whole portfolio, not only orders in that symbol.

A quote is also doubtful when nothing independent of its price agrees with it (`corroboration_band`): a price
with no previous close passes every move check, and so does one whose previous close is as wrong as it is. It
is believed when its previous close, its bid or ask, or the journal's last fill price of the symbol
(`references`, gathered by the shell) is within the band of it, or when the portfolio sets a floor for the
symbol (`min_price`) and the quote is at or above it. A quote below its floor is doubtful whatever agrees with
it, and so is one more than `max_fill_ratio` times above or below the symbol's last fill: a feed whose
previous close is as wrong as its price vouches for itself, a fill the broker confirmed does not. (The ratio
is wide on purpose: the last fill may be months old, and a portfolio blocked by it would never trade again to
refresh it.)
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal
from operator import attrgetter, itemgetter

from reconciler.core.models import Observation, PolicyResult, Quote
from reconciler.core.rules import SymbolRule

VALUATION_POLICY = "valuation"  # the name the built-in check's denials carry in plans, journals and output
# How far positions x quotes + cash may be from the broker's own equity: the broker values at its last trade
# and we at our feed's, minutes apart, and its cash carries fees not yet posted; a wrong position is far
# beyond.
FIGURES_TOLERANCE = Decimal("0.02")
MIN_FIGURES_SLACK = Decimal(1)


@dataclass(frozen=True)
class QuoteLimits:
    """Bounds beyond which a quote is doubtful; None turns a bound off (missing, zero, negative and non-finite
    quotes are refused whatever the limits)."""

    max_age_seconds: int | None = None
    max_move: Decimal | None = None  # fraction of the previous close, either way
    corroboration_band: Decimal | None = None  # how far an independent price may be from the quote; None: off
    # how many times above or below the last fill a quote may be; None: off
    max_fill_ratio: Decimal | None = None


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
            return (f"quote is dated {-age:.0f}s after the observation (clock skew beyond"
                    f" {limits.max_age_seconds}s)")
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


def uncorroborated(
    quote: Quote, band: Decimal, reference: Decimal | None, floor: Decimal | None,
    max_ratio: Decimal | None = None
) -> str | None:
    """Why nothing independent vouches for this quote's price, or None when something does (module
    docstring)."""
    price = quote.price
    if floor is not None and price < floor:
        return f"quote {price} is below the symbol's floor ({floor}, min_price)"
    far = max_ratio is not None and reference is not None and reference > 0 and (
        price > reference * max_ratio or price * max_ratio < reference
    )
    if far:
        return (
            f"quote {price} is more than {max_ratio} times from the journal's last fill price {reference}"
            " (max_fill_ratio), whatever its previous close says"
        )
    witnesses = (("previous close", quote.previous_close), ("bid", quote.bid), ("ask", quote.ask),
                 ("last fill", reference))
    for _, value in witnesses:
        if value is not None and value.is_finite() and value > 0 and abs(price / value - 1) <= band:
            return None
    if floor is not None:
        return None
    seen = ", ".join(f"{name} {value}" for name, value in witnesses if value is not None)
    return (
        f"quote {price} is not corroborated: no previous close, bid, ask or last fill within {band:.0%} of it"
        f" ({seen or 'none known'}) and no min_price floor for the symbol"
    )


def doubtful_quotes(
    obs: Observation,
    symbols: Iterable[str],
    limits: QuoteLimits,
    references: Mapping[str, Decimal] | None = None,
    floors: Mapping[str, Decimal] | None = None,
) -> list[str]:
    """One line per symbol whose quote cannot value the account, in symbol order. `references` are the
    journal's last fill prices and `floors` the portfolio's min_price per symbol, for corroboration."""
    taken = obs.taken_at.timestamp()
    band = limits.corroboration_band
    refs = references or {}
    lows = floors or {}
    out = []
    for symbol in sorted(set(symbols)):
        q = obs.quotes.get(symbol)
        why = doubtful_quote(q, taken, limits)
        if why is None and band is not None and q is not None:
            why = uncorroborated(q, band, refs.get(symbol), lows.get(symbol), limits.max_fill_ratio)
        if why is not None:
            out.append(f"{symbol}: {why}")
    return out


_price = attrgetter("price")


def sound_prices(
    obs: Observation,
    symbols: Sequence[str],
    limits: QuoteLimits,
    references: Mapping[str, Decimal] | None = None,
    floors: Mapping[str, Decimal] | None = None,
) -> list[Decimal] | None:
    """The prices of `symbols` when no quote of theirs is doubtful (doubtful_quotes finds nothing with the
    same references and floors), else None.

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
    band = limits.corroboration_band
    if band is not None:
        refs = references or {}
        lows = floors or {}
        for symbol, q in zip(symbols, chosen, strict=True):
            if uncorroborated(q, band, refs.get(symbol), lows.get(symbol), limits.max_fill_ratio) is not None:
                return None
    return prices


def floors_of(rules: Mapping[str, SymbolRule]) -> dict[str, Decimal]:
    """The min_price floors a portfolio's symbol rules set."""
    return {s: r.min_price for s, r in rules.items() if r.min_price is not None}


def valued_symbols(targets: Iterable[str], positions: dict[str, Decimal]) -> set[str]:
    """The symbols whose quotes value an account: every target and every non-zero holding."""
    return set(targets) | {s for s, q in positions.items() if q != 0}


def account_doubts(obs: Observation, tolerance: Decimal = FIGURES_TOLERANCE) -> list[str]:
    """Why the account's own figures cannot value it, whatever its quotes say: a cash figure no source vouches
    for is unknown (valuing it at zero would make every holding look overweight and sell it); and positions
    times quotes plus cash must agree with the equity (and long market value) the broker reports for the
    account, within `tolerance` of that equity, or one of the figures is wrong (a position reported 100 times
    too high would plan a sell of many times the real holding)."""
    if obs.cash_untrusted:
        return [f"cash: {obs.cash_untrusted}; the account's value is unknown (its cash is never taken as"
                " zero)"]
    equity = obs.reported_equity
    if equity is None:
        return []
    long_value = Decimal(0)
    for symbol, qty in obs.positions.items():
        q = obs.quotes.get(symbol)
        if qty == 0:
            continue
        if q is None or not q.price.is_finite() or q.price <= 0:
            return []  # a holding without a sound quote: the quote check blocks the portfolio and says which
        long_value += qty * q.price
    slack = max(abs(equity) * tolerance, MIN_FIGURES_SLACK)
    out = []
    computed = long_value + obs.cash_settled + obs.cash_unsettled
    if abs(computed - equity) > slack:
        out.append(
            f"equity: positions times quotes plus cash come to {computed:.2f}, but the broker reports equity"
            f" {equity:.2f} (tolerance {slack:.2f}); a position, a quote or the cash is wrong"
        )
    reported_long = obs.reported_long_value
    if reported_long is not None and abs(long_value - reported_long) > slack:
        out.append(
            f"long market value: positions times quotes come to {long_value:.2f}, but the broker reports"
            f" {reported_long:.2f} (tolerance {slack:.2f}); a position or a quote is wrong"
        )
    return out


def valuation_denials(portfolio: str, doubts: list[str]) -> list[PolicyResult]:
    """The built-in valuation check's verdicts, as hard-mandatory denials: shown, journaled and enforced like
    a policy's, and never overridable."""
    return [
        PolicyResult(
            policy=VALUATION_POLICY, kind="deny", level="hard-mandatory", portfolio=portfolio, message=d
        )
        for d in doubts
    ]
