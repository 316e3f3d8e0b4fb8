"""A fake crypto exchange on 127.0.0.1 speaking the subset of Binance's spot REST API (v3) that ccxt's
`binance` class calls for the ccxt adapter: exchange info, account balances, 24h tickers, orders by client id,
open and all orders, the account's trades, cancel. It answers in Binance's shapes, as recorded in
tests/fixtures/binance (which test_binance_recorded.py replays): every filter of exchangeInfo with 8-decimal
strings, every asset of the account (zero rows and Simple Earn `LD*` assets included), a bid/ask spread around
the last price, a fee on every fill (0.1% by default: a buy's in the coin bought, a sell's in the cash; in BNB
at 75% with `bnb_discount`), the statuses PENDING_NEW, EXPIRED (IOC), EXPIRED_IN_MATCH and REJECTED, cancel
answers naming origClientOrderId, and the X-MBX-USED-WEIGHT-1M / X-MBX-ORDER-COUNT-* headers on every answer.

Market orders fill at once at the book's side (a buy at the ask, a sell at the bid), or in `fill_steps`
partial fills one per request that reads them; a LIMIT order only while the price the market executes at (the
book's side moved `adverse_move` against it) is at or better than its limit, which must be on the 0.01 tick
(PRICE_FILTER). Faults: `drop_next_orders` (accept an order, then drop the connection: the ghost order),
`unanswered_next_orders` (accept and execute an order, then answer 408 -1007, Binance's "Send status unknown;
execution status unknown"), `error_next_orders` (503 on a new order, not placed), `hidden_lookups` (the next
lookups of an order by id answer -2013 although it exists: the order book ahead of what a query sees),
`throttle_next` (429 with Retry-After), `error_next` (503), `ban_next` (418 with the ban's end;
`ban_next_orders` on a new order), `skew_next` (-1021), `archived` (client ids whose lookup answers -2026),
`pending_next_orders` (answered PENDING_NEW, placed on the next read), `expire_in_match_next` (self-trade
prevention expires it: EXPIRED_IN_MATCH), `reject_next_orders` (REJECTED).

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
from typing import Any

from tests.brokers.binance_http import BinancePeer

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
    time_in_force: str = "GTC"
    time_ms: int = field(default_factory=lambda: int(time.time() * 1000))
    fills: list[dict[str, str]] = field(default_factory=list)

    def json(self, full: bool = False) -> dict[str, Any]:
        """The order as GET /api/v3/order shows it; `full`: as the new-order answer (newOrderRespType FULL),
        with its fills and their commissions (the only place Binance reports an order's fees)."""
        return ({"fills": list(self.fills)} if full else {}) | {
            "symbol": self.symbol, "orderId": self.order_id, "orderListId": -1,
            "clientOrderId": self.client_order_id,
            "price": str(self.limit or "0.00000000"), "origQty": str(self.qty),
            "executedQty": str(self.executed),
            "cummulativeQuoteQty": str(self.quote_qty), "status": self.status,
            "timeInForce": self.time_in_force,
            "type": "MARKET" if self.limit is None else "LIMIT", "side": self.side, "stopPrice": "0.0",
            "icebergQty": "0.0", "time": self.time_ms,
            "updateTime": self.time_ms, "isWorking": True, "origQuoteOrderQty": "0.00000000",
            "transactTime": self.time_ms, "workingTime": self.time_ms, "selfTradePreventionMode": "NONE",
        }


class FakeBinance:
    """The exchange's books: balances, prices, orders. Thread-safe; every request takes the lock."""

    def __init__(
        self, balances: dict[str, Decimal], prices: dict[str, tuple[Decimal, Decimal]], quote: str = "USDT",
        step: Decimal = Decimal("0.0001"), min_qty: Decimal = Decimal("0.0001"),
        min_notional: Decimal = Decimal(5),
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
        self.adverse_move = ZERO  # a fast market: every order executes this fraction worse than the book
        self.spread = Decimal("0.02")  # ask - bid, around the last price
        self.fee_rate = Decimal("0.001")  # Binance's standard spot rate
        self.bnb_discount = False  # fees paid in BNB at 75% of the rate, while the account holds enough BNB
        # Simple Earn holdings, listed among the balances
        self.earn = {"LDUSDT": Decimal("25"), "LDBTC": ZERO}
        self.ban_next = 0
        self.ban_next_orders = 0
        self.skew_next = 0
        self.archived: set[str] = set()
        self.pending_next_orders = 0
        self.expire_in_match_next = 0
        self.reject_next_orders = 0
        self.weight = 0  # request weight used this minute (never reset: tests are shorter than a minute)
        self.order_count = 0
        self.trades: list[dict[str, Any]] = []

    def _market(self, symbol: str) -> str:
        return symbol.removesuffix(self.quote)

    def _error(self, status: int, code: int, msg: str) -> tuple[int, Any]:
        return status, {"code": code, "msg": msg}

    def book(self, base: str) -> tuple[Decimal, Decimal]:
        """(bid, ask) around the last price."""
        last = self.prices[base][0]
        return last - self.spread / 2, last + self.spread / 2

    def _fee(self, base: str, side: str, part: Decimal, cost: Decimal) -> tuple[Decimal, str]:
        """Binance's fee for one fill: in BNB at 75% with the discount (while BNB covers it), else a buy's in
        the coin bought and a sell's in the cash."""
        if self.bnb_discount and "BNB" in self.prices:
            fee = (cost * self.fee_rate * Decimal("0.75") / self.prices["BNB"][0]).quantize(Decimal("1e-8"))
            if self.balances.get("BNB", ZERO) >= fee:
                self.balances["BNB"] -= fee
                return fee, "BNB"
        if side == "BUY":
            return (part * self.fee_rate).quantize(Decimal("1e-8")), base
        fee = (cost * self.fee_rate).quantize(Decimal("1e-8"))
        self.balances[self.quote] = self.balances.get(self.quote, ZERO) - fee
        return fee, self.quote

    def _advance(self, o: FakeOrder) -> None:
        """One step of filling an open order at the book's side."""
        if o.status == "PENDING_NEW":
            o.status = "NEW"
        if o.status not in ("NEW", "PARTIALLY_FILLED"):
            return
        base = self._market(o.symbol)
        bid, ask = self.book(base)
        price = ask * (1 + self.adverse_move) if o.side == "BUY" else bid * (1 - self.adverse_move)
        if o.limit is not None and (price > o.limit if o.side == "BUY" else price < o.limit):
            if o.time_in_force == "IOC":  # Immediate or cancel: what cannot fill now expires
                self._release(o)
                o.status = "EXPIRED"
            return  # rests on the book
        part = (o.qty / self.fill_steps).quantize(self.step) if self.fill_steps > 1 else o.qty
        part = min(part, o.qty - o.executed)
        cost = part * price
        fee, asset = self._fee(base, o.side, part, cost)
        if o.side == "BUY":
            # what was locked for this part; the rest comes back
            held = part * (o.limit or self.lock_price(base))
            self.locked[self.quote] = self.locked.get(self.quote, ZERO) - held
            self.balances[self.quote] = self.balances.get(self.quote, ZERO) + held - cost
            self.balances[base] = self.balances.get(base, ZERO) + part - (fee if asset == base else ZERO)
        else:
            self.locked[base] = self.locked.get(base, ZERO) - part
            self.balances[self.quote] = self.balances.get(self.quote, ZERO) + cost
        trade_id = len(self.trades) + 1
        o.fills.append(
            {
                "price": str(price),
                "qty": str(part),
                "commission": str(fee),
                "commissionAsset": asset,
                "tradeId": trade_id,
            }
        )
        self.trades.append({
            "symbol": o.symbol, "id": trade_id, "orderId": o.order_id, "orderListId": -1, "price": str(price),
            "qty": str(part), "quoteQty": str(cost), "commission": str(fee), "commissionAsset": asset,
            "time": int(time.time() * 1000), "isBuyer": o.side == "BUY", "isMaker": False,
            "isBestMatch": True,
        })
        o.executed += part
        o.quote_qty += cost
        o.status = "FILLED" if o.executed == o.qty else "PARTIALLY_FILLED"

    def lock_price(self, base: str) -> Decimal:
        """What a market buy locks per unit: the ask (and a fast market's move)."""
        return self.book(base)[1] * (1 + self.adverse_move)

    def _release(self, o: FakeOrder) -> None:
        base, left = self._market(o.symbol), o.qty - o.executed
        ccy, amount = (
            (self.quote, left * (o.limit or self.lock_price(base))) if o.side == "BUY" else (base, left)
        )
        self.locked[ccy] = self.locked.get(ccy, ZERO) - amount
        self.balances[ccy] = self.balances.get(ccy, ZERO) + amount

    def handle(self, method: str, path: str, params: dict[str, str]) -> tuple[int, Any]:
        with self.lock:
            self.requests.append(f"{method} {path}")
            self.weight += _weight(method, path, params)
            if self.ban_next > 0:
                return self.handle_ban()
            if self.throttle_next > 0:
                self.throttle_next -= 1
                return self._error(429, -1003, "Too much request weight used; current limit is 6000 request"
                                   " weight per 1 MINUTE. Please use WebSocket Streams for live updates to"
                                   " avoid polling the API.")
            if self.error_next > 0:
                self.error_next -= 1
                return 503, {"code": -1001, "msg": "Service unavailable."}
            if self.skew_next > 0 and "signature" in params:
                self.skew_next -= 1
                return self._error(400, -1021, "Timestamp for this request was 1000ms ahead of the server's"
                                   " time.")
            return self._route(method, path, params)

    def handle_ban(self) -> tuple[int, Any]:
        self.ban_next -= 1
        until = int(time.time() * 1000) + 120_000
        return self._error(418, -1003, f"Way too much request weight used; IP banned until {until}. Please"
                           " use"
                           " WebSocket Streams for live updates to avoid bans.")

    def headers(self, status: int) -> dict[str, str]:
        """Binance's limit headers, and Retry-After on a 429 or 418."""
        out = {"X-MBX-USED-WEIGHT-1M": str(self.weight), "X-MBX-ORDER-COUNT-10S": str(self.order_count),
               "X-MBX-ORDER-COUNT-1D": str(self.order_count)}
        if status in (418, 429):
            out["Retry-After"] = "1" if status == 429 else "120"
        return out

    def _route(self, method: str, path: str, params: dict[str, str]) -> tuple[int, Any]:
        if path == "/api/v3/exchangeInfo":
            return 200, {"timezone": "UTC", "serverTime": int(time.time() * 1000), "rateLimits": [],
                         "symbols": [self._info(base) for base in sorted(self.prices)]}
        if path == "/api/v3/avgPrice":  # the 5-minute average: a still market's is its last price
            base = self._market(params.get("symbol", ""))
            if base not in self.prices:
                return self._error(400, -1121, "Invalid symbol.")
            return 200, {
                "mins": 5,
                "price": f"{self.prices[base][0]:.8f}",
                "closeTime": int(time.time() * 1000),
            }
        if path == "/api/v3/time":
            return 200, {"serverTime": int(time.time() * 1000)}
        if path == "/api/v3/account":
            # Every asset, zero rows included (unless omitZeroBalances), Simple Earn's LD* among them.
            names = sorted(
                set(self.balances) | set(self.locked) | set(self.prices) | {self.quote} | set(self.earn)
            )
            rows = [{"asset": a, "free": f"{self.balances.get(a, self.earn.get(a, ZERO)):.8f}",
                     "locked": f"{self.locked.get(a, ZERO):.8f}"} for a in names]
            if params.get("omitZeroBalances") == "true":
                rows = [r for r in rows if Decimal(r["free"]) or Decimal(r["locked"])]
            rate = f"{self.fee_rate:.8f}"
            return 200, {
                "makerCommission": 10,
                "takerCommission": 10,
                "buyerCommission": 0,
                "sellerCommission": 0,
                "commissionRates": {
                    "maker": rate,
                    "taker": rate,
                    "buyer": "0.00000000",
                    "seller": "0.00000000",
                },
                "canTrade": True,
                "canWithdraw": True,
                "canDeposit": True,
                "brokered": False,
                "requireSelfTradePrevention": False,
                "preventSor": False,
                "accountType": "SPOT",
                "updateTime": int(time.time() * 1000),
                "balances": rows,
                "permissions": ["SPOT"],
                "uid": 354937868,
            }
        if path == "/api/v3/myTrades":
            wanted = [t for t in self.trades if t["symbol"] == params.get("symbol")]
            if "orderId" in params:
                wanted = [t for t in wanted if str(t["orderId"]) == params["orderId"]]
            return 200, wanted
        if path == "/api/v3/ticker/24hr":
            wanted = (
                json.loads(params["symbols"])
                if "symbols" in params
                else [b + self.quote for b in self.prices]
            )
            return 200, [self._ticker(self._market(s)) for s in wanted if self._market(s) in self.prices]
        if path == "/api/v3/openOrders":
            for o in self.orders:
                self._advance(o)
            return 200, [
                o.json()
                for o in self.orders
                if o.status in ("NEW", "PARTIALLY_FILLED") and params.get("symbol", o.symbol) == o.symbol
            ]
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
            if params.get("origClientOrderId") in self.archived:
                return self._error(400, -2026, "Order was canceled or expired with no executed qty over 90"
                                   " days ago and has been archived.")
            if not found:
                return self._error(400, -2013, "Order does not exist.")
            o = found[0]
            if method == "DELETE":
                if o.status not in ("NEW", "PARTIALLY_FILLED", "PENDING_NEW"):
                    return self._error(400, -2011, "Unknown order sent.")
                self._release(o)
                o.status = "CANCELED"
                # The cancel's answer: the order's own id as origClientOrderId, the cancel request's as
                # clientOrderId.
                return 200, {k: v for k, v in o.json().items() if k in _CANCEL_FIELDS} | {
                    "origClientOrderId": o.client_order_id, "clientOrderId": f"cancel{next(self.ids)}",
                    "transactTime": int(time.time() * 1000)}
            self._advance(o)
            return 200, o.json()
        return self._error(404, -1100, f"no route {method} {path}")

    def _new_order(self, params: dict[str, str]) -> tuple[int, Any]:
        if self.ban_next_orders > 0:
            self.ban_next_orders -= 1
            self.ban_next = 1
            return self.handle_ban()
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
        price = self.lock_price(base) if params["side"] == "BUY" else self.book(base)[0]
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
        self.order_count += 1
        o = FakeOrder(
            next(self.ids), cid, symbol, side, qty, limit, time_in_force=params.get("timeInForce", "GTC")
        )
        self.orders.append(o)
        if self.reject_next_orders > 0:
            self.reject_next_orders -= 1
            self._release(o)
            o.status = "REJECTED"
        elif self.expire_in_match_next > 0:  # self-trade prevention met one of the account's own orders
            self.expire_in_match_next -= 1
            self._release(o)
            o.status = "EXPIRED_IN_MATCH"
        elif self.pending_next_orders > 0:  # accepted, not yet on the book: the next read places it
            self.pending_next_orders -= 1
            o.status = "PENDING_NEW"
        else:
            self._advance(o)
        if self.drop_next_orders > 0:
            self.drop_next_orders -= 1
            return -1, None
        if self.unanswered_next_orders > 0:
            self.unanswered_next_orders -= 1
            return self._error(408, -1007, "Timeout waiting for response from backend server. Send status"
                               " unknown; execution status unknown.")
        return 200, o.json(full=True)

    def _info(self, base: str) -> dict[str, Any]:
        return {
            "symbol": base + self.quote,
            "status": "TRADING",
            "baseAsset": base,
            "baseAssetPrecision": 8,
            "quoteAsset": self.quote,
            "quotePrecision": 8,
            "quoteAssetPrecision": 8,
            "orderTypes": ["LIMIT", "MARKET"],
            "icebergAllowed": True,
            "ocoAllowed": True,
            "isSpotTradingAllowed": True,
            "isMarginTradingAllowed": False,
            "permissions": ["SPOT"],
            "permissionSets": [["SPOT"]],
            "filters": [
                {
                    "filterType": "PRICE_FILTER",
                    "minPrice": "0.01000000",
                    "maxPrice": "1000000.00000000",
                    "tickSize": "0.01000000",
                },
                {
                    "filterType": "LOT_SIZE",
                    "minQty": f"{self.min_qty:.8f}",
                    "maxQty": "9000.00000000",
                    "stepSize": f"{self.step:.8f}",
                },
                {"filterType": "ICEBERG_PARTS", "limit": 10},
                {
                    "filterType": "MARKET_LOT_SIZE",
                    "minQty": "0.00000000",
                    "maxQty": "100.00000000",
                    "stepSize": "0.00000000",
                },
                {
                    "filterType": "TRAILING_DELTA",
                    "minTrailingAboveDelta": 10,
                    "maxTrailingAboveDelta": 2000,
                    "minTrailingBelowDelta": 10,
                    "maxTrailingBelowDelta": 2000,
                },
                {
                    "filterType": "PERCENT_PRICE_BY_SIDE",
                    "bidMultiplierUp": "5",
                    "bidMultiplierDown": "0.2",
                    "askMultiplierUp": "5",
                    "askMultiplierDown": "0.2",
                    "avgPriceMins": 5,
                },
                {
                    "filterType": "NOTIONAL",
                    "minNotional": f"{self.min_notional:.8f}",
                    "applyMinToMarket": True,
                    "maxNotional": "9000000.00000000",
                    "applyMaxToMarket": False,
                    "avgPriceMins": 5,
                },
                {"filterType": "MAX_NUM_ORDERS", "maxNumOrders": 200},
                {"filterType": "MAX_NUM_ALGO_ORDERS", "maxNumAlgoOrders": 5},
            ],
        }

    def _ticker(self, base: str) -> dict[str, Any]:
        last, open_ = self.prices[base]
        now = int(time.time() * 1000)
        return {"symbol": base + self.quote, "lastPrice": str(last), "openPrice": str(open_),
                "prevClosePrice": str(open_), "highPrice": str(max(last, open_)),
                "lowPrice": str(min(last, open_)),
                "volume": "1000", "quoteVolume": "1000000", "openTime": now - 86_400_000, "closeTime": now,
                "bidPrice": f"{self.book(base)[0]:.8f}", "askPrice": f"{self.book(base)[1]:.8f}",
                "count": 100}


_CANCEL_FIELDS = (
    "symbol",
    "orderId",
    "orderListId",
    "price",
    "origQty",
    "executedQty",
    "cummulativeQuoteQty",
    "status",
    "timeInForce",
    "type",
    "side",
    "selfTradePreventionMode",
    "origQuoteOrderQty",
)


def _weight(method: str, path: str, params: dict[str, str]) -> int:
    """Binance's request weight of a call (spot REST API reference): open orders without a symbol are 80."""
    if path == "/api/v3/openOrders":
        return 6 if "symbol" in params else 80
    if path == "/api/v3/ticker/24hr":
        return 2 if "symbol" in params else 40
    return {
        "/api/v3/account": 20,
        "/api/v3/exchangeInfo": 20,
        "/api/v3/allOrders": 20,
        "/api/v3/myTrades": 20,
        "/api/v3/order": 1 if method != "GET" else 4,
    }.get(path, 1)


class FakeBinanceServer:
    def __init__(self, exchange: FakeBinance) -> None:
        self.exchange = exchange
        self.peer = BinancePeer(self._reply)
        self.url = self.peer.url
        exchange.url = self.url

    def _reply(
        self, method: str, path: str, params: dict[str, str]
    ) -> tuple[int, Any, dict[str, str]] | None:
        status, payload = self.exchange.handle(method, path, params)
        if status < 0:  # the ghost order: accepted, then the connection drops with no answer
            return None
        return status, payload, self.exchange.headers(status)

    def start(self) -> None:
        self.peer.start()

    def stop(self) -> None:
        self.peer.stop()
