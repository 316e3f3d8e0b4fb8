"""Apply a sealed plan: verify it, refuse stale or mismatched plans, send each order once, journal everything.

The pure checks of execution.preflight decide whether the plan may be applied at all; here are the locks, the
intents (durable before each order is sent, its result after), the broker calls, the fills and the outcomes.
"""

from __future__ import annotations

import contextlib
import logging
from contextlib import ExitStack
from dataclasses import dataclass, field, replace
from decimal import Decimal

from reconciler.brokers.base import FINAL_ORDER_STATUSES, OrderRequest, OrderState
from reconciler.core.fills import limit_price
from reconciler.core.models import Action, Observation, Plan, PortfolioPlan, Quote
from reconciler.core.numbers import ZERO
from reconciler.core.plan import client_order_id
from reconciler.core.planner import affordable_quantity
from reconciler.core.valuation import VALUATION_POLICY, doubtful_quotes, valuation_denials, valued_symbols
from reconciler.errors import OrderRefusedError, ReconcilerError
from reconciler.execution.faults import crash_point
from reconciler.execution.gate import OrderGate
from reconciler.execution.preflight import (
    admitted,
    already_applied,
    check_age,
    check_derived,
    check_market_open,
    check_matches,
    check_unchanged,
    stale_reasons,
)
from reconciler.execution.reconcile import reconcile_account, record_state, refuse_in_flight
from reconciler.execution.stopping import finishing
from reconciler.journal.locks import AccountLock
from reconciler.journal.statuses import ApplyStatus, IntentStatus
from reconciler.runtime import Runtime

log = logging.getLogger("reconciler.apply")


@dataclass
class OrderOutcome:
    portfolio: str
    client_order_id: str
    symbol: str
    side: str
    quantity: Decimal
    status: str
    filled_quantity: Decimal = ZERO
    avg_price: Decimal | None = None
    message: str | None = None
    planned_quantity: Decimal | None = None  # set when apply sent less than the plan said (message says why)
    queued: bool = False  # sent while the market is closed, on purpose (market_hours: ignore): open until the open


@dataclass
class ApplyResult:
    apply_id: str | None
    status: ApplyStatus
    outcomes: list[OrderOutcome] = field(default_factory=list)
    message: str = ""
    refused: dict[str, list[str]] = field(default_factory=dict)  # portfolio -> why nothing of it was sent

    @property
    def ok(self) -> bool:
        return self.status in ("succeeded", "noop", "already-applied") and not self.refused


def match_once(plan: Plan, rt: Runtime) -> None:
    """check_matches, once per runtime and plan: the whole-plan check, which `apply --all` would otherwise repeat
    for every account (its workers' runtimes inherit what was checked, Runtime.for_worker)."""
    if plan.content_hash not in rt.matched_plans:
        check_matches(plan, rt.workspace)
        rt.matched_plans.add(plan.content_hash)


def apply_plan(
    plan: Plan,
    rt: Runtime,
    *,
    actor: str,
    overrides: dict[str, str] | None = None,
    accounts: set[str] | None = None,
) -> ApplyResult:
    """Execute a verified plan against the broker; idempotent per plan through deterministic client ids.

    `accounts` limits the apply to some of the plan's accounts (a worker's share of `apply --all`).
    """
    overrides = overrides or {}
    journal = rt.journal
    rt.policies.check_overrides(overrides)
    match_once(plan, rt)
    # Every per-account step below touches this share's portfolios and journal rows only, so `apply --all` over
    # N accounts costs N times one account, not N².
    mine = plan.portfolios if accounts is None else [pp for a in sorted(accounts) for pp in plan.by_account.get(a, [])]
    check_derived(plan, mine, rt.workspace, rt.costs, rt.quote_limits)
    chosen, denied = admitted(plan, mine, overrides)
    refused = [pp for pp in mine if pp.name in denied]
    if not chosen:
        return ApplyResult(None, "noop", message="no changes")
    journal.check_writable()
    with ExitStack() as stack:
        for account in sorted({pp.account for pp in chosen}):
            stack.enter_context(AccountLock(journal, account, actor, wait=rt.lock_timeout))
        crash_point("after_lock")
        for account in sorted({pp.account for pp in chosen}):
            refuse_in_flight(rt, account, reconcile_account(rt, account, check_positions=False).unknown)
        seen = journal.intents_for_plan(plan.content_hash, None if accounts is None else {pp.account for pp in chosen})
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
        result = ApplyResult(apply_id, "succeeded")
        for pp in refused:
            result.refused[pp.name] = [f"{r.policy}: {r.message}" for r in denied[pp.name]]
        try:
            for n, pp in enumerate(chosen):
                obs = observations[pp.account]
                if n > 0:  # re-observed right before its orders: an earlier portfolio's orders took time
                    obs = rt.broker.observe(pp.account, _symbols(pp))
                journal.record_observation(obs, "apply", apply_id)
                doubts, stale = _blocked_now(rt, pp, obs, settings.quote_band, n > 0)
                if doubts or stale:
                    _refuse_portfolio(rt, plan, pp, apply_id, doubts, stale, overrides, actor, result)
                    continue
                _apply_portfolio(rt, plan, pp, obs, apply_id, overrides, actor, result)
            crash_point("before_finish")
        except BaseException as exc:
            journal.finish_apply(apply_id, "failed", f"{type(exc).__name__}: {exc}")
            raise
        if result.refused or any(o.status != "filled" and not o.queued for o in result.outcomes):
            result.status = "partial"
        journal.finish_apply(apply_id, result.status, "; ".join(
            f"{name} not traded: {'; '.join(why)}" for name, why in sorted(result.refused.items())
        ) or None)
        return result


