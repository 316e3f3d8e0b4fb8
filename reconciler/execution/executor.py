"""Apply a sealed plan: verify it, refuse stale or mismatched plans, send each order once, journal everything.

The pure checks of execution.preflight decide whether the plan may be applied at all; here are the locks, the
intents (durable before each order is sent, its result after), the broker calls, the fills and the outcomes.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from contextlib import AbstractContextManager, ExitStack, nullcontext
from dataclasses import replace
from decimal import Decimal

from reconciler.clock import Deadline, bounded_by, current_deadline
from reconciler.core.checks import ObservedInput, observation_denials
from reconciler.core.legs import SkippedLeg, budget_after, opening_budget, size_leg
from reconciler.core.models import Observation, Plan, PolicyResult, PortfolioPlan, Quote
from reconciler.core.numbers import ZERO
from reconciler.core.valuation import floors_of, valued_symbols
from reconciler.errors import DeadlineExceeded
from reconciler.execution.faults import crash_point
from reconciler.execution.gate import OrderGate
from reconciler.execution.judge import check_results_belong, judge
from reconciler.execution.leg import ApplyResult, Leg, OrderOutcome
from reconciler.execution.planning import with_last_applied
from reconciler.execution.preflight import (
    admitted,
    already_applied,
    check_age,
    check_market_open,
    check_matches,
    check_unchanged,
    stale_reasons,
)
from reconciler.execution.reconcile import reconcile_account, refuse_in_flight
from reconciler.execution.services import ApplySession, Services
from reconciler.journal.locks import AccountLock
from reconciler.journal.moves import moved_symbols
from reconciler.journal.prices import last_fill_prices
from reconciler.workspace.loader import Workspace

log = logging.getLogger("reconciler.apply")


def match_once(plan: Plan, workspace: Workspace, session: ApplySession) -> None:
    """check_matches, once per session and plan: the whole-plan check, which `apply --all` would otherwise
    repeat for every account (its workers' sessions inherit what was checked, ApplySession.for_worker)."""
    if plan.content_hash not in session.matched_plans:
        check_matches(plan, workspace)
        check_results_belong(plan)
        session.matched_plans.add(plan.content_hash)


def apply_plan(
    plan: Plan,
    rt: Services,
    *,
    actor: str,
    overrides: dict[str, str] | None = None,
    accounts: set[str] | None = None,
    on_outcome: Callable[[OrderOutcome], None] | None = None,
    session: ApplySession | None = None,
) -> ApplyResult:
    """Execute a verified plan against the broker; idempotent per plan through deterministic client ids.

    `accounts` limits the apply to some of the plan's accounts (a worker's share of `apply --all`);
    `on_outcome` is called with each order's outcome as soon as it is journaled (the terminal streams them);
    `session` is the apply command's (its lock wait and the plans it checked), a new one by default.
    """
    session = session or ApplySession(actor)
    overrides = overrides or {}
    journal = rt.journal
    rt.policies.check_overrides(overrides)
    match_once(plan, rt.workspace, session)
    # Every per-account step below touches this share's portfolios and journal rows only, so `apply --all`
    # over N accounts costs N times one account, not N².
    mine = (
        plan.portfolios
        if accounts is None
        else [pp for a in sorted(accounts) for pp in plan.by_account.get(a, [])]
    )
    judge(plan, mine, rt)  # the plan's orders, blocked lists and policy results, derived again and compared
    chosen, denied = admitted(plan, mine, overrides)
    refused = [pp for pp in mine if pp.name in denied]
    if not chosen:
        return ApplyResult(None, "noop", message="no changes")
    journal.check_writable()
    with ExitStack() as stack:
        locks = [
            stack.enter_context(AccountLock(journal, account, actor, wait=session.lock_timeout))
            for account in sorted({pp.account for pp in chosen})
        ]
        # One budget from the moment the locks are held; every broker wait below consults it (clock.Deadline).
        deadline = Deadline(rt.clock, rt.workspace.config.apply.max_duration_seconds,
                            where="account " + ", ".join(lock.account for lock in locks))
        for lock in locks:
            lock.bound_by(deadline)  # the lease is renewed only while the budget lasts
        stack.enter_context(bounded_by(deadline))
        crash_point("after_lock")
        for account in sorted({pp.account for pp in chosen}):
            unknown = reconcile_account(rt, account, check_positions=False).unknown
            refuse_in_flight(rt.config.apply, account, unknown)
        seen = journal.intents_for_plan(
            plan.content_hash, None if accounts is None else {pp.account for pp in chosen}
        )
        if already_applied(plan, chosen, seen):
            return ApplyResult(None, "already-applied", message="this plan was applied already; nothing sent")
        settings = rt.workspace.config.apply
        check_age(plan, rt.clock.now(), settings)
        observations = check_unchanged(
            plan, ((pp, rt.broker.observe(pp.account, _symbols(pp))) for pp in chosen), settings.quote_band
        )
        if settings.market_hours == "require":
            check_market_open(observations, plan)

        apply_id = journal.start_apply(plan.content_hash, plan.targets_hash, plan.git_commit, actor)
        judged = plan.policy_results if accounts is None else [
            r for pp in mine for r in plan.results_by_portfolio.get(pp.name, [])
        ]
        journal.record_policies(
            judged, plan_hash=plan.content_hash, phase="plan", apply_id=apply_id,
            overrides=overrides, actor=actor,
        )
        result = ApplyResult(apply_id, "succeeded", listener=on_outcome)
        for pp in refused:
            result.refused[pp.name] = [f"{r.policy}: {r.message}" for r in denied[pp.name]]
        try:
            for n, pp in enumerate(chosen):
                with _one_commit(rt):
                    # The locks' leases, renewed when due on this thread: in the portfolio's transaction (a
                    # paper apply's), which holds the write lock a renewal from any other thread would wait
                    # for.
                    deadline.beat()
                    if result.interrupted is not None:
                        _refuse_portfolio(rt, plan, pp, apply_id, [], [], overrides, actor, result,
                                          late=result.interrupted)
                        continue
                    try:
                        obs = observations[pp.account]
                        # re-observed right before its orders: an earlier portfolio's orders took time
                        if n > 0:
                            obs = rt.broker.observe(pp.account, _symbols(pp))
                    except DeadlineExceeded as exc:
                        result.interrupted = exc.message
                        _refuse_portfolio(
                            rt, plan, pp, apply_id, [], [], overrides, actor, result, late=exc.message
                        )
                        continue
                    obs = _as_planned(rt, obs)
                    # A move nobody explained stays blocked once this observation, holding it, is the
                    # baseline.
                    moved_symbols(journal, pp.account, obs.positions, record=True)
                    journal.record_observation(obs, "apply", apply_id)
                    denials, stale = _blocked_now(rt, pp, obs, settings.quote_band, n > 0)
                    if denials or stale:
                        _refuse_portfolio(rt, plan, pp, apply_id, denials, stale, overrides, actor, result)
                        continue
                    _apply_portfolio(rt, plan, pp, obs, apply_id, overrides, actor, result)
                    if result.interrupted is None and deadline.expired:
                        result.interrupted = deadline.exceeded(f"applying portfolio {pp.name}").message
            crash_point("before_finish")
        except BaseException as exc:
            journal.finish_apply(apply_id, "failed", f"{type(exc).__name__}: {exc}")
            raise
        if result.refused or any(o.status != "filled" and not o.queued for o in result.outcomes):
            result.status = "partial"
        if result.interrupted is not None:
            result.status = "interrupted"
            log.error("apply interrupted", extra={"apply_id": apply_id, "reason": result.interrupted})
        journal.finish_apply(apply_id, result.status, "; ".join(filter(None, [result.interrupted, *(
            f"{name} not traded: {'; '.join(why)}" for name, why in sorted(result.refused.items())
        )])) or None)
        return result


def _as_planned(rt: Services, obs: Observation) -> Observation:
    """The observation taken before a portfolio's orders with the journal's facts a plan's observation holds
    (when an apply last traded it, for its cooldown), so the apply's recorded observation says what a plan's
    would."""
    desired = rt.workspace.portfolio_for_account(obs.account)
    if desired is None:
        return obs
    ((_, obs),) = with_last_applied(rt.journal, [(desired, obs)])
    return obs


def _one_commit(rt: Services) -> AbstractContextManager[None]:
    """A portfolio's observation and orders in one journal transaction, when the broker's books are in the
    journal's database (the paper broker): its intents, orders, fills and answers commit together, once,
    instead of three commits an order.

    The intent's rule is that no order exists at the broker without its intent durable first. Here an order is
    a row written in the same transaction as its intent, so the two are durable together or not at all: a
    crash before the commit loses the portfolio's intents and its orders alike (broker and journal agree that
    nothing was sent, and the next apply sends them, under the same client ids, once); after it, both are
    there. No order can exist without its intent, and none is sent twice. A broker anywhere else is called
    outside the transaction, so its intents must be committed before each call: for it every write stays its
    own transaction."""
    if getattr(rt.broker, "engine", None) is rt.journal.engine:
        return rt.journal.grouped()
    return nullcontext()


def _blocked_now(
    rt: Services, pp: PortfolioPlan, obs: Observation, band: Decimal, reobserved: bool
) -> tuple[list[PolicyResult], list[str]]:
    """Why this portfolio must not trade on the observation just taken, as (the send-phase built-in checks'
    denials, stale facts): a doubtful quote for anything it holds or targets, or else (when re-observed
    mid-apply) holdings, cash or quotes that moved since the plan."""
    desired = rt.workspace.portfolio_for_account(pp.account)
    assert desired is not None  # check_matches guarantees it
    valued = valued_symbols(desired.targets, obs.positions)
    # The journal's fill prices now, not the plan's: they vouch for the quote just taken.
    denials = observation_denials(ObservedInput(
        pp.name, obs, frozenset(valued), rt.quote_limits, last_fill_prices(rt.journal, valued),
        floors_of(desired.symbols),
    ))
    if denials or not reobserved:
        return denials, []
    return [], stale_reasons(pp, obs, band)


def _symbols(pp: PortfolioPlan) -> list[str]:
    """What to observe for a portfolio: the symbols it trades and every quote its plan was valued with."""
    return [a.symbol for a in pp.actions] + list(pp.observation.quotes)


def _refuse_portfolio(
    rt: Services, plan: Plan, pp: PortfolioPlan, apply_id: str, denials: list[PolicyResult], stale: list[str],
    overrides: dict[str, str], actor: str, result: ApplyResult, *, late: str | None = None,
) -> None:
    """Send nothing for this portfolio: journal why (the built-in checks' denials) and every leg as denied,
    or, when the apply's deadline ran out (`late`), as skipped."""
    rt.journal.record_policies(
        denials, plan_hash=plan.content_hash, phase="apply", apply_id=apply_id, overrides=overrides,
        actor=actor,
    )
    reasons = [f"{r.policy}: {r.message}" for r in denials] + [f"stale: {r}" for r in stale]
    reasons += [] if late is None else [f"not sent: {late}"]
    message = "; ".join(reasons)
    for action in pp.actions:
        Leg(rt, plan, pp, action, apply_id, None, result).refuse(
            "skipped" if late else "denied", action.quantity, message
        )
    result.refused[pp.name] = reasons
    log.warning(
        "portfolio not traded", extra={"apply_id": apply_id, "account": pp.account, "reason": message}
    )


def _fill_timeout(rt: Services) -> float:
    return float(getattr(rt.workspace.config.broker, "fill_timeout_seconds", 0.0))


def _apply_portfolio(
    rt: Services,
    plan: Plan,
    pp: PortfolioPlan,
    obs: Observation,
    apply_id: str,
    overrides: dict[str, str],
    actor: str,
    result: ApplyResult,
) -> None:
    desired = rt.workspace.portfolio_for_account(pp.account)
    assert desired is not None  # check_matches guarantees it
    trading = desired.trading
    # Never buy with cash that is not there: settled minus reserved, plus what this apply's sells really
    # raised.
    budget = opening_budget(obs)
    quotes = dict(obs.quotes)
    sells_done = False
    # Quotes are refreshed when half the freshness limit has passed, so a long apply never prices (or polices)
    # an order with a quote the quote_freshness policy would refuse.
    refresh_after = rt.workspace.config.policies.params.max_quote_age_seconds / 2
    fetched = rt.clock.monotonic()
    gate = OrderGate(rt, pp, plan.content_hash, apply_id, overrides, actor)
    gate.prejudge([(a, quotes.get(a.symbol)) for a in pp.actions if a.side == "sell"])
    for n, action in enumerate(pp.actions):  # the planner orders sells before buys
        refresh = action.side == "buy" and not sells_done
        if refresh:
            sells_done = True
            crash_point("after_sells")
        late = _too_late(rt.config.broker.longest_send_seconds(), action.symbol)
        # Before the first buy when sells came first (they took time and moved the market); a portfolio that
        # only buys starts with the observation's quotes, taken just before (a request per account saved).
        refreshed = late is None and ((refresh and n > 0) or rt.clock.monotonic() - fetched > refresh_after)
        if refreshed:
            try:
                quotes.update(rt.broker.quotes(pp.account, [a.symbol for a in pp.actions[n:]]))
            except DeadlineExceeded as exc:
                late = exc.message
            fetched = rt.clock.monotonic()
        if late is not None:
            result.interrupted = late
            _skip_rest(rt, plan, pp, n, apply_id, quotes, result, f"not sent: {late}")
            return
        if refresh or refreshed:
            # The buys are judged together once they start, whether or not their quotes were fetched anew (an
            # all-buy portfolio keeps its observation's): judged one by one they cost an evaluation each.
            gate.prejudge([(a, quotes.get(a.symbol)) for a in pp.actions[n:]])
        leg = Leg(rt, plan, pp, action, apply_id, quotes.get(action.symbol), result)
        sized = size_leg(action, leg.quote, budget, trading, rt.costs)
        if isinstance(sized, SkippedLeg):
            leg.refuse("skipped", action.quantity, sized.message)
            continue
        qty, shrunk, limit = sized.quantity, sized.shrunk, sized.limit
        # The policies judge the order as it will be sent: after any shrinking, with the fresh quote.
        denied = gate.check(replace(action, quantity=qty), leg.quote, obs.positions.get(action.symbol, ZERO))
        if denied:
            leg.refuse("denied", qty, denied)
            log.warning("order denied by policy", extra={"client_order_id": leg.cid, "reason": denied})
            continue
        if shrunk:
            log.warning("order shrunk", extra={"client_order_id": leg.cid, "reason": shrunk})
        # Sent while the market is closed (apply.market_hours: ignore): the broker holds the order for the
        # open. Waiting for its fill and cancelling it at the fill timeout would undo that choice; it stays
        # open, and `reconcile` records its fills.
        queued = obs.market is not None and not obs.market.is_open
        state = leg.send(qty, None if queued else _fill_timeout(rt), shrunk, limit)
        if leg.interrupted or (current_deadline().expired and not (leg.unknown or leg.impossible)):
            result.interrupted = (
                leg.interrupted or current_deadline().exceeded(f"sending order {leg.cid}").message
            )
            _skip_rest(rt, plan, pp, n + 1, apply_id, quotes, result, f"not sent: {result.interrupted}")
            return
        if leg.unknown or leg.impossible:
            # What that order did to cash and holdings is not known: nothing more is sent for this portfolio;
            # the next plan, once the order is known, trades what is left.
            why = (
                f"not sent: order {leg.cid} was sent without a definitive answer; its outcome is unknown"
                if leg.unknown else f"not sent: the broker's answer about order {leg.cid} cannot be true"
            )
            _skip_rest(rt, plan, pp, n + 1, apply_id, quotes, result, why)
            return
        if state is not None and state.avg_price is not None and state.filled_quantity > 0:
            filled = state.avg_price * state.filled_quantity
            budget = budget_after(budget, action.side, filled, state.commission, trading)


def _too_late(longest: float, symbol: str) -> str | None:
    """Why no order may start now: what is left of the apply's deadline cannot hold one send in full (a send
    cut short would be `unknown`); None while it can."""
    deadline = current_deadline()
    if deadline.left() > longest:
        return None
    return deadline.exceeded(
        f"about to send the {symbol} order ({max(0.0, deadline.left()):.1f} s left, a send may take"
        f" {longest:g} s)"
    ).message


def _skip_rest(
    rt: Services, plan: Plan, pp: PortfolioPlan, start: int, apply_id: str, quotes: dict[str, Quote],
    result: ApplyResult, why: str,
) -> None:
    """Journal the portfolio's orders from `start` on as skipped (never sent), saying why."""
    for rest in pp.actions[start:]:
        Leg(rt, plan, pp, rest, apply_id, quotes.get(rest.symbol), result).refuse(
            "skipped", rest.quantity, why
        )
