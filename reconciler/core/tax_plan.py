"""Tax-aware sells, as a pure step over the planner's sells (not yet wired into `plan`): what each sell's lots
realise and cost, lots about to turn long-term held back, and sells trimmed to the year's budget of realized
gains.

A sell may only shrink down to its `minimum`: the quantity that brings its holding back inside the band's hard
limit, which the caller states. Trimming drops the units that realise the most gain per unit first, across all
sells, so the budget costs as little drift as it can; units sold at a loss are never dropped (they lower the
total).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, timedelta
from decimal import ROUND_CEILING, Decimal

from reconciler.core.lots import Closed, Lot, LotMethod, Rates, close_lots, estimated_tax, long_term
from reconciler.core.numbers import ZERO


@dataclass(frozen=True, slots=True)
class Sell:
    """One sell the planner wants: its quantity, the least it may shrink to, and the symbol's lots (oldest
    first)."""

    symbol: str
    quantity: Decimal
    minimum: Decimal
    price: Decimal
    step: Decimal
    lots: Sequence[Lot]


@dataclass(frozen=True, slots=True)
class SellTax:
    """What a sell closes and realises: the plan shows it per sell and totals it per portfolio."""

    symbol: str
    quantity: Decimal
    closed: tuple[Closed, ...]
    short_gain: Decimal
    long_gain: Decimal
    tax: Decimal


def _soon_long(lot: Lot, day: date, price: Decimal, window_days: int) -> bool:
    later = day + timedelta(days=window_days)
    return price > lot.unit_cost and not long_term(lot.acquired, day) and long_term(lot.acquired, later)


def closes(lots: Sequence[Lot], method: LotMethod, day: date, quantity: Decimal, price: Decimal, rates: Rates,
           window_days: int = 0) -> list[Closed]:
    """The lots a sell closes under the account's method, lots with a gain that turn long-term within
    `window_days` taken only when the others run out."""
    soon = [lot for lot in lots if _soon_long(lot, day, price, window_days)]  # none when the window is 0
    first = close_lots([lot for lot in lots if lot not in soon], method, day, quantity, price, rates)
    left = quantity - sum((c.quantity for c in first), ZERO)
    return first + close_lots(soon, method, day, left, price, rates)  # nothing when nothing is left


def sell_tax(
    symbol: str,
    lots: Sequence[Lot],
    method: LotMethod,
    day: date,
    quantity: Decimal,
    price: Decimal,
    rates: Rates,
    window_days: int = 0,
) -> SellTax:
    """What a sell closes, its short- and long-term gains and estimated tax: what the plan shows per sell."""
    closed = tuple(closes(lots, method, day, quantity, price, rates, window_days))
    short = sum((c.gain for c in closed if not c.long_term), ZERO)
    long = sum((c.gain for c in closed if c.long_term), ZERO)
    return SellTax(symbol, quantity, closed, short, long, estimated_tax(closed, rates))


def held_back(lots: Sequence[Lot], day: date, price: Decimal, window_days: int) -> Decimal:
    """Units of lots with a gain that turn long-term within `window_days` of `day`: a sale now would pay the
    short-term rate on a gain that waiting would tax at the long-term one."""
    return sum((lot.quantity for lot in lots if _soon_long(lot, day, price, window_days)), ZERO)


def _down(value: Decimal, step: Decimal) -> Decimal:
    return (value / step).to_integral_value(rounding="ROUND_FLOOR") * step


def _up(value: Decimal, step: Decimal) -> Decimal:
    return (value / step).to_integral_value(rounding=ROUND_CEILING) * step


def _gain(s: Sell, method: LotMethod, rates: Rates, day: date, quantity: Decimal,
          window_days: int) -> Decimal:
    return sum((c.gain for c in closes(s.lots, method, day, quantity, s.price, rates, window_days)), ZERO)


def _boundaries(s: Sell, method: LotMethod, rates: Rates, day: date, quantity: Decimal,
                window_days: int) -> list[Decimal]:
    """The quantities below `quantity` where the sell stops taking one of its lots (on its step, never under
    its minimum): the lots a smaller sell closes are a prefix of those a larger one closes."""
    out: set[Decimal] = set()
    left = quantity
    for c in reversed(closes(s.lots, method, day, quantity, s.price, rates, window_days)):
        left -= c.quantity
        q = max(_up(left, s.step), s.minimum)
        if q < quantity:
            out.add(q)
    return sorted(out)


def _least_drop(s: Sell, method: LotMethod, rates: Rates, day: date, quantity: Decimal, floor: Decimal,
                excess: Decimal, window_days: int) -> tuple[Decimal, Decimal]:
    """A quantity in [floor, quantity) on the sell's step that lowers the gain by at least `excess` (floor
    does), dropping as few units as the search finds, and the gain it lowers."""
    now = _gain(s, method, rates, day, quantity, window_days)
    lo, hi = 0, int(_down(quantity - floor, s.step) / s.step)  # lo: floor + lo*step lowers enough
    while hi - lo > 1:
        mid = (lo + hi) // 2
        if now - _gain(s, method, rates, day, floor + mid * s.step, window_days) >= excess:
            lo = mid
        else:
            hi = mid
    q = floor + lo * s.step
    return q, now - _gain(s, method, rates, day, q, window_days)


def trim_sells(sells: Sequence[Sell], method: LotMethod, rates: Rates, day: date, budget: Decimal | None,
               window_days: int = 0) -> tuple[dict[str, Decimal], list[str]]:
    """Each sell's quantity after holding back lots near their first anniversary and keeping the net realized
    gain within `budget` (None: no budget), never below its minimum; and the notes that say what changed."""
    notes: list[str] = []
    kept: dict[str, Decimal] = {}
    for s in sells:
        held = held_back(s.lots, day, s.price, window_days)
        sellable = _down(sum((lot.quantity for lot in s.lots), ZERO) - held, s.step)
        quantity = max(min(s.quantity, sellable), s.minimum) if held > 0 else s.quantity
        if quantity < s.quantity:
            notes.append(f"{s.symbol}: sells {quantity} instead of {s.quantity}, holding {held} units that"
                         f" turn long-term within {window_days} days")
        kept[s.symbol] = quantity
    if budget is None:
        return kept, notes
    total = sum((_gain(s, method, rates, day, kept[s.symbol], window_days) for s in sells), ZERO)
    excess = total - budget
    if excess <= 0:
        return kept, notes
    while excess > 0:
        # A sell gives up its last-taken units first (a loss among them raises the gain), so each step drops
        # the tail of one sell, down to one of its lot boundaries, that lowers the gain most per unit dropped.
        best: tuple[Decimal, Sell, Decimal, Decimal] | None = None
        for s in sells:
            now = _gain(s, method, rates, day, kept[s.symbol], window_days)
            for q in _boundaries(s, method, rates, day, kept[s.symbol], window_days):
                lower = now - _gain(s, method, rates, day, q, window_days)
                if lower > 0 and (best is None or lower / (kept[s.symbol] - q) > best[0]):
                    best = (lower / (kept[s.symbol] - q), s, q, lower)
        if best is None:
            break
        _, s, q, lower = best
        if lower > excess:
            q, lower = _least_drop(s, method, rates, day, kept[s.symbol], q, excess, window_days)
        kept[s.symbol] = q
        excess -= lower
    trimmed = [f"{s.symbol} {s.quantity} → {kept[s.symbol]}" for s in sells if kept[s.symbol] < s.quantity]
    if trimmed:
        notes.append(f"tax budget: sells trimmed ({', '.join(trimmed)}) to keep realized gains within the"
                     f" {budget}"
                     " left this year; their holdings drift further, up to their band's hard limit")
    if excess > 0:
        notes.append(f"tax budget: realized gains exceed the {budget} left this year by {excess}: the sells"
                     " are at"
                     " the least that brings each holding within its band's hard limit")
    return kept, notes
