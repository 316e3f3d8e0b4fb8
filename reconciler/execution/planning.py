"""Observe every account, run the pure planner, evaluate policies, seal the plan."""

from __future__ import annotations

from datetime import UTC, datetime

from reconciler.core.models import Plan, PolicyResult, PortfolioPlan
from reconciler.core.plan import seal
from reconciler.core.planner import plan_portfolio
from reconciler.gitops.repo import head_commit
from reconciler.policy.inputs import policy_input
from reconciler.runtime import Runtime


def make_plan(rt: Runtime, *, now: datetime | None = None, record: bool = True) -> Plan:
    """One plan over every portfolio in the workspace."""
    ws = rt.workspace
    policies = rt.policies
    params = ws.config.policies.params
    portfolios: list[PortfolioPlan] = []
    results: list[PolicyResult] = []
    for desired in ws.portfolios:
        obs = rt.broker.observe(desired.account, desired.targets)
        if record:
            rt.journal.record_observation(obs, "plan")
        pp = plan_portfolio(desired, obs, rt.costs)
        portfolios.append(pp)
        stamp = now or datetime.now(UTC)
        results.extend(policies.evaluate(policy_input(pp, params, phase="plan", now=stamp), pp.name))
    commit, dirty = head_commit(ws.root)
    return seal(
        portfolios,
        created_at=now or datetime.now(UTC),
        targets_hash=ws.targets_hash,
        accounts=list(ws.config.broker.accounts),
        policy_results=results,
        git_commit=commit,
        git_dirty=dirty,
    )
