"""The journal store: every apply transition is written here, before and after each broker call."""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable, Collection, Iterator, Sequence
from contextlib import contextmanager
from datetime import datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import Connection, Engine, bindparam, insert, select, update
from sqlalchemy.exc import IntegrityError, SQLAlchemyError

from reconciler.clock import SYSTEM, Clock
from reconciler.core.models import Observation, PolicyResult
from reconciler.errors import JournalError
from reconciler.journal import tables as t
from reconciler.journal.database import begin, grouped, shown
from reconciler.journal.fill_progress import fees_recorded, record_fill, record_order
from reconciler.journal.lot_book import FIFO, LotRule
from reconciler.journal.opening import check_writable, open_engine
from reconciler.journal.order_facts import OrderFacts
from reconciler.journal.statuses import (
    EVENT_RULES,
    INTENT_TRANSITIONS,
    TERMINAL,
    ApplyStatus,
    IntentEvent,
    IntentStatus,
    broker_event,
)
from reconciler.secrets.redact import scrub

# The statements every order runs, built once with bound parameters: building and coercing a statement per
# call cost more than executing it (measured on SQLite: 0.10 ms against 0.02 ms for an insert).
_INSERT_INTENT = insert(t.intents)
_INSERT_EVENT = insert(t.events)
# One update per intent event, allowed only from the statuses the transition table gives it: a transition the
# table lacks changes no row, and the journal refuses it (Journal._moved).
_TRANSITION: dict[IntentEvent, Any] = {
    event: update(t.intents).where(
        t.intents.c.client_order_id == bindparam("b_cid"),
        t.intents.c.status.in_(sorted(s for s in sources if s is not None)),
    )
    for event, (sources, _) in EVENT_RULES.items()
    if sources != {None}
}
# The terminal reads each order's intent as it is shown (render.outcomes): once an order.
_INTENT = select(t.intents).where(t.intents.c.client_order_id == bindparam("b_cid"))
_NEW_INTENT_STATUSES = {after for (before, _), after in INTENT_TRANSITIONS.items() if before is None}


