"""Fills are journaled once each, with their own quantity, price and commission, from the broker's running totals."""

from __future__ import annotations

from decimal import Decimal

from reconciler.brokers.base import OrderState
from reconciler.execution.reconcile import record_state
from reconciler.runtime import Runtime
from tests.conftest import Workspace

D = Decimal


def test_partial_fills_record_each_fills_own_commission(workspace: Workspace) -> None:
    rt = Runtime(workspace.config, workspace.journal_url)
    j = rt.journal
    apply_id = j.start_apply("p" * 64, "t" * 64, None, "test")
    j.add_intent(apply_id=apply_id, plan_hash="p" * 64, portfolio="alice-ira", account="paper-ira", leg=1,
                 client_order_id="rc-test", symbol="VTI", side="buy", quantity=D(100), est_price=D(10),
                 status="submitting")

    def state(filled: str, avg: str, commission: str) -> OrderState:
        return OrderState(client_order_id="rc-test", broker_order_id="b1", symbol="VTI", side="buy",
                          quantity=D(100), filled_quantity=D(filled), avg_price=D(avg), commission=D(commission),
                          status="partially_filled" if filled != "100" else "filled")

    record_state(rt, "paper-ira", state("40", "10", "1.00"), apply_id)   # 40 @ 10, commission 1.00
    record_state(rt, "paper-ira", state("40", "10", "1.00"), apply_id)   # seen again: nothing new
    record_state(rt, "paper-ira", state("100", "10.6", "2.50"), apply_id)  # 60 more @ 11, commission 1.50
    fills = j.show(apply_id)["fills"]
    assert [(f["quantity"], f["price"], f["commission"]) for f in fills] == [
        (D(40), D(10), D("1.00")), (D(60), D(11), D("1.50")),
    ]
    assert j.fees_recorded("rc-test") == (D("2.50"), D(0))
