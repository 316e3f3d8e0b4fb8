"""The YAML guard: what the one loader (`yamlpos.load_all`) refuses before anything recursive builds a
document — a huge text, nesting beyond MAX_DEPTH, aliases that expand beyond MAX_NODES, long or collection
keys, and plain keys a YAML reader would coerce to something other than text."""

from __future__ import annotations

from pathlib import Path
from typing import Any

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

from reconciler.errors import ReconcilerError

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


def check_shape(text: str, path: Path) -> None:
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


class Guard:
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
        """Judge one parser event; raise the first problem as a ReconcilerError at its position."""
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
