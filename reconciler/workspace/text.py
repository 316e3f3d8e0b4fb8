"""The text a workspace file may hold as a symbol or a name: the patterns, and plain words for what
breaks them."""

from __future__ import annotations

import unicodedata
from typing import Annotated, Any

from pydantic import BeforeValidator, Field

API_VERSION = "reconciler.dev/v1"
SYMBOL_PATTERN = r"^[A-Z0-9][A-Z0-9.\-/]{0,23}$"
NAME_PATTERN = r"^[a-z0-9]([a-z0-9\-_.]{0,61}[a-z0-9])?$"

MAX_SYMBOL_LENGTH = 24


def _readable_text(value: Any) -> Any:
    """Say plainly what makes a symbol or name text wrong before the pattern does: a character that only looks
    like a letter (a Cyrillic Т in VТI) or a paste of a whole paragraph."""
    if not isinstance(value, str):
        return value
    if len(value) > 64:
        raise ValueError(
            f"too long: {len(value):,} characters; a symbol is at most {MAX_SYMBOL_LENGTH} characters, a name"
            " 63"
        )
    for ch in value:
        if ord(ch) > 127:
            name = unicodedata.name(ch, "unnamed character")
            raise ValueError(
                f"contains {ch!r} (U+{ord(ch):04X} {name}), which is not a plain ASCII letter or digit;"
                f" retype it with ASCII letters (it may look like one)"
            )
    return value


Symbol = Annotated[str, Field(pattern=SYMBOL_PATTERN), BeforeValidator(_readable_text)]
Name = Annotated[str, Field(pattern=NAME_PATTERN), BeforeValidator(_readable_text)]
