"""The reconciliation loop: make the journal agree with what the broker actually did.

Runs at the start of every apply (after the account lock is taken) and as `reconciler reconcile`. For every
intent the journal left unfinished — the process died between writing it and learning the outcome, or its send
had no definitive answer — the broker is asked by client order id: an order it does not know is `unknown`
until the in-flight grace has passed since the send's last attempt, then failed; an order still working is
cancelled (its remainder would otherwise be traded twice, by it and by the next plan); what filled is adopted.
Then it reports what the journal cannot explain: our orders it has no intent for, orders placed by someone
else, and positions that moved without a fill we know of.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from reconciler.brokers.base import FINAL_ORDER_STATUSES, OrderState
from reconciler.core.fills import impossible_fill
from reconciler.core.numbers import ZERO
from reconciler.core.plan import CLIENT_ORDER_ID_PREFIX
from reconciler.errors import ImpossibleFillError, InFlightError, ReconcilerError
from reconciler.execution.faults import crash_point
from reconciler.journal.database import as_utc
from reconciler.journal.lot_book import FIFO, LotRule, lot_rule
from reconciler.journal.moves import accept, moved_symbols

if TYPE_CHECKING:
    from reconciler.brokers.base import Broker
    from reconciler.execution.services import Books, Services
    from reconciler.journal.store import Journal
    from reconciler.workspace.models import ApplySettings

log = logging.getLogger("reconciler.reconcile")


@dataclass
class Discrepancy:
    """Something the broker shows that the journal cannot explain, for a person to look at."""

    account: str
    kind: str  # unknown_order | external_order | unexplained_position
    detail: str


@dataclass
class ReconcileReport:
    """What `reconcile` changed in the journal and what it could not explain."""

    adopted: list[str] = field(default_factory=list)
    failed: list[str] = field(default_factory=list)
    unknown: list[str] = field(default_factory=list)  # sent, not seen by the broker yet: may still arrive
    canceled: list[str] = field(default_factory=list)
    discrepancies: list[Discrepancy] = field(default_factory=list)


def record_state(
    journal: Journal, account: str, state: OrderState, apply_id: str | None,
    sent: tuple[str, str, Decimal] | None = None, lots: LotRule | None = FIFO,
) -> None:
    """Journal what the broker says about an order: the order row, any new fill (once), the intent's status.
    The one way a broker's answer about an order reaches the journal, so every adapter's answers are checked
    here against the order we sent; one that cannot be true raises ImpossibleFillError and nothing of it is
    written.

    `sent` is (symbol, side, quantity) of the intent the caller itself inserted in this process
    (execution.leg: a plain insert of a new client id; no statement ever changes those three columns, stored
    as exact text), so it is the journal's row without reading it again; None reads the row. `lots`: which
    lots a new fill opens or closes (lot_rule_of; None books none)."""
    if sent is None:
        intent = journal.intent(state.client_order_id)
        sent = None if intent is None else (intent["symbol"], intent["side"], Decimal(intent["quantity"]))
    if sent is None:
        why: str | None = "it is about an order this journal has no intent for"
    else:
        why = impossible_fill(sent, (state.symbol, state.side, state.quantity), state.filled_quantity)
    if why is not None:
        journal.event(
            "order.impossible_answer", apply_id=apply_id, account=account,
            client_order_id=state.client_order_id,
            reason=why,
        )
        raise ImpossibleFillError(
            f"the broker's answer about order {state.client_order_id} cannot be true: {why}",
            where=f"account {account}",
            fix="nothing of it was journaled and nothing more is sent for this portfolio; ask the broker what"
            " happened to this order, then run `reconciler reconcile`",
        )
    journal.record_state(
        account, state, apply_id, on_fill=lambda: crash_point("after_fill_recorded"), lots=lots
    )


def lot_rule_of(rt: Services, account: str) -> LotRule | None:
    """Which lots the account's sells close: its portfolio's `tax.lots` (FIFO without a `tax:` block). None
    when the portfolios do not load: the fill is still journaled (a repair must not stop), but no lot is
    booked on a guess; the ledger then disagrees with the broker and the next plan says so."""
    try:
        desired = rt.workspace.portfolio_for_account(account)
    except ReconcilerError:
        return None
    return lot_rule(None if desired is None else desired.tax)


def last_attempt(intent: dict[str, Any], longest_send: float) -> datetime:
    """When the intent's send made its last attempt, at the latest: an `unknown` intent was marked so after
    its send ended (or when first found missing, later still); a `submitting` one was written just before a
    send that may have gone on trying for as long as a send can take (its process died, or it is still
    running)."""
    if intent["status"] == "unknown":
        return as_utc(intent["updated_at"])
    return as_utc(intent["created_at"]) + timedelta(seconds=longest_send)


def reconcile_account(rt: Services, account: str, *, check_positions: bool = True) -> ReconcileReport:
    """Adopt the outcome of every unfinished intent, then list what the journal cannot explain."""
    report = ReconcileReport()
    broker, journal = rt.broker, rt.journal
    grace = rt.config.apply.in_flight_grace_seconds
    longest_send = rt.config.broker.longest_send_seconds()
    for intent in journal.open_intents(account):
        cid = intent["client_order_id"]
        state = broker.get_order(account, cid, intent["symbol"])
        if state is None:
            # Not found means not arrived yet until the grace has passed since the send's last attempt: until
            # then the account is not traded (the next plan would buy again).
            age = (rt.clock.now() - last_attempt(intent, longest_send)).total_seconds()
            if age < grace:
                if intent["status"] != "unknown":
                    journal.transition(cid, "not_seen", message=f"sent {age:.0f}s ago; the broker does not"
                                       " know it yet")
                    journal.event("reconcile.in_flight", account=account, client_order_id=cid, age=age)
                report.unknown.append(cid)
                continue
            journal.transition(
                cid, "grace_passed",
                message=f"the broker never received this order ({age:.0f}s after its last attempt)"
            )
            journal.event("reconcile.never_received", account=account, client_order_id=cid)
            report.failed.append(cid)
            continue
        if state.status not in FINAL_ORDER_STATUSES:
            final = broker.cancel(account, cid, intent["symbol"])
            state = final or state
            report.canceled.append(cid)
        record_state(journal, account, state, intent["apply_id"], lots=lot_rule_of(rt, account))
        journal.event("reconcile.adopted", account=account, client_order_id=cid, status=state.status)
        report.adopted.append(cid)
        log.warning(
            "adopted an order an earlier run left unfinished",
            extra={"account": account, "client_order_id": cid, "status": state.status},
        )
        crash_point("mid_reconcile")
    for order in broker.list_orders(account, _symbols_of(rt, account)):
        cid = order.client_order_id
        if cid.startswith(CLIENT_ORDER_ID_PREFIX):
            if journal.intent(cid) is None:
                report.discrepancies.append(
                    Discrepancy(account, "unknown_order", f"{cid}: {order.side} {order.quantity}"
                                f" {order.symbol} ({order.status}) has no intent in this journal")
                )
        elif order.status not in ("rejected",):
            report.discrepancies.append(
                Discrepancy(account, "external_order", f"{order.side} {order.quantity} {order.symbol}"
                            f" ({order.status}) was not placed by reconciler")
            )
    if check_positions:
        report.discrepancies += _unexplained_positions(journal, broker, account)
    for d in report.discrepancies:
        journal.event("reconcile.discrepancy", account=account, discrepancy=d.kind, detail=d.detail)
    return report


def refuse_in_flight(apply: ApplySettings, account: str, unknown: list[str]) -> None:
    """Stop before planning or trading an account while an order of it may still be travelling."""
    if not unknown:
        return
    grace = apply.in_flight_grace_seconds
    raise InFlightError(
        f"order(s) {', '.join(unknown)} were sent but the broker does not know them yet; they"
        " may still arrive, so trading now could buy or sell the same shares twice; nothing was sent",
        where=f"account {account}",
        fix=f"run `reconciler reconcile` again later (after {grace}s an order the broker never received is"
        " marked"
        " failed), or, if you know it will never arrive, `reconciler reconcile --give-up ID --reason TEXT`",
    )


def give_up(books: Books, client_order_id: str, reason: str, actor: str) -> str:
    """Mark an unknown intent failed on a person's word; journaled with who and why. Returns its account."""
    journal = books.journal
    intent = journal.intent(client_order_id)
    if intent is None or intent["status"] != "unknown":
        raise ReconcilerError(
            f"{client_order_id} is not an order of unknown outcome"
            + ("" if intent is None else f" (it is {intent['status']})"),
            where="command line", fix="give the id `reconcile` listed as unknown",
        )
    account = str(intent["account"])
    if books.broker.get_order(account, client_order_id, intent["symbol"]) is not None:
        raise ReconcilerError(
            f"{client_order_id} has reached the broker: it is adopted, not given up",
            where="command line", fix="run `reconciler reconcile` to adopt it",
        )
    journal.transition(client_order_id, "given_up", message=f"given up by {actor}: {reason}")
    journal.event(
        "reconcile.given_up", account=account, client_order_id=client_order_id, actor=actor, reason=reason
    )
    return account


