"""What a broker's running totals about an order add to the journal: the order's row and the new fill they
imply beyond the fills already journaled, with the tax lots that fill opens or closes (journal.lot_book); all
in the caller's transaction (Journal.record_state)."""

from __future__ import annotations

import json
from datetime import datetime
from decimal import Decimal

from sqlalchemy import Connection, bindparam, insert, select

from reconciler.journal import tables as t
from reconciler.journal.database import upsert
from reconciler.journal.lot_book import BookedFill, LotRule, book_fill
from reconciler.journal.order_facts import OrderFacts

# Built once with bound parameters: building and coercing a statement per call cost more than executing it
# (measured on SQLite: 0.10 ms against 0.02 ms for an insert).
_INSERT_FILL = insert(t.fills)
_FILLS_OF = select(
    t.fills.c.quantity, t.fills.c.price, t.fills.c.commission, t.fills.c.fee_in_kind,
    t.fills.c.fee_asset_amount
).where(
    t.fills.c.client_order_id == bindparam("b_cid")
)


def record_order(c: Connection, account: str, state: OrderFacts, now: datetime) -> None:
    """The order's row as the broker reports it now."""
    values = dict(
        broker_order_id=state.broker_order_id or None, account=account, symbol=state.symbol,
        side=state.side,
        quantity=state.quantity, filled_quantity=state.filled_quantity, avg_price=state.avg_price,
        status=state.status, updated_at=now,
    )
    upsert(c, t.orders, {"client_order_id": state.client_order_id}, values, submitted_at=now)


def record_fill(
    c: Connection, account: str, state: OrderFacts, now: datetime, lots: LotRule | None
) -> Decimal:
    """The new fill the broker's totals imply, written with the lots it opens or closes (none when `lots` is
    None: the account's rule is not known); returns its quantity (0 when there is none).

    Measured against the fills table itself, never against the intent's progress: a crash can lose the whole
    step (it is replayed from the broker's totals) but never records a fill, or books its lots, twice."""
    rows = c.execute(_FILLS_OF, {"b_cid": state.client_order_id}).all()
    done = sum((r.quantity for r in rows), Decimal(0))
    delta = state.filled_quantity - done
    avg_price = state.avg_price
    if delta <= 0 or avg_price is None:
        return Decimal(0)
    value = sum((r.quantity * r.price for r in rows), Decimal(0))
    # The broker reports a running average; the new fill's own price is what moved it.
    price = (avg_price * state.filled_quantity - value) / delta
    unit = (price if price > 0 else avg_price).quantize(Decimal("0.000001"))
    commission = max(Decimal(0), state.commission - sum((r.commission or 0 for r in rows), Decimal(0)))
    fee_in_kind = max(Decimal(0), state.fee_in_kind - sum((r.fee_in_kind or 0 for r in rows), Decimal(0)))
    c.execute(_INSERT_FILL, {
        "client_order_id": state.client_order_id,
        "fill_key": f"{state.broker_order_id or None}:{state.filled_quantity}",
        "quantity": delta,
        "price": unit,
        "commission": commission,
        "fee_in_kind": fee_in_kind,
        "fee_asset": state.fee_asset,
        "fee_asset_amount": max(
            Decimal(0),
            state.fee_asset_amount - sum((r.fee_asset_amount or 0 for r in rows), Decimal(0))
        ),
        "filled_at": now,
    })
    if lots is None:  # said where an audit looks, as the next plan says the lots disagree
        c.execute(insert(t.events), {
            "apply_id": None, "kind": "lots.not_booked", "account": account,
            "client_order_id": state.client_order_id, "created_at": now,
            "data": json.dumps({"symbol": state.symbol, "side": state.side, "quantity": str(delta),
                                "why": "the account's lot method is not known (its portfolio did not load)"}),
        })
    else:
        book_fill(c, BookedFill(
            account, state.client_order_id, state.symbol, state.side, delta, unit, commission, fee_in_kind,
            now,
        ), lots)
    return delta


def fees_recorded(c: Connection, client_order_id: str) -> tuple[Decimal, Decimal]:
    """(commission, fee in kind) of an order's fills journaled so far: brokers report running totals."""
    rows = c.execute(
        select(t.fills.c.commission, t.fills.c.fee_in_kind)
        .where(t.fills.c.client_order_id == client_order_id)
    ).all()
    return (
        sum((r[0] for r in rows if r[0] is not None), Decimal(0)),
        sum((r[1] for r in rows if r[1] is not None), Decimal(0)),
    )
