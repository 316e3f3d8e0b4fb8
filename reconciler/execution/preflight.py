"""Pre-flight: whether a sealed plan may be applied at all, decided before anything is sent.

Pure functions of the plan, the workspace, the observations and the clock's time: each raises the error that
refuses the apply, saying why and what to do, or returns what the send loop needs. The executor
(execution.executor) calls them in this order, taking the locks, reading the journal and observing the broker
in between:

    check_matches    the plan was made for these targets and accounts         PlanMismatchError
    check_derived    the targets give exactly the plan's orders                PlanMismatchError
                     (execution.judge adds: and its blocked lists and policy results)
    admitted         the plan's own policy results let some portfolio trade    PolicyDeniedError
    already_applied  the journal has none, or all, of the plan's orders        StalePlanError
    check_age        the plan is neither too old nor from the future           StalePlanError
    check_unchanged  holdings, cash and quotes are as the plan saw them        StalePlanError
    check_market_open  no broker says its market is closed                     MarketClosedError
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Mapping
from datetime import datetime
from decimal import Decimal
from typing import Any

from reconciler.core.checks import MARKET_CHECKS
from reconciler.core.models import CostModel, Observation, Plan, PolicyResult, PortfolioPlan
from reconciler.core.plan import client_order_id
from reconciler.core.planner import plan_portfolio
from reconciler.core.valuation import QuoteLimits
from reconciler.errors import MarketClosedError, PlanMismatchError, PolicyDeniedError, StalePlanError
from reconciler.journal.statuses import TERMINAL
from reconciler.workspace.loader import Workspace
from reconciler.workspace.models import ApplySettings

CASH_TOLERANCE = Decimal("0.01")


def check_matches(plan: Plan, workspace: Workspace) -> None:
    """Refuse a plan made for other targets or accounts than the ones in this repository now."""
    if plan.targets_hash != workspace.targets_hash:
        raise PlanMismatchError(
            "plan does not match the current targets (they changed since it was made, or it is another"
            " repository's)",
            where=f"plan {plan.content_hash[:12]}",
            fix="re-plan against the current targets and review the new plan",
        )
    accounts = {p.account for p in workspace.portfolios}
    foreign = sorted({p.account for p in plan.portfolios} - accounts)
    if foreign or sorted(plan.config_accounts) != sorted(workspace.config.broker.accounts):
        raise PlanMismatchError(
            "plan does not match this configuration's accounts"
            f" ({', '.join(foreign) or 'account list differs'})",
            where=f"plan {plan.content_hash[:12]}",
            fix="apply the plan with the reconciler.yaml it was made with, or re-plan",
        )


def check_derived(
    plan: Plan, portfolios: Iterable[PortfolioPlan], workspace: Workspace, costs: CostModel,
    limits: QuoteLimits
) -> list[PortfolioPlan]:
    """Refuse orders the targets do not give: the planner is pure, so each of these portfolios' targets and
    the observation recorded in the plan (with the fill prices it recorded) must produce exactly the plan's
    orders again. Returns the portfolios derived again, in order, for execution.judge to compare whole.

    The content hash only proves the file is intact: anyone can recompute it after editing an order. This
    check is what ties every order to the reviewed targets.
    """
    derived = []
    for pp in portfolios:
        desired = workspace.by_name.get(pp.name)
        if desired is None or desired.account != pp.account:
            raise PlanMismatchError(
                f"plan has portfolio {pp.name!r} (account {pp.account}), which the targets do not",
                where=f"plan {plan.content_hash[:12]}", fix="re-plan against the current targets",
            )
        again = plan_portfolio(desired, pp.observation, costs, limits, pp.references)
        derived.append(again)
        recorded = [(a.symbol, a.side, a.quantity) for a in pp.actions]
        given = [(a.symbol, a.side, a.quantity) for a in again.actions]
        if recorded != given:
            first = next(
                (f"leg {n}: plan has {r}, targets give {d}"
                 for n, (r, d) in enumerate(zip(recorded, given, strict=False), start=1) if r != d),
                f"plan has {len(recorded)} orders, targets give {len(given)}",
            )
            raise PlanMismatchError(
                f"the orders for portfolio {pp.name!r} are not the ones its targets give for the holdings the"
                f" plan recorded ({first.replace('Decimal', '')}); nothing was sent",
                where=f"plan {plan.content_hash[:12]}",
                fix="a plan file must not be edited: re-plan (if the broker's cost settings in"
                " reconciler.yaml changed since the plan, that also changes the orders)",
            )
    return derived


def admitted(
    plan: Plan, portfolios: list[PortfolioPlan], overrides: Collection[str]
) -> tuple[list[PortfolioPlan], dict[str, list[PolicyResult]]]:
    """Which of these portfolios trade, as (those with orders and no denial, portfolio → its blocking
    results).

    A policy's denial refuses the reviewed change as a whole (a reviewer may override a soft one and apply the
    same plan). A doubtful quote, or an order size only a wrong quote explains, is about the market, not the
    change: it stops its own portfolio only, the others go on, and the apply still ends in failure.
    """
    denied: dict[str, list[PolicyResult]] = {}
    for pp in portfolios:
        for r in plan.results_by_portfolio.get(pp.name, ()):
            if r.blocking and not r.overridden(overrides):
                denied.setdefault(r.portfolio, []).append(r)
    by_policy = [r for rs in denied.values() for r in rs if r.policy not in MARKET_CHECKS]
    refused = [pp for pp in portfolios if pp.name in denied]
    chosen = [pp for pp in portfolios if pp.actions and pp.name not in denied]
    if by_policy or (refused and not chosen):
        raise PolicyDeniedError(
            "; ".join(f"[{r.level}] {r.policy} ({r.portfolio}): {r.message}" for r in by_policy or
                      [r for rs in denied.values() for r in rs]),
            where=f"plan {plan.content_hash[:12]}",
            fix="change the targets, or for soft-mandatory policies pass --override POLICY --reason TEXT"
            if by_policy else "a doubtful quote blocks its portfolio until the broker quotes it soundly:"
            " re-plan then",
        )
    return chosen, denied


def already_applied(
    plan: Plan, portfolios: list[PortfolioPlan], seen: Mapping[str, Mapping[str, Any]]
) -> bool:
    """Whether the journal's intents for this plan (`seen`, by client order id) hold every order of these
    portfolios, each final: then there is nothing to send. Refuses a plan that an earlier run applied in
    part."""
    legs = {client_order_id(plan.content_hash, pp.account, a) for pp in portfolios for a in pp.actions}
    if seen and legs <= seen.keys() and all(seen[c]["status"] in TERMINAL for c in legs):
        return True
    if legs & seen.keys():
        raise StalePlanError(
            "this plan was partly applied by an earlier run; the journal was reconciled with the broker",
            where=f"plan {plan.content_hash[:12]}",
            fix="stale, re-plan: the new plan picks up what is left",
        )
    return False


def check_age(plan: Plan, now: datetime, settings: ApplySettings) -> None:
    """Refuse a plan older than apply.max_plan_age_seconds, or dated further in the future than the clock skew
    allowed (clocks disagree, or it was forged)."""
    age = (now - plan.created_at).total_seconds()
    if -age > settings.max_clock_skew_seconds:
        raise StalePlanError(
            f"plan is dated {-age:.0f}s in the future (clock skew allowed:"
            f" {settings.max_clock_skew_seconds}s);"
            " nothing was sent",
            where=f"plan {plan.content_hash[:12]}",
            fix="check this machine's clock and the planning machine's, then re-plan",
        )
    if age > settings.max_plan_age_seconds:
        raise StalePlanError(
            f"plan is {age:.0f}s old (maximum {settings.max_plan_age_seconds}s)",
            where=f"plan {plan.content_hash[:12]}",
            fix="stale, re-plan",
        )


def stale_reasons(pp: PortfolioPlan, now_obs: Observation, band: Decimal) -> list[str]:
    """What moved since the plan observed this portfolio's account: holdings, cash, or a quote beyond
    `band`."""
    then = pp.observation
    reasons = []
    before = {s: q for s, q in then.positions.items() if q != 0}
    after = {s: q for s, q in now_obs.positions.items() if q != 0}
    if before != after:
        changed = sorted(s for s in set(before) | set(after) if before.get(s) != after.get(s))
        reasons.append(f"{pp.account}: holdings changed since the plan ({', '.join(changed)})")
    cash_then = then.cash_settled + then.cash_unsettled - then.cash_reserved
    cash_now = now_obs.cash_settled + now_obs.cash_unsettled - now_obs.cash_reserved
    if abs(cash_then - cash_now) > CASH_TOLERANCE:
        reasons.append(f"{pp.account}: cash changed since the plan ({cash_then:.2f} → {cash_now:.2f})")
    # Every quote, not only the traded symbols': each one values the account, and the equity sizes every
    # order.
    for symbol, then_quote in sorted(then.quotes.items()):
        q = now_obs.quotes.get(symbol)
        was = then_quote.price
        if q is None:
            reasons.append(f"{symbol}: no quote now")
        elif was > 0 and abs(q.price - was) / was > band:
            reasons.append(
                f"{symbol}: quote moved {abs(q.price - was) / was:.2%} since the plan"
                f" ({was} → {q.price}), beyond the {band:.2%} band"
            )
    return reasons


def check_unchanged(
    plan: Plan, observed: Iterable[tuple[PortfolioPlan, Observation]], band: Decimal
) -> dict[str, Observation]:
    """Refuse when any portfolio's account moved since the plan (stale_reasons); else its observations by
    account.

    `observed` pairs each portfolio with its account observed now; it is read one pair at a time, so the
    executor may pass a generator that observes each account as it is reached.
    """
    observations: dict[str, Observation] = {}
    reasons: list[str] = []
    for pp, obs in observed:
        observations[pp.account] = obs
        reasons += stale_reasons(pp, obs, band)
    if reasons:
        raise StalePlanError("; ".join(reasons), where=f"plan {plan.content_hash[:12]}", fix="stale, re-plan")
    return observations


def check_market_open(observations: Mapping[str, Observation], plan: Plan) -> None:
    """Refuse before anything is sent when a broker says its market is closed: a market order would wait for
    the open and fill at whatever price the open brings, which no quote band or kill switch has checked."""
    closed = [
        (a, o.market)
        for a, o in sorted(observations.items())
        if o.market is not None and not o.market.is_open
    ]
    if not closed:
        return
    said = "; ".join(f"{account}: closed ({m.described})" for account, m in closed)
    raise MarketClosedError(
        f"the market is closed, so orders sent now would fill at the next open, at prices the plan never saw"
        f" ({said}); nothing was sent",
        where=f"plan {plan.content_hash[:12]}",
        fix="apply while the market is open (re-run the apply job then; re-plan if the plan is too old by"
        " then), or set apply.market_hours: ignore in reconciler.yaml to queue the orders for the open",
    )
