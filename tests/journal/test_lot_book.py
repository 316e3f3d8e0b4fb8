"""Fills open and close tax lots in the fill's own transaction (journal.lot_book): a buy opens a lot at its
cost with the commission, a sell closes lots by the portfolio's `tax.lots`, and a fill recorded again (a
crash's replay, the reconcile loop) books nothing twice. On the test journal's backend (SQLite or
PostgreSQL)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, date, datetime
from decimal import Decimal as D
from typing import Any

import pytest
import time_machine

from reconciler.brokers.base import OrderState
from reconciler.core.ledger import HeldLot
from reconciler.execution.reconcile import lot_rule_of, record_state
from reconciler.journal.lots import account_lots, replace_lots
from reconciler.runtime import Runtime
from tests.conftest import Workspace, edit_yaml

DAY = datetime(2025, 6, 3, 15, 0, tzinfo=UTC)
ACCOUNT = "paper-taxable"  # bob-taxable's
OLD, DEAR, NEW = date(2020, 1, 2), date(2021, 3, 4), date(2025, 1, 2)


@pytest.fixture(autouse=True)
def _pinned_clock() -> Iterator[None]:
    with time_machine.travel(DAY, tick=False):
        yield


def _method(ws: Workspace, method: str | None) -> None:
    def change(doc: Any) -> None:
        if method is not None:
            doc["spec"]["tax"] = {"lots": method, "rates": {"short_term": 0.35, "long_term": 0.15}}

    edit_yaml(ws.root / "portfolios" / "bob-taxable.yaml", change)


def _rt(ws: Workspace, method: str | None = "hifo") -> Runtime:
    _method(ws, method)
    rt = Runtime(ws.config, ws.journal_url)
    replace_lots(rt.journal, ACCOUNT, [
        HeldLot("VTI", OLD, D(100), D(10000)),  # 100 a share
        HeldLot("VTI", DEAR, D(50), D(15000)),  # 300 a share
        HeldLot("VTI", NEW, D(60), D(15000)),  # 250 a share
    ])
    return rt


def _fill(rt: Runtime, cid: str, side: str, quantity: str, price: str, commission: str = "0",
          filled: str | None = None) -> None:
    """An intent for the order, then the broker's answer that `filled` (all of it by default) filled."""
    j = rt.journal
    if j.intent(cid) is None:
        apply_id = j.start_apply("p" * 64, "t" * 64, None, "test")
        j.add_intent(apply_id=apply_id, plan_hash="p" * 64, portfolio="bob-taxable", account=ACCOUNT, leg=1,
                     client_order_id=cid, symbol="VTI", side=side, quantity=D(quantity), est_price=D(price),
                     status="submitting")
    done = D(filled or quantity)
    record_state(rt.journal, ACCOUNT, OrderState(
        client_order_id=cid, broker_order_id="b-" + cid, symbol="VTI", side=side, quantity=D(quantity),
        filled_quantity=done, avg_price=D(price), commission=D(commission),
        status="filled" if done == D(quantity) else "partially_filled",
    ), None, lots=lot_rule_of(rt, ACCOUNT))


def _vti(rt: Runtime) -> list[tuple[date, D, D]]:
    return [(lot.acquired, lot.quantity, lot.cost_basis) for lot in account_lots(rt.journal, ACCOUNT)
            if lot.symbol == "VTI"]


def test_a_buy_opens_a_lot_on_the_fills_day_at_its_cost_with_the_commission(workspace: Workspace) -> None:
    rt = _rt(workspace)
    _fill(rt, "rc-buy", "buy", "10", "289.41", commission="1.25")
    assert (DAY.date(), D(10), D("2895.35")) in _vti(rt)


def test_a_buy_recorded_again_opens_no_second_lot(workspace: Workspace) -> None:
    rt = _rt(workspace)
    _fill(rt, "rc-buy", "buy", "10", "289.41")
    _fill(rt, "rc-buy", "buy", "10", "289.41")
    assert len([lot for lot in _vti(rt) if lot[0] == DAY.date()]) == 1


def test_a_sell_closes_the_dearest_lot_first_under_hifo(workspace: Workspace) -> None:
    rt = _rt(workspace, "hifo")
    _fill(rt, "rc-sell", "sell", "50", "280")
    assert _vti(rt) == [(OLD, D(100), D(10000)), (NEW, D(60), D(15000))]


def test_a_sell_closes_the_oldest_lot_first_without_a_tax_block(workspace: Workspace) -> None:
    rt = _rt(workspace, None)
    _fill(rt, "rc-sell", "sell", "30", "280")
    assert _vti(rt)[0] == (OLD, D(70), D(7000))


def test_a_sell_recorded_again_closes_nothing_more(workspace: Workspace) -> None:
    rt = _rt(workspace, "fifo")
    _fill(rt, "rc-sell", "sell", "30", "280")
    _fill(rt, "rc-sell", "sell", "30", "280")
    assert _vti(rt)[0] == (OLD, D(70), D(7000))


