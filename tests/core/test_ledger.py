"""The lot ledger's pure parts: standings at a price, and where the ledger and the broker's positions
differ."""

from __future__ import annotations

from datetime import date
from decimal import Decimal as D

from hypothesis import given
from hypothesis import strategies as st

from reconciler.core.ledger import HeldLot, mismatches, standings

TODAY = date(2025, 6, 3)


def test_a_lot_without_a_quote_shows_no_gain() -> None:
    (s,) = standings([HeldLot("VTI", date(2020, 1, 2), D(2), D(300))], {}, TODAY)
    assert s.unrealized is None


def test_a_lot_turns_long_term_the_day_after_its_anniversary() -> None:
    lots = [HeldLot("VTI", date(2024, 6, 3), D(1), D(1)), HeldLot("VTI", date(2024, 6, 2), D(1), D(1))]
    assert [s.long_term for s in standings(lots, {}, TODAY)] == [False, True]


def test_a_position_without_lots_is_a_mismatch() -> None:
    assert mismatches([], {"VTI": D(3)}) == {"VTI": (D(0), D(3))}


def test_lots_of_a_symbol_no_longer_held_are_a_mismatch() -> None:
    assert mismatches([HeldLot("VTI", TODAY, D(3), D(1))], {}) == {"VTI": (D(3), D(0))}


@given(st.lists(st.tuples(st.sampled_from(["A", "B", "C"]), st.integers(1, 50)), max_size=8))
def test_lots_that_sum_to_the_positions_never_mismatch(parts: list[tuple[str, int]]) -> None:
    lots = [HeldLot(symbol, TODAY, D(q), D(q)) for symbol, q in parts]
    positions: dict[str, D] = {}
    for symbol, q in parts:
        positions[symbol] = positions.get(symbol, D(0)) + q
    assert mismatches(lots, positions) == {}


def test_a_lots_unrealized_gain_is_its_value_less_its_whole_cost() -> None:
    (s,) = standings([HeldLot("VTI", date(2020, 1, 2), D(4), D(300))], {"VTI": D(80)}, TODAY)
    assert s.unrealized == D(20)
