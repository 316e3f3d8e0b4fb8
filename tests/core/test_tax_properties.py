"""The money rules of taxable accounts, as properties over generated cases: a book's lots always account for
the shares and the cost paid, `min_tax` is never beaten by any other choice of shares, a sale closes only
what is held at the basis it was bought at, and trimming to a tax budget keeps each sell's minimum."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date, timedelta
from decimal import Decimal as D
from itertools import product

from hypothesis import assume, given
from hypothesis import strategies as st

from reconciler.core.ledger import HeldLot, mismatches
from reconciler.core.lots import LOT_METHODS, Closed, Lot, LotMethod, Rates, TaxBook, close_lots, long_term
from reconciler.core.tax_plan import Sell, closes, trim_sells

SOLD = date(2025, 6, 3)
ZERO = D(0)

methods = st.sampled_from(LOT_METHODS)
cents = st.integers(1, 30_000).map(lambda n: D(n) / 100)
rate = st.integers(0, 50).map(lambda n: D(n) / 100)
day = st.integers(0, 1200).map(lambda n: SOLD - timedelta(days=n))
lot = st.builds(Lot, acquired=day, quantity=st.integers(1, 6).map(D), unit_cost=cents)


# --- a book: buys and sells in any order, under every method ------------------------------------------------

trade = st.tuples(st.sampled_from(["buy", "sell"]), st.sampled_from(["A", "B"]), st.integers(1, 9), cents)


@given(method=methods, trades=st.lists(trade, max_size=30), short=rate, long=rate)
def test_a_books_lots_always_sum_to_its_positions(
    method: LotMethod, trades: list[tuple[str, str, int, D]], short: D, long: D
) -> None:
    """Positions are what was bought less what was sold; the lots, whatever the method, say the same: the
    ledger's check against the broker finds nothing to report."""
    book = TaxBook(method=method, short_rate=short, long_rate=long)
    positions: dict[str, D] = {}
    for n, (side, symbol, units, price) in enumerate(trades):
        held = positions.get(symbol, ZERO)
        quantity = D(units) if side == "buy" else min(D(units), held)
        if quantity == 0:
            continue
        when = SOLD - timedelta(days=700 - 20 * n)
        if side == "buy":
            book.buy(symbol, when, quantity, quantity * price)
            positions[symbol] = held + quantity
        else:
            book.sell(symbol, when, quantity, quantity * price)
            positions[symbol] = held - quantity
    ledger = [HeldLot(s, x.acquired, x.quantity, x.quantity * x.unit_cost)
              for s in ("A", "B") for x in book.open_lots(s)]
    assert mismatches(ledger, positions) == {}


@given(method=methods, lots=st.lists(lot, min_size=1, max_size=6), price=cents, data=st.data())
def test_a_book_neither_loses_nor_invents_cost_basis(
    method: LotMethod, lots: list[Lot], price: D, data: st.DataObject
) -> None:
    """What was paid is either still in the open lots or was set against a sale's proceeds: cost paid ==
    basis left + proceeds - realized gain, to the cent (the numbers are exact decimals)."""
    book = TaxBook(method=method, short_rate=D("0.35"), long_rate=D("0.15"))
    paid = ZERO
    for x in sorted(lots, key=lambda x: x.acquired):
        book.buy("A", x.acquired, x.quantity, x.quantity * x.unit_cost)
        paid += x.quantity * x.unit_cost
    held = sum((x.quantity for x in lots), ZERO)
    sold = D(data.draw(st.integers(1, int(held))))
    book.sell("A", SOLD, sold, sold * price)
    left = sum((x.quantity * x.unit_cost for x in book.open_lots("A")), ZERO)
    realized = book.years[SOLD.year].short + book.years[SOLD.year].long
    assert paid == left + sold * price - realized


@given(method=methods, lots=st.lists(lot, min_size=1, max_size=6), price=cents, data=st.data())
def test_a_book_and_close_lots_close_the_same_shares(
    method: LotMethod, lots: list[Lot], price: D, data: st.DataObject
) -> None:
    """The backtester's book and the planner's `close_lots` are one rule: the same sale realises the same
    short- and long-term gains in both."""
    rates = Rates(D("0.35"), D("0.15"))
    lots = sorted(lots, key=lambda x: x.acquired)
    book = TaxBook(method=method, short_rate=rates.short_term, long_rate=rates.long_term)
    for x in lots:
        book.buy("A", x.acquired, x.quantity, x.quantity * x.unit_cost)
    sold = D(data.draw(st.integers(1, int(sum(x.quantity for x in lots)))))
    closed = close_lots(lots, method, SOLD, sold, price, rates)
    book.sell("A", SOLD, sold, sold * price)
    expected = (sum((c.gain for c in closed if not c.long_term), ZERO),
                sum((c.gain for c in closed if c.long_term), ZERO))
    assert (book.years[SOLD.year].short, book.years[SOLD.year].long) == expected


# --- min_tax against every choice of shares -----------------------------------------------------------------

small_lot = st.builds(Lot, acquired=day, quantity=st.integers(1, 3).map(D), unit_cost=cents)


