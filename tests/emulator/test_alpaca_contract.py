"""The contract test: does the emulator speak Alpaca? Judged by an independent client, the official SDK
alpaca-py (a test dependency only; the adapter stays on httpx), parsing every answer into its own pydantic
models: every endpoint the adapter uses, and the common ones it does not. Error bodies must have Alpaca's
shape and codes."""

from __future__ import annotations

import time
from decimal import Decimal
from typing import Any

import pytest
from alpaca.common.exceptions import APIError
from alpaca.data.historical import StockHistoricalDataClient
from alpaca.data.models import Snapshot
from alpaca.data.requests import StockLatestQuoteRequest, StockLatestTradeRequest, StockSnapshotRequest
from alpaca.trading.client import TradingClient
from alpaca.trading.enums import OrderSide, OrderStatus, QueryOrderStatus, TimeInForce
from alpaca.trading.models import (
    Asset,
    Calendar,
    Clock,
    NonTradeActivity,
    Order,
    Position,
    TradeAccount,
    TradeActivity,
)
from alpaca.trading.requests import (
    GetCalendarRequest,
    GetOrdersRequest,
    LimitOrderRequest,
    MarketOrderRequest,
)

from tests.execution.conftest import SECRET_CANARY, Broker


@pytest.fixture
def sdk(emulator: Broker) -> tuple[TradingClient, StockHistoricalDataClient]:
    trading = TradingClient("key-paper-taxable", SECRET_CANARY, paper=True, url_override=emulator.url)
    data = StockHistoricalDataClient("key-paper-taxable", SECRET_CANARY, url_override=emulator.url)
    return trading, data


def _market(symbol: str, cid: str, **kw: Any) -> MarketOrderRequest:
    return MarketOrderRequest(
        symbol=symbol, side=OrderSide.BUY, time_in_force=TimeInForce.DAY, client_order_id=cid, **kw
    )


def test_account_positions_clock_and_calendar_parse(
    sdk: tuple[TradingClient, StockHistoricalDataClient],
) -> None:
    trading, _ = sdk
    account = trading.get_account()
    assert isinstance(account, TradeAccount)
    assert Decimal(str(account.cash)) == Decimal("1250.40")
    assert account.multiplier == "2"
    assert account.trading_blocked is False
    positions = trading.get_all_positions()
    assert all(isinstance(p, Position) for p in positions)
    assert {p.symbol for p in positions} >= {"VTI", "BND"}
    vti = trading.get_open_position("VTI")
    assert isinstance(vti, Position)
    assert vti.qty == "210"
    assert isinstance(trading.get_clock(), Clock)
    days = trading.get_calendar(GetCalendarRequest())
    assert isinstance(days, list)
    assert all(isinstance(d, Calendar) for d in days)
    asset = trading.get_asset("VTI")
    assert isinstance(asset, Asset)
    assert asset.fractionable
    assert asset.tradable


def test_orders_parse_in_every_state(
    sdk: tuple[TradingClient, StockHistoricalDataClient], emulator: Broker
) -> None:
    trading, _ = sdk
    first = trading.submit_order(_market("VTI", "c-qty", qty=1))
    assert isinstance(first, Order)
    assert first.status == OrderStatus.PENDING_NEW
    assert first.filled_qty == "0"
    notional = trading.submit_order(_market("BND", "c-notional", notional=100))
    assert isinstance(notional, Order)
    assert notional.qty is None
    assert Decimal(str(notional.notional)) == 100
    filled = trading.get_order_by_client_id("c-qty")
    assert isinstance(filled, Order)
    assert filled.status == OrderStatus.FILLED
    assert filled.filled_avg_price
    by_notional = trading.get_order_by_client_id("c-notional")
    assert isinstance(by_notional, Order)
    assert by_notional.status == OrderStatus.FILLED
    assert Decimal(str(by_notional.filled_qty)) * Decimal("72.85") == pytest.approx(
        Decimal(100), abs=Decimal("0.01")
    )
    emulator.faults(adverse_move=0.05)  # a resting limit order, to cancel
    limit = trading.submit_order(
        LimitOrderRequest(
            symbol="VXUS",
            qty=2,
            limit_price=64.12,
            side=OrderSide.BUY,
            time_in_force=TimeInForce.DAY,
            client_order_id="c-limit",
        )
    )
    assert isinstance(limit, Order)
    assert limit.limit_price == "64.12"
    trading.cancel_order_by_id(str(limit.id))  # 204, asynchronous
    pending = trading.get_order_by_client_id("c-limit")
    assert isinstance(pending, Order)
    assert pending.status == OrderStatus.PENDING_CANCEL
    time.sleep(0.1)
    canceled = trading.get_order_by_client_id("c-limit")
    assert isinstance(canceled, Order)
    assert canceled.status == OrderStatus.CANCELED
    listed = trading.get_orders(GetOrdersRequest(status=QueryOrderStatus.ALL, symbols=["VTI", "BND"]))
    assert isinstance(listed, list)
    assert [o.client_order_id for o in listed if isinstance(o, Order)] == [
        "c-notional", "c-qty"  # newest first, filtered by symbol
    ]


