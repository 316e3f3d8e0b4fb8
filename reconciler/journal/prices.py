"""Prices the journal knows from outside any quote: what the symbol last filled at."""

from __future__ import annotations

from collections.abc import Collection
from decimal import Decimal, InvalidOperation

from sqlalchemy import func, select

from reconciler.journal import tables as t
from reconciler.journal.store import Journal

_CHUNK = 500  # symbols per IN list: well under every database's bound-parameter limit


def last_fill_prices(journal: Journal, symbols: Collection[str]) -> dict[str, Decimal]:
    """Each symbol's most recent fill price in any account, where the journal has one: a price a wrong quote
    does not set, which corroborates quotes and sizes buys (core.valuation, core.order_size)."""
    wanted = sorted(set(symbols))
    out: dict[str, Decimal] = {}
    with journal.tx(single=True) as c:
        for start in range(0, len(wanted), _CHUNK):
            last = (
                select(t.intents.c.symbol, func.max(t.fills.c.id).label("last"))
                .join(t.intents, t.intents.c.client_order_id == t.fills.c.client_order_id)
                .where(t.intents.c.symbol.in_(wanted[start:start + _CHUNK]))
                .group_by(t.intents.c.symbol)
                .subquery()
            )
            rows = c.execute(
                select(last.c.symbol, t.fills.c.price).join(t.fills, t.fills.c.id == last.c.last)
            )
            for symbol, price in rows:
                value = _price(price)
                if value is not None:
                    out[str(symbol)] = value
    return out


def _price(raw: object) -> Decimal | None:
    """A stored fill price that can vouch for a quote: positive and finite; anything else vouches for
    nothing."""
    try:
        value = raw if isinstance(raw, Decimal) else Decimal(str(raw))
    except InvalidOperation:
        return None
    return value if value.is_finite() and value > 0 else None
