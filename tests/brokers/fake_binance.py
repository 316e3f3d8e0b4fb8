"""A fake crypto exchange on 127.0.0.1 speaking the subset of Binance's spot REST API (v3) that ccxt's `binance`
class calls for the ccxt adapter: exchange info, account balances, 24h tickers, orders by client id, open and
all orders, cancel. Market orders fill at once at the last price, or in `fill_steps` partial fills one per
request that reads them; a LIMIT order only while the price the market executes at (the last price moved
`adverse_move` against it) is at or better than its limit, which must be on the 0.01 tick (PRICE_FILTER).
Faults: `drop_next_orders` (accept an order, then drop the connection: the ghost order), `unanswered_next_orders`
(accept and execute an order, then answer 408 -1007, Binance's "Send status unknown; execution status unknown"),
`error_next_orders` (503 on a new order, not placed), `hidden_lookups` (the next lookups of an order by id answer
-2013 although it exists: the order book ahead of what a query sees), `throttle_next` (429 with Retry-After),
`error_next` (503).

It checks what a real exchange would refuse: a client order id reused while its earlier order is still open
(-2010 "Duplicate order sent."; Binance accepts the id again once that order is closed: "Orders with the same
newClientOrderID can be accepted only when the previous one is filled", developers.binance.com, spot REST API,
New order), a quantity off the lot step or under the minimum (-1013), an order over the free balance (-2010
insufficient balance).
"""

from __future__ import annotations

import itertools
import json
import threading
import time
from dataclasses import dataclass, field
from decimal import Decimal
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlparse

ZERO = Decimal(0)


@dataclass
class FakeOrder:
    order_id: int
    client_order_id: str
    symbol: str
    side: str
    qty: Decimal
    limit: Decimal | None = None
    executed: Decimal = ZERO
    quote_qty: Decimal = ZERO
    status: str = "NEW"
    time_ms: int = field(default_factory=lambda: int(time.time() * 1000))
    fills: list[dict[str, str]] = field(default_factory=list)

    def json(self, full: bool = False) -> dict[str, Any]:
        """The order as GET /api/v3/order shows it; `full`: as the new-order answer (newOrderRespType FULL), with
        its fills and their commissions (the only place Binance reports an order's fees)."""
        return ({"fills": list(self.fills)} if full else {}) | {
            "symbol": self.symbol, "orderId": self.order_id, "orderListId": -1, "clientOrderId": self.client_order_id,
            "price": str(self.limit or "0.00000000"), "origQty": str(self.qty), "executedQty": str(self.executed),
            "cummulativeQuoteQty": str(self.quote_qty), "status": self.status, "timeInForce": "GTC",
            "type": "MARKET" if self.limit is None else "LIMIT", "side": self.side, "stopPrice": "0.0",
            "icebergQty": "0.0", "time": self.time_ms,
            "updateTime": self.time_ms, "isWorking": True, "origQuoteOrderQty": "0.00000000",
            "transactTime": self.time_ms, "workingTime": self.time_ms, "selfTradePreventionMode": "NONE",
        }


