"""YAML read with positions: every key's FILE:LINE:COL for error messages, numbers as exact Decimals, and
every way a file can be unreadable or hostile refused with where it is and how to fix it."""

from __future__ import annotations

import os
from decimal import Decimal
from pathlib import Path

import pytest

from reconciler.errors import ReconcilerError
from reconciler.workspace.yamlpos import (
    RawDoc,
    load_documents,
    parse_documents,
    position,
    read_text,
    to_plain,
)

P = Path("portfolios/growth.yaml")
PORTFOLIO = """\
apiVersion: reconciler.dev/v1
kind: Portfolio
metadata:
  name: growth
spec:
  account: paper-ira
  targets:
    VTI: 0.70
    BND: 0.3
  notes:
    - first
    - second
"""


def doc(text: str = PORTFOLIO) -> RawDoc:
    (first,) = parse_documents(text, P)
    return first


def refusal(text: str) -> ReconcilerError:
    with pytest.raises(ReconcilerError) as caught:
        list(parse_documents(text, P))
    return caught.value


# ---- positions ----

@pytest.mark.parametrize(
    ("loc", "where"),
    [
        ((), "1:1"),
        (("kind",), "2:1"),
        (("spec",), "5:1"),
        (("spec", "account"), "6:3"),
        (("spec", "targets", "BND"), "9:5"),
        (("spec", "notes", 0), "11:7"),
        (("spec", "notes", 1), "12:7"),
    ],
    ids=["document", "top-level-key", "mapping-key", "nested-key", "symbol", "first-item", "second-item"],
)
def test_where_names_the_file_line_and_column_of_a_key(loc: tuple[str | int, ...], where: str) -> None:
    assert doc().where(loc) == f"{P}:{where}"


@pytest.mark.parametrize(
    ("loc", "deepest"),
    [
        (("spec", "targets", "GLD"), (7, 3)),  # no such symbol: the targets key
        (("spec", "notes", 5), (10, 3)),  # no such item: the list's key
        (("spec", "account", "deeper"), (6, 3)),  # a scalar has no keys: the scalar's key
        (("nope",), (1, 1)),  # nothing matches: the document
    ],
    ids=["missing-key", "missing-index", "below-a-scalar", "nothing"],
)
def test_a_path_that_goes_missing_points_at_its_deepest_existing_part(
    loc: tuple[str | int, ...], deepest: tuple[int, int]
) -> None:
    assert position(doc().node, loc) == deepest


def test_a_quoted_key_that_looks_like_a_number_is_found_by_its_text() -> None:
    raw = doc('symbols:\n  "1": one\n  "2": two\n')
    assert raw.where(["symbols", "2"]) == f"{P}:3:3"
    assert raw.data == {"symbols": {"1": "one", "2": "two"}}


def test_every_document_of_a_file_keeps_its_index_and_empty_ones_are_skipped() -> None:
    docs = list(parse_documents("kind: A\n---\n---\nkind: B\n", P))
    assert [(d.index, d.data) for d in docs] == [(0, {"kind": "A"}), (2, {"kind": "B"})]
    assert docs[1].where(["kind"]) == f"{P}:4:1"


def test_load_documents_reads_the_file_and_names_it(tmp_path: Path) -> None:
    path = tmp_path / "p.yaml"
    path.write_text(PORTFOLIO)
    (raw,) = load_documents(path)
    assert raw.path == path
    assert raw.where(["spec", "targets", "VTI"]) == f"{path}:8:5"


# ---- values ----

def test_numbers_are_exact_decimals_in_one_spelling() -> None:
    data = doc("a: 0.70\nb: 0.12345678901234567\nc: 1.5e2\nd: 1_000.5\ne: 3\nf: .inf\n").data
    assert data == {
        "a": Decimal("0.7"), "b": Decimal("0.12345678901234567"), "c": Decimal("150"), "d": Decimal("1000.5"),
        "e": 3, "f": Decimal("Infinity"),
    }
    assert str(data["a"]) == "0.7"  # 0.70 and 0.7 are one weight, so reformatting changes no hash
    assert type(data["e"]) is int


def test_plain_data_keeps_booleans_nulls_and_strings() -> None:
    assert doc("t: true\nz: null\ns: VTI\nq: '0.5'\n").data == {"t": True, "z": None, "s": "VTI", "q": "0.5"}


def test_to_plain_turns_a_float_into_the_decimal_of_its_shortest_repr() -> None:
    assert to_plain({1: [0.1, 2.5, True, None]}) == {"1": [Decimal("0.1"), Decimal("2.5"), True, None]}


# ---- refusals, each with where and a fix ----

