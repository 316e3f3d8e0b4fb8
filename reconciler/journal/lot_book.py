"""Fills open and close tax lots (issue 26, Ledger), in the transaction that records the fill.

A buy opens a lot of what the account now holds from it (the fill less any fee kept in the asset) at what it
cost (the fill's notional and its commission); a sell closes lots in the order of the account's method
(core.lots, the backtester's), and the lots' remaining cost keeps exactly what was not sold. Booked only when
the journal writes a new fill row (journal.fill_progress), whose `fill_key` is unique: a fill recorded again
(a crash's replay, the reconcile loop) finds its row already there and books nothing, and a crash before the
commit loses the fill and its lots together.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import Decimal

from sqlalchemy import Connection, delete, insert, select, update

from reconciler.core.lots import Lot, LotMethod, Rates, allocate, long_term, sale_order
from reconciler.core.tax_rules import TaxSettings
from reconciler.journal import tables as t

_BASIS = Decimal("0.000001")  # a partly sold lot's basis is split at this precision, the fills' price's


@dataclass(frozen=True, slots=True)
class LotRule:
    """Which lots an account's sells close, and the rates `min_tax` weighs them with."""

    method: LotMethod = "fifo"
    rates: Rates = field(default_factory=Rates)


# An account without a `tax:` block: FIFO, the IRS's rule when shares sold are not identified (Publication
# 550, "Identifying the shares sold"), so its ledger is right the day a `tax:` block is added.
FIFO = LotRule()


def lot_rule(tax: TaxSettings | None) -> LotRule:
    """The rule a portfolio's `tax:` block gives its account's fills (FIFO without one)."""
    return FIFO if tax is None else LotRule(tax.lots, tax.rates.rates())


@dataclass(frozen=True, slots=True)
class BookedFill:
    """One new fill as the lot ledger needs it."""

    account: str
    client_order_id: str
    symbol: str
    side: str
    quantity: Decimal
    price: Decimal
    commission: Decimal
    fee_in_kind: Decimal
    at: datetime


def book_fill(c: Connection, fill: BookedFill, rule: LotRule) -> None:
    """Open or close the account's lots for one new fill, in the caller's transaction."""
    day = fill.at.astimezone(UTC).date()
    if fill.side == "buy":
        held = fill.quantity - fill.fee_in_kind
        if held > 0:
            c.execute(insert(t.lots), {
                "account": fill.account, "symbol": fill.symbol, "acquired": day, "quantity": held,
                "cost_basis": fill.quantity * fill.price + fill.commission, "source": "fill",
                "recorded_at": fill.at,
            })
        return
    sold = fill.quantity + fill.fee_in_kind
    rows = c.execute(
        select(t.lots.c.id, t.lots.c.acquired, t.lots.c.quantity, t.lots.c.cost_basis)
        .where(t.lots.c.account == fill.account, t.lots.c.symbol == fill.symbol)
        .order_by(t.lots.c.acquired, t.lots.c.id)
    ).all()
    lots = [Lot(r.acquired, r.quantity, r.cost_basis / r.quantity) for r in rows]
    per_share = (fill.quantity * fill.price - fill.commission) / sold
    closed: list[dict[str, str | bool]] = []
    matched = Decimal(0)
    for i, take in allocate(lots, sale_order(lots, rule.method, day, per_share, rule.rates), sold):
        row = rows[i]
        basis = row.cost_basis if take == row.quantity else (row.cost_basis * take / row.quantity).quantize(
            _BASIS
        )
        if take == row.quantity:
            c.execute(delete(t.lots).where(t.lots.c.id == row.id))
        else:
            c.execute(update(t.lots).where(t.lots.c.id == row.id).values(
                quantity=row.quantity - take, cost_basis=row.cost_basis - basis
            ))
        matched += take
        closed.append({
            "acquired": row.acquired.isoformat(), "quantity": str(take), "cost_basis": str(basis),
            "proceeds": str((take * per_share).quantize(_BASIS)), "long_term": long_term(row.acquired, day),
        })
    if not closed:  # no lot held any of it: the ledger disagrees with the broker, and the next plan says so
        return
    # The realised gains, for the year's budget and the audit: which lots this sale closed, and what of the
    # sale no lot held (the ledger was short).
    c.execute(insert(t.events), {
        "apply_id": None, "kind": "lots.closed", "account": fill.account,
        "client_order_id": fill.client_order_id, "created_at": fill.at,
        "data": json.dumps({"symbol": fill.symbol, "method": rule.method, "sold": str(sold),
                            "unmatched": str(sold - matched),
                            "lots": closed}, sort_keys=True),
    })
