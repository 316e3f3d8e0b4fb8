"""Tax lots and realized gains, shared by the backtester and live planning: each buy opens a lot at its cost
(fill and commission); a sale closes lots in the account's order (FIFO, HIFO, LIFO or `min_tax`); gains are
short-term unless the lot was held more than a year. Tax per calendar year nets short- against long-term
results and carries net losses forward, keeping their character.

`min_tax` closes the lots whose sale costs the least estimated tax first: a lot's gain per share times its
term's rate, so losses go first (a short-term loss saves the short-term rate), then long-term gains, then
short-term ones. That estimate is linear in the quantity taken from each lot, so taking lots greedily in that
order is optimal: no other choice of lots for the same sale realises less estimated tax
(tests/core/test_lots.py checks every vertex).

Simplified on purpose (and said so in docs/backtest.md): no wash-sale rule, no $3,000 offset against income,
no state tax, dividends are inside the adjusted closes and are not taxed separately.
"""

from __future__ import annotations

import heapq
from collections import deque
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal
from itertools import count
from typing import Literal

from reconciler.core.numbers import ZERO

LotMethod = Literal["fifo", "hifo", "lifo", "min_tax"]
LOT_METHODS: tuple[LotMethod, ...] = ("fifo", "hifo", "lifo", "min_tax")


@dataclass(slots=True)
class Lot:
    """Shares bought together at one cost, so a sale's gain and its holding period are exact."""

    acquired: date
    quantity: Decimal
    unit_cost: Decimal


@dataclass(frozen=True, slots=True)
class Rates:
    """Tax rates on realized gains: what a lot's sale is estimated to cost."""

    short_term: Decimal = ZERO
    long_term: Decimal = ZERO


@dataclass(frozen=True, slots=True)
class Closed:
    """One lot's part in a sale: what was taken from it and the gain it realised."""

    acquired: date
    quantity: Decimal
    unit_cost: Decimal
    gain: Decimal
    long_term: bool


@dataclass(slots=True)
class YearTax:
    """One calendar year: realized gains (losses negative) and the tax they cost after netting and carry."""

    short: Decimal = ZERO
    long: Decimal = ZERO
    tax: Decimal = ZERO


def long_term(acquired: date, sold: date) -> bool:
    """Held more than one year: sold after the first anniversary of the purchase (IRS Publication 550)."""
    return (sold.year, sold.month, sold.day) > (acquired.year + 1, acquired.month, acquired.day)


def estimated_tax(closed: Iterable[Closed], rates: Rates) -> Decimal:
    """A sale's estimated tax: each part's gain at its term's rate (a loss counts as tax saved)."""
    return sum((c.gain * (rates.long_term if c.long_term else rates.short_term) for c in closed), ZERO)


def sale_order(
    lots: Sequence[Lot], method: LotMethod, day: date, per_share: Decimal, rates: Rates
) -> list[int]:
    """Indexes of `lots` (given oldest first) in the order a sale on `day` at `per_share` closes them."""
    seq = range(len(lots))
    if method == "fifo":
        return list(seq)
    if method == "lifo":
        return list(reversed(seq))
    if method == "hifo":
        return sorted(seq, key=lambda i: (-lots[i].unit_cost, i))

    def cost(i: int) -> tuple[Decimal, Decimal, int]:
        gain = per_share - lots[i].unit_cost
        rate = rates.long_term if long_term(lots[i].acquired, day) else rates.short_term
        return gain * rate, gain, i  # at equal tax (zero rates), losses and small gains still go first

    return sorted(seq, key=cost)


def allocate(lots: Sequence[Lot], order: Iterable[int], quantity: Decimal) -> list[tuple[int, Decimal]]:
    """(lot index, quantity taken) for a sale of `quantity` closing lots in `order`; short when the lots run
    out."""
    taken: list[tuple[int, Decimal]] = []
    left = quantity
    for i in order:  # once nothing is left, every later take is 0 and skipped
        take = min(lots[i].quantity, left)
        if take > 0:
            taken.append((i, take))
            left -= take
    return taken


def close_lots(
    lots: Sequence[Lot], method: LotMethod, day: date, quantity: Decimal, per_share: Decimal, rates: Rates
) -> list[Closed]:
    """What a sale of `quantity` closes under `method`, without changing `lots`."""
    order = sale_order(lots, method, day, per_share, rates)
    return [
        Closed(lots[i].acquired, take, lots[i].unit_cost, take * (per_share - lots[i].unit_cost),
               long_term(lots[i].acquired, day))
        for i, take in allocate(lots, order, quantity)
    ]


class _Queue:
    """The open lots of one symbol, kept in the order sales consume them: FIFO and min_tax keep purchase order
    (min_tax sorts at each sale, its order depends on the price), LIFO a stack, HIFO a heap."""

    __slots__ = ("heap", "items", "method", "seq")

    def __init__(self, method: LotMethod) -> None:
        self.method = method
        self.items: deque[Lot] = deque()
        # (-unit cost, purchase order, lot): highest cost first
        self.heap: list[tuple[Decimal, int, Lot]] = []
        self.seq = count()

    def push(self, lot: Lot) -> None:
        if self.method == "hifo":
            heapq.heappush(self.heap, (-lot.unit_cost, next(self.seq), lot))
        else:
            self.items.append(lot)

    def first(self) -> Lot | None:
        if self.method == "hifo":
            return self.heap[0][2] if self.heap else None
        if not self.items:
            return None
        return self.items[-1] if self.method == "lifo" else self.items[0]

    def pop(self) -> None:
        if self.method == "hifo":
            heapq.heappop(self.heap)
        elif self.method == "lifo":
            self.items.pop()
        else:
            self.items.popleft()

    def lots(self) -> list[Lot]:
        if self.method == "hifo":
            return sorted((e[2] for e in self.heap), key=lambda lot: lot.acquired)
        return list(self.items)


