"""core.harvest: which holdings are worth harvesting (a lot past the threshold, the holding at a net loss, the
ledger accounting for every unit)."""

from __future__ import annotations

from datetime import date
from decimal import Decimal as D

from reconciler.core.harvest import harvestable, unrealized
from reconciler.core.ledger import HeldLot

OLD = HeldLot("VTI", date(2020, 1, 2), D(10), D(1000))  # 100 a unit
NEW = HeldLot("VTI", date(2023, 1, 3), D(10), D(3000))  # 300 a unit
PRICES = {"VTI": D(200)}


def test_unrealized_is_the_lots_value_less_its_cost() -> None:
    assert unrealized(NEW, D(200)) == D(-1000)


def test_a_lot_past_the_threshold_in_a_losing_holding_is_harvestable() -> None:
    assert harvestable([NEW], PRICES, {"VTI": D(10)}, D(1000)) == {"VTI": D(-1000)}


def test_a_lot_short_of_the_threshold_is_not() -> None:
    assert harvestable([NEW], PRICES, {"VTI": D(10)}, D("1000.01")) == {}


def test_a_holding_at_a_net_gain_is_not_harvested_for_one_losing_lot() -> None:
    """Selling both lots would realise 1,000 of gain against 1,000 of loss: nothing to harvest."""
    assert harvestable([OLD, NEW], PRICES, {"VTI": D(20)}, D(500)) == {}


def test_a_holding_at_a_net_loss_is_harvested_whole() -> None:
    cheap = HeldLot("VTI", date(2020, 1, 2), D(10), D(1900))
    assert harvestable([cheap, NEW], PRICES, {"VTI": D(20)}, D(500)) == {"VTI": D(-900)}


def test_a_ledger_short_of_the_position_decides_nothing() -> None:
    assert harvestable([NEW], PRICES, {"VTI": D(11)}, D(100)) == {}


def test_a_symbol_without_a_price_is_not_harvested() -> None:
    assert harvestable([NEW], {}, {"VTI": D(10)}, D(100)) == {}


def test_an_empty_lot_list_harvests_nothing() -> None:
    assert harvestable([], PRICES, {}, D(100)) == {}


def test_a_single_unit_at_a_loss_is_harvestable() -> None:
    one = HeldLot("VTI", date(2023, 1, 3), D(1), D(1500))
    assert harvestable([one], PRICES, {"VTI": D(1)}, D(1000)) == {"VTI": D(-1300)}


def test_an_emptied_lot_with_no_position_is_not_harvested() -> None:
    empty = HeldLot("VTI", date(2023, 1, 3), D(0), D(3000))
    assert harvestable([empty], PRICES, {}, D(100)) == {}


def test_a_holding_skipped_does_not_stop_the_next_one() -> None:
    """AAA (sorted first) has no price; VTI after it is still judged."""
    aaa = HeldLot("AAA", date(2023, 1, 3), D(10), D(3000))
    assert harvestable([aaa, NEW], PRICES, {"AAA": D(10), "VTI": D(10)}, D(1000)) == {"VTI": D(-1000)}
