"""The Alpaca adapter against a hostile peer on 127.0.0.1: answers that cannot be true (numbers out of range,
fills above the order, HTML with 200, redirects, wrong shapes) are a BrokerError naming the endpoint and the
field — never a number silently believed, never an internal error."""

from __future__ import annotations

import contextlib
import json
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import urlparse

import pytest

from reconciler.brokers.alpaca import AlpacaBroker
from reconciler.brokers.base import OrderRequest
from reconciler.errors import BrokerError
from reconciler.secrets.resolve import SecretResolver
from reconciler.workspace.models import AlpacaBrokerConfig

ORDER = {
    "id": "o1",
    "client_order_id": "rc-1",
    "symbol": "VTI",
    "side": "buy",
    "qty": "10",
    "filled_qty": "10",
    "filled_avg_price": "100.5",
    "status": "filled",
    "commission": "0",
}


def _sound() -> dict[str, Any]:
    """What an account with 10 VTI and $1,000 answers, endpoint by endpoint."""
    return {
        "/v2/account": {"cash": "1000", "buying_power": "2000"},
        "/v2/positions": [{"symbol": "VTI", "qty": "10"}],
        "/v2/orders": [],
        "/v2/account/activities": [
            {"id": "a1", "activity_type": "CSD", "net_amount": "1000", "date": "2026-01-02"}
        ],
        "/v2/clock": {"timestamp": "2026-01-05T10:00:00-05:00", "is_open": True},
        "/v2/calendar": [],
        "/v2/stocks/snapshots": {
            "VTI": {"latestTrade": {"p": 100.5, "t": "2026-01-05T15:00:00Z"}, "prevDailyBar": {"c": 100.0}}
        },
        "/v2/orders:by_client_order_id": ORDER,
        "POST /v2/orders": ORDER,
    }


class _Peer:
    def __init__(self) -> None:
        self.answers: dict[str, Any] = _sound()
        peer = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *_: Any) -> None:
                pass

            def _answer(self, key: str) -> None:
                answer = peer.answers.get(key)
                # a misbehaving peer writes on the socket itself, until the client hangs up
                if callable(answer):
                    with contextlib.suppress(OSError):
                        answer(self)
                    return
                if isinstance(answer, tuple):  # (status, headers, raw body)
                    status, headers, body = answer
                else:
                    status, headers, body = (
                        200,
                        {"Content-Type": "application/json"},
                        json.dumps(answer).encode(),
                    )
                self.send_response(status)
                for k, v in headers.items():
                    self.send_header(k, v)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def do_GET(self) -> None:
                self._answer(urlparse(self.path).path)

            def do_POST(self) -> None:
                self.rfile.read(int(self.headers.get("Content-Length", 0)))
                self._answer("POST " + urlparse(self.path).path)

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"

    def broker(self, **settings: Any) -> AlpacaBroker:
        spec = AlpacaBrokerConfig.model_validate({
            "kind": "alpaca", "trading_url": self.url, "data_url": self.url, "rate_limit_per_second": 1000,
            "timeout_seconds": 1, "stream": False,
            "accounts": {"acct": {"key_id": "env:RC_HOSTILE_KEY", "secret_key": "env:RC_HOSTILE_SECRET"}},
            **settings,
        })
        return AlpacaBroker(spec, SecretResolver(spec.secrets), attempts=2)


@pytest.fixture
def peer(monkeypatch: pytest.MonkeyPatch) -> Iterator[_Peer]:
    monkeypatch.setenv("RC_HOSTILE_KEY", "hostile-peer-key-id")
    monkeypatch.setenv("RC_HOSTILE_SECRET", "hostile-peer-secret-value")
    p = _Peer()
    yield p
    p.server.shutdown()


def test_a_sound_answer_is_read(peer: _Peer) -> None:
    obs = peer.broker().observe("acct", ["VTI"])
    assert obs.positions == {"VTI": 10}
    assert obs.quotes["VTI"].price == 100.5


