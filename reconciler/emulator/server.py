"""The emulator's HTTP shell: a threading server on 127.0.0.1, one handler, and two dispatch tables — the
Alpaca API (authenticated, behind the fault gates) and the control endpoints under /_emulator/ (for tests and
demos).

Each table maps (method, path pattern) to a handler function; a pattern matches the whole path. The first
route that matches answers; a path no route matches is a 404 with the table's own body."""

from __future__ import annotations

import contextlib
import json
import socket
import threading
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlparse

from reconciler.emulator import market, views
from reconciler.emulator.accounts import OPEN_STATUSES, EmuAccount
from reconciler.emulator.control import CONTROL_ROUTES
from reconciler.emulator.faults import RATE_LIMITED, SERVER_ERROR
from reconciler.emulator.routing import Answer, route, table
from reconciler.emulator.state import Emulator
from reconciler.emulator.stream import StreamServer

GHOST = -1  # an Answer's status for a ghost order: accepted, then the connection dies unanswered
ORDER_NOT_FOUND = {"code": 40410000, "message": "order not found"}


@dataclass(frozen=True)
class Call:
    """One authenticated API request, as a route handler sees it (under the emulator's lock)."""

    emu: Emulator
    acct: EmuAccount
    query: dict[str, str]
    body: Any
    params: dict[str, str]  # the named groups of the route's pattern


ApiHandler = Callable[[Call], Answer]

# The last path segment after a prefix, whatever stands between them (/v2/orders/x/ID names order ID).
LAST = r"(?:.*/)?(?P<last>[^/]*)"


def _positions(c: Call) -> Answer:
    c.emu.progress(c.acct)
    return 200, [views.position_json(c.emu, c.acct, s) for s in sorted(c.acct.positions)]


def _position(c: Call) -> Answer:
    c.emu.progress(c.acct)
    symbol = c.params["last"]
    if symbol not in c.acct.positions:
        return 404, {"code": 40410000, "message": "position does not exist"}
    return 200, views.position_json(c.emu, c.acct, symbol)


def _asset(c: Call) -> Answer:
    symbol = c.params["last"]
    if symbol not in c.emu.prices:
        return 404, {"code": 40410000, "message": "asset not found"}
    return 200, market.asset_json(symbol, c.emu.faults)


def _calendar(c: Call) -> Answer:
    start = date.fromisoformat(c.query.get("start", c.emu.today().isoformat()))
    end = date.fromisoformat(c.query.get("end", c.emu.today().isoformat()))
    return 200, c.emu.calendar_json(start, end)


def _activities(c: Call) -> Answer:
    c.emu.progress(c.acct)
    # As Alpaca: newest first by default, at most page_size (≤ 100) a page, page_token = the last id seen;
    # one type by path (/v2/account/activities/DIV) or several by `activity_types`.
    query = c.query
    items = list(c.acct.activities)
    kinds = c.params["kinds"].strip("/") or query.get("activity_types", "")
    if kinds:
        wanted = set(kinds.split(","))
        items = [a for a in items if a["activity_type"] in wanted]
    if query.get("after"):
        items = [a for a in items if str(a["id"]) > query["after"].replace("-", "").replace(":", "")[:17]]
    if query.get("direction", "desc") == "desc":
        items.reverse()
    token = query.get("page_token")
    if token:
        ids = [a["id"] for a in items]
        items = items[ids.index(token) + 1:] if token in ids else []
    size = min(int(query.get("page_size", 100)), 100)
    c.emu.activities_served += len(items[:size])
    return 200, items[:size]


def _orders(c: Call) -> Answer:
    c.emu.progress(c.acct)
    # As Alpaca: status open (default) / closed / all; after, until (submission times); symbols; newest first
    # unless direction=asc; at most `limit` (default 50, at most 500).
    query = c.query
    which = query.get("status", "open")
    orders = [
        o
        for o in c.acct.orders.values()
        if which == "all" or (o.status in OPEN_STATUSES) == (which == "open")
    ]
    if query.get("symbols"):
        orders = [o for o in orders if o.symbol in query["symbols"].split(",")]
    if query.get("after"):
        after = datetime.fromisoformat(query["after"].replace("Z", "+00:00"))
        orders = [o for o in orders if o.created > after]
    if query.get("until"):
        until = datetime.fromisoformat(query["until"].replace("Z", "+00:00"))
        orders = [o for o in orders if o.created < until]
    orders.sort(key=lambda o: o.created, reverse=query.get("direction", "desc") == "desc")
    return 200, [o.json() for o in orders][: min(int(query.get("limit", 50)), 500)]