class FakeBinance:
    """The exchange's books: balances, prices, orders. Thread-safe; every request takes the lock."""

    def __init__(
        self, balances: dict[str, Decimal], prices: dict[str, tuple[Decimal, Decimal]], quote: str = "USDT",
        step: Decimal = Decimal("0.0001"), min_qty: Decimal = Decimal("0.0001"), min_notional: Decimal = Decimal(5),
    ) -> None:
        self.balances = dict(balances)
        self.locked: dict[str, Decimal] = {}
        self.prices = dict(prices)  # base -> (last, open 24h ago)
        self.quote = quote
        self.step, self.min_qty, self.min_notional = step, min_qty, min_notional
        self.orders: list[FakeOrder] = []
        self.ids = itertools.count(1000)
        self.lock = threading.Lock()
        self.fill_steps = 1
        self.drop_next_orders = 0
        self.unanswered_next_orders = 0
        self.error_next_orders = 0
        self.hidden_lookups = 0
        self.throttle_next = 0
        self.error_next = 0
        self.requests: list[str] = []
        self.url = ""  # set by FakeBinanceServer
        self.adverse_move = ZERO  # a fast market: every order executes this fraction worse than the last price
        self.fee_in_base = ZERO  # a buy's fee, as a fraction of the coin bought, kept from it (no BNB to pay with)

    def _market(self, symbol: str) -> str:
        return symbol.removesuffix(self.quote)

    def _error(self, status: int, code: int, msg: str) -> tuple[int, Any]:
        return status, {"code": code, "msg": msg}

    def _advance(self, o: FakeOrder) -> None:
        """One step of filling an open order at the current price."""
        if o.status not in ("NEW", "PARTIALLY_FILLED"):
            return
        base = self._market(o.symbol)
        last = self.prices[base][0]
        price = last * (1 + self.adverse_move) if o.side == "BUY" else last * (1 - self.adverse_move)
        if o.limit is not None and (price > o.limit if o.side == "BUY" else price < o.limit):
            return  # rests on the book
        part = (o.qty / self.fill_steps).quantize(self.step) if self.fill_steps > 1 else o.qty
        part = min(part, o.qty - o.executed)
        cost = part * price
        fee, asset = ZERO, self.quote
        if o.side == "BUY":
            fee, asset = part * self.fee_in_base, base
            held = part * (o.limit or last)  # what was locked for this part; the rest of it comes back
            self.locked[self.quote] = self.locked.get(self.quote, ZERO) - held
            self.balances[self.quote] = self.balances.get(self.quote, ZERO) + held - cost
            self.balances[base] = self.balances.get(base, ZERO) + part - fee
        else:
            self.locked[base] = self.locked.get(base, ZERO) - part
            self.balances[self.quote] = self.balances.get(self.quote, ZERO) + cost
        o.fills.append({"price": str(price), "qty": str(part), "commission": str(fee), "commissionAsset": asset,
                        "tradeId": str(len(o.fills) + 1)})
        o.executed += part
        o.quote_qty += cost
        o.status = "FILLED" if o.executed == o.qty else "PARTIALLY_FILLED"

    def _release(self, o: FakeOrder) -> None:
        base, left = self._market(o.symbol), o.qty - o.executed
        ccy, amount = (self.quote, left * (o.limit or self.prices[base][0])) if o.side == "BUY" else (base, left)
        self.locked[ccy] = self.locked.get(ccy, ZERO) - amount
        self.balances[ccy] = self.balances.get(ccy, ZERO) + amount

    def handle(self, method: str, path: str, params: dict[str, str]) -> tuple[int, Any]:
        with self.lock:
            self.requests.append(f"{method} {path}")
            if self.throttle_next > 0:
                self.throttle_next -= 1
                return self._error(429, -1003, "Too many requests.")
            if self.error_next > 0:
                self.error_next -= 1
                return 503, {"code": -1001, "msg": "Service unavailable."}
            return self._route(method, path, params)

    def _route(self, method: str, path: str, params: dict[str, str]) -> tuple[int, Any]:
        if path == "/api/v3/exchangeInfo":
            return 200, {"timezone": "UTC", "serverTime": int(time.time() * 1000), "rateLimits": [],
                         "symbols": [self._info(base) for base in sorted(self.prices)]}
        if path == "/api/v3/time":
            return 200, {"serverTime": int(time.time() * 1000)}
        if path == "/api/v3/account":
            names = sorted(set(self.balances) | set(self.locked))
            return 200, {"canTrade": True, "accountType": "SPOT", "updateTime": int(time.time() * 1000),
                         "balances": [{"asset": a, "free": str(self.balances.get(a, ZERO)),
                                       "locked": str(self.locked.get(a, ZERO))} for a in names]}
        if path == "/api/v3/ticker/24hr":
            wanted = json.loads(params["symbols"]) if "symbols" in params else [b + self.quote for b in self.prices]
            return 200, [self._ticker(self._market(s)) for s in wanted if self._market(s) in self.prices]
        if path == "/api/v3/openOrders":
            for o in self.orders:
                self._advance(o)
            return 200, [o.json() for o in self.orders
                         if o.status in ("NEW", "PARTIALLY_FILLED") and params.get("symbol", o.symbol) == o.symbol]
        if path == "/api/v3/allOrders":
            return 200, [o.json() for o in self.orders if o.symbol == params.get("symbol")]
        if path == "/api/v3/order" and method == "POST":
            return self._new_order(params)
        if path == "/api/v3/order":
            # The latest order under a client id (an id is reused once its order is closed).
            found = [o for o in reversed(self.orders) if o.client_order_id == params.get("origClientOrderId")
                     or str(o.order_id) == params.get("orderId")]
            if method == "GET" and self.hidden_lookups > 0:
                self.hidden_lookups -= 1
                found = []
            if not found:
                return self._error(400, -2013, "Order does not exist.")
            o = found[0]
            if method == "DELETE":
                if o.status not in ("NEW", "PARTIALLY_FILLED"):
                    return self._error(400, -2011, "Unknown order sent.")
                self._release(o)
                o.status = "CANCELED"
            else:
                self._advance(o)
            return 200, o.json()
        return self._error(404, -1100, f"no route {method} {path}")

    def _new_order(self, params: dict[str, str]) -> tuple[int, Any]:
        if self.error_next_orders > 0:
            self.error_next_orders -= 1
            return 503, {"code": -1001, "msg": "Service unavailable."}
        symbol, cid = params["symbol"], params.get("newClientOrderId", "")
        base = self._market(symbol)
        if base not in self.prices:
            return self._error(400, -1121, "Invalid symbol.")
        if any(o.client_order_id == cid and o.status in ("NEW", "PARTIALLY_FILLED") for o in self.orders):
            return self._error(400, -2010, "Duplicate order sent.")
        if len(cid) > 36:
            return self._error(400, -1100, "Illegal characters found in parameter 'newClientOrderId'.")
        qty = Decimal(params["quantity"])
        price = self.prices[base][0]
        limit = None
        if params.get("type") == "LIMIT":
            limit = Decimal(params["price"])
            if limit % Decimal("0.01") != 0 or params.get("timeInForce") not in ("GTC", "IOC", "FOK"):
                return self._error(400, -1013, "Filter failure: PRICE_FILTER")
            price = limit
        if qty < self.min_qty or qty % self.step != 0:
            return self._error(400, -1013, "Filter failure: LOT_SIZE")
        if qty * price < self.min_notional:
            return self._error(400, -1013, "Filter failure: NOTIONAL")
        side = params["side"]
        ccy, need = (self.quote, qty * price) if side == "BUY" else (base, qty)
        if self.balances.get(ccy, ZERO) < need:
            return self._error(400, -2010, "Account has insufficient balance for requested action.")
        self.balances[ccy] -= need
        self.locked[ccy] = self.locked.get(ccy, ZERO) + need
        o = FakeOrder(next(self.ids), cid, symbol, side, qty, limit)
        self.orders.append(o)
        self._advance(o)
        if self.drop_next_orders > 0:
            self.drop_next_orders -= 1
            return -1, None
        if self.unanswered_next_orders > 0:
            self.unanswered_next_orders -= 1
            return self._error(408, -1007, "Timeout waiting for response from backend server. Send status unknown;"
                               " execution status unknown.")
        return 200, o.json(full=True)

    def _info(self, base: str) -> dict[str, Any]:
        return {
            "symbol": base + self.quote, "status": "TRADING", "baseAsset": base, "baseAssetPrecision": 8,
            "quoteAsset": self.quote, "quotePrecision": 8, "quoteAssetPrecision": 8,
            "orderTypes": ["LIMIT", "MARKET"], "icebergAllowed": True, "ocoAllowed": True,
            "isSpotTradingAllowed": True, "isMarginTradingAllowed": False, "permissions": ["SPOT"],
            "permissionSets": [["SPOT"]],
            "filters": [
                {"filterType": "PRICE_FILTER", "minPrice": "0.01", "maxPrice": "1000000.00", "tickSize": "0.01"},
                {"filterType": "LOT_SIZE", "minQty": str(self.min_qty), "maxQty": "9000.0",
                 "stepSize": str(self.step)},
                {"filterType": "NOTIONAL", "minNotional": str(self.min_notional), "applyMinToMarket": True,
                 "maxNotional": "9000000.0", "applyMaxToMarket": False, "avgPriceMins": 5},
            ],
        }

    def _ticker(self, base: str) -> dict[str, Any]:
        last, open_ = self.prices[base]
        now = int(time.time() * 1000)
        return {"symbol": base + self.quote, "lastPrice": str(last), "openPrice": str(open_),
                "prevClosePrice": str(open_), "highPrice": str(max(last, open_)), "lowPrice": str(min(last, open_)),
                "volume": "1000", "quoteVolume": "1000000", "openTime": now - 86_400_000, "closeTime": now,
                "bidPrice": str(last), "askPrice": str(last), "count": 100}


