"""The wash-sale guard's rules at their edges (core.wash_guard): which prices, holdings and lots it judges
with, how a substitutes group's target is shared, which holdings it holds back or harvests, and that one
symbol skipped never stops the next. Each test states the rule; the full mutation run of the module
(docs/mutation.md) found these rules unpinned.
"""

from __future__ import annotations

from datetime import date
from decimal import Decimal as D

import pytest
from pydantic import ValidationError

from reconciler.core.household import Household
from reconciler.core.ledger import HeldLot
from reconciler.core.models import Desired
from reconciler.core.rules import SymbolRule
from reconciler.core.tax_rules import Harvest
from reconciler.core.wash_guard import washed
from reconciler.core.wash_sale import TradeEvent
from tests.builders import quote
from tests.core.test_wash_guard import (
    BND_LOT,
    HALF,
    LOSS_SALE,
    SUBS,
    TWO_GROUPS,
    VTI_LOSS,
    VTI_LOT,
    _ago,
    _desired,
    _obs,
)

BUY = TradeEvent("ira", "X", _ago(14), "buy")  # a buy of X in the household two weeks ago


def _with_rules(d: Desired, **rules: SymbolRule) -> Desired:
    return d.model_copy(update={"symbols": rules})


# --- prices and holdings the guard judges with --------------------------------------------------------------

def test_a_buy_of_a_symbol_priced_under_a_dollar_is_guarded_too() -> None:
    """X at 50 cents, sold at a loss 20 days ago: its buy back is still refused."""
    got, _ = washed(_desired(HALF), _obs({"X": 1, "Y": 10}, {}, [LOSS_SALE], cash=1600).model_copy(
        update={"quotes": {"X": quote("X", D("0.5")), "Y": quote("Y", 10)}}))
    assert got.symbols["X"].do_not_trade


def test_a_substitute_quoted_at_zero_is_never_bought_instead() -> None:
    """A quote of 0 is no price: VTI's blocked buy finds no substitute to put its weight on."""
    obs = _obs({"VTI": 200, "ITOT": 100, "BND": 50}, {}, [VTI_LOSS], cash=10000)
    obs = obs.model_copy(update={"quotes": {**obs.quotes, "ITOT": quote("ITOT", 0)}})
    got, _ = washed(_desired({"VTI": "0.6", "BND": "0.4"}, substitutes=SUBS), obs)
    assert "ITOT" not in got.targets


def test_a_holding_of_a_single_share_sold_after_a_buy_is_held() -> None:
    """One share of X, not a target, its lots unknown to the ledger (counted as a loss): not sold."""
    got, _ = washed(_desired({"Y": "1"}), _obs({"X": 125, "Y": 10}, {"X": 1}, [BUY], cash=100))
    assert got.symbols["X"].hold


def test_a_sale_of_half_a_share_closing_only_a_gain_goes_ahead_after_a_buy() -> None:
    """Half a share of X bought at $100 in 2020, now $125: the ledger covers it and the sale gains."""
    lots = [HeldLot("X", date(2020, 3, 2), D("0.5"), D(50))]
    _, notes = washed(_desired({"Y": "1"}), _obs({"X": 125, "Y": 10}, {"X": D("0.5")}, [BUY], lots))
    assert notes == []


def test_lots_of_other_symbols_do_not_stop_a_sale_closing_only_gains() -> None:
    lots = [HeldLot("X", date(2020, 3, 2), D(300), D(3000)), HeldLot("Y", date(2020, 3, 2), D(10), D(50))]
    _, notes = washed(_desired({"Y": "1"}), _obs({"X": 125, "Y": 10}, {"X": 300, "Y": 10}, [BUY], lots))
    assert notes == []


def test_an_emptied_lot_in_the_ledger_does_not_stop_the_guard() -> None:
    lots = [HeldLot("X", date(2019, 1, 2), D(0), D(0)), HeldLot("X", date(2020, 3, 2), D(300), D(3000))]
    _, notes = washed(_desired({"Y": "1"}), _obs({"X": 125, "Y": 10}, {"X": 300}, [BUY], lots))
    assert notes == []


def test_a_sale_the_ledger_covers_only_in_part_is_held_though_its_known_lots_gain() -> None:
    """The ledger knows 100 of the 300 units held, all at a gain: the rest could be at a loss."""
    lots = [HeldLot("X", date(2020, 3, 2), D(100), D(1000))]
    got, _ = washed(_desired({"Y": "1"}), _obs({"X": 125, "Y": 10}, {"X": 300}, [BUY], lots))
    assert got.symbols["X"].hold


