"""A token bucket per account that also obeys what the server says (Retry-After, X-Ratelimit-*)."""

from __future__ import annotations

import threading
from collections.abc import Mapping

from reconciler.clock import SYSTEM, Clock, pause

_HAIR = 1e-9


class TokenBucket:
    """`rate` requests per second with a burst of `capacity`; `wait()` blocks until a request may go out.

    A capacity of 1 spaces requests evenly, which is what keeps a client under a server's own bucket without
    ever seeing a 429 in steady state.
    """

    def __init__(self, rate: float, capacity: float = 1.0, clock: Clock = SYSTEM) -> None:
        self.rate = rate
        self.capacity = capacity
        self.tokens = capacity
        self.clock = clock
        self.updated = clock.monotonic()
        self.blocked_until = 0.0
        self.lock = threading.Lock()

    def wait(self) -> None:
        """Block until a request may go, honouring an earlier Retry-After."""
        with self.lock:
            while True:
                now = self.clock.monotonic()
                if now < self.blocked_until:
                    wait = self.blocked_until - now
                else:
                    self.tokens = min(self.capacity, self.tokens + (now - self.updated) * self.rate)
                    self.updated = now
                    # Within a hair of a whole token is a token: refills are sums of floats, and asking for a
                    # pause of 1e-17 s would spin for ever on a clock that cannot represent it.
                    if self.tokens >= 1 - _HAIR:
                        self.tokens = max(0.0, self.tokens - 1)
                        return
                    wait = (1 - self.tokens) / self.rate
                # Within the apply's deadline: a Retry-After longer than what is left raises DeadlineExceeded.
                pause(self.clock, wait, "waiting for the broker's rate limit")

    def _empty(self) -> None:
        """One request may go when the block ends, then the rate again: tokens earned before the block must
        not send a burst of the whole capacity the moment a Retry-After runs out."""
        self.tokens = 0
        self.updated = max(self.updated, self.blocked_until - 1 / self.rate)

    def observe(self, status: int, headers: Mapping[str, str]) -> None:
        """Learn from a response: a 429's Retry-After, or X-Ratelimit-Remaining 0 until X-Ratelimit-Reset."""
        with self.lock:
            now = self.clock.monotonic()
            retry_after = headers.get("retry-after")
            if status == 429 and retry_after:
                try:
                    self.blocked_until = max(self.blocked_until, now + float(retry_after))
                except ValueError:
                    self.blocked_until = max(self.blocked_until, now + 1.0)
                self._empty()
            elif status == 429:
                self.blocked_until = max(self.blocked_until, now + 1.0)
                self._empty()
            if headers.get("x-ratelimit-remaining") == "0" and headers.get("x-ratelimit-reset"):
                try:
                    reset_in = float(headers["x-ratelimit-reset"]) - self.clock.now().timestamp()
                except ValueError:
                    return
                if 0 < reset_in < 120:
                    self.blocked_until = max(self.blocked_until, now + reset_in)
