"""The per-account token bucket, on a FixedClock: its refill rate and burst, what it learns from a server's
Retry-After and X-Ratelimit-* headers, and that it only ever sleeps on the clock it was given.

The rates here are exact in binary (1, 2, 4, 8 per second). With other rates the bucket's arithmetic can ask a
FixedClock for a pause smaller than the float resolution of its timer, which then never moves: see
`test_a_wait_on_a_fixed_clock_finishes_at_any_rate`.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from datetime import UTC, datetime

import httpx
import pytest

from reconciler.brokers.ratelimit import TokenBucket
from reconciler.clock import FixedClock

START = datetime(2026, 3, 2, 15, 0, tzinfo=UTC)
MAX_SLEEPS = 1000


class Spinning(AssertionError):
    """The bucket kept sleeping without the request ever going out."""


class Clock(FixedClock):
    """A FixedClock that counts its sleeps and stops a bucket that spins, so a bug fails the test, not hangs
    it."""

    def __init__(self) -> None:
        super().__init__(START)
        self.sleeps = 0

    def sleep(self, seconds: float) -> None:
        self.sleeps += 1
        if self.sleeps > MAX_SLEEPS:
            raise Spinning(f"{MAX_SLEEPS} sleeps and still waiting (the last asked for {seconds!r}s)")
        super().sleep(seconds)


def waited(bucket: TokenBucket, clock: Clock) -> float:
    """Seconds the next request waits for, on the bucket's clock."""
    before = clock.monotonic()
    bucket.wait()
    return clock.monotonic() - before


def test_a_full_bucket_lets_its_capacity_go_at_once() -> None:
    c = Clock()
    bucket = TokenBucket(rate=2, capacity=3, clock=c)
    assert [waited(bucket, c) for _ in range(3)] == [0, 0, 0]
    assert c.sleeps == 0


def test_past_the_burst_requests_are_spaced_by_the_rate() -> None:
    c = Clock()
    bucket = TokenBucket(rate=4, capacity=1, clock=c)
    assert [waited(bucket, c) for _ in range(5)] == [0, 0.25, 0.25, 0.25, 0.25]


def test_waiting_for_one_token_is_one_sleep() -> None:
    c = Clock()
    bucket = TokenBucket(rate=8, capacity=1, clock=c)
    for _ in range(9):
        bucket.wait()
    assert c.sleeps == 8
    assert c.monotonic() == 1.0


def test_idle_time_refills_the_bucket_at_the_rate() -> None:
    c = Clock()
    bucket = TokenBucket(rate=2, capacity=3, clock=c)
    for _ in range(3):
        bucket.wait()
    c.advance(1.0)  # two tokens back at 2 per second
    assert [waited(bucket, c) for _ in range(2)] == [0, 0]
    assert waited(bucket, c) == 0.5


def test_refill_never_exceeds_the_capacity() -> None:
    c = Clock()
    bucket = TokenBucket(rate=8, capacity=3, clock=c)
    c.advance(3600)  # an hour idle still allows a burst of 3, not 28,800
    assert [waited(bucket, c) for _ in range(3)] == [0, 0, 0]
    assert waited(bucket, c) == 0.125


# The Alpaca adapter hands over httpx's headers (any case); the ccxt adapter a dict with lower-cased names.
Headers = Callable[..., Mapping[str, str]]


def alpaca_headers(**h: str) -> Mapping[str, str]:
    return httpx.Headers({k.replace("_", "-").title(): v for k, v in h.items()})


def ccxt_headers(**h: str) -> Mapping[str, str]:
    return {k.replace("_", "-").lower(): v for k, v in h.items()}


HEADERS = pytest.mark.parametrize(
    "headers", [alpaca_headers, ccxt_headers], ids=["httpx", "lower-cased-dict"]
)


@HEADERS
def test_a_429_with_retry_after_blocks_for_that_long(headers: Headers) -> None:
    c = Clock()
    bucket = TokenBucket(rate=4, capacity=5, clock=c)
    bucket.observe(429, headers(retry_after="7"))
    assert waited(bucket, c) == 7


@HEADERS
def test_after_the_retry_after_requests_resume_at_the_rate(headers: Headers) -> None:
    """Capacity 1, as the adapters build their buckets."""
    c = Clock()
    bucket = TokenBucket(rate=2, capacity=1, clock=c)
    bucket.observe(429, headers(retry_after="3"))
    assert [waited(bucket, c) for _ in range(3)] == [3, 0.5, 0.5]


