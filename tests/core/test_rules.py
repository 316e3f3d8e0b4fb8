"""The settings' bounds at their edges (a weight or fraction of exactly 0 and 1 is taken, one step outside it
is refused, and so is any infinity), their documented defaults, the quantity step and the one commission
formula."""

from __future__ import annotations

from decimal import Decimal

import pytest
from pydantic import TypeAdapter, ValidationError

from reconciler.core.rules import Bands, Commission, EnvelopeSettings, SymbolRule, Trading, Weight

TICK = Decimal("0.0001")


@pytest.mark.parametrize("value", [Decimal(0), Decimal(1)])
def test_a_band_of_exactly_0_or_1_is_taken(value: Decimal) -> None:
    assert Bands(absolute=value).absolute == value


@pytest.mark.parametrize("value", [-TICK, 1 + TICK, Decimal("Infinity"), Decimal("NaN")])
def test_a_band_outside_0_to_1_or_not_finite_is_refused(value: Decimal) -> None:
    with pytest.raises(ValidationError):
        Bands(absolute=value)


def test_a_minimum_trade_of_0_is_taken() -> None:
    assert Trading(min_trade_notional=Decimal(0)).min_trade_notional == Decimal(0)


@pytest.mark.parametrize("value", [Decimal("-0.01"), Decimal("Infinity")])
def test_a_negative_or_infinite_amount_is_refused(value: Decimal) -> None:
    with pytest.raises(ValidationError):
        Trading(min_trade_notional=value)


def test_settings_cannot_be_changed_once_read() -> None:
    with pytest.raises(ValidationError):
        Trading().buy_only = True  # type: ignore[misc]


def test_the_default_bands_are_the_5_25_rule_trading_back_to_target() -> None:
    assert Bands() == Bands(absolute=Decimal("0.05"), relative=Decimal("0.25"), inner=Decimal(0))


def test_a_symbol_rule_by_default_neither_holds_nor_stops_trading() -> None:
    assert SymbolRule() == SymbolRule(hold=False, do_not_trade=False, min_price=None)


def test_the_default_trading_rules() -> None:
    assert Trading() == Trading(
        min_trade_notional=Decimal(0), fractional=False, buy_only=False, max_cost_fraction=Decimal("0.05"),
        use_sale_proceeds=True,
    )


def test_the_default_envelope_lets_an_order_and_a_turnover_stray_by_a_tenth() -> None:
    assert EnvelopeSettings() == EnvelopeSettings(notional_band=Decimal("0.1"), turnover_band=Decimal("0.1"))


def test_whole_shares_step_by_one() -> None:
    assert Trading().step == Decimal(1)


def test_fractional_shares_step_by_a_ten_thousandth() -> None:
    assert Trading(fractional=True).step == TICK


def test_a_quantity_step_set_is_the_step() -> None:
    assert Trading(fractional=True, quantity_step=Decimal("0.001")).step == Decimal("0.001")


def test_a_step_of_one_is_allowed_with_whole_shares() -> None:
    assert Trading(quantity_step=Decimal(1)).step == Decimal(1)


def test_a_step_other_than_one_with_whole_shares_is_refused() -> None:
    with pytest.raises(ValidationError, match="quantity_step other than 1 needs fractional: true"):
        Trading(quantity_step=Decimal(2))


def test_a_commission_adds_per_order_per_share_and_basis_points_of_the_notional() -> None:
    commission = Commission(per_order=Decimal(1), per_share=Decimal("0.005"), bps=Decimal(10))
    # $1 + 200 x $0.005 + 10 bps of $8,000 = 1 + 1 + 8
    assert commission.charge(Decimal(200), Decimal(8000)) == Decimal(10)


def test_no_commission_is_charged_by_default() -> None:
    assert Commission().charge(Decimal(200), Decimal(8000)) == Decimal(0)


@pytest.mark.parametrize("value", [Decimal(0), Decimal(1)])
def test_a_target_weight_of_exactly_0_or_1_is_taken(value: Decimal) -> None:
    assert TypeAdapter(Weight).validate_python(value) == value


@pytest.mark.parametrize("value", [-TICK, 1 + TICK, Decimal("Infinity"), Decimal("NaN")])
def test_a_target_weight_outside_0_to_1_or_not_finite_is_refused(value: Decimal) -> None:
    with pytest.raises(ValidationError):
        TypeAdapter(Weight).validate_python(value)
