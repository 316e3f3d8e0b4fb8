"""The planner's smaller rules, each at its edge: rounding to the quantity step, what a budget affords, the
minimum trade and the cost cap, sizing net of costs, and the inner band.

Expected orders are computed by hand in the comments. Unless a test says otherwise: whole shares, no costs.
"""

from __future__ import annotations

from decimal import Decimal

import pytest

from reconciler.core.models import CostModel, PortfolioPlan
from reconciler.core.planner import affordable_quantity, floor_to_step, plan_portfolio
from reconciler.core.rules import Bands, Commission, SymbolRule, Trading
from tests.builders import desired, observation

D = Decimal


def orders(plan: PortfolioPlan) -> list[tuple[str, str, Decimal]]:
    return [(a.side, a.symbol, a.quantity) for a in plan.actions]


@pytest.mark.parametrize(
    ("quantity", "step", "floored"),
    [("-1.5", "1", "0"), ("0", "1", "0"), ("0.9999", "1", "0"), ("1", "1", "1"), ("7.99", "0.5", "7.5"),
     ("3.3339", "0.001", "3.333")],
)
def test_floor_to_step(quantity: str, step: str, floored: str) -> None:
    assert floor_to_step(D(quantity), D(step)) == D(floored)


def test_what_a_budget_affords_with_commissions() -> None:
    # $1,000 at $10, 10 bps slippage, $5 an order and 1 cent a share: (1,000 - 5) / (10 × 1.001 + 0.01) =
    # 99.30 → 99.
    costs = CostModel(slippage_bps=D(10), commission=Commission(per_order=D(5), per_share=D("0.01")))
    assert affordable_quantity(D(1000), D(10), costs, D(1)) == D(99)


@pytest.mark.parametrize(("budget", "affords"), [("4.99", "0"), ("5", "0"), ("15", "1"), ("14.99", "0")])
def test_a_budget_pays_the_order_commission_first(budget: str, affords: str) -> None:
    # $5 an order: a budget of $5 or less buys nothing; $15 buys exactly one share at $10.
    costs = CostModel(commission=Commission(per_order=D(5)))
    assert affordable_quantity(D(budget), D(10), costs, D(1)) == D(affords)


def test_half_a_dollar_past_the_commission_buys_a_fifty_cent_share() -> None:
    costs = CostModel(commission=Commission(per_order=D(5)))
    assert affordable_quantity(D("5.5"), D("0.5"), costs, D(1)) == D(1)


def test_the_commission_rounding_step_is_budgeted_as_fixed_cost() -> None:
    costs = CostModel(commission=Commission(per_order=D(5)), commission_step=D("0.01"))
    assert affordable_quantity(D(15), D(10), costs, D(1)) == D(0)


@pytest.mark.parametrize(("minimum", "traded"), [("999.99", True), ("1000", True), ("1000.01", False)])
def test_a_buy_at_exactly_the_minimum_trade_is_sent(minimum: str, traded: bool) -> None:
    # All cash, $1,000: A at $100 buys 10 ($1,000.00).
    plan = plan_portfolio(desired({"A": "1"}, trading=Trading(min_trade_notional=D(minimum))),
                          observation({"A": "100"}, settled="1000"), CostModel())
    assert (orders(plan) == [("buy", "A", D(10))]) == traded


def test_a_buy_under_the_minimum_says_so() -> None:
    plan = plan_portfolio(desired({"A": "1"}, trading=Trading(min_trade_notional=D("1000.01"))),
                          observation({"A": "100"}, settled="1000"), CostModel())
    assert "A: buy of 10 ($1,000.00) is under the minimum trade; skipped" in plan.notes


@pytest.mark.parametrize(("minimum", "traded"), [("2000", True), ("2000.01", False)])
def test_a_sell_at_exactly_the_minimum_trade_is_sent(minimum: str, traded: bool) -> None:
    # A 70% / B 30% at $100: sell A 20 ($2,000) back to 50%.
    plan = plan_portfolio(desired({"A": "0.5", "B": "0.5"}, trading=Trading(min_trade_notional=D(minimum),
                                                                              use_sale_proceeds=False)),
                          observation({"A": "100", "B": "100"}, {"A": "70", "B": "30"}), CostModel())
    assert (orders(plan) == [("sell", "A", D(20))]) == traded