class FakeBinanceServer:
    def __init__(self, exchange: FakeBinance) -> None:
        self.exchange = exchange
        handler = type("Handler", (_Handler,), {"exchange": exchange})
        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}"
        exchange.url = self.url
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)

    def start(self) -> None:
        self.thread.start()

    def stop(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


class _Handler(BaseHTTPRequestHandler):
    exchange: FakeBinance

    def log_message(self, format: str, *args: Any) -> None:
        return

    def _serve(self, method: str) -> None:
        url = urlparse(self.path)
        length = int(self.headers.get("content-length") or 0)
        body = self.rfile.read(length).decode() if length else ""
        params = {k: v[0] for k, v in parse_qs(url.query).items()}
        params.update({k: v[0] for k, v in parse_qs(body).items()})
        status, payload = self.exchange.handle(method, url.path, params)
        if status < 0:  # the ghost order: accepted, then the connection drops with no answer
            self.close_connection = True
            self.connection.close()
            return
        data = json.dumps(payload).encode()
        self.send_response(status)
        self.send_header("content-type", "application/json")
        self.send_header("content-length", str(len(data)))
        if status == 429:
            self.send_header("retry-after", "1")
        self.end_headers()
        self.wfile.write(data)

    def do_GET(self) -> None:
        self._serve("GET")

    def do_POST(self) -> None:
        self._serve("POST")

    def do_DELETE(self) -> None:
        self._serve("DELETE")
