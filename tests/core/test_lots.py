"""Tax lots: FIFO, HIFO, LIFO and min_tax selection, the one-year line, netting and carried losses."""

from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal as D
from itertools import permutations

from hypothesis import given, settings
from hypothesis import strategies as st

from reconciler.core.lots import (
    Lot,
    Rates,
    TaxBook,
    YearTax,
    allocate,
    close_lots,
    estimated_tax,
    long_term,
    long_term_before,
    sale_order,
)

SOLD = date(2024, 6, 3)


def test_fifo_sells_the_oldest_lot_and_hifo_the_most_expensive() -> None:
    for method, gain in (("fifo", D(1000)), ("hifo", D(500))):
        book = TaxBook(method=method)  # type: ignore[arg-type]
        book.buy("A", date(2020, 1, 2), D(10), D(1000))  # 10 at 100
        book.buy("A", date(2020, 6, 1), D(10), D(1500))  # 10 at 150
        book.sell("A", date(2020, 9, 1), D(10), D(2000))  # 10 at 200
        assert book.years[2020].short == gain
        assert book.years[2020].long == 0
        assert book.held("A") == D(10)


def test_a_lot_is_long_term_only_after_its_first_anniversary() -> None:
    book = TaxBook()
    book.buy("A", date(2020, 3, 2), D(2), D(200))
    book.sell("A", date(2021, 3, 2), D(1), D(150))  # exactly a year: short-term
    book.sell("A", date(2021, 3, 3), D(1), D(150))  # a year and a day: long-term
    assert book.years[2021].short == D(50)
    assert book.years[2021].long == D(50)


def test_partial_sales_split_lots_and_hifo_keeps_the_rest() -> None:
    book = TaxBook(method="hifo")
    book.buy("A", date(2020, 1, 2), D(5), D(500))
    book.buy("A", date(2020, 2, 3), D(5), D(600))
    book.sell("A", date(2020, 3, 2), D(7), D(770))  # 110 each: 5 bought at 120 (-50), then 2 at 100 (+20)
    assert book.years[2020].short == D(-30)
    lots = book.open_lots("A")
    assert [(lot.quantity, lot.unit_cost) for lot in lots] == [(D(3), D(100))]


def test_tax_nets_short_against_long_and_carries_losses_forward() -> None:
    book = TaxBook(short_rate=D("0.4"), long_rate=D("0.2"))
    book.years[2020] = YearTax(short=D(-300), long=D(1000))  # the short-term loss offsets long-term gains
    assert book.close_year(2020) == D(700) * D("0.2")
    book.years[2021] = YearTax(short=D(-2000), long=D(500))  # a net loss of 1,500, short-term, is carried
    assert book.close_year(2021) == 0
    assert book.carry_short == D(-1500)
    assert book.carry_long == 0
    book.years[2022] = YearTax(short=D(1000), long=D(1000))
    assert book.close_year(2022) == D(500) * D("0.2")  # 1,000 short - 1,500 carried = -500, against long
    assert book.carry_short == 0
    assert book.carry_long == 0


def test_lifo_sells_the_newest_lot_first() -> None:
    book = TaxBook(method="lifo")
    book.buy("A", date(2020, 1, 2), D(10), D(1000))
    book.buy("A", date(2020, 6, 1), D(10), D(1500))
    book.sell("A", date(2020, 9, 1), D(15), D(3000))  # 10 at 150 (+500), then 5 at 100 (+500)
    assert book.years[2020].short == D(1000)
    assert [(lot.quantity, lot.unit_cost) for lot in book.open_lots("A")] == [(D(5), D(100))]


def test_min_tax_takes_losses_then_long_term_gains_then_short_term_gains() -> None:
    lots = [
        Lot(date(2020, 1, 2), D(1), D(50)),  # long-term gain of 50: 7.5 tax
        Lot(date(2024, 1, 2), D(1), D(90)),  # short-term gain of 10: 3.5 tax
        Lot(date(2024, 2, 1), D(1), D(120)),  # short-term loss of 20: saves 7
        Lot(date(2021, 1, 4), D(1), D(110)),  # long-term loss of 10: saves 1.5
    ]
    order = sale_order(lots, "min_tax", SOLD, D(100), Rates(D("0.35"), D("0.15")))
    assert order == [2, 3, 1, 0]


def test_min_tax_with_no_rates_still_takes_losses_first() -> None:
    lots = [Lot(date(2020, 1, 2), D(1), D(50)), Lot(date(2024, 1, 2), D(1), D(120))]
    assert sale_order(lots, "min_tax", SOLD, D(100), Rates()) == [1, 0]


def test_a_sale_larger_than_the_lots_closes_what_there_is() -> None:
    lots = [Lot(date(2024, 1, 2), D(2), D(10))]
    assert allocate(lots, [0], D(5)) == [(0, D(2))]


