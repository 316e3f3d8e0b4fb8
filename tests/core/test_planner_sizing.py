"""The planner's two backtest-driven settings: `order_sizing: net_of_costs` and `bands.inner`
(opportunistic)."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal as D

from hypothesis import given, settings
from hypothesis import strategies as st

from reconciler.backtest.costs import FillModel
from reconciler.core.models import CostModel
from reconciler.core.planner import plan_portfolio
from reconciler.core.rules import Bands, Commission, Trading
from tests.builders import desired, observation

NOW = datetime(2024, 1, 2, 21, tzinfo=UTC)
FINE = D("1e-12")


def test_defaults_leave_the_planner_as_it_was() -> None:
    # inner 0 and order_sizing target are the defaults: spelling them out changes nothing.
    o = observation({"A": D(10), "B": D(10)}, {"A": D(80), "B": D(20)}, account="a", taken_at=NOW)
    costs = CostModel(
        slippage_bps=D(10), commission=Commission(per_order=D(1), per_share=D("0.01"), bps=D(5))
    )
    plain = Trading(bands=Bands(absolute=D("0.05"), relative=None))
    spelled = Trading(bands=Bands(absolute=D("0.05"), relative=None, inner=D(0)), order_sizing="target")
    targets = {"A": D("0.5"), "B": D("0.5")}
    a = plan_portfolio(desired(targets, name="p", account="a", source="t", trading=plain), o, costs)
    b = plan_portfolio(desired(targets, name="p", account="a", source="t", trading=spelled), o, costs)
    assert a.actions == b.actions
    assert a.cash_after == b.cash_after


def test_inner_band_trades_back_to_the_band_edge_not_to_target() -> None:
    # A: 70% against 50% ± 10 points; inner 0.5 trades it back to 55%, not 50%. B (30%) goes back to 45%.
    o = observation({"A": D(10), "B": D(10)}, {"A": D(70), "B": D(30)}, account="a", taken_at=NOW)
    trading = Trading(bands=Bands(absolute=D("0.10"), relative=None, inner=D("0.5")), fractional=True)
    target = desired({"A": D("0.5"), "B": D("0.5")}, name="p", account="a", source="t", trading=trading)
    plan = plan_portfolio(target, o, CostModel())
    sell = next(a for a in plan.actions if a.side == "sell")
    buy = next(a for a in plan.actions if a.side == "buy")
    assert (sell.symbol, sell.quantity) == ("A", D(15))  # 700 → 550
    assert (buy.symbol, buy.quantity) == ("B", D(15))  # 300 → 450


def test_inner_band_does_not_touch_holdings_inside_the_band() -> None:
    o = observation({"A": D(10), "B": D(10)}, {"A": D(57), "B": D(43)}, account="a", taken_at=NOW)
    trading = Trading(bands=Bands(absolute=D("0.10"), relative=None, inner=D("0.5")), fractional=True)
    target = desired({"A": D("0.5"), "B": D("0.5")}, name="p", account="a", source="t", trading=trading)
    assert not plan_portfolio(target, o, CostModel()).actions


@settings(max_examples=150, deadline=None)
@given(
    held=st.lists(st.integers(0, 5000), min_size=2, max_size=6),
    cents=st.lists(st.integers(100, 50_000), min_size=6, max_size=6),
    cash=st.integers(0, 500_000),
    per_order=st.integers(0, 20),
    per_share=st.integers(0, 2),
    bps=st.integers(0, 30),
    slippage=st.integers(0, 30),
)
def test_net_of_costs_orders_close_their_gap_exactly_and_cash_lands_on_target(
    held: list[int], cents: list[int], cash: int, per_order: int, per_share: int, bps: int, slippage: int
) -> None:
    """bt's convention: filled like the paper broker, a buy costs its gap and a sale raises its gap, costs
    included, so cash ends on its target (to the quantity step) and never below it."""
    symbols = [f"S{i}" for i in range(len(held))]
    prices = {s: D(cents[i]).scaleb(-2) for i, s in enumerate(symbols)}
    w = D(1) / len(symbols)
    targets = {s: w for s in symbols}
    costs = CostModel(
        slippage_bps=D(slippage),
        commission=Commission(per_order=D(per_order), per_share=D(per_share).scaleb(-2), bps=D(bps)),
    )
    trading = Trading(
        bands=Bands(absolute=D(0), relative=None), fractional=True, quantity_step=FINE,
        order_sizing="net_of_costs",
        max_cost_fraction=D(1),
    )
    o = observation(
        prices,
        {s: D(h) for s, h in zip(symbols, held, strict=True)},
        settled=D(cash),
        account="a",
        taken_at=NOW,
    )
    plan = plan_portfolio(desired(targets, name="p", account="a", source="t", trading=trading), o, costs)
    fills = FillModel(costs)
    after = D(cash)
    for a in plan.actions:
        price, commission = fills.fill(a.side, a.quantity, a.price)
        value_gap = abs(targets[a.symbol] * plan.equity - o.positions[a.symbol] * a.price)
        flow = a.quantity * price + commission if a.side == "buy" else a.quantity * price - commission
        assert flow <= value_gap + D("1e-9")  # never more than the gap
        # nothing skipped or cut short: the whole gap
        if not plan.notes and a.quantity != o.positions[a.symbol]:
            assert flow >= value_gap - a.price * FINE * 2 - D("1e-9")
        after += -flow if a.side == "buy" else flow
    assert after >= 0
    assert abs(after - plan.cash_after) < D("1e-9")  # the plan's cash is what the fills leave