def test_an_unwanted_holding_is_sold_in_full_however_small() -> None:
    # OLD ($40) is under a $1,000 minimum trade, but a symbol leaves the account whole.
    plan = plan_portfolio(desired({"A": "1"}, trading=Trading(min_trade_notional=D(1000))),
                          observation({"A": "100", "OLD": "40"}, {"A": "90", "OLD": "1"}), CostModel())
    assert orders(plan) == [("sell", "OLD", D(1))]


@pytest.mark.parametrize(("cap", "traded"), [("0.0501", True), ("0.05", True), ("0.0499", False)])
def test_a_buy_whose_costs_are_exactly_the_cap_is_sent(cap: str, traded: bool) -> None:
    # $1,050 of cash, A at $100, $50 an order: (1,050 - 50) / 100 = 10 shares ($1,000), commission $50: 5% of
    # it.
    plan = plan_portfolio(desired({"A": "1"}, trading=Trading(max_cost_fraction=D(cap))),
                          observation({"A": "100"}, settled="1050"),
                          CostModel(commission=Commission(per_order=D(50))))
    assert (orders(plan) == [("buy", "A", D(10))]) == traded


def test_a_sell_whose_costs_pass_the_cap_is_skipped_and_says_so() -> None:
    # Sell A 20 ($2,000) with a $101 commission: 5.05% > 5%.
    plan = plan_portfolio(desired({"A": "0.5", "B": "0.5"}, trading=Trading(use_sale_proceeds=False)),
                          observation({"A": "100", "B": "100"}, {"A": "70", "B": "30"}),
                          CostModel(commission=Commission(per_order=D(101))))
    assert orders(plan) == []
    assert "A: selling 20 would cost more than 5% of its value; skipped" in plan.notes


def test_slippage_counts_against_the_cost_cap() -> None:
    # 600 bps of slippage alone is 6% of any trade: above the 5% cap, whatever the commission.
    plan = plan_portfolio(desired({"A": "1"}), observation({"A": "100"}, settled="1000"),
                          CostModel(slippage_bps=D(600)))
    assert orders(plan) == []


def test_a_sells_proceeds_are_counted_net_of_slippage_commission_and_rounding() -> None:
    # Sell A 20 at $100 with 10 bps slippage, $1 an order, a 1-cent tick and a 1-cent commission step. At
    # worst it raises 2,000 × 0.999 - 1 - 20 × 0.01 - 0.01 = 1,996.79; B (target 50%, $3,000) gets 1,996.79 of
    # buys at 100 × 1.001 + 0.01 = 100.11 a share, after $1.01 of fixed costs: 19.93 → 19 shares.
    costs = CostModel(slippage_bps=D(10), commission=Commission(per_order=D(1)), price_tick=D("0.01"),
                      commission_step=D("0.01"))
    plan = plan_portfolio(desired({"A": "0.5", "B": "0.5"}), observation({"A": "100", "B": "100"},
                                                                         {"A": "70", "B": "30"}), costs)
    assert orders(plan) == [("sell", "A", D(20)), ("buy", "B", D(19))]
    # Cash after: what the sale raises at worst, less what the buy is expected to cost: 19 × 100 × 1.001 + $1.
    assert plan.cash_after == D("1996.79") - D("1902.90")


def test_net_of_costs_sells_enough_to_raise_the_gap_after_costs() -> None:
    # A is $2,000 over. Net of costs (10 bps slippage; commission 10 bps, 1 cent a share and $1 an order;
    # fractional to 0.0001): each share raises 100 × 0.999 × 0.999 - 0.01 = 99.7901, and the order pays $1:
    # (2,000 + 1) / 99.7901 = 20.05208… → 20.0520.
    trading = Trading(order_sizing="net_of_costs", fractional=True, use_sale_proceeds=False)
    costs = CostModel(
        slippage_bps=D(10), commission=Commission(per_order=D(1), per_share=D("0.01"), bps=D(10))
    )
    plan = plan_portfolio(desired({"A": "0.5", "B": "0.5"}, trading=trading),
                          observation({"A": "100", "B": "100"}, {"A": "70", "B": "30"}), costs)
    assert orders(plan) == [("sell", "A", D("20.0520"))]


