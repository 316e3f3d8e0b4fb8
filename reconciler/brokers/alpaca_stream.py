"""Alpaca's trade_updates websocket, read for one account: the fills of our orders without a request each.

The protocol (Alpaca's "Websocket Streaming" page, docs.alpaca.markets/docs/websocket-streaming, and
alpaca-py's alpaca/trading/stream.py, which speaks it): connect to wss://HOST/stream, send {"action":
"authenticate", "data": {"key_id", "secret_key"}}, read {"stream": "authorization", "data": {"status":
"authorized"}}, send {"action": "listen", "data": {"streams": ["trade_updates"]}}, read {"stream":
"listening"}, then read one message per event of any of the account's orders, each with the whole order
object. Paper sends binary frames, live text frames; both are JSON. Nothing is replayed: an event while no one
listens is lost, so the adapter listens before it sends.

The stream is a hint, never the record. An event is used only when it names an order we sent by its client id
and agrees with what we sent (symbol, side, quantity); its order goes through the same parser as a REST
answer, and what it says is the order's cumulative state, so a fill told twice (stream and poll) is still one
fill. An event that cannot be attributed or disagrees makes the whole connection doubtful, and every order is
then polled, as while the stream is down or silent (`watch` answers None and the caller asks by request).
"""

from __future__ import annotations

import json
import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from websockets.exceptions import WebSocketException
from websockets.sync.client import ClientConnection, connect

from reconciler.brokers.alpaca_answers import order_state
from reconciler.brokers.base import FINAL_ORDER_STATUSES, OrderRequest, OrderState
from reconciler.clock import Clock, await_signal, budget, current_deadline
from reconciler.errors import DeadlineExceeded, ReconcilerError
from reconciler.secrets.redact import untrusted
from reconciler.workspace.models import AlpacaBrokerConfig

log = logging.getLogger("reconciler.alpaca")
_FRAMES = logging.getLogger("reconciler.alpaca.stream_frames")
_FRAMES.disabled = True  # websockets logs each frame at DEBUG, and the first one carries the secret key
WHERE = "the trade_updates stream"
MAX_MESSAGE = 1 << 20  # bytes: an order event is about 1 kB
RETRY_SECONDS = 30.0  # a stream that went down is tried again no sooner: each try may cost a timeout


@dataclass
class Sent:
    """What we sent under a client id: what an event about it must agree with."""

    symbol: str
    side: str
    quantity: Decimal


@dataclass
class StreamStats:
    """What one connection did, for logs and tests."""

    events: int = 0  # trade_updates messages read
    used: int = 0  # events about an order we sent, trusted
    foreign: int = 0  # events about orders we did not send (another client's, a manual trade): ignored
    doubt: str | None = None  # why the connection is no longer trusted
    notes: list[str] = field(default_factory=list)


