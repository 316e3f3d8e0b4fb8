"""The Alpaca adapter's HTTP: one pooled httpx client per process, each account's keys and token bucket, every
exchange within its total deadline and size cap (reconciler.bounded_http), 429s waited out, and reads retried
with backoff. What a request means (an order's send and lookup, the account's figures) is the adapter's
(`alpaca.py`); this module only carries requests."""

from __future__ import annotations

import logging
import threading
from typing import Any
from urllib.parse import urlparse

import httpx

from reconciler import bounded_http
from reconciler.brokers.alpaca_answers import MAX_BODY_BYTES, TransientError, json_of
from reconciler.brokers.payload import impossible
from reconciler.brokers.ratelimit import TokenBucket
from reconciler.brokers.refusals import refusal
from reconciler.brokers.retry import retry_reads
from reconciler.clock import Clock, budget
from reconciler.errors import BrokerError
from reconciler.secrets.resolve import Secret, SecretResolver
from reconciler.workspace.models import AlpacaBrokerConfig

log = logging.getLogger("reconciler.alpaca")


class WindowClosed(Exception):
    """An order's send window has closed before another attempt could start."""


class AlpacaHttp:
    """One pooled httpx client per process, and one token bucket per account (Alpaca rate-limits per API key).

    Each request carries its account's key in its own headers. One client, not one per account: a client
    builds an SSL context (measured: 23 ms each) and its own connections, and apply --all reaches thousands of
    accounts on the same host. Thread-safe: plan observes accounts concurrently.
    """

    def __init__(
        self, spec: AlpacaBrokerConfig, secrets: SecretResolver, *, attempts: int, clock: Clock,
        concurrency: int
    ) -> None:
        self.spec = spec
        self.clock = clock
        self.secrets = secrets
        self.attempts = attempts
        self.concurrency = concurrency
        self._pool: httpx.Client | None = None
        self._lock = threading.Lock()
        self._keys: dict[str, tuple[dict[str, str], TokenBucket]] = {}

    def close(self) -> None:
        """Close the pooled client and forget the keys; the next request opens a fresh client."""
        with self._lock:
            if self._pool is not None:
                self._pool.close()
            self._pool = None
            self._keys.clear()

    def client(self, account: str) -> tuple[httpx.Client, dict[str, str], TokenBucket]:
        """The pooled client, and the account's headers and bucket (credentials resolved at first use)."""
        with self._lock:
            if account not in self._keys:
                creds = self.spec.accounts.get(account)
                if creds is None:
                    raise BrokerError(
                        f"no Alpaca credentials for account {account!r}",
                        where="reconciler.yaml: broker.accounts",
                        fix="add the account with key_id and secret_key references",
                    )
                where = f"reconciler.yaml: broker.accounts.{account}"
                key: Secret = self.secrets.resolve(creds.key_id, where + ".key_id")
                secret: Secret = self.secrets.resolve(creds.secret_key, where + ".secret_key")
                headers = {"APCA-API-KEY-ID": key.reveal(), "APCA-API-SECRET-KEY": secret.reveal()}
                bucket = TokenBucket(self.spec.rate_limit_per_second, capacity=1.0, clock=self.clock)
                self._keys[account] = (headers, bucket)
            if self._pool is None:
                self._pool = httpx.Client(
                    timeout=self.spec.timeout_seconds,
                    limits=httpx.Limits(
                        max_connections=4 * self.concurrency, max_keepalive_connections=self.concurrency
                    ),
                )
            headers, bucket = self._keys[account]
            return self._pool, headers, bucket

    def _exchange(self, client: httpx.Client, method: str, url: str, **kw: Any) -> httpx.Response:
        """One HTTP exchange within the total deadline and the size cap (reconciler.bounded_http). A timeout
        is handled as any other: a read is retried, an order is looked up by its client id."""

        def drop_client() -> None:
            # Closing ends the stuck read. Other threads' requests on this client fail as transport errors,
            # which are handled as any other (reads retried, orders looked up by client id); the next request
            # opens a fresh client.
            with self._lock:
                if self._pool is client:
                    self._pool = None
            client.close()

        try:
            return bounded_http.exchange(
                client, method, url, max_bytes=MAX_BODY_BYTES,
                deadline=budget(self.spec.timeout_seconds, f"waiting for {method} {urlparse(url).path}"),
                on_deadline=drop_client, **kw,
            )
        except bounded_http.TooLarge as exc:
            raise impossible(f"{method} {urlparse(url).path}", str(exc)) from None

    def send(
        self, account: str, method: str, url: str, *, not_after: float | None = None, **kw: Any
    ) -> httpx.Response:
        """One request through the account's bucket; 429s wait and go again (the server did nothing). With
        `not_after` (a monotonic time), WindowClosed instead of starting the request later than that."""
        for _ in range(50):
            client, headers, bucket = self.client(account)
            bucket.wait()
            if not_after is not None and self.clock.monotonic() > not_after:
                raise WindowClosed
            response = self._exchange(client, method, url, headers=headers, **kw)
            bucket.observe(response.status_code, response.headers)
            if response.status_code != 429:
                return response
            log.info(
                "rate limited by the broker",
                extra={"account": account, "retry_after": response.headers.get("retry-after")},
            )
        raise BrokerError(
            "the broker kept answering 429", where=f"account {account}", fix="lower rate_limit_per_second"
        )

    def read(self, account: str, url: str, params: dict[str, Any] | None = None, ok404: bool = False) -> Any:
        """A GET that is safe to repeat: 5xx and transport errors retried, a refusal a BrokerError."""
        def once() -> Any:
            try:
                r = self.send(account, "GET", url, params=params)
            except (httpx.TimeoutException, httpx.TransportError) as exc:
                raise TransientError(type(exc).__name__) from exc
            if r.status_code >= 500:
                raise TransientError(f"HTTP {r.status_code}")
            if r.status_code == 404 and ok404:
                return None
            if r.status_code >= 400:
                raise BrokerError(
                    f"broker refused GET {url}: {refusal(r.status_code, r.content)}",
                    where=f"account {account}",
                    fix="check the credentials and the account" if r.status_code in (401,
                        403) else "see the message",
                )
            return json_of(r, f"GET {url}")

        return retry_reads(
            once, self.attempts, TransientError, what=f"broker for GET {url}", where=f"account {account}",
            clock=self.clock,
        )