@dataclass
class TaxBook:
    """Lots per symbol and realized gains per year for one account."""

    method: LotMethod = "fifo"
    short_rate: Decimal = ZERO
    long_rate: Decimal = ZERO
    years: dict[int, YearTax] = field(default_factory=dict)
    carry_short: Decimal = ZERO  # net losses carried into the next year (negative or zero)
    carry_long: Decimal = ZERO
    _open: dict[str, _Queue] = field(default_factory=dict)

    def buy(self, symbol: str, day: date, quantity: Decimal, cost: Decimal) -> None:
        """Open a lot; `cost` is everything paid (fill notional and commission)."""
        queue = self._open.get(symbol)
        if queue is None:
            queue = self._open[symbol] = _Queue(self.method)
        queue.push(Lot(day, quantity, cost / quantity))

    def sell(self, symbol: str, day: date, quantity: Decimal, proceeds: Decimal) -> None:
        """Close lots for a sale; `proceeds` is what the sale raised after commission."""
        queue = self._open.get(symbol)
        per_share = proceeds / quantity
        if queue is not None and queue.method == "min_tax":
            short, long = self._sell_min_tax(queue, day, quantity, per_share)
        else:
            short, long = _sell_in_order(queue, day, quantity, per_share)
        year = self.years.get(day.year)
        if year is None:
            year = self.years[day.year] = YearTax()
        year.short += short
        year.long += long

    def _sell_min_tax(
        self, queue: _Queue, day: date, quantity: Decimal, per_share: Decimal
    ) -> tuple[Decimal, Decimal]:
        lots = list(queue.items)
        order = sale_order(lots, "min_tax", day, per_share, Rates(self.short_rate, self.long_rate))
        short = long = ZERO
        for i, take in allocate(lots, order, quantity):
            lot = lots[i]
            s, lg = _realized(lot, take, day, per_share)
            short, long = short + s, long + lg
            lot.quantity -= take
        queue.items = deque(lot for lot in lots if lot.quantity > 0)
        return short, long

    def close_year(self, year: int) -> Decimal:
        """The tax due for a year's realized gains, after netting and the losses carried in; carries the
        rest."""
        y = self.years.setdefault(year, YearTax())
        short = y.short + self.carry_short
        long = y.long + self.carry_long
        if short < 0 < long:
            long, short = long + short, ZERO
            if long < 0:  # the loss left over was short-term
                short, long = long, ZERO
        elif long < 0 < short:
            short, long = short + long, ZERO
            if short < 0:
                long, short = short, ZERO
        y.tax = max(short, ZERO) * self.short_rate + max(long, ZERO) * self.long_rate
        self.carry_short, self.carry_long = min(short, ZERO), min(long, ZERO)
        return y.tax

    def open_lots(self, symbol: str) -> list[Lot]:
        """The symbol's open lots, oldest first."""
        queue = self._open.get(symbol)
        return [] if queue is None else queue.lots()

    def held(self, symbol: str) -> Decimal:
        """Shares held in open lots: what the positions must equal."""
        return sum((lot.quantity for lot in self.open_lots(symbol)), ZERO)


def _sell_in_order(
    queue: _Queue | None, day: date, quantity: Decimal, per_share: Decimal
) -> tuple[Decimal, Decimal]:
    """Consume the queue's lots front first (FIFO, LIFO, HIFO): (short-term gain, long-term gain)."""
    short = long = ZERO
    if queue is None:
        return short, long
    # _realized inlined, with long_term's test as one date comparison (a backtest sells thousands of times);
    # adding a ZERO part is skipped: both sums start at ZERO, so it would change neither value nor exponent.
    cutoff = long_term_before(day)
    first, pop = queue.first, queue.pop
    left = quantity
    while left > 0:
        lot = first()
        if lot is None:
            break
        take = lot.quantity if lot.quantity <= left else left
        gain = take * (per_share - lot.unit_cost)
        if lot.acquired < cutoff:
            long += gain
        else:
            short += gain
        lot.quantity -= take
        left -= take
        if lot.quantity == 0:
            pop()
    return short, long


def long_term_before(sold: date) -> date:
    """The first purchase day a sale on `sold` does not count as long-term: long_term(acquired, sold) exactly
    when acquired is before it (the same day a year earlier; after 29 February, the 1st of March)."""
    try:
        return date(sold.year - 1, sold.month, sold.day)
    except ValueError:  # 29 February: a lot bought on 28 February a year earlier is held more than a year
        return date(sold.year - 1, 3, 1)


def _realized(lot: Lot, take: Decimal, day: date, per_share: Decimal) -> tuple[Decimal, Decimal]:
    """(short-term gain, long-term gain) of selling `take` units of `lot` on `day` at `per_share`."""
    gain = take * (per_share - lot.unit_cost)
    return (ZERO, gain) if long_term(lot.acquired, day) else (gain, ZERO)
