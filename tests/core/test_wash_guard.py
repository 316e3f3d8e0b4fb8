"""The wash-sale guard in `plan` (core.wash_guard): the worked examples of IRS Publication 550's "Wash Sales"
section played through the planner, across a household's accounts, with substitutes, and a property: whatever
the household did, no buy inside a window gets through.

Examples encoded (Publication 550, "Wash Sales"; the first also as the IRS VITA case study,
https://apps.irs.gov/app/vita/content/10s/10_04_011.jsp):
- Example 1: buy 100 shares of X for $1,000, sell them for $750, and within 30 days buy 100 again for $800:
  the loss is disallowed. Here: the rebuy is not planned.
- The three blocks: 100 shares bought at $158, $100 and $95 a share, all 300 sold at $125 on December 23, 250
  bought back on January 6: the first block's $33 a share loss is disallowed, though the sale as a whole
  gained ("Loss from a wash sale of one block of stock or securities cannot be used to reduce any gains on
  identical blocks sold the same day", quoted at https://fairmark.com/investment-taxation/capital-gain/wash/
  same-day-rule/). Here: the rebuy is not planned, and neither is the sale when the buy came first.
- "If you sell stock and your spouse ... buys substantially identical stock, you also have a wash sale", and
  a purchase in the taxpayer's IRA counts (Revenue Ruling 2008-5): the household's accounts.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date, datetime, timedelta
from decimal import Decimal as D

from hypothesis import given, settings
from hypothesis import strategies as st

from reconciler.core.household import Household
from reconciler.core.ledger import HeldLot
from reconciler.core.models import CostModel, Desired, Observation, PortfolioPlan
from reconciler.core.planner import plan_portfolio
from reconciler.core.rules import SymbolRule, Trading
from reconciler.core.tax_rules import Harvest, TaxSettings
from reconciler.core.wash_guard import quoted_symbols, washed
from reconciler.core.wash_sale import TradeEvent
from tests.builders import NOW, desired, observation

TODAY = NOW.date()
HOME = ["ira", "spouse", "taxable"]
TRADING = Trading(fractional=True, quantity_step=D("0.0001"))


def _desired(targets: dict[str, str], account: str = "taxable", **tax: object) -> Desired:
    settings_ = TaxSettings(**{"lots": "hifo", "household": "smith", **tax})  # type: ignore[arg-type]
    return desired(targets, account=account, trading=TRADING).model_copy(update={"tax": settings_})


def _obs(prices: dict[str, int], positions: dict[str, int], trades: Sequence[TradeEvent] = (),
         lots: Sequence[HeldLot] = (), *, cash: int = 0, account: str = "taxable",
         taken_at: datetime = NOW) -> Observation:
    home = Household(name="smith", accounts=HOME, trades=list(trades))
    obs = observation(prices, positions, settled=cash, account=account, taken_at=taken_at)
    return obs.model_copy(update={"household": home, "lots": list(lots)})


def _plan(d: Desired, obs: Observation) -> PortfolioPlan:
    return plan_portfolio(d, obs, CostModel())


def _bought(pp: PortfolioPlan) -> set[str]:
    return {a.symbol for a in pp.actions if a.side == "buy"}


def _sold(pp: PortfolioPlan) -> set[str]:
    return {a.symbol for a in pp.actions if a.side == "sell"}


def _ago(days: int) -> date:
    return TODAY - timedelta(days=days)


# Example 1: 100 X bought for $1,000 and sold for $750 twenty days ago; the plan wants X back at $8.
LOSS_SALE = TradeEvent("taxable", "X", _ago(20), "sell", D(750) - D(1000))
HALF = {"X": "0.5", "Y": "0.5"}


def test_example_1_the_rebuy_within_30_days_of_the_loss_sale_is_not_planned() -> None:
    pp = _plan(_desired(HALF), _obs({"X": 8, "Y": 10}, {}, [LOSS_SALE], cash=1600))
    assert _bought(pp) == {"Y"}


def test_example_1_the_note_says_why_and_until_when() -> None:
    pp = _plan(_desired(HALF), _obs({"X": 8, "Y": 10}, {}, [LOSS_SALE], cash=1600))
    until = (LOSS_SALE.day + timedelta(days=31)).isoformat()
    assert (f"X: not bought until {until}: a buy would be a wash sale (sold at a loss in taxable on"
            f" {LOSS_SALE.day.isoformat()}, within 30 days; IRS Publication 550)") in pp.notes


def test_the_window_ends_31_days_after_the_last_loss_sale_found() -> None:
    later = TradeEvent("spouse", "X", _ago(5), "sell", D(-10))
    pp = _plan(_desired(HALF), _obs({"X": 8, "Y": 10}, {}, [LOSS_SALE, later], cash=1600))
    until = (later.day + timedelta(days=31)).isoformat()
    assert any(n.startswith(f"X: not bought until {until}: ") and "in spouse on" in n for n in pp.notes)


def test_example_1_on_the_31st_day_the_rebuy_is_planned() -> None:
    sale = TradeEvent("taxable", "X", _ago(31), "sell", D(-250))
    pp = _plan(_desired(HALF), _obs({"X": 8, "Y": 10}, {}, [sale], cash=1600))
    assert _bought(pp) == {"X", "Y"}


def test_a_rebuy_in_the_households_ira_is_not_planned() -> None:
    """Revenue Ruling 2008-5: the loss sale in the taxable account, the rebuy in the IRA."""
    pp = _plan(_desired(HALF, account="ira"),
               _obs({"X": 8, "Y": 10}, {}, [LOSS_SALE], cash=1600, account="ira"))
    assert _bought(pp) == {"Y"}


def test_a_rebuy_in_the_spouses_account_is_not_planned() -> None:
    pp = _plan(_desired(HALF, account="spouse"),
               _obs({"X": 8, "Y": 10}, {}, [LOSS_SALE], cash=1600, account="spouse"))
    assert _bought(pp) == {"Y"}


def test_a_loss_sale_outside_the_household_does_not_hold_a_buy_back() -> None:
    sale = TradeEvent("neighbour", "X", _ago(3), "sell", D(-250))
    pp = _plan(_desired(HALF), _obs({"X": 8, "Y": 10}, {}, [sale], cash=1600))
    assert _bought(pp) == {"X", "Y"}


def test_a_sale_at_a_gain_does_not_hold_a_buy_back() -> None:
    sale = TradeEvent("taxable", "X", _ago(3), "sell", D(250))
    pp = _plan(_desired(HALF), _obs({"X": 8, "Y": 10}, {}, [sale], cash=1600))
    assert _bought(pp) == {"X", "Y"}


def test_a_sale_the_journal_cannot_tell_the_result_of_holds_a_buy_back() -> None:
    sale = TradeEvent("taxable", "X", _ago(3), "sell")
    pp = _plan(_desired(HALF), _obs({"X": 8, "Y": 10}, {}, [sale], cash=1600))
    assert _bought(pp) == {"Y"}


def test_opting_out_plans_the_rebuy() -> None:
    pp = _plan(_desired(HALF, wash_sale=False), _obs({"X": 8, "Y": 10}, {}, [LOSS_SALE], cash=1600))
    assert _bought(pp) == {"X", "Y"}


# The three blocks: 100 X each at $158, $100 and $95, all 300 sold at $125 fourteen days ago (a net gain of
# $2,200, the first block a $3,300 loss); the plan wants X back.
BLOCKS = [HeldLot("X", date(2020, 3, 2), D(100), D(15800)), HeldLot("X", date(2020, 6, 1), D(100), D(10000)),
          HeldLot("X", date(2020, 9, 1), D(100), D(9500))]


def test_three_blocks_the_rebuy_after_the_sale_with_a_losing_block_is_not_planned() -> None:
    sale = TradeEvent("taxable", "X", _ago(14), "sell", D(-3300))  # the losing block's part
    pp = _plan(_desired(HALF), _obs({"X": 125, "Y": 10}, {}, [sale], cash=50000))
    assert _bought(pp) == {"Y"}


def test_three_blocks_the_sale_within_30_days_after_a_buy_is_not_planned() -> None:
    """The buy came first (in the IRA): selling all three blocks would close the $158 block at a loss."""
    buy = TradeEvent("ira", "X", _ago(14), "buy")
    pp = _plan(_desired({"Y": "1"}), _obs({"X": 125, "Y": 10}, {"X": 300}, [buy], BLOCKS))
    assert _sold(pp) == set()


def test_three_blocks_the_held_sale_is_explained() -> None:
    buy = TradeEvent("ira", "X", _ago(14), "buy")
    pp = _plan(_desired({"Y": "1"}), _obs({"X": 125, "Y": 10}, {"X": 300}, [buy], BLOCKS))
    until = (buy.day + timedelta(days=31)).isoformat()
    assert (f"X: not sold until {until}: a sale at a loss would be a wash sale (bought in ira on"
            f" {buy.day.isoformat()}, within 30 days; IRS Publication 550)") in pp.notes


def test_a_sale_closing_only_gains_after_a_buy_is_planned() -> None:
    gains = [HeldLot("X", date(2020, 3, 2), D(300), D(3000))]
    buy = TradeEvent("ira", "X", _ago(14), "buy")
    pp = _plan(_desired({"Y": "1"}), _obs({"X": 125, "Y": 10}, {"X": 300}, [buy], gains))
    assert _sold(pp) == {"X"}


def test_a_sale_the_ledger_does_not_cover_is_held_after_a_buy() -> None:
    buy = TradeEvent("ira", "X", _ago(14), "buy")
    pp = _plan(_desired({"Y": "1"}), _obs({"X": 125, "Y": 10}, {"X": 300}, [buy], BLOCKS[:2]))
    assert _sold(pp) == set()


# Substitutes: VTI sold at a loss last week; ITOT stands in for it.
VTI_LOSS = TradeEvent("ira", "VTI", _ago(7), "sell", D(-500))
SUBS = [["VTI", "ITOT"]]


def test_a_blocked_buy_buys_the_substitute_instead() -> None:
    pp = _plan(_desired({"VTI": "0.6", "BND": "0.4"}, substitutes=SUBS),
               _obs({"VTI": 200, "ITOT": 100, "BND": 50}, {}, [VTI_LOSS], cash=10000))
    assert _bought(pp) == {"ITOT", "BND"}


def test_the_substitute_buy_is_explained() -> None:
    pp = _plan(_desired({"VTI": "0.6", "BND": "0.4"}, substitutes=SUBS),
               _obs({"VTI": 200, "ITOT": 100, "BND": 50}, {}, [VTI_LOSS], cash=10000))
    until = (VTI_LOSS.day + timedelta(days=31)).isoformat()
    assert (f"VTI: buys ITOT instead until {until}: a buy of VTI would be a wash sale (sold at a loss in ira"
            f" on {VTI_LOSS.day.isoformat()}, within 30 days; IRS Publication 550)") in pp.notes


def test_a_substitute_in_its_own_window_is_not_bought_either() -> None:
    itot = TradeEvent("spouse", "ITOT", _ago(2), "sell", D(-10))
    pp = _plan(_desired({"VTI": "0.6", "BND": "0.4"}, substitutes=SUBS),
               _obs({"VTI": 200, "ITOT": 100, "BND": 50}, {}, [VTI_LOSS, itot], cash=10000))
    assert _bought(pp) == {"BND"}


def test_a_substitute_held_keeps_the_groups_target_and_is_not_sold_back() -> None:
    """After a swap, ITOT holds VTI's 60%: the plan neither sells ITOT nor buys VTI."""
    pp = _plan(_desired({"VTI": "0.6", "BND": "0.4"}, substitutes=SUBS),
               _obs({"VTI": 200, "ITOT": 100, "BND": 50}, {"ITOT": 60, "BND": 80}))
    assert pp.actions == []


