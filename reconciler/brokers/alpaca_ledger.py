"""An Alpaca account's cash, checked against its activities within the settlement window only.

The ledger never reads the account's whole history. It keeps a `LedgerState` per account in the journal: a
cursor (the newest activity it has folded in), the cash the activities imply at that cursor, and the
activities of the settlement window (what can still be unsettled, and today's fills whose fees are not posted
yet). Each observation reads only the activities past the cursor (Alpaca's `page_token`), and checks the
broker's cash against the last cash plus what the new activities moved, less the fees accrued and not yet
posted. When they disagree, the window is read again once (`after` the horizon) before saying so: an activity
booked with an id earlier than one already read is found there; ids already kept never count twice. An old
activity of any type is irrelevant: it is in the cash the check started from.

At the first observation of an account (no state in the journal) there is nothing to check against: the
broker's cash is the starting point, and every later observation checks the change. Pure functions; the
adapter does I/O."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import date, timedelta
from decimal import Decimal
from typing import Protocol

from reconciler.brokers.alpaca_activities import TRADES, Entry
from reconciler.core.fees import FeeRates, day_fees
from reconciler.core.numbers import ZERO


def settlement_horizon(today: date, settlement_days: int) -> date:
    """Sales on or before this date settled long ago, whatever the holidays (a week per settlement day,
    plus two for the longest run of exchange holidays)."""
    return today - timedelta(days=7 * settlement_days + 14)


@dataclass(frozen=True)
class LedgerState:
    """What the journal keeps of one account's ledger between observations (and processes)."""

    cursor: str | None = None  # the newest activity id folded in
    implied: Decimal | None = None  # the cash the activities imply up to the cursor (fees posted only)
    slack: Decimal = ZERO  # how far `implied` may be off: fees pending when it was first taken, modelled
    window: tuple[Entry, ...] = field(default_factory=tuple)

    def to_json(self) -> str:
        """The state as text, for the ledger store."""
        return json.dumps(
            {
                "cursor": self.cursor,
                "implied": None if self.implied is None else str(self.implied),
                "slack": str(self.slack),
                "window": [e.to_json() for e in self.window],
            }
        )

    @classmethod
    def from_json(cls, text: str) -> LedgerState:
        """A state kept by `to_json`."""
        raw = json.loads(text)
        implied = raw.get("implied")
        return cls(cursor=raw.get("cursor"), implied=None if implied is None else Decimal(implied),
                   slack=Decimal(raw.get("slack", "0")),
                   window=tuple(Entry.from_json(e) for e in raw.get("window", [])))


class LedgerStore(Protocol):
    """Where ledger states live between observations, as text: the journal (journal/broker_ledgers.py), or
    memory."""

    def load_text(self, account: str) -> str | None:
        """The account's ledger state as last saved, or None at first sight."""

    def save_text(self, account: str, state: str) -> None:
        """Keep the account's ledger state for the next observation."""


class MemoryStore:
    """States kept for the life of the process only (an adapter built without a journal)."""

    def __init__(self) -> None:
        self.states: dict[str, str] = {}

    def load_text(self, account: str) -> str | None:
        """The state saved in this process, for runs without a journal."""
        return self.states.get(account)

    def save_text(self, account: str, state: str) -> None:
        """Keep the state for this process only."""
        self.states[account] = state


@dataclass(frozen=True)
class Reading:
    """One observation's ledger: the cash split, the fees pending, and why the cash cannot be trusted (or
    None)."""

    state: LedgerState
    settled: Decimal
    unsettled: Decimal
    pending_fees: Decimal
    warning: str | None
    # the broker's cash and the activities differ (a rescan of the window may explain it)
    disagrees: bool = False


def fold(state: LedgerState | None, fresh: list[Entry], horizon: date, *, rescan: bool = False
         ) -> tuple[LedgerState, Decimal]:
    """The state with `fresh` activities folded in, and the cash they moved. What counts: at first sight and
    on a rescan, the window's activities (at first sight only kept: they are in the broker's cash already);
    else what is past the cursor, and a kept activity whose status changed (a deposit turned canceled) by the
    change. An activity kept already never counts twice; one from before the window is in the cash the ledger
    started from, whatever its type."""
    kept = {e.id: e for e in (state.window if state else ())}
    cursor = state.cursor if state else None
    moved = ZERO
    for e in fresh:
        old = kept.get(e.id)
        by_day = state is None or rescan or state.cursor is None  # else by id, past the cursor
        if old is None and (e.day < horizon if by_day else cursor is not None and e.id <= cursor):
            continue
        moved += e.effect - (old.effect if old is not None else ZERO)
        kept[e.id] = e
        cursor = max(cursor or e.id, e.id)
    window = tuple(sorted((e for e in kept.values() if e.day >= horizon), key=lambda e: e.id))
    base = state or LedgerState()
    return LedgerState(cursor=cursor, implied=base.implied, slack=base.slack, window=window), moved


