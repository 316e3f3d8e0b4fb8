"""Prices the journal knows from outside any quote: what the symbol last filled at."""

from __future__ import annotations

from collections.abc import Collection
from decimal import Decimal, InvalidOperation

from sqlalchemy import func, select

from reconciler.journal import tables as t
from reconciler.journal.store import Journal

_CHUNK = 500  # symbols per IN list: well under every database's bound-parameter limit
# The latest fills looked at first: a symbol traded lately has its last fill among them, found without reading
# the whole history (what an apply asks twice per portfolio, when the journal holds every fill before it).
RECENT = 256


def last_fill_prices(journal: Journal, symbols: Collection[str], recent: int = RECENT) -> dict[str, Decimal]:
    """Each symbol's most recent fill price in any account, where the journal has one: a price a wrong quote
    does not set, which corroborates quotes and sizes buys (core.valuation, core.order_size)."""
    wanted = set(symbols)
    out: dict[str, Decimal] = {}
    with journal.tx(single=True) as c:
        # The `recent` latest fills, newest first: a symbol with a fill among them has its latest one there
        # (any later fill would be among them too). Only the symbols without one read the whole history.
        latest = select(t.fills.c.id, t.fills.c.client_order_id, t.fills.c.price).order_by(
            t.fills.c.id.desc()
        ).limit(recent).subquery()
        found: set[str] = set()
        for symbol, price in c.execute(
            select(t.intents.c.symbol, latest.c.price)
            .join(t.intents, t.intents.c.client_order_id == latest.c.client_order_id)
            .order_by(latest.c.id.desc())
        ):
            symbol = str(symbol)
            if symbol in wanted and symbol not in found:
                found.add(symbol)
                value = _price(price)
                if value is not None:
                    out[symbol] = value
        rest = sorted(wanted - found)
        for start in range(0, len(rest), _CHUNK):
            last = (
                select(t.intents.c.symbol, func.max(t.fills.c.id).label("last"))
                .join(t.intents, t.intents.c.client_order_id == t.fills.c.client_order_id)
                .where(t.intents.c.symbol.in_(rest[start:start + _CHUNK]))
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
