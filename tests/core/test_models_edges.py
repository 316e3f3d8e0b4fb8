"""The rules the plan's data carries, at their edges: which price an order meets (the touch within 5% of the
last trade), the unit costs a buy is budgeted with (computed by hand), a holding's band, and which policy
results stop a change."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal

import pytest
from pydantic import ValidationError

from reconciler.core.models import CostModel, Holding, MarketStatus, Override, PolicyResult, Quote
from reconciler.core.rules import Commission

AS_OF = datetime(2026, 3, 2, 15, 0, tzinfo=UTC)


def quote(price: str, bid: str | None = None, ask: str | None = None) -> Quote:
    return Quote(symbol="VTI", price=Decimal(price), as_of=AS_OF, bid=None if bid is None else Decimal(bid),
                 ask=None if ask is None else Decimal(ask))


def test_a_buy_meets_an_ask_exactly_5_percent_over_the_last_trade() -> None:
    assert quote("100", ask="105").marketable("buy") == Decimal(105)


def test_a_buy_meets_the_last_trade_when_the_ask_is_a_cent_beyond_5_percent() -> None:
    assert quote("100", ask="105.01").marketable("buy") == Decimal(100)


def test_a_sell_meets_a_bid_exactly_5_percent_under_the_last_trade() -> None:
    assert quote("100", bid="95").marketable("sell") == Decimal(95)


def test_a_sell_meets_the_last_trade_when_the_bid_is_a_cent_beyond_5_percent() -> None:
    assert quote("100", bid="94.99").marketable("sell") == Decimal(100)


def test_a_buy_meets_the_ask_and_a_sell_the_bid() -> None:
    q = quote("100", bid="99.9", ask="100.1")
    assert q.marketable("buy") == Decimal("100.1")
    assert q.marketable("sell") == Decimal("99.9")


def test_a_sub_dollar_touch_is_met() -> None:
    assert quote("0.50", ask="0.51").marketable("buy") == Decimal("0.51")


@pytest.mark.parametrize("ask", [None, "0", "-1"])
def test_a_missing_zero_or_negative_ask_is_not_met(ask: str | None) -> None:
    assert quote("100", ask=ask).marketable("buy") == Decimal(100)


COSTS = CostModel(
    slippage_bps=Decimal(10),
    commission=Commission(per_order=Decimal(1), per_share=Decimal("0.01"), bps=Decimal(5)),
    price_tick=Decimal("0.01"), commission_step=Decimal("0.01"),
)


def test_a_units_expected_cost_is_the_slipped_rounded_price_with_commissions() -> None:
    # (100 x 1.001 + 0.01) x 1.0005 + 0.01
    assert COSTS.expected_unit_cost(Decimal(100)) == Decimal("100.170055")


def test_a_market_buys_most_per_unit_is_its_expected_cost() -> None:
    assert COSTS.buy_unit_cost(Decimal(100)) == Decimal("100.170055")


def test_a_limit_buys_most_per_unit_is_its_limit_with_commissions() -> None:
    limit = COSTS.model_copy(update={"limit_band": Decimal("0.02")})
    # 100 x 1.02 x 1.0005 + 0.01, whatever the slippage
    assert limit.buy_unit_cost(Decimal(100)) == Decimal("102.061")


def test_a_buys_fixed_cost_is_the_per_order_commission_and_its_rounding() -> None:
    assert COSTS.buy_fixed_cost() == Decimal("1.01")


def test_the_unit_factors_of_a_sell() -> None:
    unit = COSTS.unit_costs()
    assert unit.sell_slip == Decimal("0.999")
    assert unit.sell_bps == Decimal("0.9995")
    assert unit.fixed == Decimal("1.01")


def test_no_costs_by_default() -> None:
    assert CostModel().expected_unit_cost(Decimal(100)) == Decimal(100)


def test_no_fixed_cost_by_default() -> None:
    assert CostModel().buy_fixed_cost() == Decimal(0)


def holding(before: str, target: str, quantity: str = "10") -> Holding:
    return Holding(
        symbol="VTI",
        price=Decimal(100),
        quantity_before=Decimal(quantity),
        quantity_after=Decimal(10),
        weight_before=Decimal(before),
        weight_target=Decimal(target),
        weight_after=Decimal(target),
        band=Decimal("0.05"),
    )


@pytest.mark.parametrize("before", ["0.55", "0.45"])
def test_a_holding_exactly_at_its_band_is_inside(before: str) -> None:
    assert holding(before, "0.5").outside_band is False


@pytest.mark.parametrize("before", ["0.5501", "0.4499"])
def test_a_holding_a_tick_beyond_its_band_is_outside(before: str) -> None:
    assert holding(before, "0.5").outside_band is True


def test_a_holding_exactly_at_a_target_of_one_is_inside() -> None:
    assert holding("1", "1").outside_band is False


def test_a_held_symbol_without_a_target_is_outside() -> None:
    assert holding("0.01", "0", quantity="1").outside_band is True


def test_a_symbol_neither_held_nor_targeted_is_inside() -> None:
    assert holding("0", "0", quantity="0").outside_band is False


def result(kind: str, level: str) -> PolicyResult:
    return PolicyResult.model_validate(
        {"policy": "max_turnover", "kind": kind, "level": level, "portfolio": "alpha", "message": "too much"})


@pytest.mark.parametrize(("kind", "level", "blocking"), [
    ("deny", "hard-mandatory", True), ("deny", "soft-mandatory", True), ("deny", "advisory", False),
    ("warn", "hard-mandatory", False),
])
def test_which_results_block(kind: str, level: str, blocking: bool) -> None:
    assert result(kind, level).blocking is blocking


@pytest.mark.parametrize(("kind", "level", "overrides", "overridden"), [
    ("deny", "soft-mandatory", {"max_turnover"}, True), ("deny", "soft-mandatory", {"other"}, False),
    ("deny", "hard-mandatory", {"max_turnover"}, False), ("warn", "soft-mandatory", {"max_turnover"}, False),
])
def test_only_a_soft_mandatory_denial_named_is_overridden(
    kind: str, level: str, overrides: set[str], overridden: bool
) -> None:
    assert result(kind, level).overridden(overrides) is overridden


@pytest.mark.parametrize(("overrides", "blocks"), [({"max_turnover"}, False), (set(), True)])
def test_a_soft_mandatory_denial_blocks_unless_overridden(overrides: set[str], blocks: bool) -> None:
    assert result("deny", "soft-mandatory").blocks(overrides) is blocks


def test_an_override_journals_who_where_and_the_link() -> None:
    o = Override(
        policy="max_turnover",
        reason="rebalancing after a deposit",
        login="ana",
        source="https://x/1",
        pull_request=7,
    )
    assert o.journal_reason() == ("rebalancing after a deposit (/reconciler override by @ana on pull request"
                                  " #7, https://x/1)")


def test_an_override_without_a_pull_request_or_link_journals_who() -> None:
    o = Override(policy="max_turnover", reason="deposit", login="ana")
    assert o.journal_reason() == "deposit (/reconciler override by @ana)"


def test_a_closed_market_says_when_it_opens_in_utc() -> None:
    status = MarketStatus(
        is_open=False, next_open=datetime(2026, 11, 27, 14, 30, tzinfo=UTC), source="XNYS calendar"
    )
    assert status.described == "XNYS calendar, next open 2026-11-27 14:30 UTC"


def test_a_market_with_no_next_open_names_its_source_only() -> None:
    assert MarketStatus(is_open=True, source="the broker's clock").described == "the broker's clock"


def test_a_models_fields_cannot_be_changed_after_it_is_made() -> None:
    """Plans, quotes and results are shared between threads and sealed by hash: a field set after the fact
    would change what was reviewed, so every core model is frozen."""
    quote = Quote(symbol="VTI", price=Decimal("100"), as_of=datetime(2026, 1, 5, 15, tzinfo=UTC))
    with pytest.raises(ValidationError, match="frozen"):
        quote.price = Decimal("1")  # type: ignore[misc]
