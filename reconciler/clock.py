"""The one clock: the only module that reads the time of day, the monotonic timer or sleeps; and the one
deadline every wait of a broker call consults.

Everything else receives a `Clock` (the runtime's, a journal's, a broker's) so that a test can pin or move
time and the product behaves the same on any date. `tests/test_clock.py` fails on any other call to
`datetime.now`, `time.time` or `time.monotonic` in `reconciler/`.

An apply runs under one `Deadline` (apply.max_duration_seconds): the adapters and the executor never sleep or
bound a request themselves but through `pause` and `budget`, which take the wait out of what is left of the
current deadline and raise DeadlineExceeded when it would outlast it. `tests/test_deadline.py` walks the
adapters and the executor so that no new wait, retry or poll can skip it.
"""

from __future__ import annotations

import math
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from datetime import UTC, datetime, timedelta
from typing import Protocol

from reconciler.errors import DeadlineExceeded


class Clock(Protocol):
    """Wall time (aware, UTC) for journals, plans and quotes; a monotonic timer for deadlines; a sleep."""

    def now(self) -> datetime:
        """The wall-clock time, in UTC."""

    def monotonic(self) -> float:
        """Seconds for measuring intervals, never set back."""

    def sleep(self, seconds: float) -> None:
        """Wait, so a test's clock can skip the wait."""


class SystemClock:
    """The machine's clock."""

    def now(self) -> datetime:
        """The machine's time, the only place product code reads it."""
        return datetime.now(UTC)

    def monotonic(self) -> float:
        """The machine's monotonic clock."""
        return time.monotonic()

    def sleep(self, seconds: float) -> None:
        """A real sleep."""
        if seconds > 0:
            time.sleep(seconds)


class FixedClock:
    """A clock that moves only when told to: `advance` or assigning `at`. Sleeping advances it, so a wait loop
    under a fixed clock finishes at once and deterministically."""

    def __init__(self, at: datetime) -> None:
        if at.tzinfo is None:
            raise ValueError("FixedClock needs an aware datetime")
        self.at = at.astimezone(UTC)
        self._mono = 0.0

    def now(self) -> datetime:
        """The time the test set."""
        return self.at

    def monotonic(self) -> float:
        """The test's monotonic seconds, moved only by `advance` and `sleep`."""
        return self._mono

    def sleep(self, seconds: float) -> None:
        """Move the clock instead of waiting, so tests of waits run at once."""
        self.advance(max(0.0, seconds))

    def advance(self, seconds: float) -> None:
        """Move both clocks forward, as time passing would."""
        self.at += timedelta(seconds=seconds)
        self._mono += seconds


SYSTEM = SystemClock()


class Deadline:
    """The time budget of one apply: every wait of its broker calls (a retry's backoff, a Retry-After, a poll
    for fills, an HTTP exchange's own timeout) comes out of what is left; a wait that would outlast it is not
    begun."""

    def __init__(self, clock: Clock, seconds: float | None, *, where: str = "apply") -> None:
        self.clock = clock
        self.seconds = seconds  # None: unbounded (plan, reconcile, a journal read)
        self.where = where
        self.started = clock.monotonic()
        self._beats: list[Callable[[], None]] = []

    def keep_alive(self, beat: Callable[[], None]) -> None:
        """Call `beat` after every wait of this apply while its budget lasts: a long wait (for a fill, a
        cancel, a Retry-After) renews what the apply holds (its locks' leases) by the apply's own clock, which
        a test moves. A beat given twice is kept once (every lock of an apply shares its journal's one
        keeper)."""
        if beat not in self._beats:
            self._beats.append(beat)

    def left(self) -> float:
        """Seconds left (infinite when unbounded; zero or less once spent)."""
        if self.seconds is None:
            return math.inf
        return self.started + self.seconds - self.clock.monotonic()

    @property
    def expired(self) -> bool:
        """Whether the time allowed is spent."""
        return self.left() <= 0

    def exceeded(self, doing: str) -> DeadlineExceeded:
        """The error of running out while `doing`."""
        return DeadlineExceeded(
            f"the apply's time budget ({self.seconds:g} s, apply.max_duration_seconds) ran out while {doing}",
            where=self.where,
            fix="nothing more is sent for it; run `reconciler reconcile` (an order whose send was cut short"
            " is unknown until the broker shows it), then plan again; raise apply.max_duration_seconds if the"
            " broker is merely slow",
        )

    def budget(self, seconds: float, doing: str) -> float:
        """`seconds`, or what is left when less: the bound of one request. DeadlineExceeded when nothing is
        left."""
        left = self.left()
        if left <= 0:
            raise self.exceeded(doing)
        return min(seconds, left)

    def pause(self, clock: Clock, seconds: float, doing: str) -> None:
        """Sleep `seconds` on `clock`; DeadlineExceeded at once instead when the sleep would outlast the
        budget."""
        if seconds >= self.left():
            raise self.exceeded(doing)
        clock.sleep(seconds)
        self.beat()

    def await_signal(self, clock: Clock, signal: threading.Event, seconds: float, doing: str) -> bool:
        """Wait up to `seconds` for `signal` (set by another thread: a stream's reader), as `pause` waits:
        within the budget. On the machine's clock the wait ends as soon as the signal is set; on any other
        clock (a test's) it is a sleep of `seconds` on that clock, then a look. Whether the signal is set."""
        if seconds >= self.left():
            raise self.exceeded(doing)
        if isinstance(clock, SystemClock):
            got = signal.wait(seconds)
        else:
            clock.sleep(seconds)
            got = signal.is_set()
        self.beat()  # a wait for a stream's event renews what the apply holds, as a poll's pause does
        return got

    def beat(self) -> None:
        """Renew what the apply holds, while its budget lasts: after each wait, and between portfolios."""
        if not self.expired:
            for beat in self._beats:
                beat()


UNBOUNDED = Deadline(SYSTEM, None)
_CURRENT: ContextVar[Deadline] = ContextVar("reconciler_deadline", default=UNBOUNDED)


def current_deadline() -> Deadline:
    """The deadline of the apply this thread is running (UNBOUNDED outside one)."""
    return _CURRENT.get()


@contextmanager
def bounded_by(deadline: Deadline) -> Iterator[Deadline]:
    """Run this thread's broker calls under `deadline` (a context variable: each `apply --all` worker thread
    has its own)."""
    token = _CURRENT.set(deadline)
    try:
        yield deadline
    finally:
        _CURRENT.reset(token)


def pause(clock: Clock, seconds: float, doing: str) -> None:
    """The one sleep of broker calls and the executor: within the current deadline."""
    _CURRENT.get().pause(clock, seconds, doing)


def await_signal(clock: Clock, signal: threading.Event, seconds: float, doing: str) -> bool:
    """The one wait for another thread's signal in broker calls: within the current deadline
    (Deadline.await_signal)."""
    return _CURRENT.get().await_signal(clock, signal, seconds, doing)


def budget(seconds: float, doing: str) -> float:
    """The one bound of a request: `seconds`, or what is left of the current deadline when less."""
    return _CURRENT.get().budget(seconds, doing)
