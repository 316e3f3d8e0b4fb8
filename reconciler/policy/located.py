"""Where a policy problem is: rego-cpp's error terms turned into FILE:LINE:COL and a first message (placed in
the file as written, through policy/strict.py's rewrites), and the rule heads written in Rego v0."""

from __future__ import annotations

import re

from reconciler.policy import strict

_ERROR_AT = re.compile(r"\(error \d+:(?P<file>[^|\n]*)\|(?P<offset>\d+)\|\d+")
_ERRORMSG = re.compile(r"\(errormsg (?:\d+:)?([^)\n]*)")
_ERRORAST_VALUE = re.compile(r"\(errorast\s*\(rego-(?:STRING|INT|FLOAT|true|false|null)[^:)]*:([^)\n]*)\)")
_V0_RULE = re.compile(r"^\s*(\w+)\s*(\[[^\]\n]*\])?\s*\{", re.MULTILINE)
_KEYWORDS = {"if", "else", "not", "some", "every", "in", "with", "as", "contains", "default", "set"}
HELPERS = "#strict"  # the module name of a policy file's checked functions (policy/strict.py)


def line_col(text: str, offset: int) -> tuple[int, int]:
    """(line, column) of a byte offset into the text, as editors count them."""
    before = text.encode()[:offset].decode(errors="ignore")
    return before.count("\n") + 1, len(before) - (before.rfind("\n") + 1) + 1


def located(
    detail: str, texts: dict[str, str], fallback: str, unknown: str,
    rewrites: dict[str, strict.Rewritten] | None = None,
) -> tuple[str, str]:
    """(FILE:LINE:COL, first message) from rego-cpp's error term; `fallback` and `unknown` when it says none.
    `rewrites` places an error in a rewritten module, or in its checked functions, at the call as written."""
    rewrites = rewrites or {}
    marked = strict.MARKED.search(detail)
    if marked and marked.group("name") in ("<", "<=", ">", ">="):
        return marked.group("where"), (
            f"`{marked.group('name')}` compares values of different types (rego-cpp orders them its own way,"
            " so a"
            " limit written as text, or a number read as text, would silently decide the rule)"
        )
    if marked:  # a checked call found an element its built-in would have left undefined
        return marked.group("where"), (
            f"{marked.group('name')}: an element of argument {int(marked.group('position')) + 1} is not of"
            f" type {marked.group('types').replace(',', ' or ')} (rego-cpp would make the call undefined,"
            " silently)"
        )
    msg = _ERRORMSG.search(detail)
    first = msg.group(1).strip() if msg else unknown
    value = _ERRORAST_VALUE.search(detail)
    if value:  # a built-in that failed on a value says which: `invalid syntax (on "one million")`
        first += f" (on {value.group(1).strip()})"
    at = _ERROR_AT.search(detail)
    if at and at.group("file").endswith(HELPERS):
        source = rewrites.get(at.group("file").removesuffix(HELPERS))
        line = (source.helpers if source else "").encode()[: int(at.group("offset"))].count(b"\n") + 1
        return (source.helper_sites.get(line) if source else None) or fallback, first
    if at and at.group("file") in texts:
        offset = int(at.group("offset"))
        rewritten = rewrites.get(at.group("file"))
        line, col = line_col(
            texts[at.group("file")], rewritten.original_offset(offset) if rewritten else offset
        )
        return f"{at.group('file')}:{line}:{col}", first
    placed = rewrites[fallback].place(first) if fallback in rewrites else None
    return placed or (fallback, first)


def v0_rules(path: str, text: str, code: str) -> list[str]:
    """FILE:LINE:COL of rule heads written in Rego v0 (`deny[msg] {`, `allow {`): without `if` they are not
    what they look like in v1. `code` is `text` with strings and comments blanked."""
    out = []
    for m in _V0_RULE.finditer(code):
        if m.group(1) in _KEYWORDS or m.group(1) in ("package", "import"):
            continue
        line, col = line_col(text, len(text[: m.start(1)].encode()))
        out.append(f"{path}:{line}:{col}")
    return out