# Harvesting: VTI bought at 250 now at 200 (a $5,000 loss on 100), min_loss 1000.
VTI_LOT = [HeldLot("VTI", date(2023, 11, 1), D(100), D(25000))]
HARVEST_PRICES = {"VTI": 200, "ITOT": 100, "BND": 50}
HARVEST_HELD = {"VTI": 100, "BND": 267}


def _harvesting(min_loss: int = 1000) -> Desired:
    return _desired({"VTI": "0.6", "BND": "0.4"}, substitutes=SUBS, harvest=Harvest(min_loss=D(min_loss)))


def test_harvest_sells_the_losing_holding() -> None:
    pp = _plan(_harvesting(), _obs(HARVEST_PRICES, HARVEST_HELD, [], VTI_LOT))
    assert _sold(pp) == {"VTI"}


def test_harvest_buys_the_substitute() -> None:
    pp = _plan(_harvesting(), _obs(HARVEST_PRICES, HARVEST_HELD, [], VTI_LOT))
    assert _bought(pp) == {"ITOT"}


def test_harvest_is_explained() -> None:
    pp = _plan(_harvesting(), _obs(HARVEST_PRICES, HARVEST_HELD, [], VTI_LOT))
    assert ("harvest: sells VTI at an unrealized loss of $5,000.00 (a lot past $1,000.00) and buys ITOT"
            " instead (tax.substitutes)") in pp.notes


