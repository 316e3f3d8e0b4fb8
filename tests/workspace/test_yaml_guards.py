"""The one YAML loader's guards, proven on generated documents: nesting of every shape (block, flow, one-line
block `- - - x` and `? ? x`, and any mix) is either loaded or refused with a position, never a RecursionError
or another crash; and keys YAML would read as something else than their text are refused with "quote the
symbol"."""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from reconciler.errors import ReconcilerError
from reconciler.workspace import yamlguard
from reconciler.workspace.yamlguard import MAX_DEPTH, MAX_KEY_CHARS
from reconciler.workspace.yamlpos import parse_documents

P = Path("portfolios/x.yaml")

# Every way YAML opens one more level, written so that the next level can follow on the same line or the next
# one. (opening text, closing text, continues on a new line indented by)
LEVELS = {
    "block-seq-inline": ("- ", "", None),  # - - - x
    "explicit-key-inline": ("? ", "", None),  # ? ? ? x
    "explicit-value-inline": ("? k\n: ", "", None),
    "seq-then-key": ("- ? ", "", None),
    "flow-seq": ("[", "]", None),
    "flow-map": ("{a: ", "}", None),
    "flow-explicit-key": ("{? ", "}", None),
    "block-map-indented": ("k:\n", "", 2),
    "block-seq-indented": ("-\n", "", 2),
}


def _nest(shapes: list[str], leaf: str = "x") -> str:
    """A document opening one level per shape, in order, then closing them all."""
    head, tail, indent = "", "", 0
    for shape in shapes:
        opening, closing, more = LEVELS[shape]
        if more is not None:
            head += opening.replace("\n", "\n" + " " * (indent + more))
            indent += more
        elif "\n" in opening:
            head += opening.replace("\n", "\n" + " " * indent)
            indent += 2
        else:
            head += opening
            if not closing and shape != "seq-then-key":
                indent += len(opening)
        tail = closing + tail
    return head + leaf + tail + "\n"


def _load(text: str) -> str:
    """'ok' when loaded, else the refusal's message; any other exception fails the test."""
    try:
        list(parse_documents(text, P))
    except ReconcilerError as exc:
        return exc.message
    return "ok"


@settings(max_examples=400, deadline=None)
@given(st.lists(st.sampled_from(sorted(LEVELS)), min_size=1, max_size=3 * MAX_DEPTH))
def test_nesting_of_any_shape_loads_or_is_refused_never_crashes(shapes: list[str]) -> None:
    outcome = _load(_nest(shapes))  # a RecursionError or any crash other than a refusal fails here
    if len(shapes) > MAX_DEPTH + 1:  # each shape opens at least one collection
        assert outcome != "ok"


# Shapes whose keys are collections (`? ? x`, `- ? - x`) are refused at their first key, before any depth.
COLLECTION_KEYS = {"explicit-key-inline", "seq-then-key", "flow-explicit-key"}


@pytest.mark.parametrize("shape", sorted(set(LEVELS) - COLLECTION_KEYS))
@pytest.mark.parametrize("levels", [MAX_DEPTH + 2, 3 * MAX_DEPTH, 2000])
def test_each_shape_nested_beyond_the_limit_is_refused_as_too_deep(shape: str, levels: int) -> None:
    assert "nested more than" in _load(_nest([shape] * levels))


@pytest.mark.parametrize("shape", sorted(COLLECTION_KEYS))
@pytest.mark.parametrize("levels", [2, MAX_DEPTH + 2, 2000])
def test_each_shape_with_collection_keys_is_refused_at_any_depth(shape: str, levels: int) -> None:
    # flow brackets beyond the limit are refused before any key is seen
    outcome = _load(_nest([shape] * levels))
    assert "a key is a list or a mapping" in outcome or "nested more than" in outcome


@pytest.mark.parametrize("shape", sorted(set(LEVELS) - COLLECTION_KEYS))
def test_each_shape_within_the_limit_loads(shape: str) -> None:
    assert _load(_nest([shape] * 8)) == "ok"


