"""The one vocabulary of every rendering (terminal and markdown): numbers, signs, units, times, ids and
colours.

Weights are percentages (`12.34%`); a drift or any difference of weights is in percentage points (`+10.22 pp`,
signed); money is `$1,234.56` and a signed amount `-$2,924.99`; a price difference against the plan is in
basis points; a time is to the second with its zone. A status or a side has one colour wherever it is shown.
"""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal

from rich.text import Text

from reconciler.core.numbers import BPS, money, pct, qty

__all__ = [
    "bps", "id_tail", "money", "pct", "points", "qty", "side_text", "signed_money", "status_style",
    "status_text",
    "when",
]


def points(d: Decimal, *, signed: bool = True) -> str:
    """A difference of weights (drift, a band, a target change) in percentage points: `+10.22 pp`."""
    return f"{d * 100:+.2f} pp" if signed else f"{abs(d) * 100:.2f} pp"


def signed_money(d: Decimal) -> str:
    """An amount with its sign before the currency: `+$12.00`, `-$2,924.99`."""
    return ("-" if d < 0 else "+") + money(abs(d))


def bps(d: Decimal) -> str:
    """A fraction in basis points, signed: `+4.1 bps`."""
    return f"{d * BPS:+,.1f} bps"


def when(ts: datetime | str | None) -> str:
    """A timestamp to the second with its zone, in UTC (a journal on SQLite gives back naive UTC times)."""
    if ts is None or ts == "":
        return "-"
    if isinstance(ts, str):
        ts = datetime.fromisoformat(ts)
    if ts.tzinfo is None:
        ts = ts.replace(tzinfo=UTC)
    return ts.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S UTC")


ID_TAIL = 8


def id_tail(client_order_id: str) -> str:
    """The short form of a client order id: its last characters, a hash of plan, account and leg (unique
    within a plan); `reconciler show APPLY_ID --format json` holds the full ids, and the tail finds one
    there."""
    return "…" + client_order_id[-ID_TAIL:]


SIDE_STYLE = {"buy": "green", "sell": "red"}

# Every status word any command shows (intents, orders, applies, work items, sync states), one colour each.
_GOOD = {"filled", "succeeded", "done", "Synced", "noop", "already-applied"}
_WAITING = {"accepted", "submitting", "new", "pending", "claimed", "running", "queued", "Progressing"}
_PARTIAL = {"partially_filled", "canceled", "partial", "interrupted", "skipped", "OutOfSync", "expired"}
_BAD = {"failed", "denied", "rejected", "unknown", "Unknown", "refused", "not traded"}


def status_style(status: str) -> str:
    """The colour of a status word: green done, blue waiting, yellow partly or not done, red failed or
    unknown."""
    if status in _GOOD:
        return "green"
    if status in _WAITING:
        return "blue"
    if status in _PARTIAL:
        return "yellow"
    if status == "Locked":
        return "cyan"
    return "red" if status in _BAD else ""


def status_text(status: str) -> Text:
    """A status in its colour, the same in every table."""
    return Text(status, style=status_style(status))


def side_text(side: str) -> Text:
    """A side (buy or sell) in its colour, the same in every table."""
    return Text(side, style=SIDE_STYLE.get(side, ""))
