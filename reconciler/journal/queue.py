"""The journal's work queue for `apply --all`: one item per account of a plan, claimed by workers — processes
on one machine, or on several machines sharing one PostgreSQL journal — one at a time.

A claim is `SELECT … FOR UPDATE SKIP LOCKED` on PostgreSQL (a worker never waits behind another's claim) and a
conditional UPDATE everywhere (only a row still `pending` can be claimed, so two workers never get the same
account, on SQLite too). The account lock still guards the apply itself, and says whether a claim's worker
lives.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

from sqlalchemy import func, insert, select, update
from sqlalchemy.exc import IntegrityError

from reconciler.core.models import Plan
from reconciler.errors import ReconcilerError
from reconciler.journal import tables as t
from reconciler.journal.database import as_utc
from reconciler.journal.locks import holder_state
from reconciler.journal.statuses import WorkStatus
from reconciler.journal.store import Journal
from reconciler.secrets.redact import scrub

# A claimed item whose account nobody has locked, claimed this long ago, belongs to a worker that died between
# its claim and its lock (an instant in a live worker). A worker that died holding the lock is seen at once:
# its lock's holder is dead (its pid on this host, its PostgreSQL session on any).
STALE_CLAIM = timedelta(minutes=5)
# Two runners of one plan (`apply --all` twice, on one machine or several) share its queue: the first enqueues
# it, the other finds the items there. Both may insert at once; the loser reads again.
ENQUEUE_TRIES = 5


@dataclass(frozen=True)
class WorkItem:
    """One account's place in the `apply --all` queue: who claimed it and how it ended."""

    account: str
    status: WorkStatus
    claimed_by: str | None
    message: str | None


@dataclass(frozen=True)
class Progress:
    """Where a plan's queue stands: items by status, and orders sent so far (journaled intents of the
    plan)."""

    pending: int
    claimed: int
    done: int
    failed: int
    orders: int

    @property
    def total(self) -> int:
        """Every account of the plan."""
        return self.pending + self.claimed + self.done + self.failed

    @property
    def finished(self) -> int:
        """The accounts done or failed."""
        return self.done + self.failed


def enqueue(journal: Journal, plan: Plan) -> int:
    """One pending item per account with orders, in one transaction. Enqueuing the same plan again adds
    nothing, but makes pending again what is worth another try: a failed item (a closed market, a broker
    outage), and an item whose worker died. Apply itself refuses anything unsafe: a partly applied account
    must be re-planned, and an applied one sends nothing."""
    wanted = sorted({pp.account for pp in plan.portfolios if pp.actions})
    for _ in range(ENQUEUE_TRIES):
        try:
            known, new = _insert_missing(journal, plan.content_hash, wanted)
            break
        except IntegrityError:
            continue  # another runner enqueued the same plan between our read and our insert: read again
    else:
        raise ReconcilerError(
            f"could not enqueue plan {plan.content_hash[:12]}: other runners kept enqueuing it at the same"
            " moment",
            where="work_items", fix="run `apply --all` again; it joins the runners already applying the plan",
        )
    for account in wanted:
        if known.get(account) in ("failed", "claimed"):
            _retry(journal, plan.content_hash, account)
    return len(new)


def _insert_missing(journal: Journal, plan_hash: str, wanted: list[str]) -> tuple[dict[str, str], list[str]]:
    item = t.work_items.c
    with journal.tx() as c:
        known = {
            str(r.account): str(r.status)
            for r in c.execute(select(item.account, item.status).where(item.plan_hash == plan_hash))
        }
        new = [a for a in wanted if a not in known]
        if new:
            now = journal.clock.now()
            c.execute(
                insert(t.work_items),
                [{"plan_hash": plan_hash, "account": a, "status": "pending", "created_at": now} for a in new],
            )
    return known, new


def reclaim_abandoned(journal: Journal, plan_hash: str) -> int:
    """Make pending again the items of this plan whose workers died: how the workers still running, on any
    machine, finish a killed one's accounts. Returns how many."""
    item = t.work_items.c
    with journal.tx() as c:
        claimed = [
            str(a) for a in c.execute(
                select(item.account).where(item.plan_hash == plan_hash, item.status == "claimed")
            ).scalars()
        ]
    return sum(_retry(journal, plan_hash, a, failed_too=False) for a in claimed)


def _retry(journal: Journal, plan_hash: str, account: str, *, failed_too: bool = True) -> bool:
    item = t.work_items.c
    with journal.tx() as c:
        row = c.execute(
            select(item.status, item.claimed_by, item.claimed_at).where(
                item.plan_hash == plan_hash, item.account == account
            )
        ).first()
    if row is None or row.status not in (("failed", "claimed") if failed_too else ("claimed",)):
        return False
    if row.status == "claimed":
        state = holder_state(journal, account)
        young = row.claimed_at is not None and journal.clock.now() - as_utc(row.claimed_at) < STALE_CLAIM
        if state == "live" or (state == "none" and young):
            return False  # a worker is on it
    with journal.tx() as c:
        done = c.execute(
            update(t.work_items)
            .where(
                item.plan_hash == plan_hash,
                item.account == account,
                item.status == row.status,
                item.claimed_by == row.claimed_by
                if row.claimed_by is not None
                else item.claimed_by.is_(None),
            )
            .values(status="pending", claimed_by=None, claimed_at=None, finished_at=None)
        )
    return done.rowcount == 1


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
    """Record an item's outcome. The message may quote a broker's error, so it is scrubbed like every other
    text the journal keeps."""
    with journal.tx() as c:
        c.execute(
            update(t.work_items)
            .where(t.work_items.c.plan_hash == plan_hash, t.work_items.c.account == account)
            .values(status=status, message=scrub(message)[:2000], finished_at=journal.clock.now())
        )


def items(journal: Journal, plan_hash: str) -> list[WorkItem]:
    """Every account's work item of a plan, for `apply --all` to report who did what."""
    item = t.work_items.c
    with journal.tx() as c:
        rows = c.execute(
            select(item.account, item.status, item.claimed_by, item.message)
            .where(item.plan_hash == plan_hash)
            .order_by(item.account)
        ).all()
    return [WorkItem(str(r.account), r.status, r.claimed_by, r.message) for r in rows]


def progress(journal: Journal, plan_hash: str) -> Progress:
    """How many of a plan's accounts are pending, running, done or failed, for the runner's progress line."""
    item = t.work_items.c
    with journal.tx() as c:
        counts: dict[str, int] = {
            str(status): int(n)
            for status, n in c.execute(
                select(item.status, func.count()).where(item.plan_hash == plan_hash).group_by(item.status)
            )
        }
        orders = c.execute(
            select(func.count()).select_from(t.intents).where(
                t.intents.c.plan_hash == plan_hash, t.intents.c.status.not_in(("denied", "skipped"))
            )
        ).scalar_one()
    return Progress(
        pending=counts.get("pending", 0), claimed=counts.get("claimed", 0), done=counts.get("done", 0),
        failed=counts.get("failed", 0), orders=int(orders),
    )
