"""What Alpaca refuses, the emulator refuses, with Alpaca's status: each case is a row of docs/execution.md's
table with its source."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from tests.execution.conftest import SECRET_CANARY, Broker

HEADERS = {"APCA-API-KEY-ID": "key-paper-college", "APCA-API-SECRET-KEY": SECRET_CANARY}


def order(**fields: Any) -> dict[str, Any]:
    return {"symbol": "VTI", "side": "buy", "type": "market", "time_in_force": "day", "qty": "1", **fields}


def post(emulator: Broker, body: dict[str, Any]) -> httpx.Response:
    return httpx.post(emulator.url + "/v2/orders", json=body, headers=HEADERS)


@pytest.mark.parametrize(("body", "status", "says"), [
    (order(qty="0.1234567891"), 422, "9 decimal places"),
    (order(client_order_id="x" * 129), 422, "128 characters"),
    (order(extended_hours=True), 422, "extended hours"),
    (order(type="limit", limit_price="1", extended_hours=True, qty="0.5", symbol="BND"), 422, "at least $1"),
    (order(qty=None, notional="0.99"), 422, "at least $1"),
    (order(symbol="NOSUCH"), 422, "not found"),
], ids=["qty-decimals", "client-id-length", "extended-hours-market", "fractional-under-1", "notional-under-1",
        "unknown-symbol"])
def test_alpaca_refuses_it_so_the_emulator_does(emulator: Broker, body: dict[str, Any], status: int,
                                                 says: str) -> None:
    r = post(emulator, body)
    assert r.status_code == status, r.text
    assert says in r.json()["message"]
    assert emulator.orders("key-paper-college") == []


def test_what_alpaca_accepts_at_the_limits_is_accepted(emulator: Broker) -> None:
    for body in (order(qty="0.123456789"), order(client_order_id="y" * 128),
                 order(type="limit", limit_price="400", extended_hours=True)):
        assert post(emulator, body).status_code == 200


def test_an_opposite_order_in_a_symbol_with_an_open_order_is_a_wash_trade_by_default(
    emulator: Broker,
) -> None:
    emulator.faults(market_closed=True)  # the first order stays open
    assert post(emulator, order(side="buy")).status_code == 200
    r = post(emulator, order(side="sell"))
    assert r.status_code == 403
    assert "wash trade" in r.json()["message"]


def test_with_a_calendar_an_order_placed_while_closed_waits_for_the_open_and_a_day_order_ends_at_the_close(
) -> None:
    """Alpaca queues a day order sent outside the session for the next one, and cancels what is unfilled after
    the close; the emulator on its XNYS calendar did the opposite (it filled at once, and never expired)."""
    from datetime import UTC, datetime, timedelta

    from reconciler.clock import FixedClock
    from reconciler.emulator import Emulator

    saturday = datetime(2026, 3, 7, 15, 0, tzinfo=UTC)
    clock = FixedClock(saturday)
    emu = Emulator({"accounts": {"a": {"key_id": "k", "cash": 10000}}, "prices": {"VTI": 250}}, clock=clock,
                   calendar="XNYS")
    acct = emu.accounts["k"]
    market = emu.submit(acct, order(client_order_id="m"))[1]["id"]
    limit = emu.submit(acct, order(client_order_id="l", type="limit", limit_price="200"))[1]["id"]
    emu.progress(acct)
    assert acct.orders[market].status == "accepted"
    clock.advance(timedelta(days=2).total_seconds())  # Monday 15:00 UTC: the session is open
    emu.progress(acct)
    assert acct.orders[market].status == "filled"
    assert acct.orders[limit].status == "new"  # 250 is above its 200 limit: it rests
    clock.advance(6 * 3600)  # 21:00 UTC: after the close
    emu.progress(acct)
    assert acct.orders[limit].status == "canceled"
