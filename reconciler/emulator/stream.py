"""The emulator's trade-updates stream: Alpaca's `trade_updates` websocket, on its own port of 127.0.0.1.

The protocol, as Alpaca documents it ("Websocket Streaming", docs.alpaca.markets/docs/websocket-streaming) and
as `alpaca-py`'s TradingStream speaks it (alpaca/trading/stream.py): connect to /stream; send {"action":
"authenticate", "data": {"key_id", "secret_key"}} and read {"stream": "authorization", "data": {"status":
"authorized" | "unauthorized", "action": "authenticate"}}; send {"action": "listen", "data": {"streams":
["trade_updates"]}} and read {"stream": "listening", "data": {"streams": [...]}} (a stream that does not exist
is left out); then one {"stream": "trade_updates", "data": {"event", "order", "timestamp", ...}} per event of
any of the account's orders. Frames are binary, as on paper-api.alpaca.markets (the docs' note); the
market-data stream's {"action": "auth", "key", "secret"} is accepted too. Alpaca serves it on the trading
host; here the HTTP server (http.server) cannot upgrade a connection, so the stream has its own port
(`EmulatorServer.stream_url`).

Fills are lazy in the emulator (`Emulator.progress` books what is due when someone looks): a pump looks at
every account with a listener and an open order every few milliseconds, as the market would move on its own.
Fault knobs (faults.py): stream_down, stream_silent, stream_drop_after, stream_strip_client_id,
stream_qty_skew.
"""

from __future__ import annotations

import json
import logging
import queue
import threading
from decimal import Decimal
from typing import Any

from websockets.datastructures import Headers
from websockets.exceptions import ConnectionClosed
from websockets.http11 import Request, Response
from websockets.sync.server import Server, ServerConnection, serve

from reconciler.emulator.accounts import OPEN_STATUSES, EmuAccount, EmuOrder
from reconciler.emulator.market import iso
from reconciler.emulator.state import Emulator

PATH = "/stream"
PUMP_SECONDS = 0.005  # how often the pump books what is due for accounts with a listener
_QUIET = logging.getLogger("reconciler.emulator.stream.frames")
_QUIET.disabled = True  # websockets logs each frame at DEBUG, and the first one carries the secret key


class _Listener:
    def __init__(self, acct: EmuAccount) -> None:
        self.acct = acct
        self.out: queue.Queue[dict[str, Any] | None] = queue.Queue()
        self.sent = 0


