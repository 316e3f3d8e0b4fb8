"""Crash points for fault-injection tests: `RECONCILER_CRASH_AT=NAME[:N]` kills the process with SIGKILL the
N-th time execution passes NAME, exactly like a power cut there. Unset (always, outside tests), it does
nothing.
"""

from __future__ import annotations

import os
import signal

POINTS = (
    "after_lock",  # the lock is held, nothing reconciled or sent
    "after_intent",  # the intent is journaled as submitting; the broker has not been called
    "after_submit",  # the broker accepted the order; the journal does not know yet
    "mid_partial_fill",  # an order is partly filled and still working
    "during_cancel",  # a cancel of the unfilled remainder was requested; its outcome is not journaled
    # a fill is written, the intent's progress not yet (one transaction: both or neither)
    "after_fill_recorded",
    "after_sells",  # every sell is done; no buy has started
    "before_finish",  # every order is final; the apply is not marked finished
    "mid_reconcile",  # recovering an earlier crash, between two adopted orders
)
_seen: dict[str, int] = {}


def crash_point(name: str) -> None:
    """Kill the process here when RECONCILER_CRASH_AT names this point: the crash-recovery tests' hook."""
    spec = os.environ.get("RECONCILER_CRASH_AT")
    if not spec:
        return
    target, _, nth = spec.partition(":")
    if target != name:
        return
    _seen[name] = _seen.get(name, 0) + 1
    if _seen[name] >= int(nth or 1):
        os.kill(os.getpid(), signal.SIGKILL)
