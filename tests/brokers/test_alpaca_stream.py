"""The trade_updates stream against the emulator's: fills learnt without a request each, and polling whenever
the stream is down, silent, drops, or tells something that cannot be trusted — never a fill counted twice."""

from __future__ import annotations

import logging
from decimal import Decimal
from typing import Any

import pytest

from reconciler.brokers.alpaca import AlpacaBroker
from reconciler.brokers.alpaca_stream import TradeUpdates
from reconciler.brokers.base import OrderRequest
from reconciler.clock import SYSTEM
from reconciler.runtime import Runtime
from tests.conftest import Workspace, edit_yaml
from tests.execution.conftest import SECRET_CANARY, Broker

LOOKUPS = "/v2/orders:by_client_order_id"


@pytest.fixture
def streamed(alpaca: Workspace, emulator: Broker) -> Workspace:
    """The Alpaca workspace with the stream on, at the emulator's websocket; silence bound short for the
    tests."""

    def on(doc: Any) -> None:
        doc["broker"]["stream"] = True
        doc["broker"]["stream_url"] = emulator.server.stream_url
        doc["broker"]["stream_silence_seconds"] = 0.3

    edit_yaml(alpaca.config, on)
    return alpaca


def lookups(emulator: Broker) -> int:
    return int(emulator.state()["paths"].get(LOOKUPS, 0))


def journal_fills(ws: Workspace) -> Decimal:
    return sum((Decimal(str(r[0])) for r in ws.query("select quantity from fills")), Decimal(0))


def broker_fills(emulator: Broker) -> Decimal:
    return sum((Decimal(o["filled_qty"]) for o in emulator.orders()), Decimal(0))


def applied(ws: Workspace) -> None:
    r = ws.run("apply", "--auto-approve")
    assert r.code == 0, r.out + r.err


def test_fills_come_from_the_stream_without_a_lookup_per_order(streamed: Workspace, emulator: Broker) -> None:
    applied(streamed)
    assert lookups(emulator) == 0


def test_with_the_stream_every_order_fills_once_and_the_plan_converges(
    streamed: Workspace, emulator: Broker
) -> None:
    applied(streamed)
    ids = [o["client_order_id"] for o in emulator.orders()]
    assert len(ids) == len(set(ids))
    assert all(o["status"] == "filled" for o in emulator.orders())
    assert journal_fills(streamed) == broker_fills(emulator)
    assert streamed.run("plan", "--detailed-exitcode").code == 0


def test_partial_fills_told_by_the_stream_are_journaled_once_each(
    streamed: Workspace, emulator: Broker
) -> None:
    emulator.faults(fill_steps=3, fill_interval=0.05)
    applied(streamed)
    assert journal_fills(streamed) == broker_fills(emulator)
    fills = streamed.query("select count(*) from fills")[0][0]
    executions = sum(1 for a in emulator.emulator.accounts.values() for x in a.activities
                     if x["activity_type"] == "FILL")
    assert fills == executions


@pytest.mark.parametrize("knobs", [
    {"stream_down": True},  # refused at the handshake
    {"stream_silent": True},  # listens, tells nothing: each order waits out the silence bound, then is polled
    {"stream_strip_client_id": True},  # events that name no order
    {"stream_qty_skew": 1.0},  # events whose order is not the one we sent
    {"stream_drop_after": 2},  # the connection ends mid-apply
], ids=["down", "silent", "no-client-id", "quantity-disagrees", "drops"])
def test_a_stream_that_cannot_be_trusted_falls_back_to_polling(
    streamed: Workspace, emulator: Broker, knobs: dict[str, Any]
) -> None:
    emulator.faults(**knobs)
    applied(streamed)
    assert lookups(emulator) > 0


@pytest.mark.parametrize("knobs", [
    {"stream_strip_client_id": True}, {"stream_qty_skew": 1.0}, {"stream_drop_after": 2},
], ids=["no-client-id", "quantity-disagrees", "drops"])
def test_a_doubtful_stream_never_counts_a_fill_twice_nor_loses_one(
    streamed: Workspace, emulator: Broker, knobs: dict[str, Any]
) -> None:
    emulator.faults(fill_steps=2, fill_interval=0.05, **knobs)
    applied(streamed)
    assert journal_fills(streamed) == broker_fills(emulator)
    ids = [o["client_order_id"] for o in emulator.orders()]
    assert len(ids) == len(set(ids))
    impossible = streamed.query("select count(*) from events where kind = 'order.impossible_answer'")[0][0]
    assert impossible == 0


def _adapter(ws: Workspace) -> AlpacaBroker:
    broker = Runtime(ws.config, ws.journal_url).broker
    assert isinstance(broker, AlpacaBroker)
    return broker


def test_an_event_for_an_order_we_did_not_send_is_ignored_not_doubted(
    streamed: Workspace, emulator: Broker
) -> None:
    broker = _adapter(streamed)
    order = OrderRequest(client_order_id="rc-stream-1", symbol="VTI", side="buy", quantity=Decimal(1))
    first = broker.submit("paper-ira", order)  # opens the stream before sending
    emulator.control("/_emulator/trade", {"account": "paper-ira", "symbol": "BND", "side": "buy", "qty": "2"})
    state = broker.watch("paper-ira", first, 10)
    assert state is not None
    assert state.status == "filled"
    stream = broker.streams.get("paper-ira")
    assert stream is not None
    assert stream.stats.doubt is None
    broker.close()


def test_an_event_without_the_client_id_makes_the_stream_doubtful(
    streamed: Workspace, emulator: Broker
) -> None:
    broker = _adapter(streamed)
    emulator.faults(stream_strip_client_id=True)
    order = OrderRequest(client_order_id="rc-stream-2", symbol="VTI", side="buy", quantity=Decimal(1))
    first = broker.submit("paper-ira", order)
    assert broker.watch("paper-ira", first, 10) is None
    stream = broker.streams.get("paper-ira")
    assert stream is not None
    assert "without the order's client id" in (stream.stats.doubt or "")
    broker.close()


def test_the_secret_is_never_logged(emulator: Broker, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    stream = TradeUpdates(emulator.server.stream_url, "key-paper-ira", SECRET_CANARY, timeout=5, clock=SYSTEM,
                          account="paper-ira")
    assert stream.start()
    stream.close()
    wrong = TradeUpdates(
        emulator.server.stream_url,
        "key-paper-ira",
        SECRET_CANARY + "x",
        timeout=5,
        clock=SYSTEM,
        account="paper-ira",
    )
    assert not wrong.start()
    assert SECRET_CANARY not in caplog.text


def test_a_wrong_secret_is_not_authorized(emulator: Broker) -> None:
    stream = TradeUpdates(emulator.server.stream_url, "key-paper-ira", "wrong", timeout=5, clock=SYSTEM,
                          account="paper-ira")
    assert not stream.start()
    assert "not authorized" in (stream.down or "")


def test_requests_per_order_with_the_stream_stay_within_the_target() -> None:
    """A request count is deterministic: the benchmark's own cell, smaller (one account of 60 orders), guards
    it."""
    import sys
    from pathlib import Path

    sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "bench"))
    import requests_per_order as rpo

    streamed = rpo.cell(1, 60, streamed=True, whole=False)
    polled = rpo.cell(1, 60, streamed=False, whole=False)
    assert streamed["filled"] == 60
    assert streamed["per_order"] <= rpo.TARGET
    # the lookup each order cost without the stream
    assert polled["per_order"] - streamed["per_order"] >= 0.99
