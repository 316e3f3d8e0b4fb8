"""Worked examples of the planner, each with its expected orders computed by hand in the comments.

Unless a test says otherwise: default 5/25 bands (band = min(5%, 25% of the target)), whole shares, no costs,
the cash target is 0 and its band is the absolute 5%.
"""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal

from reconciler.core.models import CostModel, PortfolioPlan
from reconciler.core.planner import plan_portfolio
from reconciler.core.rules import Commission, SymbolRule, Trading
from tests.builders import desired, observation

D = Decimal


def orders(plan: PortfolioPlan) -> list[tuple[int, str, str, Decimal]]:
    return [(a.leg, a.side, a.symbol, a.quantity) for a in plan.actions]


def test_all_cash_account_buys_a_60_40_in_whole_shares() -> None:
    # Equity $10,000, all cash: cash weight 100% vs 0% target → full rebalance.
    # Most underweight first: VTI (0 - 0.6) before BND (0 - 0.4).
    # VTI: 0.6 × 10,000 = 6,000 / 250.00 = 24 shares ($6,000).
    # BND: 0.4 × 10,000 = 4,000 / 72.50 = 55.17 → 55 shares ($3,987.50).
    # Cash after: 10,000 - 6,000 - 3,987.50 = 12.50.
    plan = plan_portfolio(
        desired({"VTI": "0.6", "BND": "0.4"}),
        observation({"VTI": "250.00", "BND": "72.50"}, settled="10000"),
        CostModel(),
    )
    assert orders(plan) == [(1, "buy", "VTI", D(24)), (2, "buy", "BND", D(55))]
    assert plan.buy_notional == D("9987.50")
    assert plan.cash_after == D("12.50")


def test_unsettled_cash_is_not_spent() -> None:
    # Equity = 1,000 settled + 9,000 unsettled = $10,000; VTI wants 10,000 / 100 = 100 shares,
    # but only the settled $1,000 is spendable → 10 shares.
    plan = plan_portfolio(
        desired({"VTI": "1"}), observation({"VTI": "100"}, settled="1000", unsettled="9000"), CostModel()
    )
    assert orders(plan) == [(1, "buy", "VTI", D(10))]
    assert plan.cash_after == D(9000)
    assert any("unsettled" in n for n in plan.notes)


def test_cash_reserved_by_open_orders_is_not_spent() -> None:
    # Settled $5,000 of which $3,000 is held for open orders: spendable 5,000 - 3,000 = 2,000 → 20 shares at
    # $100.
    plan = plan_portfolio(
        desired({"VTI": "1"}), observation({"VTI": "100"}, settled="5000", reserved="3000"), CostModel()
    )
    assert orders(plan) == [(1, "buy", "VTI", D(20))]


def test_5_25_band_keeps_a_small_drift_and_trades_a_large_one() -> None:
    target = desired({"A": "0.6", "B": "0.4"})
    prices = {"A": "100", "B": "100"}
    # 63/37 of $10,000: A drifts 3% < band min(5%, 25% × 60% = 15%) = 5%; B drifts 3% < min(5%, 10%) = 5%;
    # cash 0% is inside its 5% band → nothing trades.
    kept = plan_portfolio(target, observation(prices, {"A": "63", "B": "37"}), CostModel())
    assert kept.actions == []
    # 66/34: both drift 6% > 5%. Sell A: (6,600 - 6,000) / 100 = 6 shares, proceeds $600;
    # buy B: (4,000 - 3,400) / 100 = 6 shares, funded by the $600 of proceeds.
    traded = plan_portfolio(target, observation(prices, {"A": "66", "B": "34"}), CostModel())
    assert orders(traded) == [(1, "sell", "A", D(6)), (2, "buy", "B", D(6))]
    assert traded.cash_after == D(0)


