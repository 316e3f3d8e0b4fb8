"""Gains an account realised in a calendar year, read from the lot ledger's `lots.closed` events (a sell's
fill closing lots records what each lot cost and raised). Only this module reads those events for gains."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from decimal import Decimal

from sqlalchemy import select

from reconciler.core.numbers import ZERO
from reconciler.journal import tables as t
from reconciler.journal.store import Journal

CLOSED = "lots.closed"  # the event a fill that closes lots records (journal.lot_book)


def realized_in_year(journal: Journal, account: str, year: int) -> Decimal:
    """Net gain (losses negative) of the lots the account's fills closed in `year` (UTC)."""
    start, end = datetime(year, 1, 1, tzinfo=UTC), datetime(year + 1, 1, 1, tzinfo=UTC)
    query = select(t.events.c.data).where(
        t.events.c.kind == CLOSED, t.events.c.account == account, t.events.c.created_at >= start,
        t.events.c.created_at < end,
    )
    total = ZERO
    with journal.engine.connect() as c:
        for (data,) in c.execute(query):
            for lot in json.loads(data)["lots"]:
                total += Decimal(lot["proceeds"]) - Decimal(lot["cost_basis"])
    return total
