"""PostgreSQL's advisory locks as the account locks use them: a stable key per account, one session per
process holding every lock it takes, and a probe of pg_locks that never takes the lock it asks about."""

from __future__ import annotations

import contextlib
import hashlib
import threading
import weakref

from sqlalchemy import Connection, Engine, text

from reconciler.journal.per_key import PerKey
from reconciler.journal.store import Journal


def advisory_key(account: str) -> int:
    """A stable signed 64-bit key per account for pg_try_advisory_lock."""
    return int.from_bytes(hashlib.sha256(f"reconciler:{account}".encode()).digest()[:8], "big", signed=True)


class AdvisorySession:
    """One PostgreSQL session per process (per journal engine) holding every advisory lock this process takes.

    Session-level advisory locks stack on one connection, and the database frees them all when it ends — so a
    process's death still frees its accounts at once, while an apply of a thousand accounts holds a thousand
    locks on one connection instead of a thousand from a pool of fifteen. The same session takes a lock it
    already holds again (they are re-entrant), so this process tracks which accounts it holds and never takes
    one twice.
    """

    def __init__(self, engine: Engine) -> None:
        # Weakly: the sessions are kept by engine, and an engine no one uses any more must go (with its pool).
        self.engine = weakref.ref(engine)
        self.mutex = threading.Lock()  # one statement at a time on the shared connection
        self.conn: Connection | None = None
        self.held: set[str] = set()

    def try_lock(self, account: str) -> bool:
        """Take the account's advisory lock without waiting; False when anyone (this process too) holds it."""
        with self.mutex:
            if account in self.held:
                return False  # another thread of this process holds it
            if self.conn is None:
                engine = self.engine()
                if engine is None:
                    return False
                self.conn = engine.connect()
            try:
                got = bool(
                    self.conn.execute(
                        text("SELECT pg_try_advisory_lock(:k)"), {"k": advisory_key(account)}
                    ).scalar()
                )
                self.conn.commit()
            except BaseException:
                self._drop()
                raise
            if got:
                self.held.add(account)
            return got

    def unlock(self, account: str) -> None:
        """Release the account's lock; holding nothing, the connection goes back to the pool."""
        with self.mutex:
            if account not in self.held:
                return
            self.held.discard(account)
            if self.conn is None:
                return
            try:
                self.conn.execute(text("SELECT pg_advisory_unlock(:k)"), {"k": advisory_key(account)})
                self.conn.commit()
            except BaseException:
                self._drop()
                raise
            if not self.held:  # holding nothing: the connection goes back to the pool until the next lock
                conn, self.conn = self.conn, None
                conn.close()

    def _drop(self) -> None:
        """A broken session has lost its locks with it: forget them all."""
        conn, self.conn = self.conn, None
        self.held.clear()
        if conn is not None:
            with contextlib.suppress(Exception):
                conn.invalidate()
                conn.close()


_SESSIONS: PerKey[Engine, AdvisorySession] = PerKey(AdvisorySession)


def session(engine: Engine) -> AdvisorySession:
    """This process's one advisory session on `engine`'s database."""
    return _SESSIONS.get(engine)


def held(journal: Journal, account: str) -> bool:
    """Whether some session holds the account's advisory lock, read from pg_locks. Never by taking it: a probe
    that takes the lock, even for an instant, makes the worker that is taking it at that moment fail to (two
    `apply --all` runners lost an account that way). A bigint key is shown as classid (high 32 bits) and objid
    (low)."""
    key = advisory_key(account)
    with journal.engine.connect() as conn:
        held = conn.execute(
            text(
                "SELECT EXISTS (SELECT 1 FROM pg_locks WHERE locktype = 'advisory' AND granted"
                " AND database = (SELECT oid FROM pg_database WHERE datname = current_database())"
                " AND objsubid = 1 AND classid::int8 = :hi AND objid::int8 = :lo)"
            ),
            {"hi": (key >> 32) & 0xFFFFFFFF, "lo": key & 0xFFFFFFFF},
        ).scalar()
        conn.commit()
    return bool(held)