def test_close_lots_leaves_the_lots_as_they_were() -> None:
    lots = [Lot(date(2024, 1, 2), D(2), D(10))]
    close_lots(lots, "fifo", SOLD, D(1), D(12), Rates())
    assert lots[0].quantity == D(2)


def test_close_lots_reports_each_parts_gain_and_term() -> None:
    lots = [Lot(date(2023, 6, 2), D(2), D(10)), Lot(date(2023, 6, 3), D(2), D(11))]
    closed = close_lots(lots, "fifo", SOLD, D(3), D(12), Rates())
    assert [(c.quantity, c.gain, c.long_term) for c in closed] == [(D(2), D(4), True), (D(1), D(1), False)]


def test_min_tax_book_keeps_the_lots_it_did_not_close_in_purchase_order() -> None:
    book = TaxBook(method="min_tax", short_rate=D("0.35"), long_rate=D("0.15"))
    book.buy("A", date(2023, 1, 3), D(2), D(190))  # 95 each: long-term gain at the sale, 0.75 tax a share
    book.buy("A", date(2024, 1, 2), D(2), D(300))  # 150 each: short-term loss
    book.buy("A", date(2024, 3, 1), D(2), D(180))  # 90 each: short-term gain, 3.50 tax a share
    book.sell("A", SOLD, D(3), D(300))  # 100 each: 2 at 150 (-100), then 1 at 95 (+5 long)
    assert (book.years[2024].short, book.years[2024].long) == (D(-100), D(5))
    assert [(lot.acquired, lot.quantity) for lot in book.open_lots("A")] == [
        (date(2023, 1, 3), D(1)), (date(2024, 3, 1), D(2))]


money = st.decimals(min_value=D("0.01"), max_value=D(500), places=2)
lot = st.builds(
    Lot,
    acquired=st.integers(1, 900).map(lambda days: SOLD - timedelta(days=days)),
    quantity=st.integers(1, 20).map(D),
    unit_cost=money,
)
rate = st.decimals(min_value=D(0), max_value=D("0.5"), places=3)


@settings(max_examples=300, deadline=None)
@given(lots=st.lists(lot, min_size=1, max_size=5), price=money, short=rate, long=rate, data=st.data())
def test_no_other_choice_of_lots_realises_less_tax_than_min_tax(
    lots: list[Lot], price: D, short: D, long: D, data: st.DataObject
) -> None:
    """The sale's estimated tax is linear in what it takes of each lot, so its minimum over every choice is at
    a vertex of the choices: a sale that empties lots whole in some order. Every order is tried."""
    quantity = D(data.draw(st.integers(1, int(sum(x.quantity for x in lots)))))
    rates = Rates(short, long)

    def tax(order: list[int] | tuple[int, ...]) -> D:
        return sum(
            (
                take * (price - lots[i].unit_cost) * (long if long_term(lots[i].acquired, SOLD) else short)
                for i, take in allocate(lots, order, quantity)
            ),
            D(0),
        )

    best = min(tax(order) for order in permutations(range(len(lots))))
    assert tax(sale_order(lots, "min_tax", SOLD, price, rates)) == best


@given(
    lots=st.lists(lot, min_size=1, max_size=8),
    method=st.sampled_from(["fifo", "hifo", "lifo", "min_tax"]),
    data=st.data(),
)
def test_a_book_holds_what_was_bought_less_what_was_sold(
    lots: list[Lot], method: str, data: st.DataObject
) -> None:
    book = TaxBook(method=method, short_rate=D("0.3"), long_rate=D("0.1"))  # type: ignore[arg-type]
    for x in sorted(lots, key=lambda x: x.acquired):
        book.buy("A", x.acquired, x.quantity, x.quantity * x.unit_cost)
    bought = sum((x.quantity for x in lots), D(0))
    sold = D(data.draw(st.integers(1, int(bought))))
    book.sell("A", SOLD, sold, sold * D(100))
    assert book.held("A") == bought - sold


def test_the_one_year_line_is_the_first_anniversary() -> None:
    assert not long_term(date(2023, 6, 3), SOLD)
    assert long_term(date(2023, 6, 2), SOLD)


def test_a_sales_estimated_tax_counts_losses_as_tax_saved() -> None:
    lots = [Lot(date(2020, 1, 2), D(1), D(50)), Lot(date(2024, 1, 2), D(1), D(120))]
    closed = close_lots(lots, "fifo", SOLD, D(2), D(100), Rates(D("0.35"), D("0.15")))
    assert estimated_tax(closed, Rates(D("0.35"), D("0.15"))) == D(50) * D("0.15") - D(20) * D("0.35")


def test_each_fixed_method_orders_the_lots_its_own_way() -> None:
    lots = [
        Lot(date(2020, 1, 2), D(1), D(50)),
        Lot(date(2021, 1, 4), D(1), D(90)),
        Lot(date(2022, 1, 3), D(1), D(70)),
    ]
    orders = {m: sale_order(lots, m, SOLD, D(100), Rates()) for m in ("fifo", "hifo",
        "lifo")}  # type: ignore[misc]
    assert orders == {"fifo": [0, 1, 2], "hifo": [1, 2, 0], "lifo": [2, 1, 0]}