def pending_fees(window: tuple[Entry, ...], rates: FeeRates) -> Decimal:
    """Fees of the fills on days after the last FEE posting in the window: accrued, deducted from `cash`, not
    yet an activity (Alpaca posts each day's total at the end of the day)."""
    posted = max((e.day for e in window if e.kind == "FEE" and not e.void), default=None)
    by_day: dict[date, list[tuple[str, Decimal, Decimal]]] = {}
    for e in window:
        if e.kind in TRADES and not e.void and (posted is None or e.day > posted):
            by_day.setdefault(e.day, []).append((e.side, e.qty, e.price))
    return sum((sum(day_fees(trades, rates).values(), ZERO) for trades in by_day.values()), ZERO)


def unsettled(window: tuple[Entry, ...], today: date, sessions: list[date], settlement_days: int,
              horizon: date) -> Decimal:
    """Sale proceeds not settled yet (T+N exchange sessions after the trade), and money in of a kind whose
    settlement is not known, while it is in the window."""
    total = ZERO
    for e in window:
        if e.day <= horizon or e.void:
            continue
        if e.kind in TRADES and e.side == "sell" and settlement_days > 0:
            if sum(1 for s in sessions if e.day < s <= today) < settlement_days:
                total += e.effect
        else:
            total += e.held
    return total


def read(
    state: LedgerState | None, fresh: list[Entry], claimed: Decimal, *, today: date, horizon: date,
    sessions: list[date], settlement_days: int, rates: FeeRates, tolerance: Decimal, rescan: bool = False,
) -> Reading:
    """Fold the new activities in and check the broker's cash (`claimed`, fees pending already deducted)."""
    folded, moved = fold(state, fresh, horizon, rescan=rescan)
    fees = pending_fees(folded.window, rates)
    warning = None
    if folded.implied is None:  # first sight: the broker's cash is where the checks start
        folded = LedgerState(folded.cursor, claimed + fees, fees, folded.window)
    else:
        implied = folded.implied + moved
        short = implied - claimed  # what the broker shows less than the activities imply
        if -tolerance - folded.slack <= short <= fees + tolerance + folded.slack:
            # Agreed: with no fee pending, the broker's figure is exact and becomes the new start.
            implied, slack = (claimed, ZERO) if fees == 0 else (implied, folded.slack)
        else:
            warning = _disagreement(claimed, implied, fees, folded.window)
            slack = folded.slack
        folded = LedgerState(folded.cursor, implied, slack, folded.window)
    disagrees = warning is not None
    if claimed < 0:
        margin = f"the account's cash is {claimed}: it is borrowing on margin"
        # a disagreement is never hidden by it
        warning = margin if warning is None else f"{margin}; {warning}"
    held = unsettled(folded.window, today, sessions, settlement_days, horizon)
    settled = claimed - held
    if settled < 0:  # buys spent unsettled proceeds: what they took is not settled cash either
        held, settled = max(claimed, ZERO), ZERO
    return Reading(folded, settled, held, fees, warning, disagrees)


def _disagreement(claimed: Decimal, implied: Decimal, fees: Decimal, window: tuple[Entry, ...]) -> str:
    """The disagreement, naming the window's activities of a kind reconciler does not know (they may explain
    it)."""
    text = (f"the account reports cash {claimed} but its activities imply {implied}"
            + (f" less at most {fees} of fees accrued and not yet posted" if fees else "") + "; trusting"
            " neither")
    unknown = [f"{e.kind} {'amount unknown' if e.cash is None else e.cash} on {e.day} (id {e.id})"
               for e in window if not e.known and not e.void]
    if unknown:
        text += (" (activities of a kind reconciler does not know, which may explain it:"
                 f" {'; '.join(unknown)})")
    return text