def test_a_sale_closing_a_lot_at_a_loss_of_cents_is_held_though_another_lot_gains_more() -> None:
    """Publication 550's blocks: a 40-cent loss on one lot is a wash sale, whatever the 50-cent gain beside
    it."""
    lots = [HeldLot("X", date(2020, 3, 2), D(1), D("125.40")),
            HeldLot("X", date(2020, 6, 1), D(1), D("124.50"))]
    got, _ = washed(_desired({"Y": "1"}), _obs({"X": 125, "Y": 10}, {"X": 2}, [BUY], lots, cash=100))
    assert got.symbols["X"].hold


# --- which holdings are held back, and which buys refused ---------------------------------------------------

def test_a_holding_exactly_on_its_target_is_not_held_back() -> None:
    """X at exactly 50% (its lots unknown, so any sale would count as a loss): nothing sold, nothing held."""
    _, notes = washed(_desired(HALF), _obs({"X": 10, "Y": 10}, {"X": 10, "Y": 10}, [BUY]))
    assert notes == []


def test_a_holding_exactly_on_its_target_is_not_refused_its_buy() -> None:
    """X at exactly 50%, sold at a loss 20 days ago: nothing is bought, so nothing is refused."""
    _, notes = washed(_desired(HALF), _obs({"X": 10, "Y": 10}, {"X": 10, "Y": 10}, [LOSS_SALE]))
    assert notes == []


def test_a_holding_over_its_target_is_not_barred_from_selling_by_a_recent_loss_sale() -> None:
    """X over its target, part of it sold at a loss last week: selling more is no wash sale; X may trade."""
    got, _ = washed(_desired(HALF), _obs({"X": 10, "Y": 10}, {"X": 30, "Y": 10}, [LOSS_SALE]))
    assert "X" not in got.symbols


def test_only_the_units_over_the_target_are_judged_for_a_loss() -> None:
    """FIFO: 100 X at a gain then 100 at a loss; a sale of the 150 over the target reaches the losing lot."""
    lots = [HeldLot("X", date(2020, 3, 2), D(100), D(5000)), HeldLot("X", date(2023, 9, 1), D(100), D(15000))]
    got, _ = washed(_desired({"X": "0.125", "Y": "0.875"}, lots="fifo"),
                    _obs({"X": 100, "Y": 100}, {"X": 200, "Y": 200}, [BUY], lots))
    assert got.symbols["X"].hold


def test_on_margin_only_the_units_over_a_whole_portfolio_target_are_judged() -> None:
    """X is the whole target, held at 125% on a debit balance: the 60 units sold close the old lot at a gain
    (FIFO), not the newer lot at a loss, so the sale goes ahead after a buy."""
    lots = [HeldLot("X", date(2020, 3, 2), D(60), D(6000)), HeldLot("X", date(2023, 9, 1), D(240), D(36000))]
    _, notes = washed(_desired({"X": "1"}, lots="fifo"),
                      _obs({"X": 125}, {"X": 300}, [BUY], lots, cash=-7500))
    assert notes == []


def test_a_holding_whose_sale_is_no_wash_sale_does_not_stop_the_next_hold() -> None:
    """A (sorted first) is over its target with no buy of it; X after it is over its target, bought last
    fortnight."""
    got, _ = washed(_desired({"Y": "1"}),
                    _obs({"A": 10, "X": 125, "Y": 10}, {"A": 5, "X": 300}, [BUY], cash=100))
    assert got.symbols["X"].hold


def test_a_buy_switched_to_its_substitute_does_not_stop_the_next_refusal() -> None:
    """BND (sorted first), sold at a loss three days ago, is bought as AGG instead; VTI after it, sold at a
    loss last week with no substitute, is still refused."""
    bnd = TradeEvent("spouse", "BND", _ago(3), "sell", D(-20))
    d = _desired({"BND": "0.4", "VTI": "0.6"}, substitutes=[["BND", "AGG"]])
    got, _ = washed(d, _obs({"VTI": 200, "BND": 50, "AGG": 50}, {}, [bnd, VTI_LOSS], cash=10000))
    assert got.symbols["VTI"].do_not_trade


# --- a substitutes group's target ---------------------------------------------------------------------------

TARGETS = {"VTI": "0.6", "BND": "0.4"}
PRICES = {"VTI": 200, "ITOT": 100, "BND": 50, "AGG": 50, "QQQ": 400, "QQQM": 200}


