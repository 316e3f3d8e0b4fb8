"""The planner's triggers pinned by worked examples: which band a line gets, when cash moves holdings that are
inside their bands, and which symbols an open order at the broker keeps out of the plan.

Every expected order is computed by hand in the comments. Unless a test says otherwise: prices of $1 so a
share is a dollar, whole shares, no costs, equity $10,000.
"""

from __future__ import annotations

from decimal import Decimal

import pytest

from reconciler.core.models import CostModel, Observation, PortfolioPlan
from reconciler.core.planner import band_for, plan_portfolio
from reconciler.core.rules import Bands, Trading
from tests.builders import desired, observation

D = Decimal
RELATIVE_ONLY = Trading(bands=Bands(absolute=None, relative=D("0.25")))
ABSOLUTE_ONLY = Trading(bands=Bands(absolute=D("0.05"), relative=None))


def orders(plan: PortfolioPlan) -> list[tuple[str, str, Decimal]]:
    return [(a.side, a.symbol, a.quantity) for a in plan.actions]


def bands(plan: PortfolioPlan) -> dict[str, Decimal]:
    return {h.symbol: h.band for h in plan.holdings}


def ones(positions: dict[str, int], cash: int = 0) -> Observation:
    """An account holding these shares at $1 each, and this much settled cash."""
    return observation(
        dict.fromkeys(positions, "1"), {s: str(q) for s, q in positions.items()}, settled=str(cash)
    )


# --- which band ---------------------------------------------------------------------------------------------

@pytest.mark.parametrize(
    ("target", "absolute", "relative", "band"),
    [
        ("0.6", "0.05", "0.25", "0.05"),  # 25% of 60% is 15%: the absolute 5% is tighter
        ("0.1", "0.05", "0.25", "0.025"),  # 25% of 10% is 2.5%: the relative band is tighter
        ("0.2", "0.05", "0.25", "0.05"),  # both 5%: either
        ("0.1", None, "0.25", "0.025"),  # relative only: 25% of the target, never 0
        ("0.1", "0.05", None, "0.05"),  # absolute only
        ("0", "0.05", "0.25", "0.05"),  # no target: the relative band means nothing, the absolute one holds
        ("0", None, "0.25", "0"),  # no target and no absolute band: none at all
        ("0.1", None, None, "0"),
    ],
)
def test_band_for_is_the_tighter_of_the_two(
    target: str, absolute: str | None, relative: str | None, band: str
) -> None:
    given = Bands(absolute=None if absolute is None else D(absolute),
                  relative=None if relative is None else D(relative))
    assert band_for(D(target), given) == D(band)


def test_every_holdings_band_is_the_one_band_for_gives() -> None:
    """The planner's batch form of band_for agrees with it, line by line, for each way of setting the
    bands."""
    for trading in (
        Trading(),
        RELATIVE_ONLY,
        ABSOLUTE_ONLY,
        Trading(bands=Bands(absolute=None, relative=None)),
    ):
        plan = plan_portfolio(
            desired({"A": "0.6", "B": "0.1", "C": "0.3"}, trading=trading),
            ones({"A": 6000, "B": 1000, "C": 2999,
                                                                                      "OLD": 1}), CostModel(),
        )
        targets = {"A": D("0.6"), "B": D("0.1"), "C": D("0.3"), "OLD": D(0)}
        assert bands(plan) == {s: band_for(t, trading.bands) for s, t in targets.items()}


def test_a_relative_band_with_no_absolute_band_keeps_a_small_drift() -> None:
    # Targets A 40%, B 60%; relative-only bands: A ± 10%, B ± 15%. Held 48/52: drifts 8% and 8%, inside both.
    plan = plan_portfolio(
        desired({"A": "0.4", "B": "0.6"}, trading=RELATIVE_ONLY), ones({"A": 4800, "B": 5200}), CostModel()
    )
    assert bands(plan) == {"A": D("0.100"), "B": D("0.150")}
    assert orders(plan) == []


def test_a_relative_band_with_no_absolute_band_trades_a_drift_beyond_it() -> None:
    # Held 51/49: A drifts 11% > 10% → sell back to 40%: 5,100 - 4,000 = 1,100 shares. B drifts 11% < 15%:
    # inside its band, but the sale leaves 11% cash against a 0% target whose band is 0 (25% of nothing) → the
    # spare cash buys every underweight line: B 6,000 - 4,900 = 1,100.
    plan = plan_portfolio(
        desired({"A": "0.4", "B": "0.6"}, trading=RELATIVE_ONLY), ones({"A": 5100, "B": 4900}), CostModel()
    )
    assert orders(plan) == [("sell", "A", D(1100)), ("buy", "B", D(1100))]


