"""A household's recent trades from the journal: the history the wash-sale guard judges a plan against, each
sale with the result the lot ledger recorded for it."""

from __future__ import annotations

from collections.abc import Collection, Sequence
from datetime import UTC, date, datetime, time
from decimal import Decimal

from sqlalchemy import select

from reconciler.core.numbers import ZERO
from reconciler.core.wash_sale import TradeEvent
from reconciler.journal import tables as t
from reconciler.journal.database import as_utc
from reconciler.journal.realized import ClosedSale, closed_sales
from reconciler.journal.store import Journal


def household_trades(journal: Journal, accounts: Collection[str], since: date) -> list[TradeEvent]:
    """Every fill in `accounts` on or after `since` as a buy or a sale, oldest first. A sale carries the
    result its `lots.closed` record gives (sale_result); a sale the ledger has no full record of (booked no
    lots, or made before the ledger existed) carries none, and the guard counts it as a loss (it fails
    closed)."""
    start = datetime.combine(since, time.min, tzinfo=UTC)
    query = (
        select(t.intents.c.account, t.intents.c.symbol, t.intents.c.side, t.fills.c.client_order_id,
               t.fills.c.filled_at, t.fills.c.quantity, t.fills.c.fee_in_kind)
        .join(t.fills, t.fills.c.client_order_id == t.intents.c.client_order_id)
        .where(t.intents.c.account.in_(sorted(set(accounts))), t.fills.c.filled_at >= start)
        .order_by(t.fills.c.filled_at, t.fills.c.id)
    )
    with journal.tx() as c:
        rows = [r for r in c.execute(query).all() if r.filled_at is not None and Decimal(str(r.quantity)) > 0]
    # A fill and the lots it closed are written in one transaction with one timestamp: that pair keys both.
    sold: dict[tuple[str, datetime], Decimal] = {}
    for r in rows:
        if r.side != "buy":
            key = (str(r.client_order_id), as_utc(r.filled_at))
            sold[key] = sold.get(key, ZERO) + Decimal(str(r.quantity)) + Decimal(str(r.fee_in_kind or 0))
    records: dict[tuple[str, datetime], list[ClosedSale]] = {}
    for record in closed_sales(journal, accounts, start) if sold else []:
        records.setdefault((record.client_order_id, record.at), []).append(record)
    out = []
    for r in rows:
        day = as_utc(r.filled_at).date()
        if r.side == "buy":
            out.append(TradeEvent(str(r.account), str(r.symbol), day, "buy"))
            continue
        key = (str(r.client_order_id), as_utc(r.filled_at))
        result = sale_result(sold[key], records.get(key, []))
        out.append(TradeEvent(str(r.account), str(r.symbol), day, "sell", result))
    return out


def sale_result(units: Decimal, records: Sequence[ClosedSale]) -> Decimal | None:
    """A sale's result as the wash-sale rule sees it: the losses of the lots it closed at a loss when there
    are any (a gain on other lots of the same sale does not make them deductible: Publication 550's three
    blocks sold together), else its gain; None unless the ledger's lots held every unit sold (no record, or a
    ledger short of the sale: the part no lot held has no known result)."""
    if not records or sum((r.matched for r in records), ZERO) != units:
        return None
    gains = [g for r in records for g in r.gains]
    losses = [g for g in gains if g < 0]
    return sum(losses or gains, ZERO)
