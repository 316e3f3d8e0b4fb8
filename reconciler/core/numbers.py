"""Money formatting used in planner notes and every renderer, and the bounds of a number anybody can mean."""

from __future__ import annotations

from decimal import ROUND_HALF_EVEN, Context, Decimal, DivisionByZero, InvalidOperation, Overflow

ZERO = Decimal(0)
ONE = Decimal(1)
BPS = Decimal(10000)  # basis points in one

# Every plan is computed in this context, whatever the caller's: a program embedding reconciler with a 6-digit
# context (or one that traps nothing) must not change a plan, or its hash.
PLAN_CONTEXT = Context(prec=28, rounding=ROUND_HALF_EVEN, traps=[InvalidOperation, DivisionByZero, Overflow])

# No amount, quantity, price or setting of a real account comes near this: a larger number read from a file or
# a broker is a typo or a lie, and refusing it keeps every sum exact in Decimal's 28 digits.
MAX_MAGNITUDE = Decimal(10) ** 15


def exact_normalize(d: Decimal) -> Decimal:
    """`d` without trailing zeros, never rounded: `normalize()` in a 28-digit context turns
    0.699999999999999999999999999999999999 into 0.7, so a number written beyond 28 digits would pass for a
    shorter one."""
    return d.normalize(Context(prec=max(1, len(d.as_tuple().digits))))


def decimal_places(d: Decimal) -> int:
    """Digits after the point a finite number really has (0.70 has 1, 1e-400 has 400, 1E+3 has 0)."""
    exponent = exact_normalize(d).as_tuple().exponent
    return max(0, -exponent) if isinstance(exponent, int) else 0


def money(d: Decimal) -> str:
    """An amount as dollars with cents and thousands separators, the same in every output."""
    return f"${d:,.2f}"


def pct(d: Decimal) -> str:
    """A fraction as a percentage, as every report shows a weight: `12.34%`."""
    return f"{d * 100:.2f}%"


def qty(d: Decimal) -> str:
    """A quantity as every report shows it: whole numbers without decimals; fractions without trailing
    zeros."""
    if d == d.to_integral_value():
        return f"{d:,.0f}"
    return f"{d.normalize():f}"
