"""The built-in order-size check: a share count only a wrong price explains is refused, whatever the
quotes."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from reconciler.core.models import Action, CostModel, Quote
from reconciler.core.order_size import ORDER_SIZE_POLICY, SizeLimits, order_size_denials, oversized
from reconciler.core.planner import plan_portfolio
from tests.builders import desired, observation, quote

D = Decimal
NOW = datetime(2031, 5, 6, 15, 0, tzinfo=UTC)
LIMITS = SizeLimits(max_volume_fraction=D("0.05"))


def _action(side: str, qty: str, price: str, symbol: str = "AAA") -> Action:
    return Action(1, symbol, side, D(qty), D(price), D(qty) * D(price), D(0),
                  "test")  # type: ignore[arg-type]


def _quote(price: str, volume: str | None) -> Quote:
    """AAA at a price its previous close confirms: only the size check can refuse an order at it."""
    return quote("AAA", price, previous_close=price, as_of=NOW, daily_volume=volume)


def test_sell_never_above_the_position() -> None:
    assert oversized(_action("sell", "10", "100"), D(10), D(5000), _quote("100", None), LIMITS) is None
    why = oversized(_action("sell", "11", "100"), D(10), D(5000), _quote("100", None), LIMITS)
    assert why is not None
    assert "more than the 10 held" in why


def test_buy_never_above_equity() -> None:
    why = oversized(_action("buy", "60", "100"), D(0), D(5000), _quote("100", None), LIMITS)
    assert why is not None
    assert "more than the account's equity" in why


def test_share_count_against_daily_volume() -> None:
    assert oversized(_action("buy", "40", "0.0001"), D(0), D(5000), _quote("0.0001", "1000"), LIMITS) is None
    why = oversized(_action("buy", "51", "0.0001"), D(0), D(5000), _quote("0.0001", "1000"), LIMITS)
    assert why is not None
    assert "daily volume" in why
    assert "5.1%" in why
    # Unknown volume: not judged (the paper broker's prices rarely carry it).
    assert oversized(_action("buy", "51", "0.0001"), D(0), D(5000), _quote("0.0001", None), LIMITS) is None
    assert (
        oversized(_action("buy", "51", "0.0001"), D(0), D(5000), _quote("0.0001", "1000"), SizeLimits())
        is None
    )


def test_a_tiny_quote_with_a_matching_close_cannot_buy_millions_of_shares() -> None:
    """The reproduced case: 0.0001 with a previous close of 0.0001 passes the kill switch; the planner buys
    the target weight of equity at that price: tens of millions of shares, refused against the daily
    volume."""
    target = desired({"AAA": "0.5", "BBB": "0.5"}, name="p", source="p.yaml")
    quotes = {
        "AAA": quote("AAA", "0.0001", previous_close="0.0001", as_of=NOW, daily_volume=3_000_000),
        "BBB": quote("BBB", 50, previous_close=50, as_of=NOW, daily_volume=3_000_000),
    }
    obs = observation(settled=20000, taken_at=NOW, quotes=quotes)
    pp = plan_portfolio(target, obs, CostModel())
    aaa = next(a for a in pp.actions if a.symbol == "AAA")
    assert aaa.quantity > 10_000_000
    denials = order_size_denials(pp, LIMITS)
    assert len(denials) == 1
    assert denials[0].policy == ORDER_SIZE_POLICY
    assert "AAA" in denials[0].message
    assert denials[0].level == "hard-mandatory"


@given(st.decimals(min_value=D("0.0001"), max_value=D(10_000), places=4),
       st.decimals(min_value=D(1), max_value=D(10**9), places=0))
def test_no_order_passes_above_the_volume_fraction(price: Decimal, volume: Decimal) -> None:
    qty = (volume * D("0.05")).to_integral_value() + 1
    why = oversized(
        _action("buy", str(qty), str(price)), D(0), qty * price * 2, _quote(str(price), str(volume)), LIMITS
    )
    assert why is not None


# --- every limit at its edge, and the cases a wrong price would hide in -------------------------------------

def test_a_sell_of_exactly_the_position_passes_and_one_more_unit_does_not() -> None:
    assert oversized(_action("sell", "10", "100"), D(10), D(5000), None, LIMITS) is None
    assert oversized(_action("sell", "10.0001", "100"), D(10), D(5000), None, LIMITS) is not None


def test_a_buy_is_never_judged_against_the_position() -> None:
    assert oversized(_action("buy", "11", "100"), D(10), D(5000), None, LIMITS) is None


def test_a_sell_of_a_symbol_the_account_does_not_hold_is_refused() -> None:
    """The plan's observation has no ZZZ position at all: nothing is held, so no quantity of it can be
    sold."""
    pp = plan_portfolio(
        desired({"AAA": "1"}), observation({"AAA": "100", "ZZZ": "5"}, {"AAA": "10"}), CostModel()
    )
    sell = Action(1, "ZZZ", "sell", D(1), D(5), D(5), D(0), "test")
    denials = order_size_denials(pp.model_copy(update={"actions": [sell]}), LIMITS)
    assert [d.message for d in denials] == ["sell 1 ZZZ is more than the 0 held"]


@pytest.mark.parametrize(("notional", "refused"), [("4999.99", False), ("5000", False), ("5000.01", True)])
def test_a_buy_at_exactly_the_equity_passes_and_a_cent_more_does_not(notional: str, refused: bool) -> None:
    assert (oversized(_action("buy", "1", notional), D(0), D(5000), None, LIMITS) is not None) == refused


@pytest.mark.parametrize("equity", ["0", "-1", "-5000"])
def test_a_buy_is_refused_when_the_account_has_no_equity(equity: str) -> None:
    """Zero or negative equity sizes nothing: any buy is more than the account has (fail closed)."""
    why = oversized(_action("buy", "1", "0.01"), D(0), D(equity), None, LIMITS)
    assert why is not None
    assert "more than the account's equity" in why


@pytest.mark.parametrize(("qty", "refused"), [("49", False), ("50", False), ("50.0001", True)])
def test_a_share_count_at_exactly_the_volume_fraction(qty: str, refused: bool) -> None:
    """5% of a daily volume of 1000 is 50 units: 50 passes, a quantity step more does not, either side."""
    for side in ("buy", "sell"):
        why = oversized(_action(side, qty, "1"), D(100), D(5000), _quote("1", "1000"), LIMITS)
        assert (why is not None) == refused


def test_a_zero_volume_quote_is_not_judged_by_volume() -> None:
    """A volume of 0 (a session with no trades, or a broker that fills the field with 0) says nothing about
    the size; dividing by it would be an error, refusing would refuse every order in a quiet symbol."""
    assert oversized(_action("buy", "10", "1"), D(0), D(5000), _quote("1", "0"), LIMITS) is None


def test_a_volume_of_one_unit_is_judged() -> None:
    why = oversized(_action("buy", "1", "1"), D(0), D(5000), _quote("1", "1"), LIMITS)
    assert why == "buy 1 AAA is 100.0% of its daily volume (1), above 5.0%: is its price (1) right?"


def test_no_denial_for_orders_within_every_limit() -> None:
    pp = plan_portfolio(desired({"AAA": "1"}), observation({"AAA": "100"}, settled="1000"), CostModel())
    assert [(a.side, a.quantity) for a in pp.actions] == [("buy", D(10))]
    assert order_size_denials(pp, LIMITS) == []


# --- the corroborated buy limits at their edges -------------------------------------------------------------

@pytest.mark.parametrize(("known", "refused"), [("99.99", False), ("100", False), ("100.01", True)])
def test_a_buy_at_its_known_price_up_to_exactly_the_equity(known: str, refused: bool) -> None:
    # 50 at a quote of 0.01, but known at 100 a share: 5,000, exactly the equity.
    why = oversized(_action("buy", "50", "0.01"), D(0), D(5000), None, SizeLimits(), known_price=D(known))
    assert (why is not None) == refused


TARGET_MULTIPLE = SizeLimits(max_target_multiple=D(2))


@pytest.mark.parametrize(("qty", "refused"), [("100", False), ("100.0001", True)])
def test_a_buy_up_to_exactly_its_target_multiple_at_a_previous_close_under_one(
    qty: str, refused: bool
) -> None:
    # Target 50% of an equity of 100 at a previous close of 0.5: 100 units whole; twice that, 200, at most.
    q = quote("AAA", "0.25", previous_close="0.5", as_of=NOW)
    why = oversized(_action("buy", str(D(qty) * 2), "0.25"), D(0), D(100), q, TARGET_MULTIPLE,
                    target_weight=D("0.5"))
    assert (why is not None) == refused


def test_a_previous_close_of_zero_judges_no_target_multiple() -> None:
    q = Quote.model_construct(symbol="AAA", price=D(1), previous_close=D(0), as_of=NOW)
    assert (
        oversized(_action("buy", "10", "1"), D(0), D(100), q, TARGET_MULTIPLE, target_weight=D("0.5")) is None
    )


def test_a_known_price_of_zero_is_no_known_price() -> None:
    from reconciler.core.order_size import independent_price

    assert independent_price("AAA", {"AAA": D(0)}, {}) is None


def test_the_target_multiple_of_an_account_worth_less_than_a_dollar() -> None:
    # Equity 0.50, target 10%, previous close 0.01: 5 units whole, 10 at most; 20 (0.20) is refused.
    q = quote("AAA", "0.01", previous_close="0.01", as_of=NOW)
    why = oversized(_action("buy", "20", "0.01"), D(0), D("0.5"), q, TARGET_MULTIPLE, target_weight=D("0.1"))
    assert why is not None
