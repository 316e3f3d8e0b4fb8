"""The one JSON parser for files the product reads (plan files, status files): Python's `json` with what it
lets through closed. A key written twice in one object is an error wherever it is (json keeps the last copy
silently, so an edit could hide behind an untouched first copy); NaN and Infinity are not JSON; nesting is
bounded before the recursive parser runs; and `same_types` tells where a value's JSON type differs from what
the writer writes (a boolean where it writes a number, a number where it writes a string)."""

from __future__ import annotations

import json
from typing import Any

MAX_DEPTH = 64  # the deepest file the product writes nests a handful of levels; 100k would exhaust the stack


class JSONError(ValueError):
    """Text that is not the strict JSON the product reads; `line`/`column` are 1-based (0 when unknown)."""

    def __init__(self, message: str, line: int = 0, column: int = 0) -> None:
        super().__init__(message)
        self.message, self.line, self.column = message, line, column


def depth(raw: str, limit: int = MAX_DEPTH) -> int:
    """How deeply brackets nest outside strings, without parsing (stops counting past `limit`)."""
    level = deepest = 0
    in_string = escaped = False
    for ch in raw:
        if in_string:
            if escaped:
                escaped = False
            elif ch == "\\":
                escaped = True
            elif ch == '"':
                in_string = False
        elif ch == '"':
            in_string = True
        elif ch in "[{":
            level += 1
            if level > deepest:
                deepest = level
                if deepest > limit:
                    return deepest
        elif ch in "]}":
            level -= 1
    return deepest


def _pairs(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in pairs:
        if key in out:
            raise JSONError(f"key {key!r} appears twice in one object (which copy counts is not for a reader"
                            " to guess)")
        out[key] = value
    return out


def _constant(name: str) -> Any:
    raise JSONError(f"{name} is not a JSON number")


def loads(raw: str, max_depth: int = MAX_DEPTH) -> Any:
    """Parse strict JSON; every problem is a JSONError."""
    if depth(raw, max_depth) > max_depth:
        raise JSONError(f"JSON nested deeper than {max_depth} levels")
    try:
        return json.loads(raw, object_pairs_hook=_pairs, parse_constant=_constant)
    except json.JSONDecodeError as exc:
        raise JSONError(exc.msg, exc.lineno, exc.colno) from None
    except RecursionError:  # unreachable below MAX_DEPTH; kept so no bracket pattern can surface as a crash
        raise JSONError(f"JSON nested deeper than {max_depth} levels") from None


def _type(value: Any) -> str:
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, int | float):
        return "a number"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, list):
        return "a list"
    if isinstance(value, dict):
        return "an object"
    return "null"


def same_types(
    read: Any, written: Any, loc: tuple[str | int, ...] = ()
) -> tuple[tuple[str | int, ...], str] | None:
    """(where, what) of the first value whose JSON type in `read` differs from the same value in `written`
    (what the writer makes of the validated data), or None. Only types are compared: validation judges the
    values."""
    if written is None or read is None:
        return None  # an optional left out or written out: validation decides
    if _type(read) != _type(written):
        return loc, f"{_type(read)} where the format writes {_type(written)}"
    if isinstance(read, dict):
        for key in read.keys() & written.keys():
            found = same_types(read[key], written[key], (*loc, key))
            if found:
                return found
    elif isinstance(read, list):
        for i, (a, b) in enumerate(zip(read, written, strict=False)):
            found = same_types(a, b, (*loc, i))
            if found:
                return found
    return None
