"""The lot ledger: tax lots per account and symbol, kept in the journal. Only this module knows the table."""

from __future__ import annotations

import json
from collections.abc import Collection, Sequence
from datetime import UTC, datetime
from decimal import Decimal

from sqlalchemy import delete, insert, select

from reconciler.core.ledger import HeldLot
from reconciler.journal import tables as t
from reconciler.journal.database import as_utc
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


_CHUNK = 500  # accounts per IN list: well under every database's bound-parameter limit


def lots_by_account(journal: Journal, accounts: Collection[str]) -> dict[str, list[HeldLot]]:
    """Every named account's open lots (an empty list for one without any), read at once for a whole plan."""
    wanted = sorted(set(accounts))
    out: dict[str, list[HeldLot]] = {a: [] for a in wanted}
    with journal.tx() as c:
        for start in range(0, len(wanted), _CHUNK):
            rows = c.execute(
                select(t.lots.c.account, t.lots.c.symbol, t.lots.c.acquired, t.lots.c.quantity,
                       t.lots.c.cost_basis)
                .where(t.lots.c.account.in_(wanted[start:start + _CHUNK]))
                .order_by(t.lots.c.account, t.lots.c.symbol, t.lots.c.acquired, t.lots.c.id)
            )
            for r in rows:
                out[r.account].append(HeldLot(r.symbol, r.acquired, r.quantity, r.cost_basis))
    return out


def realized_gains(journal: Journal, account: str, year: int) -> tuple[Decimal, Decimal]:
    """(short-term, long-term) gains the account's sales realised in a calendar year (UTC), from the lots
    each closed (journal.lot_book's `lots.closed`): what a year's budget of realised gains has used."""
    start = datetime(year, 1, 1, tzinfo=UTC)
    query = select(t.events.c.data, t.events.c.created_at).where(
        t.events.c.kind == "lots.closed", t.events.c.account == account, t.events.c.created_at >= start
    )
    short = long = Decimal(0)
    with journal.tx() as c:
        for data, at in c.execute(query):
            if as_utc(at).year != year:
                continue
            for lot in json.loads(data)["lots"]:
                gain = Decimal(lot["proceeds"]) - Decimal(lot["cost_basis"])
                if lot["long_term"]:
                    long += gain
                else:
                    short += gain
    return short, long
