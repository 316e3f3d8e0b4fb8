"""Hypothesis strategies for documents described by a JSON Schema (the ones in docs/), and mutations of them.

hypothesis-jsonschema would be the library for this, but its latest release (0.23.1) fails on the installed
Hypothesis ("'many' object has no attribute 'more'"); this covers the subset of JSON Schema pydantic emits.
"""

from __future__ import annotations

import json
from decimal import Decimal
from typing import Any

from hypothesis import strategies as st

JSON_LEAF = st.one_of(
    st.none(), st.booleans(), st.integers(min_value=-(10**30), max_value=10**30),
    st.floats(allow_nan=True, allow_infinity=True), st.text(max_size=30),
)
JSON_VALUE = st.recursive(
    JSON_LEAF,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4),
    max_leaves=12,
)


def from_schema(schema: dict[str, Any], root: dict[str, Any] | None = None) -> st.SearchStrategy[Any]:
    """Values valid against `schema` (as far as its types, enums, bounds and patterns go)."""
    root = root or schema
    if "$ref" in schema:
        name = schema["$ref"].rsplit("/", 1)[-1]
        return st.deferred(lambda: from_schema(root["$defs"][name], root))
    if "const" in schema:
        return st.just(schema["const"])
    if "enum" in schema:
        return st.sampled_from(schema["enum"])
    for key in ("anyOf", "oneOf"):
        if key in schema:
            return st.one_of([from_schema(s, root) for s in schema[key]])
    kind = schema.get("type")
    if isinstance(kind, list):
        return st.one_of([from_schema({**schema, "type": k}, root) for k in kind])
    if kind == "object" or "properties" in schema:
        props = schema.get("properties", {})
        required = set(schema.get("required", []))
        extra = schema.get("additionalProperties")
        base = st.fixed_dictionaries(
            {k: from_schema(v, root) for k, v in props.items() if k in required},
            optional={k: from_schema(v, root) for k, v in props.items() if k not in required},
        )
        if isinstance(extra, dict) and not props:
            keys = from_schema(schema.get("propertyNames", {"type": "string"}), root)
            return st.dictionaries(keys, from_schema(extra, root), max_size=6)
        return base
    if kind == "array":
        items = from_schema(schema.get("items", {}), root)
        return st.lists(items, min_size=schema.get("minItems", 0), max_size=min(schema.get("maxItems", 5), 5))
    if kind == "string":
        if "pattern" in schema:
            return st.from_regex(schema["pattern"], fullmatch=True)
        return st.text(min_size=schema.get("minLength", 0), max_size=20)
    if kind in ("number", "integer"):
        lo, hi = schema.get("minimum"), schema.get("maximum")
        if "exclusiveMinimum" in schema:
            lo = schema["exclusiveMinimum"]
        if kind == "integer":
            return st.integers(
                min_value=None if lo is None else int(lo) + ("exclusiveMinimum" in schema),
                max_value=None if hi is None else int(hi),
            )
        return st.decimals(
            min_value=None if lo is None else Decimal(str(lo)),
            max_value=None if hi is None else Decimal(str(hi)),
            allow_nan=False, allow_infinity=False, places=4,
        ).filter(lambda d: "exclusiveMinimum" not in schema or d > Decimal(str(lo)))
    if kind == "boolean":
        return st.booleans()
    if kind == "null":
        return st.none()
    return JSON_VALUE


def _paths(doc: Any, prefix: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    out = [prefix]
    if isinstance(doc, dict):
        for k, v in doc.items():
            out += _paths(v, (*prefix, k))
    elif isinstance(doc, list):
        for i, v in enumerate(doc):
            out += _paths(v, (*prefix, i))
    return out


def _replace(doc: Any, path: tuple[Any, ...], value: Any) -> Any:
    if not path:
        return value
    head, rest = path[0], path[1:]
    if isinstance(doc, dict):
        return {**doc, head: _replace(doc[head], rest, value)}
    copy = list(doc)
    copy[head] = _replace(copy[head], rest, value)
    return copy


def _drop(doc: Any, path: tuple[Any, ...]) -> Any:
    if len(path) == 1:
        if isinstance(doc, dict):
            return {k: v for k, v in doc.items() if k != path[0]}
        return [v for i, v in enumerate(doc) if i != path[0]]
    head = path[0]
    if isinstance(doc, dict):
        return {**doc, head: _drop(doc[head], path[1:])}
    copy = list(doc)
    copy[head] = _drop(copy[head], path[1:])
    return copy


HOSTILE_VALUES = st.one_of(
    JSON_VALUE,
    st.sampled_from([
        "1e30", "1e-400", "NaN", "-Infinity", "0", "-0.0001", "9" * 40, "VТI", "V" * 2000, "", " ", "\x00",
        "../../etc/passwd", "env:HOME", "{{ 7*7 }}", "<script>", "é", "\u202e",
    ]),
    st.builds(lambda n: json.loads("[" * n + "]" * n), st.integers(min_value=30, max_value=200)),
)


@st.composite
def mutated(draw: st.DrawFn, docs: st.SearchStrategy[Any]) -> Any:
    """A document, then up to three of: a value of another type or a hostile value, a key removed, a key
    added."""
    doc = draw(docs)
    # often none: valid documents must get through
    for _ in range(draw(st.sampled_from([0, 0, 0, 1, 1, 2, 3]))):
        paths = _paths(doc)
        path = draw(st.sampled_from(paths))
        move = draw(st.sampled_from(["replace", "drop", "add"]))
        if move == "replace":
            doc = _replace(doc, path, draw(HOSTILE_VALUES))
        elif move == "drop" and path:
            doc = _drop(doc, path)
        elif move == "add":
            target = path
            while target and not isinstance(_get(doc, target), dict):
                target = target[:-1]
            if isinstance(_get(doc, target), dict):
                key = draw(st.text(min_size=1, max_size=12))
                doc = _replace(doc, target, {**_get(doc, target), key: draw(HOSTILE_VALUES)})
    return doc


def _get(doc: Any, path: tuple[Any, ...]) -> Any:
    for p in path:
        doc = doc[p]
    return doc


def to_text(doc: Any) -> str:
    """JSON is YAML: the file a fuzzed document is written as (Decimals as plain numbers)."""
    return json.dumps(
        doc, default=lambda d: float(d) if isinstance(d, Decimal) else str(d), ensure_ascii=False
    )
