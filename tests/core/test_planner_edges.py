"""Planner rules a mutation run found unpinned: the band of a held symbol without a target in a blocked plan,
and which symbols' references a plan records (those that value the account: targeted or held)."""

from __future__ import annotations

from decimal import Decimal as D

from reconciler.core.models import CostModel
from reconciler.core.planner import plan_many, plan_portfolio
from reconciler.core.rules import Commission, Trading
from tests.builders import desired, observation


def test_a_blocked_plan_gives_a_held_symbol_without_a_target_the_absolute_band() -> None:
    # X has no quote: the plan is blocked. X has no target: its band is the absolute 5%, not 25% of 0.
    plan = plan_portfolio(desired({"A": "1"}), observation({"A": "100"}, {"A": "10", "X": "5"}), CostModel())
    assert [(h.symbol, h.band) for h in plan.holdings] == [("A", D("0.05")), ("X", D("0.05"))]


def test_a_plan_records_the_references_of_targeted_and_held_symbols_only() -> None:
    obs = observation({"A": "100", "X": "20", "Z": "30"}, {"A": "10", "X": "5", "Z": "0"}, settled="1000")
    (plan,) = plan_many(
        [(desired({"A": "1"}), obs)], CostModel(), references={"A": D(100), "X": D(20), "Z": D(30)}
    )
    assert plan.references == {"A": D(100), "X": D(20)}


def test_a_position_of_zero_without_a_target_is_no_holding() -> None:
    obs = observation({"A": "100", "Z": "30"}, {"A": "10", "Z": "0"}, settled="1000")
    assert [h.symbol for h in plan_portfolio(desired({"A": "1"}), obs, CostModel()).holdings] == ["A"]


def test_a_position_of_one_share_without_a_target_is_a_holding() -> None:
    obs = observation({"A": "100", "Z": "30"}, {"A": "10", "Z": "1"}, settled="1000")
    assert [h.symbol for h in plan_portfolio(desired({"A": "1"}), obs, CostModel()).holdings] == ["A", "Z"]


def test_a_holding_that_moved_unexplained_is_left_alone_and_the_others_trade() -> None:
    # 80 A, 40 B at $100, $50, $3,000 cash, 50/50: A is over, B under; but A moved (a split the fills do not
    # explain).
    obs = observation({"A": "100", "B": "50"}, {"A": "80", "B": "40"}, settled="3000")
    obs = obs.model_copy(update={"moved": {"A": "a split"}})
    plan = plan_portfolio(desired({"A": "0.5", "B": "0.5"}), obs, CostModel())
    assert [a.symbol for a in plan.actions] == ["B"]


def test_a_buy_exactly_at_the_minimum_trade_skipped_for_its_cost_says_so() -> None:
    # $1,020 of cash, A at $100, a $20 commission: 10 A for $1,000, exactly the minimum; $20 is over 1% of it.
    costs = CostModel(commission=Commission(per_order=D(20)))
    trading = Trading(min_trade_notional=D(1000), max_cost_fraction=D("0.01"))
    plan = plan_portfolio(
        desired({"A": "1"}, trading=trading), observation({"A": "100"}, settled="1020"), costs
    )
    assert plan.notes == ["A: buying 10 would cost more than 1% of its value; skipped"]


def test_a_buy_whose_slippage_alone_is_over_the_cost_cap_says_so() -> None:
    # 1% slippage, a 0.9% cap, no commission: 9 A ($900 at $100, $101 with slippage on $1,000) cost $9, over
    # $8.10.
    costs = CostModel(slippage_bps=D(100))
    trading = Trading(max_cost_fraction=D("0.009"))
    plan = plan_portfolio(
        desired({"A": "1"}, trading=trading), observation({"A": "100"}, settled="1000"), costs
    )
    assert plan.notes == ["A: buying 9 would cost more than 1% of its value; skipped"]


def test_a_limit_buy_is_sized_by_its_limit_not_by_the_quote() -> None:
    # $1,000 of cash, A at $100, limit orders 2% over the quote: 10 A would need $1,020 at the limit, so 9.
    costs = CostModel(limit_band=D("0.02"))
    plan = plan_portfolio(desired({"A": "1"}), observation({"A": "100"}, settled="1000"), costs)
    assert [(a.symbol, a.quantity) for a in plan.actions] == [("A", D(9))]


def _sells(cap: str) -> list[tuple[str, str, D]]:
    # 10 A at $100, not in the targets: sold in full. A $5 commission and 50 bps of slippage cost $5 + $5 =
    # $10.
    costs = CostModel(slippage_bps=D(50), commission=Commission(per_order=D(5)))
    obs = observation({"A": "100", "B": "50"}, {"A": "10"})
    plan = plan_portfolio(desired({"B": "1"}, trading=Trading(max_cost_fraction=D(cap))), obs, costs)
    return [(a.side, a.symbol, a.quantity) for a in plan.actions if a.side == "sell"]


def test_a_sell_costing_exactly_its_cap_is_sent() -> None:
    assert _sells("0.01") == [("sell", "A", D(10))]  # $10 of costs on $1,000 is exactly 1%


def test_a_sell_costing_one_tick_over_its_cap_is_skipped() -> None:
    assert _sells("0.0099") == []  # $10 is over 0.99% of $1,000 ($9.90): commission and slippage both count


def test_the_cost_cap_of_a_buy_holds_exactly_at_its_edge() -> None:
    from reconciler.core.plan_legs import _skipped

    unit = CostModel(slippage_bps=D(50)).unit_costs()
    # A $5 commission plus 50 bps of slippage on $1,000: $10, exactly 1%.
    at_cap = _skipped(
        "A", "buy", D(10), D(1000), D(5), unit, Trading(max_cost_fraction=D("0.01")), minimum=False
    )
    over = _skipped(
        "A", "buy", D(10), D(1000), D(5), unit, Trading(max_cost_fraction=D("0.0099")), minimum=False
    )
    assert (at_cap, over) == ("", "A: buying 10 would cost more than 1% of its value; skipped")


def test_a_portfolio_planned_alone_is_corroborated_by_the_last_fills() -> None:
    # A quote of $100 with no previous close, bid or ask: only the journal's last fill ($100) vouches for it,
    # so the plan buys; without that reference it would be blocked as uncorroborated.
    from reconciler.core.valuation import QuoteLimits

    limits = QuoteLimits(corroboration_band=D("0.5"), max_fill_ratio=D(10))
    obs = observation({"A": "100"}, settled="1000")
    plan = plan_portfolio(desired({"A": "1"}), obs, CostModel(), limits, references={"A": D(100)})
    assert (plan.blocked, [a.symbol for a in plan.actions]) == ([], ["A"])
