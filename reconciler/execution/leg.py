"""One order of a plan on its way to the broker, and what became of it: journal first, then the call, then the
journal again. A send ends one of three ways, by construction: the broker's answer (the order, journaled as it
says), a definitive refusal (OrderRefusedError: the intent fails), or anything else (the intent is unknown
until the broker shows the order or the in-flight grace has passed since the send's last attempt)."""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from decimal import Decimal
from functools import cached_property

from reconciler.brokers.base import FINAL_ORDER_STATUSES, OrderRequest, OrderState
from reconciler.clock import current_deadline, pause
from reconciler.core.models import Action, Plan, PortfolioPlan, Quote
from reconciler.core.numbers import ZERO
from reconciler.core.plan import client_order_id
from reconciler.errors import (
    DeadlineExceeded,
    ExchangeBannedError,
    ImpossibleFillError,
    OrderRefusedError,
    ReconcilerError,
)
from reconciler.execution.faults import crash_point
from reconciler.execution.reconcile import lot_rule_of, record_state
from reconciler.execution.services import Services
from reconciler.execution.stopping import finishing
from reconciler.journal.statuses import ApplyStatus, IntentStatus

log = logging.getLogger("reconciler.apply")
PROGRESS_SECONDS = 10.0  # how often a long wait for a fill says where it stands (by the apply's clock)


@dataclass
class OrderOutcome:
    """What became of one order of an apply, as the report and the journal show it."""

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
    # sent while the market is closed, on purpose (market_hours: ignore): open until the open
    queued: bool = False
    # the price the plan valued the order at (slippage is measured against it)
    planned_price: Decimal | None = None
    commission: Decimal = ZERO  # what the broker charged for it, as it said


@dataclass
class ApplyResult:
    """An apply's outcome: its status, every order's outcome, and why any portfolio sent nothing."""

    apply_id: str | None
    status: ApplyStatus
    outcomes: list[OrderOutcome] = field(default_factory=list)
    message: str = ""
    refused: dict[str, list[str]] = field(default_factory=dict)  # portfolio -> why nothing of it was sent
    interrupted: str | None = None  # the apply's time budget ran out: why, and what was doing
    # Told of each outcome as it happens (the terminal streams them); every outcome is added through add().
    listener: Callable[[OrderOutcome], None] | None = field(default=None, repr=False, compare=False)

    def add(self, outcome: OrderOutcome) -> None:
        """Record what became of one order, and tell the listener (its journal row is written already)."""
        self.outcomes.append(outcome)
        if self.listener is None:
            return
        try:
            self.listener(outcome)
        # showing an outcome must not stop the orders after it: the journal and the end say all
        except Exception:
            log.exception("could not show an order's outcome; the apply goes on and reports at its end",
                          extra={"apply_id": self.apply_id, "client_order_id": outcome.client_order_id})
            self.listener = None
    @property
    def ok(self) -> bool:
        """Whether the apply did what the plan asked (the exit code is 0)."""
        return self.status in ("succeeded", "noop", "already-applied") and not self.refused



