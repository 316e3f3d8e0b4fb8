"""Tax-aware sells: the lots each sell closes and what it realises, lots near their first anniversary held
back, and sells trimmed to the year's budget of realized gains, never below their stated minimum."""

from __future__ import annotations

from datetime import date
from decimal import Decimal as D

from hypothesis import given
from hypothesis import strategies as st

from reconciler.core.lots import Lot, Rates, close_lots
from reconciler.core.tax_plan import Sell, closes, held_back, sell_tax, trim_sells

DAY = date(2025, 6, 3)
RATES = Rates(D("0.35"), D("0.15"))
ONE = D(1)


def _lots() -> list[Lot]:
    return [Lot(date(2020, 1, 2), D(10), D(50)),  # long-term, gain 50 a unit at 100
            Lot(date(2025, 1, 2), D(10), D(90))]  # short-term, gain 10 a unit


def test_a_sell_shows_its_gains_by_term_and_estimated_tax() -> None:
    t = sell_tax("VTI", _lots(), "fifo", DAY, D(15), D(100), RATES)
    assert (t.long_gain, t.short_gain, t.tax) == (D(500), D(50), D(500) * D("0.15") + D(50) * D("0.35"))


def test_a_lot_with_a_gain_near_its_anniversary_is_taken_last() -> None:
    lots = [Lot(date(2024, 6, 20), D(5), D(90)), Lot(date(2025, 1, 2), D(5), D(95))]
    assert [c.acquired for c in closes(lots, "fifo", DAY, D(5), D(100), RATES, 30)] == [date(2025, 1, 2)]


def test_a_lot_at_a_loss_near_its_anniversary_is_not_held_back() -> None:
    assert held_back([Lot(date(2024, 6, 20), D(5), D(120))], DAY, D(100), 30) == 0


def test_a_lot_turning_long_term_after_the_window_is_not_held_back() -> None:
    assert held_back([Lot(date(2024, 7, 4), D(5), D(90))], DAY, D(100), 30) == 0


def test_a_lot_turning_long_term_on_the_windows_last_day_is_held_back() -> None:
    assert held_back([Lot(date(2024, 7, 2), D(5), D(90))], DAY, D(100), 30) == D(5)


def test_a_long_term_lot_is_never_held_back() -> None:
    assert held_back([Lot(date(2024, 6, 2), D(5), D(90))], DAY, D(100), 30) == 0


def test_no_window_holds_nothing_back() -> None:
    assert held_back([Lot(date(2024, 6, 20), D(5), D(90))], DAY, D(100), 0) == 0


def test_held_back_lots_shrink_a_sell_down_to_its_minimum_and_say_so() -> None:
    lots = [Lot(date(2024, 6, 20), D(5), D(90)), Lot(date(2025, 1, 2), D(5), D(95))]
    kept, notes = trim_sells([Sell("VTI", D(8), D(3), D(100), ONE, lots)], "fifo", RATES, DAY, None, 30)
    assert kept == {"VTI": D(5)}
    assert notes == ["VTI: sells 5 instead of 8, holding 5 units that turn long-term within 30 days"]


def test_a_hard_limit_sells_into_held_back_lots() -> None:
    lots = [Lot(date(2024, 6, 20), D(5), D(90)), Lot(date(2025, 1, 2), D(5), D(95))]
    kept, _ = trim_sells([Sell("VTI", D(8), D(7), D(100), ONE, lots)], "fifo", RATES, DAY, None, 30)
    assert kept == {"VTI": D(7)}


def test_without_lots_near_their_anniversary_a_sell_is_unchanged() -> None:
    kept, notes = trim_sells([Sell("VTI", D(8), D(0), D(100), ONE, _lots())], "fifo", RATES, DAY, None, 30)
    assert (kept, notes) == ({"VTI": D(8)}, [])


def test_gains_within_the_budget_trim_nothing() -> None:
    kept, notes = trim_sells([Sell("VTI", D(15), D(0), D(100), ONE, _lots())], "fifo", RATES, DAY, D(550))
    assert (kept, notes) == ({"VTI": D(15)}, [])


