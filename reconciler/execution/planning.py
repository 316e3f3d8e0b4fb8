"""Observe every account, run the pure planner, evaluate policies, seal the plan."""

from __future__ import annotations

import logging
from collections.abc import Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace

from reconciler.brokers.base import Broker
from reconciler.core.attribution import Cause, causes
from reconciler.core.checks import CheckInput, builtin_verdicts
from reconciler.core.models import Desired, Observation, Plan, PolicyResult, PortfolioPlan
from reconciler.core.plan import seal
from reconciler.core.planner import plan_many
from reconciler.core.valuation import floors_of, valued_symbols
from reconciler.errors import BrokerError, ReconcilerError
from reconciler.execution.reconcile import reconcile_account, refuse_in_flight
from reconciler.execution.services import ApplySession, Rules, Services
from reconciler.execution.tax_inputs import with_tax_inputs
from reconciler.gitops.refs import TargetsAtRef, relative_files, targets_at, with_base
from reconciler.gitops.repo import head_commit
from reconciler.journal.applied import last_applied
from reconciler.journal.locks import AccountLock
from reconciler.journal.moves import blocked_by_account, moved_symbols
from reconciler.journal.prices import last_fill_prices
from reconciler.journal.store import Journal
from reconciler.policy.inputs import policy_input
from reconciler.secrets.redact import scrub

log = logging.getLogger("reconciler.plan")


def selected(portfolios: list[Desired], only: Sequence[str]) -> list[Desired]:
    """The portfolios `--target` names (all without it); an unknown name is an error listing the known
    ones."""
    if not only:
        return portfolios
    names = {p.name for p in portfolios}
    unknown = sorted(set(only) - names)
    if unknown:
        raise ReconcilerError(
            f"--target {', '.join(unknown)}: no such portfolio", where="command line",
            fix=f"name a portfolio (metadata.name) of this repository: {', '.join(sorted(names))}",
        )
    return [p for p in portfolios if p.name in set(only)]


def make_plan(
    rt: Services, *, record: bool = True, reconcile_first: ApplySession | None = None,
    only: Sequence[str] = (),
) -> Plan:
    """One plan over every portfolio in the workspace, or those `only` names (`--target`).

    `reconcile_first` (apply's plan-now path, its session) first adopts what an earlier, crashed apply
    left unfinished, under each account's lock (taken as the session's actor, waiting its lock timeout), so
    the plan sees the broker as it is once those orders are final.
    """
    ws = rt.workspace
    chosen = selected(ws.portfolios, only)
    if reconcile_first is not None:
        session = reconcile_first
        for desired in chosen:
            with AccountLock(rt.journal, desired.account, session.actor, purpose="reconcile",
                             wait=session.lock_timeout):
                report = reconcile_account(rt, desired.account, check_positions=False)
            refuse_in_flight(rt.config.apply, desired.account, report.unknown)
    rt.policies  # noqa: B018  # loaded before any account is observed: a broken policy fails first
    # What an earlier reconcile found in flight: planning over it would plan the same trade twice.
    in_flight = rt.journal.unknown_intents_by_account()
    for desired in chosen:
        refuse_in_flight(rt.config.apply, desired.account, in_flight.get(desired.account, []))
    standing = blocked_by_account(rt.journal)
    observed = [
        (desired, _with_moves(rt.journal, obs, standing.get(obs.account, {}), record=record))
        for desired, obs in zip(chosen, observe_all(rt.broker, chosen), strict=True)
    ]
    if record:
        rt.journal.record_observations([obs for _, obs in observed], "plan")
    observed = with_last_applied(rt.journal, observed)
    observed = with_tax_inputs(rt.journal, observed)
    references = last_fill_prices(rt.journal, valued_in(observed))
    portfolios = plan_many(observed, rt.costs, rt.quote_limits, references)
    results: list[PolicyResult] = []
    stamp = rt.clock.now()
    for desired, pp in zip(chosen, portfolios, strict=True):
        results.extend(plan_verdicts(pp, desired, rt))

    commit: str | None
    dirty: bool | None
    if rt.targets_commit is not None:  # a proposal read from git objects: exactly that commit, never dirty
        commit, dirty = rt.targets_commit, False
    else:
        commit, dirty = head_commit(ws.root, ws.target_files)
    return _without_secrets(seal(
        portfolios,
        created_at=stamp,
        targets_hash=ws.targets_hash,
        portfolio_hashes=ws.portfolio_hashes,
        accounts=list(ws.config.broker.accounts),
        policy_results=results,
        git_commit=commit,
        git_dirty=dirty,
    ))


def _with_moves(journal: Journal, obs: Observation, standing: dict[str, str], *, record: bool) -> Observation:
    """The observation with the symbols a move nobody explained blocks (journal.moves), judged against the
    last recorded observation before this one is recorded in its place; new blocks are journaled when
    `record`."""
    moved = moved_symbols(journal, obs.account, obs.positions, record=record, standing=standing)
    return obs.model_copy(update={"moved": moved}) if moved else obs


def with_last_applied(
    journal: Journal, observed: list[tuple[Desired, Observation]]
) -> list[tuple[Desired, Observation]]:
    """Each observation of a portfolio with a cooldown, with when an apply last traded it (journal.applied):
    the pure planner judges the cooldown from that fact (core.cooldown). Others are left as they were."""
    cooling = {d.name for d, _ in observed if d.trading.cooldown_days is not None}
    if not cooling:
        return observed
    last = last_applied(journal, cooling)
    return [
        (d, obs.model_copy(update={"last_applied": last[d.name]}) if d.name in last else obs) for d,
        obs in observed
    ]


