"""Money formatting used in planner notes and every renderer."""

from __future__ import annotations

from decimal import Decimal


def money(d: Decimal) -> str:
    return f"${d:,.2f}"
