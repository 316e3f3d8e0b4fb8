"""What a policy says, made safe to show: the messages of a deny or warn set read strictly (anything but
messages is an error, never "nothing denied"), a message object's placeholders filled as the plan formats its
numbers, and every message scrubbed of secrets and bounded in size and count."""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from decimal import Decimal, InvalidOperation
from typing import Any

from reconciler.core.numbers import MAX_MAGNITUDE, money, pct, qty
from reconciler.errors import PolicyFileError
from reconciler.secrets.redact import scrub

# A policy's messages reach the terminal, CI logs, the plan file and pull-request comments: a rule that builds
# a 200,000-character message, or a message per element of a large range, must not flood them. The verdict
# stands (one deny is enough to block); what is cut is said.
MAX_MESSAGE_CHARS = 1_000
MAX_MESSAGES = 20


def bounded(messages: list[str]) -> list[str]:
    """Each message scrubbed, then cut to MAX_MESSAGE_CHARS; at most MAX_MESSAGES, the rest counted in the
    last."""
    out = []
    for msg in messages[:MAX_MESSAGES]:
        clean = scrub(msg)
        out.append(clean if len(clean) <= MAX_MESSAGE_CHARS else
                   f"{clean[:MAX_MESSAGE_CHARS]}… ({len(clean) - MAX_MESSAGE_CHARS:,} more characters)")
    if len(messages) > MAX_MESSAGES:
        out[-1] += f" (and {len(messages) - MAX_MESSAGES:,} more messages from this policy)"
    return out


def messages_of(value: Any, short: str, kind: str, where: str) -> list[str]:
    """The messages of a deny or warn set. Anything but a set of strings (or of objects with `msg`) is an
    error: a rule whose result cannot be read must not read as "nothing denied"."""
    if value is None:
        return []
    if isinstance(value, bool):
        return ["denied"] if value and kind == "deny" else (["warned"] if value else [])
    if not isinstance(value, list):
        raise PolicyFileError(
            f"policy {short}: {kind} is"
            f" {type(value).__name__ if not isinstance(value, dict) else 'an object'},"
            " not a set of messages",
            where=where,
            fix=f"write `{kind} contains msg if {{ … }}` (with `import rego.v1`)",
        )
    out = []
    for item in value:
        if isinstance(item, dict) and isinstance(item.get("msg"), str):
            out.append(structured(item))
        elif isinstance(item, str):
            out.append(item)
        else:
            out.append(json.dumps(item, sort_keys=True, default=str))
    return sorted(out)


_PLACEHOLDER = re.compile(r"\{([A-Za-z_][A-Za-z0-9_]*)\}")
# How a policy's structured values are written, as the plan writes its own numbers.
_FORMATS: dict[str, Callable[[Decimal], str]] = {"money": money, "percent": pct, "quantity": qty}


def structured(item: dict[str, Any]) -> str:
    """A message object's `msg` with each `{name}` filled from its `money`, `percent` (a fraction) or
    `quantity` values, formatted as the plan formats its numbers; a name given no number stays as written."""
    values: dict[str, str] = {}
    for kind, form in _FORMATS.items():
        given = item.get(kind)
        if isinstance(given, dict):
            for name, raw in given.items():
                number = _number(raw)
                if isinstance(name, str) and number is not None:
                    values[name] = form(number)
    return _PLACEHOLDER.sub(lambda m: values.get(m.group(1), m.group(0)), str(item["msg"]))


def _number(raw: Any) -> Decimal | None:
    if isinstance(raw, bool) or not isinstance(raw, int | float | str):
        return None
    try:
        number = Decimal(str(raw))
    except InvalidOperation:
        return None
    return number if number.is_finite() and abs(number) < MAX_MAGNITUDE else None
