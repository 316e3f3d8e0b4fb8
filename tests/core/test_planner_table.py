"""The plan's before/after table, a blocked plan's valuation, and the batch form, pinned by hand-computed
values."""

from __future__ import annotations

import gc
from decimal import Decimal

import pytest

from reconciler.core.models import CostModel, Holding
from reconciler.core.planner import plan_many, plan_portfolio
from reconciler.core.rules import SymbolRule
from tests.builders import desired, observation

D = Decimal


def test_the_before_and_after_table_of_a_rebalance() -> None:
    # A 70 and B 20 at $100, $1,000 of cash: equity $10,000. Targets 50/50: sell A 20 ($2,000), then buy B
    # with the $3,000 of cash: 30 shares. After: A 50, B 50, no cash.
    plan = plan_portfolio(desired({"A": "0.5", "B": "0.5"}),
                          observation({"A": "100", "B": "100"}, {"A": "70", "B": "20"}, settled="1000"),
                          CostModel())
    assert [(a.side, a.symbol, a.quantity) for a in plan.actions] == [
        ("sell", "A", D(20)),
        ("buy", "B", D(30)),
    ]
    assert plan.holdings == [
        Holding("A", D(100), D(70), D(50), D("0.7"), D("0.5"), D("0.5"), D("0.05")),
        Holding("B", D(100), D(20), D(50), D("0.2"), D("0.5"), D("0.5"), D("0.05")),
    ]
    assert (plan.equity, plan.cash_before, plan.cash_after) == (D(10000), D(1000), D(0))
    assert (plan.cash_weight_before, plan.cash_weight_target, plan.cash_weight_after) == (
        D("0.1"),
        D(0),
        D(0),
    )
    assert (plan.sell_notional, plan.buy_notional) == (D(2000), D(3000))
    assert plan.turnover == D("0.5")


def test_unsettled_cash_is_cash_before_but_not_spent() -> None:
    plan = plan_portfolio(desired({"A": "1"}), observation({"A": "100"}, settled="1000", unsettled="9000"),
                          CostModel())
    assert plan.cash_before == D(10000)
    assert plan.cash_weight_before == D(1)
    assert plan.cash_after == D(9000)


def test_an_account_worth_one_dollar_is_planned_like_any_other() -> None:
    # $1 of cash, A at $0.50: 2 shares. Equity is small, not zero.
    plan = plan_portfolio(desired({"A": "1"}), observation({"A": "0.5"}, settled="1"), CostModel())
    assert [(a.side, a.quantity) for a in plan.actions] == [("buy", D(2))]
    assert plan.cash_weight_before == D(1)
    assert plan.holdings[0].weight_after == D(1)


def test_a_blocked_plan_values_what_it_can_and_weighs_it() -> None:
    # A (10 at $100) has a sound quote, X (5) has none: equity is A and the cash only, $1,000 + $500.
    plan = plan_portfolio(
        desired({"A": "1"}), observation({"A": "100"}, {"A": "10", "X": "5"}, settled="500"), CostModel()
    )
    assert plan.blocked == ["X: no quote"]
    assert [(h.symbol, h.price, h.weight_before) for h in plan.holdings] == [
        ("A", D(100), D(1000) / D(1500)), ("X", D(0), D(0)),
    ]
    assert plan.equity == D(1500)


def test_a_blocked_plan_prices_a_sound_quote_under_one_dollar() -> None:
    plan = plan_portfolio(desired({"A": "1"}), observation({"A": "0.5"}, {"A": "2", "X": "5"}), CostModel())
    assert [(h.symbol, h.price, h.weight_before) for h in plan.holdings] == [
        ("A", D("0.5"), D(1)),
        ("X", D(0), D(0)),
    ]


def test_a_blocked_plan_with_nothing_it_can_value_weighs_nothing() -> None:
    plan = plan_portfolio(desired({"A": "1"}), observation({"A": "100"}, {"X": "5"}), CostModel())
    assert plan.equity == 0
    assert [h.weight_before for h in plan.holdings] == [D(0), D(0)]


def test_plan_many_gives_the_garbage_collector_back() -> None:
    assert gc.isenabled()
    plans = plan_many([(desired({"A": "1"}), observation({"A": "100"}, settled="1000"))], CostModel())
    assert [len(p.actions) for p in plans] == [1]
    assert gc.isenabled()


def test_plan_many_leaves_a_paused_collector_paused() -> None:
    gc.disable()
    try:
        plan_many([(desired({"A": "1"}), observation({"A": "100"}, settled="1000"))], CostModel())
        assert not gc.isenabled()
    finally:
        gc.enable()


def test_holdings_carry_their_rule() -> None:
    plan = plan_portfolio(
        desired({"A": "0.4", "B": "0.3", "C": "0.3"}, symbols={"A": SymbolRule(hold=True),
                                                               "B": SymbolRule(do_not_trade=True)}),
        observation({"A": "1", "B": "1", "C": "1"}, {"A": "40", "B": "30", "C": "30"}), CostModel(),
    )
    assert [h.rule for h in plan.holdings] == ["hold", "do_not_trade", ""]


def test_a_blocked_plan_counts_unsettled_cash() -> None:
    plan = plan_portfolio(desired({"A": "1"}),
                          observation({"A": "100"}, {"A": "10", "X": "5"}, settled="300", unsettled="200"),
                          CostModel())
    assert (plan.equity, plan.cash_before, plan.cash_after) == (D(1500), D(500), D(500))


def test_actions_without_the_rows_they_trade_are_refused() -> None:
    # assemble books each action on the row `traded` names: an action without one would be left off the table.
    from reconciler.core.models import Action
    from reconciler.core.plan_table import Table, assemble

    d, o = desired({"A": "1"}), observation({"A": "100"}, {"A": "1"})
    table = Table(d, o, ["A"], [D(100)], [D(1)], [D(100)], [D(1)], [D("0.05")], D(100), [D(1)], D(0))
    buy = Action(1, "A", "buy", D(1), D(100), D(100), D(0), "underweight")
    with pytest.raises(ValueError, match="1 actions for 0 traded rows"):
        assemble(table, [], [buy], None)