def test_net_of_costs_buys_spend_the_gap_with_their_costs() -> None:
    # $1,000 of cash, A at $100 with 10 bps slippage; commission 10 bps, 1 cent a share and $1 an order: each
    # share costs 100 × 1.001 × 1.001 + 0.01 = 100.2101 and the order $1: (1,000 - 1) / 100.2101 = 9.969… →
    # 9.96.
    trading = Trading(order_sizing="net_of_costs", fractional=True, quantity_step=D("0.01"))
    costs = CostModel(
        slippage_bps=D(10), commission=Commission(per_order=D(1), per_share=D("0.01"), bps=D(10))
    )
    plan = plan_portfolio(
        desired({"A": "1"}, trading=trading), observation({"A": "100"}, settled="1000"), costs
    )
    assert orders(plan) == [("buy", "A", D("9.96"))]


def test_net_of_costs_sells_nothing_when_costs_eat_the_price() -> None:
    # A at 1 cent with a 1-cent commission a share: a share raises nothing (or less), so no quantity closes
    # the gap.
    trading = Trading(
        order_sizing="net_of_costs", fractional=True, use_sale_proceeds=False, max_cost_fraction=D(1)
    )
    costs = CostModel(commission=Commission(per_share=D("0.01")))
    plan = plan_portfolio(desired({"A": "0.5", "B": "0.5"}, trading=trading),
                          observation({"A": "0.01", "B": "0.01"}, {"A": "70000", "B": "30000"}), costs)
    assert orders(plan) == []


def test_net_of_costs_sells_a_one_dollar_stock() -> None:
    # A at $1 is $200 over; no costs: 200 shares either way.
    trading = Trading(order_sizing="net_of_costs", use_sale_proceeds=False)
    plan = plan_portfolio(desired({"A": "0.5", "B": "0.5"}, trading=trading),
                          observation({"A": "1", "B": "1"}, {"A": "700", "B": "300"}), CostModel())
    assert orders(plan) == [("sell", "A", D(200))]


def test_the_inner_band_sends_short_cash_only_to_target() -> None:
    # Inner 0.5 moves a holding beyond its band to the band's inner edge, but cash short of its band sells
    # holdings inside theirs (A here: 47% against 45%) to target, not past it: A sells 200 of 4,700.
    trading = Trading(bands=Bands(inner=D("0.5")))
    plan = plan_portfolio(desired({"A": "0.45", "B": "0.45"}, cash="0.10", trading=trading),
                          observation({"A": "1", "B": "1"}, {"A": "4700", "B": "4500"}, settled="800"),
                          CostModel())
    assert orders(plan) == []
    short = plan_portfolio(desired({"A": "0.45", "B": "0.45"}, cash="0.10", trading=trading),
                           observation({"A": "1", "B": "1"}, {"A": "4700", "B": "4600"}, settled="700"),
                           CostModel())
    assert orders(short) == [("sell", "A", D(200)), ("sell", "B", D(100))]


def test_a_protected_holding_outside_the_targets_is_valued_and_set_aside() -> None:
    # KEEP (do_not_trade, not a target) is worth $5,000 and stays out of the weights; A and cash make $5,000.
    plan = plan_portfolio(desired({"A": "1"}, symbols={"KEEP": SymbolRule(do_not_trade=True)}),
                          observation({"A": "100", "KEEP": "50"}, {"A": "40", "KEEP": "100"}, settled="1000"),
                          CostModel())
    assert orders(plan) == [("buy", "A", D(10))]
    assert "KEEP ($5,000.00) kept aside by hold/do_not_trade; weights are of the rest" in plan.notes


def test_a_closed_market_is_noted_when_there_are_orders() -> None:
    from reconciler.core.models import MarketStatus

    obs = observation({"A": "100"}, settled="1000")
    closed = obs.model_copy(update={"market": MarketStatus(is_open=False, source="XNYS calendar")})
    plan = plan_portfolio(desired({"A": "1"}), closed, CostModel())
    assert any(n.startswith("the market was closed when observed (XNYS calendar)") for n in plan.notes)
    open_ = obs.model_copy(update={"market": MarketStatus(is_open=True, source="XNYS calendar")})
    assert not any(
        "market was closed" in n for n in plan_portfolio(desired({"A": "1"}), open_, CostModel()).notes
    )