HTML = (200, {"Content-Type": "text/html"}, b"<html><body>Service Unavailable</body></html>")
LIES = [
    ("/v2/positions", [{"symbol": "VTI", "qty": "1e400"}], "VTI qty is '1e400': beyond any real amount"),
    ("/v2/positions", [{"symbol": "VTI", "qty": "1e-400"}], "more than 12 decimal places"),
    ("/v2/positions", [{"symbol": "VTI", "qty": "NaN"}], "not a finite number"),
    ("/v2/positions", [{"symbol": "VTI", "qty": "-5"}], "VTI qty is '-5': negative"),
    ("/v2/positions", [{"symbol": "VTI", "qty": True}], "not a number"),
    ("/v2/positions", [{"symbol": "VTI"}], "unexpected shape (KeyError"),
    ("/v2/positions", {"VTI": "10"}, "expected a JSON list"),
    ("/v2/positions", None, "expected a JSON list, got NoneType"),
    ("/v2/positions", HTML, "the body is not JSON (text/html"),
    ("/v2/positions", (302, {"Location": "http://evil.example/"}, b""), "redirect to 'http://evil.example/'"),
    ("/v2/account", {"cash": "ten"}, "cash is 'ten', not a number"),
    ("/v2/account", [], "expected a JSON object"),
    (
        "/v2/orders",
        [{**ORDER, "status": "partially_filled", "filled_qty": "11"}],
        "more than the order's qty 10",
    ),
    (
        "/v2/orders",
        [{**ORDER, "status": "new", "filled_avg_price": "-1"}],
        "filled_avg_price is '-1': negative",
    ),
    ("/v2/orders", [{**ORDER, "filled_avg_price": None}], "filled_qty 10 without a filled_avg_price"),
    (
        "/v2/account/activities",
        [{"id": "a1", "activity_type": "CSD", "net_amount": "Infinity"}],
        "not a finite",
    ),
    ("/v2/account/activities", ["CSD"], "not a JSON object"),
    ("/v2/stocks/snapshots", {"VTI": {"latestTrade": {"p": "1e30"}}}, "VTI price is '1e30'"),
    ("/v2/stocks/snapshots", [1, 2], "expected a JSON object, got list"),
    ("/v2/clock", "open", "expected a JSON object, got str"),
]


@pytest.mark.parametrize(("path", "lie", "says"), LIES, ids=[f"{p}-{n}" for n, (p, _, _) in enumerate(LIES)])
def test_an_impossible_answer_is_refused_by_name(peer: _Peer, path: str, lie: Any, says: str) -> None:
    peer.answers[path] = lie
    with pytest.raises(BrokerError) as refused:
        peer.broker().observe("acct", ["VTI"])
    assert "the broker answered something impossible" in refused.value.message
    assert path.removeprefix("/") in refused.value.message, refused.value.message
    assert says in refused.value.message, refused.value.message


def test_an_order_answer_that_cannot_be_true_is_refused(peer: _Peer) -> None:
    peer.answers["POST /v2/orders"] = {**ORDER, "filled_qty": "20"}
    with pytest.raises(BrokerError) as refused:
        peer.broker().submit(
            "acct",
            OrderRequest(client_order_id="rc-1", symbol="VTI", side="buy",
                         quantity=10),  # type: ignore[arg-type]
        )
    assert "POST /v2/orders" in refused.value.message
    assert "more than the order's qty" in refused.value.message


def _drip(h: BaseHTTPRequestHandler, start: bytes, byte: bytes) -> None:
    """`start` at once, then one `byte` every half second, for ever."""
    h.wfile.write(start)
    for _ in range(10_000):
        h.wfile.write(byte)
        h.wfile.flush()
        time.sleep(0.5)


def _drip_headers(h: BaseHTTPRequestHandler) -> None:
    """Slow headers: a header line that never ends."""
    _drip(h, b"HTTP/1.1 200 OK\r\n", b"X")


def _drip_body(h: BaseHTTPRequestHandler) -> None:
    """A slowloris body: headers at once, then a body that never ends."""
    _drip(h, b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 1000000\r\n\r\n", b" ")


def _endless_chunks(h: BaseHTTPRequestHandler) -> None:
    """A chunked body that never ends, as fast as the socket takes it."""
    h.send_response(200)
    h.send_header("Content-Type", "application/json")
    h.send_header("Transfer-Encoding", "chunked")
    h.end_headers()
    chunk = b"[" * 65536
    for _ in range(100_000):
        h.wfile.write(b"%x\r\n%s\r\n" % (len(chunk), chunk))


def _hundred_megabytes(h: BaseHTTPRequestHandler) -> None:
    h.send_response(200)
    h.send_header("Content-Type", "application/json")
    h.send_header("Content-Length", str(100 * 1024 * 1024))
    h.end_headers()
    block = b" " * (1024 * 1024)
    for _ in range(100):
        h.wfile.write(block)


@pytest.mark.parametrize(
    ("behaviour", "says"),
    [(_drip_headers, "unavailable after 2 attempts (ReadTimeout"), (_drip_body, "unavailable after 2"
        " attempts"),
     (_endless_chunks, "an answer larger than 8,388,608 bytes"),
     (_hundred_megabytes, "an answer larger than 8,388,608 bytes")],
    ids=["slow-headers", "slow-body", "endless-chunks", "100-MB"],
)
def test_a_peer_that_never_finishes_is_cut_off_in_bounded_time(
    peer: _Peer, behaviour: Any, says: str
) -> None:
    peer.answers["/v2/positions"] = behaviour
    started = time.monotonic()
    with pytest.raises(BrokerError) as refused:
        peer.broker().observe("acct", ["VTI"])
    assert says in refused.value.message, refused.value.message
    assert time.monotonic() - started < 15  # 2 attempts of a 1 s deadline, with backoff
