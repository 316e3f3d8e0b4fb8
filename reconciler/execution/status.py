"""`reconciler status`: observe each account and measure its drift; one unreachable account never hides the
rest."""

from __future__ import annotations

import logging
from pathlib import Path

from reconciler.core.drift import PortfolioDrift, drift_of, locked, unknown
from reconciler.core.planner import plan_portfolio
from reconciler.core.valuation import valued_symbols
from reconciler.errors import ReconcilerError
from reconciler.execution.planning import with_last_applied
from reconciler.execution.services import Services
from reconciler.execution.tax_inputs import with_tax_inputs
from reconciler.journal.locks import live_lock
from reconciler.journal.prices import last_fill_prices

log = logging.getLogger("reconciler.status")


def portfolio_status(rt: Services, *, record: bool = False) -> list[PortfolioDrift]:
    """Synced / Progressing / OutOfSync / Locked / Unknown for every portfolio in the workspace, in file
    order; `record` journals each observation."""
    out: list[PortfolioDrift] = []
    # A broken portfolio file does not hide the others: it is one Unknown line naming the problem.
    workspace = rt.partial_workspace
    for problem in workspace.problems:
        where = (problem.where or "portfolios").split(":", 1)[0]
        out.append(unknown(Path(where).name, "?", "invalid file: " + problem.render().replace("\n", " ")))
    for desired in workspace.portfolios:
        lock = live_lock(rt.journal, desired.account)
        if lock is not None:
            out.append(locked(desired.name, desired.account, lock.holder))
            continue
        try:
            obs = rt.broker.observe(desired.account, desired.targets)
            references = last_fill_prices(rt.journal, valued_symbols(desired.targets, obs.positions))
            # Judged with the journal's last apply, as plan judges it: inside a cooldown both say the same.
            # and with the lots and this year's gains, which trim a taxed portfolio's sells (core.tax_orders)
            ((_, cooled_obs),) = with_tax_inputs(rt.journal, with_last_applied(rt.journal, [(desired, obs)]))
            pp = plan_portfolio(desired, cooled_obs, rt.costs, rt.quote_limits, references)
        except ReconcilerError as exc:
            log.warning("cannot observe account", extra={"account": desired.account, "error": exc.message})
            out.append(unknown(desired.name, desired.account, exc.render().replace("\n", " ")))
            continue
        if record:  # outside the try: a journal that cannot record is an error, not an Unknown account
            rt.journal.record_observation(obs, "status")
        # a doubtful quote values the account wrongly: neither Synced nor OutOfSync can be said
        if pp.blocked:
            out.append(unknown(desired.name, desired.account, "doubtful quote: " + "; ".join(pp.blocked)))
            continue
        out.append(drift_of(pp, desired.trading))
    return out