def test_after_a_429_a_large_bucket_does_not_burst() -> None:
    """Tokens earned before the 429 are gone: when the block ends one request goes, then the rate again, not
    the whole capacity at once (which would earn the next 429)."""
    clock = Clock()
    bucket = TokenBucket(rate=1, capacity=5, clock=clock)
    clock.advance(10)  # idle: the bucket is full
    bucket.observe(429, {"retry-after": "4"})
    assert [waited(bucket, clock) for _ in range(3)] == [4, 1, 1]


def test_a_429_without_retry_after_waits_one_second() -> None:
    c = Clock()
    bucket = TokenBucket(rate=4, capacity=5, clock=c)
    bucket.observe(429, {})
    assert waited(bucket, c) == 1


def test_a_retry_after_it_cannot_read_waits_one_second() -> None:
    c = Clock()
    bucket = TokenBucket(rate=4, capacity=5, clock=c)
    bucket.observe(429, {"retry-after": "soon"})
    assert waited(bucket, c) == 1


def test_a_shorter_retry_after_never_shortens_a_longer_one() -> None:
    c = Clock()
    bucket = TokenBucket(rate=4, capacity=5, clock=c)
    bucket.observe(429, {"retry-after": "30"})
    bucket.observe(429, {"retry-after": "2"})
    assert waited(bucket, c) == 30


def test_a_success_does_not_block() -> None:
    c = Clock()
    bucket = TokenBucket(rate=4, capacity=5, clock=c)
    bucket.observe(200, {"retry-after": "30", "x-ratelimit-remaining": "4"})
    assert waited(bucket, c) == 0


@HEADERS
def test_no_requests_remaining_blocks_until_the_reset(headers: Headers) -> None:
    c = Clock()
    bucket = TokenBucket(rate=4, capacity=5, clock=c)
    reset = int(c.now().timestamp()) + 12  # X-Ratelimit-Reset is a Unix time
    bucket.observe(200, headers(x_ratelimit_remaining="0", x_ratelimit_reset=str(reset)))
    assert waited(bucket, c) == 12


@pytest.mark.parametrize(
    ("remaining", "reset_in"),
    [("1", 12), ("0", -5), ("0", 0), ("0", 120), ("0", 86400)],
    ids=["requests-left", "reset-in-the-past", "reset-now", "reset-two-minutes-away", "reset-a-day-away"],
)
def test_a_reset_is_obeyed_only_when_none_remain_and_it_is_under_two_minutes_away(
    remaining: str, reset_in: int
) -> None:
    c = Clock()
    bucket = TokenBucket(rate=4, capacity=5, clock=c)
    reset = int(c.now().timestamp()) + reset_in
    bucket.observe(200, {"x-ratelimit-remaining": remaining, "x-ratelimit-reset": str(reset)})
    assert waited(bucket, c) == 0


def test_a_reset_it_cannot_read_is_ignored() -> None:
    c = Clock()
    bucket = TokenBucket(rate=4, capacity=5, clock=c)
    bucket.observe(200, {"x-ratelimit-remaining": "0", "x-ratelimit-reset": "Wed, 21 Oct 2026 07:28:00 GMT"})
    assert waited(bucket, c) == 0


def test_wait_sleeps_on_the_injected_clock_never_the_real_one() -> None:
    """Seventy minutes of waiting on a FixedClock take no real time: every pause went through clock.sleep."""
    c = Clock()
    bucket = TokenBucket(rate=1, capacity=1, clock=c)
    bucket.observe(429, {"retry-after": "3600"})
    real_start = time.perf_counter()
    for _ in range(1 + 600):
        bucket.wait()
    real_elapsed = time.perf_counter() - real_start
    assert c.monotonic() == 3600 + 600
    assert (c.now() - START).total_seconds() == 4200  # its wall time moved by as much
    assert real_elapsed < 1.0


@pytest.mark.parametrize("rate", [3, 5, 10, 200])
def test_a_wait_on_a_fixed_clock_finishes_at_any_rate(rate: int) -> None:
    c = Clock()
    bucket = TokenBucket(rate=rate, capacity=1, clock=c)
    for _ in range(200):
        bucket.wait()
    assert c.monotonic() == pytest.approx(199 / rate)
