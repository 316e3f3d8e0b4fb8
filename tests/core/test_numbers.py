"""The bounds of a number anybody can mean are judged on the number as written, never on a rounded copy."""

from __future__ import annotations

from decimal import Decimal, localcontext

from hypothesis import given
from hypothesis import strategies as st

from reconciler.core.numbers import decimal_places, exact_normalize


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