def test_a_budget_drops_the_most_gaining_units_first_across_sells() -> None:
    sells = [Sell("A", D(10), D(0), D(100), ONE, [Lot(date(2020, 1, 2), D(10), D(50))]),  # 50 a unit
             Sell("B", D(10), D(0), D(100), ONE, [Lot(date(2020, 1, 2), D(10), D(90))])]  # 10 a unit
    kept, _ = trim_sells(sells, "fifo", RATES, DAY, D(400))  # 600 realized: drop 4 units of A (200)
    assert kept == {"A": D(6), "B": D(10)}


def test_a_budget_rounds_the_drop_up_to_whole_steps() -> None:
    sells = [Sell("A", D(10), D(0), D(100), ONE, [Lot(date(2020, 1, 2), D(10), D(50))])]
    kept, _ = trim_sells(sells, "fifo", RATES, DAY, D(449))  # 500 realized: 51 over is 1.02 units, so 2
    assert kept == {"A": D(8)}


def test_a_budget_never_trims_below_the_minimum_and_says_it_is_exceeded() -> None:
    sells = [Sell("A", D(10), D(9), D(100), ONE, [Lot(date(2020, 1, 2), D(10), D(50))])]
    kept, notes = trim_sells(sells, "fifo", RATES, DAY, D(0))
    assert kept == {"A": D(9)}
    assert notes[-1].startswith("tax budget: realized gains exceed the 0 left this year by 450")


def test_a_trim_is_named_in_a_note() -> None:
    sells = [Sell("A", D(10), D(0), D(100), ONE, [Lot(date(2020, 1, 2), D(10), D(50))])]
    _, notes = trim_sells(sells, "fifo", RATES, DAY, D(400))
    assert notes == ["tax budget: sells trimmed (A 10 → 8) to keep realized gains within the 400 left this"
                     " year; their holdings drift further, up to their band's hard limit"]


def test_units_sold_at_a_loss_are_never_dropped() -> None:
    lots = [Lot(date(2020, 1, 2), D(5), D(150)), Lot(date(2020, 2, 3), D(5), D(40))]
    kept, _ = trim_sells([Sell("A", D(10), D(0), D(100), ONE, lots)], "fifo", RATES, DAY, D(0))
    assert kept == {"A": D(9)}  # -250, then +60 a unit (+300): one gaining unit dropped reaches -10


@given(
    costs=st.lists(st.integers(1, 200), min_size=1, max_size=5),
    quantity=st.integers(1, 5),
    minimum=st.integers(0, 5),
    budget=st.integers(0, 2000),
)
def test_a_trimmed_sell_stays_within_the_budget_unless_at_its_minimum(
    costs: list[int], quantity: int, minimum: int, budget: int
) -> None:
    lots = [Lot(date(2020, 1, 2 + i), D(1), D(c)) for i, c in enumerate(costs)]
    want = min(quantity, len(lots))
    floor = min(minimum, want)
    kept, _ = trim_sells([Sell("A", D(want), D(floor), D(100), ONE, lots)], "hifo", RATES, DAY, D(budget))
    realized = sum((c.gain for c in close_lots(lots, "hifo", DAY, kept["A"], D(100), RATES)), D(0))
    assert realized <= budget or kept["A"] == floor


TOMORROW_LONG = date(2024, 6, 3)  # long-term from 2025-06-04: the day after DAY


def test_a_lot_at_no_gain_near_its_anniversary_is_not_held_back() -> None:
    assert held_back([Lot(date(2024, 6, 20), D(5), D(100))], DAY, D(100), 30) == 0


def test_without_a_window_a_lot_near_its_anniversary_is_sold_in_the_methods_order() -> None:
    lots = [Lot(TOMORROW_LONG, D(5), D(90)), Lot(date(2025, 1, 2), D(5), D(95))]
    assert [c.acquired for c in closes(lots, "fifo", DAY, D(5), D(100), RATES)] == [TOMORROW_LONG]