def test_a_loss_under_the_threshold_is_not_harvested() -> None:
    pp = _plan(_harvesting(6000), _obs(HARVEST_PRICES, HARVEST_HELD, [], VTI_LOT))
    assert pp.actions == []


def test_harvest_waits_out_a_buy_within_30_days() -> None:
    buy = TradeEvent("spouse", "VTI", _ago(5), "buy")
    pp = _plan(_harvesting(), _obs(HARVEST_PRICES, HARVEST_HELD, [buy], VTI_LOT))
    assert pp.actions == []


def test_without_tax_settings_the_household_changes_nothing() -> None:
    d = desired(HALF, account="taxable", trading=TRADING)
    plain = observation({"X": 8, "Y": 10}, {}, settled=1600, account="taxable")
    guarded = _obs({"X": 8, "Y": 10}, {}, [LOSS_SALE], cash=1600)
    assert _plan(d, guarded).actions == _plan(d, plain).actions


def test_the_observation_quotes_the_substitutes_after_the_targets() -> None:
    d = _desired({"VTI": "0.6", "BND": "0.4"}, substitutes=[["VTI", "ITOT"], ["BND", "AGG"]])
    assert quoted_symbols(d) == ["VTI", "BND", "AGG", "ITOT"]


def test_without_tax_settings_the_observation_quotes_the_targets_alone() -> None:
    assert quoted_symbols(desired({"VTI": "0.6", "BND": "0.4"})) == ["VTI", "BND"]