def test_a_symbol_not_in_the_targets_is_sold_in_full_even_a_fraction() -> None:
    # Equity: 90 × 100 + 2.5 × 40 = 9,000 + 100 = $9,100. OLD is not a target → sell all 2.5 shares (a full
    # liquidation may be fractional in a whole-share account). A is 98.9% vs 100%: 1.1% < 5% band, and cash
    # 0% is in band → A is not bought; the $100 stays as cash.
    plan = plan_portfolio(
        desired({"A": "1"}), observation({"A": "100", "OLD": "40"}, {"A": "90", "OLD": "2.5"}), CostModel()
    )
    assert orders(plan) == [(1, "sell", "OLD", D("2.5"))]
    assert plan.actions[0].notional == D(100)
    assert plan.actions[0].reason == "not in targets"
    assert plan.cash_after == D(100)


def test_a_hold_symbol_outside_the_targets_is_kept_aside_and_weights_are_of_the_rest() -> None:
    # LEGACY (100 × $50 = $5,000) is held and not a target: set aside. The rest: A 20 × 100 = 2,000 + cash
    # 3,000 = $5,000 equity. Cash 60% → full rebalance. B (0 vs 50%) first: 2,500 / 50 = 50 shares ($2,500);
    # then A: (2,500 - 2,000) / 100 = 5 shares ($500). Budget 3,000 - 2,500 - 500 = 0.
    plan = plan_portfolio(
        desired({"A": "0.5", "B": "0.5"}, symbols={"LEGACY": SymbolRule(hold=True)}),
        observation({"A": "100", "B": "50", "LEGACY": "50"}, {"A": "20", "LEGACY": "100"}, settled="3000"),
        CostModel(),
    )
    assert orders(plan) == [(1, "buy", "B", D(50)), (2, "buy", "A", D(5))]
    assert plan.equity == D(5000)
    assert [h.symbol for h in plan.holdings] == ["A", "B"]
    assert any("LEGACY" in n and "kept aside" in n for n in plan.notes)


def test_buy_only_sends_the_cash_to_the_most_underweight_first() -> None:
    # Equity $10,000: A 55%, B 25%, C 10%, cash 10% (> 5% band → full rebalance). No sells (buy_only), so A
    # stays overweight. Underweights, worst first: C (10 - 30 = -20%) then B (25 - 30 = -5%).
    # C wants (3,000 - 1,000) / 100 = 20 shares but $1,000 buys only 10; nothing is left for B.
    plan = plan_portfolio(
        desired({"A": "0.4", "B": "0.3", "C": "0.3"}, trading=Trading(buy_only=True)),
        observation({"A": "100", "B": "100", "C": "100"}, {"A": "55", "B": "25", "C": "10"}, settled="1000"),
        CostModel(),
    )
    assert orders(plan) == [(1, "buy", "C", D(10))]
    assert plan.cash_after == D(0)


def test_a_missing_quote_blocks_the_portfolio() -> None:
    plan = plan_portfolio(
        desired({"A": "1"}), observation({"A": "100"}, {"X": "3"}, settled="100"), CostModel()
    )
    assert plan.actions == []
    assert plan.blocked == ["X: no quote"]


def test_an_account_with_no_equity_plans_nothing() -> None:
    plan = plan_portfolio(desired({"A": "1"}), observation({"A": "100"}), CostModel())
    assert plan.actions == []
    assert plan.equity == 0
    assert any("no equity" in n for n in plan.notes)


def test_commissions_and_slippage_reduce_what_can_be_bought() -> None:
    # $1,000 cash, A at $10 wants 100 shares. Per share it costs 10 × (1 + 10 bps) + 0.01 = 10.02, plus $5 an
    # order: (1,000 - 5) / 10.02 = 99.30 → 99 shares. Commission 5 + 99 × 0.01 = 5.99;
    # cost 99 × 10 × 1.001 + 5.99 = 990.99 + 5.99 = 996.98; cash after 1,000 - 996.98 = 3.02.
    costs = CostModel(slippage_bps=D(10), commission=Commission(per_order=D(5), per_share=D("0.01")))
    plan = plan_portfolio(desired({"A": "1"}), observation({"A": "10"}, settled="1000"), costs)
    assert orders(plan) == [(1, "buy", "A", D(99))]
    assert plan.actions[0].est_commission == D("5.99")
    assert plan.cash_after == D("3.02")


