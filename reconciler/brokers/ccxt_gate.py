"""The one gate every request of the ccxt adapter goes through: the account's exchange object and token
bucket, the API host's request weight and bans (shared by every account on one IP), a total deadline per call,
429s waited out (or, for an order, refused as not placed), and reads retried with backoff. The adapter
(`ccxt.py`) hands it a function of the exchange object; only `call` starts one
(tests/brokers/test_ccxt_gate.py)."""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Callable
from typing import Any, TypeVar
from urllib.parse import urlsplit

import ccxt

from reconciler import bounded_http
from reconciler.brokers.ccxt_limits import HostLimits, clock_skew, held, response_hook
from reconciler.brokers.ccxt_session import capped, redirect
from reconciler.brokers.ratelimit import TokenBucket
from reconciler.brokers.refusals import exception_text
from reconciler.brokers.retry import retry_reads
from reconciler.clock import Clock, budget
from reconciler.clock import pause as clock_pause
from reconciler.errors import BrokerError
from reconciler.secrets.resolve import SecretResolver
from reconciler.workspace.models import CCXT_CALL_DEADLINE_FACTOR as CALL_DEADLINE_FACTOR
from reconciler.workspace.models import CcxtBrokerConfig

log = logging.getLogger("reconciler.ccxt")
T = TypeVar("T")


class _Transient(Exception):
    """A read that may succeed if tried again."""