@dataclass
class Leg:
    """One order of the plan on its way to the broker: journal first, then the call, then the journal
    again."""

    rt: Services
    plan: Plan
    pp: PortfolioPlan
    action: Action
    apply_id: str
    quote: Quote | None
    result: ApplyResult
    unknown: bool = False  # sent without a definitive answer and not found: its intent is `unknown`
    impossible: str | None = None  # the broker's answer about it cannot be true (ImpossibleFillError): why
    interrupted: str | None = None  # the apply's deadline ran out while waiting for its fills: why
    # (symbol, side, quantity) of the intent this leg inserted before its send: what record_state checks the
    # broker's answers against, known without reading the row back (reconcile.record_state says why)
    sent: tuple[str, str, Decimal] | None = None

    @cached_property  # a hash of plan, account and leg, asked for several times an order
    def cid(self) -> str:
        """The order's client id, derived from the plan so a resend finds the same order."""
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
        """Record that this leg sends nothing, and why."""
        self._intent(status, quantity, message)
        a = self.action
        self.result.add(
            OrderOutcome(
                self.pp.name,
                self.cid,
                a.symbol,
                a.side,
                quantity,
                status,
                message=message,
                planned_price=a.price,
            )
        )

    def send(
        self, quantity: Decimal, fill_timeout: float | None, shrunk: str | None = None,
        limit: Decimal | None = None
    ) -> OrderState | None:
        """Send the order and wait up to `fill_timeout` for it to fill (then cancel the rest); None: queue it
        for the open and do not wait. A SIGTERM meanwhile stops the apply once this order is finished and
        journaled."""
        with finishing():
            try:
                return self._send(quantity, fill_timeout, shrunk, limit)
            except ImpossibleFillError as exc:
                self._impossible(exc, quantity)
                return None

    def _impossible(self, exc: ImpossibleFillError, quantity: Decimal) -> None:
        """An answer that contradicts the order we sent: the order stays as the journal knows it, its intent
        `unknown` (what it did to cash and holdings is not known), and the apply says the broker's answer was
        impossible."""
        message = f"{exc}; nothing more is sent for this portfolio"
        log.error("impossible answer about an order", extra={
            "apply_id": self.apply_id, "account": self.pp.account, "client_order_id": self.cid,
            "reason": str(exc),
        })
        if self.rt.journal.intent(self.cid) is not None:
            # already past its send: the journal keeps what it knew
            with contextlib.suppress(ReconcilerError):
                self.rt.journal.transition(self.cid, "no_answer", message=message)
        self._outcome(quantity, "unknown", message)
        self.impossible = message

    def _send(
        self, quantity: Decimal, fill_timeout: float | None, shrunk: str | None, limit: Decimal | None
    ) -> OrderState | None:
        a, cid, account, broker = self.action, self.cid, self.pp.account, self.rt.broker
        self._intent("submitting", quantity, shrunk)
        self.sent = (a.symbol, a.side, quantity)
        crash_point("after_intent")
        request = OrderRequest(
            client_order_id=cid, symbol=a.symbol, side=a.side, quantity=quantity, limit_price=limit
        )
        try:
            state = broker.submit(account, request)
        except OrderRefusedError as exc:  # the one definitive "no": the broker holds no order under this id
            self.rt.journal.transition(cid, "refused", message=str(exc))
            self._outcome(quantity, "failed", str(exc))
            # every later call would be refused too: the apply ends here
            if isinstance(exc, ExchangeBannedError):
                raise
            return None
        except Exception as exc:  # any other end of a send is no answer: the order may have arrived
            found = self._unanswered(exc, quantity)
            if found is None:
                return None
            state = found
        except BaseException:  # interrupted mid-send: it may have arrived; say so, then stop
            with contextlib.suppress(Exception):
                self.rt.journal.transition(cid, "no_answer", message="interrupted while the order was being"
                                           " sent")
            raise
        crash_point("after_submit")
        note = None
        queued = fill_timeout is None and state.status not in FINAL_ORDER_STATUSES
        if queued:
            record_state(
                self.rt.journal, account, state, self.apply_id, self.sent, lot_rule_of(self.rt, account)
            )
            note = f"queued for the open ({state.status}); `reconciler reconcile` records its fills"
        else:
            state = self._await_final(state, fill_timeout or 0.0)
            if limit is not None and state.status == "canceled" and state.filled_quantity < quantity:
                # Progress, not failure: the market moved past the limit; the next plan trades what is left.
                note = (
                    f"limit {limit:.4f} not reached: {quantity - state.filled_quantity} of {quantity}"
                    " unfilled and"
                    " cancelled; the next plan picks it up"
                )
                self.rt.journal.transition(
                    cid, "limit_not_reached", message="; ".join(filter(None, [shrunk, note]))
                )
        log.info(
            "order %s", state.status,
            extra={
                "apply_id": self.apply_id, "account": account, "client_order_id": cid, "symbol": a.symbol,
                "side": a.side, "quantity": str(quantity), "filled": str(state.filled_quantity),
                "limit": None if limit is None else str(limit),
            },
        )
        self.result.add(
            OrderOutcome(
                self.pp.name, cid, a.symbol, a.side, quantity, state.status, state.filled_quantity,
                state.avg_price,
                "; ".join(filter(None, [shrunk, note or state.reject_reason, self.interrupted])) or None,
                planned_quantity=a.quantity if quantity != a.quantity else None, queued=queued,
                planned_price=a.price, commission=state.commission,
            )
        )
        return state

    def _outcome(self, quantity: Decimal, status: str, message: str) -> None:
        a = self.action
        self.result.add(
            OrderOutcome(
                self.pp.name,
                self.cid,
                a.symbol,
                a.side,
                quantity,
                status,
                message=message,
                planned_price=a.price,
            )
        )

    def _unanswered(self, exc: Exception, quantity: Decimal) -> OrderState | None:
        """A send without a definitive answer: the order if the broker shows it now, else None with the intent
        `unknown` (never `failed`, never sent again) until the broker shows it or the in-flight grace has
        passed since this moment, which is after the send's last attempt."""
        a, cid, account = self.action, self.cid, self.pp.account
        why = str(exc) if isinstance(exc, ReconcilerError) else f"{type(exc).__name__}: {exc}"
        log.warning(
            "order sent without a definitive answer; its outcome is unknown",
            # an unexpected failure: its traceback is for the log
            exc_info=not isinstance(exc, ReconcilerError),
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
            f"sent without a definitive answer ({why}); it may still arrive: unknown until the broker shows"
            f" it or {grace}s have passed (`reconciler reconcile`)"
        )
        self.rt.journal.transition(cid, "no_answer", message=message)
        self._outcome(quantity, "unknown", message)
        self.unknown = True
        return None

    def _await_final(self, state: OrderState, fill_timeout: float) -> OrderState:
        """Partial fills are progress: journal each, wait up to the bound, then cancel what is left. When the
        apply's deadline runs out meanwhile, the order is left as the broker last showed it (open: `reconcile`
        records its fills and cancels the rest), never marked failed."""
        try:
            return self._wait_and_cancel(state, fill_timeout)
        except DeadlineExceeded as exc:
            latest = self.rt.journal.intent(self.cid)
            if latest is not None and latest["status"] == "submitting":
                # the broker's acknowledgement
                record_state(
                    self.rt.journal, self.pp.account, state, self.apply_id, self.sent,
                    lot_rule_of(self.rt, self.pp.account),
                )
            self.interrupted = (
                f"{exc.message}; the order is left as the broker last showed it ({state.status}):"
                " `reconciler reconcile` records its fills and cancels what is left"
            )
            return state

    def _still_waiting(self, state: OrderState, waited: float, left: float) -> None:
        log.warning(
            "still waiting for order %s to fill: %s of %s filled (%s), %.0f s waited, %.0f s left before what"
            " is unfilled is cancelled", self.cid, state.filled_quantity, state.quantity, state.status,
            waited,
            max(0.0, left),
            extra={"apply_id": self.apply_id, "account": self.pp.account, "client_order_id": self.cid,
                   "symbol": self.action.symbol, "filled": str(state.filled_quantity)},
        )

    def _wait_and_cancel(self, state: OrderState, fill_timeout: float) -> OrderState:
        account, cid, rt = self.pp.account, self.cid, self.rt
        if state.status in FINAL_ORDER_STATUSES or state.filled_quantity > 0:
            record_state(rt.journal, account, state, self.apply_id, self.sent, lot_rule_of(rt, account))
        # else a bare acknowledgement, about to be looked at again: its intent stays `submitting` until the
        # broker says more, and a crash meanwhile is recovered by client id, as one right after the send is.
        clock = rt.clock
        # Within the apply's deadline, keeping back the longest a send takes for the cancel that follows.
        reserve = rt.config.broker.longest_send_seconds()
        deadline = clock.monotonic() + min(fill_timeout, max(0.0, current_deadline().left() - reserve))
        # What the broker pushes (Alpaca's trade_updates stream) first, without a request; when it pushes
        # nothing trustworthy, look: soon (a market order usually fills within milliseconds), then backing off
        # (each look is a request within the account's rate limit).
        wait = 0.01
        started = reported = clock.monotonic()
        while state.status not in FINAL_ORDER_STATUSES and clock.monotonic() < deadline:
            latest = rt.broker.watch(account, state, max(0.0, deadline - clock.monotonic()))
            if latest is None:
                pause(clock, min(wait, max(0.0, deadline - clock.monotonic())), f"waiting for order {cid} to"
                      " fill")
                wait = min(wait * 1.5, 1.0)
                latest = rt.broker.get_order(account, cid, self.action.symbol)
            # a long wait says so, so it never looks hung
            if clock.monotonic() - reported >= PROGRESS_SECONDS:
                reported = clock.monotonic()
                self._still_waiting(state, reported - started, deadline - reported)
            if latest is None:
                break
            if latest.filled_quantity != state.filled_quantity or latest.status != state.status:
                state = latest
                record_state(rt.journal, account, state, self.apply_id, self.sent, lot_rule_of(rt, account))
                if state.status == "partially_filled":
                    crash_point("mid_partial_fill")
        if state.status not in FINAL_ORDER_STATUSES:
            final = rt.broker.cancel(account, cid, self.action.symbol)
            crash_point("during_cancel")
            state = final or state
            record_state(rt.journal, account, state, self.apply_id, self.sent, lot_rule_of(rt, account))
            # Said as the broker's answer has it: a refused or unfinished cancel leaves the order open.
            rt.journal.event(
                "order.remainder_canceled"
                if state.status in FINAL_ORDER_STATUSES
                else "order.cancel_unconfirmed",
                apply_id=self.apply_id,
                account=account,
                client_order_id=cid,
                filled=state.filled_quantity,
                ordered=state.quantity,
            )
        return state
