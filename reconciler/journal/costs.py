"""The journal's fills with what `reconciler costs` fits them against: each fill's order as it was sent (the
intent: account, symbol, side, the quote it was sent at and when it was journaled, just before the send).

The quote is the intent's `est_price`: the fresh quote the executor sent the order with (execution/leg.py),
or, for an order sent without one, the plan's price for it. Fees are valued in cash: `commission` already is
(a fee paid in a third asset is recorded at its cash value), and a fee kept in kind is valued at the fill's
price.
"""

from __future__ import annotations

from collections.abc import Iterable
from decimal import Decimal

from sqlalchemy import select

from reconciler.core.learned_costs import MIN_FILLS, Fit, ObservedFill, fit, grouping
from reconciler.journal import tables as t
from reconciler.journal.store import Journal

_FILLS = (
    select(
        t.intents.c.account,
        t.fills.c.client_order_id,
        t.intents.c.symbol,
        t.intents.c.side,
        t.fills.c.quantity,
        t.fills.c.price,
        t.fills.c.commission,
        t.fills.c.fee_in_kind,
        t.intents.c.est_price,
        t.intents.c.created_at,
        t.fills.c.filled_at,
    )
    .join(t.intents, t.intents.c.client_order_id == t.fills.c.client_order_id)
    .order_by(t.fills.c.id)
)


def observed_fills(journal: Journal) -> list[ObservedFill]:
    """Every fill the journal holds whose order it sent, oldest first, with the quote and time of the send."""
    with journal.tx(single=True) as c:
        rows = c.execute(_FILLS).all()
    return [
        ObservedFill(
            account=r.account,
            client_order_id=r.client_order_id,
            symbol=r.symbol,
            side=r.side,
            quantity=r.quantity,
            price=r.price,
            commission=(r.commission or Decimal(0)) + (r.fee_in_kind or Decimal(0)) * r.price,
            quote=r.est_price,
            sent_at=r.created_at,
            filled_at=r.filled_at,
        )
        for r in rows
        if r.est_price is not None and r.est_price > 0 and r.quantity > 0
    ]


def learned(
    journal: Journal, broker_kind: str, accounts: Iterable[str], min_fills: int = MIN_FILLS
) -> list[Fit]:
    """The costs fitted from the journal's fills, per broker and symbol class (core.learned_costs)."""
    return fit(observed_fills(journal), grouping(broker_kind, accounts), min_fills)
