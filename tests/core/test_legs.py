"""core.legs.size_leg, the one rule apply and the backtest size an order with as it is sent: each edge pinned
(a buy exactly covered, one cent short, shrunk to the minimum trade and one step under it, a limit on its
tick)."""

from __future__ import annotations

from decimal import Decimal

from reconciler.core.legs import SizedLeg, SkippedLeg, budget_after, opening_budget, size_leg
from reconciler.core.models import Action, CostModel, Quote
from reconciler.core.rules import Commission, Trading
from tests.builders import NOW, observation, quote

D = Decimal
BAND = CostModel(limit_band=D("0.01"), price_tick=D("0.01"))


def _action(side: str = "buy", quantity: str = "10", price: str = "100") -> Action:
    q, p = D(quantity), D(price)
    return Action(1, "VTI", side, q, p, q * p, D(0), "underweight")  # type: ignore[arg-type]


def _sized(result: SizedLeg | SkippedLeg) -> SizedLeg:
    assert isinstance(result, SizedLeg), result
    return result


def test_a_covered_buy_goes_out_as_planned() -> None:
    assert size_leg(_action(), quote("VTI", 100), D(1000), Trading(), CostModel()) == SizedLeg(D(10))


def test_a_buy_one_cent_short_is_shrunk_by_one_step() -> None:
    sized = _sized(size_leg(_action(), quote("VTI", 100), D("999.99"), Trading(), CostModel()))
    assert sized.quantity == D(9)


def test_a_shrunk_buy_says_planned_sent_and_the_budget() -> None:
    sized = _sized(size_leg(_action(), quote("VTI", 100), D("999.99"), Trading(), CostModel()))
    assert sized.shrunk == (
        "planned 10, sent 9: settled cash and this apply's sale proceeds (999.99) buy no more at 100"
    )


def test_a_buy_shrunk_to_exactly_the_minimum_trade_is_sent() -> None:
    trading = Trading(min_trade_notional=D(900))
    assert _sized(size_leg(_action(), quote("VTI", 100), D(950), trading, CostModel())).quantity == D(9)


def test_a_buy_shrunk_below_the_minimum_trade_is_skipped() -> None:
    trading = Trading(min_trade_notional=D("900.01"))
    assert size_leg(_action(), quote("VTI", 100), D(950), trading, CostModel()) == SkippedLeg(
        "no_cash", "not enough settled cash (budget 950.00)"
    )


def test_a_buy_with_no_budget_is_skipped() -> None:
    result = size_leg(_action(), quote("VTI", 100), D("99.99"), Trading(), CostModel())
    assert isinstance(result, SkippedLeg) and result.reason == "no_cash"


def test_a_fractional_buy_shrinks_on_its_step() -> None:
    trading = Trading(fractional=True, quantity_step=D("0.1"))
    assert _sized(size_leg(_action(), quote("VTI", 100), D("955"), trading, CostModel())).quantity == D("9.5")


def test_a_buy_is_sized_at_the_ask_it_meets() -> None:
    ask = Quote(symbol="VTI", price=D(100), ask=D(104), as_of=NOW)
    assert _sized(size_leg(_action(), ask, D(1000), Trading(), CostModel())).quantity == D(9)


def test_commissions_count_against_the_budget() -> None:
    costs = CostModel(commission=Commission(per_order=D(1)))
    assert _sized(size_leg(_action(), quote("VTI", 100), D(1000), Trading(), costs)).quantity == D(9)


def test_a_sell_ignores_the_budget() -> None:
    assert size_leg(_action("sell"), quote("VTI", 100), D(0), Trading(), CostModel()) == SizedLeg(D(10))


def test_a_market_buy_without_a_quote_goes_out_as_planned() -> None:
    assert size_leg(_action(), None, D(0), Trading(), CostModel()) == SizedLeg(D(10))