def test_a_million_levels_on_one_line_are_refused_quickly() -> None:
    assert "nested more than" in _load("- " * 1_000_000 + "x\n")


@pytest.mark.parametrize(
    "key, reads_as",
    [
        ("0700", "a number"), ("1e5", "a number"), ("700", "a number"), ("0x1F", "a number"),
        ("1_000", "a number"),
        ("1:30", "a number"), (".5", "a number"), (".inf", "a number"), ("ON", "a boolean"),
        ("NO", "a boolean"),
        ("yes", "a boolean"), ("Off", "a boolean"), ("y", "a boolean"), ("n", "a boolean"),
        ("TRUE", "a boolean"),
        ("null", "null (no key)"), ("~", "null (no key)"), ("2024-01-02", "a date"),
    ],
)
def test_a_key_yaml_would_coerce_is_refused_with_quote_the_symbol(key: str, reads_as: str) -> None:
    with pytest.raises(ReconcilerError) as caught:
        list(parse_documents(f"targets:\n  VTI: 0.5\n  {key}: 0.5\n", P))
    assert caught.value.message.startswith(f"field targets: key {key!r} reads as {reads_as}")
    assert caught.value.where == f"{P}:3:3"
    assert caught.value.fix is not None and caught.value.fix.startswith(f'quote the symbol: "{key}":')


@pytest.mark.parametrize("key", ['"0700"', "'ON'", '"1e5"', "VTI", "BRK.B", "NOW", "ONE"])
def test_a_quoted_or_plain_text_key_is_text(key: str) -> None:
    (doc,) = parse_documents(f"targets:\n  {key}: 0.5\n", P)
    assert doc.data == {"targets": {key.strip("'\""): 0.5}}


def test_two_keys_that_collapse_after_coercion_are_refused_at_the_coerced_one() -> None:
    # 0700 and 700 would both be the integer 700 (and the text "700" after it): the plain one is refused
    # first.
    with pytest.raises(ReconcilerError, match="key '0700' reads as a number"):
        list(parse_documents('targets:\n  "700": 0.5\n  0700: 0.5\n', P))


def test_a_key_that_is_a_collection_is_refused() -> None:
    with pytest.raises(ReconcilerError, match="a key is a list or a mapping"):
        list(parse_documents("targets:\n  ? [VTI, BND]\n  : 0.5\n", P))


def test_an_empty_key_is_refused() -> None:
    with pytest.raises(ReconcilerError, match="an empty key reads as null"):
        list(parse_documents("targets:\n  : 0.5\n", P))


def test_a_key_longer_than_the_limit_is_refused_before_loading() -> None:
    long = "K" * (MAX_KEY_CHARS + 1)
    with pytest.raises(ReconcilerError, match=f"key too long: {MAX_KEY_CHARS + 1:,} characters"):
        list(parse_documents(f"targets:\n  ? {long}\n  : 0.5\n", P))


def test_a_merge_key_is_yamls_own_and_stays_allowed() -> None:
    (doc,) = parse_documents("base: &b {x: 1}\nother:\n  <<: *b\n  z: 2\n", P)
    assert doc.data["other"] == {"x": 1, "z": 2}


def test_aliases_are_counted_per_document() -> None:
    text = "a: &x [1, 2]\nb: *x\n---\nc: 1\n"
    assert [d.data for d in parse_documents(text, P)] == [{"a": [1, 2], "b": [1, 2]}, {"c": 1}]


def test_fmt_loads_through_the_same_guards() -> None:
    from reconciler.workspace.formatter import format_text

    with pytest.raises(ReconcilerError, match="nested more than"):
        format_text("- " * 500 + "x\n", "deep.yaml")


def test_the_guard_limits_are_where_the_loader_reads_them() -> None:
    assert (yamlguard.MAX_DEPTH, yamlguard.MAX_KEY_CHARS) == (64, 256)
