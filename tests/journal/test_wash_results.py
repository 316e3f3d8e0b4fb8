"""Each past sale's result, for the wash-sale guard, from the lot ledger's `lots.closed` records
(journal.wash): a sale counts as a loss sale only when it closed some lot at a loss (IRS Publication 550: a
sale of shares at a loss is a wash sale if substantially identical shares are bought within 30 days before or
after); a sale the ledger has no full record of still counts as one (the guard fails closed). Real fills
through record_state, on the test journal's backend, across two accounts of a household."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal as D

import pytest
import time_machine

from reconciler.brokers.base import OrderState
from reconciler.core.ledger import HeldLot
from reconciler.core.wash_sale import TradeEvent
from reconciler.execution.reconcile import record_state
from reconciler.journal.lot_book import FIFO, LotRule
from reconciler.journal.lots import replace_lots
from reconciler.journal.store import Journal
from reconciler.journal.wash import household_trades
from reconciler.runtime import Runtime
from tests.conftest import Workspace

DAY = datetime(2025, 6, 3, 15, 0, tzinfo=UTC)
TAXABLE, IRA = "paper-taxable", "paper-ira"
HOME = [IRA, TAXABLE]
CHEAP, DEAR = date(2020, 1, 2), date(2024, 3, 4)
HIFO = LotRule("hifo")


@pytest.fixture(autouse=True)
def _pinned_clock() -> Iterator[None]:
    with time_machine.travel(DAY, tick=False):
        yield


@pytest.fixture
def journal(workspace: Workspace) -> Journal:
    """Both accounts hold 10 VTI at $100 (2020) and 10 at $300 (2024)."""
    j = Runtime(workspace.config, workspace.journal_url).journal
    for account in HOME:
        lots = [HeldLot("VTI", CHEAP, D(10), D(1000)), HeldLot("VTI", DEAR, D(10), D(3000))]
        replace_lots(j, account, lots)
    return j


def _fill(j: Journal, cid: str, side: str, quantity: str, price: str, *, account: str = TAXABLE,
          filled: str | None = None, lots: LotRule | None = FIFO) -> None:
    """The order's intent, then the broker's answer that `filled` of it (all by default) filled."""
    if j.intent(cid) is None:
        apply_id = j.start_apply("p" * 64, "t" * 64, None, "test")
        j.add_intent(apply_id=apply_id, plan_hash="p" * 64, portfolio="test", account=account, leg=1,
                     client_order_id=cid, symbol="VTI", side=side, quantity=D(quantity), est_price=D(price),
                     status="submitting")
    done = D(filled or quantity)
    record_state(j, account, OrderState(
        client_order_id=cid, broker_order_id="b-" + cid, symbol="VTI", side=side, quantity=D(quantity),
        filled_quantity=done, avg_price=D(price), commission=D(0),
        status="filled" if done == D(quantity) else "partially_filled",
    ), None, lots=lots)


def _trades(j: Journal) -> list[TradeEvent]:
    return household_trades(j, HOME, DAY.date() - timedelta(days=30))


def _gains(j: Journal) -> list[D | None]:
    return [e.gain for e in _trades(j) if e.side == "sell"]


def test_a_sale_that_closed_a_lot_at_a_loss_carries_the_loss(journal: Journal) -> None:
    _fill(journal, "rc-1", "sell", "5", "200", lots=HIFO)  # 5 of the $300 lot at $200
    assert _gains(journal) == [D(-500)]


def test_a_sale_that_closed_lots_only_at_a_gain_carries_the_gain(journal: Journal) -> None:
    _fill(journal, "rc-1", "sell", "5", "200")  # FIFO: 5 of the $100 lot at $200
    assert _gains(journal) == [D(500)]


def test_a_sale_closing_a_loss_beside_gains_carries_only_the_loss(journal: Journal) -> None:
    """Publication 550's three blocks sold together: the loss block's loss is not netted with the gain."""
    _fill(journal, "rc-1", "sell", "20", "250")  # +1,500 on the 2020 lot, -500 on the 2024 lot
    assert _gains(journal) == [D(-500)]


def test_each_fill_carries_what_it_closed(journal: Journal) -> None:
    """Two fills of one order under HIFO: the first closes the dear lot at a loss, the second the cheap
    one."""
    _fill(journal, "rc-1", "sell", "20", "200", filled="10", lots=HIFO)
    with time_machine.travel(DAY + timedelta(minutes=1), tick=False):
        _fill(journal, "rc-1", "sell", "20", "200", lots=HIFO)
    assert _gains(journal) == [D(-1000), D(1000)]


def test_a_sale_that_booked_no_lots_has_no_known_result(journal: Journal) -> None:
    _fill(journal, "rc-1", "sell", "5", "200", lots=None)  # lots.not_booked: its portfolio did not load
    assert _gains(journal) == [None]


def test_a_sale_the_ledger_was_short_of_has_no_known_result(journal: Journal) -> None:
    _fill(journal, "rc-1", "sell", "25", "400")  # 20 units in lots, all at a gain; 5 no lot held
    assert _gains(journal) == [None]


def test_a_sale_with_no_record_has_no_known_result(journal: Journal) -> None:
    """As a fill journaled before the ledger existed: no `lots.closed` event."""
    _fill(journal, "rc-1", "sell", "5", "200")
    with journal.engine.begin() as c:
        c.exec_driver_sql("DELETE FROM events WHERE kind = 'lots.closed'")
    assert _gains(journal) == [None]


def test_each_account_of_the_household_carries_its_own_results(journal: Journal) -> None:
    _fill(journal, "rc-ira", "sell", "5", "200", account=IRA, lots=HIFO)
    with time_machine.travel(DAY + timedelta(minutes=1), tick=False):
        _fill(journal, "rc-tax", "sell", "5", "200", account=TAXABLE)
    assert [(e.account, e.gain) for e in _trades(journal)] == [(IRA, D(-500)), (TAXABLE, D(500))]


def test_a_buy_carries_no_result(journal: Journal) -> None:
    _fill(journal, "rc-1", "buy", "5", "200")
    assert [(e.side, e.gain) for e in _trades(journal)] == [("buy", None)]


def test_an_unreadable_record_is_no_known_result(journal: Journal) -> None:
    _fill(journal, "rc-1", "sell", "5", "200")
    with journal.engine.begin() as c:
        c.exec_driver_sql("UPDATE events SET data = '{\"lots\": []}' WHERE kind = 'lots.closed'")
    assert _gains(journal) == [None]