def test_a_sells_tax_without_a_window_takes_the_methods_order() -> None:
    lots = [Lot(TOMORROW_LONG, D(5), D(90)), Lot(date(2025, 1, 2), D(5), D(95))]
    assert sell_tax("VTI", lots, "fifo", DAY, D(5), D(100), RATES).short_gain == D(50)


def test_without_a_window_trimming_holds_nothing_back() -> None:
    lots = [Lot(TOMORROW_LONG, D(5), D(90)), Lot(date(2025, 1, 2), D(5), D(95))]
    kept, _ = trim_sells([Sell("VTI", D(8), D(0), D(100), ONE, lots)], "fifo", RATES, DAY, None)
    assert kept == {"VTI": D(8)}


def test_a_one_day_window_holds_back_a_lot_turning_long_term_tomorrow() -> None:
    assert held_back([Lot(TOMORROW_LONG, D(5), D(90))], DAY, D(100), 1) == D(5)


def test_a_one_day_window_takes_a_lot_turning_long_term_tomorrow_last() -> None:
    lots = [Lot(TOMORROW_LONG, D(5), D(90)), Lot(date(2025, 1, 2), D(5), D(95))]
    assert [c.acquired for c in closes(lots, "fifo", DAY, D(5), D(100), RATES, 1)] == [date(2025, 1, 2)]


def test_a_sell_beyond_the_other_lots_takes_one_unit_of_a_held_lot() -> None:
    lots = [Lot(TOMORROW_LONG, D(5), D(90)), Lot(date(2025, 1, 2), D(5), D(95))]
    closed = closes(lots, "fifo", DAY, D(6), D(100), RATES, 1)
    assert [(c.acquired, c.quantity) for c in closed] == [(date(2025, 1, 2), D(5)), (TOMORROW_LONG, D(1))]


def test_one_held_unit_shrinks_a_sell_by_one() -> None:
    lots = [Lot(TOMORROW_LONG, D(1), D(90)), Lot(date(2025, 1, 2), D(5), D(95))]
    kept, _ = trim_sells([Sell("VTI", D(6), D(0), D(100), ONE, lots)], "fifo", RATES, DAY, None, 1)
    assert kept == {"VTI": D(5)}


def test_lots_short_of_the_sell_without_held_ones_leave_it_unchanged() -> None:
    kept, _ = trim_sells([Sell("VTI", D(30), D(0), D(100), ONE, _lots())], "fifo", RATES, DAY, None, 30)
    assert kept == {"VTI": D(30)}


def test_fractional_steps_trim_in_steps() -> None:
    step = D("0.1")
    sells = [Sell("A", D(10), D(0), D(100), step, [Lot(date(2020, 1, 2), D(10), D(50))])]
    kept, _ = trim_sells(sells, "fifo", RATES, DAY, D(449))  # 51 over: 1.02 units, so 1.1
    assert kept == {"A": D("8.9")}


def test_fractional_steps_hold_back_in_steps() -> None:
    step = D("0.5")
    lots = [Lot(TOMORROW_LONG, D("1.2"), D(90)), Lot(date(2025, 1, 2), D(5), D(95))]
    kept, _ = trim_sells([Sell("VTI", D(6), D(0), D(100), step, lots)], "fifo", RATES, DAY, None, 1)
    assert kept == {"VTI": D("5.0")}


def test_half_a_unit_over_the_budget_drops_a_whole_step() -> None:
    sells = [Sell("A", D(10), D(0), D(100), ONE, [Lot(date(2020, 1, 2), D(10), D(50))])]
    kept, _ = trim_sells(sells, "fifo", RATES, DAY, D("499.5"))
    assert kept == {"A": D(9)}