def test_activities_parse(sdk: tuple[TradingClient, StockHistoricalDataClient]) -> None:
    trading, _ = sdk
    trading.submit_order(_market("VTI", "c-activity", qty=1))
    trading.get_order_by_client_id("c-activity")  # fills
    raw = trading.get("/account/activities")
    assert isinstance(raw, list)
    assert len(raw) >= 2
    kinds = set()
    for a in raw:
        assert isinstance(a, dict)
        model = TradeActivity if a["activity_type"] == "FILL" else NonTradeActivity
        kinds.add(type(model.model_validate(a)).__name__)
    assert kinds == {"TradeActivity", "NonTradeActivity"}
    deposits = trading.get("/account/activities/CSD")
    assert isinstance(deposits, list)
    assert all(isinstance(d, dict) and d["activity_type"] == "CSD" for d in deposits)


def test_a_dividend_and_its_withholding_parse_with_their_shares(
    sdk: tuple[TradingClient, StockHistoricalDataClient], emulator: Broker
) -> None:
    trading, _ = sdk
    for kind, amount, per_share in (("DIV", "42.00", "0.35"), ("DIVNRA", "-6.30", "0.0525")):
        emulator.control("/_emulator/activity", {"account": "paper-taxable", "activity_type": kind,
                                                 "net_amount": amount, "symbol": "VXUS", "qty": "120",
                                                 "per_share_amount": per_share})
    raw = trading.get("/account/activities", {"activity_types": "DIV,DIVNRA"})
    assert isinstance(raw, list)
    parsed = [NonTradeActivity.model_validate(a) for a in raw]
    assert [(a.activity_type.value, a.symbol, a.qty, a.per_share_amount, a.net_amount) for a in parsed] == [
        ("DIVNRA", "VXUS", 120, 0.0525, -6.30), ("DIV", "VXUS", 120, 0.35, 42.00)  # newest first
    ]


def test_market_data_parses(sdk: tuple[TradingClient, StockHistoricalDataClient]) -> None:
    _, data = sdk
    snapshots = data.get_stock_snapshot(StockSnapshotRequest(symbol_or_symbols=["VTI", "BND"]))
    assert isinstance(snapshots, dict)
    assert set(snapshots) == {"VTI", "BND"}
    vti = snapshots["VTI"]
    assert isinstance(vti, Snapshot)
    assert vti.latest_trade is not None
    assert vti.latest_trade.price == 289.41
    assert vti.latest_quote is not None
    assert vti.latest_quote.bid_price < 289.41 < vti.latest_quote.ask_price
    assert vti.previous_daily_bar is not None
    assert vti.previous_daily_bar.close == 288.90
    assert vti.previous_daily_bar.volume > 0
    trades = data.get_stock_latest_trade(StockLatestTradeRequest(symbol_or_symbols=["VTI"]))
    assert isinstance(trades, dict)
    assert trades["VTI"].price == 289.41
    quotes = data.get_stock_latest_quote(StockLatestQuoteRequest(symbol_or_symbols=["VTI"]))
    assert isinstance(quotes, dict)
    assert quotes["VTI"].ask_price > quotes["VTI"].bid_price