def test_a_market_buy_with_a_zero_quote_goes_out_as_planned() -> None:
    bad = Quote.model_construct(symbol="VTI", price=D(0), as_of=NOW, bid=None, ask=None)
    assert size_leg(_action(), bad, D(0), Trading(), CostModel()) == SizedLeg(D(10))


def test_a_limit_order_without_a_quote_is_skipped() -> None:
    assert size_leg(_action(), None, D(10**6), Trading(), BAND) == SkippedLeg(
        "no_quote", "no sound fresh quote to set a limit price at"
    )


def test_a_limit_order_with_an_infinite_quote_is_skipped() -> None:
    bad = Quote.model_construct(symbol="VTI", price=D("Infinity"), as_of=NOW, bid=None, ask=None)
    assert isinstance(size_leg(_action("sell"), bad, D(0), Trading(), BAND), SkippedLeg)


def test_a_buy_limit_is_above_the_quote_and_rounded_down_to_the_tick() -> None:
    sized = _sized(size_leg(_action(), quote("VTI", "100.005"), D(10**6), Trading(), BAND))
    assert sized.limit == D("101.00")  # 101.00505 on the cent, down


def test_a_sell_limit_is_below_the_quote_and_rounded_up_to_the_tick() -> None:
    sized = _sized(size_leg(_action("sell"), quote("VTI", "100.005"), D(0), Trading(), BAND))
    assert sized.limit == D("99.01")  # 99.00495 on the cent, up


def test_a_limit_buy_is_budgeted_at_its_limit() -> None:
    assert _sized(size_leg(_action(), quote("VTI", 100), D(1000), Trading(), BAND)).quantity == D(9)


def test_the_opening_budget_is_settled_cash_less_reserved() -> None:
    assert opening_budget(observation(settled=1000, unsettled=500, reserved=200)) == D(800)


def test_the_opening_budget_is_nothing_when_cash_is_in_doubt() -> None:
    obs = observation(settled=1000).model_copy(update={"cash_warning": "cash figures disagree"})
    assert opening_budget(obs) == D(0)


def test_a_buy_spends_its_notional_and_commission() -> None:
    assert budget_after(D(1000), "buy", D(600), D(1), Trading()) == D(399)


def test_a_sell_funds_later_buys_net_of_its_commission() -> None:
    assert budget_after(D(1000), "sell", D(600), D(1), Trading()) == D(1599)


def test_a_sell_funds_nothing_without_use_sale_proceeds() -> None:
    assert budget_after(D(1000), "sell", D(600), D(1), Trading(use_sale_proceeds=False)) == D(1000)


def test_a_buy_shrunk_to_a_single_share_is_sent() -> None:
    assert _sized(size_leg(_action(), quote("VTI", 100), D(150), Trading(), CostModel())).quantity == D(1)


def test_a_limit_order_at_a_quote_under_a_dollar_is_sized() -> None:
    sized = _sized(size_leg(_action("sell"), quote("VTI", "0.5"), D(0), Trading(), BAND))
    assert sized.limit == D("0.50")  # 0.495 on the cent, up


def test_a_buy_sized_with_unit_costs_worked_out_once_is_sized_the_same() -> None:
    # The backtest works the unit costs out once per day's orders: every budget around the edges (covered,
    # a cent short, shrunk to the minimum, skipped) sizes as when size_leg works them out itself.
    costs = CostModel(slippage_bps=D(5), commission=Commission(per_order=D(1), per_share=D("0.005")))
    unit = costs.unit_costs()
    trading = Trading(fractional=True, quantity_step=D("0.01"), min_trade_notional=D(50))
    budgets = [D(b) for b in ("1001.55", "1001.54", "900", "52", "51", "0")]  # 10 cost 1,001.55 in all
    assert [size_leg(_action(), quote("VTI", 100), b, trading, costs, unit) for b in budgets] == [
        size_leg(_action(), quote("VTI", 100), b, trading, costs) for b in budgets
    ]
