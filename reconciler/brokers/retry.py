"""The one retry policy for broker reads: exponential backoff with jitter, a bounded number of attempts, every
wait taken out of the apply's deadline (reconciler.clock.pause)."""

from __future__ import annotations

from collections.abc import Callable
from typing import TypeVar

from tenacity import Retrying, retry_if_exception_type, stop_after_attempt, wait_exponential_jitter

from reconciler.clock import Clock, pause
from reconciler.errors import BrokerError

T = TypeVar("T")


def retry_reads(
    once: Callable[[], T], attempts: int, transient: type[Exception], *, what: str, where: str, clock: Clock
) -> T:
    """Call `once` until it returns, retrying only `transient`; after `attempts`, a BrokerError saying `what`
    was unavailable.

    Only for requests that are safe to repeat (reads): an order submission is never retried through this.
    """
    retrying = Retrying(
        stop=stop_after_attempt(attempts),
        wait=wait_exponential_jitter(multiplier=0.05, max=2.0, jitter=0.05),
        retry=retry_if_exception_type(transient), reraise=True,
        # A backoff the deadline cannot afford raises DeadlineExceeded instead of starting (tenacity's own
        # sleep would read the machine's clock and ignore the budget).
        sleep=lambda seconds: pause(clock, seconds, f"waiting to retry {what}"),
    )
    try:
        return retrying(once)
    except transient as exc:
        raise BrokerError(
            f"{what} unavailable after {attempts} attempts ({exc})", where=where,
            # A read sends nothing, but it may come after orders this run sent: never claim none was.
            fix="retry later; orders sent before this are in the journal (`reconciler history`)",
        ) from None
