"""Observe every account, run the pure planner, evaluate policies, seal the plan."""

from __future__ import annotations

import logging

from reconciler.core.models import Desired, Observation, Plan, PolicyResult
from reconciler.core.order_size import order_size_denials
from reconciler.core.plan import seal
from reconciler.core.planner import plan_many
from reconciler.core.valuation import valuation_denials
from reconciler.errors import ReconcilerError
from reconciler.execution.reconcile import reconcile_account, refuse_in_flight
from reconciler.gitops.refs import TargetsAtRef, targets_at, with_base
from reconciler.gitops.repo import head_commit
from reconciler.journal.locks import AccountLock
from reconciler.policy.inputs import policy_input
from reconciler.runtime import Runtime, actor

log = logging.getLogger("reconciler.plan")


def make_plan(
    rt: Runtime, *, record: bool = True, reconcile_first: bool = False
) -> Plan:
    """One plan over every portfolio in the workspace.

    `reconcile_first` (apply's plan-now path) first adopts what an earlier, crashed apply left unfinished, under
    each account's lock, so the plan sees the broker as it is once those orders are final.
    """
    ws = rt.workspace
    if reconcile_first:
        for desired in ws.portfolios:
            with AccountLock(rt.journal, desired.account, actor(), purpose="reconcile"):
                report = reconcile_account(rt, desired.account, check_positions=False)
            refuse_in_flight(rt, desired.account, report.unknown)
    policies = rt.policies
    params = ws.config.policies.params
    observed: list[tuple[Desired, Observation]] = []
    for desired in ws.portfolios:
        # What an earlier reconcile found in flight: planning over it would plan the same trade twice.
        refuse_in_flight(rt, desired.account, rt.journal.unknown_intents(desired.account))
        obs = rt.broker.observe(desired.account, desired.targets)
        if record:
            rt.journal.record_observation(obs, "plan")
        observed.append((desired, obs))
        log.info(
            "observed account",
            extra={"account": obs.account, "positions": len(obs.positions), "quotes": len(obs.quotes)},
        )
    portfolios = plan_many(observed, rt.costs, rt.quote_limits)
    results: list[PolicyResult] = []
    stamp = rt.clock.now()
    for pp in portfolios:
        results.extend(valuation_denials(pp.name, pp.blocked))
        results.extend(order_size_denials(pp, rt.size_limits))
        # Quote age as of this account's own observation: accounts are observed one after another, and judging
        # them all at the end would make a long plan deny its own first accounts' quotes as stale.
        now = pp.observation.taken_at
        results.extend(policies.evaluate(policy_input(pp, params, phase="plan", now=now), pp.name))
    commit, dirty = head_commit(ws.root, ws.target_files)
    return seal(
        portfolios,
        created_at=stamp,
        targets_hash=ws.targets_hash,
        accounts=list(ws.config.broker.accounts),
        policy_results=results,
        git_commit=commit,
        git_dirty=dirty,
    )


def plan_against(rt: Runtime, base_ref: str | None) -> tuple[Plan, TargetsAtRef | None]:
    """A plan now; with a base ref (a pull request's base branch), the plan also says how each portfolio's targets
    changed since that ref, and records its commit. A bad ref fails before any broker call."""
    if base_ref is not None and not base_ref.strip():
        raise ReconcilerError(
            "--base is empty", where="command line",
            fix="give a branch, tag or commit (in a pull request workflow: origin/${{ github.base_ref }})",
        )
    base = targets_at(rt.workspace.config_path, base_ref) if base_ref else None
    plan = make_plan(rt)
    if base is not None:
        plan = with_base(plan, base, rt.workspace.portfolios)
    return plan, base