def test_without_a_household_the_guard_changes_nothing() -> None:
    d = _desired(HALF)
    assert washed(d, observation({"X": 8, "Y": 10}, {}, settled=1600)) == (d, [])


def test_a_missing_quote_leaves_the_targets_to_the_planner_to_block() -> None:
    d = _desired(HALF)
    assert washed(d, _obs({"Y": 10}, {}, [LOSS_SALE], cash=1600)) == (d, [])


def test_a_blocked_buy_is_marked_do_not_trade() -> None:
    got, _ = washed(_desired(HALF), _obs({"X": 8, "Y": 10}, {}, [LOSS_SALE], cash=1600))
    assert got.symbols["X"].do_not_trade


def test_a_held_loss_sale_is_marked_hold() -> None:
    buy = TradeEvent("ira", "X", _ago(14), "buy")
    got, _ = washed(_desired({"Y": "1"}), _obs({"X": 125, "Y": 10}, {"X": 300}, [buy], BLOCKS))
    assert got.symbols["X"].hold


def test_the_substitute_takes_the_shortfall_alone() -> None:
    """VTI held at 30% of a 60% target: ITOT takes the 30 points missing, VTI keeps what it holds."""
    got, _ = washed(_desired({"VTI": "0.6", "BND": "0.4"}, substitutes=SUBS),
                    _obs({"VTI": 200, "ITOT": 100, "BND": 50}, {"VTI": 15, "BND": 80}, [VTI_LOSS], cash=3000))
    assert (got.targets["VTI"], got.targets["ITOT"]) == (D("0.3"), D("0.3"))