def test_partial_fills_close_lots_for_each_new_part_only(workspace: Workspace) -> None:
    rt = _rt(workspace, "fifo")
    _fill(rt, "rc-part", "sell", "120", "280", filled="40")
    _fill(rt, "rc-part", "sell", "120", "280", filled="40")  # the same answer again
    _fill(rt, "rc-part", "sell", "120", "280", filled="120")
    assert _vti(rt) == [(DEAR, D(30), D(9000)), (NEW, D(60), D(15000))]


def test_min_tax_closes_the_loss_before_any_gain(workspace: Workspace) -> None:
    rt = _rt(workspace, "min_tax")
    _fill(rt, "rc-sell", "sell", "50", "280")  # DEAR (300) is a loss at 280, NEW (250) a short-term gain
    assert [lot[0] for lot in _vti(rt)] == [OLD, NEW]


def test_lots_always_sum_to_what_the_fills_leave(workspace: Workspace) -> None:
    rt = _rt(workspace, "lifo")
    _fill(rt, "rc-1", "buy", "7", "290")
    _fill(rt, "rc-2", "sell", "33", "281")
    _fill(rt, "rc-3", "sell", "12.5", "279")
    assert sum(lot[1] for lot in _vti(rt)) == 210 + 7 - 33 - D("12.5")


def test_a_partly_sold_lot_keeps_the_cost_of_what_is_left(workspace: Workspace) -> None:
    rt = _rt(workspace, "fifo")
    _fill(rt, "rc-sell", "sell", "1", "280")
    _fill(rt, "rc-sell2", "sell", "2", "280")
    assert _vti(rt)[0] == (OLD, D(97), D(9700))


def test_the_sale_journals_the_lots_it_closed_and_their_term(workspace: Workspace) -> None:
    rt = _rt(workspace, "fifo")
    _fill(rt, "rc-sell", "sell", "110", "280", commission="11")
    rows = workspace.query("SELECT data FROM events WHERE kind = 'lots.closed'")
    closed = json.loads(rows[0][0])["lots"]
    assert [(c["acquired"], c["quantity"], c["long_term"]) for c in closed] == [
        (OLD.isoformat(), "100", True), (DEAR.isoformat(), "10", True)]


def test_the_proceeds_of_a_sale_are_after_its_commission(workspace: Workspace) -> None:
    rt = _rt(workspace, "fifo")
    _fill(rt, "rc-sell", "sell", "100", "280", commission="11")
    closed = json.loads(workspace.query("SELECT data FROM events WHERE kind = 'lots.closed'")[0][0])["lots"]
    assert D(closed[0]["proceeds"]) == 28000 - 11


class _PowerCut(Exception):
    """Raised inside the journal's transaction, as a kill -9 would stop it there."""


def _cut_then(workspace: Workspace, replay: bool) -> list[tuple[date, D, D]]:
    """A sell's fill cut by a crash inside its transaction, then (with `replay`) recorded again."""
    rt = _rt(workspace, "fifo")
    j = rt.journal
    apply_id = j.start_apply("c" * 64, "t" * 64, None, "test")
    j.add_intent(apply_id=apply_id, plan_hash="c" * 64, portfolio="bob-taxable", account=ACCOUNT, leg=1,
                 client_order_id="rc-cut", symbol="VTI", side="sell", quantity=D(30), est_price=D(280),
                 status="submitting")

    def cut() -> None:
        raise _PowerCut

    state = OrderState(client_order_id="rc-cut", broker_order_id="b-cut", symbol="VTI", side="sell",
                       quantity=D(30), filled_quantity=D(30), avg_price=D(280), commission=D(0),
                       status="filled")
    with pytest.raises(_PowerCut):
        j.record_state(ACCOUNT, state, apply_id, on_fill=cut)
    if replay:
        j.record_state(ACCOUNT, state, apply_id)
    return _vti(rt)


def test_a_crash_between_the_fill_and_its_progress_books_no_lot(workspace: Workspace) -> None:
    assert _cut_then(workspace, replay=False)[0] == (OLD, D(100), D(10000))


def test_the_replay_after_a_crash_closes_the_lots_once(workspace: Workspace) -> None:
    assert _cut_then(workspace, replay=True)[0] == (OLD, D(70), D(7000))


def test_a_portfolio_that_does_not_load_books_no_lot_on_a_guess(workspace: Workspace) -> None:
    _rt(workspace, "hifo")
    (workspace.root / "portfolios" / "bob-taxable.yaml").write_text("spec: [not, a, portfolio\n")
    assert lot_rule_of(Runtime(workspace.config, workspace.journal_url), ACCOUNT) is None


def test_a_fill_whose_lot_method_is_unknown_is_journaled_without_lots(workspace: Workspace) -> None:
    rt = _rt(workspace, "fifo")
    state = OrderState(client_order_id="rc-blind", broker_order_id="b-blind", symbol="VTI", side="sell",
                       quantity=D(30), filled_quantity=D(30), avg_price=D(280), commission=D(0),
                       status="filled")
    rt.journal.record_state(ACCOUNT, state, None, lots=None)
    said = workspace.query("SELECT kind, client_order_id FROM events WHERE kind LIKE 'lots.%'")
    assert (said, _vti(rt)[0]) == ([("lots.not_booked", "rc-blind")], (OLD, D(100), D(10000)))
