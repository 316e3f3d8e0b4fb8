"""The one clock: the only module that reads the time of day, the monotonic timer or sleeps.

Everything else receives a `Clock` (the runtime's, a journal's, a broker's) so that a test can pin or move time
and the product behaves the same on any date. `tests/test_clock.py` fails on any other call to `datetime.now`,
`time.time` or `time.monotonic` in `reconciler/`.
"""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta
from typing import Protocol


class Clock(Protocol):
    """Wall time (aware, UTC) for journals, plans and quotes; a monotonic timer for deadlines; a sleep."""

    def now(self) -> datetime: ...

    def monotonic(self) -> float: ...

    def sleep(self, seconds: float) -> None: ...


class SystemClock:
    """The machine's clock."""

    def now(self) -> datetime:
        return datetime.now(UTC)

    def monotonic(self) -> float:
        return time.monotonic()

    def sleep(self, seconds: float) -> None:
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
        return self.at

    def monotonic(self) -> float:
        return self._mono

    def sleep(self, seconds: float) -> None:
        self.advance(max(0.0, seconds))

    def advance(self, seconds: float) -> None:
        self.at += timedelta(seconds=seconds)
        self._mono += seconds


SYSTEM = SystemClock()
