"""The journal's one vocabulary of statuses: what an intent, an apply and a work item can be. Typed, so a
status misspelt anywhere is a type error, not a row no query ever finds.

An intent's life is one table of transitions (INTENT_TRANSITIONS, after nautilus_trader's
`_ORDER_STATE_TABLE`): (status before, event) -> status after. The journal writes an intent's status only
through it, so a transition missing from the table (a `failed` from a send nobody answered, a `filled` order
turning `accepted`) is refused where it would be written, whoever asks for it.
"""

from __future__ import annotations

from typing import Literal, get_args

# An order the plan wants, from before it is sent to its end. The first five are also what a broker says of an
# order (brokers.base.OrderStatus); `unknown`: sent without a definitive answer, or not found at the broker,
# and maybe still travelling; `failed`: the broker definitively holds no such order.
IntentStatus = Literal[
    "submitting", "accepted", "partially_filled", "filled", "canceled", "rejected",
    "denied", "skipped", "failed", "unknown",
]
TERMINAL: frozenset[IntentStatus] = frozenset(
    {"filled", "rejected", "canceled", "denied", "skipped", "failed"}
)

IntentEvent = Literal[
    "journaled",  # written before the send (a new intent)
    "denied",  # a new intent a policy denied: never sent
    # a new intent apply would not send (no sound quote, no cash, an earlier send of unknown outcome)
    "skipped",
    "refused",  # the broker definitively refused the send: it holds no order under this id
    # the send ended without a definitive answer (timeouts, 5xx, a lost answer, any other failure)
    "no_answer",
    "not_seen",  # asked by client id, the broker does not know the order; the in-flight grace has not passed
    "grace_passed",  # ... and the grace has passed since the last attempt: it never arrived
    "given_up",  # a person says an unknown order will never arrive (`reconcile --give-up`)
    "limit_not_reached",  # a limit order cancelled at the fill timeout: the reason is noted on the intent
    "broker_accepted",  # the broker shows the order, with this status
    "broker_partially_filled",
    "broker_filled",
    "broker_canceled",
    "broker_rejected",
]

_SENT_OPEN: tuple[IntentStatus, ...] = ("submitting", "unknown", "accepted", "partially_filled")
_BROKER: tuple[IntentStatus, ...] = ("accepted", "partially_filled", "filled", "canceled", "rejected")

INTENT_TRANSITIONS: dict[tuple[IntentStatus | None, IntentEvent], IntentStatus] = {
    (None, "journaled"): "submitting",
    (None, "denied"): "denied",
    (None, "skipped"): "skipped",
    ("submitting", "refused"): "failed",
    ("submitting", "no_answer"): "unknown",
    ("submitting", "not_seen"): "unknown",
    ("unknown", "not_seen"): "unknown",
    ("submitting", "grace_passed"): "failed",
    ("unknown", "grace_passed"): "failed",
    ("unknown", "given_up"): "failed",
    ("canceled", "limit_not_reached"): "canceled",
    # Whatever the broker shows of an order still open to us is its truth (a lost answer found later, a fill).
    **{(s, f"broker_{b}"): b for s in _SENT_OPEN for b in _BROKER},  # type: ignore[misc]
    # A final order said again (a cancel that found it final, a re-read): nothing moves.
    **{(b, f"broker_{b}"): b for b in ("filled", "canceled", "rejected")},  # type: ignore[misc]
}


def _by_event() -> dict[IntentEvent, tuple[frozenset[IntentStatus | None], IntentStatus]]:
    """Each event's sources and its one target (no event leads to two statuses)."""
    out: dict[IntentEvent, tuple[frozenset[IntentStatus | None], IntentStatus]] = {}
    for (before, event), after in INTENT_TRANSITIONS.items():
        sources, target = out.get(event, (frozenset(), after))
        if target != after:
            raise AssertionError(f"intent event {event} leads to both {target} and {after}")
        out[event] = (sources | {before}, after)
    return out


EVENT_RULES = _by_event()
INTENT_EVENTS: tuple[IntentEvent, ...] = get_args(IntentEvent)
INTENT_STATUSES: tuple[IntentStatus, ...] = get_args(IntentStatus)


def broker_event(status: str) -> IntentEvent:
    """The event of the broker showing an order with this status."""
    for event in INTENT_EVENTS:
        if event == f"broker_{status}":
            return event
    raise ValueError(f"no intent event for a broker status {status!r}")


# `interrupted`: its time budget (apply.max_duration_seconds) ran out; what was sent is journaled, nothing
# more was.
ApplyStatus = Literal["running", "succeeded", "partial", "noop", "failed", "already-applied", "interrupted"]
APPLIED: tuple[ApplyStatus, ...] = ("succeeded", "noop")  # a commit applied once: nothing left to do for it

WorkStatus = Literal["pending", "claimed", "done", "failed"]