def test_hifo_takes_the_older_of_two_lots_at_the_same_cost() -> None:
    lots = [Lot(date(2020, 1, 2), D(1), D(50)), Lot(date(2021, 1, 4), D(1), D(50))]
    assert sale_order(lots, "hifo", SOLD, D(100), Rates()) == [0, 1]


def test_a_sale_that_empties_a_lot_exactly_takes_nothing_from_the_next() -> None:
    lots = [Lot(date(2020, 1, 2), D(2), D(10)), Lot(date(2021, 1, 4), D(2), D(10))]
    assert allocate(lots, [0, 1], D(2)) == [(0, D(2))]


def test_an_empty_lot_is_passed_over() -> None:
    lots = [Lot(date(2020, 1, 2), D(0), D(10)), Lot(date(2021, 1, 4), D(2), D(10))]
    assert allocate(lots, [0, 1], D(1)) == [(1, D(1))]


def test_hifo_is_by_cost_alone_whatever_the_rates() -> None:
    lots = [Lot(date(2020, 1, 2), D(1), D(90)), Lot(date(2025, 1, 2), D(1), D(95))]  # long 10 gain, short 5
    assert sale_order(lots, "hifo", SOLD, D(100), Rates(D("0.35"), D("0.15"))) == [1, 0]


RATED = {"short_rate": D("0.4"), "long_rate": D("0.2")}


def _closed(short: str, long: str) -> TaxBook:
    """A book whose 2024 realized `short` and `long` gains are closed, the year's tax in `years`."""
    book = TaxBook(**RATED)  # type: ignore[arg-type]
    book.years[2024] = YearTax(short=D(short), long=D(long))
    book.close_year(2024)
    return book


def test_a_short_term_gain_is_taxed_at_the_short_term_rate() -> None:
    assert _closed("100", "0").years[2024].tax == D(40)


def test_a_long_term_loss_offsets_a_short_term_gain() -> None:
    assert _closed("1000", "-300").years[2024].tax == D(700) * D("0.4")


def test_a_long_term_loss_larger_than_the_short_term_gain_is_carried_as_long_term() -> None:
    book = _closed("300", "-1000")
    assert (book.carry_short, book.carry_long) == (D(0), D(-700))


def test_losses_of_both_terms_are_carried_each_as_its_own() -> None:
    book = _closed("-100", "-200")
    assert (book.carry_short, book.carry_long) == (D(-100), D(-200))


def test_gains_of_both_terms_are_each_taxed_at_their_rate() -> None:
    assert _closed("100", "50").years[2024].tax == D(40) + D(10)


def test_a_long_term_loss_carried_in_offsets_the_next_years_long_term_gain() -> None:
    book = _closed("0", "-1000")
    book.years[2025] = YearTax(long=D(1500))
    assert book.close_year(2025) == D(500) * D("0.2")


def test_netting_holds_for_gains_under_one_dollar() -> None:
    """The netting compares with zero, not with one: cents of gain keep their term."""
    cases = {("0.5", "10"): D("0.5") * D("0.4") + D(10) * D("0.2"),
             ("-9.5", "10"): D("0.5") * D("0.2"),
             ("10", "0.5"): D(10) * D("0.4") + D("0.5") * D("0.2"),
             ("10.5", "-10"): D("0.5") * D("0.4")}
    assert {k: _closed(*k).years[2024].tax for k in cases} == cases


def test_a_sale_beyond_the_lots_closes_what_there_is_under_each_ordered_method() -> None:
    """A FIFO, LIFO or HIFO book asked to sell more than it holds realises the gain of what it holds and is
    left with nothing (the backtester never does this; the book must still not fail)."""
    held = {}
    for method in ("fifo", "lifo", "hifo"):
        book = TaxBook(method=method)  # type: ignore[arg-type]
        book.buy("A", date(2024, 1, 2), D(10), D(1000))
        book.sell("A", date(2024, 3, 1), D(15), D(1800))  # 120 each: 10 held, 20 gained on each
        held[method] = (book.held("A"), book.years[2024].short)
    assert held == dict.fromkeys(("fifo", "lifo", "hifo"), (D(0), D(200)))


def test_long_term_before_is_long_term_as_one_comparison() -> None:
    # Every sale day of a leap and a common year against purchases about a year earlier, 29 February too:
    # the sale loop's date comparison must give long_term's answer for each pair.
    start = date(2023, 1, 1)
    disagree = [
        (bought, sold)
        for s in range(0, 800, 3)
        for sold in [start + timedelta(days=s)]
        for b in range(340, 390)
        for bought in [sold - timedelta(days=b)]
        if (bought < long_term_before(sold)) != long_term(bought, sold)
    ]
    assert disagree == []
