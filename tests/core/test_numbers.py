"""The bounds of a number anybody can mean are judged on the number as written, never on a rounded copy."""

from __future__ import annotations

from decimal import Decimal, localcontext

import pytest
from hypothesis import given
from hypothesis import strategies as st

from reconciler.brokers.payload import number
from reconciler.core.numbers import (
    BPS,
    ONE,
    PLAN_CONTEXT,
    ZERO,
    decimal_places,
    exact_normalize,
    money,
    pct,
    qty,
)
from reconciler.errors import BrokerError


def test_decimal_places_counts_digits_as_written() -> None:
    assert decimal_places(Decimal("0.70")) == 1
    assert decimal_places(Decimal("1E+3")) == 0
    assert decimal_places(Decimal("1e-400")) == 400
    # 36 digits after the point: a 28-digit normalize() would round it to 0.7 and count 1.
    assert decimal_places(Decimal("0.699999999999999999999999999999999999")) == 36


@given(digits=st.text(alphabet="0123456789", min_size=1, max_size=60), point=st.integers(0, 60),
       zeros=st.integers(0, 5))
def test_exact_normalize_drops_trailing_zeros_and_nothing_else(digits: str, point: int, zeros: int) -> None:
    written = Decimal(f"{digits}{'0' * zeros}E-{point}")
    with localcontext() as ctx:
        ctx.prec = 6  # whatever the caller's context, nothing is rounded
        normal = exact_normalize(written)
    assert normal == written
    assert normal.is_zero() or normal.as_tuple().digits[-1] != 0


def test_plan_arithmetic_keeps_28_significant_digits() -> None:
    with localcontext(PLAN_CONTEXT):
        third = Decimal(1) / Decimal(3)
    assert third == Decimal("0." + "3" * 28)


def test_zero_and_one_are_the_numbers_they_name() -> None:
    assert Decimal(0) == ZERO
    assert Decimal(1) == ONE


def test_a_basis_point_is_one_ten_thousandth() -> None:
    assert Decimal(25) / BPS == Decimal("0.0025")


def test_a_broker_number_just_under_1e15_is_read_and_1e15_is_refused() -> None:
    assert number("999999999999999", "qty", "/v2/positions") == Decimal("999999999999999")
    with pytest.raises(BrokerError, match="beyond any real amount"):
        number("1000000000000000", "qty", "/v2/positions")


def test_a_number_with_no_digits_after_the_point_has_no_decimal_places() -> None:
    assert decimal_places(Decimal("Infinity")) == 0  # no finite exponent: nothing after a point


def test_money_shows_cents_and_thousands() -> None:
    assert money(Decimal("1234.5")) == "$1,234.50"


def test_a_whole_quantity_is_shown_without_decimals() -> None:
    assert qty(Decimal("1200.00")) == "1,200"


def test_a_fractional_quantity_is_shown_without_trailing_zeros() -> None:
    assert qty(Decimal("0.250")) == "0.25"


def test_a_fraction_is_shown_as_a_percentage_with_two_decimals() -> None:
    assert pct(Decimal("0.1234")) == "12.34%"
