"""The intent state machine is its table: every row is a move the journal makes, every other (status, event)
pair is refused where it would be written, and every status can be reached. Runs on SQLite and PostgreSQL."""

from __future__ import annotations

from collections import deque
from collections.abc import Iterator
from decimal import Decimal

import pytest

from reconciler.errors import JournalError
from reconciler.journal.database import create_journal_engine, migrate
from reconciler.journal.statuses import (
    EVENT_RULES,
    INTENT_EVENTS,
    INTENT_STATUSES,
    INTENT_TRANSITIONS,
    IntentEvent,
    IntentStatus,
)
from reconciler.journal.store import Journal

# Events that move an intent already written (the others create one).
MOVES = [e for e in INTENT_EVENTS if EVENT_RULES[e][0] != {None}]


def _path_to(status: IntentStatus) -> tuple[IntentStatus, list[IntentEvent]]:
    """The shortest way through the table to `status`: (the status a new intent starts in, the events
    after)."""
    queue: deque[tuple[IntentStatus, IntentStatus, list[IntentEvent]]] = deque(
        (after, after, []) for (before, _), after in INTENT_TRANSITIONS.items() if before is None
    )
    seen: set[IntentStatus] = set()
    while queue:
        start, at, events = queue.popleft()
        if at == status:
            return start, events
        if at in seen:
            continue
        seen.add(at)
        queue.extend(
            (start, after, [*events, e]) for (before, e), after in INTENT_TRANSITIONS.items() if before == at
        )
    raise AssertionError(f"intent status {status} cannot be reached from a new intent")


@pytest.fixture
def journal(journal_url: str) -> Iterator[Journal]:
    engine = create_journal_engine(journal_url)
    migrate(engine)
    yield Journal(engine)
    engine.dispose()


class Intents:
    """New intents, each brought to a given status through the table."""

    def __init__(self, journal: Journal) -> None:
        self.journal = journal
        self.apply_id = journal.start_apply("p" * 64, "t" * 64, None, "test")
        self.n = 0

    def new(self, status: IntentStatus) -> str:
        self.n += 1
        cid = f"rc-test-{self.n}"
        self.journal.add_intent(
            apply_id=self.apply_id, plan_hash="p" * 64, portfolio="alice-ira", account="paper-ira",
            leg=self.n,
            client_order_id=cid, symbol="VTI", side="buy", quantity=Decimal(10), est_price=Decimal(100),
            status=status,
        )
        return cid

    def at(self, status: IntentStatus) -> str:
        start, events = _path_to(status)
        cid = self.new(start)
        for event in events:
            self.journal.transition(cid, event)
        return cid

    def status(self, cid: str) -> str:
        row = self.journal.intent(cid)
        assert row is not None
        return str(row["status"])


def test_every_status_is_reachable_from_a_new_intent() -> None:
    for status in INTENT_STATUSES:
        _path_to(status)


def test_no_event_leads_to_two_statuses() -> None:
    for event in INTENT_EVENTS:
        targets = {after for (_, e), after in INTENT_TRANSITIONS.items() if e == event}
        assert len(targets) == 1, (event, targets)


@pytest.mark.parametrize(("before", "event"), sorted(INTENT_TRANSITIONS, key=str), ids=str)
def test_every_row_of_the_table_is_a_move_the_journal_makes(
    journal: Journal, before: IntentStatus | None, event: IntentEvent
) -> None:
    intents = Intents(journal)
    after = INTENT_TRANSITIONS[(before, event)]
    if before is None:
        cid = intents.new(after)
    else:
        cid = intents.at(before)
        assert journal.transition(cid, event) == after
    assert intents.status(cid) == after


def test_every_move_the_table_lacks_is_refused_and_changes_nothing(journal: Journal) -> None:
    intents = Intents(journal)
    refused = 0
    for status in INTENT_STATUSES:
        for event in MOVES:
            if (status, event) in INTENT_TRANSITIONS:
                continue
            cid = intents.at(status)
            with pytest.raises(JournalError, match=f"cannot go from {status} on {event}"):
                journal.transition(cid, event)
            assert intents.status(cid) == status
            refused += 1
    assert refused == len(INTENT_STATUSES) * len(MOVES) - sum(
        1 for (b, _) in INTENT_TRANSITIONS if b is not None
    )


@pytest.mark.parametrize(
    "status", sorted(set(INTENT_STATUSES) - {a for (b, _), a in INTENT_TRANSITIONS.items() if b is None})
)
def test_a_new_intent_only_starts_where_the_table_says(journal: Journal, status: IntentStatus) -> None:
    with pytest.raises(JournalError, match=f"a new intent cannot be {status}"):
        Intents(journal).new(status)


def test_a_send_without_an_answer_is_never_failed_before_the_grace() -> None:
    """The rule of issue 20 in the table itself: from `submitting`, only a definitive refusal or the grace's
    end leads to `failed`; an unanswered send leads to `unknown`, and only the broker or the grace move it
    on."""
    into_failed = {(b, e) for (b, e), a in INTENT_TRANSITIONS.items() if a == "failed"}
    assert into_failed == {
        ("submitting", "refused"),
        ("submitting", "grace_passed"),
        ("unknown", "grace_passed"),
        ("unknown", "given_up"),
    }
    assert INTENT_TRANSITIONS[("submitting", "no_answer")] == "unknown"
    out_of_unknown = {e for (b, e) in INTENT_TRANSITIONS if b == "unknown"}
    assert out_of_unknown == {"not_seen", "grace_passed", "given_up"} | {
        e for e in INTENT_EVENTS if e.startswith("broker_")
    }