def test_the_tighter_band_trades_where_the_looser_would_not() -> None:
    # Targets A 90%, B 10% (5/25 bands: A ± 5%, B ± 2.5%). Held A 8,700, B 1,300: B drifts +3%: beyond its
    # 2.5% (the looser 5% would keep it) → sell B back to 10%: 300 shares. A drifts -3%: inside its 5%; cash
    # is 3% after the sell, inside its 5% band → A is not bought.
    plan = plan_portfolio(desired({"A": "0.9", "B": "0.1"}), ones({"A": 8700, "B": 1300}), CostModel())
    assert bands(plan) == {"A": D("0.05"), "B": D("0.025")}
    assert orders(plan) == [("sell", "B", D(300))]
    assert plan.cash_after == D(300)


def test_a_drift_exactly_at_the_band_does_not_trade_and_one_share_more_does() -> None:
    # Targets 50/50, band 5%: 5,500 / 4,500 is exactly at the band on both sides.
    target = desired({"A": "0.5", "B": "0.5"})
    assert orders(plan_portfolio(target, ones({"A": 5500, "B": 4500}), CostModel())) == []
    # 5,501 / 4,499: 5.01% out on both sides → back to 5,000 each.
    assert orders(plan_portfolio(target, ones({"A": 5501, "B": 4499}), CostModel())) == [
        ("sell", "A", D(501)), ("buy", "B", D(501)),
    ]


# --- cash outside its band moves holdings inside theirs -----------------------------------------------------
# Targets A 45%, B 45%, cash 10%; 5/25 bands: A and B ± 5%, cash ± min(5%, 2.5%) = 2.5%.

CASH_TARGET = desired({"A": "0.45", "B": "0.45"}, cash="0.10")


def test_cash_above_its_target_but_inside_its_band_deploys_nothing() -> None:
    # Cash 12%: 2% above target, inside 2.5%. A and B are 1% under target, inside their bands: no order.
    # (Were the trigger `cash + target > band`, 22% > 2.5% would deploy $200 into A and B.)
    plan = plan_portfolio(CASH_TARGET, ones({"A": 4400, "B": 4400}, cash=1200), CostModel())
    assert orders(plan) == []


def test_cash_exactly_at_the_top_of_its_band_deploys_nothing() -> None:
    # Cash 12.5%: 2.5% above target, exactly the band.
    plan = plan_portfolio(CASH_TARGET, ones({"A": 4375, "B": 4375}, cash=1250), CostModel())
    assert orders(plan) == []


def test_cash_one_dollar_above_its_band_buys_every_underweight_holding() -> None:
    # Cash 12.51%: 2.51% above target. A (-1.25%) and B (-1.26%) are inside their bands, but the cash is not:
    # most underweight first, B buys 4,500 - 4,374 = 126, then A 4,500 - 4,375 = 125, with the 1,251 - 1,000 =
    # 251 of cash above the target.
    plan = plan_portfolio(CASH_TARGET, ones({"A": 4375, "B": 4374}, cash=1251), CostModel())
    assert orders(plan) == [("buy", "B", D(126)), ("buy", "A", D(125))]
    assert plan.cash_after == D(1000)


def test_cash_far_above_its_band_buys_holdings_exactly_at_their_band_edge() -> None:
    # Cash 20%: A and B at 40%, exactly at their 5% band (not out by themselves). The cash above its target,
    # 2,000 - 1,000 = 1,000, buys 500 of each (A first: same drift, by name).
    plan = plan_portfolio(CASH_TARGET, ones({"A": 4000, "B": 4000}, cash=2000), CostModel())
    assert orders(plan) == [("buy", "A", D(500)), ("buy", "B", D(500))]
    assert plan.cash_after == D(1000)


def test_cash_below_its_target_but_inside_its_band_sells_nothing() -> None:
    # Cash 8%: 2% short, inside 2.5%. A 47% and B 45% are inside their bands: no order.
    plan = plan_portfolio(CASH_TARGET, ones({"A": 4700, "B": 4500}, cash=800), CostModel())
    assert orders(plan) == []


