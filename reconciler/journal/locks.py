"""One apply per account at a time, across processes and machines.

A row in `locks` says who holds an account (holder, host, pid, heartbeat, expiry) and is what `force-unlock`
removes. The row alone decides on SQLite (one machine: a holder whose pid is gone on this host is dead). On
PostgreSQL a session-level advisory lock is taken as well: the database releases it the moment the holder's
connection dies, so a crashed worker on another machine never blocks an account until its lease expires.
"""

from __future__ import annotations

import logging
import os
import socket
import threading
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from types import TracebackType
from typing import Any, Literal

from sqlalchemy import delete, insert, inspect, select
from sqlalchemy.exc import IntegrityError

from reconciler import files
from reconciler.clock import SYSTEM, UNBOUNDED, Deadline
from reconciler.errors import LockedError, ReconcilerError
from reconciler.journal import advisory, leases
from reconciler.journal import tables as t
from reconciler.journal.database import as_utc
from reconciler.journal.store import Journal

log = logging.getLogger("reconciler.lock")


def _pid_alive(pid: int) -> bool:
    """Whether the process runs. A killed process its parent has not reaped yet (a zombie) still answers
    kill(pid, 0) but will never release anything: on Linux its state in /proc says so."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    try:
        raw = files.read_bytes(Path(f"/proc/{pid}/stat"), files.PROC)
        # the name in parentheses may hold spaces
        state = raw.decode("ascii", "replace").rsplit(")", 1)[1].split()[0]
    except (ReconcilerError, IndexError):
        return True  # no /proc (macOS): kill(pid, 0) is all there is
    return state not in ("Z", "X")


LOCK_POLL_SECONDS = 1.0


def _gone(row: Mapping[Any, Any], now: datetime) -> bool:
    """Whether a lock row's holder is gone by what the row says: its lease ran out, or its pid no longer runs
    on this host (the only liveness SQLite has; PostgreSQL's advisory lock says more)."""
    if as_utc(row["expires_at"]) <= now:
        return True
    return row["host"] == socket.gethostname() and not _pid_alive(int(row["pid"]))


class AccountLock:
    """Context manager holding the lock of one account, with a heartbeat thread extending the lease."""

    def __init__(
        self, journal: Journal, account: str, holder: str, *, purpose: str = "apply", ttl: float = 120.0,
        heartbeat: float = 10.0, wait: float = 0.0,
    ) -> None:
        self.journal = journal
        self.account = account
        self.holder = holder
        self.purpose = purpose
        self.ttl = ttl
        self.heartbeat = heartbeat
        self.wait = wait  # --lock-timeout: how long to wait for a live holder to finish before giving up
        self.lock_id = str(uuid.uuid4())
        self.host = socket.gethostname()
        self._pg = False  # holds the account's advisory lock (PostgreSQL)
        self._held = False
        self.renewed = journal.clock.monotonic()  # the lease's last renewal (journal/leases.py)
        self.renewed_real = SYSTEM.monotonic()
        # The apply's time budget: the lease is renewed only while it lasts, so an apply stuck past its
        # deadline (a call that never returns) lets the lock lapse within one ttl instead of holding it for
        # ever.
        self.deadline: Deadline = UNBOUNDED

    def bound_by(self, deadline: Deadline) -> None:
        """Renew the lease only while `deadline` lasts, and after each of its waits when one is due: a fill
        wait keeps the lock by the apply's clock, not only by the heartbeat thread's."""
        self.deadline = deadline
        deadline.keep_alive(leases.keeper(self.journal).renew_due)  # once per deadline, however many locks

    @property
    def is_postgres(self) -> bool:
        """Whether the lock is a PostgreSQL advisory lock (else a row with a lease)."""
        return self.journal.engine.dialect.name == "postgresql"

    def __enter__(self) -> AccountLock:
        self.acquire()
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.release()

    def acquire(self) -> None:
        """Take the lock, waiting up to `wait` seconds (polling) while someone alive holds it."""
        clock = self.journal.clock
        deadline = clock.monotonic() + self.wait
        while True:
            try:
                self._acquire_once()
                return
            except LockedError as exc:
                left = deadline - clock.monotonic()
                if left <= 0:
                    if self.wait > 0:
                        exc.message += f" (waited {self.wait:g} s, --lock-timeout)"
                        exc.args = (exc.message,)
                    raise
                clock.sleep(min(LOCK_POLL_SECONDS, left))

    def _acquire_once(self) -> None:
        if self.is_postgres:
            if not advisory.session(self.journal.engine).try_lock(self.account):
                raise self._locked_error(self._current())
            self._pg = True
        try:
            self._insert_row()
        except BaseException:
            self._release_pg()
            raise
        self._held = True
        self.renewed, self.renewed_real = self.journal.clock.monotonic(), SYSTEM.monotonic()
        leases.keeper(self.journal).add(self, threading.current_thread())

    def _insert_row(self) -> None:
        now = self.journal.clock.now()
        row = dict(
            lock_id=self.lock_id, account=self.account, holder=self.holder, host=self.host, pid=os.getpid(),
            purpose=self.purpose, acquired_at=now, heartbeat_at=now,
            expires_at=now + timedelta(seconds=self.ttl),
        )
        for _ in range(2):
            try:
                # Not waited onto the disk (journal/leases.py says why that is safe), and journaled with its
                # event.
                with self.journal.tx(sync=False) as c:
                    c.execute(insert(t.locks).values(**row))
                    self.journal.event_in(c, "lock.acquired", account=self.account, lock_id=self.lock_id,
                                          holder=self.holder)
                return
            except IntegrityError:
                current = self._current()
                if current is None:
                    continue  # released between our insert and our look: try again
                if not self._is_dead(current):
                    raise self._locked_error(current) from None
                log.warning(
                    "taking over a dead lock", extra={"account": self.account, "lock_id": current["lock_id"]}
                )
                self.journal.event(
                    "lock.taken_over", account=self.account, lock_id=current["lock_id"],
                    holder=current["holder"]
                )
                with self.journal.tx() as c:
                    c.execute(delete(t.locks).where(t.locks.c.lock_id == current["lock_id"]))
        raise self._locked_error(self._current())

    def _is_dead(self, current: dict[str, Any]) -> bool:
        # On PostgreSQL we hold the advisory lock, so whoever wrote this row lost its session: it is dead.
        return self.is_postgres or _gone(current, self.journal.clock.now())

    def _current(self) -> dict[str, Any] | None:
        with self.journal.tx() as c:
            row = c.execute(select(t.locks).where(t.locks.c.account == self.account)).mappings().first()
        return dict(row) if row else None

    def _locked_error(self, current: dict[str, Any] | None) -> LockedError:
        if current is None:
            return LockedError(
                f"account {self.account} is locked by another session holding its PostgreSQL advisory lock",
                where=f"account {self.account}",
                fix="wait for that apply to finish; the database frees the lock when its session ends",
            )
        who = describe_holder(current)
        return LockedError(
            f"account {self.account} is locked by {who}",
            where=f"lock {current['lock_id']}",
            fix="wait for that apply to finish; if it is dead, run `reconciler force-unlock"
            f" {current['lock_id']}`",
        )

    def release(self) -> None:
        """Stop renewing the lease and release the lock."""
        if self._held:
            self._held = False
            leases.keeper(self.journal).remove(self)
        # lost only with its holder (a power cut): then it is a dead one's
        with self.journal.tx(sync=False) as c:
            c.execute(delete(t.locks).where(t.locks.c.lock_id == self.lock_id))
        self._release_pg()

    def _release_pg(self) -> None:
        if self._pg:
            self._pg = False
            advisory.session(self.journal.engine).unlock(self.account)


def list_locks(journal: Journal) -> list[dict[str, Any]]:
    """Every account lock held now, for `force-unlock --list` to show who holds what."""
    with journal.tx() as c:
        return [dict(r) for r in c.execute(select(t.locks).order_by(t.locks.c.account)).mappings()]


def force_unlock(journal: Journal, lock_id: str, actor: str, *, force: bool = False) -> dict[str, Any]:
    """Remove a lock row by id: a dead holder's, or (`force`) a live one's; the event records who did it.

    A holder is alive by the rule the lock itself takes over by (row_state): removing a live holder's row
    would let a second apply into the account while the first still sends orders."""
    with journal.tx() as c:
        row = c.execute(select(t.locks).where(t.locks.c.lock_id == lock_id)).mappings().first()
    if row is None:
        raise ReconcilerError(
            f"no lock with id {lock_id}", where="command line", fix="see `reconciler force-unlock --list`"
        )
    held = dict(row)
    if not force and row_state(journal, held) == "live":
        raise LockedError(
            f"lock {lock_id} on account {held['account']} is held by {describe_holder(held)}, who is alive"
            f" ({_why_alive(journal, held)}); nothing was removed",
            where=f"lock {lock_id}",
            fix="wait for that apply to finish; if you know its holder is dead (a machine that is gone), pass"
            " --force",
        )
    with journal.tx() as c:
        gone = c.execute(delete(t.locks).where(t.locks.c.lock_id == lock_id)).rowcount
    if not gone:
        raise ReconcilerError(
            f"lock {lock_id} was released while being removed", where="command line",
            fix="nothing to do: see `reconciler force-unlock --list`",
        )
    journal.event(
        "lock.forced", account=held["account"], lock_id=lock_id, holder=held["holder"], by=actor, live=force
    )
    return held


def describe_holder(row: Mapping[str, Any]) -> str:
    """Who holds a lock and since when: "alice (pid 4242 on ci-7, since 2026-12-07 02:40:00+00:00)"."""
    return f"{row['holder']} (pid {row['pid']} on {row['host']}, since {as_utc(row['acquired_at'])})"


def _why_alive(journal: Journal, row: Mapping[str, Any]) -> str:
    if _is_postgres(journal):
        return "its PostgreSQL session still holds the account's advisory lock"
    if row["host"] == socket.gethostname():
        return f"process {row['pid']} runs on this host, lease until {as_utc(row['expires_at'])}"
    return f"its lease runs until {as_utc(row['expires_at'])}, last heartbeat {as_utc(row['heartbeat_at'])}"


def _is_postgres(journal: Journal) -> bool:
    return journal.engine.dialect.name == "postgresql"


@dataclass(frozen=True)
class HeldLock:
    """Who holds an account's lock, while its lease runs."""

    lock_id: str
    holder: str
    host: str
    pid: int
    expires_at: datetime


def live_lock(journal: Journal, account: str) -> HeldLock | None:
    """The account's lock while a holder's lease runs (not expired), else None. Journals without a `locks`
    table (older schemas) have no locks."""
    with journal.tx() as c:
        if not inspect(c).has_table(t.locks.name):
            return None
        row = c.execute(select(t.locks).where(t.locks.c.account == account)).mappings().first()
    if row is None or as_utc(row["expires_at"]) <= journal.clock.now():
        return None
    return HeldLock(str(row["lock_id"]), str(row["holder"]), str(row["host"]), int(row["pid"]),
                    as_utc(row["expires_at"]))



def holder_state(journal: Journal, account: str) -> Literal["live", "dead", "none"]:
    """Whether someone alive holds the account's lock ("live"), a holder died holding it ("dead": its lease
    ran out, its pid is gone on this host, or on PostgreSQL its session ended), or nobody has it ("none")."""
    with journal.tx() as c:
        row = c.execute(select(t.locks).where(t.locks.c.account == account)).mappings().first()
    if row is None:
        # On PostgreSQL a session may hold the advisory lock before (or without) writing its row.
        return "live" if _is_postgres(journal) and advisory.held(journal, account) else "none"
    return row_state(journal, row)


def row_state(journal: Journal, row: Mapping[Any, Any]) -> Literal["live", "dead"]:
    """Whether a lock row's holder is alive: on PostgreSQL, while some session holds the account's advisory
    lock (the database frees it when the holder's connection dies); on SQLite, while its lease runs and its
    pid runs (when on this host). The rule AccountLock takes a lock over by."""
    if _is_postgres(journal):
        return "live" if advisory.held(journal, str(row["account"])) else "dead"
    return "dead" if _gone(row, journal.clock.now()) else "live"