def test_the_split_note_names_the_members_held() -> None:
    _, notes = washed(_desired({"VTI": "0.6", "BND": "0.4"}, substitutes=SUBS),
                      _obs({"VTI": 200, "ITOT": 100, "BND": 50}, {"ITOT": 60, "BND": 80}))
    assert notes == [
        "substitutes VTI, ITOT: their 60% target is held as ITOT 60% (the members held, by value)"
    ]


def test_a_protected_substitute_is_not_bought_instead() -> None:
    rules = {"ITOT": SymbolRule(do_not_trade=True)}
    d = _desired({"VTI": "0.6", "BND": "0.4"}, substitutes=SUBS).model_copy(update={"symbols": rules})
    got, _ = washed(d, _obs({"VTI": 200, "ITOT": 100, "BND": 50}, {"BND": 80}, [VTI_LOSS], cash=6000))
    assert "ITOT" not in got.targets


def test_unsettled_cash_counts_in_the_equity_the_shortfall_is_measured_with() -> None:
    obs = _obs({"VTI": 200, "ITOT": 100, "BND": 50}, {"VTI": 15, "BND": 80}, [VTI_LOSS], cash=1500)
    obs = obs.model_copy(update={"cash_unsettled": D(1500)})
    got, _ = washed(_desired({"VTI": "0.6", "BND": "0.4"}, substitutes=SUBS), obs)
    assert (got.targets["VTI"], got.targets["ITOT"]) == (D("0.3"), D("0.3"))


def test_an_account_of_cents_is_guarded_too() -> None:
    got, _ = washed(_desired(HALF), _obs({"X": 8, "Y": 10}, {}, [LOSS_SALE]).model_copy(
        update={"cash_settled": D("0.5")}))
    assert got.symbols["X"].do_not_trade


def test_the_group_target_is_split_by_value_not_units() -> None:
    """10 VTI at 200 and 10 ITOT at 100: two thirds of the 60% on VTI."""
    got, _ = washed(_desired({"VTI": "0.6", "BND": "0.4"}, substitutes=SUBS),
                    _obs({"VTI": 200, "ITOT": 100, "BND": 50}, {"VTI": 10, "ITOT": 10, "BND": 40}))
    assert (got.targets["VTI"], got.targets["ITOT"]) == (D("0.4"), D("0.2"))


TWO_GROUPS = [["VTI", "ITOT"], ["BND", "AGG"]]
BND_LOT = HeldLot("BND", date(2023, 11, 1), D(100), D(8000))  # at 50: a 3,000 loss


def _two(trades: Sequence[TradeEvent], prices: dict[str, int] | None = None) -> Desired:
    d = _desired({"VTI": "0.6", "BND": "0.4"}, substitutes=TWO_GROUPS, harvest=Harvest(min_loss=D(1000)))
    quoted = prices or {"VTI": 200, "ITOT": 100, "BND": 50, "AGG": 50}
    got, _ = washed(d, _obs(quoted, {"VTI": 100, "BND": 100}, trades, [*VTI_LOT, BND_LOT]))
    return got