def test_a_duplicate_key_is_refused_where_it_repeats() -> None:
    err = refusal("spec:\n  targets:\n    VTI: 0.5\n    VTI: 0.5\n")
    assert err.message.startswith('duplicate key: found duplicate key "VTI"')
    assert err.where == f"{P}:4:5"
    assert err.fix == "each key (and symbol) may appear once"


def test_a_date_no_calendar_has_is_refused_where_it_is_written() -> None:
    err = refusal("what_if:\n  end: 2022-13-30\n")
    assert (err.message, err.where) == ("2022-13-30 is not a date", f"{P}:2:8")


def test_a_syntax_error_points_at_where_the_broken_construct_starts() -> None:
    err = refusal("a: [1, 2\nb: 3\n")
    assert err.message.startswith("YAML syntax error: while parsing a flow sequence")
    assert "(at line 2, column 2)" in err.message
    assert err.where == f"{P}:1:4"


def test_an_unclosed_quote_is_a_syntax_error_at_the_quote() -> None:
    err = refusal("spec:\n  account: 'paper-ira\n")
    assert err.message.startswith("YAML syntax error: while scanning a quoted scalar")
    assert err.where == f"{P}:2:12"


@pytest.mark.parametrize(
    ("number", "why"),
    [("1e16", "is too large (the limit is 1e15)"), ("1000000000000000", "is too large (the limit is 1e15)"),
     ("0.123456789012345678901", "has more than 20 decimal places")],
    ids=["exponent", "integer", "decimals"],
)
def test_a_number_beyond_any_real_amount_is_refused(number: str, why: str) -> None:
    err = refusal(f"spec:\n  cash: {number}\n")
    assert err.message == (
        f"number {number} {why}: beyond any amount, quantity, weight or setting reconciler takes"
    )
    assert err.where == f"{P}:2:9"


def test_the_largest_accepted_number_reads_exactly() -> None:
    assert doc("a: 999999999999999\n").data == {"a": 999999999999999}


def test_deep_nesting_is_refused_before_parsing() -> None:
    err = refusal("a: " + "[" * 65 + "]" * 65 + "\n")
    assert err.message == "YAML nested more than 64 levels deep"
    assert err.where == f"{P}:1:68"  # the 65th bracket


def test_brackets_in_quotes_and_comments_are_not_nesting() -> None:
    text = "a: '" + "[" * 100 + "'\n# " + "{" * 100 + "\n"
    assert doc(text).data == {"a": "[" * 100}


def test_aliases_that_expand_to_too_many_values_are_refused() -> None:
    lines = ["a: &a [1, 2, 3, 4, 5, 6, 7, 8, 9, 10]"]
    for prev, name in zip("abcd", "bcde", strict=True):
        lines.append(f"{name}: &{name} [" + ", ".join([f"*{prev}"] * 10) + "]")
    err = refusal("\n".join(lines) + "\n")
    assert err.message.startswith("YAML expands to more than 100,000 values (alias *")
    assert err.where is not None
    assert err.where.startswith(f"{P}:5:")


def test_a_key_longer_than_yaml_allows_is_named_as_such() -> None:
    err = refusal("x" * 1100 + ": 1\n")
    assert err.message == (
        "key too long: 1,100 characters before its colon (YAML allows 1024; a symbol is at most 24)"
    )
    assert err.where == f"{P}:1:1"


# ---- reading the file ----

def test_a_missing_file_is_named_with_the_callers_fix(tmp_path: Path) -> None:
    with pytest.raises(ReconcilerError) as caught:
        read_text(tmp_path / "absent.yaml", missing_fix="run reconciler import")
    assert caught.value.message == "file not found"
    assert caught.value.where == str(tmp_path / "absent.yaml")
    assert caught.value.fix == "run reconciler import"


def test_a_folder_is_not_a_file(tmp_path: Path) -> None:
    with pytest.raises(ReconcilerError, match="this is a folder, not a file"):
        read_text(tmp_path)


def test_text_that_is_not_utf8_names_the_byte(tmp_path: Path) -> None:
    path = tmp_path / "latin1.yaml"
    path.write_bytes("name: caf\u00e9\n".encode("latin-1"))
    with pytest.raises(ReconcilerError) as caught:
        read_text(path)
    assert caught.value.message == "not UTF-8 text (byte 9 is 0xe9)"
    assert caught.value.fix == "save it as UTF-8 text"


@pytest.mark.skipif(os.name != "posix" or os.geteuid() == 0, reason="root reads any file")
def test_an_unreadable_file_says_permission_denied(tmp_path: Path) -> None:
    path = tmp_path / "secret.yaml"
    path.write_text("a: 1\n")
    path.chmod(0)
    with pytest.raises(ReconcilerError) as caught:
        read_text(path)
    assert caught.value.message == "cannot read file: permission denied"