def test_the_most_gaining_units_go_first_even_when_fewer() -> None:
    sells = [Sell("A", D(4), D(0), D(100), ONE, [Lot(date(2020, 1, 2), D(4), D(50))]),  # 50 a unit, 200
             Sell("B", D(10), D(0), D(100), ONE, [Lot(date(2020, 1, 2), D(10), D(90))])]  # 10 a unit, 100
    kept, notes = trim_sells(sells, "fifo", RATES, DAY, D(200))
    assert kept == {"A": D(2), "B": D(10)}
    assert notes == ["tax budget: sells trimmed (A 4 → 2) to keep realized gains within the 200 left this"
                     " year; their holdings drift further, up to their band's hard limit"]


def test_a_sell_at_its_minimum_passes_the_trim_to_the_next() -> None:
    sells = [Sell("A", D(4), D(4), D(100), ONE, [Lot(date(2020, 1, 2), D(4), D(50))]),
             Sell("B", D(10), D(0), D(100), ONE, [Lot(date(2020, 1, 2), D(10), D(90))])]
    kept, _ = trim_sells(sells, "fifo", RATES, DAY, D(250))
    assert kept == {"A": D(4), "B": D(5)}


def test_units_at_no_gain_are_not_dropped() -> None:
    lots = [Lot(date(2020, 1, 2), D(5), D(100)), Lot(date(2020, 2, 3), D(5), D(50))]
    kept, notes = trim_sells([Sell("A", D(10), D(8), D(100), ONE, lots)], "fifo", RATES, DAY, D(0))
    assert kept == {"A": D(8)}
    assert notes[-1].startswith("tax budget: realized gains exceed the 0 left this year by 150")


def test_units_gaining_one_are_dropped() -> None:
    sells = [Sell("A", D(5), D(0), D(100), ONE, [Lot(date(2020, 1, 2), D(5), D(99))])]
    kept, _ = trim_sells(sells, "fifo", RATES, DAY, D(0))
    assert kept == {"A": D(0)}


def test_half_a_unit_of_gain_over_at_the_minimum_is_said() -> None:
    sells = [Sell("A", D(1), D(1), D(100), ONE, [Lot(date(2020, 1, 2), D(1), D("99.5"))])]
    _, notes = trim_sells(sells, "fifo", RATES, DAY, D(0))
    assert notes == ["tax budget: realized gains exceed the 0 left this year by 0.5: the sells are at the"
                     " least that brings each holding within its band's hard limit"]


def test_a_budget_not_reached_adds_no_note_to_a_sell_held_back() -> None:
    lots = [Lot(TOMORROW_LONG, D(5), D(90)), Lot(date(2025, 1, 2), D(5), D(95))]
    _, notes = trim_sells([Sell("VTI", D(8), D(0), D(100), ONE, lots)], "fifo", RATES, DAY, D(1000), 1)
    assert notes == ["VTI: sells 5 instead of 8, holding 5 units that turn long-term within 1 days"]


def test_a_budget_met_exactly_adds_no_note_to_a_sell_held_back() -> None:
    lots = [Lot(TOMORROW_LONG, D(5), D(90)), Lot(date(2025, 1, 2), D(5), D(95))]  # 5 sold at 95: 25 gained
    _, notes = trim_sells([Sell("VTI", D(8), D(0), D(100), ONE, lots)], "fifo", RATES, DAY, D(25), 1)
    assert notes == ["VTI: sells 5 instead of 8, holding 5 units that turn long-term within 1 days"]


def test_the_budget_trims_first_the_tail_that_realises_most_gain_a_unit_on_a_fractional_step() -> None:
    """A: FIFO closes 1.5 units at no gain, then 2 at 50 a unit (its tail); B: 4 units at 30 a unit. A budget
    of 120 against 220 drops A's tail at its lot boundary, 1.5 on its half-unit step, and leaves B."""
    a = Sell("A", D("3.5"), D(0), D(100), D("0.5"),
             [Lot(date(2020, 1, 2), D("1.5"), D(100)), Lot(date(2020, 2, 3), D(2), D(50))])
    b = Sell("B", D(4), D(0), D(100), ONE, [Lot(date(2020, 1, 2), D(4), D(70))])
    kept, _ = trim_sells([a, b], "fifo", RATES, DAY, D(120))
    assert kept == {"A": D("1.5"), "B": D(4)}


