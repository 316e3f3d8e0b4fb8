"""Once per commit: has the journal already applied these targets at this commit, and what did earlier tries
of it trade? (apply on merge asks both.)"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal

from sqlalchemy import ColumnElement, select

from reconciler.journal import tables as t
from reconciler.journal.statuses import APPLIED
from reconciler.journal.store import Journal


@dataclass(frozen=True)
class AppliedCommit:
    """An apply recorded for a commit, so a commit already applied sends nothing again."""

    apply_id: str
    status: str
    started_at: datetime
    commit: str = ""


def applied_commit(journal: Journal, commit: str, targets_hash: str) -> AppliedCommit | None:
    """The latest finished apply of `commit` with the same targets, or None (then this commit may be applied).

    The targets hash is compared too, so a working tree with uncommitted target edits is never taken for the
    commit it sits on. A partial or failed apply does not count: running it again picks up what is left.
    """
    return _latest(
        journal, t.applies.c.git_commit == commit, t.applies.c.targets_hash == targets_hash,
        t.applies.c.status.in_(APPLIED),
    )


def filled_at_commit(journal: Journal, commit: str, targets_hash: str) -> dict[tuple[str, str], Decimal]:
    """What earlier (partial or failed) applies of `commit` already traded: (portfolio, symbol) → signed
    filled notional (buys positive). A re-run on merge is checked against the envelope with these counted
    in."""
    query = (
        select(t.intents.c.portfolio, t.intents.c.symbol, t.intents.c.side, t.intents.c.filled_quantity,
               t.intents.c.avg_price)
        .join(t.applies, t.applies.c.id == t.intents.c.apply_id)
        .where(t.applies.c.git_commit == commit, t.applies.c.targets_hash == targets_hash)
    )
    out: dict[tuple[str, str], Decimal] = {}
    with journal.tx() as c:
        for portfolio, symbol, side, quantity, price in c.execute(query):
            if not quantity or price is None:
                continue
            notional = Decimal(quantity) * Decimal(price)
            key = (portfolio, symbol)
            out[key] = out.get(key, Decimal(0)) + (notional if side == "buy" else -notional)
    return out


def last_applied_commit(journal: Journal) -> AppliedCommit | None:
    """The newest commit whose apply sent or settled anything (succeeded, partial or nothing to do): a commit
    older than it must not be applied over it."""
    return _latest(
        journal, t.applies.c.git_commit.is_not(None), t.applies.c.status.in_((*APPLIED, "partial"))
    )


def _latest(journal: Journal, *conditions: ColumnElement[bool]) -> AppliedCommit | None:
    """The newest apply matching `conditions`, or None."""
    query = select(t.applies).where(*conditions).order_by(t.applies.c.started_at.desc()).limit(1)
    with journal.tx() as c:
        row = c.execute(query).mappings().first()
    if row is None:
        return None
    return AppliedCommit(str(row["id"]), str(row["status"]), row["started_at"], str(row["git_commit"]))


def last_completed_commit(journal: Journal) -> AppliedCommit | None:
    """The newest commit applied in full (succeeded or nothing to do): a sequence of merges is applied from
    the commit after it, so a change whose apply was partial or refused is applied again with the ones after
    it."""
    return _latest(journal, t.applies.c.git_commit.is_not(None), t.applies.c.status.in_(APPLIED))


def filled_by_commit(journal: Journal, commits: list[str]) -> dict[str, dict[tuple[str, str], Decimal]]:
    """What applies of each of `commits` traded: commit → (portfolio, symbol) → signed filled notional."""
    if not commits:
        return {}
    query = (
        select(t.applies.c.git_commit, t.intents.c.portfolio, t.intents.c.symbol, t.intents.c.side,
               t.intents.c.filled_quantity, t.intents.c.avg_price)
        .join(t.applies, t.applies.c.id == t.intents.c.apply_id)
        .where(t.applies.c.git_commit.in_(commits))
    )
    out: dict[str, dict[tuple[str, str], Decimal]] = {}
    with journal.tx() as c:
        for commit, portfolio, symbol, side, quantity, price in c.execute(query):
            if not quantity or price is None:
                continue
            notional = Decimal(quantity) * Decimal(price)
            per = out.setdefault(str(commit), {})
            per[(portfolio, symbol)] = per.get((portfolio, symbol), Decimal(0)) + (
                notional if side == "buy" else -notional
            )
    return out
