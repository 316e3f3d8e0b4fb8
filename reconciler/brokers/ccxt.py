"""Crypto exchanges through the ccxt library: spot balances as positions, limit (or market) orders by client
id.

A position symbol is a base currency (`BTC`) traded on its market against `quote_currency` (`BTC/USDT`); the
quote currency's balance is the cash. ccxt does the exchange-specific work (signing, endpoints, market
metadata, precision); this adapter adds what apply needs on top, the same way as the Alpaca adapter:

- one token bucket per account, fed by the exchange's own 429s (`Retry-After`), instead of ccxt's throttler,
  so both adapters obey the server in one way; and per API host (one IP's budget, shared by every account) the
  request weight the exchange reports and any ban (ccxt_limits): a 418 stops every account at once, naming the
  ban's end; a read waits out a 429 or a spent weight minute up to `rate_limit_max_wait_seconds`; an order
  never waits (a 429 refuses it as not placed: the next plan re-quotes it); Binance's -1021 is clock skew, not
  retried;
- reads retried with backoff (tenacity) on ccxt's OperationFailed family (timeouts, 5xx, "try again");
- an order submission is never resent: after a timeout, a dropped connection, a 5xx or Binance's -1007 it is
  looked up by its client order id once, and when not found its outcome is unknown (SendUnknownError: the
  intent stays `unknown` until the order shows up or the in-flight grace has passed). Binance refuses a reused
  newClientOrderId only while the earlier order is open, so a resend after a fill would be a second order;
- fees in whatever asset they are paid (BNB valued at its price when read), completed from the account's
  trades for the order when the answer has no fills (Binance's GET order never has);
- limit prices on the market's price precision, a buy's rounded down and a sell's up;
- quantities rounded down to the market's precision, and orders under the market's minimum amount or cost (the
  notional at the limit price, as Binance's NOTIONAL filter judges it) rejected here, before they are sent,
  with the reason (the next plan sees the same position and stays quiet if the gap is inside its band).

Spot crypto settles on the trade, so there is no unsettled cash; funds locked by open orders are `reserved`.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Callable, Iterable
from decimal import ROUND_DOWN, Decimal
from typing import Any

import ccxt

from reconciler.brokers.base import OrderRequest, OrderState
from reconciler.brokers.ccxt_answers import (
    cash,
    exchange_number,
    order_state,
    price_tick,
    third_fee_currencies,
    ticker_quotes,
)
from reconciler.brokers.ccxt_gate import CcxtGate
from reconciler.brokers.refusals import exception_text
from reconciler.clock import SYSTEM, Clock
from reconciler.core.fills import round_limit
from reconciler.core.models import Observation, Quote, Side
from reconciler.core.numbers import ZERO
from reconciler.errors import BrokerError, OrderRefusedError, SendUnknownError
from reconciler.secrets.resolve import SecretResolver
from reconciler.workspace.models import CcxtBrokerConfig

log = logging.getLogger("reconciler.ccxt")


class CcxtBroker:
    """A crypto exchange as a Broker: orders sized to the market's rules and sent once; every request of it
    goes through the gate (ccxt_gate), which holds the exchange objects and the limits."""

    # Observed one account at a time: the exchange's rate limit is per IP for public market data, which every
    # account shares, and ccxt's synchronous exchange objects are not meant for several threads.
    concurrency = 1

    def __init__(
        self, spec: CcxtBrokerConfig, secrets: SecretResolver, *, attempts: int = 6, clock: Clock = SYSTEM
    ) -> None:
        self.spec = spec
        self.clock = clock
        self.attempts = attempts
        self._gate = CcxtGate(spec, secrets, attempts=attempts, clock=clock)

    @property
    def rate_limited(self) -> int:
        """The 429s the exchange answered, for the tests and benchmarks that count them."""
        return self._gate.rate_limited

    def close(self) -> None:
        """Drop the exchange objects at the end of a command."""
        self._gate.close()

    def _markets(self, account: str) -> dict[str, Any]:
        markets: dict[str, Any] = self._gate.read(account, "the market list", lambda x: x.load_markets())
        return markets

    def _market(self, symbol: str) -> str:
        return f"{symbol}/{self.spec.quote_currency}"

    def _order_state(
        self, o: dict[str, Any], client_order_id: str | None = None, request: OrderRequest | None = None
    ) -> OrderState:
        """An order in a listing (ccxt_answers.order_state): its fees in a third currency are not valued."""
        return order_state(o, self.spec.quote_currency, client_order_id, request)

    def _recorded_state(
        self, account: str, o: dict[str, Any], client_order_id: str, request: OrderRequest | None = None
    ) -> OrderState:
        """An order as the journal records it: every fill's fee, in whatever asset it was paid, valued in
        cash. Binance reports fees only with fills: a new order's answer has its first fills, GET order none;
        so an order that has filled without fees in the answer gets them from the account's trades for that
        order."""
        filled = exchange_number(o.get("filled"), "filled")
        exchange, _ = self._gate.exchange(account)
        by_order = str(exchange.id).startswith("binance")  # `orderId` on myTrades is Binance's parameter
        if by_order and filled > 0 and not o.get("trades") and o.get("id") and o.get("symbol"):
            trades = self._gate.read(
                account,
                f"the trades of order {client_order_id}",
                lambda x: x.fetch_my_trades(o["symbol"], None, None, {"orderId": o["id"]}),
            )
            o = o | {"fees": [t["fee"] for t in trades if t.get("fee")], "fee": None}
        third = third_fee_currencies(o, self.spec.quote_currency)
        prices = {q.symbol: q.price for q in self.quotes(account, sorted(third)).values()} if third else {}
        return order_state(o, self.spec.quote_currency, client_order_id, request, fee_prices=prices)

    # ---- Broker protocol ----
    def _positions(self, account: str, balance: dict[str, Any]) -> dict[str, Decimal]:
        """Non-zero balances of coins with a market against the cash currency; others are logged and left
        out."""
        markets = self._markets(account)
        positions: dict[str, Decimal] = {}
        for ccy, total in (balance.get("total") or {}).items():
            amount = exchange_number(total, f"balance of {ccy}")
            if ccy == self.spec.quote_currency or amount == 0:
                continue
            if self._market(ccy) not in markets:
                log.warning(
                    "holding without a market against the cash currency is ignored",
                    extra={"account": account, "symbol": ccy, "market": self._market(ccy)},
                )
                continue
            positions[ccy] = amount
        return positions

    def observe(self, account: str, symbols: Iterable[str]) -> Observation:
        """Balances as positions and cash, open orders, and quotes for every symbol."""
        balance = self._gate.read(account, "the balance", lambda x: x.fetch_balance())
        positions = self._positions(account, balance)
        settled, reserved, warning = cash(balance, self.spec.quote_currency)
        opened = self._gate.read(account, "open orders", lambda x: x.fetch_open_orders())
        open_orders = [self._order_state(o) for o in opened]
        wanted = sorted(set(symbols) | set(positions) | {o.symbol for o in open_orders})
        return Observation(
            account=account, taken_at=self.clock.now(), positions=positions, cash_settled=settled,
            cash_unsettled=ZERO, cash_reserved=reserved, quotes=self.quotes(account, wanted),
            open_orders={o.symbol: o.client_order_id for o in open_orders}, cash_warning=warning,
            cash_untrusted=warning,  # a total that is not free plus locked: no figure of it is believed
        )

    def quotes(self, account: str, symbols: list[str]) -> dict[str, Quote]:
        """Tickers of the symbols' markets against the cash currency."""
        markets = self._markets(account)
        wanted = [self._market(s) for s in symbols if self._market(s) in markets]
        if not wanted:
            return {}
        tickers = self._gate.read(account, "tickers", lambda x: x.fetch_tickers(wanted))
        return ticker_quotes(tickers, self.clock.now)

    def _rejected(self, order: OrderRequest, quantity: Decimal, reason: str) -> OrderState:
        return OrderState(
            client_order_id=order.client_order_id, broker_order_id="", symbol=order.symbol, side=order.side,
            quantity=quantity, filled_quantity=ZERO, avg_price=None, commission=ZERO, status="rejected",
            reject_reason=reason,
        )

    def _sized(self, account: str, order: OrderRequest) -> tuple[Decimal, str | None]:
        """The quantity the market accepts (rounded down to its precision), or why the order cannot be
        sent."""
        markets = self._markets(account)
        market_id = self._market(order.symbol)
        market = markets.get(market_id)
        if market is None:
            return order.quantity, f"the exchange has no market {market_id}"
        exchange, _ = self._gate.exchange(account)
        try:
            quantity = Decimal(exchange.amount_to_precision(market_id, float(order.quantity)))
        except ccxt.BaseError as exc:  # ccxt refuses an amount below the market's precision outright
            return ZERO, f"{order.quantity} {order.symbol} is below the market's precision ({exc})"
        quantity = min(quantity, order.quantity).quantize(Decimal("1e-12"), ROUND_DOWN).normalize()
        limits = market.get("limits") or {}
        min_amount = (limits.get("amount") or {}).get("min")
        if quantity <= 0 or (min_amount and quantity < exchange_number(min_amount, "minimum amount")):
            return quantity, (f"{order.quantity} {order.symbol} is under the market's minimum amount"
                              f" {min_amount}")
        min_cost = (limits.get("cost") or {}).get("min")
        if min_cost:
            # Binance's NOTIONAL filter judges a limit order at its limit price, a market order at the
            # 5-minute average price.
            if order.limit_price is not None:
                price: Decimal | None = self._limit(account, order.side, market_id, order.limit_price)
            else:
                price = self._average_price(account, market)
            if price is not None and quantity * price < exchange_number(min_cost, "minimum cost"):
                return quantity, (
                    f"{quantity} {order.symbol} at {price} is under the market's minimum order value"
                    f" {min_cost}"
                )
        return quantity, None

    def _average_price(self, account: str, market: dict[str, Any]) -> Decimal | None:
        """The price a market order's notional is judged at: Binance's average over the NOTIONAL filter's
        `avgPriceMins` (GET /api/v3/avgPrice); on other exchanges the last price."""
        average = getattr(self._gate.exchange(account)[0], "public_get_avgprice", None)
        if average is None:
            quote = self.quotes(account, [market["base"]]).get(market["base"])
            return None if quote is None else quote.price
        answer = self._gate.read(
            account,
            f"the average price of {market['symbol']}",
            lambda x: x.public_get_avgprice({"symbol": market["id"]}),
        )
        return exchange_number(answer.get("price"), f"average price of {market['symbol']}")

    def _limit(self, account: str, side: Side, market_id: str, limit: Decimal) -> Decimal:
        """The limit on the market's price precision, rounded the safe way (a buy's down, a sell's up): ccxt's
        own rounding only truncates or rounds to nearest."""
        market = self._markets(account)[market_id]
        exchange, _ = self._gate.exchange(account)
        precision = (market.get("precision") or {}).get("price")
        if precision is None:
            return limit
        return round_limit(side, limit, price_tick(exchange.precisionMode, precision, limit, market_id))

    def submit(self, account: str, order: OrderRequest) -> OrderState:
        """Size the order to the market's rules and send it once; no answer is SendUnknownError."""
        waited = self._gate.waited
        quantity, refused = self._sized(account, order)
        if refused:
            return self._rejected(order, quantity, refused)
        # the reads sizing it waited for the exchange's limits: its quote is stale
        if self._gate.waited > waited:
            raise OrderRefusedError(
                f"order {order.client_order_id} was not placed: the exchange's rate limits held it"
                f" {self._gate.waited - waited:.0f}s, so its quote and checks are stale",
                where=f"account {account}",
                fix="the next plan re-quotes and re-checks it; lower broker.rate_limit_per_second",
            )
        market = self._market(order.symbol)
        cid = order.client_order_id
        kind, price = "market", None
        if order.limit_price is not None:
            # Good till cancelled: apply cancels what is left at its fill timeout, as for a day order.
            kind, price = "limit", float(self._limit(account, order.side, market, order.limit_price))
        # One call, never resent: Binance refuses a known newClientOrderId only while that order is open, so a
        # resend after no answer would be a second order once the first has filled. No answer is
        # SendUnknownError. Nothing is waited out inside it (a 429, a spent weight budget, a ban): see _call.
        try:
            placed = self._gate.call(account, lambda x: x.create_order(
                market, kind, order.side, float(quantity), price, {"clientOrderId": cid}
            ), sending=cid)
        except (ccxt.InsufficientFunds, ccxt.InvalidOrder, ccxt.BadRequest, ccxt.PermissionDenied) as exc:
            # Exchanges word a duplicate client id like a refusal (Binance: -2010, as for missing funds): an
            # order under our id means this one arrived, so it is that order, not a rejection.
            found = self.get_order(account, cid, order.symbol)
            if found is not None:
                return found
            if isinstance(exc, ccxt.DuplicateOrderId) or "duplicate" in str(exc).lower():
                raise SendUnknownError(
                    f"the exchange says order {cid} exists but does not show it", where=f"account {account}",
                    fix="`reconciler reconcile` later finds it and adopts it",
                ) from None
            # Binance -1013: a symbol filter refused it, nothing placed
            if "filter failure" in str(exc).lower():
                raise OrderRefusedError(
                    f"order {cid} was refused by the exchange's filters: {exception_text(exc)}",
                    where=f"account {account}", fix="the next plan sizes it again from fresh market rules",
                ) from None
            return self._rejected(order, quantity, exception_text(exc))
        except ccxt.BaseError as exc:  # timeouts, 5xx, -1007 "execution status unknown", anything unexpected
            log.warning(
                "order submission outcome unknown (%s); looking it up", type(exc).__name__,
                extra={"account": account, "client_order_id": cid},
            )
            with contextlib.suppress(BrokerError):
                found = self.get_order(account, cid, order.symbol)
                if found is not None:
                    return found
            raise SendUnknownError(
                f"order {cid} was sent without a definitive answer ({type(exc).__name__}); the exchange may"
                " still"
                " execute it", where=f"account {account}",
                fix="`reconciler reconcile` adopts it if it arrived, or marks it failed after the grace",
            ) from None
        return self._recorded_state(account, placed, cid, OrderRequest(
            client_order_id=cid, symbol=order.symbol, side=order.side, quantity=quantity
        ))

    def get_order(self, account: str, client_order_id: str, symbol: str | None = None) -> OrderState | None:
        """The order with this client id on its market, with every fee valued in cash."""
        if symbol is None:
            raise BrokerError(
                f"looking up order {client_order_id} needs its symbol on a crypto exchange",
                where=f"account {account}", fix="this is a bug in the caller; report it",
            )
        market = self._market(symbol)

        def fetch(x: Any) -> dict[str, Any] | None:
            try:
                found: dict[str, Any] = x.fetch_order(None, market, {"clientOrderId": client_order_id})
                return found
            except ccxt.OrderNotFound:
                return None
            except ccxt.ExchangeError as exc:  # ccxt maps -2026 to ExchangeError or InvalidOrder by version
                if '"code":-2026' not in str(exc).replace(" ", ""):
                    raise
                # Binance: "Order was canceled or expired with no executed qty over 90 days ago and has been
                # archived." It did nothing, and the exchange no longer holds it: as an order never received.
                log.info("order archived by the exchange: it executed nothing", extra={
                    "account": account, "client_order_id": client_order_id})
                return None

        o = self._gate.read(account, f"order {client_order_id}", fetch)
        return None if o is None else self._recorded_state(account, o, client_order_id)

    def watch(self, account: str, known: OrderState, seconds: float) -> OrderState | None:
        """No push stream here: the caller polls."""
        return None

    def cancel(self, account: str, client_order_id: str, symbol: str | None = None) -> OrderState | None:
        """Cancel what is left of an order and return its state afterwards."""
        state = self.get_order(account, client_order_id, symbol)
        if state is None or state.status in ("filled", "canceled", "rejected"):
            return state
        market = self._market(state.symbol)
        for _ in range(self.attempts):
            try:
                self._gate.call(account, lambda x: x.cancel_order(state.broker_order_id, market))
                break
            except ccxt.OrderNotFound:
                break  # filled or cancelled meanwhile: the lookup below says which
            except ccxt.OperationFailed:
                continue
        return self.get_order(account, client_order_id, symbol)

    def list_orders(self, account: str, symbols: Iterable[str] = ()) -> list[OrderState]:
        """Open orders everywhere, and recent orders on the markets of what the account holds or may have
        traded (`symbols`); exchanges list closed orders per market only."""
        balance = self._gate.read(account, "the balance", lambda x: x.fetch_balance())
        markets = self._markets(account)
        wanted = set(self._positions(account, balance)) | set(symbols)
        held = sorted(m for m in {self._market(c) for c in wanted} if m in markets)
        seen: dict[str, OrderState] = {}
        for o in self._gate.read(account, "open orders", lambda x: x.fetch_open_orders()):
            state = self._order_state(o)
            seen[state.broker_order_id] = state
        for market in held:
            for o in self._gate.read(account, f"orders on {market}", _orders_on(market)):
                state = self._order_state(o)
                seen.setdefault(state.broker_order_id, state)
        return list(seen.values())


def _orders_on(market: str) -> Callable[[Any], list[dict[str, Any]]]:
    def fetch(exchange: Any) -> list[dict[str, Any]]:
        orders: list[dict[str, Any]] = exchange.fetch_orders(market, limit=500)
        return orders

    return fetch