def test_a_commission_in_basis_points_is_charged_on_the_slipped_fill() -> None:
    # 100 bps of slippage, 10 bps of commission. A buy of 10 at $100 fills at 101: 10 bps of 1,010 = 1.01; a
    # sale fills at 99: 0.99.
    costs = CostModel(slippage_bps=D(100), commission=Commission(bps=D(10)))
    trading = Trading(max_cost_fraction=D("0.5"), use_sale_proceeds=False)
    buy = plan_portfolio(
        desired({"A": "1"}, trading=trading), observation({"A": "100"}, settled="1050"), costs
    )
    assert [(a.side, a.quantity, a.est_commission) for a in buy.actions] == [("buy", D(10), D("1.01"))]
    sell = plan_portfolio(desired({"A": "0.5", "B": "0.5"}, trading=trading),
                          observation({"A": "100", "B": "100"}, {"A": "60", "B": "40"}), costs)
    assert [(a.side, a.quantity, a.est_commission) for a in sell.actions] == [("sell", D(10), D("0.99"))]


def test_one_share() -> None:
    plan = plan_portfolio(desired({"A": "1"}), observation({"A": "100"}, settled="100"), CostModel())
    assert orders(plan) == [("buy", "A", D(1))]


def test_a_second_buy_gets_what_the_first_left_after_its_fixed_cost() -> None:
    # All cash, $1,009; A and B 50% each at $100, $5 an order. A (first by name) wants 504.5 / 100 → 5: it
    # takes 5 × 100 + 5 = 505, leaving 504; B affords (504 - 5) / 100 = 4.99 → 4.
    plan = plan_portfolio(
        desired({"A": "0.5", "B": "0.5"}),
        observation({"A": "100", "B": "100"}, settled="1009"),
        CostModel(commission=Commission(per_order=D(5))),
    )
    assert orders(plan) == [("buy", "A", D(5)), ("buy", "B", D(4))]


def test_a_short_budget_goes_to_the_most_underweight_whatever_its_target() -> None:
    # Equity $10,000 with $1,000 of cash (10% against 0, so spare cash buys every underweight line). A is 0%
    # against 10% (-10%), B 45% against 60% (-15%): B first, although its target is the larger, and it takes
    # the whole $1,000 (10 of the 15 it wants); nothing is left for A. buy_only keeps C (45% against 30%).
    plan = plan_portfolio(
        desired({"A": "0.1", "B": "0.6", "C": "0.3"}, trading=Trading(buy_only=True)),
        observation({"A": "100", "B": "100", "C": "100"}, {"B": "45", "C": "45"}, settled="1000"),
        CostModel(),
    )
    assert orders(plan) == [("buy", "B", D(10))]


def test_cash_reserved_by_open_orders_counts_against_the_cash_target() -> None:
    # Targets A 90%, cash 10% of $10,000. Settled $5,000, $3,000 of it reserved: spendable $2,000, but only
    # 5,000 - 3,000 - 1,000 = $1,000 is above the cash target: A buys 10.
    plan = plan_portfolio(desired({"A": "0.9"}, cash="0.1"),
                          observation({"A": "100"}, {"A": "50"}, settled="5000", reserved="3000"),
                          CostModel())
    assert orders(plan) == [("buy", "A", D(10))]


def test_a_do_not_trade_symbol_is_never_bought() -> None:
    plan = plan_portfolio(desired({"A": "0.5", "B": "0.5"}, symbols={"B": SymbolRule(do_not_trade=True)}),
                          observation({"A": "100", "B": "100"}, settled="1000"), CostModel())
    assert orders(plan) == [("buy", "A", D(5))]


def test_a_rule_on_one_symbol_does_not_stop_the_others_selling() -> None:
    plan = plan_portfolio(
        desired({"A": "0.5", "B": "0.4", "C": "0.1"}, symbols={"C": SymbolRule(hold=True)}, trading=Trading(
            use_sale_proceeds=False)),
        observation({"A": "100", "B": "100", "C": "100"}, {"A": "70", "B": "20", "C": "10"}), CostModel(),
    )
    assert orders(plan) == [("sell", "A", D(20))]


