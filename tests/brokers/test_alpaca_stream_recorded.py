"""The adapter's stream reader against Alpaca's own words: a peer on 127.0.0.1 that answers with the messages
of tests/fixtures/alpaca/stream_trade_updates.json (the shapes of Alpaca's streaming page), in binary frames
as paper sends them and in text frames as live does."""

from __future__ import annotations

import json
import logging
import threading
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from websockets.exceptions import ConnectionClosed
from websockets.sync.server import ServerConnection, serve

from reconciler.brokers.alpaca_stream import TradeUpdates
from reconciler.brokers.base import OrderState
from reconciler.clock import SYSTEM
from reconciler.secrets.redact import FRAGMENT, register

RECORDED = json.loads(
    (Path(__file__).parents[1] / "fixtures" / "alpaca" / "stream_trade_updates.json").read_text()
)
CID = "rc-recorded-1"
QUIET = logging.getLogger("tests.stream_peer")
QUIET.disabled = True


class Peer:
    """Answers the handshake as recorded, then sends the recorded events; keeps what the client sent."""

    def __init__(self, binary: bool, authorized: bool = True, echo: bool = False) -> None:
        self.binary, self.authorized, self.echo = binary, authorized, echo
        self.received: list[dict[str, Any]] = []
        # the peer's own frames are not ours to judge
        self.server = serve(self._handle, "127.0.0.1", 0, logger=QUIET)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    @property
    def url(self) -> str:
        return f"ws://127.0.0.1:{self.server.socket.getsockname()[1]}/stream"

    def _send(self, ws: ServerConnection, msg: dict[str, Any]) -> None:
        text = json.dumps(msg)
        ws.send(text.encode() if self.binary else text)

    def _handle(self, ws: ServerConnection) -> None:
        self.received.append(json.loads(ws.recv(timeout=10)))
        answer = RECORDED["authorized" if self.authorized else "unauthorized"]
        if self.echo:  # a hostile peer that quotes what it was sent, secret included
            answer = {"echo": self.received[-1]["data"]["secret_key"], **answer}
        self._send(ws, answer)
        if not self.authorized:
            return
        self.received.append(json.loads(ws.recv(timeout=10)))
        self._send(ws, RECORDED["listening"])
        for event in RECORDED["events"]:
            self._send(ws, event)
        try:  # hold the connection open until the client closes it
            ws.recv(timeout=30)
        except (TimeoutError, ConnectionClosed):  # the client went away: the end of this peer's script
            return


@pytest.fixture(params=[True, False], ids=["binary-frames", "text-frames"])
def peer(request: pytest.FixtureRequest) -> Iterator[Peer]:
    p = Peer(binary=request.param)
    yield p
    p.server.shutdown()


def _acknowledged() -> OrderState:
    return OrderState(
        client_order_id=CID,
        broker_order_id="a5be8f5e-fdfa-41f5-a644-7a74fe947a8f",
        symbol="VTI",
        side="sell",
        quantity=Decimal(10),
        filled_quantity=Decimal(0),
        avg_price=None,
        commission=Decimal(0),
        status="accepted",
    )


def _final(stream: TradeUpdates) -> OrderState | None:
    known: OrderState | None = _acknowledged()
    for _ in range(10):
        got = stream.watch(known or _acknowledged(), 10)
        if got is None:
            return known
        known = got
        if got.status == "filled":
            return got
    return known


def test_the_handshake_is_alpacas(peer: Peer) -> None:
    stream = TradeUpdates(peer.url, "PKTEST", "s3cret", timeout=5, clock=SYSTEM, account="a")
    assert stream.start()
    stream.close()
    assert peer.received == [
        {"action": "authenticate", "data": {"key_id": "PKTEST", "secret_key": "s3cret"}},
        {"action": "listen", "data": {"streams": ["trade_updates"]}},
    ]


def test_the_recorded_fills_make_the_order_filled(peer: Peer) -> None:
    stream = TradeUpdates(peer.url, "PKTEST", "s3cret", timeout=5, clock=SYSTEM, account="a")
    stream.expect(CID, "VTI", "sell", Decimal(10))
    assert stream.start()
    final = _final(stream)
    stream.close()
    assert final is not None
    assert (final.status, final.filled_quantity, final.avg_price) == (
        "filled",
        Decimal(10),
        Decimal("288.574"),
    )


def test_another_clients_order_is_counted_and_ignored(peer: Peer) -> None:
    stream = TradeUpdates(peer.url, "PKTEST", "s3cret", timeout=5, clock=SYSTEM, account="a")
    stream.expect(CID, "VTI", "sell", Decimal(10))
    assert stream.start()
    _final(stream)
    stream.close()
    assert (stream.stats.foreign, stream.stats.used, stream.stats.doubt) == (1, 3, None)


def test_a_recorded_fill_of_another_quantity_than_we_sent_is_doubted(peer: Peer) -> None:
    stream = TradeUpdates(peer.url, "PKTEST", "s3cret", timeout=5, clock=SYSTEM, account="a")
    stream.expect(CID, "VTI", "sell", Decimal(9))  # we sent 9; the broker's events say 10
    assert stream.start()
    assert stream.watch(_acknowledged(), 10) is None
    stream.close()
    assert "disagrees with what we sent" in (stream.stats.doubt or "")


def test_the_recorded_refusal_is_not_authorized() -> None:
    p = Peer(binary=True, authorized=False)
    stream = TradeUpdates(p.url, "PKTEST", "wrong", timeout=5, clock=SYSTEM, account="a")
    assert not stream.start()
    p.server.shutdown()
    assert "not authorized" in (stream.down or "")


def test_a_peer_that_echoes_the_secret_does_not_put_it_in_the_logs(caplog: pytest.LogCaptureFixture) -> None:
    secret = "SK-stream-echo-9f8e7d6c5b"
    register(secret)  # as the resolver does for every secret it resolves
    caplog.set_level(logging.DEBUG)
    p = Peer(binary=True, authorized=False, echo=True)
    stream = TradeUpdates(p.url, "PKTEST", secret, timeout=5, clock=SYSTEM, account="a")
    assert not stream.start()
    p.server.shutdown()
    said = " ".join(f"{r.getMessage()} {vars(r)}" for r in caplog.records)
    assert "not authorized" in said
    assert "echo" in said  # the peer's answer is said, the secret in it masked
    assert "***" in said
    assert secret[:FRAGMENT] not in said


def test_a_peer_that_never_answers_the_handshake_is_given_up_on() -> None:
    """A listener that accepts and says nothing (a blackholed stream): the connect's bound ends it, then
    polling."""
    import socket

    silent = socket.socket()
    silent.bind(("127.0.0.1", 0))
    silent.listen(1)
    try:
        stream = TradeUpdates(
            f"ws://127.0.0.1:{silent.getsockname()[1]}/stream",
            "PKTEST",
            "s3cret",
            timeout=0.5,
            clock=SYSTEM,
            account="a",
        )
        assert not stream.start()
    finally:
        silent.close()
    assert "cannot connect" in (stream.down or "")