class Journal:
    """Reads and writes the journal tables; one short transaction per transition so a crash loses nothing."""

    def __init__(self, engine: Engine, clock: Clock = SYSTEM, *, writable: bool = True) -> None:
        self.engine = engine
        self.clock = clock
        self.writable = writable  # False: opened for reading (the database refuses writes)

    def _now(self) -> datetime:
        return self.clock.now()

    @classmethod
    def open(
        cls, url: str, where: str = "journal.url", clock: Clock = SYSTEM, *, write: bool = True,
        must_exist: bool = False,
    ) -> Journal:
        """The journal, created or migrated to this version's schema first; with write=False, for reading
        only: nothing is created or migrated (a journal not at the current schema is refused) and nothing can
        be written, so a read-only credential (a SELECT-only role, a read-only file) is enough. With
        must_exist (in CI) a journal that does not exist is an error, never an empty stand-in or a new
        file; outside CI a read-only command on a journal that does not exist yet reads an empty one
        (journal.opening)."""
        engine, writable = open_engine(url, where, write=write, must_exist=must_exist)
        return cls(engine, clock, writable=writable)

    @contextmanager
    def tx(self, *, sync: bool = True, single: bool = False) -> Iterator[Connection]:
        """One transaction (single=True: it reads only or writes one statement, database.begin); a database
        error becomes a JournalError naming the journal."""
        with self._failing_as_journal_error(), begin(self.engine, sync=sync, single=single) as conn:
            yield conn

    @contextmanager
    def grouped(self) -> Iterator[None]:
        """The block's transactions (the journal's and the paper broker's books, on this thread) commit once,
        at its end: database.grouped."""
        with self._failing_as_journal_error(), grouped(self.engine):
            yield

    @contextmanager
    def _failing_as_journal_error(self) -> Iterator[None]:
        try:
            yield
        except IntegrityError:
            raise
        except SQLAlchemyError as exc:
            # The driver's own message (exc.orig), not SQLAlchemy's, which appends the SQL and its parameters.
            raise JournalError(
                f"journal {shown(self.engine)} failed:"
                f" {getattr(exc, 'orig', None) or exc}",
                fix="check that the database is reachable, writable and not damaged, then retry (`reconciler"
                " reconcile` settles what an interrupted apply left)",
            ) from None

    def check_writable(self) -> None:
        """Fail before the first broker call if the journal cannot record (journal.opening)."""
        check_writable(self.engine)

    # ---- applies ----
    def start_apply(self, plan_hash: str, targets_hash: str, git_commit: str | None, actor: str) -> str:
        """Record an apply's start and return its id, before any order is sent."""
        apply_id = str(uuid.uuid4())
        with self.tx() as c:
            c.execute(
                insert(t.applies).values(
                    id=apply_id, plan_hash=plan_hash, targets_hash=targets_hash, git_commit=git_commit,
                    actor=actor, status="running", started_at=self._now(),
                )
            )
        return apply_id

    def finish_apply(self, apply_id: str, status: ApplyStatus, message: str | None = None) -> None:
        """Record how an apply ended."""
        with self.tx() as c:
            c.execute(
                update(t.applies)
                .where(t.applies.c.id == apply_id)
                .values(
                    status=status,
                    message=None if message is None else scrub(message),
                    finished_at=self._now(),
                )
            )

    # ---- intents and orders ----
    def intents_for_plan(
        self, plan_hash: str, accounts: Collection[str] | None = None
    ) -> dict[str, dict[str, Any]]:
        """The plan's intents by client order id; with `accounts`, only theirs (one worker's share)."""
        query = select(t.intents).where(t.intents.c.plan_hash == plan_hash)
        if accounts is not None:
            query = query.where(t.intents.c.account.in_(sorted(accounts)))
        with self.tx(single=True) as c:
            rows = c.execute(query).mappings().all()
        return {r["client_order_id"]: dict(r) for r in rows}

    def intent(self, client_order_id: str) -> dict[str, Any] | None:
        """The intent with this client id, or None."""
        with self.tx(single=True) as c:
            row = c.execute(_INTENT, {"b_cid": client_order_id}).mappings().first()
        return dict(row) if row else None

    def unknown_intents_by_account(self) -> dict[str, list[str]]:
        """By account, the client ids of orders that were sent but that the broker did not know when last
        asked: what plan checks before observing each account, read at once for all of them."""
        out: dict[str, list[str]] = {}
        with self.tx(single=True) as c:
            rows = c.execute(
                select(t.intents.c.account, t.intents.c.client_order_id)
                .where(t.intents.c.status == "unknown")
                .order_by(t.intents.c.id)
            ).all()
        for account, cid in rows:
            out.setdefault(str(account), []).append(str(cid))
        return out

    def symbols_traded(self, account: str) -> set[str]:
        """Every symbol this journal ever meant to trade for the account."""
        with self.tx(single=True) as c:
            rows = c.execute(
                select(t.intents.c.symbol).where(t.intents.c.account == account).distinct()
            ).scalars()
            return {str(s) for s in rows}

    def last_observation(self, account: str) -> dict[str, Any] | None:
        """The account's latest recorded observation, to compare a new one with."""
        with self.tx(single=True) as c:
            row = c.execute(
                select(t.observations)
                .where(t.observations.c.account == account)
                .order_by(t.observations.c.id.desc())
                .limit(1)
            ).mappings().first()
        return dict(row) if row else None

    def fills_since(self, account: str, since: datetime, *, inclusive: bool = False) -> list[dict[str, Any]]:
        """The account's fills after a time, to corroborate what the broker says."""
        after = t.fills.c.filled_at >= since if inclusive else t.fills.c.filled_at > since
        with self.tx(single=True) as c:
            rows = (
                c.execute(
                    select(
                        t.fills,
                        t.intents.c.symbol,
                        t.intents.c.side,
                        t.intents.c.created_at.label("intent_created_at"),
                    )
                    .join(t.intents, t.intents.c.client_order_id == t.fills.c.client_order_id)
                    .where(t.intents.c.account == account, after)
                )
                .mappings()
                .all()
            )
        return [dict(r) for r in rows]

    def open_intents(self, account: str) -> list[dict[str, Any]]:
        """The account's intents not yet final, which reconcile must resolve before a new apply."""
        with self.tx(single=True) as c:
            rows = c.execute(
                select(t.intents).where(t.intents.c.account == account, t.intents.c.status.not_in(TERMINAL))
            ).mappings().all()
        return [dict(r) for r in rows]

    def add_intent(
        self, *, apply_id: str, plan_hash: str, portfolio: str, account: str, leg: int, client_order_id: str,
        symbol: str, side: str, quantity: Decimal, est_price: Decimal, status: IntentStatus,
        message: str | None = None,
    ) -> None:
        """Record an intent before its order is sent, so a crash leaves a trace to reconcile."""
        if status not in _NEW_INTENT_STATUSES:
            raise JournalError(
                f"a new intent cannot be {status}", where="journal", fix="this is a bug: report it",
            )
        now = self._now()
        with self.tx(single=True) as c:
            c.execute(
                _INSERT_INTENT,
                {
                    "apply_id": apply_id, "plan_hash": plan_hash, "portfolio": portfolio, "account": account,
                    "leg": leg, "client_order_id": client_order_id, "symbol": symbol, "side": side,
                    "quantity": quantity, "est_price": est_price, "status": status,
                    "message": None if message is None else scrub(message), "created_at": now,
                    "updated_at": now,
                },
            )

    def transition(
        self, client_order_id: str, event: IntentEvent, *, message: str | None = None,
        apply_id: str | None = None
    ) -> IntentStatus:
        """Move an intent by `event` through the transition table; a move the table lacks is a
        JournalError."""
        target = EVENT_RULES[event][1]
        values: dict[str, Any] = {"status": target, "updated_at": self._now()}
        if message is not None:
            values["message"] = scrub(message)
        if apply_id is not None:
            values["apply_id"] = apply_id
        with self.tx(single=True) as c:
            self._moved(
                c, client_order_id, event, c.execute(_TRANSITION[event], {"b_cid": client_order_id, **values})
            )
        return target

    def _moved(self, c: Connection, client_order_id: str, event: IntentEvent, result: Any) -> None:
        """Refuse a transition that changed no row although the intent exists: the table has no such move."""
        if result.rowcount:
            return
        row = c.execute(
            select(t.intents.c.status).where(t.intents.c.client_order_id == client_order_id)
        ).first()
        if row is not None:
            raise JournalError(
                f"intent {client_order_id} cannot go from {row[0]} on {event} (not in the intent transition"
                " table)",
                where="journal", fix="this is a bug: report it with the journal's events for this order",
            )

    def record_state(
        self, account: str, state: OrderFacts, apply_id: str | None,
        on_fill: Callable[[], None] = lambda: None, lots: LotRule | None = FIFO,
    ) -> Decimal:
        """What the broker says about an order, in one transaction: the order row, any new fill (once) with
        the tax lots it opens or closes under `lots` (none when None: the account's rule is unknown), the
        intent's status and progress, and an `order.<status>` event. Returns the new fill's quantity.

        Its commit is not waited onto the disk (database.begin, sync=False): it is made durable by the next
        synced commit (the next order's intent, the apply's end), one sync an order instead of two. Lost to a
        power cut before then, the journal holds the intent as sent and no answer, which is the state of a
        crash right after the send (crash point after_submit): the broker is asked by client id and its answer
        adopted, never sent again. The intent itself, before the send, is always synced."""
        with self.tx(sync=False) as c:
            now = self._now()
            record_order(c, account, state, now)
            # The fill and the intent's progress are written in this one transaction: `on_fill` runs between
            # the two writes (a crash point in tests), and a crash there loses both, replayed from the totals.
            delta = record_fill(c, account, state, now, lots)
            if delta:
                on_fill()
            self._record_progress(c, state)
            self._event(
                c, "order." + state.status, apply_id=apply_id, account=account,
                client_order_id=state.client_order_id,
                filled=state.filled_quantity, price=state.avg_price, reason=state.reject_reason,
            )
        return delta

    def _record_progress(self, c: Connection, state: OrderFacts) -> None:
        """The intent's status and progress as the broker's running totals say."""
        values: dict[str, Any] = {
            "status": state.status,
            "filled_quantity": state.filled_quantity,
            "updated_at": self._now(),
        }
        if state.avg_price is not None:
            values["avg_price"] = state.avg_price
        if state.reject_reason is not None:
            values["message"] = scrub(state.reject_reason)
        event = broker_event(state.status)
        cid = state.client_order_id
        self._moved(c, cid, event, c.execute(_TRANSITION[event], {"b_cid": cid, **values}))

    def fees_recorded(self, client_order_id: str) -> tuple[Decimal, Decimal]:
        """(commission, fee in kind) of an order's fills journaled so far: brokers report running totals."""
        with self.tx(single=True) as c:
            return fees_recorded(c, client_order_id)

    # ---- observations, policies, events ----
    def record_observation(self, obs: Observation, purpose: str, apply_id: str | None = None) -> None:
        """Record one observation."""
        self.record_observations([obs], purpose, apply_id)

    def record_observations(
        self, observations: Sequence[Observation], purpose: str, apply_id: str | None = None
    ) -> None:
        """In one transaction: a plan of a thousand accounts commits (and syncs to disk) once, not a thousand
        times."""
        if not observations:
            return
        with self.tx() as c:
            c.execute(
                insert(t.observations),
                [
                    {
                        "account": o.account,
                        "apply_id": apply_id,
                        "purpose": purpose,
                        "data": o.model_dump_json(),
                        "taken_at": o.taken_at,
                    }
                    for o in observations
                ],
            )

    def record_policies(
        self, results: Sequence[PolicyResult], *, plan_hash: str, phase: str, apply_id: str | None,
        overrides: dict[str, str], actor: str,
    ) -> None:
        """Record the policies' verdicts and overrides, for the audit trail."""
        if not results:
            return
        now = self._now()
        rows = []
        for r in results:
            overridden = r.overridden(overrides)
            rows.append({
                "apply_id": apply_id, "plan_hash": plan_hash, "phase": phase, "portfolio": r.portfolio,
                "policy": r.policy, "kind": r.kind, "level": r.level, "message": r.message,
                "overridden": overridden,
                "override_by": actor if overridden else None,
                "override_reason": overrides.get(r.policy) if overridden else None, "created_at": now,
            })
        with self.tx() as c:
            c.execute(insert(t.policy_decisions), rows)

    def event(
        self, kind: str, *, apply_id: str | None = None, account: str | None = None,
        client_order_id: str | None = None, **data: Any,
    ) -> None:
        """Record an event with its fields, for `show` and for audits."""
        with self.tx(single=True) as c:
            self._event(c, kind, apply_id=apply_id, account=account, client_order_id=client_order_id, **data)

    def event_in(
        self, c: Connection, kind: str, *, apply_id: str | None = None, account: str | None = None,
        client_order_id: str | None = None, **data: Any,
    ) -> None:
        """An event written in the caller's transaction (a lock row's and its `lock.acquired`, together)."""
        self._event(c, kind, apply_id=apply_id, account=account, client_order_id=client_order_id, **data)

    def _event(
        self, c: Connection, kind: str, *, apply_id: str | None = None, account: str | None = None,
        client_order_id: str | None = None, **data: Any,
    ) -> None:
        c.execute(
            _INSERT_EVENT,
            {
                "apply_id": apply_id, "kind": kind, "account": account, "client_order_id": client_order_id,
                "data": scrub(json.dumps(data, default=str, sort_keys=True)), "created_at": self._now(),
            },
        )

