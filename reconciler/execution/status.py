"""`reconciler status`: observe each account and measure its drift; one unreachable account never hides the rest."""

from __future__ import annotations

import logging
from datetime import datetime
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, inspect, select

from reconciler.core.drift import PortfolioDrift, drift_of, locked, unknown
from reconciler.core.planner import plan_portfolio
from reconciler.errors import ReconcilerError
from reconciler.journal import tables
from reconciler.journal.store import as_utc
from reconciler.runtime import Runtime

log = logging.getLogger("reconciler.status")


def live_lock(engine: Engine, account: str, now: datetime) -> dict[str, Any] | None:
    """The account's lock row when an apply holds it (and it has not expired), else None.

    Journals without a `locks` table (older schemas) have no locks, so nothing is ever Locked there.
    """
    table = getattr(tables, "locks", None)
    if table is None or "account" not in table.c:
        return None
    with engine.connect() as c:
        if not inspect(c).has_table(table.name):
            return None
        row = c.execute(select(table).where(table.c.account == account)).mappings().first()
    if row is None:
        return None
    expires = row.get("expires_at")
    if isinstance(expires, datetime) and as_utc(expires) <= now:
        return None
    return dict(row)


def portfolio_status(rt: Runtime) -> list[PortfolioDrift]:
    """Synced / OutOfSync / Locked / Unknown for every portfolio in the workspace, in file order."""
    out: list[PortfolioDrift] = []
    # A broken portfolio file does not hide the others: it is one Unknown line naming the problem.
    workspace = rt.partial_workspace
    for problem in workspace.problems:
        where = (problem.where or "portfolios").split(":", 1)[0]
        out.append(unknown(Path(where).name, "?", "invalid file: " + problem.render().replace("\n", " ")))
    for desired in workspace.portfolios:
        lock = live_lock(rt.journal.engine, desired.account, rt.clock.now())
        if lock is not None:
            out.append(locked(desired.name, desired.account, str(lock.get("holder", "unknown holder"))))
            continue
        try:
            obs = rt.broker.observe(desired.account, desired.targets)
            pp = plan_portfolio(desired, obs, rt.costs, rt.quote_limits)
        except ReconcilerError as exc:
            log.warning("cannot observe account", extra={"account": desired.account, "error": exc.message})
            out.append(unknown(desired.name, desired.account, exc.render().replace("\n", " ")))
            continue
        if pp.blocked:  # a doubtful quote values the account wrongly: neither Synced nor OutOfSync can be said
            out.append(unknown(desired.name, desired.account, "doubtful quote: " + "; ".join(pp.blocked)))
            continue
        out.append(drift_of(pp, desired.trading))
    return out
