"""The contract test of the emulator's trade_updates stream, judged by alpaca-py's TradingStream (the official
SDK: alpaca/trading/stream.py): it connects to the emulator's websocket on 127.0.0.1, authenticates and
listens as it does at Alpaca, and parses every event into its TradeUpdate model."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from alpaca.trading.models import TradeUpdate
from alpaca.trading.stream import TradingStream

from tests.execution.conftest import SECRET_CANARY, Broker

KEY = "key-paper-ira"


class Heard:
    """What the SDK's handler received, and a condition to wait on (no sleeps)."""

    def __init__(self) -> None:
        self.updates: list[Any] = []
        self.cond = threading.Condition()

    async def handler(self, update: Any) -> None:
        with self.cond:
            self.updates.append(update)
            self.cond.notify_all()

    def until(self, what: Any, timeout: float = 30) -> list[Any]:
        with self.cond:
            self.cond.wait_for(lambda: what(self.updates), timeout)
            return list(self.updates)


@pytest.fixture
def heard(emulator: Broker) -> Iterator[Heard]:
    heard = Heard()
    stream = TradingStream(KEY, SECRET_CANARY, paper=True, url_override=emulator.server.stream_url)
    stream.subscribe_trade_updates(heard.handler)
    thread = threading.Thread(target=stream.run, daemon=True)
    thread.start()
    listening = threading.Event()
    # The SDK listens after it connects; the emulator counts the handshake: wait for it, then for the
    # listener.
    for _ in range(300):
        if emulator.server.stream.connections and emulator.server.stream._listeners:
            listening.set()
            break
        threading.Event().wait(0.05)
    assert listening.is_set()
    yield heard
    if stream._loop is not None:
        stream.stop()
    thread.join(10)


def order(emulator: Broker, cid: str, **body: Any) -> httpx.Response:
    payload = {"symbol": "VTI", "qty": "3", "side": "buy", "type": "market", "time_in_force": "day",
               "client_order_id": cid, **body}
    return httpx.post(emulator.url + "/v2/orders", json=payload,
                      headers={"APCA-API-KEY-ID": KEY, "APCA-API-SECRET-KEY": SECRET_CANARY})


def events(updates: list[Any], cid: str) -> list[str]:
    return [str(getattr(u.event, "value", u.event)) for u in updates if u.order.client_order_id == cid]


def test_partial_fills_and_the_fill_parse_into_trade_updates(heard: Heard, emulator: Broker) -> None:
    emulator.faults(fill_steps=3, fill_interval=0.05)
    assert order(emulator, "c-fill").status_code == 200
    got = heard.until(lambda u: "fill" in events(u, "c-fill"))
    assert all(isinstance(u, TradeUpdate) for u in got)
    assert events(got, "c-fill") == ["new", "partial_fill", "partial_fill", "fill"]
    last = got[-1]
    assert (last.qty, last.price, last.position_qty) == (1.0, 289.41, 3.0)
    assert last.execution_id is not None


def test_a_cancel_parses_as_pending_cancel_then_canceled(heard: Heard, emulator: Broker) -> None:
    emulator.faults(adverse_move=0.05)  # a limit order that rests, to cancel
    r = order(emulator, "c-cancel", type="limit", limit_price="280")
    assert r.status_code == 200
    heard.until(lambda u: "new" in events(u, "c-cancel"))
    httpx.delete(emulator.url + f"/v2/orders/{r.json()['id']}",
                 headers={"APCA-API-KEY-ID": KEY, "APCA-API-SECRET-KEY": SECRET_CANARY})
    got = heard.until(lambda u: "canceled" in events(u, "c-cancel"))
    assert events(got, "c-cancel") == ["new", "pending_cancel", "canceled"]


def test_a_rejected_order_parses(heard: Heard, emulator: Broker) -> None:
    emulator.faults(reject_symbols=["VTI"])
    assert order(emulator, "c-reject").status_code == 200
    got = heard.until(lambda u: "rejected" in events(u, "c-reject"))
    assert events(got, "c-reject") == ["rejected"]


def test_an_order_held_while_closed_parses_as_accepted(heard: Heard, emulator: Broker) -> None:
    emulator.faults(market_closed=True)
    assert order(emulator, "c-closed").status_code == 200
    got = heard.until(lambda u: "accepted" in events(u, "c-closed"))
    assert events(got, "c-closed") == ["accepted"]


def test_a_trade_we_did_not_make_is_streamed_too(heard: Heard, emulator: Broker) -> None:
    emulator.control("/_emulator/trade", {"account": "paper-ira", "symbol": "BND", "side": "buy", "qty": "2"})
    got = heard.until(lambda u: any(x.order.symbol == "BND" for x in u))
    assert [str(getattr(u.event, "value", u.event)) for u in got if u.order.symbol == "BND"] == ["fill"]


def test_another_path_is_not_the_stream(emulator: Broker) -> None:
    r = httpx.get(emulator.server.stream_url.replace("ws://", "http://").replace("/stream", "/other"))
    assert r.status_code == 404
