"""The lot ledger: tax lots per account and symbol, kept in the journal. Only this module knows the table."""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import delete, insert, select

from reconciler.core.ledger import HeldLot
from reconciler.journal import tables as t
from reconciler.journal.store import Journal


def replace_lots(journal: Journal, account: str, lots: Sequence[HeldLot]) -> None:
    """Make the account's lots of each symbol in `lots` exactly these (a broker export is the whole picture of
    the symbols it lists), in one transaction: a failure leaves the ledger as it was."""
    symbols = sorted({lot.symbol for lot in lots})
    now = journal.clock.now()
    with journal.engine.begin() as c:
        c.execute(delete(t.lots).where(t.lots.c.account == account, t.lots.c.symbol.in_(symbols)))
        c.execute(insert(t.lots), [
            {"account": account, "symbol": lot.symbol, "acquired": lot.acquired, "quantity": lot.quantity,
             "cost_basis": lot.cost_basis, "source": "import", "recorded_at": now}
            for lot in lots
        ])


def account_lots(journal: Journal, account: str) -> list[HeldLot]:
    """The account's open lots, by symbol then oldest first."""
    query = (
        select(t.lots.c.symbol, t.lots.c.acquired, t.lots.c.quantity, t.lots.c.cost_basis)
        .where(t.lots.c.account == account)
        .order_by(t.lots.c.symbol, t.lots.c.acquired, t.lots.c.id)
    )
    with journal.engine.connect() as c:
        return [HeldLot(r.symbol, r.acquired, r.quantity, r.cost_basis) for r in c.execute(query)]

