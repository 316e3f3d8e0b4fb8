"""Limit prices and the one fill rule: an order never fills past its limit, buys are budgeted at it."""

from __future__ import annotations

from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from reconciler.backtest.costs import FillModel
from reconciler.core.fills import alpaca_tick, fill_price, limit_price, round_limit
from reconciler.core.models import CostModel, Side
from reconciler.core.rules import Commission

D = Decimal
prices = st.decimals(min_value=D("0.0001"), max_value=D("100000"), places=4)
bands = st.decimals(min_value=D("0.0001"), max_value=D("0.1"), places=4)
slippages = st.decimals(min_value=D(0), max_value=D(500), places=1)
sides = st.sampled_from(["buy", "sell"])


def test_limit_is_rounded_the_safe_way() -> None:
    assert round_limit("buy", D("100.129"), D("0.01")) == D("100.12")  # a buy never pays a tick more
    assert round_limit("sell", D("100.121"), D("0.01")) == D("100.13")  # a sell never takes a tick less
    assert round_limit("buy", D("100.12"), D("0.01")) == D("100.12")
    assert round_limit("sell", D("0.123456"), D("0")) == D("0.123456")  # no tick known: unchanged
    assert limit_price("buy", D(200), D("0.005")) == D("201.000")
    assert limit_price("sell", D(200), D("0.005")) == D("199.000")


def test_alpaca_ticks_follow_rule_612() -> None:
    assert alpaca_tick(D("1.00")) == D("0.01")
    assert alpaca_tick(D("0.9999")) == D("0.0001")
    assert alpaca_tick(D("289.41")) == D("0.01")


def test_fill_rule() -> None:
    assert fill_price("buy", D(100), D(10), None) == D("100.100")
    assert fill_price("sell", D(100), D(10), None) == D("99.900")
    assert fill_price("buy", D(100), D(10), D("100.50")) == D("100.100")  # within the limit: fills, slipped
    # 1% worse than the quote: past a 0.5% limit
    assert fill_price("buy", D(100), D(100), D("100.50")) is None
    assert fill_price("sell", D(100), D(100), D("99.50")) is None


@given(sides, prices, bands, slippages)
def test_a_fill_is_never_past_its_limit(side: Side, quote: Decimal, band: Decimal, slip: Decimal) -> None:
    limit = round_limit(side, limit_price(side, quote, band), alpaca_tick(quote))
    filled = fill_price(side, quote, slip, limit)
    if filled is not None:
        assert filled <= limit if side == "buy" else filled >= limit
    # A band wider than the slippage always fills when there is no tick to round away the difference.
    if slip / 10000 <= band:
        assert fill_price(side, quote, slip, limit_price(side, quote, band)) is not None


@given(prices, bands, slippages)
def test_buys_are_budgeted_at_their_limit(quote: Decimal, band: Decimal, slip: Decimal) -> None:
    costs = CostModel(
        slippage_bps=slip, commission=Commission(bps=D(3), per_share=D("0.005")), limit_band=band
    )
    unit = costs.buy_unit_cost(quote)
    limit = limit_price("buy", quote, band)
    filled = fill_price("buy", quote, slip, limit)
    if filled is not None:  # what one more unit can cost at worst covers any fill the limit allows
        assert unit >= filled * (1 + D(3) / 10000) + D("0.005")
    assert unit >= limit * (1 + D(3) / 10000)
    # Without a band (market orders) the budget is the expected fill, as before limit orders existed.
    market = costs.model_copy(update={"limit_band": None})
    assert market.buy_unit_cost(quote) == market.expected_unit_cost(quote) == costs.expected_unit_cost(quote)


def test_backtest_fills_by_the_same_rule() -> None:
    wide = FillModel(CostModel(slippage_bps=D(5), limit_band=D("0.005")))
    filled = wide.fill("buy", D(10), D(100))
    assert filled is not None
    assert filled[0] == fill_price("buy", D(100), D(5), D("100.5"))
    narrow = FillModel(CostModel(slippage_bps=D(80), limit_band=D("0.005")))
    assert narrow.fill("buy", D(10), D(100)) is None  # 0.8% slippage never reaches a 0.5% limit
    market = FillModel(CostModel(slippage_bps=D(80)))
    assert market.fill("sell", D(10), D(100)) == (D("99.200"), D(0))


# A fill exactly at its limit fills; a tick past it does not. Quote 100, slippage 50 bps: a buy fills at
# 100.50 and a sell at 99.50.
@pytest.mark.parametrize(("limit", "fills"), [("100.49", False), ("100.50", True), ("100.51", True)])
def test_a_buy_fills_up_to_exactly_its_limit(limit: str, fills: bool) -> None:
    assert (fill_price("buy", D(100), D(50), D(limit)) is not None) == fills


@pytest.mark.parametrize(("limit", "fills"), [("99.49", True), ("99.50", True), ("99.51", False)])
def test_a_sell_fills_down_to_exactly_its_limit(limit: str, fills: bool) -> None:
    assert (fill_price("sell", D(100), D(50), D(limit)) is not None) == fills


def test_a_fill_at_its_limit_is_at_the_slipped_price() -> None:
    assert fill_price("buy", D(100), D(50), D("100.50")) == D("100.50")
