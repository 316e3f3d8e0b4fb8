"""The cash an Alpaca account's activities imply, and the check of the broker's figure against it, with plain values."""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from typing import Any

from reconciler.brokers.alpaca_ledger import cash_warning, ledger, settlement_horizon

D = Decimal
THURSDAY, FRIDAY = date(2024, 3, 14), date(2024, 3, 15)


def fill(side: str, qty: str, price: str, when: str = "2024-03-14T15:00:00Z") -> dict[str, Any]:
    return {"activity_type": "FILL", "side": side, "qty": qty, "price": price, "transaction_time": when}


def cash(kind: str, amount: str, **extra: Any) -> dict[str, Any]:
    return {"activity_type": kind, "net_amount": amount, "date": "2024-03-01", "id": f"{kind}-1", **extra}


def test_the_horizon_is_a_week_per_settlement_day_and_two_more() -> None:
    assert settlement_horizon(FRIDAY, 1) == date(2024, 2, 23)


def test_a_sale_settles_after_its_settlement_sessions() -> None:
    settled, unsettled, _ = ledger([cash("CSD", "100"), fill("sell", "1", "50")], FRIDAY, [THURSDAY, FRIDAY], 1)
    assert (settled, unsettled) == (D(150), D(0))


def test_a_holiday_between_the_sale_and_today_keeps_it_unsettled() -> None:
    settled, unsettled, _ = ledger([cash("CSD", "100"), fill("sell", "1", "50")], FRIDAY, [THURSDAY], 1)
    assert (settled, unsettled) == (D(100), D(50))


def test_a_buy_that_spends_unsettled_proceeds_takes_them_from_unsettled() -> None:
    activities = [cash("CSD", "100"), fill("sell", "1", "50"), fill("buy", "1", "120")]
    settled, unsettled, _ = ledger(activities, FRIDAY, [THURSDAY], 1)
    assert (settled, unsettled) == (D(0), D(30))


def test_a_canceled_activity_does_not_count() -> None:
    settled, _, _ = ledger([cash("CSD", "100"), cash("CSD", "900", status="canceled")], FRIDAY, [], 1)
    assert settled == D(100)


def test_an_unknown_kind_that_moves_cash_is_named() -> None:
    _, _, unknown = ledger([cash("XYZ", "5")], FRIDAY, [], 1)
    assert unknown == ["XYZ 5 on 2024-03-01 (id XYZ-1)"]


def test_activities_left_unread_come_before_every_other_doubt() -> None:
    warning = cash_warning(D(-1), D(0), D(0), ["XYZ 5"], complete=False, tolerance=D("0.01"))
    assert warning is not None
    assert "cannot be verified" in warning


def test_cash_that_is_settled_only_agrees() -> None:
    assert cash_warning(D(100), D(100), D(50), [], complete=True, tolerance=D("0.01")) is None


def test_cash_that_is_neither_figure_is_a_disagreement() -> None:
    warning = cash_warning(D(120), D(100), D(50), [], complete=True, tolerance=D("0.01"))
    assert warning is not None
    assert "trusting neither" in warning