def test_cash_exactly_at_the_bottom_of_its_band_sells_nothing() -> None:
    # Cash 7.5%: 2.5% short, exactly the band.
    plan = plan_portfolio(CASH_TARGET, ones({"A": 4625, "B": 4625}, cash=750), CostModel())
    assert orders(plan) == []


def test_cash_one_dollar_below_its_band_sells_every_overweight_holding() -> None:
    # Cash 7.49%: 2.51% short. A (+1.26%) and B (+1.25%) are inside their bands, but the cash is not: both
    # sell back to target, A 4,626 - 4,500 = 126 and B 125, which brings cash to 749 + 251 = 1,000. Nothing is
    # bought back: cash is then exactly on target.
    plan = plan_portfolio(CASH_TARGET, ones({"A": 4626, "B": 4625}, cash=749), CostModel())
    assert orders(plan) == [("sell", "A", D(126)), ("sell", "B", D(125))]
    assert plan.cash_after == D(1000)


def test_short_cash_never_sells_an_underweight_holding() -> None:
    # Cash 5% (5% short): sell every overweight line: A 50% → 45% (500); B at 45% is not overweight: kept.
    plan = plan_portfolio(CASH_TARGET, ones({"A": 5000, "B": 4500}, cash=500), CostModel())
    assert orders(plan) == [("sell", "A", D(500))]


def test_buy_only_never_raises_cash_by_selling() -> None:
    plan = plan_portfolio(
        desired({"A": "0.45", "B": "0.45"}, cash="0.10", trading=Trading(buy_only=True)),
        ones({"A": 5000, "B": 4500}, cash=500), CostModel(),
    )
    assert orders(plan) == []


# --- an order open at the broker ----------------------------------------------------------------------------
# Targets 25% each of A, B, C, D; held A, B and C 3,100 each (31%, beyond the 5% band), D 700 (7%).

QUARTERS = desired({"A": "0.25", "B": "0.25", "C": "0.25", "D": "0.25"})


def _busy(*symbols: str) -> Observation:
    obs = ones({"A": 3100, "B": 3100, "C": 3100, "D": 700})
    return obs.model_copy(update={"open_orders": {s: f"rc-open-{s}" for s in symbols}})


def test_nothing_open_trades_every_line() -> None:
    # Sell A, B, C 600 each back to 2,500; the 1,800 raised buys D 2,500 - 700 = 1,800.
    plan = plan_portfolio(QUARTERS, _busy(), CostModel())
    assert orders(plan) == [("sell", "A", D(600)), ("sell", "B", D(600)), ("sell", "C", D(600)),
                            ("buy", "D", D(1800))]


def test_the_sell_leg_skips_exactly_the_symbols_with_an_open_order() -> None:
    # B has an order open: A and C sell 600 each; their 1,200 buys D 1,200 of its 1,800 gap.
    plan = plan_portfolio(QUARTERS, _busy("B"), CostModel())
    assert orders(plan) == [("sell", "A", D(600)), ("sell", "C", D(600)), ("buy", "D", D(1200))]
    assert "B: order rc-open-B is still open at the broker; not traded until it is final" in plan.notes


def test_the_buy_leg_skips_a_symbol_with_an_open_order() -> None:
    # D has an order open: A, B and C sell as usual, D is not bought; the 1,800 stays as cash.
    plan = plan_portfolio(QUARTERS, _busy("D"), CostModel())
    assert orders(plan) == [("sell", "A", D(600)), ("sell", "B", D(600)), ("sell", "C", D(600))]
    assert plan.cash_after == D(1800)


def test_an_open_order_on_a_symbol_outside_the_account_changes_nothing() -> None:
    assert orders(plan_portfolio(QUARTERS, _busy("ZZZ"), CostModel())) == orders(
        plan_portfolio(QUARTERS, _busy(), CostModel())
    )


def test_short_cash_skips_an_overweight_symbol_with_an_open_order() -> None:
    # The cash trigger sells every overweight line, but not one with an order open: B is left alone.
    plan = plan_portfolio(CASH_TARGET, ones({"A": 5000, "B": 4600}, cash=400).model_copy(
        update={"open_orders": {"B": "rc-open-B"}}), CostModel())
    assert orders(plan) == [("sell", "A", D(500))]
