"""A broker adapter's ledger state per account (Alpaca's activity cursor and settlement window), kept in the
journal so that the next process reads on from where the last one stopped. Only this module knows the
table."""

from __future__ import annotations

from collections.abc import Callable

from sqlalchemy import select

from reconciler.journal import tables as t
from reconciler.journal.database import upsert
from reconciler.journal.store import Journal


class JournalLedgers:
    """Load and save one text state per (broker, account). A read-only journal (plan without --record) is read
    and never written: the states this process reaches are kept in memory for its own later observations."""

    def __init__(self, journal: Callable[[], Journal], broker: str) -> None:
        self._journal = journal  # opened on first use: building the broker opens no database
        self.broker = broker
        self._memory: dict[str, str] = {}

    def load_text(self, account: str) -> str | None:
        """The account's ledger state from the journal (or this run's, when the journal is read-only)."""
        if account in self._memory:
            return self._memory[account]
        j = self._journal()
        with j.engine.connect() as c:
            row = c.execute(
                select(t.broker_ledgers.c.state).where(
                    t.broker_ledgers.c.broker == self.broker, t.broker_ledgers.c.account == account
                )
            ).first()
        return None if row is None else str(row[0])

    def save_text(self, account: str, state: str) -> None:
        """Keep the ledger state in the journal; in memory only when it is read-only."""
        j = self._journal()
        if not j.writable:
            self._memory[account] = state
            return
        with j.engine.begin() as c:
            upsert(c, t.broker_ledgers, {"broker": self.broker, "account": account},
                   {"state": state, "updated_at": j.clock.now()})
