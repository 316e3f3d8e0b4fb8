"""Inside a grouped block (a paper portfolio's one transaction, journal.database.grouped) every step is still
whole or undone on its own: a step of several statements rolls back alone through its savepoint, a step of one
statement that fails leaves the rest of the group standing, and the group commits what succeeded. On SQLite
and on PostgreSQL (RECONCILER_TEST_PG_URL)."""

from __future__ import annotations

from decimal import Decimal

import pytest
from sqlalchemy import Connection, func, insert, select
from sqlalchemy.exc import IntegrityError

from reconciler.journal import tables as t
from reconciler.journal.database import begin
from reconciler.journal.store import Journal


class Planted(Exception):
    """The error a test raises half-way through a step."""


def _intent(journal: Journal, apply_id: str, cid: str) -> None:
    journal.add_intent(
        apply_id=apply_id, plan_hash="p" * 64, portfolio="p", account="a", leg=0, client_order_id=cid,
        symbol="VTI", side="buy", quantity=Decimal(1), est_price=Decimal(100), status="submitting",
    )


def _events(journal: Journal, kind: str) -> int:
    with journal.engine.connect() as c:
        return int(c.execute(select(func.count()).where(t.events.c.kind == kind)).scalar_one())


@pytest.fixture
def journal(journal_url: str) -> Journal:
    opened = Journal.open(journal_url)
    opened.check_writable()
    return opened


def test_a_failed_step_of_several_statements_is_undone_alone(journal: Journal) -> None:
    apply_id = journal.start_apply("p" * 64, "t" * 64, None, "test")
    with journal.grouped():
        journal.event("before", apply_id=apply_id)
        with pytest.raises(Planted), begin(journal.engine) as c:
            _add_event(c, "half", journal)
            raise Planted
        journal.event("after", apply_id=apply_id)
    assert (_events(journal, "before"), _events(journal, "half"), _events(journal, "after")) == (1, 0, 1)


def test_a_failed_step_of_one_statement_leaves_the_group_standing(journal: Journal) -> None:
    apply_id = journal.start_apply("p" * 64, "t" * 64, None, "test")
    with journal.grouped():
        _intent(journal, apply_id, "rc-one")
        with pytest.raises(IntegrityError):
            _intent(journal, apply_id, "rc-one")  # the same client id: the insert fails, the group goes on
        journal.event("after", apply_id=apply_id)
    assert journal.intent("rc-one") is not None


def test_the_group_commits_what_followed_a_failed_step(journal: Journal) -> None:
    apply_id = journal.start_apply("p" * 64, "t" * 64, None, "test")
    with journal.grouped():
        _intent(journal, apply_id, "rc-one")
        with pytest.raises(IntegrityError):
            _intent(journal, apply_id, "rc-one")
        journal.event("after", apply_id=apply_id)
    assert _events(journal, "after") == 1


def _add_event(c: Connection, kind: str, journal: Journal) -> None:
    c.execute(insert(t.events), {"kind": kind, "data": "{}", "created_at": journal.clock.now()})


def test_nested_steps_roll_back_to_their_own_savepoint(journal: Journal) -> None:
    apply_id = journal.start_apply("p" * 64, "t" * 64, None, "test")
    with journal.grouped(), begin(journal.engine) as outer:
        _add_event(outer, "outer", journal)
        with pytest.raises(Planted), begin(journal.engine) as inner:
            _add_event(inner, "inner", journal)
            raise Planted
        journal.event("after", apply_id=apply_id)
    assert (_events(journal, "outer"), _events(journal, "inner"), _events(journal, "after")) == (1, 0, 1)
