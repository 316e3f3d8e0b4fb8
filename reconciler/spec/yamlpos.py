"""Read YAML with ruamel.yaml, keeping line/column of every key so errors can point at the exact spot."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import Any

from ruamel.yaml import YAML
from ruamel.yaml.comments import CommentedMap, CommentedSeq
from ruamel.yaml.constructor import DuplicateKeyError, RoundTripConstructor
from ruamel.yaml.error import MarkedYAMLError, YAMLError

from reconciler.core.numbers import MAX_MAGNITUDE, decimal_places
from reconciler.errors import ReconcilerError


@dataclass(frozen=True)
class RawDoc:
    """One YAML document: plain data for pydantic plus the ruamel node for positions."""

    path: Path
    index: int
    data: Any
    node: Any

    def where(self, loc: Sequence[str | int] = ()) -> str:
        line, col = position(self.node, loc)
        return f"{self.path}:{line}:{col}"


def to_plain(node: Any) -> Any:
    """Turn ruamel's round-trip nodes into dicts/lists; floats become Decimal from their shortest repr."""
    if isinstance(node, dict):
        return {(k if isinstance(k, str) else str(k)): to_plain(v) for k, v in node.items()}
    if isinstance(node, list):
        return [to_plain(v) for v in node]
    if isinstance(node, bool) or node is None:
        return node
    if isinstance(node, float):
        return Decimal(repr(float(node)))
    if isinstance(node, int):
        return int(node)
    if isinstance(node, str):
        return str(node)
    return node


def position(node: Any, loc: Sequence[str | int]) -> tuple[int, int]:
    """1-based line and column of the deepest part of `loc` that exists in the document."""
    line, col = 1, 1
    if hasattr(node, "lc") and node.lc.line is not None:
        line, col = node.lc.line + 1, node.lc.col + 1
    for part in loc:
        if isinstance(node, CommentedMap):
            key = _find_key(node, part)
            if key is None:
                break
            try:
                kl, kc = node.lc.key(key)
            except (KeyError, TypeError):
                break
            line, col = kl + 1, kc + 1
            node = node[key]
        elif isinstance(node, CommentedSeq) and isinstance(part, int) and 0 <= part < len(node):
            try:
                il, ic = node.lc.item(part)
            except (KeyError, TypeError):
                break
            line, col = il + 1, ic + 1
            node = node[part]
        else:
            break
    return line, col


def _find_key(node: CommentedMap, part: str | int) -> Any:
    if part in node:
        return part
    for k in node:
        if str(k) == str(part):
            return k
    return None


def load_documents(path: Path) -> Iterator[RawDoc]:
    """Yield every document in a YAML file; syntax errors become a ReconcilerError with the position."""
    yield from parse_documents(read_text(path), path)


def read_text(path: Path, missing_fix: str = "create it or pass the right path") -> str:
    """A text file's content; a missing or unreadable file is a ReconcilerError naming it."""
    try:
        return path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ReconcilerError("file not found", where=str(path), fix=missing_fix) from None
    except IsADirectoryError:
        raise ReconcilerError("this is a folder, not a file", where=str(path), fix="give the file's path") from None
    except PermissionError:
        raise ReconcilerError(
            "cannot read file: permission denied", where=str(path), fix="make it readable by this user (chmod)"
        ) from None
    except UnicodeDecodeError as exc:
        raise ReconcilerError(
            f"not UTF-8 text (byte {exc.start} is {exc.object[exc.start]:#04x})", where=str(path),
            fix="save it as UTF-8 text",
        ) from None
    except OSError as exc:
        raise ReconcilerError(
            f"cannot read file: {exc.strerror or exc}", where=str(path), fix="check the file"
        ) from None


class _ExactConstructor(RoundTripConstructor):
    """Round-trip construction, except that a YAML float becomes the Decimal of its own text: `0.12345678901234567`
    must not pass through a binary float (which keeps 17 digits) on its way to the exact weight checks."""




MAX_DECIMALS = 20  # a weight of 17 digits is real; 1e-400 is a typo that arithmetic would round to nothing


