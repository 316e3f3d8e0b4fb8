"""Apply judges the plan; it does not read the verdict.

A plan's content hash proves the file is intact, not that nobody edited it: anyone who can write the file can
delete its denials and recompute the hash. So every apply (a plan file, `--all`, `--envelope`) derives the
plan again from its own recorded observations with the trusted targets, costs, checks and policies, and
refuses any difference from what the file says: its orders, its `blocked` lists, every plan-time policy
result. The planner and the checks are pure and the policies judge the plan's own observation (quote age as of
when it was taken), so a plan nobody touched derives to itself.

Optionally (reconciler.yaml `plan.signing_key`) saved plans also carry a keyed seal, HMAC-SHA256 of the
content hash, so CI can prove a plan came from its own plan job; a plan file without the right seal is then
refused before anything else. Without a key, re-derivation alone decides.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from pathlib import Path

from reconciler.core.models import Plan, PolicyResult, PortfolioPlan
from reconciler.core.plan import signature_valid, signed
from reconciler.errors import PlanFileError, PlanMismatchError
from reconciler.execution.planfile import read_plan
from reconciler.execution.planning import plan_verdicts
from reconciler.execution.preflight import check_derived
from reconciler.execution.services import Rules, Services
from reconciler.secrets.redact import scrub
from reconciler.secrets.resolve import SecretResolver
from reconciler.workspace.models import ConfigDoc

_Verdict = tuple[str, str, str, str, str]


def judge(plan: Plan, portfolios: Iterable[PortfolioPlan], rules: Rules) -> None:
    """Refuse unless each of these portfolios, and its plan-time policy results, are exactly what the plan's
    own recorded observation gives with the trusted targets, costs, checks and policies."""
    mine = list(portfolios)
    derived = check_derived(plan, mine, rules.workspace, rules.costs, rules.quote_limits)
    for pp, again in zip(mine, derived, strict=True):
        field = next((f for f in PortfolioPlan.model_fields if getattr(pp, f) != getattr(again, f)), None)
        if field is not None:
            raise _edited(plan, f"portfolio {pp.name!r}: its {field} is not what its targets and recorded"
                                " observation give")
        desired = rules.workspace.by_name[pp.name]
        recorded = [_verdict(r) for r in plan.results_by_portfolio.get(pp.name, [])]
        expected = [_verdict(r) for r in plan_verdicts(again, desired, rules)]
        if recorded != expected:
            raise _edited(plan, f"portfolio {pp.name!r}: {_first_difference(recorded, expected)}")


def judge_reviewed(reviewed: Plan, rules: Rules) -> None:
    """Judge the plan `apply --envelope` was reviewed with: its orders are the envelope. Each portfolio whose
    targets are still the reviewed ones is judged like any plan applied; one changed since is a breach of the
    envelope already (core.envelope)."""
    check_results_belong(reviewed)
    now = rules.workspace.portfolio_hashes
    if reviewed.portfolio_hashes:
        hashes = reviewed.portfolio_hashes
        same = [pp for pp in reviewed.portfolios if pp.name in now and hashes.get(pp.name) == now[pp.name]]
    else:  # a plan from before per-portfolio hashes: all targets at once
        same = list(reviewed.portfolios) if reviewed.targets_hash == rules.workspace.targets_hash else []
    judge(reviewed, same, rules)


def check_results_belong(plan: Plan) -> None:
    """Refuse policy results about portfolios the plan does not have: nothing would re-derive them."""
    names = {pp.name for pp in plan.portfolios}
    strays = sorted({r.portfolio for r in plan.policy_results} - names)
    if strays:
        raise _edited(plan, f"policy results for portfolio(s) the plan does not have ({', '.join(strays)})")


def read_judged_plan(path: Path, rt: Services) -> Plan:
    """Read a plan file for apply: intact (read_plan), and with this configuration's keyed seal when it sets
    plan.signing_key. Every apply path reads its plan file here."""
    plan = read_plan(path)
    key = signing_key(rt.config, rt.config_path)
    if key is not None and not signature_valid(plan, key):
        said = "has no keyed seal" if plan.signature is None else ("has a keyed seal that plan.signing_key"
                                                                   " did not make")
        raise PlanFileError(
            f"field signature: the plan {said}; nothing was sent", where=str(path),
            fix="apply only plans saved by a `reconciler plan --out` that holds the same plan.signing_key"
            " (your CI's plan job); re-plan there",
        )
    return plan


def seal_for_saving(plan: Plan, rt: Services) -> Plan:
    """The plan with this configuration's keyed seal when plan.signing_key is set, else as it is."""
    key = signing_key(rt.config, rt.config_path)
    return plan if key is None else signed(plan, key)


def signing_key(config: ConfigDoc, config_path: Path) -> bytes | None:
    """The plan signing key from the secret store, or None when plan.signing_key is unset."""
    settings = config.plan
    if settings.signing_key is None:
        return None
    where = f"{config_path}: plan.signing_key"
    return SecretResolver(settings.secrets).resolve(settings.signing_key, where).reveal().encode()


def _verdict(r: PolicyResult) -> _Verdict:
    # Scrubbed on both sides: a message that quoted a credential may be stored scrubbed.
    return (r.policy, r.kind, r.level, r.portfolio, scrub(r.message))


def _first_difference(recorded: list[_Verdict], expected: list[_Verdict]) -> str:
    missing = list((Counter(expected) - Counter(recorded)).elements())
    added = list((Counter(recorded) - Counter(expected)).elements())
    said = []
    if missing:
        said.append(f"the policies give {len(missing)} result(s) the plan lacks ({_listed(missing)})")
    if added:
        said.append(f"the plan has {len(added)} result(s) the policies do not give ({_listed(added)})")
    return "; ".join(said) or "its policy results are in another order than the policies give them"


def _listed(verdicts: list[_Verdict]) -> str:
    shown = "; ".join(f"[{v[2]}] {v[0]} {v[1]}: {v[4]}" for v in verdicts[:3])
    return shown + (f"; and {len(verdicts) - 3} more" if len(verdicts) > 3 else "")


def _edited(plan: Plan, what: str) -> PlanMismatchError:
    return PlanMismatchError(
        f"the plan does not judge itself: {what}; nothing was sent",
        where=f"plan {plan.content_hash[:12]}",
        fix="a plan file must not be edited: re-plan and review the new plan (if the policies, their settings"
        " or the broker's cost settings changed since the plan, that also changes what it derives to)",
    )