def test_a_harvest_held_by_the_guard_does_not_stop_the_next() -> None:
    """BND (sorted first) was bought last week: its harvest waits; VTI's goes ahead."""
    got = _two([TradeEvent("spouse", "BND", _ago(5), "buy")])
    assert ("BND" in got.targets, "VTI" in got.targets) == (True, False)


def test_a_harvest_without_a_substitute_does_not_stop_the_next() -> None:
    """AGG, BND's only substitute, has no quote: BND stays; VTI's harvest goes ahead."""
    got = _two([], {"VTI": 200, "ITOT": 100, "BND": 50})
    assert ("BND" in got.targets, "VTI" in got.targets) == (True, False)


def test_an_underweight_holding_is_never_held_back() -> None:
    """X under its target, bought last week, its lots unknown to the ledger: nothing to hold."""
    buy = TradeEvent("ira", "X", _ago(5), "buy")
    _, notes = washed(_desired(HALF), _obs({"X": 8, "Y": 10}, {"X": 10, "Y": 50}, [buy], cash=400))
    assert notes == []


def test_a_holding_skipped_does_not_stop_the_next_hold() -> None:
    """A (sorted first) is under its target; X after it is over it and its sale would close a loss."""
    buy = TradeEvent("ira", "X", _ago(14), "buy")
    got, _ = washed(_desired({"A": "0.5", "Y": "0.5"}),
                    _obs({"A": 10, "X": 125, "Y": 10}, {"A": 1, "X": 300}, [buy], BLOCKS))
    assert got.symbols["X"].hold


def test_a_partial_sale_closing_only_gains_goes_ahead_after_a_buy() -> None:
    """FIFO: a sale of the units over the target closes the old lot, at a gain; the new lot's loss stays."""
    lots = [HeldLot("X", date(2020, 3, 2), D(100), D(5000)), HeldLot("X", date(2023, 9, 1), D(100), D(15000))]
    buy = TradeEvent("ira", "X", _ago(14), "buy")
    _, notes = washed(_desired({"X": "0.45", "Y": "0.55"}, lots="fifo"),
                        _obs({"X": 125, "Y": 125}, {"X": 200, "Y": 200}, [buy], lots))
    assert notes == []


# The property: a household of three accounts, trades on random days, a plan in one of them.
events = st.builds(
    TradeEvent,
    account=st.sampled_from([*HOME, "neighbour"]),
    symbol=st.sampled_from(["A", "B", "C", "ITOT"]),
    day=st.integers(0, 60).map(_ago),
    side=st.sampled_from(["buy", "sell"]),
    gain=st.one_of(st.none(), st.integers(-50, 50).map(D)),
)


@settings(max_examples=150, deadline=None)
@given(
    trades=st.lists(events, max_size=12),
    weights=st.lists(st.integers(0, 40), min_size=3, max_size=3),
    held=st.lists(st.integers(0, 40), min_size=4, max_size=4),
    cash=st.integers(0, 3000),
    account=st.sampled_from(HOME),
    subs=st.booleans(),
)
def test_no_buy_inside_a_window_gets_through(
    trades: list[TradeEvent], weights: list[int], held: list[int], cash: int, account: str, subs: bool
) -> None:
    targets = {s: str(D(w) / 100) for s, w in zip(["A", "B", "C"], weights, strict=True)}
    d = _desired(targets, account=account, substitutes=[["A", "ITOT"]] if subs else [])
    positions = {s: q for s, q in zip(["A", "B", "C", "ITOT"], held, strict=True) if q}
    pp = _plan(d, _obs({"A": 10, "B": 20, "C": 5, "ITOT": 12}, positions, trades, cash=cash, account=account))
    washed = {t.symbol for t in trades if t.account in HOME and t.side == "sell"
              and (t.gain is None or t.gain < 0) and (TODAY - t.day).days <= 30}
    assert _bought(pp) & washed == set()
