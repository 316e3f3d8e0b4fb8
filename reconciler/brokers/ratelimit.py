"""A token bucket per account that also obeys what the server says (Retry-After, X-Ratelimit-*)."""

from __future__ import annotations

import threading
from collections.abc import Mapping

from reconciler.clock import SYSTEM, Clock


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
        self.waited = 0.0

    def wait(self) -> None:
        with self.lock:
            while True:
                now = self.clock.monotonic()
                if now < self.blocked_until:
                    pause = self.blocked_until - now
                else:
                    self.tokens = min(self.capacity, self.tokens + (now - self.updated) * self.rate)
                    self.updated = now
                    if self.tokens >= 1:
                        self.tokens -= 1
                        return
                    pause = (1 - self.tokens) / self.rate
                self.waited += pause
                self.clock.sleep(pause)

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
                self.tokens = 0
            elif status == 429:
                self.blocked_until = max(self.blocked_until, now + 1.0)
                self.tokens = 0
            if headers.get("x-ratelimit-remaining") == "0" and headers.get("x-ratelimit-reset"):
                try:
                    reset_in = float(headers["x-ratelimit-reset"]) - self.clock.now().timestamp()
                except ValueError:
                    return
                if 0 < reset_in < 120:
                    self.blocked_until = max(self.blocked_until, now + reset_in)
