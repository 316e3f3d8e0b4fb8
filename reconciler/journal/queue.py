"""The journal's work queue for `apply --all --workers N`: one item per account of a plan, claimed by workers —
threads, or processes on several machines sharing one PostgreSQL journal — one at a time.

A claim is `SELECT … FOR UPDATE SKIP LOCKED` on PostgreSQL (a worker never waits behind another's claim) and a
conditional UPDATE everywhere (only a row still `pending` can be claimed, so two workers never get the same
account, on SQLite too). The account lock still guards the apply itself.
"""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import insert, select, update
from sqlalchemy.exc import IntegrityError

from reconciler.core.models import Plan
from reconciler.journal import tables as t
from reconciler.journal.database import as_utc
from reconciler.journal.locks import live_lock
from reconciler.journal.statuses import WorkStatus
from reconciler.journal.store import Journal

# A claim this old, on an account nobody holds the lock of, belongs to a worker that died (an apply keeps its lock
# alive with a heartbeat while it runs; the lease is 120 s).
STALE_CLAIM = timedelta(minutes=5)


def enqueue(journal: Journal, plan: Plan) -> int:
    """One pending item per account with orders. Enqueuing the same plan again adds nothing, but makes pending
    again what is worth another try: a failed item (a closed market, a broker outage), and an item claimed by a
    worker that died (claimed long ago, and its account not locked). Apply itself refuses anything unsafe: a
    partly applied account must be re-planned, and an applied one sends nothing."""
    added = 0
    for pp in plan.portfolios:
        if not pp.actions:
            continue
        try:
            with journal.tx() as c:
                c.execute(
                    insert(t.work_items).values(
                        plan_hash=plan.content_hash, account=pp.account, status="pending",
                        created_at=journal.clock.now(),
                    )
                )
            added += 1
        except IntegrityError:
            _retry(journal, plan.content_hash, pp.account)
    return added


def _retry(journal: Journal, plan_hash: str, account: str) -> None:
    item = t.work_items.c
    with journal.tx() as c:
        row = c.execute(
            select(item.status, item.claimed_by, item.claimed_at).where(
                item.plan_hash == plan_hash, item.account == account
            )
        ).first()
        if row is None or row.status not in ("failed", "claimed"):
            return
        if row.status == "claimed":
            now = journal.clock.now()
            locked = live_lock(journal, account) is not None
            if locked or (row.claimed_at is not None and now - as_utc(row.claimed_at) < STALE_CLAIM):
                return  # a worker is on it
        c.execute(
            update(t.work_items)
            .where(item.plan_hash == plan_hash, item.account == account, item.status == row.status,
                   item.claimed_by == row.claimed_by if row.claimed_by is not None else item.claimed_by.is_(None))
            .values(status="pending", claimed_by=None, claimed_at=None, finished_at=None)
        )


def claim(journal: Journal, plan_hash: str, worker: str) -> str | None:
    """The account of one pending item, now claimed by `worker`; None when nothing is left."""
    while True:
        with journal.tx() as c:
            query = (
                select(t.work_items.c.id, t.work_items.c.account)
                .where(t.work_items.c.plan_hash == plan_hash, t.work_items.c.status == "pending")
                .order_by(t.work_items.c.id)
                .limit(1)
            )
            if journal.engine.dialect.name == "postgresql":
                query = query.with_for_update(skip_locked=True)
            row = c.execute(query).first()
            if row is None:
                return None
            done = c.execute(
                update(t.work_items)
                .where(t.work_items.c.id == row.id, t.work_items.c.status == "pending")
                .values(status="claimed", claimed_by=worker, claimed_at=journal.clock.now())
            )
            if done.rowcount == 1:
                return str(row.account)
        # another worker claimed it between our read and our update: look again


def finish(journal: Journal, plan_hash: str, account: str, status: WorkStatus, message: str) -> None:
    with journal.tx() as c:
        c.execute(
            update(t.work_items)
            .where(t.work_items.c.plan_hash == plan_hash, t.work_items.c.account == account)
            .values(status=status, message=message[:2000], finished_at=journal.clock.now())
        )