class CcxtGate:
    """One ccxt exchange object and one token bucket per account, and the limits of each API host."""

    def __init__(
        self, spec: CcxtBrokerConfig, secrets: SecretResolver, *, attempts: int, clock: Clock
    ) -> None:
        self.spec = spec
        self.clock = clock
        self.secrets = secrets
        self.attempts = attempts
        self._exchanges: dict[str, tuple[Any, TokenBucket]] = {}
        # per API host: the IP's weight budget and bans, across accounts
        self.hosts: dict[str, HostLimits] = {}
        self.rate_limited = 0
        # seconds waited for the exchange's limits (429s, spent weight): an order sent after it
        self.waited = 0.0

    def exchange(self, account: str) -> tuple[Any, TokenBucket]:
        """The account's exchange object and bucket, built at first use: credentials resolved only when
        needed."""
        if account in self._exchanges:
            return self._exchanges[account]
        creds = self.spec.accounts.get(account)
        if creds is None:
            raise BrokerError(
                f"no exchange credentials for account {account!r}", where="reconciler.yaml: broker.accounts",
                fix="add the account with api_key and secret references",
            )
        cls = getattr(ccxt, self.spec.exchange, None)
        if not isinstance(cls, type):
            raise BrokerError(
                f"ccxt has no exchange {self.spec.exchange!r}", where="reconciler.yaml: broker.exchange",
                fix="use a ccxt exchange id such as binance, kraken or coinbase (see ccxt.exchanges)",
            )
        where = f"reconciler.yaml: broker.accounts.{account}"
        exchange = cls({
            "apiKey": self.secrets.resolve(creds.api_key, where + ".api_key").reveal(),
            "secret": self.secrets.resolve(creds.secret, where + ".secret").reveal(),
            "enableRateLimit": False,  # our bucket paces requests, and also obeys Retry-After
            "timeout": int(self.spec.timeout_seconds * 1000),
            # Spot only: no currency, margin or derivatives metadata (each a request the adapter never needs).
            "options": {
                "defaultType": "spot", "fetchCurrencies": False, "fetchMargins": False,
                "warnOnFetchOpenOrdersWithoutSymbol": False, **self.spec.options,
            },
        })
        if self.spec.sandbox:
            exchange.set_sandbox_mode(True)
        if self.spec.api_url:
            exchange.urls["api"] = redirect(exchange.urls["api"], self.spec.api_url)
        exchange.session.hooks["response"].extend([capped, response_hook(self.limits(exchange))])
        bucket = TokenBucket(self.spec.rate_limit_per_second, capacity=1.0, clock=self.clock)
        self._exchanges[account] = (exchange, bucket)
        return exchange, bucket

    def close(self) -> None:
        """Forget every exchange object, so the next call builds fresh sessions."""
        self._exchanges.clear()

    def limits(self, exchange: Any) -> HostLimits:
        """The limits of the host the exchange object talks to (its public API's), shared by every account."""
        api = exchange.urls.get("api")
        url = api.get("public") if isinstance(api, dict) else api
        host = urlsplit(str(url)).netloc or self.spec.exchange
        return self.hosts.setdefault(host, HostLimits(self.clock))

    def _within_deadline(self, account: str, exchange: Any, fn: Callable[[Any], T]) -> T:
        """`fn(exchange)` within a total deadline: ccxt's own timeout bounds each read, so a peer that drips a
        byte every few seconds would hold apply (and the account lock) for ever. Past the deadline the call is
        abandoned with its exchange object (its session closed; the next call builds a fresh one) and it is a
        RequestTimeout, handled as any other: a read is retried, an order is looked up by its client id."""
        deadline = budget(CALL_DEADLINE_FACTOR * self.spec.timeout_seconds, "waiting for the exchange")

        def abandon() -> None:
            self._exchanges.pop(account, None)
            with contextlib.suppress(Exception):
                exchange.session.close()

        try:
            return bounded_http.within(
                deadline, lambda: fn(exchange), on_deadline=abandon,
                timeout=lambda: ccxt.RequestTimeout(f"no complete answer within {deadline:g}s"),
            )
        except bounded_http.TooLarge as exc:
            raise BrokerError(
                f"the broker answered something impossible: {exc}", where=f"account {account}",
                fix="check broker.api_url points at the exchange's API; nothing was traded on this answer",
            ) from None

    def call(self, account: str, fn: Callable[[Any], T], *, sending: str | None = None) -> T:
        """One call through the account's bucket and its host's weight budget; a 429 waits as the server asks
        (up to `rate_limit_max_wait_seconds`) and goes again. A ban (418) stops at once. `sending` (an order's
        client id): nothing is waited out, since the order's quote and checks would be stale after it; a 429
        or a spent weight budget refuses the order as not placed, and the next plan re-quotes and re-checks
        it."""
        where = f"account {account}"
        cap = self.spec.rate_limit_max_wait_seconds
        for _ in range(50):
            exchange, bucket = self.exchange(account)
            limits = self.limits(exchange)
            limits.check_ban(where)
            pause = limits.pause()
            if pause > 0:
                held(sending, f"this IP's request weight for the minute is spent ({limits.used} of"
                     f" {limits.weight_limit})", pause, cap, where)
                # Within the apply's deadline: a weight pause longer than what is left raises
                # DeadlineExceeded.
                clock_pause(self.clock, pause, "waiting for the exchange's request weight")
                self.waited += pause
                limits.waited()
            blocked = bucket.blocked_until - self.clock.monotonic()
            if sending is not None and blocked > 0:  # an earlier 429's Retry-After still runs
                held(sending, "the exchange asked for quiet (429)", blocked, cap, where)
            bucket.wait()
            try:
                return self._within_deadline(account, exchange, fn)
            # 429 and 418 (RateLimitExceeded is a subclass): the server did nothing
            except ccxt.DDoSProtection:
                limits.check_ban(where)
                self.rate_limited += 1
                headers = {str(k).lower(): str(v) for k, v in (exchange.last_response_headers or {}).items()}
                bucket.observe(429, headers)
                wait = max(0.0, bucket.blocked_until - self.clock.monotonic())
                log.info("rate limited by the exchange", extra={"account": account, "wait": wait})
                held(sending, "the exchange answered 429", wait, cap, where)
                self.waited += wait  # the bucket waits it out before the next attempt
            # Binance -1021: refused before it did anything, and no retry helps
            except ccxt.InvalidNonce as exc:
                raise clock_skew(sending, exception_text(exc), where) from None
            except ccxt.AuthenticationError as exc:
                raise BrokerError(
                    f"the exchange refused the credentials ({type(exc).__name__})",
                    where=f"account {account}",
                    fix="check the api_key and secret references for this account",
                ) from None
        raise BrokerError("the exchange kept answering 429", where=where, fix="lower rate_limit_per_second")

    def read(self, account: str, what: str, fn: Callable[[Any], T]) -> T:
        """A call that is safe to repeat: transient failures retried with backoff, a refusal a BrokerError."""
        def once() -> T:
            try:
                return self.call(account, fn)
            except ccxt.OperationFailed as exc:  # timeouts, dropped connections, 5xx, "try again" codes
                raise _Transient(type(exc).__name__) from exc

        try:
            return retry_reads(
                once, self.attempts, _Transient, what=f"exchange for {what}", where=f"account {account}",
                clock=self.clock,
            )
        except ccxt.ExchangeError as exc:
            raise BrokerError(f"the exchange refused {what}: {exception_text(exc)}",
                              where=f"account {account}",
                              fix="see the exchange's message") from None
