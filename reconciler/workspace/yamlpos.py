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
from ruamel.yaml.events import (
    AliasEvent,
    CollectionEndEvent,
    CollectionStartEvent,
    DocumentStartEvent,
    MappingStartEvent,
    NodeEvent,
    ScalarEvent,
)
from ruamel.yaml.nodes import ScalarNode
from ruamel.yaml.resolver import VersionedResolver

from reconciler import files
from reconciler.core.numbers import MAX_MAGNITUDE, decimal_places, exact_normalize
from reconciler.errors import ReconcilerError


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


MAX_YAML_BYTES = 10 * 1024 * 1024  # a portfolio or config file is a few KB
# a portfolio nests 4 levels deep; ruamel's scanner is quadratic in flow depth (100k: 9 minutes)
MAX_DEPTH = 64
MAX_NODES = 100_000  # after expanding aliases: a few lines of anchors can mean billions of nodes
MAX_KEY_CHARS = 256  # the longest key any file has is a setting's name; a symbol is at most 24 characters
# Unclosed brackets counted with no regard to quotes: no real file comes near, and the scanner's cost grows
# with the number of open brackets before the parser sees the first one.
MAX_RAW_BRACKETS = 1024

_RESOLVERS = (VersionedResolver(version=(1, 1)), VersionedResolver(version=(1, 2)))
_STR = "tag:yaml.org,2002:str"
_MERGE = "tag:yaml.org,2002:merge"  # `<<: *defaults` is YAML's own merge, not a coerced key
_KINDS = {"bool": "a boolean", "int": "a number", "float": "a number", "null": "null (no key)",
          "timestamp": "a date", "value": "the value key `=`"}


def _too_deep(text: str) -> tuple[int, int] | None:
    """(line, column) where brackets nest beyond MAX_DEPTH, found without parsing, so that the scanner never
    sees them. Brackets inside quoted scalars and comments do not count; a quote opens a scalar only where
    YAML allows one to start. A second count, blind to quotes, bounds what a misread quote could hide."""
    depth, raw, line, col = 0, 0, 1, 0
    quote: str | None = None
    comment = False
    before = " "  # the last character that was not a space
    for ch in text:
        col += 1
        if ch in "[{":
            raw += 1
            if raw > MAX_RAW_BRACKETS:
                return line, col
        elif ch in "]}":
            raw = max(0, raw - 1)
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
    return None


def _at(path: Path, mark: Any) -> str:
    return f"{path}:{mark.line + 1}:{mark.column + 1}" if mark is not None else str(path)


def _coerced(value: str) -> str | None:
    """What a plain key would be read as instead of text, by YAML 1.2 (this loader) or 1.1 (PyYAML, many
    editors and tools): `ON` and `NO` are booleans in 1.1, `0700` and `1e5` numbers, `2024-01-02` a date."""
    for resolver in _RESOLVERS:
        tag = str(resolver.resolve(ScalarNode, value, (True, False)))
        if tag not in (_STR, _MERGE):
            return _KINDS.get(tag.rsplit(":", 1)[-1], tag)
    return None


def _check_shape(text: str, path: Path) -> None:
    """Refuse, from the text alone, what would exhaust time or memory before the parser runs: a huge text, and
    flow brackets nested beyond MAX_DEPTH (the scanner slows with each open bracket before the parser sees the
    first)."""
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


