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

from reconciler import files
from reconciler.core.numbers import MAX_MAGNITUDE, decimal_places, exact_normalize
from reconciler.errors import ReconcilerError
from reconciler.workspace.yamlguard import Guard, check_shape


@dataclass(frozen=True)
class RawDoc:
    """One YAML document: plain data for pydantic plus the ruamel node for positions."""

    path: Path
    index: int
    data: Any
    node: Any

    def where(self, loc: Sequence[str | int] = ()) -> str:
        """file:line:column of a key in the document, for an error message."""
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


def load_documents(
    path: Path, kind: files.Kind = files.YAML, workspace: Path | None = None
) -> Iterator[RawDoc]:
    """Yield every document in a YAML file read through the file gate (reconciler.files); syntax errors become
    a ReconcilerError with the position."""
    yield from parse_documents(read_text(path, kind=kind, workspace=workspace), path)


def read_text(
    path: Path, missing_fix: str = "create it or pass the right path", *, kind: files.Kind = files.YAML,
    workspace: Path | None = None,
) -> str:
    """A text file's content through the file gate; a missing or unreadable file is a ReconcilerError naming
    it."""
    return files.read_text(path, kind, workspace=workspace, missing_fix=missing_fix)


class _ExactConstructor(RoundTripConstructor):
    """Round-trip construction, except that a YAML float becomes the Decimal of its own text:
    `0.12345678901234567` must not pass through a binary float (which keeps 17 digits) on its way to the exact
    weight checks."""




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
    value = exact_normalize(value)
    return value.quantize(Decimal(1)) if value.as_tuple().exponent > 0 else value  # type: ignore[operator]


class _NotADate(Exception):
    """A scalar YAML reads as a date (2022-13-30) that no calendar has."""

    def __init__(self, text: str, mark: Any) -> None:
        super().__init__(text)
        self.text = text
        self.mark = mark


def _checked_date(constructor: RoundTripConstructor, node: Any) -> Any:
    try:
        return RoundTripConstructor.construct_yaml_timestamp(constructor, node)
    except ValueError:  # ruamel builds the date without checking it: month 13 is a ValueError from datetime
        raise _NotADate(str(node.value), node.start_mark) from None


_ExactConstructor.add_constructor("tag:yaml.org,2002:float", _exact_float)
_ExactConstructor.add_constructor("tag:yaml.org,2002:int", _exact_int)
_ExactConstructor.add_constructor("tag:yaml.org,2002:timestamp", _checked_date)


def load_all(yaml: YAML, text: str, path: Path) -> list[Any]:
    """The one place YAML text is loaded (`parse_documents`, and `fmt` with its round-trip settings): the text
    checks run first and the guard judges every event before the composer sees it, so nothing recursive ever
    builds a document they would refuse."""
    check_shape(text, path)
    guard = Guard(path)
    base: Any = yaml.Parser

    class GuardedParser(base):  # type: ignore[misc]
        def get_event(self) -> Any:
            event = super().get_event()
            guard.see(event)
            return event

    yaml.Parser = GuardedParser
    return list(yaml.load_all(text))


def parse_documents(text: str, path: Path) -> Iterator[RawDoc]:
    """Like load_documents, for text already read (`path` names it in positions and errors)."""
    yaml = YAML(typ="rt")
    yaml.Constructor = _ExactConstructor
    yaml.allow_duplicate_keys = False
    try:
        nodes = load_all(yaml, text, path)
    except _NumberOutOfRange as exc:
        mark = exc.mark
        raise ReconcilerError(
            f"number {exc.text} {exc.why}: beyond any amount, quantity, weight or setting reconciler takes",
            where=f"{path}:{mark.line + 1}:{mark.column + 1}" if mark else str(path),
            fix="check the number (a typo in the exponent, or digits pasted twice)",
        ) from None
    except _NotADate as exc:
        mark = exc.mark
        raise ReconcilerError(
            f"{exc.text} is not a date",
            where=f"{path}:{mark.line + 1}:{mark.column + 1}" if mark else str(path),
            fix="write a real date as YYYY-MM-DD (months 01-12, days of that month)",
        ) from None
    except DuplicateKeyError as exc:
        mark = exc.problem_mark
        where = f"{path}:{mark.line + 1}:{mark.column + 1}" if mark else str(path)
        raise ReconcilerError(
            f"duplicate key: {_first_line(exc.problem)}", where=where,
            fix="each key (and symbol) may appear once"
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
                f"key too long: {found.column:,} characters before its colon (YAML allows 1024; a symbol is"
                " at most"
                " 24)", where=f"{path}:{found.line + 1}:1",
                fix="shorten the key; a symbol is like VTI or BRK.B",
            ) from None
        raise ReconcilerError(
            f"YAML syntax error: {problem}", where=where,
            fix="fix the YAML syntax (indentation, quotes, colons)"
        ) from None
    except YAMLError as exc:
        raise ReconcilerError(f"YAML error: {exc}", where=str(path), fix="fix the YAML syntax") from None
    for i, node in enumerate(nodes):
        if node is None:
            continue
        yield RawDoc(path=path, index=i, data=to_plain(node), node=node)


def _first_line(text: str | None) -> str:
    return (text or "").strip().splitlines()[0] if text else "duplicate key"