def test_a_trim_never_sells_more_than_the_planners_sell_even_with_losing_lots_beyond_it() -> None:
    """FIFO closes the 10 units at a gain of 50 a unit; the 100 units after them are at a loss, which a
    larger sale would realise. Trimmed to the budget (450 of 500), the sell shrinks to 9 and never grows."""
    s = Sell("X", D(10), D(8), D(100), ONE,
             [Lot(date(2020, 1, 2), D(10), D(50)), Lot(date(2020, 2, 3), D(100), D(200))])
    kept, _ = trim_sells([s], "fifo", RATES, DAY, D(450))
    assert kept == {"X": D(9)}


def test_a_trim_drops_no_more_units_than_the_budget_needs() -> None:
    """FIFO: 4 units at a gain of 1, 3 at a loss of 41, then 7 at a gain of 35 a unit; a sell of 10 realises
    -14. With the year's gains 47 over budget (-47 left), dropping one unit of the last lot (-49) is enough:
    the sell is trimmed to 9, not 8."""
    s = Sell("X", D(10), D(0), D(100), ONE, [Lot(date(2023, 5, 31), D(4), D(99)),
                                            Lot(date(2023, 7, 18), D(3), D(141)),
                                            Lot(date(2024, 10, 24), D(7), D(65))])
    kept, _ = trim_sells([s], "fifo", RATES, DAY, D(-47))
    assert kept == {"X": D(9)}


def test_a_sell_realising_no_gain_is_not_trimmed_for_a_budget_it_cannot_help() -> None:
    """Z's lot is at cost (no gain); Y already sells its minimum. Over budget, Z keeps its whole sell."""
    z = Sell("Z", D(5), D(0), D(100), ONE, [Lot(date(2020, 1, 2), D(5), D(100))])
    y = Sell("Y", D(2), D(2), D(100), ONE, [Lot(date(2020, 1, 2), D(2), D(50))])
    kept, _ = trim_sells([z, y], "fifo", RATES, DAY, D(0))
    assert kept == {"Z": D(5), "Y": D(2)}


def test_a_gain_of_cents_over_the_budget_is_trimmed_too() -> None:
    s = Sell("X", D(1), D(0), D(100), ONE, [Lot(date(2020, 1, 2), D(1), D("99.50"))])
    kept, _ = trim_sells([s], "fifo", RATES, DAY, D(0))
    assert kept == {"X": D(0)}


def test_the_budget_trims_the_sell_with_the_most_gain_per_unit_dropped() -> None:
    """A's tail (2 units at 50 a unit above 8 at cost) lowers the gain 50 a unit; B's 10 units at 30 a unit.
    An excess of 100 is met by A's tail alone: B is left as the planner wanted it."""
    a = Sell("A", D(10), D(0), D(100), ONE,
             [Lot(date(2020, 1, 2), D(8), D(100)), Lot(date(2020, 2, 3), D(2), D(50))])
    b = Sell("B", D(10), D(0), D(100), ONE, [Lot(date(2020, 1, 2), D(10), D(70))])
    kept, _ = trim_sells([a, b], "fifo", RATES, DAY, D(300))
    assert kept == {"A": D(8), "B": D(10)}


def test_sells_with_the_same_gain_per_unit_are_trimmed_in_the_planners_order() -> None:
    """A tie is broken the same way every time (plan and apply derive the same orders): the first sell."""
    a = Sell("A", D(10), D(0), D(100), ONE, [Lot(date(2020, 1, 2), D(10), D(50))])
    b = Sell("B", D(10), D(0), D(100), ONE, [Lot(date(2020, 1, 2), D(10), D(50))])
    kept, _ = trim_sells([a, b], "fifo", RATES, DAY, D(900))
    assert kept == {"A": D(8), "B": D(10)}
