"""The emulator's dispatch tables: each maps (method, path pattern) to a handler; a pattern matches the whole
path and the first route that matches answers."""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any, TypeVar

Answer = tuple[int, Any]  # status and JSON body (None: no body)
ANY = "*"  # a route for every method
H = TypeVar("H")


def table(routes: Mapping[tuple[str, str], H]) -> tuple[tuple[str, re.Pattern[str], H], ...]:
    """Compile a table once, at import, so a request only matches."""
    return tuple(
        (method, re.compile(pattern, re.DOTALL), handler) for (method, pattern), handler in routes.items()
    )


def route(
    routes: tuple[tuple[str, re.Pattern[str], H], ...], method: str, path: str
) -> tuple[H, dict[str, str]] | None:
    """The handler of the first route that matches, with the named parts of the path; None if none does."""
    for want, pattern, handler in routes:
        if want in (method, ANY) and (found := pattern.fullmatch(path)) is not None:
            return handler, found.groupdict()
    return None