def _blocked_now(
    rt: Runtime, pp: PortfolioPlan, obs: Observation, band: Decimal, reobserved: bool
) -> tuple[list[str], list[str]]:
    """Why this portfolio must not trade on the observation just taken, as (doubtful quotes, stale facts): a
    doubtful quote for anything it holds or targets, or else (when re-observed mid-apply) holdings, cash or
    quotes that moved since the plan."""
    desired = rt.workspace.portfolio_for_account(pp.account)
    assert desired is not None  # check_matches guarantees it
    doubts = doubtful_quotes(obs, valued_symbols(desired.targets, obs.positions), rt.quote_limits)
    if doubts or not reobserved:
        return doubts, []
    return [], stale_reasons(pp, obs, band)


def _symbols(pp: PortfolioPlan) -> list[str]:
    """What to observe for a portfolio: the symbols it trades and every quote its plan was valued with."""
    return [a.symbol for a in pp.actions] + list(pp.observation.quotes)


def _refuse_portfolio(
    rt: Runtime, plan: Plan, pp: PortfolioPlan, apply_id: str, doubts: list[str], stale: list[str],
    overrides: dict[str, str], actor: str, result: ApplyResult,
) -> None:
    """Send nothing for this portfolio: journal why (doubtful quotes as the valuation check's denial) and every
    leg as denied."""
    rt.journal.record_policies(
        valuation_denials(pp.name, doubts), plan_hash=plan.content_hash, phase="apply", apply_id=apply_id,
        overrides=overrides, actor=actor,
    )
    reasons = [f"{VALUATION_POLICY}: {d}" for d in doubts] + [f"stale: {r}" for r in stale]
    message = "; ".join(reasons)
    for action in pp.actions:
        _Leg(rt, plan, pp, action, apply_id, None, result).refuse("denied", action.quantity, message)
    result.refused[pp.name] = reasons
    log.warning("portfolio not traded", extra={"apply_id": apply_id, "account": pp.account, "reason": message})


def _fill_timeout(rt: Runtime) -> float:
    return float(getattr(rt.workspace.config.broker, "fill_timeout_seconds", 0.0))