def test_a_group_none_of_whose_members_is_a_target_gets_no_target() -> None:
    d = _desired(TARGETS, substitutes=[["QQQ", "QQQM"]])
    assert washed(d, _obs(PRICES, {"QQQM": 5, "VTI": 30, "BND": 80})) == (d, [])


def test_a_group_without_a_target_does_not_stop_the_next_group_from_sharing_its_target() -> None:
    d = _desired(TARGETS, substitutes=[["QQQ", "QQQM"], ["VTI", "ITOT"]])
    got, _ = washed(d, _obs(PRICES, {"ITOT": 60, "BND": 80}))
    assert (got.targets.get("VTI"), got.targets.get("ITOT")) == (None, D("0.6"))


def test_a_group_whose_members_are_all_targets_is_shared_by_the_value_held() -> None:
    """VTI and ITOT both named at 30%, held 2,000 and 1,000: the group's 60% is held 40% and 20%."""
    d = _desired({"VTI": "0.3", "ITOT": "0.3", "BND": "0.4"}, substitutes=SUBS)
    got, _ = washed(d, _obs(PRICES, {"VTI": 10, "ITOT": 10, "BND": 40}))
    assert (got.targets["VTI"], got.targets["ITOT"]) == (D("0.4"), D("0.2"))


def test_a_group_held_as_its_targets_say_changes_nothing() -> None:
    d = _desired({"VTI": "0.4", "ITOT": "0.2", "BND": "0.4"}, substitutes=SUBS)
    assert washed(d, _obs(PRICES, {"VTI": 10, "ITOT": 10, "BND": 40})) == (d, [])


def test_a_group_held_as_its_targets_say_does_not_stop_the_next_group() -> None:
    d = _desired({"VTI": "0.4", "ITOT": "0.2", "BND": "0.4"}, substitutes=[["VTI", "ITOT"], ["BND", "AGG"]])
    got, _ = washed(d, _obs(PRICES, {"VTI": 10, "ITOT": 10, "AGG": 40}))
    assert (got.targets.get("BND"), got.targets.get("AGG")) == (None, D("0.4"))


def test_a_group_held_by_its_one_target_does_not_stop_the_next_group() -> None:
    d = _desired(TARGETS, substitutes=[["BND", "AGG"], ["VTI", "ITOT"]])
    got, _ = washed(d, _obs(PRICES, {"ITOT": 60, "BND": 80}))
    assert (got.targets.get("VTI"), got.targets.get("ITOT")) == (None, D("0.6"))


def test_a_member_held_for_less_than_a_dollar_still_holds_the_groups_target() -> None:
    """0.005 ITOT (50 cents' worth) and no VTI: the group's 60% is held by ITOT."""
    got, _ = washed(_desired(TARGETS, substitutes=SUBS),
                    _obs(PRICES, {"ITOT": D("0.005"), "BND": 80}))
    assert (got.targets.get("VTI"), got.targets.get("ITOT")) == (None, D("0.6"))


# --- harvesting ---------------------------------------------------------------------------------------------

HARVEST_PRICES = {"VTI": 200, "ITOT": 100, "BND": 50, "AGG": 50}


def test_a_holding_marked_hold_is_never_harvested() -> None:
    d = _with_rules(_desired(TARGETS, substitutes=SUBS, harvest=Harvest(min_loss=D(1000))),
                    VTI=SymbolRule(hold=True))
    got, _ = washed(d, _obs(HARVEST_PRICES, {"VTI": 100, "BND": 267}, [], VTI_LOT))
    assert got.targets == d.targets


def test_a_holding_marked_hold_does_not_stop_the_next_harvest() -> None:
    """BND (sorted first) is at a harvestable loss but marked hold; VTI after it is harvested."""
    d = _with_rules(_desired(TARGETS, substitutes=TWO_GROUPS, harvest=Harvest(min_loss=D(1000))),
                    BND=SymbolRule(hold=True))
    got, _ = washed(d, _obs(HARVEST_PRICES, {"VTI": 100, "BND": 100}, [], [*VTI_LOT, BND_LOT]))
    assert ("VTI" in got.targets, got.targets.get("ITOT")) == (False, D("0.6"))


# --- the household's facts ----------------------------------------------------------------------------------

def test_the_households_trades_cannot_be_changed_once_observed() -> None:
    """Apply re-derives the plan from the observation as journaled: nothing may rewrite what the guard saw."""
    home = Household(name="smith", accounts=["taxable", "ira"])
    with pytest.raises(ValidationError):
        home.trades = [LOSS_SALE]  # type: ignore[misc]