def _choices(lots: list[Lot], quantity: int) -> Iterator[tuple[int, ...]]:
    """Every way to take `quantity` whole shares from `lots`: not only whole lots in some order."""
    for takes in product(*(range(int(x.quantity) + 1) for x in lots)):
        if sum(takes) == quantity:
            yield takes


@given(lots=st.lists(small_lot, min_size=1, max_size=4), price=cents, short=rate, long=rate, data=st.data())
def test_no_choice_of_shares_realises_less_tax_than_min_tax(
    lots: list[Lot], price: D, short: D, long: D, data: st.DataObject
) -> None:
    """Brute force over every split of the sale across the lots (tests/core/test_lots.py tries whole-lot
    orders; this one does not lean on the tax being linear)."""
    quantity = data.draw(st.integers(1, int(sum(x.quantity for x in lots))))
    rates = Rates(short, long)

    def tax(takes: tuple[int, ...]) -> D:
        return sum((t * (price - x.unit_cost) * (long if long_term(x.acquired, SOLD) else short)
                    for t, x in zip(takes, lots, strict=True)), ZERO)

    closed = close_lots(lots, "min_tax", SOLD, D(quantity), price, rates)
    chosen = sum((c.gain * (long if c.long_term else short) for c in closed), ZERO)
    assert chosen == min(tax(takes) for takes in _choices(lots, quantity))


@given(lots=st.lists(small_lot, min_size=1, max_size=4), price=cents, short=rate, long=rate, data=st.data())
def test_a_min_tax_book_realises_the_least_tax_any_choice_could(
    lots: list[Lot], price: D, short: D, long: D, data: st.DataObject
) -> None:
    lots = sorted(lots, key=lambda x: x.acquired)
    quantity = data.draw(st.integers(1, int(sum(x.quantity for x in lots))))
    book = TaxBook(method="min_tax", short_rate=short, long_rate=long)
    for x in lots:
        book.buy("A", x.acquired, x.quantity, x.quantity * x.unit_cost)
    book.sell("A", SOLD, D(quantity), quantity * price)
    year = book.years[SOLD.year]
    best = min(sum((t * (price - x.unit_cost) * (long if long_term(x.acquired, SOLD) else short)
                    for t, x in zip(takes, lots, strict=True)), ZERO) for takes in _choices(lots, quantity))
    assert year.short * short + year.long * long == best


# --- close_lots: only what is held, at what it cost ---------------------------------------------------------

def _taken_from(lots: list[Lot], closed: list[Closed]) -> list[D]:
    """How much `closed` took from each lot: the parts of lots alike (same date and cost) pooled, then spread
    over those lots in order; a part that names no lot, or takes more than lots alike hold, fails here."""
    wanted: dict[tuple[date, D], D] = {}
    for c in closed:
        wanted[(c.acquired, c.unit_cost)] = wanted.get((c.acquired, c.unit_cost), ZERO) + c.quantity
    taken = [ZERO] * len(lots)
    for i, x in enumerate(lots):
        key = (x.acquired, x.unit_cost)
        take = min(wanted.get(key, ZERO), x.quantity)
        taken[i] = take
        if key in wanted:
            wanted[key] -= take
    assert all(left == 0 for left in wanted.values()), f"parts no lot holds: {wanted}"
    return taken


@given(method=methods, lots=st.lists(lot, max_size=6), quantity=st.integers(1, 40).map(D), price=cents,
       window=st.sampled_from([0, 1, 30, 400]))
def test_a_sale_closes_at_most_what_is_held(
    method: LotMethod, lots: list[Lot], quantity: D, price: D, window: int
) -> None:
    closed = closes(lots, method, SOLD, quantity, price, Rates(D("0.35"), D("0.15")), window)
    held = sum((x.quantity for x in lots), ZERO)
    assert sum((c.quantity for c in closed), ZERO) == min(quantity, held)


@given(method=methods, lots=st.lists(lot, min_size=1, max_size=6), quantity=st.integers(1, 40).map(D),
       price=cents, window=st.sampled_from([0, 1, 30, 400]))
def test_every_part_of_a_sale_comes_from_a_lot_that_holds_it(
    method: LotMethod, lots: list[Lot], quantity: D, price: D, window: int
) -> None:
    """No part is invented: each names a lot's date and cost and, with the lot's other parts, takes no more
    than the lot holds (`_taken_from` finds no lot for a part that breaks this, and fails)."""
    closed = closes(lots, method, SOLD, quantity, price, Rates(D("0.35"), D("0.15")), window)
    taken = _taken_from(lots, closed)
    assert all(t <= x.quantity for t, x in zip(taken, lots, strict=True))


@given(method=methods, lots=st.lists(lot, min_size=1, max_size=6), quantity=st.integers(1, 40).map(D),
       price=cents, window=st.sampled_from([1, 30, 90]))