def test_errors_have_alpacas_shape_and_codes(
    sdk: tuple[TradingClient, StockHistoricalDataClient], emulator: Broker
) -> None:
    trading, _ = sdk
    trading.submit_order(_market("VTI", "c-dup", qty=1))
    with pytest.raises(APIError) as dup:
        trading.submit_order(_market("VTI", "c-dup", qty=1))
    assert dup.value.status_code == 422
    assert dup.value.code == 40010001
    with pytest.raises(APIError) as poor:
        trading.submit_order(_market("VTI", "c-poor", qty=10_000))
    assert poor.value.status_code == 403
    assert poor.value.code == 40310000
    with pytest.raises(APIError) as missing:
        trading.get_open_position("BNDX")  # not held by this account
    assert missing.value.status_code == 404
    assert missing.value.code == 40410000
    emulator.faults(not_fractionable=["VNQ"])
    with pytest.raises(APIError) as fractional:
        trading.submit_order(_market("VNQ", "c-frac", qty=0.5))
    assert fractional.value.status_code == 422
    assert fractional.value.code == 40010001  # Alpaca's generic validation code


def test_with_an_exchange_calendar_the_clock_knows_holidays_weekends_and_early_closes() -> None:
    """`reconciler emulator` runs on the XNYS calendar by default: closed on Thanksgiving and on a Sunday, an
    early close on Black Friday, a clock in New York time that the SDK parses."""
    from datetime import UTC, date, datetime

    from reconciler.clock import FixedClock
    from reconciler.emulator import Emulator, EmulatorServer

    clock = FixedClock(datetime(2026, 11, 26, 16, 0, tzinfo=UTC))  # Thanksgiving, 11:00 in New York
    seed = {
        "accounts": {"a": {"key_id": "k", "secret": "s3cr3t-value", "cash": 1000}},
        "prices": {"VTI": 100},
    }
    server = EmulatorServer(Emulator(seed, clock=clock, calendar="XNYS"))
    server.start()
    try:
        trading = TradingClient("k", "s3cr3t-value", paper=True, url_override=server.url)
        closed = trading.get_clock()
        assert isinstance(closed, Clock)
        assert not closed.is_open
        assert closed.next_open == datetime(2026, 11, 27, 14, 30, tzinfo=UTC)  # Friday 09:30 New York
        assert closed.next_close == datetime(2026, 11, 27, 18, 0, tzinfo=UTC)  # the early close, 13:00
        assert closed.timestamp.utcoffset() is not None
        assert closed.timestamp.utcoffset().total_seconds() == -5 * 3600
        clock.at = datetime(2026, 11, 29, 16, 0, tzinfo=UTC)  # a Sunday
        assert not trading.get_clock().is_open  # type: ignore[union-attr]
        clock.at = datetime(2026, 11, 30, 16, 0, tzinfo=UTC)  # Monday 11:00
        assert trading.get_clock().is_open  # type: ignore[union-attr]
        days = trading.get_calendar(GetCalendarRequest(start=date(2026, 11, 25), end=date(2026, 11, 30)))
        assert isinstance(days, list)
        assert [(d.date, d.close.strftime("%H:%M")) for d in days if isinstance(d, Calendar)] == [
            (date(2026, 11, 25), "16:00"), (date(2026, 11, 27), "13:00"), (date(2026, 11, 30), "16:00"),
        ]
    finally:
        server.shutdown()
        server.server_close()


def test_the_emulator_command_runs_on_the_exchange_calendar(tmp_path: Any) -> None:
    import json
    import subprocess
    import sys

    import httpx

    seed = tmp_path / "seed.json"
    seed.write_text(json.dumps({"accounts": {"a": {"key_id": "k", "secret": "s3cr3t-value", "cash": 1000}},
                                "prices": {"VTI": 100}}))
    proc = subprocess.Popen([sys.executable, "-m", "reconciler.cli.main", "emulator", "--seed", str(seed)],
                            stdout=subprocess.PIPE, text=True)
    try:
        assert proc.stdout is not None
        url = proc.stdout.readline().strip().rsplit(" ", 1)[1]
        clock = httpx.get(
            url + "/v2/clock", headers={"APCA-API-KEY-ID": "k", "APCA-API-SECRET-KEY": "s3cr3t-value"}
        )
        body = clock.json()
        assert body["timestamp"][-6:] in ("-05:00", "-04:00")  # New York time
        assert isinstance(body["is_open"], bool)
        assert body["next_open"] > body["timestamp"][:10]
    finally:
        proc.terminate()
        proc.wait(timeout=10)
