"""Reading a broker's answers as untrusted input: every number bounded, every shape checked, every violation a
BrokerError that names the endpoint, the field and the value — never a number silently read as 0 or infinity,
never an internal error.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from decimal import Decimal, InvalidOperation
from typing import Any

from reconciler.core.numbers import MAX_MAGNITUDE, decimal_places
from reconciler.errors import BrokerError
from reconciler.secrets.redact import untrusted

MAX_DECIMALS = 12  # 1e-400 is not a quantity anybody holds: it is a number that would be read as 0
FIX = ("nothing was traded on this answer; if it repeats, report it to the broker (reconciler refuses to"
       " guess)")


def impossible(endpoint: str, detail: str) -> BrokerError:
    """The error for an answer no real broker gives, so nothing is traded on it."""
    return BrokerError(f"the broker answered something impossible on {endpoint}: {detail}", fix=FIX)


def number(
    value: Any, field: str, endpoint: str, *, positive: bool = False, negative_ok: bool = False,
    missing: Decimal | None = None, max_decimals: int = MAX_DECIMALS,
) -> Decimal:
    """A broker's number as Decimal, refusing what cannot be a real amount: text that is not a number,
    booleans, NaN and infinities, magnitudes of 1e15 and beyond, more than `max_decimals` places (12 for
    shares; a coin can have 18), and negative (or, with `positive`, zero) values where they make no sense.
    `missing` is what a null or absent value means; without it a missing value is refused too."""
    if value is None or value == "":
        if missing is not None:
            return missing
        raise impossible(endpoint, f"{field} is missing")
    if isinstance(value, bool) or not isinstance(value, (str, int, float, Decimal)):
        raise impossible(endpoint, f"{field} is {untrusted(repr(value), 40)}, not a number")
    try:
        parsed = Decimal(str(value).strip())
    except InvalidOperation:
        raise impossible(endpoint, f"{field} is {untrusted(str(value), 40)!r}, not a number") from None
    why = None
    if not parsed.is_finite():
        why = "not a finite number"
    elif abs(parsed) >= MAX_MAGNITUDE:
        why = "beyond any real amount (1e15)"
    elif decimal_places(parsed) > max_decimals:
        why = f"more than {max_decimals} decimal places"
    elif parsed < 0 and not negative_ok:
        why = "negative"
    elif positive and parsed <= 0:
        why = "not positive"
    if why:
        raise impossible(endpoint, f"{field} is {untrusted(str(value), 40)!r}: {why}")
    return parsed


def mapping(value: Any, endpoint: str) -> dict[str, Any]:
    """The answer as a JSON object, or refused: a field is never read off something else."""
    if not isinstance(value, dict):
        raise impossible(endpoint, f"expected a JSON object, got {type(value).__name__}")
    return value


def listing(value: Any, endpoint: str) -> list[Any]:
    """The answer as a JSON list, or refused: a field is never read off something else."""
    if not isinstance(value, list):
        raise impossible(endpoint, f"expected a JSON list, got {type(value).__name__}")
    return value


@contextmanager
def reading(endpoint: str) -> Iterator[None]:
    """Turn a shape the adapter did not expect (a missing key, a list where an object belongs) into the same
    BrokerError as a bad number."""
    try:
        yield
    except (KeyError, TypeError, AttributeError, IndexError) as exc:
        raise impossible(
            endpoint, f"unexpected shape ({type(exc).__name__}: {untrusted(str(exc), 80)})"
        ) from None