def test_a_lot_near_its_anniversary_is_closed_only_once_the_others_are_empty(
    method: LotMethod, lots: list[Lot], quantity: D, price: D, window: int
) -> None:
    """With `avoid_short_term_days`, a gaining lot that turns long-term within the window is sold from only
    when every other lot is sold out, whatever the method."""
    closed = closes(lots, method, SOLD, quantity, price, Rates(D("0.35"), D("0.15")), window)
    taken = _taken_from(lots, closed)
    soon = [price > x.unit_cost and not long_term(x.acquired, SOLD)
            and long_term(x.acquired, SOLD + timedelta(days=window)) for x in lots]
    early = any(t > 0 for t, s in zip(taken, soon, strict=True) if s)
    others_left = any(t < x.quantity for t, x, s in zip(taken, lots, soon, strict=True) if not s)
    assert not (early and others_left)


@given(method=methods, lots=st.lists(lot, min_size=1, max_size=6), quantity=st.integers(1, 40).map(D),
       price=cents)
def test_each_part_realises_its_lots_gain_at_its_lots_term(
    method: LotMethod, lots: list[Lot], quantity: D, price: D
) -> None:
    closed = close_lots(lots, method, SOLD, quantity, price, Rates(D("0.35"), D("0.15")))
    assert [(c.gain, c.long_term) for c in closed] == [
        (c.quantity * (price - c.unit_cost), long_term(c.acquired, SOLD)) for c in closed]


@given(method=methods, lots=st.lists(lot, min_size=1, max_size=6), quantity=st.integers(1, 40).map(D),
       price=cents)
def test_close_lots_changes_no_lot(method: LotMethod, lots: list[Lot], quantity: D, price: D) -> None:
    before = [(x.acquired, x.quantity, x.unit_cost) for x in lots]
    close_lots(lots, method, SOLD, quantity, price, Rates(D("0.35"), D("0.15")))
    assert [(x.acquired, x.quantity, x.unit_cost) for x in lots] == before


# --- trimming to a budget -----------------------------------------------------------------------------------

def _sell(symbol: str) -> st.SearchStrategy[Sell]:
    @st.composite
    def build(draw: st.DrawFn) -> Sell:
        lots = draw(st.lists(lot, min_size=1, max_size=4))
        held = int(sum(x.quantity for x in lots))
        quantity = draw(st.integers(1, held))
        minimum = draw(st.integers(0, quantity))
        return Sell(symbol, D(quantity), D(minimum), draw(cents), D(1), lots)
    return build()


sells = st.tuples(_sell("A"), _sell("B"), _sell("C")).map(list)


def _realized(s: Sell, method: LotMethod, quantity: D, window: int) -> D:
    return sum((c.gain for c in closes(s.lots, method, SOLD, quantity, s.price, Rates(D("0.35"), D("0.15")),
                                       window)), ZERO)


@given(sells=sells, method=methods, budget=st.one_of(st.none(), st.integers(-500, 3000).map(D)),
       window=st.sampled_from([0, 30]))
def test_trimming_never_goes_below_a_sells_minimum(
    sells: list[Sell], method: LotMethod, budget: D | None, window: int
) -> None:
    kept, _ = trim_sells(sells, method, Rates(D("0.35"), D("0.15")), SOLD, budget, window)
    assert [kept[s.symbol] >= s.minimum for s in sells] == [True] * len(sells)


@given(sells=sells, method=methods, budget=st.one_of(st.none(), st.integers(-500, 3000).map(D)),
       window=st.sampled_from([0, 30]))
def test_trimming_never_sells_more_than_asked(
    sells: list[Sell], method: LotMethod, budget: D | None, window: int
) -> None:
    kept, _ = trim_sells(sells, method, Rates(D("0.35"), D("0.15")), SOLD, budget, window)
    assert [kept[s.symbol] <= s.quantity for s in sells] == [True] * len(sells)


@given(sells=sells, budget=st.integers(-500, 3000).map(D))
def test_hifo_trimming_keeps_within_a_budget_whenever_the_minimums_allow(
    sells: list[Sell], budget: D
) -> None:
    """Brute force: when some quantities between each sell's minimum and its quantity keep the year's gain
    within the budget, the trimmed sells do too. The gains add up sell by sell, so the least the year can
    realise is the sum of each sell's least."""
    least = sum(min(_realized(s, "hifo", D(q), 0) for q in range(int(s.minimum), int(s.quantity) + 1))
                for s in sells)
    assume(least <= budget)
    kept, _ = trim_sells(sells, "hifo", Rates(D("0.35"), D("0.15")), SOLD, budget)
    assert sum(_realized(s, "hifo", kept[s.symbol], 0) for s in sells) <= budget


def test_a_fifo_trim_never_realises_more_than_the_sell_it_trims() -> None:
    """FIFO takes a gaining lot then a losing one: 10 units realise 5 x 10 - 5 x 2 = 40. With a budget of 0
    the only quantity within it is 0, and a trim to 6 realises 48: more than not trimming at all."""
    lots = [Lot(date(2020, 1, 2), D(5), D(90)), Lot(date(2020, 2, 3), D(5), D(102))]
    sell = Sell("A", D(10), D(0), D(100), D(1), lots)
    kept, _ = trim_sells([sell], "fifo", Rates(D("0.35"), D("0.15")), SOLD, D(0))
    assert _realized(sell, "fifo", kept["A"], 0) <= _realized(sell, "fifo", sell.quantity, 0)
