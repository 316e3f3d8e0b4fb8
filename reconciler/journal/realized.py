"""What sales realised, read from the lot ledger's `lots.closed` events (a sell's fill closing lots records
what each lot cost and raised): an account's gains in a calendar year, for its budget, and each recent sale's
result, for the wash-sale guard. Only this module reads those events."""

from __future__ import annotations

import json
from collections.abc import Collection
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal, InvalidOperation

from sqlalchemy import select

from reconciler.core.numbers import ZERO
from reconciler.journal import tables as t
from reconciler.journal.database import as_utc
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


@dataclass(frozen=True, slots=True)
class ClosedSale:
    """What one sell fill closed, as its `lots.closed` event recorded it: keyed like the fill (its order and
    the moment it was journaled, the fill's `filled_at`), the units the ledger's lots held, and each closed
    lot's gain (negative: a loss)."""

    client_order_id: str
    at: datetime
    matched: Decimal
    gains: tuple[Decimal, ...]


def closed_sales(journal: Journal, accounts: Collection[str], since: datetime) -> list[ClosedSale]:
    """The `lots.closed` records of `accounts` journaled at or after `since`. A record that does not read as
    the ledger writes it is left out: its sale then has no known result (the guard counts it as a loss)."""
    query = select(t.events.c.client_order_id, t.events.c.created_at, t.events.c.data).where(
        t.events.c.kind == CLOSED, t.events.c.account.in_(sorted(set(accounts))),
        t.events.c.created_at >= since,
    )
    out = []
    with journal.engine.connect() as c:
        for cid, at, data in c.execute(query):
            try:
                record = json.loads(data)
                matched = Decimal(record["sold"]) - Decimal(record["unmatched"])
                gains = tuple(Decimal(lot["proceeds"]) - Decimal(lot["cost_basis"]) for lot in record["lots"])
            except (ValueError, KeyError, TypeError, InvalidOperation):
                continue
            if cid is not None and at is not None:
                out.append(ClosedSale(str(cid), as_utc(at), matched, gains))
    return out
