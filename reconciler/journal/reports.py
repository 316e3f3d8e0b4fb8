"""What `history` and `show` read from the journal: the applies, newest first, and one apply with its intents,
fills, policy decisions and events."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select

from reconciler.errors import JournalError
from reconciler.journal import tables as t
from reconciler.journal.store import Journal


def history(journal: Journal, limit: int = 20) -> list[dict[str, Any]]:
    """The most recent applies, newest first, for `reconciler history`."""
    with journal.tx() as c:
        rows = (
            c.execute(select(t.applies).order_by(t.applies.c.started_at.desc()).limit(limit)).mappings().all()
        )
        out = []
        for r in rows:
            counts = c.execute(
                select(t.intents.c.status).where(t.intents.c.apply_id == r["id"])
            ).scalars().all()
            d = dict(r)
            d["orders"] = len(counts)
            d["filled"] = sum(1 for s in counts if s == "filled")
            out.append(d)
    return out

def show(journal: Journal, apply_id: str) -> dict[str, Any] | None:
    """Everything recorded about one apply (by id or unique prefix), for `reconciler show`."""
    if not apply_id.strip():
        return None
    with journal.tx() as c:
        # autoescape: `%` and `_` in what the user typed are characters, not wildcards.
        row = c.execute(
            select(t.applies).where(t.applies.c.id.startswith(apply_id, autoescape=True))
        ).mappings().all()
        if len(row) > 1:
            ids = sorted(str(r["id"])[:8] for r in row)
            raise JournalError(
                f"{apply_id!r} is ambiguous: it starts {len(ids)} apply ids ({', '.join(ids[:6])}"
                f"{', …' if len(ids) > 6 else ''})",
                where="reconciler show", fix="type more of the id",
            )
        if not row:
            return None
        a = dict(row[0])
        a["intents"] = [
            dict(r)
            for r in c.execute(
                select(t.intents).where(t.intents.c.apply_id == a["id"]).order_by(t.intents.c.id)
            ).mappings()
        ]
        ids = [i["client_order_id"] for i in a["intents"]]
        a["fills"] = [
            dict(r)
            for r in c.execute(
                select(t.fills).where(t.fills.c.client_order_id.in_(ids)).order_by(t.fills.c.id)
            ).mappings()
        ]
        decisions = select(t.policy_decisions).where(t.policy_decisions.c.apply_id == a["id"])
        a["policy_decisions"] = [dict(r) for r in c.execute(decisions).mappings()]
        a["events"] = [
            dict(r)
            for r in c.execute(
                select(t.events).where(t.events.c.apply_id == a["id"]).order_by(t.events.c.id)
            ).mappings()
        ]
    return a
