"""The what-if section for `plan --format markdown` and `github comment`: which portfolios a plan changes,
their targets at the plan's base commit and now, backtested by backtest.whatif when `what_if` is
configured.

Advice beside the plan, never part of it: nothing here fails the comment. Without a price source there is
no section; without numpy and pandas, or when the prices cannot be read, the section is one line saying
why.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

from reconciler import files
from reconciler.core.changes import WhatIfReport
from reconciler.errors import ReconcilerError
from reconciler.gitops.refs import TargetsAtRef, targets_at
from reconciler.secrets.redact import scrub

if TYPE_CHECKING:
    from reconciler.core.models import Plan
    from reconciler.runtime import Runtime

log = logging.getLogger("reconciler.whatif")


def what_if_report(
    trusted: Runtime, rt: Runtime, plan: Plan, base: TargetsAtRef | None = None
) -> WhatIfReport | None:
    """The section for a plan: its settings and prices from the trusted checkout (`trusted`), the new targets
    from `rt` (a pull request's proposal, or the same runtime), the old ones from the plan's base commit."""
    settings = trusted.config.what_if
    changed = [c.portfolio for c in plan.target_changes if c.change != "removed"]
    if not settings.configured or not changed or plan.base_commit is None:
        return None
    try:
        import numpy  # noqa: F401
        import pandas  # noqa: F401
    except ImportError as exc:
        return WhatIfReport(note=f"not run: the backtest needs numpy and pandas ({exc.name} is not"
                                 " installed); pip install 'reconciler[backtest]' in the plan job")
    try:
        return _backtest(trusted, rt, plan.base_commit, base, changed)
    except ReconcilerError as exc:
        log.warning("what-if not run: %s", exc.message, extra={"where": exc.where})
        said = f"not run: {exc.message} ({exc.where}); {exc.fix or 'see docs/backtest.md'}"
        return WhatIfReport(note=scrub(said))
    except Exception as exc:  # advice never costs the reviewer the plan: logged with its traceback, shown
        log.exception("what-if failed", extra={"base_commit": plan.base_commit})
        return WhatIfReport(note=scrub(f"not run: {type(exc).__name__}: {exc}. The plan above is unaffected;"
                                       " please report this bug"))


def _backtest(
    trusted: Runtime, rt: Runtime, base_commit: str, base: TargetsAtRef | None, changed: list[str]
) -> WhatIfReport:
    from reconciler.backtest.whatif import Change, compare, price_table

    if base is None or base.commit != base_commit:
        base = targets_at(rt.repo_config or rt.workspace.config_path, base_commit)
    old = {d.name: d for d in base.portfolios}
    new = {d.name: d for d in rt.workspace.portfolios}
    names = [n for n in changed if n in new]
    limit = trusted.config.what_if.max_portfolios
    table = price_table(trusted.config.what_if, trusted.root, files.workspace_of(trusted.root))
    chosen = [Change(n, old.get(n), new[n]) for n in names[:limit]]
    return compare(chosen, table, trusted.config.what_if, trusted.costs, names[limit:])