def _order_by_client_id(c: Call) -> Answer:
    c.emu.progress(c.acct)
    oid = c.acct.by_client.get(c.query.get("client_order_id", ""))
    return (200, c.acct.orders[oid].json()) if oid else (404, ORDER_NOT_FOUND)


def _submit(c: Call) -> Answer:
    code, payload = c.emu.submit(c.acct, c.body)
    if code == 200 and c.emu.gates.ghost():
        return GHOST, None
    return code, payload


def _order(c: Call) -> Answer:
    c.emu.progress(c.acct)
    o = c.acct.orders.get(c.params["last"])
    return (200, o.json()) if o else (404, ORDER_NOT_FOUND)


def _symbols(c: Call) -> list[str]:
    return [x for x in c.query.get("symbols", "").split(",") if x in c.emu.prices]


FEEDS = ("iex", "sip", "delayed_sip", "boats", "overnight", "otc")  # Alpaca's stock feeds


def _feed_refusal(c: Call) -> Answer | None:
    """As Alpaca's data API: an unknown feed is a 400; sip without a market-data subscription a 403."""
    feed = c.query.get("feed", "iex")
    if feed not in FEEDS:
        return 400, {"message": f"invalid feed: {feed}"}
    if feed == "sip" and not c.emu.faults.sip_subscription:
        return 403, {"message": "subscription does not permit querying recent SIP data"}
    return None


def _snapshots(c: Call) -> Answer:
    return _feed_refusal(c) or (200, {sym: c.emu.snapshot(sym) for sym in _symbols(c)})


def _latest_trades(c: Call) -> Answer:
    return _feed_refusal(c) or (
        200,
        {"trades": {sym: c.emu.snapshot(sym)["latestTrade"] for sym in _symbols(c)}},
    )


def _latest_quotes(c: Call) -> Answer:
    return _feed_refusal(c) or (
        200,
        {"quotes": {sym: c.emu.snapshot(sym)["latestQuote"] for sym in _symbols(c)}},
    )


API_ROUTES = table(
    {
        ("GET", "/v2/account"): lambda c: (200, views.account_json(c.emu, c.acct)),
        ("GET", "/v2/positions"): _positions,
        ("GET", "/v2/positions/" + LAST): _position,
        ("GET", "/v2/assets"): lambda c: (
            200,
            [market.asset_json(s, c.emu.faults) for s in sorted(c.emu.prices)],
        ),
        ("GET", "/v2/assets/" + LAST): _asset,
        ("GET", "/v2/clock"): lambda c: (200, c.emu.clock_json()),
        ("GET", "/v2/calendar"): _calendar,
        ("GET", "/v2/account/activities(?P<kinds>.*)"): _activities,  # /v2/account/activities/DIV: one type
        ("GET", "/v2/orders"): _orders,
        ("GET", "/v2/orders:by_client_order_id"): _order_by_client_id,
        ("POST", "/v2/orders"): _submit,
        ("GET", "/v2/orders/" + LAST): _order,
        ("DELETE", "/v2/orders/" + LAST): lambda c: c.emu.cancel(c.acct, c.params["last"]),
        ("GET", "/v2/stocks/snapshots"): _snapshots,
        ("GET", "/v2/stocks/trades/latest"): _latest_trades,
        ("GET", "/v2/stocks/quotes/latest"): _latest_quotes,
    }
)