def accept_move(books: Books, account: str, symbol: str, actor: str, reason: str) -> str:
    """Accept the holding of a symbol a move blocked (journal.moves): the block is lifted with who and why,
    and the account as observed now becomes the baseline the next move is judged against. Returns what was
    blocking."""
    obs = books.broker.observe(account, [symbol])
    moved_symbols(books.journal, account, obs.positions, record=True)  # moves of other symbols stay blocked
    why = accept(books.journal, account, symbol, actor, reason)
    books.journal.record_observation(obs, "reconcile")
    log.warning("accepted a holding that moved unexplained", extra={"account": account, "symbol": symbol,
                                                                    "actor": actor, "reason": reason})
    return why


def _symbols_of(rt: Services, account: str) -> list[str]:
    """What the account may have traded: its targets and what it held when last observed."""
    try:
        desired = rt.workspace.portfolio_for_account(account)
    # a broken portfolio file must not stop a repair: the journal knows what was traded
    except ReconcilerError:
        desired = None
    symbols = set(desired.targets) if desired is not None else set()
    symbols |= rt.journal.symbols_traded(account)
    last = rt.journal.last_observation(account)
    if last is not None:
        symbols |= set(json.loads(last["data"]).get("positions", {}))
    return sorted(symbols)


def _unexplained_positions(journal: Journal, broker: Broker, account: str) -> list[Discrepancy]:
    """Last observation plus our fills since should equal what the broker holds now."""
    last = journal.last_observation(account)
    if last is None:
        return []
    data = json.loads(last["data"])
    expected = {s: Decimal(q) for s, q in data.get("positions", {}).items()}
    taken = as_utc(last["taken_at"])
    for f in journal.fills_since(account, taken):
        sign = 1 if f["side"] == "buy" else -1
        # A fee kept in the traded asset (a coin bought on an exchange without a fee token) is not held.
        expected[f["symbol"]] = expected.get(f["symbol"], ZERO) + sign * f["quantity"] - f["fee_in_kind"]
        if f.get("fee_asset") and f.get("fee_asset_amount"):  # a fee paid in a third asset (BNB) left it
            expected[f["fee_asset"]] = expected.get(f["fee_asset"], ZERO) - f["fee_asset_amount"]
    now = broker.observe(account, [])
    out = []
    for s in sorted(set(expected) | set(now.positions)):
        want, have = expected.get(s, ZERO), now.positions.get(s, ZERO)
        if want != have:
            out.append(
                Discrepancy(account, "unexplained_position", f"{s}: broker holds {have}, journal expects"
                            f" {want}")
            )
    return out
