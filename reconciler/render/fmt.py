"""Number formatting shared by the text and markdown renderers."""

from __future__ import annotations

from decimal import Decimal

from reconciler.core.numbers import money, qty

__all__ = ["money", "pct", "qty"]


def pct(d: Decimal) -> str:
    return f"{d * 100:.2f}%"