class _NumberOutOfRange(Exception):
    """A number too large or too finely written, with why and where it was written."""

    def __init__(self, text: str, why: str, mark: Any) -> None:
        super().__init__(text)
        self.text = text
        self.why = why
        self.mark = mark


def _bounded(value: Decimal, node: Any) -> Decimal:
    if value.is_finite():
        if abs(value) >= MAX_MAGNITUDE:
            raise _NumberOutOfRange(str(node.value), "is too large (the limit is 1e15)", node.start_mark)
        if decimal_places(value) > MAX_DECIMALS:
            raise _NumberOutOfRange(
                str(node.value), f"has more than {MAX_DECIMALS} decimal places", node.start_mark
            )
    return value


def _exact_int(constructor: RoundTripConstructor, node: Any) -> Any:
    value = RoundTripConstructor.construct_yaml_int(constructor, node)
    _bounded(Decimal(int(value)), node)
    return value


def _exact_float(constructor: RoundTripConstructor, node: Any) -> Any:
    try:
        value = _bounded(Decimal(str(node.value).replace("_", "")), node)
    except ArithmeticError:  # .inf, .nan and other spellings Decimal does not read: the float they mean
        return Decimal(repr(float(constructor.construct_yaml_float(node))))
    if not value.is_finite():
        return value
    # One spelling per number (0.70 and 0.7 are the same weight), so reformatting a file changes no hash.
    value = value.normalize()
    return value.quantize(Decimal(1)) if value.as_tuple().exponent > 0 else value  # type: ignore[operator]


_ExactConstructor.add_constructor("tag:yaml.org,2002:float", _exact_float)
_ExactConstructor.add_constructor("tag:yaml.org,2002:int", _exact_int)


MAX_YAML_BYTES = 10 * 1024 * 1024  # a portfolio or config file is a few KB
MAX_DEPTH = 64  # a portfolio nests 4 levels deep; ruamel's scanner is quadratic in flow depth (100k: 9 minutes)
MAX_NODES = 100_000  # after expanding aliases: a few lines of anchors can mean billions of nodes


def _too_deep(text: str) -> tuple[int, int] | None:
    """(line, column) where brackets or indentation nest beyond MAX_DEPTH, found without parsing. Brackets inside
    quoted scalars and comments do not count; a quote opens a scalar only where YAML allows one to start."""
    depth, line, col = 0, 1, 0
    quote: str | None = None
    comment = False
    before = " "  # the last character that was not a space
    for ch in text:
        col += 1
        if ch == "\n":
            line, col, comment, before = line + 1, 0, False, " "
            continue
        if comment:
            continue
        if quote is not None:
            if ch == quote:
                quote = None
            continue
        if ch in "\"'" and before in " :[{,-?":
            quote = ch
        elif ch == "#" and before == " ":
            comment = True
        elif ch in "[{":
            depth += 1
            if depth > MAX_DEPTH:
                return line, col
        elif ch in "]}":
            depth = max(0, depth - 1)
        if ch not in " \t":
            before = ch
        elif before not in ":[{,-?":
            before = " "
    for n, row in enumerate(text.splitlines(), start=1):
        indent = len(row) - len(row.lstrip(" "))
        if indent > 2 * MAX_DEPTH and row.strip() and not row.lstrip().startswith("#"):
            return n, indent + 1
    return None