def _without_secrets(plan: Plan) -> Plan:
    """The plan, refused if any of its text carries a credential. Policy messages are scrubbed where they are
    made; anything else holding one (a symbol or a reason quoting a broker that echoed a key) is a broker
    answer nobody should plan on, and a plan file is an output like any other."""
    for pp in plan.portfolios:
        # the text fields and keys only: numbers and times hold no key
        said = "\n".join(_texts(pp.model_dump()))
        if scrub(said) != said:
            raise BrokerError(
                f"the broker's answer for portfolio {pp.name} carries a credential (a symbol or a reason"
                " quoting a"
                " key); nothing is planned on it",
                where=f"account {pp.observation.account}",
                fix="check the broker (or the proxy before it) echoes no request header, then plan again",
            )
    said = "\n".join(r.message for r in plan.policy_results)
    if scrub(said) != said:
        raise ReconcilerError("a policy result carries a credential", where="plan", fix="report this bug")
    return plan


def _texts(value: object) -> Iterator[str]:
    if isinstance(value, str):
        yield value
    elif isinstance(value, dict):
        for k, v in value.items():
            yield from _texts(k)
            yield from _texts(v)
    elif isinstance(value, (list, tuple, set, frozenset)):
        for v in value:
            yield from _texts(v)


def plan_verdicts(pp: PortfolioPlan, desired: Desired, rules: Rules) -> list[PolicyResult]:
    """Every plan-time result on one portfolio's plan, in order: the built-in checks (core.checks), then the
    policies. Planning writes them into the plan; apply derives them again and compares (judge)."""
    results = builtin_verdicts(pp, CheckInput(rules.size_limits, floors_of(desired.symbols)))
    # Quote age as of this account's own observation: accounts are observed one after another, and judging
    # them all at the end would make a long plan deny its own first accounts' quotes as stale.
    now = pp.observation.taken_at
    params = rules.workspace.config.policies.params
    results.extend(rules.policies.evaluate(policy_input(pp, params, phase="plan", now=now), pp.name))
    return results


def valued_in(observed: Sequence[tuple[Desired, Observation]]) -> set[str]:
    """Every symbol that values some account: its targets and its holdings."""
    out: set[str] = set()
    for desired, obs in observed:
        out |= valued_symbols(desired.targets, obs.positions)
    return out


def observe_all(broker: Broker, portfolios: Sequence[Desired]) -> list[Observation]:
    """Each portfolio's account observed, in order, `broker.concurrency` accounts at a time: a thousand
    accounts observed one after another take as many round trips end to end. Each observation is stamped when
    it was taken, and plan-time policies judge its quotes' age from there. The first failure stops what has
    not started."""

    def observe(desired: Desired) -> Observation:
        obs = broker.observe(desired.account, desired.targets)
        log.info(
            "observed account",
            extra={"account": obs.account, "positions": len(obs.positions), "quotes": len(obs.quotes)},
        )
        return obs

    width = max(1, min(broker.concurrency, len(portfolios)))
    if width == 1:
        return [observe(d) for d in portfolios]
    pool = ThreadPoolExecutor(max_workers=width, thread_name_prefix="observe")
    try:
        return list(pool.map(observe, portfolios))
    finally:
        pool.shutdown(wait=True, cancel_futures=True)


def plan_against(
    rt: Services, base_ref: str | None, *, record: bool = True, only: Sequence[str] = ()
) -> tuple[Plan, TargetsAtRef | None]:
    """A plan now; with a base ref (a pull request's base branch), the plan also says how each portfolio's
    targets changed since that ref, and records its commit. A bad ref fails before any broker call. `record`
    journals the observations (never on a read-only runtime)."""
    if base_ref is not None and not base_ref.strip():
        raise ReconcilerError(
            "--base is empty", where="command line",
            fix="give a branch, tag or commit (in a pull request workflow: origin/${{ github.base_ref }})",
        )
    base = targets_at(rt.repo_config or rt.workspace.config_path, base_ref) if base_ref else None
    plan = make_plan(rt, record=record, only=only)
    if base is not None:
        chosen = selected(rt.workspace.portfolios, only)
        if only:  # the changes of the portfolios planned; without --target, removed ones are changes too
            names = {p.name for p in chosen}
            base = replace(base, portfolios=[p for p in base.portfolios if p.name in names])
        plan = with_base(plan, base, chosen)
    return plan, base


def causes_of(rt: Services, plan: Plan, base: TargetsAtRef | None = None) -> dict[str, Cause]:
    """Per portfolio with orders, whether the change since the plan's base commit or old drift causes them
    (core.attribution), on the plan's own observations; files named relative to the configuration's folder."""
    if plan.base_commit is None:
        return {}
    current = [relative_files(d, rt.root) for d in rt.workspace.portfolios]
    if base is None:
        try:
            base = targets_at(rt.repo_config or rt.workspace.config_path, plan.base_commit)
        except ReconcilerError as exc:
            # The comment is still posted: the plan's own target changes say which portfolios changed, and
            # every order of a changed portfolio is shown as the change's (none is called drift without
            # evidence).
            log.warning("cannot read the targets at the plan's base commit %s (%s): orders are attributed per"
                        " portfolio only", plan.base_commit[:12], exc.message,
                        extra={"base_commit": plan.base_commit})
            return causes(plan, None, current)
    return causes(plan, base.portfolios, current, rt.costs, rt.quote_limits)