class TradeUpdates:
    """One account's connection: `open` it before the first order, `expect` each order before sending it,
    `watch` an order for news. Thread-safe: a reader thread keeps each expected order's latest state."""

    def __init__(
        self, url: str, key: str, secret: str, *, timeout: float, clock: Clock, account: str
    ) -> None:
        self.url, self.account, self.clock, self.timeout = url, account, clock, timeout
        self._key, self._secret = key, secret
        self._ws: ClientConnection | None = None
        self._lock = threading.Lock()
        self._changed = threading.Event()
        self._sent: dict[str, Sent] = {}
        self._latest: dict[str, OrderState] = {}
        self.down: str | None = "not connected"  # why the stream cannot be used now; None while it can
        self.stats = StreamStats()

    def start(self) -> bool:
        """Connect, authenticate and listen, within the apply's deadline; False (and polling) when any step
        fails."""
        try:
            ws = connect(
                self.url,
                open_timeout=budget(self.timeout, f"connecting to {WHERE}"),
                close_timeout=1,
                # a connection, not a context
                proxy=None,
                max_size=MAX_MESSAGE,
                logger=_FRAMES,
                legacy=True,
            )
        except (OSError, WebSocketException, TimeoutError, DeadlineExceeded) as exc:
            return self._fail(f"cannot connect ({type(exc).__name__}: {untrusted(str(exc), 120)})")
        try:
            ws.send(
                json.dumps(
                    {"action": "authenticate", "data": {"key_id": self._key, "secret_key": self._secret}}
                )
            )
            answer = _message(ws.recv(timeout=budget(self.timeout, f"authenticating to {WHERE}")))
            if answer.get("stream") != "authorization" or _data(answer).get("status") != "authorized":
                ws.close()
                return self._fail(f"not authorized ({untrusted(json.dumps(answer), 120)})")
            ws.send(json.dumps({"action": "listen", "data": {"streams": ["trade_updates"]}}))
            answer = _message(ws.recv(timeout=budget(self.timeout, f"listening to {WHERE}")))
            streams = _data(answer).get("streams")
            if (
                answer.get("stream") != "listening"
                or not isinstance(streams, list)
                or "trade_updates" not in streams
            ):
                ws.close()
                return self._fail(f"not listening to trade_updates ({untrusted(json.dumps(answer), 120)})")
        except (OSError, WebSocketException, TimeoutError, ValueError, DeadlineExceeded) as exc:
            ws.close()
            return self._fail(f"the handshake failed ({type(exc).__name__}: {untrusted(str(exc), 120)})")
        with self._lock:
            self._ws, self.down = ws, None
        threading.Thread(
            target=self._read, args=(ws,), name=f"trade-updates-{self.account}", daemon=True
        ).start()
        log.info("listening to the trade_updates stream", extra={"account": self.account})
        return True

    def close(self) -> None:
        """Close the connection; the orders it watched fall back to polling."""
        with self._lock:
            ws, self._ws = self._ws, None
            self.down = "closed"
        if ws is not None:
            ws.close()
        self._changed.set()

    def usable(self) -> bool:
        """Whether the stream can be believed now; when not, the caller polls."""
        with self._lock:
            return self.down is None and self.stats.doubt is None

    def expect(self, cid: str, symbol: str, side: str, quantity: Decimal) -> None:
        """Before an order is sent: its events are to be read, and must agree with this."""
        with self._lock:
            self._sent[cid] = Sent(symbol, side, quantity)

    def watch(self, known: OrderState, seconds: float) -> OrderState | None:
        """The order's state once the stream tells more than `known` (more filled, or another status), waiting
        up to `seconds`; None when it does not within them, or cannot be trusted: the caller then asks by
        request."""
        cid = known.client_order_id
        end = self.clock.monotonic() + seconds
        while True:
            with self._lock:
                if self.down is not None or self.stats.doubt is not None:
                    return None
                got = self._latest.get(cid)
                if got is not None and _news(got, known):
                    return got
                self._changed.clear()
            left = end - self.clock.monotonic()
            if left <= 0:
                return None
            await_signal(self.clock, self._changed, left, f"waiting for order {cid} on {WHERE}")

    def _fail(self, why: str) -> bool:
        with self._lock:
            self.down = why
        log.warning("the trade_updates stream is not used; fills are polled", extra={
            "account": self.account, "reason": why})
        return False

    def _read(self, ws: ClientConnection) -> None:
        """The reader thread: every message until the connection ends (then the stream is down: polling)."""
        try:
            for raw in ws:
                self._take(raw)
        except (OSError, WebSocketException, ValueError) as exc:
            why = f"the connection ended ({type(exc).__name__})"
        else:
            why = "the connection was closed"
        with self._lock:
            ours = self._ws is ws  # not closed by us (close() lets go of it first)
            if ours:
                self._ws, self.down = None, why
        if ours:
            log.warning("the trade_updates stream ended; fills are polled",
                        extra={"account": self.account, "reason": why})
        self._changed.set()

    def _take(self, raw: str | bytes) -> None:
        try:
            msg = _message(raw)
        except ValueError:
            self._doubt("a message that is not a JSON object")
            return
        if msg.get("stream") != "trade_updates":
            return  # an acknowledgement (a listening message): nothing about orders
        data = _data(msg)
        order = data.get("order")
        cid = order.get("client_order_id") if isinstance(order, dict) else None
        with self._lock:
            self.stats.events += 1
        if not isinstance(cid, str) or not cid:
            self._doubt(f"a {untrusted(str(data.get('event')), 40)} event without the order's client id")
            return
        with self._lock:
            sent = self._sent.get(cid)
            if sent is None:
                self.stats.foreign += 1
                return
        try:
            state = order_state(order, WHERE)
        except ReconcilerError as exc:
            self._doubt(f"an event about order {cid} that cannot be true ({exc.message})")
            return
        if (state.symbol, state.side, state.quantity) != (sent.symbol, sent.side, sent.quantity):
            self._doubt(
                f"an event about order {cid} that disagrees with what we sent: {state.side} {state.quantity}"
                f" {untrusted(state.symbol, 20)}, not {sent.side} {sent.quantity} {sent.symbol}"
            )
            return
        with self._lock:
            before = self._latest.get(cid)
            if before is None or before.filled_quantity <= state.filled_quantity:  # never backwards
                self._latest[cid] = state
            self.stats.used += 1
        self._changed.set()

    def _doubt(self, why: str) -> None:
        with self._lock:
            first = self.stats.doubt is None
            self.stats.doubt = self.stats.doubt or why
        if first:
            log.warning("the trade_updates stream told something that cannot be trusted; fills are polled",
                        extra={"account": self.account, "reason": why})
        self._changed.set()