def _check_shape(text: str, path: Path) -> None:
    """Refuse what would exhaust time or memory before a YAML library builds it: huge files, deep nesting, and
    aliases that expand to more than MAX_NODES nodes (a "billion laughs")."""
    if len(text) > MAX_YAML_BYTES:
        raise ReconcilerError(
            f"file is {len(text):,} characters, above the {MAX_YAML_BYTES:,} limit", where=str(path),
            fix="a configuration or portfolio file is a few KB: check that this is the right file",
        )
    deep = _too_deep(text)
    if deep is not None:
        raise ReconcilerError(
            f"YAML nested more than {MAX_DEPTH} levels deep", where=f"{path}:{deep[0]}:{deep[1]}",
            fix="a portfolio nests a few levels (spec → targets → symbol): remove the extra nesting",
        )
    if "&" not in text and "*" not in text:
        return  # no anchor, so no alias: every value is written out, and the size limit above bounds them
    from ruamel.yaml.events import (
        AliasEvent,
        CollectionEndEvent,
        CollectionStartEvent,
        NodeEvent,
    )

    sizes: dict[str, int] = {}
    stack: list[tuple[str | None, int]] = [(None, 0)]
    total = 0
    try:
        for event in YAML(typ="rt").parse(text):
            if not isinstance(event, NodeEvent | CollectionEndEvent):
                continue
            if isinstance(event, CollectionEndEvent):
                anchor, size = stack.pop()
                if anchor:
                    sizes[anchor] = size
                name, outer = stack[-1]
                stack[-1] = (name, outer + size)
                continue
            grows = sizes.get(event.anchor, 1) if isinstance(event, AliasEvent) else 1
            total += grows
            if total > MAX_NODES:
                mark = event.start_mark
                raise ReconcilerError(
                    f"YAML expands to more than {MAX_NODES:,} values"
                    + (f" (alias *{event.anchor} repeats {grows:,})" if isinstance(event, AliasEvent) else ""),
                    where=f"{path}:{mark.line + 1}:{mark.column + 1}" if mark else str(path),
                    fix="write the values out, or use fewer nested aliases (&anchor / *alias)",
                )
            if isinstance(event, CollectionStartEvent):
                stack.append((event.anchor, 1))
            else:
                name, outer = stack[-1]
                stack[-1] = (name, outer + grows)
                if not isinstance(event, AliasEvent) and event.anchor:
                    sizes[event.anchor] = 1
    except YAMLError:
        return  # a syntax error: the loader reports it with its position


def parse_documents(text: str, path: Path) -> Iterator[RawDoc]:
    """Like load_documents, for text already read (`path` names it in positions and errors)."""
    _check_shape(text, path)
    yaml = YAML(typ="rt")
    yaml.Constructor = _ExactConstructor
    yaml.allow_duplicate_keys = False
    try:
        nodes = list(yaml.load_all(text))
    except _NumberOutOfRange as exc:
        mark = exc.mark
        raise ReconcilerError(
            f"number {exc.text} {exc.why}: beyond any amount, quantity, weight or setting reconciler takes",
            where=f"{path}:{mark.line + 1}:{mark.column + 1}" if mark else str(path),
            fix="check the number (a typo in the exponent, or digits pasted twice)",
        ) from None
    except DuplicateKeyError as exc:
        mark = exc.problem_mark
        where = f"{path}:{mark.line + 1}:{mark.column + 1}" if mark else str(path)
        raise ReconcilerError(
            f"duplicate key: {_first_line(exc.problem)}", where=where, fix="each key (and symbol) may appear once"
        ) from None
    except MarkedYAMLError as exc:
        # Point at where the broken construct starts (an unclosed quote or bracket), and say where it broke.
        start, found = exc.context_mark, exc.problem_mark
        mark = start or found
        where = f"{path}:{mark.line + 1}:{mark.column + 1}" if mark else str(path)
        problem = exc.problem or "invalid YAML"
        if exc.context:
            problem = f"{exc.context}: {problem}"
        if start and found and (start.line, start.column) != (found.line, found.column):
            problem += f" (at line {found.line + 1}, column {found.column + 1})"
        if found and found.column > 1024 and "mapping values are not allowed" in problem:
            # YAML reads nothing longer than 1024 characters as a key, so the colon after it looks misplaced.
            raise ReconcilerError(
                f"key too long: {found.column:,} characters before its colon (YAML allows 1024; a symbol is at most"
                " 24)", where=f"{path}:{found.line + 1}:1", fix="shorten the key; a symbol is like VTI or BRK.B",
            ) from None
        raise ReconcilerError(
            f"YAML syntax error: {problem}", where=where, fix="fix the YAML syntax (indentation, quotes, colons)"
        ) from None
    except YAMLError as exc:
        raise ReconcilerError(f"YAML error: {exc}", where=str(path), fix="fix the YAML syntax") from None
    for i, node in enumerate(nodes):
        if node is None:
            continue
        yield RawDoc(path=path, index=i, data=to_plain(node), node=node)


def _first_line(text: str | None) -> str:
    return (text or "").strip().splitlines()[0] if text else "duplicate key"