class _Handler(BaseHTTPRequestHandler):
    server: EmulatorServer
    protocol_version = "HTTP/1.1"
    # headers and body go out as separate writes; Nagle would stall each by 40 ms
    disable_nagle_algorithm = True

    def log_message(self, format: str, *args: Any) -> None:
        return  # quiet: tests and benchmarks read stdout

    def _send(self, status: int, body: Any = None, headers: dict[str, str] | None = None) -> None:
        data = b"" if body is None else json.dumps(body).encode()
        self.send_response(status)
        for k, v in (headers or {}).items():
            self.send_header(k, v)
        if body is not None:
            self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def _body(self) -> Any:
        length = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(length) if length else b""
        return json.loads(raw) if raw else {}

    def do_GET(self) -> None:
        self._dispatch("GET")

    def do_POST(self) -> None:
        self._dispatch("POST")

    def do_DELETE(self) -> None:
        self._dispatch("DELETE")

    def _dispatch(self, method: str) -> None:
        emu = self.server.emulator
        url = urlparse(self.path)
        query = {k: v[-1] for k, v in parse_qs(url.query).items()}
        path = url.path
        try:
            body = self._body() if method == "POST" else {}
        except json.JSONDecodeError:
            self._send(400, {"message": "invalid JSON"})
            return
        if path.startswith("/_emulator/"):
            self._control(method, path, body)
            return
        with emu.lock:
            emu.requests += 1
            emu.paths[path] = emu.paths.get(path, 0) + 1
            allowed, rl_headers = emu.gates.rate_check()
            error = None if not allowed else emu.gates.error_check()
        if emu.faults.latency_ms:
            emu.clock.sleep(emu.faults.latency_ms / 1000)
        if not allowed:
            self._send(429, RATE_LIMITED, rl_headers)
            return
        if error is not None:
            self._send(error, SERVER_ERROR, rl_headers)
            return
        with emu.lock:
            acct = emu.account_for(
                self.headers.get("APCA-API-KEY-ID"), self.headers.get("APCA-API-SECRET-KEY")
            )
            if acct is None:
                status, payload = 401, {"code": 40110000, "message": "request is not authorized"}
            elif (found := route(API_ROUTES, method, path)) is None:
                status, payload = 404, {"code": 40400000, "message": f"not found: {method} {path}"}
            else:
                handler, params = found
                status, payload = handler(Call(emu, acct, query, body, params))
                if status == GHOST:
                    self.close_connection = True
                    with contextlib.suppress(OSError):
                        self.connection.shutdown(socket.SHUT_RDWR)
                    return
        self._send(status, payload, rl_headers)

    def _control(self, method: str, path: str, body: Any) -> None:
        emu = self.server.emulator
        try:
            with emu.lock:
                found = route(CONTROL_ROUTES, method, path)
                if found is None:
                    self._send(404, {"message": "unknown control endpoint"})
                else:
                    handler, _ = found
                    self._send(*handler(emu, body))
        except (KeyError, ValueError, TypeError, AttributeError, ArithmeticError) as exc:
            # A test's or a user's malformed control request: say so, never crash the handler.
            self._send(400, {"message": f"bad control request: {type(exc).__name__}: {exc}"})


class EmulatorServer(ThreadingHTTPServer):
    """The REST API on one port of 127.0.0.1, and the trade_updates websocket (stream.py) on another."""

    daemon_threads = True
    allow_reuse_address = True

    def __init__(
        self, emulator: Emulator, host: str = "127.0.0.1", port: int = 0, stream_port: int = 0
    ) -> None:
        super().__init__((host, port), _Handler)
        self.emulator = emulator
        self.stream = StreamServer(emulator, host, stream_port)

    @property
    def url(self) -> str:
        """The trading API's base URL, for the workspace's broker.trading_url."""
        host, port = self.server_address[:2]
        return f"http://{host!s}:{port}"

    @property
    def stream_url(self) -> str:
        """The trade_updates websocket: ws://127.0.0.1:PORT/stream (Alpaca's is wss://HOST/stream)."""
        return self.stream.url

    def start(self) -> threading.Thread:
        """Serve the API and the stream in background threads."""
        self.stream.start()
        thread = threading.Thread(target=self.serve_forever, name="broker-emulator", daemon=True)
        thread.start()
        return thread

    def shutdown(self) -> None:
        """Stop the stream and the API."""
        self.stream.shutdown()
        super().shutdown()
