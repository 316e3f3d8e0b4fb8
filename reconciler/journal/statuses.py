"""The journal's one vocabulary of statuses: what an intent, an apply and a work item can be. Typed, so a status
misspelt anywhere is a type error, not a row no query ever finds."""

from __future__ import annotations

from typing import Literal

# An order the plan wants, from before it is sent to its end. The first five are also what a broker says of an
# order (brokers.base.OrderStatus); `unknown`: sent, not found at the broker, and maybe still travelling.
IntentStatus = Literal[
    "submitting", "accepted", "partially_filled", "filled", "canceled", "rejected",
    "denied", "skipped", "failed", "expired", "unknown",
]
TERMINAL: frozenset[IntentStatus] = frozenset(
    {"filled", "rejected", "canceled", "denied", "skipped", "failed", "expired"}
)

ApplyStatus = Literal["running", "succeeded", "partial", "noop", "failed", "already-applied"]
APPLIED: tuple[ApplyStatus, ...] = ("succeeded", "noop")  # a commit applied once: nothing left to do for it

WorkStatus = Literal["pending", "claimed", "done", "failed"]
