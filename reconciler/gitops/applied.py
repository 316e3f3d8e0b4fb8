"""Once per commit: has the journal already applied these targets at this commit?"""

from __future__ import annotations

from typing import Any

from sqlalchemy import Engine, select

from reconciler.journal import tables as t

DONE = ("succeeded", "noop")


def applied_commit(engine: Engine, commit: str, targets_hash: str) -> dict[str, Any] | None:
    """The latest finished apply of `commit` with the same targets, or None (then this commit may be applied).

    The targets hash is compared too, so a working tree with uncommitted target edits is never taken for the
    commit it sits on. A partial or failed apply does not count: running it again picks up what is left.
    """
    query = (
        select(t.applies)
        .where(t.applies.c.git_commit == commit, t.applies.c.targets_hash == targets_hash, t.applies.c.status.in_(DONE))
        .order_by(t.applies.c.started_at.desc())
        .limit(1)
    )
    with engine.connect() as c:
        row = c.execute(query).mappings().first()
    return None if row is None else dict(row)