def test_the_inner_band_is_not_used_when_spare_cash_buys_a_holding_inside_its_band() -> None:
    # Inner 0.5; cash 20% against 0 (beyond its 5%): A (40% against 45%, inside its band) is bought to target,
    # 4,500 - 4,000 = 500, not to the inner edge; B at 40% against 55%, beyond its band, to its inner edge:
    # 55% - 0.5 × 5% = 52.5%: 5,250 - 4,000 = 1,250. B first (most underweight): 1,250, then A 500.
    trading = Trading(bands=Bands(inner=D("0.5")))
    plan = plan_portfolio(desired({"A": "0.45", "B": "0.55"}, trading=trading),
                          observation({"A": "1", "B": "1"}, {"A": "4000", "B": "4000"}, settled="2000"),
                          CostModel())
    assert orders(plan) == [("buy", "B", D(1250)), ("buy", "A", D(500))]


def test_a_holding_exactly_on_target_is_not_a_candidate_for_spare_cash() -> None:
    # Cash 20% against 0: A is on its target and must not be bought, nor noted as underweight.
    plan = plan_portfolio(desired({"A": "0.5", "B": "0.5"}),
                          observation({"A": "1", "B": "1"}, {"A": "5000", "B": "3000"}, settled="2000"),
                          CostModel())
    assert orders(plan) == [("buy", "B", D(2000))]
    assert plan.notes == []


@pytest.mark.parametrize(("unsettled", "noted"), [("0", False), ("0.50", True)])
def test_unsettled_cash_is_noted_when_something_is_bought(unsettled: str, noted: bool) -> None:
    plan = plan_portfolio(desired({"A": "1"}), observation({"A": "100"}, settled="1000", unsettled=unsettled),
                          CostModel())
    assert (
        f"${Decimal(unsettled):,.2f} of unsettled cash is not spent until it settles" in plan.notes
    ) == noted


@pytest.mark.parametrize(("minimum", "noted"), [("0", True), ("500", True), ("500.01", False)])
def test_underweight_with_no_cash_left_is_noted_down_to_the_minimum_trade(minimum: str, noted: bool) -> None:
    # buy_only, all cash spent on C first; B wanted 5 more ($500) and gets none.
    plan = plan_portfolio(
        desired(
            {"A": "0.4", "B": "0.3", "C": "0.3"},
            trading=Trading(buy_only=True, min_trade_notional=D(minimum)),
        ),
        observation({"A": "100", "B": "100", "C": "100"}, {"A": "55", "B": "25", "C": "10"}, settled="1000"),
        CostModel(),
    )
    assert ("B: underweight but no spendable cash left for it" in plan.notes) == noted


@pytest.mark.parametrize(("minimum", "noted"), [("0", True), ("2000", True), ("2000.01", False)])
def test_a_gap_under_one_step_is_noted_down_to_the_minimum_trade(minimum: str, noted: bool) -> None:
    # Step 100 shares at $50 ($5,000): A is $2,000 over, B $2,000 under; neither can trade.
    trading = Trading(fractional=True, quantity_step=D(100), min_trade_notional=D(minimum))
    plan = plan_portfolio(desired({"A": "0.5", "B": "0.5"}, trading=trading),
                          observation({"A": "50", "B": "50"}, {"A": "140", "B": "60"}), CostModel())
    assert ("A: overweight by $2,000.00, less than one quantity step (100)" in plan.notes) == noted
    assert ("B: underweight by $2,000.00, less than one quantity step (100)" in plan.notes) == noted


def test_a_holding_above_a_target_of_one_on_borrowed_cash_sells_under_the_minimum_rule() -> None:
    # A is 110 at $100 with -$1,000 of cash: equity $10,000, A at 110% against 100%. The $1,000 sale is under
    # a $2,000 minimum trade: skipped (A is a target, not an unwanted holding sold in full).
    plan = plan_portfolio(desired({"A": "1"}, trading=Trading(min_trade_notional=D(2000))),
                          observation({"A": "100"}, {"A": "110"}, settled="-1000"), CostModel())
    assert orders(plan) == []
    assert "A: sell of 10 ($1,000.00) is under the minimum trade; skipped" in plan.notes


