"""The adapter fed Alpaca's answers for each scenario, in the shapes of Alpaca's published examples
(tests/fixtures/alpaca, written by us), through a peer on 127.0.0.1 — a second judge beside the emulator."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from reconciler.brokers.base import OrderRequest
from tests.brokers.test_alpaca_hostile import _Peer

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "alpaca"
D = Decimal


def _load(name: str) -> Any:
    return json.loads((FIXTURES / name).read_text())


@pytest.fixture
def recorded(monkeypatch: pytest.MonkeyPatch) -> Iterator[_Peer]:
    monkeypatch.setenv("RC_HOSTILE_KEY", "hostile-peer-key-id")
    monkeypatch.setenv("RC_HOSTILE_SECRET", "hostile-peer-secret-value")
    p = _Peer()
    p.answers.update({
        "/v2/account": _load("account.json"), "/v2/positions": _load("positions.json"),
        "/v2/orders": _load("orders_open.json"), "/v2/account/activities": _load("activities.json"),
        "/v2/clock": _load("clock.json"), "/v2/calendar": _load("calendar.json"),
        "/v2/stocks/snapshots": _load("snapshots.json"),
    })
    yield p
    p.server.shutdown()


def test_a_margin_account_with_unsettled_proceeds_is_believed_and_budgeted(recorded: _Peer) -> None:
    """cash 8,203.25 = 3,190.75 settled (deposit, buy, dividend less its foreign withholding; the cancelled
    deposit left out) + 5,012.50 from today's sale. Buying power says 16,416.50 (2× margin): never the
    budget."""
    obs = recorded.broker().observe("acct", ["VTI", "AAPL"])
    assert obs.cash_warning is None
    assert obs.cash_settled == D("3190.75")
    assert obs.cash_unsettled == D("5012.50")
    assert obs.cash_reserved == D(500)  # the outside notional order's dollars (its qty is null)
    assert obs.positions == {"VTI": D(10)}
    vti = obs.quotes["VTI"]
    assert vti.price == D("200.5")
    assert vti.bid == D("200.48")
    assert vti.ask == D("200.53")
    assert vti.as_of == datetime(2026, 1, 5, 15, 4, 59, 812000, tzinfo=UTC)  # the trade's own time
    assert vti.daily_volume is None  # iex, the default feed, is partial: the volume rule is off for it


def test_the_consolidated_feeds_volume_is_the_last_full_sessions(recorded: _Peer) -> None:
    obs = recorded.broker(feed="sip").observe("acct", ["VTI"])
    assert obs.quotes["VTI"].daily_volume == D(3450000)
    assert obs.open_orders == {"AAPL": "eb9e2aaa-f71a-4f51-b5b4-52a6c565dad4"}


@pytest.mark.parametrize(
    ("fixture", "filled"), [("order_pending_cancel.json", 4), ("order_calculated.json", 6)]
)
def test_pending_cancel_and_calculated_are_not_final(recorded: _Peer, fixture: str, filled: int) -> None:
    recorded.answers["/v2/orders:by_client_order_id"] = _load(fixture)
    state = recorded.broker().get_order("acct", "rc-1")
    assert state is not None
    assert state.status == "partially_filled"
    assert state.filled_quantity == filled


def test_an_unknown_activity_in_the_window_does_not_block_and_its_money_in_is_held_back(
    recorded: _Peer,
) -> None:
    activities = _load("activities.json")
    activities.append({"id": "20260105160000000::ffff", "activity_type": "NEWKIND", "date": "2026-01-05",
                       "net_amount": "12.00", "description": "?", "status": "executed"})
    recorded.answers["/v2/account/activities"] = activities
    obs = recorded.broker().observe("acct", ["VTI"])
    assert obs.cash_warning is None
    assert obs.cash_settled == D("3190.75") - D(12)


def test_an_unknown_activity_is_named_when_the_cash_it_could_explain_disagrees(recorded: _Peer) -> None:
    broker = recorded.broker()
    broker.observe("acct", ["VTI"])
    activities = _load("activities.json")
    activities.append({"id": "20260105160000000::ffff", "activity_type": "NEWKIND", "date": "2026-01-05",
                       "description": "?", "status": "executed"})  # no net_amount: what it moved is unknown
    recorded.answers["/v2/account/activities"] = activities
    recorded.answers["/v2/account"] = {**_load("account.json"), "cash": "8191.25"}
    warning = broker.observe("acct", ["VTI"]).cash_warning
    assert warning is not None
    assert "NEWKIND amount unknown" in warning


def test_the_fees_of_todays_sale_explain_the_cash_and_their_posting_ends_them(recorded: _Peer) -> None:
    """The day's sale accrues REG, TAF and CAT: `cash` is below what the activities imply by them until the
    FEE activity posts them at the close (then the figures agree to the cent)."""
    broker = recorded.broker()
    account = _load("account.json")
    recorded.answers["/v2/account/activities"] = _load("activities.json")[1:]  # before the sale
    recorded.answers["/v2/account"] = {**account, "cash": "3190.75"}
    broker.observe("acct", ["VTI"])
    recorded.answers["/v2/account/activities"] = _load("activities.json")
    recorded.answers["/v2/account"] = {**account, "cash": "8203.09"}  # 0.14 REG, 0.01 TAF, 0.01 CAT pending
    assert broker.observe("acct", ["VTI"]).cash_warning is None
    recorded.answers["/v2/account/activities"] = [*_load("activities.json"), *_load("activities_fees.json")]
    recorded.answers["/v2/account"] = {**account, "cash": "8203.09"}  # the close: the day's fees posted
    posted = broker.observe("acct", ["VTI"])
    assert posted.cash_warning is None
    assert posted.cash_settled == D("3190.75") - D("0.16")


def test_a_shortfall_beyond_the_fees_of_todays_sale_is_a_disagreement(recorded: _Peer) -> None:
    broker = recorded.broker()
    recorded.answers["/v2/account/activities"] = _load("activities.json")[1:]
    recorded.answers["/v2/account"] = {**_load("account.json"), "cash": "3190.75"}
    broker.observe("acct", ["VTI"])
    recorded.answers["/v2/account/activities"] = _load("activities.json")
    recorded.answers["/v2/account"] = {**_load("account.json"), "cash": "8200.00"}
    warning = broker.observe("acct", ["VTI"]).cash_warning
    assert warning is not None
    assert "fees accrued" in warning


def test_an_invalid_order_under_the_generic_code_is_rejected_with_alpacas_reason(recorded: _Peer) -> None:
    recorded.answers["POST /v2/orders"] = (
        422, {"Content-Type": "application/json"},
        b'{"code": 40010001, "message": "order_time_in_force provided not supported for fractional orders"}',
    )
    state = recorded.broker().submit("acct", OrderRequest(client_order_id="rc-x", symbol="VTI", side="buy",
                                                          quantity=D(1)))
    assert state.status == "rejected"
    # Alpaca's words after the status and code (brokers/refusals.py keeps those three fields of an error body)
    assert state.reject_reason == (
        "HTTP 422, code 40010001: order_time_in_force provided not supported for fractional orders"
    )
