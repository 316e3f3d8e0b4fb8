"""The leases of the account locks a process holds on one journal: renewed by one thread, due ones in one
transaction, and by the apply's own thread between portfolios.

An apply of 500 accounts holds 500 locks. With a thread and a synced commit per lock every 10 s, that was 50
commits a second competing for SQLite's write lock with the apply's own; and a paper portfolio's transaction
holds that lock almost all the time, so the heartbeats starved past the busy timeout ("database is locked",
hundreds of them in a run) while their leases ran down. Here the apply renews what is due (one heartbeat old)
after each of its waits and between its portfolios, on its own thread: inside the portfolio's transaction when
there is one, where it never waits for the write lock. One keeper thread per journal steps in for a lease two
heartbeats old (its owner stuck in a long call, or a lock no apply beats for, as reconcile's) and renews every
such lease at once. The two never wait for each other: renewing a lease twice only extends it twice.

A renewal (like the lock row itself, journal/locks.py) is committed without waiting for the disk
(database.begin, sync=False): other processes see it at once, and only a power cut or an operating-system
crash can lose it, which kills its holder too; a lock row whose holder is dead is taken over by the rule that
always applied to it.
"""

from __future__ import annotations

import logging
import threading
import weakref
from collections.abc import Iterable
from datetime import timedelta
from typing import Protocol

from sqlalchemy import bindparam, update

from reconciler.clock import SYSTEM, Deadline
from reconciler.errors import ReconcilerError
from reconciler.journal import tables as t
from reconciler.journal.per_key import PerKey
from reconciler.journal.store import Journal

log = logging.getLogger("reconciler.lock")
STEP_IN = 2  # heartbeats a lease may age before the keeper's thread renews it (its owner renews at one)

_RENEW = (
    update(t.locks)
    .where(t.locks.c.lock_id == bindparam("b_lock_id"))
    .values(heartbeat_at=bindparam("b_now"), expires_at=bindparam("b_expires"))
)


class Leased(Protocol):
    """What the keeper needs of a held lock (journal.locks.AccountLock)."""

    journal: Journal
    account: str
    lock_id: str
    ttl: float
    heartbeat: float
    deadline: Deadline  # renewed only while it lasts
    renewed: float  # the last renewal by the journal's clock (the apply's waits renew by it)
    renewed_real: float  # and by the machine's (what the keeper's thread waits on)


class Keeper:
    """Every lease this process holds on one journal, with the thread that took each."""

    def __init__(self, journal: Journal) -> None:
        self._journal = weakref.ref(journal)  # weakly: the registry below is keyed by it
        self._cond = threading.Condition()
        self._held: dict[Leased, threading.Thread] = {}
        self._thread: threading.Thread | None = None

    def add(self, lease: Leased, owner: threading.Thread) -> None:
        """Keep `lease` renewed while `owner` lives and its deadline lasts."""
        with self._cond:
            self._held[lease] = owner
            if self._thread is None:
                self._thread = threading.Thread(target=self._run, name="lock-leases", daemon=True)
                self._thread.start()
            self._cond.notify()

    def remove(self, lease: Leased) -> None:
        """Stop renewing `lease` (released, or left to lapse)."""
        with self._cond:
            self._held.pop(lease, None)
            self._cond.notify()

    def renew_due(self) -> None:
        """Renew, in one transaction, every held lease due by the journal's clock: the apply's beat (after
        each of its waits, and between portfolios), on its own thread."""
        journal = self._journal()
        if journal is None:
            return
        now = journal.clock.monotonic()
        with self._cond:
            due = [
                (lease, owner)
                for lease, owner in self._held.items()
                if now - lease.renewed >= lease.heartbeat
            ]
        self._renew(due)

    def _run(self) -> None:
        while True:
            with self._cond:
                if not self._held:
                    self._thread = None
                    return
                now = SYSTEM.monotonic()
                wait = min(lease.renewed_real + STEP_IN * lease.heartbeat for lease in self._held) - now
                if wait > 0:
                    self._cond.wait(wait)
                    continue
                due = [(lease, owner) for lease, owner in self._held.items()
                       if lease.renewed_real + STEP_IN * lease.heartbeat <= now]
                for lease, _ in due:  # the next try is a heartbeat later, whatever this one's fate
                    lease.renewed_real = now
            self._renew(due)

    def _renew(self, due: Iterable[tuple[Leased, threading.Thread]]) -> None:
        """Renew the leases whose owner lives and whose deadline lasts; the others are dropped, left to
        lapse."""
        live = []
        for lease, owner in due:
            if not owner.is_alive():
                log.warning(
                    "lock owner is gone; the lease is left to expire", extra={"account": lease.account}
                )
                self.remove(lease)
            elif lease.deadline.expired:
                log.warning("the apply's time budget is spent; the lease is left to expire",
                            extra={"account": lease.account})
                self.remove(lease)
                try:
                    lease.journal.event(
                        "lock.lease_not_renewed", account=lease.account, lock_id=lease.lock_id
                    )
                except ReconcilerError as exc:
                    log.warning(
                        "could not journal a lapsing lease: %s", exc.message, extra={"account": lease.account}
                    )
            else:
                live.append(lease)
        if not live:
            return
        try:
            renew(live[0].journal, live)
        # tried again a heartbeat later; the lease lapses only if this keeps failing
        except ReconcilerError as exc:
            log.warning("lock heartbeat failed: %s", exc.message, extra={"account": live[0].account})


def renew(journal: Journal, leases: list[Leased]) -> None:
    """Extend `leases` by their ttl from now, in one transaction not waited onto the disk."""
    now = journal.clock.now()
    with journal.tx(sync=False) as c:
        c.execute(_RENEW, [{"b_lock_id": lease.lock_id, "b_now": now,
                            "b_expires": now + timedelta(seconds=lease.ttl)} for lease in leases])
    mono, real = journal.clock.monotonic(), SYSTEM.monotonic()
    for lease in leases:
        lease.renewed, lease.renewed_real = mono, real


_KEEPERS: PerKey[Journal, Keeper] = PerKey(Keeper)


def keeper(journal: Journal) -> Keeper:
    """The one keeper of `journal`'s leases in this process."""
    return _KEEPERS.get(journal)