def test_fractional_buys_are_rounded_down_to_the_quantity_step() -> None:
    # $1,000 / $300 = 3.3333… → 3.333 at a 0.001 step ($999.90); cash after $0.10.
    trading = Trading(fractional=True, quantity_step=D("0.001"))
    plan = plan_portfolio(
        desired({"A": "1"}, trading=trading), observation({"A": "300"}, settled="1000"), CostModel()
    )
    assert orders(plan) == [(1, "buy", "A", D("3.333"))]
    assert plan.cash_after == D("0.10")


def test_without_sale_proceeds_a_sell_does_not_fund_buys() -> None:
    # A 70% / B 30% of $10,000, no cash; both drift 20% > 5%. Sell A: (7,000 - 5,000) / 100 = 20 shares.
    # use_sale_proceeds: false → spendable is settled cash only ($0), so B is not bought in this plan.
    plan = plan_portfolio(
        desired({"A": "0.5", "B": "0.5"}, trading=Trading(use_sale_proceeds=False)),
        observation({"A": "100", "B": "100"}, {"A": "70", "B": "30"}),
        CostModel(),
    )
    assert orders(plan) == [(1, "sell", "A", D(20))]
    assert plan.cash_after == D(2000)


def test_a_gap_smaller_than_one_quantity_step_is_explained() -> None:
    """Step 100 shares at $50 = $5,000 a step. A $3,000 gap cannot trade: the plan says why instead of
    staying silent (A is 70% against 50%, $2,000 over; B 30% against 50%, $2,000 under)."""
    trading = Trading(fractional=True, quantity_step=D(100))
    plan = plan_portfolio(
        desired({"A": "0.5", "B": "0.5"}, trading=trading),
        observation({"A": "50", "B": "50"}, {"A": "140", "B": "60"}),
        CostModel(),
    )
    assert orders(plan) == []
    assert any("A: overweight by $2,000.00, less than one quantity step (100)" in n for n in plan.notes), (
        plan.notes
    )


def test_no_orders_is_not_in_sync_when_a_cash_warning_holds_buys_back() -> None:
    """A: 20% of the account against a 50% target, $8,000 of cash to buy it with, but the broker's cash
    figures disagree: the plan buys nothing, and says the portfolio is outside its bands."""
    obs = observation({"A": "10", "B": "10"}, {"A": "200", "B": "0"}, settled="8000")
    plan = plan_portfolio(
        desired({"A": "0.5", "B": "0.5"}),
        obs.model_copy(update={"cash_warning": "cash 8000 but activities imply 0"}),
        CostModel(),
    )
    assert orders(plan) == []
    assert plan.outside_bands == ["A", "B"]
    assert any("buying nothing" in n for n in plan.notes)
    in_sync = plan_portfolio(desired({"A": "1"}), observation({"A": "10"}, {"A": "100"}), CostModel())
    assert in_sync.outside_bands == []


def test_a_callers_decimal_context_never_changes_a_plan() -> None:
    """A program embedding reconciler with its own Decimal context (6 digits, rounding down) gets the same
    plan, and the same hash, as with the default context: plans compute in their own."""
    import decimal

    from reconciler.core.models import CostModel
    from reconciler.core.plan import compute_hash, seal
    from reconciler.core.planner import plan_many
    from reconciler.core.rules import Commission, Trading

    when = datetime(2030, 1, 2, 15, 0, tzinfo=UTC)
    target = desired({"AAA": "0.6", "BBB": "0.4"}, name="p", account="a", source="p.yaml",
                     trading=Trading(fractional=True))
    obs = observation(
        {"AAA": "123.4567", "BBB": "9.87654"},
        {"AAA": "3.3333"},
        settled="98765.4321",
        account="a",
        taken_at=when,
    )
    costs = CostModel(slippage_bps=Decimal(7), commission=Commission(bps=Decimal("1.3")))

    def sealed() -> str:
        plan = seal(plan_many([(target, obs)], costs), created_at=when, targets_hash="t", accounts=["a"],
                    policy_results=[])
        return compute_hash(plan)

    usual = sealed()
    with decimal.localcontext(decimal.Context(prec=6, rounding=decimal.ROUND_DOWN, traps=[])):
        assert sealed() == usual
