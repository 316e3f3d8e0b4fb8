"""A household's recent trades from the journal: the history the wash-sale guard judges a plan against."""

from __future__ import annotations

from collections.abc import Collection
from datetime import UTC, date, datetime, time
from decimal import Decimal

from sqlalchemy import select

from reconciler.core.wash_sale import TradeEvent
from reconciler.journal import tables as t
from reconciler.journal.database import as_utc
from reconciler.journal.store import Journal


def household_trades(journal: Journal, accounts: Collection[str], since: date) -> list[TradeEvent]:
    """Every fill in `accounts` on or after `since` as a buy or a sale, oldest first. A sale's gain is left
    unset: the journal does not keep what each sale realised, and the guard counts an unknown result as a
    loss (it fails closed)."""
    start = datetime.combine(since, time.min, tzinfo=UTC)
    query = (
        select(t.intents.c.account, t.intents.c.symbol, t.intents.c.side, t.fills.c.filled_at,
               t.fills.c.quantity)
        .join(t.fills, t.fills.c.client_order_id == t.intents.c.client_order_id)
        .where(t.intents.c.account.in_(sorted(set(accounts))), t.fills.c.filled_at >= start)
        .order_by(t.fills.c.filled_at, t.fills.c.id)
    )
    with journal.tx() as c:
        rows = c.execute(query).all()
    return [
        TradeEvent(str(r.account), str(r.symbol), as_utc(r.filled_at).date(),
                   "buy" if r.side == "buy" else "sell")
        for r in rows
        if r.filled_at is not None and Decimal(str(r.quantity)) > 0
    ]
