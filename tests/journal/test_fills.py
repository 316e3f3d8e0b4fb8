"""Fills are journaled once each, with their own quantity, price and commission, from the broker's running
totals."""

from __future__ import annotations

from decimal import Decimal

import pytest

from reconciler.brokers.base import OrderState
from reconciler.execution.reconcile import record_state
from reconciler.journal.reports import show
from reconciler.journal.store import Journal
from reconciler.runtime import Runtime
from tests.conftest import Workspace

D = Decimal


def _submitting(j: Journal, plan: str, client_order_id: str, quantity: Decimal) -> str:
    """An apply with one buy of VTI journaled as being submitted; returns the apply's id."""
    apply_id = j.start_apply(plan * 64, "t" * 64, None, "test")
    j.add_intent(apply_id=apply_id, plan_hash=plan * 64, portfolio="alice-ira", account="paper-ira", leg=1,
                 client_order_id=client_order_id, symbol="VTI", side="buy", quantity=quantity,
                 est_price=D(10),
                 status="submitting")
    return apply_id


def test_partial_fills_record_each_fills_own_commission(workspace: Workspace) -> None:
    rt = Runtime(workspace.config, workspace.journal_url)
    j = rt.journal
    apply_id = _submitting(j, "p", "rc-test", D(100))

    def state(filled: str, avg: str, commission: str) -> OrderState:
        return OrderState(client_order_id="rc-test", broker_order_id="b1", symbol="VTI", side="buy",
                          quantity=D(100), filled_quantity=D(filled), avg_price=D(avg),
                          commission=D(commission),
                          status="partially_filled" if filled != "100" else "filled")

    record_state(j, "paper-ira", state("40", "10", "1.00"), apply_id)   # 40 @ 10, commission 1.00
    record_state(j, "paper-ira", state("40", "10", "1.00"), apply_id)   # seen again: nothing new
    record_state(j, "paper-ira", state("100", "10.6", "2.50"), apply_id)  # 60 more @ 11, commission 1.50
    fills = show(j, apply_id)["fills"]
    assert [(f["quantity"], f["price"], f["commission"]) for f in fills] == [
        (D(40), D(10), D("1.00")), (D(60), D(11), D("1.50")),
    ]
    assert j.fees_recorded("rc-test") == (D("2.50"), D(0))


class _PowerCut(Exception):
    """Raised inside the journal's transaction, as a kill -9 would stop it there."""


def test_a_fill_and_the_intents_progress_are_one_write(workspace: Workspace) -> None:
    """Before, the fill was committed and the intent's progress was a second write: a crash between them made
    the next pass count the fill again against the stale progress (journal 57 vs broker 38)."""
    rt = Runtime(workspace.config, workspace.journal_url)
    j = rt.journal
    apply_id = _submitting(j, "q", "rc-cut", D(57))

    def cut() -> None:
        raise _PowerCut

    def progress(filled: int) -> OrderState:
        return OrderState(
            client_order_id="rc-cut",
            broker_order_id="b9",
            symbol="VTI",
            side="buy",
            quantity=D(57),
            filled_quantity=D(filled),
            avg_price=D(10),
            commission=D(0),
            status="partially_filled",
        )

    with pytest.raises(_PowerCut):
        j.record_state("paper-ira", progress(19), apply_id, on_fill=cut)
    assert show(j, apply_id)["fills"] == []  # neither the fill nor the progress survived the cut
    assert not j.intent("rc-cut")["filled_quantity"]  # type: ignore[index]
    # The broker moved on meanwhile; the replay records what it says, once.
    j.record_state("paper-ira", progress(38), apply_id)
    j.record_state("paper-ira", progress(38), apply_id)
    fills = show(j, apply_id)["fills"]
    assert sum(f["quantity"] for f in fills) == D(38)
    assert j.intent("rc-cut")["filled_quantity"] == D(38)  # type: ignore[index]


def test_a_fill_is_measured_against_the_fills_journaled_not_the_intents_progress(
    workspace: Workspace,
) -> None:
    """A journal written by an earlier version can hold a fill whose intent never learned of it."""
    rt = Runtime(workspace.config, workspace.journal_url)
    j = rt.journal
    apply_id = _submitting(j, "r", "rc-old", D(57))
    workspace.execute(
        "insert into fills (client_order_id, fill_key, quantity, price, commission, fee_in_kind, filled_at)"
        " values ('rc-old', 'b7:19', 19, 10, 0, 0, '2026-01-02 15:00:00')"
    )
    record_state(j, "paper-ira", OrderState(
        client_order_id="rc-old", broker_order_id="b7", symbol="VTI", side="buy", quantity=D(57),
        filled_quantity=D(38), avg_price=D(10), commission=D(0), status="partially_filled",
    ), apply_id)
    fills = show(j, apply_id)["fills"]
    assert sorted(f["quantity"] for f in fills) == [D(19), D(19)]
