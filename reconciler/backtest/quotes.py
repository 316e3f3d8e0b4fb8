"""A backtest day's prices as the planner sees them: Decimal closes (what the CSV said) and the day's quotes,
stamped at the close. Split from backtest.engine, which asks for them on each day something may trade."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, date, datetime
from decimal import Decimal

from pydantic import TypeAdapter

from reconciler.core.models import Quote

# A day's quotes validated as one mapping: pydantic-core validates the 20 of a day in one call in half the
# time of 20 Quote(...) calls (measured: 51 µs against 107 µs), and faster than model_construct builds them.
_QUOTES = TypeAdapter(dict[str, Quote])


def day_quotes(
    symbols: Sequence[str], prices: list[Decimal], previous: Sequence[Decimal | None], when: datetime
) -> dict[str, Quote]:
    """The day's quotes of `symbols` at `prices` (and the previous closes, for the kill switch), as of
    `when`."""
    return _QUOTES.validate_python({
        s: {"symbol": s, "price": p, "previous_close": q, "as_of": when}
        for s, p, q in zip(symbols, prices, previous, strict=True)
    })


def decimals(closes: list[float]) -> list[Decimal]:
    """Float closes as the shortest decimals that read back as the same floats (what the CSV said)."""
    return list(map(Decimal, map(repr, closes)))


def close_time(day: date) -> datetime:
    """Fills happen at the close (16:00 New York is 21:00 UTC): quotes and policy checks carry this time."""
    return datetime(day.year, day.month, day.day, 21, 0, tzinfo=UTC)