class _Guard:
    """Judges each parser event as the composer takes it, before the composer (which recurses) builds anything
    from it; the scanner and the parser loop, they do not recurse. Stops at the first problem: nesting of any
    shape (block, flow, `- - - x` or `? ? x` on one line) beyond MAX_DEPTH, aliases that expand to more than
    MAX_NODES values (a "billion laughs"), keys longer than MAX_KEY_CHARS or that are collections, and plain
    keys a YAML reader would coerce. One pass: the same events build the document."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.sizes: dict[str, int] = {}
        # One frame per open collection: its anchor, its size so far, for a mapping whether a key comes next,
        # and the last key read in it (so that a refused key is named with the field that holds it).
        self.stack: list[list[Any]] = [[None, 0, None, None]]
        self.total = 0

    def see(self, event: Any) -> None:
        path, stack, sizes = self.path, self.stack, self.sizes
        if isinstance(event, DocumentStartEvent):
            sizes.clear()  # anchors do not cross documents
            return
        if not isinstance(event, NodeEvent | CollectionEndEvent):
            return
        if isinstance(event, CollectionEndEvent):
            anchor, size, _, _ = stack.pop()
            if anchor:
                sizes[anchor] = size
            stack[-1][1] += size
            return
        frame = stack[-1]
        is_key = frame[2] is True
        if frame[2] is not None:  # in a mapping, keys and values alternate
            frame[2] = not frame[2]
        if is_key:
            field = ".".join(str(f[3]) for f in stack[:-1] if f[3] is not None)
            _check_key(event, path, field)
            frame[3] = event.value if isinstance(event, ScalarEvent) else None
        grows = sizes.get(event.anchor, 1) if isinstance(event, AliasEvent) else 1
        self.total += grows
        if self.total > MAX_NODES:
            raise ReconcilerError(
                f"YAML expands to more than {MAX_NODES:,} values"
                + (f" (alias *{event.anchor} repeats {grows:,})" if isinstance(event, AliasEvent) else ""),
                where=_at(path, event.start_mark),
                fix="write the values out, or use fewer nested aliases (&anchor / *alias)",
            )
        if isinstance(event, CollectionStartEvent):
            if len(stack) > MAX_DEPTH:
                raise ReconcilerError(
                    f"YAML nested more than {MAX_DEPTH} levels deep", where=_at(path, event.start_mark),
                    fix="a portfolio nests a few levels (spec → targets → symbol): remove the extra nesting",
                )
            stack.append([event.anchor, 1, True if isinstance(event, MappingStartEvent) else None, None])
        else:
            frame[1] += grows
            if not isinstance(event, AliasEvent) and event.anchor:
                sizes[event.anchor] = 1


def _check_key(event: Any, path: Path, field: str) -> None:
    """A mapping key must be text: a name or a symbol, written plainly or quoted; `field` holds the
    mapping."""
    where = _at(path, event.start_mark)
    within = f"field {field}: " if field else ""
    if not isinstance(event, ScalarEvent):
        what = "an alias" if isinstance(event, AliasEvent) else "a list or a mapping"
        raise ReconcilerError(
            f"{within}a key is {what}: keys are names or symbols", where=where,
            fix="write the key as plain text, e.g. VTI:",
        )
    value = str(event.value)
    if len(value) > MAX_KEY_CHARS:
        raise ReconcilerError(
            f"{within}key too long: {len(value):,} characters (at most {MAX_KEY_CHARS}; a symbol is at most"
            " 24)",
            where=where, fix="shorten the key; a symbol is like VTI or BRK.B",
        )
    # plain, untagged: the only keys YAML resolves by their text
    if event.style is None and event.tag is None:
        kind = _coerced(value)
        if kind is not None:
            shown = repr(value) if value else "an empty key"
            raise ReconcilerError(
                f"{within}key {shown} reads as {kind} in YAML, not as text (in YAML 1.1 readers if not in"
                " this one)",
                where=where,
                fix=f"quote the symbol: \"{value}\": (quoted, a key is always text)" if value
                else "write the key's name before the colon",
            )


def load_all(yaml: YAML, text: str, path: Path) -> list[Any]:
    """The one place YAML text is loaded (`parse_documents`, and `fmt` with its round-trip settings): the text
    checks run first and the guard judges every event before the composer sees it, so nothing recursive ever
    builds a document they would refuse."""
    _check_shape(text, path)
    guard = _Guard(path)
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