def test_a_sell_too_small_for_a_whole_share_does_not_stop_the_next_symbol() -> None:
    # Cash 4% against 10% (band 2.5%): every overweight line sells. A ($1,000 a share) is $500 over: not one
    # share; B ($1) is $100 over: it sells 100 all the same.
    plan = plan_portfolio(desired({"A": "0.45", "B": "0.45"}, cash="0.10"),
                          observation({"A": "1000", "B": "1"}, {"A": "5", "B": "4600"}, settled="400"),
                          CostModel())
    assert orders(plan) == [("sell", "B", D(100))]


def test_a_sell_under_the_minimum_does_not_stop_the_next_symbol() -> None:
    # A is $600 over (31% against 25%), under a $1,000 minimum trade: skipped. B, $2,000 over, still sells.
    plan = plan_portfolio(
        desired({"A": "0.25", "B": "0.25", "C": "0.5"}, trading=Trading(min_trade_notional=D(1000),
                                                                         use_sale_proceeds=False)),
        observation({"A": "1", "B": "1", "C": "1"}, {"A": "3100", "B": "4500", "C": "2400"}), CostModel(),
    )
    assert orders(plan) == [("sell", "B", D(2000))]


def test_a_target_of_one_overweight_on_borrowed_cash_by_less_than_a_step_says_so() -> None:
    # A: 1,100 at $10 with -$1,000 of cash: 110% against 100%, $1,000 over, but the step is 1,000 shares.
    trading = Trading(fractional=True, quantity_step=D(1000))
    plan = plan_portfolio(desired({"A": "1"}, trading=trading),
                          observation({"A": "10"}, {"A": "1100"}, settled="-1000"), CostModel())
    assert orders(plan) == []
    assert "A: overweight by $1,000.00, less than one quantity step (1000)" in plan.notes


def test_one_share_wanted_and_no_cash_left_says_so() -> None:
    # buy_only, no cash: B (4 at $100 of a $1,000 account, 40% against 50%) wants one share it cannot pay for.
    plan = plan_portfolio(desired({"A": "0.5", "B": "0.5"}, trading=Trading(buy_only=True)),
                          observation({"A": "100", "B": "100"}, {"A": "6", "B": "4"}), CostModel())
    assert orders(plan) == []
    assert "B: underweight but no spendable cash left for it" in plan.notes


def test_a_share_under_the_minimum_trade_is_not_explained_as_a_step() -> None:
    # B is $150 under (1.5 shares at $100: one whole share, $100), under a $120 minimum trade; no cash anyway.
    # Nothing to say: neither "no cash left" (the share is under the minimum) nor "less than one step" (it is
    # not).
    plan = plan_portfolio(
        desired({"A": "0.5", "B": "0.5"}, trading=Trading(buy_only=True, min_trade_notional=D(120))),
        observation({"A": "50", "B": "100"}, {"A": "13", "B": "3.5"}), CostModel(),
    )
    assert orders(plan) == []
    assert not [n for n in plan.notes if n.startswith("B:")]


def test_a_buy_too_small_for_a_whole_share_does_not_stop_the_next_symbol() -> None:
    # Cash 15% against 0: every underweight line buys. A ($5,000 a share) is $1,000 under, the most
    # underweight: not one share. B ($1) is $500 under: it buys 500 all the same.
    plan = plan_portfolio(desired({"A": "0.5", "B": "0.5"}),
                          observation({"A": "5000", "B": "1"}, {"A": "0.8", "B": "4500"}, settled="1500"),
                          CostModel())
    assert orders(plan) == [("buy", "B", D(500))]


def test_a_buy_under_the_minimum_does_not_stop_the_next_symbol() -> None:
    # A ($800 a share) is $1,000 under, the most underweight: one share, $800, under a $900 minimum trade. B
    # ($1) is $950 under: it buys 950.
    plan = plan_portfolio(desired({"A": "0.5", "B": "0.5"}, trading=Trading(min_trade_notional=D(900))),
                          observation({"A": "800", "B": "1"}, {"A": "5", "B": "4050"}, settled="1950"),
                          CostModel())
    assert orders(plan) == [("buy", "B", D(950))]
