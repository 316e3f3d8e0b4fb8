"""Number formatting shared by the text and markdown renderers."""

from __future__ import annotations

from decimal import Decimal

from reconciler.core.numbers import money

__all__ = ["money", "pct", "qty"]


def pct(d: Decimal) -> str:
    return f"{d * 100:.2f}%"


def qty(d: Decimal) -> str:
    """Whole numbers without decimals; fractions without trailing zeros."""
    if d == d.to_integral_value():
        return f"{d:,.0f}"
    return f"{d.normalize():f}"
