"""What ccxt's unified answers mean, with plain values (the adapter's I/O is tested against a fake
Binance)."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal

import pytest
from ccxt.base.decimal_to_precision import DECIMAL_PLACES, SIGNIFICANT_DIGITS, TICK_SIZE

from reconciler.brokers.ccxt_answers import cash, order_state, order_status, price_tick, ticker_quotes

D = Decimal
NOW = datetime(2024, 3, 15, 12, tzinfo=UTC)


def test_an_open_order_with_fills_is_partially_filled() -> None:
    assert order_status({"status": "open", "filled": 1}) == "partially_filled"


def test_an_expired_order_is_canceled() -> None:
    assert order_status({"status": "expired"}) == "canceled"


def test_a_fee_in_the_cash_currency_is_a_commission() -> None:
    state = order_state(
        {"symbol": "BTC/USDT", "filled": 1, "average": 100, "fee": {"cost": 1, "currency": "USDT"}}, "USDT"
    )
    assert state.commission == D(1)


def test_a_fee_in_a_third_currency_is_not_cash() -> None:
    state = order_state(
        {"symbol": "BTC/USDT", "filled": 1, "average": 100, "fee": {"cost": 1, "currency": "BNB"}}, "USDT"
    )
    assert (state.commission, state.fee_in_kind) == (D(0), D(0))


def test_cash_that_is_not_free_plus_locked_is_named_and_the_smaller_is_settled() -> None:
    settled, reserved, warning = cash({"USDT": {"free": 90, "used": 10, "total": 150}}, "USDT")
    assert (settled, reserved) == (D(100), D(10))
    assert warning is not None


def test_a_ticker_without_a_price_is_left_out_and_one_without_a_time_is_as_of_now() -> None:
    quotes = ticker_quotes({"BTC/USDT": {"last": 100}, "ETH/USDT": {"last": None}}, lambda: NOW)
    assert list(quotes) == ["BTC"]
    assert quotes["BTC"].as_of == NOW


@pytest.mark.parametrize(("mode", "precision", "limit", "tick"), [
    (DECIMAL_PLACES, 2, D("123.456"), D("0.01")),
    (SIGNIFICANT_DIGITS, 3, D(12345), D(100)),  # three digits of 12345: a step of 100
    (TICK_SIZE, "0.5", D(12345), D("0.5")),
])
def test_the_price_step_in_each_precision_mode(
    mode: int, precision: object, limit: Decimal, tick: Decimal
) -> None:
    assert price_tick(mode, precision, limit, "BTC/USDT") == tick