class StreamServer:
    """The trade_updates websocket over one Emulator; `start` serves it and its pump on daemon threads."""

    def __init__(self, emulator: Emulator, host: str = "127.0.0.1", port: int = 0) -> None:
        self.emulator = emulator
        self._listeners: list[_Listener] = []
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._server: Server = serve(self._handle, host, port, process_request=self._gate, logger=_QUIET,
                                     open_timeout=5, close_timeout=1)
        emulator.on_event = self._publish
        self.connections = 0  # handshakes answered, for tests
        self._pumping = False
        self._started = False

    @property
    def url(self) -> str:
        """The websocket's URL, for the workspace's broker.stream_url."""
        host, port = self._server.socket.getsockname()[:2]
        return f"ws://{host}:{port}{PATH}"

    def start(self) -> None:
        """Serve the trade_updates stream in a background thread."""
        self._started = True
        threading.Thread(target=self._server.serve_forever, name="emulator-stream", daemon=True).start()

    def shutdown(self) -> None:
        """Close every connection and stop serving."""
        self._stop.set()
        with self._lock:
            for listener in self._listeners:
                listener.out.put(None)
        if self._started:
            self._server.shutdown()  # waits for serve_forever to let go of the socket: only once it has run
        else:
            self._server.socket.close()

    def drop_all(self) -> None:
        """End every connection now, as a network failure would (tests)."""
        with self._lock:
            for listener in self._listeners:
                listener.out.put(None)

    def _gate(self, connection: ServerConnection, request: Request) -> Response | None:
        if request.path != PATH:
            return connection.respond(404, "not found\n")
        if self.emulator.faults.stream_down:
            return Response(503, "Service Unavailable", Headers(), b"stream unavailable\n")
        return None

    def _handle(self, ws: ServerConnection) -> None:
        self.connections += 1
        acct = self._authorize(ws)
        if acct is None or not self._listen(ws):
            return
        listener = _Listener(acct)
        with self._lock:
            self._listeners.append(listener)
            # started with the first listener: an emulator nobody streams from stays idle
            if not self._pumping:
                self._pumping = True
                threading.Thread(target=self._pump, name="emulator-stream-pump", daemon=True).start()
        try:
            while not self._stop.is_set():
                try:
                    message = listener.out.get(timeout=0.5)
                except queue.Empty:
                    continue
                if message is None:
                    return
                ws.send(json.dumps(message).encode())
                listener.sent += 1
                drop = self.emulator.faults.stream_drop_after
                if drop and listener.sent >= drop:
                    return  # the connection ends without a close frame's reason, as a dropped network does
        except ConnectionClosed:
            return
        finally:
            with self._lock:
                self._listeners.remove(listener)
            ws.close()

    def _authorize(self, ws: ServerConnection) -> EmuAccount | None:
        try:
            first = json.loads(ws.recv(timeout=10))
        except (TimeoutError, ConnectionClosed, ValueError):
            return None
        data = first.get("data") if isinstance(first, dict) else None
        if isinstance(first, dict) and first.get("action") == "auth":  # the market-data stream's form
            key, secret = first.get("key"), first.get("secret")
        elif isinstance(first, dict) and first.get("action") == "authenticate" and isinstance(data, dict):
            key, secret = data.get("key_id"), data.get("secret_key")
        else:
            key = secret = None
        with self.emulator.lock:
            acct = self.emulator.account_for(str(key), str(secret)) if isinstance(key, str) else None
        status = "authorized" if acct is not None else "unauthorized"
        ws.send(
            json.dumps(
                {"stream": "authorization", "data": {"status": status, "action": "authenticate"}}
            ).encode()
        )
        return acct

    def _listen(self, ws: ServerConnection) -> bool:
        try:
            msg = json.loads(ws.recv(timeout=10))
        except (TimeoutError, ConnectionClosed, ValueError):
            return False
        data = msg.get("data") if isinstance(msg, dict) else None
        streams = data.get("streams") if isinstance(data, dict) else None
        if not (isinstance(msg, dict) and msg.get("action") == "listen" and isinstance(streams, list)):
            return False
        known = [s for s in streams if s == "trade_updates"]
        ws.send(json.dumps({"stream": "listening", "data": {"streams": known}}).encode())
        return bool(known)

    def _publish(self, acct: EmuAccount, event: str, order: EmuOrder, extra: dict[str, Any]) -> None:
        """An event of one of `acct`'s orders (called under the emulator's lock): queued for its listeners."""
        f = self.emulator.faults
        if f.stream_silent:
            return
        body = order.json()
        if f.stream_strip_client_id:
            body.pop("client_order_id", None)
        if f.stream_qty_skew and body.get("qty") is not None:
            body["qty"] = str(Decimal(body["qty"]) + Decimal(str(f.stream_qty_skew)))
        data = {"event": event, "order": body, "timestamp": iso(self.emulator.clock.now()), **extra}
        message = {"stream": "trade_updates", "data": data}
        with self._lock:
            for listener in self._listeners:
                if listener.acct is acct:
                    listener.out.put(message)

    def _pump(self) -> None:
        emu = self.emulator
        while not self._stop.wait(PUMP_SECONDS):
            with self._lock:
                watched = {id(x.acct): x.acct for x in self._listeners}
            if not watched:
                continue
            with emu.lock:
                for acct in watched.values():
                    if any(o.status in OPEN_STATUSES for o in acct.orders.values()):
                        emu.progress(acct)

