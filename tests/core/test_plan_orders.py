"""plan_orders: the orders and notes of plan_portfolio without its before/after table (the backtester's
form)."""

from __future__ import annotations

from decimal import Decimal

import pytest
from hypothesis import given

from reconciler.core import planner
from reconciler.core.models import CostModel, PortfolioPlan
from reconciler.core.planner import plan_orders, plan_portfolio
from reconciler.core.rules import Commission
from tests.builders import desired, observation
from tests.core.test_planner_properties import PROPS, Case, cases


@PROPS
@given(cases())
def test_plan_orders_gives_the_orders_and_notes_of_the_whole_plan(case: Case) -> None:
    plan = case.plan()
    assert plan_orders(case.desired, case.obs, case.costs) == (plan.actions, plan.notes)


def test_plan_orders_builds_no_table_for_an_account_it_trades(monkeypatch: pytest.MonkeyPatch) -> None:
    def no_table(*args: object, **kwargs: object) -> PortfolioPlan:
        raise AssertionError("plan_orders built the before/after table")

    monkeypatch.setattr(planner, "assemble", no_table)
    costs = CostModel(commission=Commission(per_share=Decimal("0.01")))
    actions, _ = plan_orders(desired({"A": "1"}), observation({"A": "10"}, settled="1000"), costs)
    assert [(a.symbol, a.side, a.quantity) for a in actions] == [("A", "buy", Decimal(99))]


def test_plan_orders_of_a_blocked_account_are_none_with_the_reason() -> None:
    # B has no quote: the account cannot be valued, so nothing trades and the note says why.
    plan = plan_portfolio(
        desired({"A": "0.5", "B": "0.5"}), observation({"A": "10"}, settled="1000"), CostModel()
    )
    got = plan_orders(
        desired({"A": "0.5", "B": "0.5"}), observation({"A": "10"}, settled="1000"), CostModel()
    )
    assert (plan.blocked != [], got) == (True, ([], plan.notes))


def test_plan_orders_of_an_account_without_equity_are_none() -> None:
    got = plan_orders(desired({"A": "1"}), observation({"A": "10"}), CostModel())
    assert got == ([], ["account has no equity; nothing to do"])
