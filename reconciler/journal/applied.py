"""When an apply last traded each portfolio: where `trading.cooldown_days` counts from (core.cooldown)."""

from __future__ import annotations

from collections.abc import Collection
from datetime import datetime

from sqlalchemy import func, select

from reconciler.journal import tables as t
from reconciler.journal.database import as_utc
from reconciler.journal.store import Journal

_CHUNK = 500  # portfolios per IN list: well under every database's bound-parameter limit


def last_applied(journal: Journal, portfolios: Collection[str]) -> dict[str, datetime]:
    """Per portfolio, the time of the last fill of an order an apply sent for it; none for one never traded.
    A fill, not the apply's start: an apply whose orders all failed traded nothing, and starts no cooldown."""
    wanted = sorted(set(portfolios))
    out: dict[str, datetime] = {}
    with journal.tx(single=True) as c:
        for start in range(0, len(wanted), _CHUNK):
            rows = c.execute(
                select(t.intents.c.portfolio, func.max(t.fills.c.filled_at))
                .join(t.fills, t.fills.c.client_order_id == t.intents.c.client_order_id)
                .where(t.intents.c.portfolio.in_(wanted[start:start + _CHUNK]))
                .group_by(t.intents.c.portfolio)
            ).all()
            out.update((str(name), as_utc(at)) for name, at in rows if at is not None)
    return out
