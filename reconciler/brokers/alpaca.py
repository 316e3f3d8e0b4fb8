"""Alpaca Trading API v2 adapter over httpx, with rate limiting, retried reads and never-blind order
submission.

Reads (account, positions, orders, activities, snapshots) are idempotent: 429s wait for Retry-After, 5xx and
transport errors are retried with exponential backoff (tenacity). An order submission is not idempotent from
the client's side — a timeout or a dropped connection says nothing about whether the broker took it — so it is
never retried blindly: the order is looked up by its client_order_id first, and only resent (same id) when the
broker has never seen it. Alpaca refuses a second order with a known client id (422), which closes the last
gap. A send that ends without a definitive answer is SendUnknownError (its intent stays unknown); only a
definitive refusal is OrderRefusedError or a rejected order.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from decimal import ROUND_FLOOR
from typing import Any

import httpx

from reconciler.brokers.alpaca_answers import (
    check_flags,
    clock_date,
    clock_market,
    is_duplicate,
    json_of,
    order_state,
    reserved_cash,
    snapshot_quotes,
)
from reconciler.brokers.alpaca_cash import CashLedger
from reconciler.brokers.alpaca_feed import feed_source, feed_volumes
from reconciler.brokers.alpaca_http import AlpacaHttp, WindowClosed
from reconciler.brokers.alpaca_ledger import (
    LedgerStore,
    MemoryStore,
)
from reconciler.brokers.alpaca_stream import Streams
from reconciler.brokers.base import FINAL_ORDER_STATUSES as FINAL
from reconciler.brokers.base import OrderRequest, OrderState
from reconciler.brokers.payload import impossible, listing, mapping, number, reading
from reconciler.brokers.refusals import refusal
from reconciler.clock import SYSTEM, Clock, pause
from reconciler.core.fills import alpaca_tick, round_limit
from reconciler.core.models import Observation, Quote
from reconciler.core.numbers import ZERO
from reconciler.errors import BrokerError, OrderRefusedError, SendUnknownError
from reconciler.secrets.resolve import SecretResolver
from reconciler.workspace.models import ALPACA_SEND_ATTEMPTS, AlpacaBrokerConfig, send_pause

log = logging.getLogger("reconciler.alpaca")


class AlpacaBroker:
    """Alpaca as a Broker: the account's figures read and checked, orders sent never blindly; requests go
    through one pooled client with a bucket per account (alpaca_http). Thread-safe: plan observes accounts
    concurrently."""

    concurrency = 8  # accounts observed at once by `plan`; each account keeps to its own rate limit

    def __init__(
        self, spec: AlpacaBrokerConfig, secrets: SecretResolver, *, attempts: int = 8, clock: Clock = SYSTEM,
        ledgers: LedgerStore | None = None,
    ) -> None:
        self.spec = spec
        self.clock = clock
        self.attempts = attempts
        self._http = AlpacaHttp(spec, secrets, attempts=attempts, clock=clock, concurrency=self.concurrency)
        self._assets: dict[str, dict[str, Any]] = {}  # GET /v2/assets/{symbol}, once per process
        self._listed = False  # GET /v2/assets (all active US equities) was tried
        self.ledgers: LedgerStore = ledgers or MemoryStore()  # each account's ledger: cursor and window
        self._cash = CashLedger(
            spec, self.ledgers, lambda account, path, params: self._get(account, path, params)
        )
        # each account's trade_updates stream, opened before its first order
        self.streams = Streams(spec, clock)

    def close(self) -> None:
        """Close the HTTP client and the streams at the end of a command."""
        self._http.close()
        self.streams.close()

    def watch(self, account: str, known: OrderState, seconds: float) -> OrderState | None:
        """The order's next state from the trade_updates stream (alpaca_stream); None: the caller polls."""
        return self.streams.watch(account, known, seconds)

    def _get(self, account: str, path: str, params: dict[str, Any] | None = None, ok404: bool = False) -> Any:
        return self._http.read(account, self._t(path), params, ok404)

    def _t(self, path: str) -> str:
        return self.spec.trading_url + path

    # ---- Broker protocol ----
    def observe(self, account: str, symbols: Iterable[str]) -> Observation:
        """The account as Alpaca shows it, with settled cash from the ledger and quotes for every symbol."""
        acct = mapping(self._get(account, "/v2/account"), "GET /v2/account")
        where = "GET /v2/positions"
        with reading(where):
            positions = {
                str(p["symbol"]): number(p["qty"], f"{p['symbol']} qty", where)  # a short position is refused
                for p in listing(self._get(account, "/v2/positions"), where)
            }
        check_flags(account, acct)
        listed = listing(self._get(account, "/v2/orders", {"status": "open", "limit": 500}), "GET /v2/orders")
        open_orders = [order_state(o, "GET /v2/orders") for o in listed]
        clock = self._get(account, "/v2/clock")
        if clock is not None and not isinstance(clock, dict):
            raise impossible("GET /v2/clock", f"expected a JSON object, got {type(clock).__name__}")
        wanted = sorted(set(symbols) | set(positions) | {o.symbol for o in open_orders})
        quotes = self.quotes(account, wanted)
        claimed = number(acct.get("cash"), "cash", "GET /v2/account", negative_ok=True)
        today = clock_date(clock, self.clock.now())
        settled, unsettled, warning, untrusted = self._cash.cash(account, claimed, today)
        reserved = reserved_cash(listed, quotes)
        return Observation(
            account=account, taken_at=self.clock.now(), positions=positions,
            cash_settled=settled, cash_unsettled=unsettled, cash_reserved=reserved,
            quotes=quotes,
            open_orders={o.symbol: o.client_order_id for o in open_orders}, cash_warning=warning,
            cash_untrusted=untrusted, market=clock_market(clock),
            reported_equity=number(acct.get("equity"), "equity", "GET /v2/account", negative_ok=True)
            if acct.get("equity") is not None else None,
            reported_long_value=number(acct.get("long_market_value"), "long_market_value", "GET /v2/account")
            if acct.get("long_market_value") is not None else None,
            quote_source=feed_source(self.spec.feed, self.spec.partial_feed_volume_share),
        )

    def quotes(self, account: str, symbols: list[str]) -> dict[str, Quote]:
        """Snapshots of the symbols from the configured feed, 100 a request."""
        out: dict[str, Quote] = {}
        feed, share = self.spec.feed, self.spec.partial_feed_volume_share
        for i in range(0, len(symbols), 100):
            params = {"symbols": ",".join(symbols[i:i + 100]), "feed": feed}
            try:
                data = self._http.read(account, self.spec.data_url + "/v2/stocks/snapshots", params)
            except BrokerError as exc:
                if feed != "sip" or "HTTP 403" not in exc.message:
                    raise
                raise BrokerError(
                    f"Alpaca refuses the {feed} feed to this account ({exc.message})",
                    where=f"account {account}",
                    fix="the sip feed needs a paid market-data subscription: set broker.feed: iex (or"
                    " delayed_sip)",
                ) from None
            out.update(feed_volumes(snapshot_quotes(data, self.clock.now), feed, share))
        return out

    def get_order(self, account: str, client_order_id: str, symbol: str | None = None) -> OrderState | None:
        """The order with this client id, or None when Alpaca never had it."""
        o = self._get(account, "/v2/orders:by_client_order_id", {"client_order_id": client_order_id}, True)
        return None if o is None else order_state(o, "GET /v2/orders:by_client_order_id")

    def list_orders(self, account: str, symbols: Iterable[str] = ()) -> list[OrderState]:
        """The account's recent orders, for reconcile to match against the journal."""
        listed = self._get(account, "/v2/orders", {"status": "all", "limit": 500})
        return [order_state(o, "GET /v2/orders") for o in listing(listed, "GET /v2/orders")]

    def _refused(self, order: OrderRequest, reason: str) -> OrderState:
        return OrderState(
            client_order_id=order.client_order_id, broker_order_id="", symbol=order.symbol, side=order.side,
            quantity=order.quantity, filled_quantity=ZERO, avg_price=None, commission=ZERO, status="rejected",
            reject_reason=reason,
        )

    def _asset(self, account: str, symbol: str) -> dict[str, Any]:
        """The asset, read once per process: first the whole list of active US equities in one request (a
        500-holding account would otherwise spend a request per symbol), then one symbol at a time for any the
        list lacks or when the list cannot be read (too large, refused)."""
        if symbol not in self._assets and not self._listed:
            self._listed = True
            try:
                listed = self._get(account, "/v2/assets", {"status": "active", "asset_class": "us_equity"})
                for a in listing(listed, "GET /v2/assets"):
                    if isinstance(a, dict) and isinstance(a.get("symbol"), str):
                        self._assets.setdefault(a["symbol"], a)
            except BrokerError as exc:
                log.info("the asset list is not used (%s); assets are read one by one", exc.message,
                         extra={"account": account})
        if symbol not in self._assets:
            where = f"GET /v2/assets/{symbol}"
            self._assets[symbol] = mapping(self._get(account, f"/v2/assets/{symbol}"), where)
        return self._assets[symbol]

    def submit(self, account: str, order: OrderRequest) -> OrderState:
        """Send one order, refusing here what Alpaca would refuse (fractions, the $1 minimum)."""
        quantity = order.quantity
        if quantity != quantity.to_integral_value():
            # A fractional quantity needs a fractionable asset; ask before sending rather than read a 422.
            asset = self._asset(account, order.symbol)
            if asset.get("fractionable") is not True or asset.get("tradable") is not True:
                return self._refused(order, f"{order.symbol} is not fractionable (or not tradable) at Alpaca:"
                                     " set"
                                     " trading.fractional: false in the portfolio to trade whole shares")
            step = self.spec.fractional_step
            quantity = (quantity / step).to_integral_value(rounding=ROUND_FLOOR) * step
            if order.limit_price is not None and quantity * order.limit_price < 1:
                return self._refused(order, f"{quantity} {order.symbol} is under Alpaca's $1 minimum for a"
                                     " fractional order: set trading.min_trade_notional: 1 in the portfolio")
        body = {
            "symbol": order.symbol, "qty": str(quantity), "side": order.side, "type": "market",
            "time_in_force": "day", "client_order_id": order.client_order_id,
        }
        if order.limit_price is not None:
            limit = round_limit(order.side, order.limit_price, alpaca_tick(order.limit_price))
            body.update(type="limit", limit_price=format(limit.normalize(), "f"))
        self.streams.before_send(account, lambda: self._http.client(account)[1], order, quantity)
        return self._send_order(account, order, body)

    def _send_order(self, account: str, order: OrderRequest, body: dict[str, Any]) -> OrderState:
        """POST the order under its client id, at most ALPACA_SEND_ATTEMPTS times, all within the send's
        window.

        Resending under the same id is safe at Alpaca: it refuses a second order with a known id (422). A send
        whose attempts all went unanswered, or whose later attempt was refused after an earlier one went
        unanswered (that one may have arrived), is SendUnknownError: its intent stays unknown, never failed.
        """
        cid, where = order.client_order_id, f"account {account}"
        # No POST starts later than this, 429 waits included: every attempt ends within longest_send_seconds.
        not_after = self.clock.monotonic() + self.spec.longest_send_seconds() - self.spec.timeout_seconds
        unanswered: str | None = None  # why the last unanswered attempt went unanswered
        for attempt in range(ALPACA_SEND_ATTEMPTS):
            if attempt:
                pause(self.clock, send_pause(attempt - 1), f"sending order {cid}")
            try:
                r = self._http.send(account, "POST", self._t("/v2/orders"), json=body, not_after=not_after)
            except WindowClosed:
                break
            except (httpx.TimeoutException, httpx.TransportError) as exc:
                unanswered = type(exc).__name__
            else:
                if r.status_code < 500 and r.status_code != 408:
                    return self._answered(account, order, r, unanswered)
                unanswered = f"HTTP {r.status_code}"
            log.warning(
                "order submission outcome unknown (%s); looking it up", unanswered,
                extra={"account": account, "client_order_id": cid},
            )
            found = self._lookup_once(account, cid)
            if found is not None:
                return found
        if unanswered is None:  # the window closed on 429s alone: the broker did nothing with any attempt
            raise OrderRefusedError(
                f"order {cid} was not placed: the broker kept answering 429", where=where,
                fix="lower broker.rate_limit_per_second; the next plan sends it again",
            )
        raise SendUnknownError(
            f"order {cid} was sent without a definitive answer ({unanswered}, {ALPACA_SEND_ATTEMPTS}"
            " attempts)",
            where=where,
            fix="`reconciler reconcile` adopts it if it arrived, or marks it failed after the grace",
        )

    def _answered(
        self, account: str, order: OrderRequest, r: httpx.Response, unanswered: str | None
    ) -> OrderState:
        """What an answer (not a 5xx, not a timeout) to a POST says of the order."""
        cid, where = order.client_order_id, f"account {account}"
        if r.status_code == 422 and is_duplicate(r):
            # Our id is known to the broker: this order arrived earlier. Never a rejection: find it (the
            # lookup may lag the order book for a moment), or say the outcome is unknown.
            for _ in range(self.attempts):
                found = self._lookup_once(account, cid)
                if found is not None:
                    return found
                pause(self.clock, 0.2, f"looking up order {cid}")
            raise SendUnknownError(
                f"the broker says order {cid} exists but does not show it", where=where,
                fix="`reconciler reconcile` later finds it and adopts it",
            )
        if r.status_code >= 400 and unanswered is not None:
            # This attempt was refused, but an earlier one went unanswered and may have arrived (and be the
            # reason for this refusal: the buying power it took).
            raise SendUnknownError(
                f"order {cid}: an attempt went unanswered ({unanswered}), then the broker refused a resend"
                f" ({refusal(r.status_code, r.content)})", where=where,
                fix="`reconciler reconcile` adopts it if it arrived, or marks it failed after the grace",
            )
        if r.status_code in (403, 422):
            return self._refused(order, refusal(r.status_code, r.content))
        if r.status_code >= 400:
            raise OrderRefusedError(
                f"broker refused the order: {refusal(r.status_code, r.content)}", where=where,
                fix="see the message; the order was not placed",
            )
        return order_state(json_of(r, "POST /v2/orders"), "POST /v2/orders")  # json_of refuses a redirect

    def _lookup_once(self, account: str, client_order_id: str) -> OrderState | None:
        """One look for an order by client id, between attempts to send it: a failed look is no answer
        (None)."""
        try:
            r = self._http.send(account, "GET", self._t("/v2/orders:by_client_order_id"),
                           params={"client_order_id": client_order_id})
        except (httpx.TimeoutException, httpx.TransportError, BrokerError):
            return None
        if r.status_code != 200:
            return None
        return order_state(
            json_of(r, "GET /v2/orders:by_client_order_id"), "GET /v2/orders:by_client_order_id"
        )

    def cancel(self, account: str, client_order_id: str, symbol: str | None = None) -> OrderState | None:
        """Cancel what is left of an order; returns its final state (None if the broker never had it)."""
        state = self.get_order(account, client_order_id)
        if state is None or state.status in ("filled", "canceled", "rejected"):
            return state
        for _ in range(self.attempts):
            try:
                r = self._http.send(account, "DELETE", self._t(f"/v2/orders/{state.broker_order_id}"))
            except (httpx.TimeoutException, httpx.TransportError):
                continue
            if r.status_code < 500:
                break
        # Asynchronous at Alpaca: 204, then `pending_cancel` (fills may still arrive), then `canceled`. Wait
        # for a final state, bounded; what filled meanwhile is in the state returned.
        deadline = self.clock.monotonic() + self.spec.timeout_seconds
        wait = 0.02
        latest = self.get_order(account, client_order_id)
        while latest is not None and latest.status not in FINAL and self.clock.monotonic() < deadline:
            pause(self.clock, wait, f"cancelling order {client_order_id}")
            wait = min(wait * 2, 0.5)
            latest = self.get_order(account, client_order_id)
        return latest
