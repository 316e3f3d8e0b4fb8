"""The paper broker: fills with slippage and commission, T+1 settlement, idempotent client ids, rejections."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path

from reconciler.brokers.base import OrderRequest
from reconciler.brokers.paper import PaperBroker
from reconciler.brokers.prices import Price
from reconciler.calendars import add_weekdays
from reconciler.clock import FixedClock
from reconciler.journal.store import Journal
from reconciler.workspace.models import PaperBrokerConfig


def make_broker(tmp_path: Path, clock: FixedClock, **spec: object) -> PaperBroker:
    journal = Journal.open(f"sqlite:///{tmp_path / 'j.db'}")
    paper = PaperBrokerConfig.model_validate(
        {
            "kind": "paper",
            "slippage_bps": 10,
            "commission": {"per_order": 1, "per_share": "0.01"},
            "accounts": {"acct": {"cash": 1000, "positions": {"ABC": 10}}},
            **spec,
        }
    )
    prices = {"ABC": Price(Decimal("100"), Decimal("99")), "XYZ": Price(Decimal("50"), None)}
    return PaperBroker(journal.engine, paper, tmp_path, clock=clock, prices=prices)


def test_business_days_skip_weekends() -> None:
    friday = datetime(2026, 11, 27).date()
    assert add_weekdays(friday, 1).isoformat() == "2026-11-30"


def test_sale_proceeds_are_unsettled_until_t_plus_1(tmp_path: Path) -> None:
    clock = FixedClock(datetime(2026, 11, 25, 15, tzinfo=UTC))  # a Wednesday
    broker = make_broker(tmp_path, clock)
    state = broker.submit(
        "acct", OrderRequest(client_order_id="s1", symbol="ABC", side="sell", quantity=Decimal(4))
    )
    assert state.status == "filled"
    assert state.avg_price == Decimal("99.9000")  # 100 less 10 bps
    assert state.commission == Decimal("1.04")
    obs = broker.observe("acct", ["ABC"])
    assert obs.positions == {"ABC": Decimal(6)}
    assert obs.cash_settled == Decimal(1000)
    assert obs.cash_unsettled == Decimal("399.6000") - Decimal("1.04")
    clock.at = datetime(2026, 11, 26, 9, tzinfo=UTC)
    obs = broker.observe("acct", ["ABC"])
    assert obs.cash_unsettled == 0
    assert obs.cash_settled == Decimal(1000) + Decimal("399.6000") - Decimal("1.04")


def test_same_client_order_id_never_fills_twice(tmp_path: Path) -> None:
    broker = make_broker(tmp_path, FixedClock(datetime(2026, 11, 25, tzinfo=UTC)))
    order = OrderRequest(client_order_id="b1", symbol="XYZ", side="buy", quantity=Decimal(3))
    first = broker.submit("acct", order)
    second = broker.submit("acct", order)
    assert first == second
    assert broker.observe("acct", []).positions["XYZ"] == Decimal(3)
    assert broker.get_order("acct", "b1") == first
    assert broker.get_order("acct", "unknown") is None


def test_rejections_leave_the_books_untouched(tmp_path: Path) -> None:
    broker = make_broker(tmp_path, FixedClock(datetime(2026, 11, 25, tzinfo=UTC)))
    sell = OrderRequest(client_order_id="r1", symbol="ABC", side="sell", quantity=Decimal(11))
    too_many = broker.submit("acct", sell)
    assert too_many.status == "rejected"
    assert "insufficient position" in (too_many.reject_reason or "")
    too_big = broker.submit(
        "acct", OrderRequest(client_order_id="r2", symbol="XYZ", side="buy", quantity=Decimal(30))
    )
    assert too_big.status == "rejected"
    assert "insufficient buying power" in (too_big.reject_reason or "")
    unknown = broker.submit(
        "acct", OrderRequest(client_order_id="r3", symbol="NOPE", side="buy", quantity=Decimal(1))
    )
    assert unknown.status == "rejected"
    obs = broker.observe("acct", [])
    assert obs.positions == {"ABC": Decimal(10)}
    assert obs.cash_settled == Decimal(1000)


def test_books_survive_a_new_broker_instance(tmp_path: Path) -> None:
    clock = FixedClock(datetime(2026, 11, 25, tzinfo=UTC))
    make_broker(tmp_path, clock).submit(
        "acct", OrderRequest(client_order_id="p1", symbol="XYZ", side="buy", quantity=Decimal(2))
    )
    again = make_broker(tmp_path, clock)
    assert again.observe("acct", []).positions["XYZ"] == Decimal(2)
