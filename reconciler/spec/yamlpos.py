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
    except (OSError, UnicodeDecodeError) as exc:
        raise ReconcilerError(f"cannot read file: {exc}", where=str(path), fix="save it as UTF-8 text") from None


class _ExactConstructor(RoundTripConstructor):
    """Round-trip construction, except that a YAML float becomes the Decimal of its own text: `0.12345678901234567`
    must not pass through a binary float (which keeps 17 digits) on its way to the exact weight checks."""


def _exact_float(constructor: RoundTripConstructor, node: Any) -> Any:
    try:
        value = Decimal(str(node.value))
    except ArithmeticError:  # .inf, .nan and other spellings Decimal does not read: the float they mean
        return Decimal(repr(float(constructor.construct_yaml_float(node))))
    if not value.is_finite():
        return value
    # One spelling per number (0.70 and 0.7 are the same weight), so reformatting a file changes no hash.
    value = value.normalize()
    return value.quantize(Decimal(1)) if value.as_tuple().exponent > 0 else value  # type: ignore[operator]


_ExactConstructor.add_constructor("tag:yaml.org,2002:float", _exact_float)


def parse_documents(text: str, path: Path) -> Iterator[RawDoc]:
    """Like load_documents, for text already read (`path` names it in positions and errors)."""
    yaml = YAML(typ="rt")
    yaml.Constructor = _ExactConstructor
    yaml.allow_duplicate_keys = False
    try:
        nodes = list(yaml.load_all(text))
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
