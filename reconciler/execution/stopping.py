"""Stop means stop, but never mid-order: SIGTERM is handled like Ctrl-C (the command stops, the apply is recorded
as failed, its locks are released), except that an order being sent is first finished — its broker call ends
within its deadline and its outcome is journaled — so a stop never leaves an order whose send was cut short.
"""

from __future__ import annotations

import signal
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from types import FrameType

_state = {"depth": 0, "pending": False}


class Terminated(KeyboardInterrupt):
    """SIGTERM: stop as for Ctrl-C; the command exits 143 (128 + SIGTERM), as a shell reports it."""


def _on_sigterm(signum: int, frame: FrameType | None) -> None:
    if _state["depth"]:
        _state["pending"] = True  # raised when the order being sent is finished and journaled
        return
    raise Terminated


@contextmanager
def sigterm_as_interrupt() -> Iterator[None]:
    """While a command runs on the main thread, SIGTERM raises Terminated (deferred inside `finishing`)."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = signal.signal(signal.SIGTERM, _on_sigterm)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)
        _state["pending"] = False


@contextmanager
def finishing() -> Iterator[None]:
    """An order's send, its wait for fills and their journaling: a SIGTERM meanwhile takes effect at the end."""
    _state["depth"] += 1
    try:
        yield
    finally:
        _state["depth"] -= 1
        if not _state["depth"] and _state["pending"]:
            _state["pending"] = False
            raise Terminated