class Streams:
    """Each account's stream in one adapter: opened before the account's first order, again (before a later
    order) at most every RETRY_SECONDS after it went down, never again once it told something doubtful."""

    def __init__(self, spec: AlpacaBrokerConfig, clock: Clock) -> None:
        self.spec, self.clock = spec, clock
        self._lock = threading.Lock()
        # each account's stream, and when it was opened
        self._held: dict[str, tuple[TradeUpdates, float]] = {}

    def get(self, account: str) -> TradeUpdates | None:
        """The account's stream, if one is open."""
        with self._lock:
            held = self._held.get(account)
        return None if held is None else held[0]

    def before_send(self, account: str, headers: Callable[[], dict[str, str]], order: OrderRequest,
                    quantity: Decimal) -> None:
        """Listen on the account's stream (Alpaca replays nothing) and expect this order on it, as it will be
        sent; nothing when streaming is off or the stream cannot be used (the order is then polled)."""
        stream = self._usable(account, headers)
        if stream is not None:
            stream.expect(order.client_order_id, order.symbol, order.side, quantity)

    def watch(self, account: str, known: OrderState, seconds: float) -> OrderState | None:
        """The order's next state from the stream, waiting up to `seconds` (at most the silence bound); None
        when the stream is off, down, doubtful or silent: the caller polls."""
        stream = self.get(account)
        if stream is None or not stream.usable():
            return None
        return stream.watch(known, min(seconds, self.spec.stream_silence_seconds))

    def close(self) -> None:
        """Close every account's stream."""
        with self._lock:
            held, self._held = self._held, {}
        for stream, _ in held.values():
            stream.close()

    def _usable(self, account: str, headers: Callable[[], dict[str, str]]) -> TradeUpdates | None:
        if not self.spec.stream:
            return None
        with self._lock:
            held = self._held.get(account)
        if held is not None:
            stream, opened = held
            if stream.usable():
                return stream
            if stream.stats.doubt is not None or self.clock.monotonic() - opened < RETRY_SECONDS:
                return None
            stream.close()
        # The handshake (a connect and two answers, each within timeout_seconds) must not eat the time the
        # order's send was promised: without room for both, the order is sent and polled.
        if current_deadline().left() <= self.spec.longest_send_seconds() + 3 * self.spec.timeout_seconds:
            return None
        creds = headers()
        stream = TradeUpdates(
            self.spec.trade_updates_url(),
            creds["APCA-API-KEY-ID"],
            creds["APCA-API-SECRET-KEY"],
            timeout=self.spec.timeout_seconds,
            clock=self.clock,
            account=account,
        )
        with self._lock:
            self._held[account] = (stream, self.clock.monotonic())
        return stream if stream.start() else None


def _news(got: OrderState, known: OrderState) -> bool:
    """Whether the stream's state tells more than the caller knows: more filled, or the order's end."""
    if got.filled_quantity != known.filled_quantity:
        return got.filled_quantity > known.filled_quantity
    return got.status in FINAL_ORDER_STATUSES and known.status not in FINAL_ORDER_STATUSES


def _message(raw: str | bytes) -> dict[str, Any]:
    msg = json.loads(raw)
    if not isinstance(msg, dict):
        raise ValueError("not a JSON object")
    return msg


def _data(msg: dict[str, Any]) -> dict[str, Any]:
    data = msg.get("data")
    return data if isinstance(data, dict) else {}