def _apply_portfolio(
    rt: Runtime,
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
    costs = rt.costs
    # Never buy with cash that is not there: settled minus reserved, plus what this apply's sells really raised.
    budget = obs.cash_settled - obs.cash_reserved if not obs.cash_warning else ZERO
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
        if refresh or rt.clock.monotonic() - fetched > refresh_after:
            quotes.update(rt.broker.quotes(pp.account, [a.symbol for a in pp.actions[n:]]))
            fetched = rt.clock.monotonic()
            gate.prejudge([(a, quotes.get(a.symbol)) for a in pp.actions[n:]])
        leg = _Leg(rt, plan, pp, action, apply_id, quotes.get(action.symbol), result)
        qty, shrunk, limit = action.quantity, None, None
        priced = leg.quote is not None and leg.quote.price.is_finite() and leg.quote.price > 0
        if costs.limit_band is not None:
            if leg.quote is None or not priced:
                leg.refuse("skipped", action.quantity, "no sound fresh quote to set a limit price at")
                continue
            limit = limit_price(action.side, leg.quote.marketable(action.side), costs.limit_band)
        if action.side == "buy" and leg.quote is not None and priced:
            # At the price the order meets (the ask, when sane): its limit is set from there.
            affordable = affordable_quantity(budget, leg.quote.marketable("buy"), costs, trading.step)
            if affordable < qty:
                qty = affordable
                if qty <= 0 or qty * leg.quote.price < trading.min_trade_notional:
                    leg.refuse("skipped", action.quantity, f"not enough settled cash (budget {budget:.2f})")
                    continue
                shrunk = (
                    f"planned {action.quantity}, sent {qty}: settled cash and this apply's sale proceeds"
                    f" ({budget:.2f}) buy no more at {leg.quote.price}"
                )
        # The policies judge the order as it will be sent: after any shrinking, with the fresh quote.
        denied = gate.check(replace(action, quantity=qty), leg.quote, obs.positions.get(action.symbol, ZERO))
        if denied:
            leg.refuse("denied", qty, denied)
            log.warning("order denied by policy", extra={"client_order_id": leg.cid, "reason": denied})
            continue
        if shrunk:
            log.warning("order shrunk", extra={"client_order_id": leg.cid, "reason": shrunk})
        # Sent while the market is closed (apply.market_hours: ignore): the broker holds the order for the open.
        # Waiting for its fill and cancelling it at the fill timeout would undo that choice; it stays open, and
        # `reconcile` records its fills.
        queued = obs.market is not None and not obs.market.is_open
        state = leg.send(qty, None if queued else _fill_timeout(rt), shrunk, limit)
        if leg.unknown:
            # What that order did to cash and holdings is not known: nothing more is sent for this portfolio; the
            # next plan, once the order is known, trades what is left.
            why = f"not sent: order {leg.cid} was sent without a definitive answer; its outcome is unknown"
            for rest in pp.actions[n + 1:]:
                _Leg(rt, plan, pp, rest, apply_id, quotes.get(rest.symbol), result).refuse(
                    "skipped", rest.quantity, why
                )
            return
        if state is not None and state.avg_price is not None and state.filled_quantity > 0:
            notional = state.avg_price * state.filled_quantity
            if action.side == "sell" and trading.use_sale_proceeds:
                budget += notional - state.commission
            elif action.side == "buy":
                budget -= notional + state.commission


@dataclass
class _Leg:
    """One order of the plan on its way to the broker: journal first, then the call, then the journal again."""

    rt: Runtime
    plan: Plan
    pp: PortfolioPlan
    action: Action
    apply_id: str
    quote: Quote | None
    result: ApplyResult
    unknown: bool = False  # sent without a definitive answer and not found: its intent is `unknown`

    @property
    def cid(self) -> str:
        return client_order_id(self.plan.content_hash, self.pp.account, self.action)

    def _intent(self, status: IntentStatus, quantity: Decimal, message: str | None = None) -> None:
        a = self.action
        self.rt.journal.add_intent(
            apply_id=self.apply_id, plan_hash=self.plan.content_hash, portfolio=self.pp.name,
            account=self.pp.account, leg=a.leg, client_order_id=self.cid, symbol=a.symbol, side=a.side,
            quantity=quantity, est_price=self.quote.price if self.quote else a.price, status=status,
            message=message,
        )

    def refuse(self, status: IntentStatus, quantity: Decimal, message: str) -> None:
        self._intent(status, quantity, message)
        a = self.action
        self.result.outcomes.append(
            OrderOutcome(self.pp.name, self.cid, a.symbol, a.side, quantity, status, message=message)
        )

    def send(
        self, quantity: Decimal, fill_timeout: float | None, shrunk: str | None = None, limit: Decimal | None = None
    ) -> OrderState | None:
        """Send the order and wait up to `fill_timeout` for it to fill (then cancel the rest); None: queue it for
        the open and do not wait. A SIGTERM meanwhile stops the apply once this order is finished and journaled."""
        with finishing():
            return self._send(quantity, fill_timeout, shrunk, limit)

    def _send(
        self, quantity: Decimal, fill_timeout: float | None, shrunk: str | None, limit: Decimal | None
    ) -> OrderState | None:
        a, cid, account, broker = self.action, self.cid, self.pp.account, self.rt.broker
        self._intent("submitting", quantity, shrunk)
        crash_point("after_intent")
        request = OrderRequest(client_order_id=cid, symbol=a.symbol, side=a.side, quantity=quantity, limit_price=limit)
        try:
            state = broker.submit(account, request)
        except OrderRefusedError as exc:  # the one definitive "no": the broker holds no order under this id
            self.rt.journal.transition(cid, "refused", message=str(exc))
            self._outcome(quantity, "failed", str(exc))
            return None
        except Exception as exc:  # any other end of a send is no answer: the order may have arrived
            found = self._unanswered(exc, quantity)
            if found is None:
                return None
            state = found
        except BaseException:  # interrupted mid-send: it may have arrived; say so, then stop
            with contextlib.suppress(Exception):
                self.rt.journal.transition(cid, "no_answer", message="interrupted while the order was being sent")
            raise
        crash_point("after_submit")
        note = None
        queued = fill_timeout is None and state.status not in FINAL_ORDER_STATUSES
        if queued:
            record_state(self.rt, account, state, self.apply_id)
            note = f"queued for the open ({state.status}); `reconciler reconcile` records its fills"
        else:
            state = self._await_final(state, fill_timeout or 0.0)
            if limit is not None and state.status == "canceled" and state.filled_quantity < quantity:
                # Progress, not failure: the market moved past the limit; the next plan trades what is left.
                note = (
                    f"limit {limit:.4f} not reached: {quantity - state.filled_quantity} of {quantity} unfilled and"
                    " cancelled; the next plan picks it up"
                )
                self.rt.journal.transition(cid, "limit_not_reached", message="; ".join(filter(None, [shrunk, note])))
        log.info(
            "order %s", state.status,
            extra={
                "apply_id": self.apply_id, "account": account, "client_order_id": cid, "symbol": a.symbol,
                "side": a.side, "quantity": str(quantity), "filled": str(state.filled_quantity),
                "limit": None if limit is None else str(limit),
            },
        )
        self.result.outcomes.append(
            OrderOutcome(
                self.pp.name, cid, a.symbol, a.side, quantity, state.status, state.filled_quantity,
                state.avg_price, "; ".join(filter(None, [shrunk, note or state.reject_reason])) or None,
                planned_quantity=a.quantity if quantity != a.quantity else None, queued=queued,
            )
        )
        return state

    def _outcome(self, quantity: Decimal, status: str, message: str) -> None:
        a = self.action
        self.result.outcomes.append(OrderOutcome(self.pp.name, self.cid, a.symbol, a.side, quantity, status,
                                                 message=message))

    def _unanswered(self, exc: Exception, quantity: Decimal) -> OrderState | None:
        """A send without a definitive answer: the order if the broker shows it now, else None with the intent
        `unknown` (never `failed`, never sent again) until the broker shows it or the in-flight grace has passed
        since this moment, which is after the send's last attempt."""
        a, cid, account = self.action, self.cid, self.pp.account
        why = str(exc) if isinstance(exc, ReconcilerError) else f"{type(exc).__name__}: {exc}"
        log.warning(
            "order sent without a definitive answer; its outcome is unknown",
            exc_info=not isinstance(exc, ReconcilerError),  # an unexpected failure: its traceback is for the log
            extra={"apply_id": self.apply_id, "account": account, "client_order_id": cid, "reason": why},
        )
        try:
            found = self.rt.broker.get_order(account, cid, a.symbol)
        except Exception:  # a lookup that fails knows no more than the send did
            found = None
        if found is not None:
            return found
        grace = self.rt.config.apply.in_flight_grace_seconds
        message = (
            f"sent without a definitive answer ({why}); it may still arrive: unknown until the broker shows it or"
            f" {grace}s have passed (`reconciler reconcile`)"
        )
        self.rt.journal.transition(cid, "no_answer", message=message)
        self._outcome(quantity, "unknown", message)
        self.unknown = True
        return None

    def _await_final(self, state: OrderState, fill_timeout: float) -> OrderState:
        """Partial fills are progress: journal each, wait up to the bound, then cancel what is left."""
        account, cid, rt = self.pp.account, self.cid, self.rt
        if state.status in FINAL_ORDER_STATUSES or state.filled_quantity > 0:
            record_state(rt, account, state, self.apply_id)
        # else a bare acknowledgement, about to be looked at again: its intent stays `submitting` until the broker
        # says more, and a crash meanwhile is recovered by client id, as one right after the send is.
        clock = rt.clock
        deadline = clock.monotonic() + fill_timeout
        # A market order usually fills within milliseconds of its acceptance: look again soon, then back off (each
        # look is a request within the account's rate limit).
        pause = 0.01
        while state.status not in FINAL_ORDER_STATUSES and clock.monotonic() < deadline:
            clock.sleep(min(pause, max(0.0, deadline - clock.monotonic())))
            pause = min(pause * 1.5, 1.0)
            latest = rt.broker.get_order(account, cid, self.action.symbol)
            if latest is None:
                break
            if latest.filled_quantity != state.filled_quantity or latest.status != state.status:
                state = latest
                record_state(rt, account, state, self.apply_id)
                if state.status == "partially_filled":
                    crash_point("mid_partial_fill")
        if state.status not in FINAL_ORDER_STATUSES:
            final = rt.broker.cancel(account, cid, self.action.symbol)
            crash_point("during_cancel")
            state = final or state
            record_state(rt, account, state, self.apply_id)
            rt.journal.event(
                "order.remainder_canceled", apply_id=self.apply_id, account=account, client_order_id=cid,
                filled=state.filled_quantity, ordered=state.quantity,
            )
        return state
