"""Tax lots: FIFO and HIFO selection, the one-year line, netting and carried losses."""

from __future__ import annotations

from datetime import date
from decimal import Decimal as D

from reconciler.backtest.lots import TaxBook, YearTax


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
