"""Tax lots and realized gains: each buy opens a lot at its cost (fill and commission); a sale closes lots in
FIFO or HIFO order; gains are short-term unless the lot was held more than a year. Tax per calendar year nets
short- against long-term results and carries net losses forward, keeping their character.

Simplified on purpose (and said so in docs/backtest.md): no wash-sale rule, no $3,000 offset against income,
no state tax, dividends are inside the adjusted closes and are not taxed separately.
"""

from __future__ import annotations

import heapq
from collections import deque
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal
from itertools import count
from typing import Literal

from reconciler.core.numbers import ZERO

LotMethod = Literal["fifo", "hifo"]


@dataclass(slots=True)
class Lot:
    """Shares bought together at one cost, so a sale's gain and its holding period are exact."""

    acquired: date
    quantity: Decimal
    unit_cost: Decimal


@dataclass(slots=True)
class YearTax:
    """One calendar year: realized gains (losses negative) and the tax they cost after netting and carry."""

    short: Decimal = ZERO
    long: Decimal = ZERO
    tax: Decimal = ZERO


def _long_term(acquired: date, sold: date) -> bool:
    """Held more than one year: sold after the first anniversary of the purchase."""
    return (sold.year, sold.month, sold.day) > (acquired.year + 1, acquired.month, acquired.day)


class _Queue:
    """The open lots of one symbol in the order sales consume them: a deque (FIFO) or a heap (HIFO)."""

    __slots__ = ("fifo", "heap", "items", "seq")

    def __init__(self, fifo: bool) -> None:
        self.fifo = fifo
        self.items: deque[Lot] = deque()
        self.heap: list[tuple[Decimal, int, Lot]] = []  # (-unit cost, purchase order, lot): highest cost first
        self.seq = count()

    def push(self, lot: Lot) -> None:
        if self.fifo:
            self.items.append(lot)
        else:
            heapq.heappush(self.heap, (-lot.unit_cost, next(self.seq), lot))

    def first(self) -> Lot | None:
        if self.fifo:
            return self.items[0] if self.items else None
        return self.heap[0][2] if self.heap else None

    def pop(self) -> None:
        if self.fifo:
            self.items.popleft()
        else:
            heapq.heappop(self.heap)

    def lots(self) -> list[Lot]:
        return list(self.items) if self.fifo else sorted((e[2] for e in self.heap), key=lambda lot: lot.acquired)


@dataclass
class TaxBook:
    """Lots per symbol and realized gains per year for one backtested account."""

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
            queue = self._open[symbol] = _Queue(self.method == "fifo")
        queue.push(Lot(day, quantity, cost / quantity))

    def sell(self, symbol: str, day: date, quantity: Decimal, proceeds: Decimal) -> None:
        """Close lots for a sale; `proceeds` is what the sale raised after commission."""
        queue = self._open.get(symbol)
        per_share = proceeds / quantity
        short = long = ZERO
        left = quantity
        while left > 0 and queue is not None:
            lot = queue.first()
            if lot is None:
                break
            take = lot.quantity if lot.quantity <= left else left
            gain = take * (per_share - lot.unit_cost)
            if _long_term(lot.acquired, day):
                long += gain
            else:
                short += gain
            lot.quantity -= take
            left -= take
            if lot.quantity == 0:
                queue.pop()
        year = self.years.get(day.year)
        if year is None:
            year = self.years[day.year] = YearTax()
        year.short += short
        year.long += long

    def close_year(self, year: int) -> Decimal:
        """The tax due for a year's realized gains, after netting and the losses carried in; carries the rest."""
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
        """The quantity of a symbol still held in open lots, to check the books against the account."""
        return sum((lot.quantity for lot in self.open_lots(symbol)), ZERO)
